package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prsmed/prsmed-go/zones"
)

// Sample is one PosMed row: an image, its lesion mask and one
// question/answer pair about the lesion's position.
type Sample struct {
	// Modality is the name of the row's CSV without ".csv", e.g.
	// "brain_tumors_ct_scan".
	Modality string
	// ImagePath and MaskPath are the files' paths: the data root joined
	// with their paths relative to it.
	ImagePath, MaskPath string
	// MaskRel is the image_path column, cleaned, in slash form: the mask's
	// path relative to the data root.
	MaskRel string
	// ImageName is the image_name column.
	ImageName string
	// Question, Answer and Position are the text columns, with surrounding
	// spaces removed.
	Question, Answer, Position string
	// Zone is the Clinical Action Zone that Position names
	// (zones.Parse); the zero Zone when it names none or several, as the
	// official lung rows ("top left center") can.
	Zone zones.Zone
	// Split is "train", "val" or "test".
	Split string
	// Row is the line of CSV on which the row starts; the header is line 1.
	Row int
	// CSV is the path of the annotation file the row comes from.
	CSV string
}

// String names the sample by its CSV file and line, the way errors do.
func (s Sample) String() string {
	return fmt.Sprintf("%s:%d", s.CSV, s.Row)
}

// Options adjusts [OpenWith].
type Options struct {
	// Annotations is the folder holding the per-modality CSVs, relative to
	// the data root unless absolute. When empty, the first of these folders
	// that holds a .csv file is used: the root itself, then its
	// sub-folders annotations, annotation, annotation_v3, annotation_v2 and
	// csv. Every non-hidden .csv file directly in the folder is read as a
	// PosMed CSV.
	Annotations string
}

// Dataset is an opened PosMed data root: every row of every CSV, validated.
// It is read-only after [Open] and safe for concurrent use.
type Dataset struct {
	root, annotations string
	modalities        []string
	samples           []Sample
}

// Open reads the PosMed data root with default [Options].
func Open(root string) (*Dataset, error) {
	return OpenWith(root, Options{})
}

// OpenWith reads every annotation CSV of the data root and checks every row
// as described in the package comment. The first problem found is returned
// as an error that names the CSV file and, for a row, its line.
func OpenWith(root string, opt Options) (*Dataset, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("data root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data root %s is not a folder", root)
	}
	dir, files, err := findAnnotations(root, opt.Annotations)
	if err != nil {
		return nil, err
	}
	d := &Dataset{root: root, annotations: dir}
	for _, f := range files {
		mod := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		rows, err := readCSV(root, f, mod)
		if err != nil {
			return nil, err
		}
		d.modalities = append(d.modalities, mod)
		d.samples = append(d.samples, rows...)
	}
	return d, nil
}

// Root returns the data root the dataset was opened from.
func (d *Dataset) Root() string { return d.root }

// AnnotationDir returns the folder the CSVs were read from.
func (d *Dataset) AnnotationDir() string { return d.annotations }

// Modalities returns the modality names, one per CSV, sorted. The slice is
// new on every call.
func (d *Dataset) Modalities() []string { return slices.Clone(d.modalities) }

// Len returns the number of rows in all CSVs.
func (d *Dataset) Len() int { return len(d.samples) }

// Samples returns the rows whose split is split ("train", "val" or "test"),
// or every row for "". Rows come in modality order, then CSV order. An
// unknown split gives no rows. The slice is new on every call.
func (d *Dataset) Samples(split string) []Sample {
	var out []Sample
	for _, s := range d.samples {
		if split == "" || s.Split == split {
			out = append(out, s)
		}
	}
	return out
}

// Counts returns, per modality, the number of rows in each split.
func (d *Dataset) Counts() map[string]map[string]int {
	c := make(map[string]map[string]int, len(d.modalities))
	for _, m := range d.modalities {
		c[m] = map[string]int{SplitTrain: 0, SplitVal: 0, SplitTest: 0}
	}
	for _, s := range d.samples {
		c[s.Modality][s.Split]++
	}
	return c
}
