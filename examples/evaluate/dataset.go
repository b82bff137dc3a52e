package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed/data"
)

// item is one ground-truth mask to score.
type item struct {
	group string // modality, or folder group
	rel   string // mask path relative to -gt, slash-separated
	dir   string // folder under -pred for the official layout, or ""
	pred  string // prediction path relative to -pred, slash-separated; "" if none
	image string // the image the mask belongs to (PosMed rows), "" when unknown
}

// dataset is what the ground-truth side holds.
type dataset struct {
	mode  string // "posmed" or "folder"
	items []item
}

// loadDataset finds the masks to score: from PosMed CSVs when there are
// any, else every mask file under -gt.
func loadDataset(o options, stderr io.Writer) (*dataset, error) {
	if st, err := os.Stat(o.gt); err != nil {
		return nil, fmt.Errorf("-gt: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("-gt %s is not a folder", o.gt)
	}
	annDir := o.annotations
	if annDir == "" {
		annDir = o.gt
	}
	items, found, err := posmedItems(annDir, o.split, stderr)
	if err != nil {
		return nil, err
	}
	if found {
		return &dataset{mode: "posmed", items: items}, nil
	}
	if o.annotations != "" {
		return nil, fmt.Errorf("no PosMed annotation CSV in %s", o.annotations)
	}
	if o.splitSet {
		fmt.Fprintf(stderr, "evaluate: warning: -split applies only to a PosMed data root; %s has no annotation CSV\n", o.gt)
	}
	items, err = folderItems(o.gt, o.pred)
	if err != nil {
		return nil, err
	}
	return &dataset{mode: "folder", items: items}, nil
}

// posmedItems reads every PosMed CSV directly in dir and returns the masks
// of the rows in split, one item per distinct mask and modality, in file
// order. found is false when dir holds no PosMed CSV.
func posmedItems(dir, split string, stderr io.Writer) (items []item, found bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	splits := map[string]int{}
	for _, e := range entries {
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".csv") {
			continue
		}
		group := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		got, ok, err := readAnnotation(filepath.Join(dir, e.Name()), group, split, splits)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			fmt.Fprintf(stderr, "evaluate: warning: ignoring %s: not a PosMed annotation file\n", e.Name())
			continue
		}
		found = true
		items = append(items, got...)
	}
	if found && len(items) == 0 {
		have := make([]string, 0, len(splits))
		for s := range splits {
			have = append(have, s)
		}
		slices.Sort(have)
		return nil, true, fmt.Errorf("no annotation row has split %q (splits present: %s)", split, strings.Join(have, ", "))
	}
	return items, found, nil
}

// readAnnotation reads one PosMed CSV. ok is false when it is not a PosMed annotation
// file. Every split value seen is counted in splits.
func readAnnotation(file, group, split string, splits map[string]int) (items []item, ok bool, err error) {
	rows, err := data.ReadRows(file)
	if errors.Is(err, data.ErrNotAnnotation) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	for _, row := range rows {
		splits[row.Split]++
		if split != "all" && !strings.EqualFold(row.Split, split) {
			continue
		}
		rel, err := data.CleanRel(row.ImagePath)
		if err != nil {
			return nil, true, fmt.Errorf("%s:%d: image_path: %w", file, row.Line, err)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		// Rows naming the same image file beside the same masks folder ask
		// about findings of one image.
		image := group + "/" + path.Dir(rel) + "/" + imageStem(row.ImageName)
		items = append(items, item{group: group, rel: rel, dir: group, image: image})
	}
	return items, true, nil
}

// imageStem is an image_name without an image file extension, so that
// "12.png" and "12" name the same image.
func imageStem(name string) string {
	name = strings.TrimSpace(name)
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff":
		return strings.TrimSuffix(name, path.Ext(name))
	}
	return name
}

// multiFinding reports whether some image of items has masks of two or
// more findings.
func multiFinding(items []item) bool {
	seen := map[string]string{}
	for _, it := range items {
		if it.image == "" {
			continue
		}
		if first, ok := seen[it.image]; ok && first != it.rel {
			return true
		}
		seen[it.image] = it.rel
	}
	return false
}

// isMaskFile reports whether name has an image extension the tool reads.
func isMaskFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".dcm":
		return true
	}
	return false
}

// folderItems lists every mask file under root in lexical order, skipping
// hidden entries and the predictions folder if it lies inside root.
func folderItems(root, predRoot string) ([]item, error) {
	var items []item
	err := cli.WalkFiles(root, predRoot, isMaskFile, func(_, rel string) error {
		it := item{group: "all", rel: rel}
		if first, _, nested := strings.Cut(rel, "/"); nested {
			it.group, it.dir = first, first
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no mask files (.png, .jpg, .jpeg, .dcm) under %s", root)
	}
	return items, nil
}

// predCandidates returns, in order of preference, the paths relative to
// -pred where the prediction for it may be.
func predCandidates(it item) []string {
	withPNG := func(p string) string { return strings.TrimSuffix(p, path.Ext(p)) + ".png" }
	c := []string{it.rel, withPNG(it.rel)}
	if it.dir != "" {
		base := path.Join(it.dir, path.Base(it.rel))
		c = append(c, base, withPNG(base))
	}
	out := c[:0]
	for _, p := range c {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// findPredictions fills in the pred field of every item that has a
// prediction file under predRoot and returns the items that have none.
func findPredictions(predRoot string, items []item) (missing []item) {
	for i := range items {
		for _, c := range predCandidates(items[i]) {
			if st, err := os.Stat(filepath.Join(predRoot, filepath.FromSlash(c))); err == nil && st.Mode().IsRegular() {
				items[i].pred = c
				break
			}
		}
		if items[i].pred == "" {
			missing = append(missing, items[i])
		}
	}
	return missing
}
