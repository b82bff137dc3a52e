package data

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// The three PosMed splits, as the split column spells them.
const (
	SplitTrain = "train"
	SplitVal   = "val"
	SplitTest  = "test"
)

// Splits returns the three split names in the order train, val, test. The
// slice is new on every call.
func Splits() []string {
	return []string{SplitTrain, SplitVal, SplitTest}
}

// validSplit reports whether s is one of the three split names.
func validSplit(s string) bool {
	return s == SplitTrain || s == SplitVal || s == SplitTest
}

// Columns returns the columns every PosMed CSV must have, in the order the
// official files and [Generate] write them. The slice is new on every call.
func Columns() []string {
	return []string{"image_path", "image_name", "question", "answer", "position", "split"}
}

// annotationDirs are the folders under the data root that [Open] searches
// for CSVs when no annotation folder is given, in order. "." is the root
// itself, where [Generate] writes them; the others are names the official
// code and its users give the annotation folder.
var annotationDirs = [...]string{".", "annotations", "annotation", "annotation_v3", "annotation_v2", "csv"}

// imageExts are the image file extensions tried when looking for an image, in order
// (DICOM last: imageio.Load reads it with the file's own window).
var imageExts = [...]string{".png", ".jpg", ".jpeg", ".dcm"}

// findAnnotations returns the folder holding the CSVs and their paths,
// sorted by name. dir is the folder given by the caller ("" to search the
// default folders), relative to root unless absolute.
func findAnnotations(root, dir string) (string, []string, error) {
	if dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		files, err := csvFiles(dir)
		if err != nil {
			return "", nil, fmt.Errorf("annotation folder: %w", err)
		}
		if len(files) == 0 {
			return "", nil, fmt.Errorf("annotation folder %s holds no .csv file", dir)
		}
		return dir, files, nil
	}
	for _, d := range annotationDirs {
		p := filepath.Join(root, d)
		files, err := csvFiles(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if len(files) > 0 {
			return p, files, nil
		}
	}
	return "", nil, fmt.Errorf("no annotation .csv file in %s or its folders %s",
		root, strings.Join(annotationDirs[1:], ", "))
}

// csvFiles lists the non-hidden regular .csv files directly in dir, sorted.
func csvFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".csv") {
			continue
		}
		if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
			files = append(files, filepath.Join(dir, name))
		}
	}
	slices.Sort(files)
	return files, nil
}

// CleanRel checks that p (the image_path column) is a relative path inside
// the data root and returns it in slash form, cleaned. Backslashes count as
// separators, as the official code's replace("\\", "/") does.
func CleanRel(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", errors.New("empty path")
	}
	c := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if !filepath.IsLocal(filepath.FromSlash(c)) {
		return "", fmt.Errorf("%q is not a path inside the data root", p)
	}
	return c, nil
}

// imageDirOf returns the image folder for a mask path in slash form: the
// mask's folder with its last element that ends in "masks" rewritten to end
// in "images".
func imageDirOf(maskRel string) (string, error) {
	parts := strings.Split(path.Dir(maskRel), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasSuffix(parts[i], "masks") {
			parts[i] = strings.TrimSuffix(parts[i], "masks") + "images"
			return strings.Join(parts, "/"), nil
		}
	}
	return "", fmt.Errorf("mask path %q has no folder named like *_masks to derive the image folder from", maskRel)
}

// trimImageExt removes a known image extension from name, if it has one.
func trimImageExt(name string) (string, bool) {
	ext := filepath.Ext(name)
	if slices.Contains(imageExts[:], ext) {
		return strings.TrimSuffix(name, ext), true
	}
	return name, false
}

// imageCandidates returns the image paths (slash form, relative to the
// root) to try for a row, in the order documented in the package comment.
func imageCandidates(maskRel, imageName string) ([]string, error) {
	dir, err := imageDirOf(maskRel)
	if err != nil {
		return nil, err
	}
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if name := strings.TrimSpace(imageName); name != "" {
		if strings.ContainsAny(name, `/\`) || !filepath.IsLocal(name) {
			return nil, fmt.Errorf("image_name %q is not a plain file name", imageName)
		}
		stem, hasExt := trimImageExt(name)
		if hasExt {
			add(name)
		}
		for _, e := range imageExts {
			add(stem + e)
		}
	}
	base := path.Base(maskRel)
	stem := strings.TrimSuffix(strings.TrimSuffix(base, path.Ext(base)), "_Segmentation")
	for _, e := range imageExts {
		add(stem + e)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dir + "/" + n
	}
	return out, nil
}

// findImage returns the first candidate image that exists under root, as a
// root-joined path, or an error listing what was tried.
func findImage(root, maskRel, imageName string) (string, error) {
	cands, err := imageCandidates(maskRel, imageName)
	if err != nil {
		return "", err
	}
	for _, c := range cands {
		p := filepath.Join(root, filepath.FromSlash(c))
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = path.Base(c)
	}
	return "", fmt.Errorf("image file not found: tried %s in %s",
		strings.Join(names, ", "), filepath.Join(root, filepath.FromSlash(path.Dir(cands[0]))))
}
