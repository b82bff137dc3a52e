package main

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed/data"
)

// item is one image to predict.
type item struct {
	modality string
	name     string // output file name: the base name with a .png extension
	image    string // image path
	question string
	gt       string // ground-truth mask path, "" when unknown
	sample   *data.Sample
}

// key is the prediction's path relative to the masks folder, in slash form: what
// answers.jsonl's "file" holds and examples/evaluate looks up.
func (it item) key() string { return it.modality + "/" + it.name }

// pngName replaces a file name's extension with .png.
func pngName(base string) string {
	return strings.TrimSuffix(base, filepath.Ext(base)) + ".png"
}

// isImage reports whether a file name has an image extension the tool decodes.
func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".nii":
		return true
	}
	return strings.HasSuffix(strings.ToLower(name), ".nii.gz")
}

// folderItems lists every image under dir (hidden entries and the output folder
// skipped): the modality is its top-level sub-folder, or defModality for files directly
// in dir.
func folderItems(dir, out, defModality, question string) ([]item, error) {
	var items []item
	err := cli.WalkFiles(dir, out, isImage, func(p, rel string) error {
		mod := defModality
		if parts := strings.Split(rel, "/"); len(parts) > 1 {
			mod = parts[0]
		}
		items = append(items, item{modality: mod, name: pngName(filepath.Base(p)), image: p, question: question})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no images (.png, .jpg, .jpeg, .bmp, .tif, .tiff) under %s", dir)
	}
	return items, checkUnique(items)
}

// posmedItems lists the distinct masks of a PosMed split: one prediction per mask, for
// the first row's question (or question, when given), named after the mask file the way
// examples/evaluate looks predictions up.
func posmedItems(root, split, question string) ([]item, error) {
	ds, err := data.Open(root)
	if err != nil {
		return nil, err
	}
	samples := ds.Samples(split)
	if split == "all" {
		samples = ds.Samples("")
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("the PosMed data in %s has no %q rows", root, split)
	}
	seen := map[string]bool{}
	var items []item
	for i := range samples {
		s := &samples[i]
		if seen[s.MaskRel] {
			continue
		}
		seen[s.MaskRel] = true
		q := s.Question
		if question != "" {
			q = question
		}
		items = append(items, item{modality: s.Modality, name: pngName(path.Base(s.MaskRel)), image: s.ImagePath, question: q, gt: s.MaskPath, sample: s})
	}
	return items, checkUnique(items)
}

// checkUnique refuses two inputs that would write the same mask file.
func checkUnique(items []item) error {
	by := map[string]string{}
	for _, it := range items {
		if prev, dup := by[it.key()]; dup {
			return fmt.Errorf("%s and %s would both be written as masks/%s; rename one", prev, it.image, it.key())
		}
		by[it.key()] = it.image
	}
	return nil
}
