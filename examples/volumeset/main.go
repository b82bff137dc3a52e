// Command volumeset turns labelled 3-D volumes into a PosMed data root that the trainer
// and evaluator read (see package prsmed/data/volumeset):
//
//	go run ./examples/volumeset -image CT.nii.gz -labels SEG.nii.gz -table labels.txt -out DIR
//	go run ./examples/volumeset -subjects list.tsv -table labels.tsv -out DIR -plane coronal
//
// An image or label map is a NIfTI file (.nii, .nii.gz) or a DICOM series folder. The
// label table is ITK-SNAP's label description file or a TSV of value and name. -subjects
// names several subjects, one per line: name, image and label map separated by tabs
// (relative paths are relative to the list's folder).
//
// Slices are written in radiological display orientation (the patient's left on the
// image's right for axial and coronal slices; anterior on the left for sagittal ones), so
// zones in the answers name image positions, not anatomical sides. The same flags always
// write the same bytes.
//
// Exit status: 0 on success, 1 when reading or writing fails, 2 for a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed/data/volumeset"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// usageError is a problem with the command line (exit status 2).
func usageError(msg string) error { return &cli.UsageError{Msg: msg} }

const usageText = `Usage: volumeset (-image PATH -labels PATH | -subjects LIST) -table FILE -out DIR [flags]

Writes a PosMed data root from labelled volumes: for each label and each slice where
the label covers at least -min pixels, the windowed slice (PNG), the label's mask, a
question naming the structure and an answer from the mask's zone. Images and label maps
are NIfTI files or DICOM series folders; the label table is an ITK-SNAP label
description file or a TSV (value, tab, name).

Flags:
`

type options struct {
	image, labels, name, subjects, table, out string
	modality, plane, window, split, series    string
	min, block                                int
	seed                                      uint64
	force                                     bool
}

// run is the program: SIGINT and SIGTERM cancel the build; the exit status is cli's (0 done
// or -h, 1 failed, 2 bad usage, 130 interrupted).
func run(args []string, stdout, stderr io.Writer) int {
	return cli.RunParsed("volumeset", args, stderr, parseFlags, func(ctx context.Context, o options) (int, error) {
		return cli.ExitOK, build(ctx, o, stdout)
	})
}

func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("volumeset", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.image, "image", "", "image volume: a NIfTI `file` or a DICOM series folder")
	fs.StringVar(&o.labels, "labels", "", "label map on the image's grid: a NIfTI `file` or a DICOM series folder")
	fs.StringVar(&o.name, "name", "", "subject name with -image (default: the image's file name without extension)")
	fs.StringVar(&o.subjects, "subjects", "", "`list` of subjects: name, image, label map per line, tab-separated")
	fs.StringVar(&o.series, "series", "", "SeriesInstanceUID to read from DICOM folders holding several series")
	fs.StringVar(&o.table, "table", "", "label table `file`: ITK-SNAP label description or TSV (required)")
	fs.StringVar(&o.out, "out", "", "output `folder` (required; created if missing)")
	fs.StringVar(&o.modality, "modality", "volumes", "modality name (CSV and folder name)")
	fs.StringVar(&o.plane, "plane", "axial", "slicing plane: axial, coronal or sagittal")
	fs.StringVar(&o.window, "window", "minmax", "window: minmax, a CT preset (lung, mediastinum, brain, bone, abdomen) or CENTER,WIDTH")
	fs.StringVar(&o.split, "split", "0.7,0.15,0.15", "train,val,test fractions")
	fs.IntVar(&o.min, "min", 20, "least pixels a label must cover in a slice")
	fs.IntVar(&o.block, "block", 10, "slices per block when splitting one subject")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the split and the text templates")
	fs.BoolVar(&o.force, "force", false, "write into a folder that is not empty")
	err := cli.ParseFlags(fs, args, help, usageText)
	if errors.Is(err, flag.ErrHelp) {
		return o, err
	}
	if err != nil {
		return o, usageError(err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return o, usageError(fmt.Sprintf("unexpected argument %q (see -h)", fs.Arg(0)))
	case o.out == "" || o.table == "":
		return o, usageError("-out and -table are required")
	case (o.subjects == "") == (o.image == "" && o.labels == ""):
		return o, usageError("give either -image and -labels or -subjects")
	case o.subjects == "" && (o.image == "" || o.labels == ""):
		return o, usageError("-image and -labels go together")
	case o.min < 1 || o.block < 1:
		return o, usageError("-min and -block must be at least 1")
	}
	return o, nil
}

// load reads a NIfTI file or a DICOM series folder (series picks one series there).
func load(ctx context.Context, path, series string) (*volume.Volume, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		s, err := volume.ReadDICOMSeries(ctx, path, volume.SeriesOptions{SeriesUID: series})
		if err != nil {
			return nil, err
		}
		return s.Volume, nil
	}
	return volume.ReadNIfTI(path)
}

func subject(name, image, labels, series string) volumeset.Subject {
	return volumeset.Subject{Name: name, Open: func(ctx context.Context) (*volume.Volume, *volume.Volume, error) {
		img, err := load(ctx, image, series)
		if err != nil {
			return nil, nil, err
		}
		lab, err := load(ctx, labels, series)
		if err != nil {
			return nil, nil, err
		}
		return img, lab, nil
	}}
}

// readSubjects reads the -subjects list.
func readSubjects(path, series string) ([]volumeset.Subject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir := filepath.Dir(path)
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var out []volumeset.Subject
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		parts := strings.Split(s, "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s:%d: want name, image and label map separated by tabs", path, line)
		}
		out = append(out, subject(strings.TrimSpace(parts[0]), abs(strings.TrimSpace(parts[1])), abs(strings.TrimSpace(parts[2])), series))
	}
	return out, sc.Err()
}

func build(ctx context.Context, o options, stdout io.Writer) error {
	plane, err := volume.ParsePlane(o.plane)
	if err != nil {
		return usageError(err.Error())
	}
	w := window.MinMaxWindow()
	if !strings.EqualFold(o.window, "minmax") {
		if w, err = window.Parse(o.window); err != nil || w.Kind != window.Explicit {
			return usageError(fmt.Sprintf("-window %q: want minmax, a preset or CENTER,WIDTH", o.window))
		}
	}
	var frac [3]float64
	parts := strings.Split(o.split, ",")
	if len(parts) != 3 {
		return usageError(fmt.Sprintf("-split %q: want three fractions", o.split))
	}
	for i, p := range parts {
		if frac[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil {
			return usageError(fmt.Sprintf("-split %q: %v", o.split, err))
		}
	}
	labels, err := volumeset.ReadLabels(o.table)
	if err != nil {
		return err
	}
	var subjects []volumeset.Subject
	if o.subjects != "" {
		if subjects, err = readSubjects(o.subjects, o.series); err != nil {
			return err
		}
	} else {
		name := o.name
		if name == "" {
			name = filepath.Base(o.image)
			for _, ext := range []string{".gz", ".nii", ".NII"} {
				name = strings.TrimSuffix(name, ext)
			}
		}
		subjects = []volumeset.Subject{subject(name, o.image, o.labels, o.series)}
	}
	if entries, err := os.ReadDir(o.out); err == nil && len(entries) > 0 && !o.force {
		return fmt.Errorf("-out %s is not empty (use -force to write into it)", o.out)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	sum, err := volumeset.Build(ctx, o.out, subjects, labels, volumeset.Config{
		Modality: o.modality, Plane: plane, MinPixels: o.min, Window: w, Fractions: frac,
		BlockSlices: o.block, Seed: o.seed,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/%s.csv: rows train %d, val %d, test %d; slices train %d, val %d, test %d; %d guard slices dropped\n",
		o.out, o.modality, sum.Rows["train"], sum.Rows["val"], sum.Rows["test"],
		sum.Slices["train"], sum.Slices["val"], sum.Slices["test"], sum.Guards)
	names := make([]string, 0, len(sum.PerLabel))
	for n := range sum.PerLabel {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-30s %d rows\n", n, sum.PerLabel[n])
	}
	for _, n := range names {
		if c := sum.UnparsedAnswers[n]; c > 0 {
			fmt.Fprintf(stdout, "note: %d answers about %q do not parse back to their zone (the name reads as an image position); zone accuracy from generated answers undercounts on this label\n", c, n)
		}
	}
	if len(sum.Unnamed) > 0 {
		fmt.Fprintf(stdout, "label values not in the table (ignored): %v\n", sum.Unnamed)
	}
	return nil
}
