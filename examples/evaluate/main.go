// Command evaluate scores predicted segmentation masks (and, when given,
// generated position answers) against ground truth the way the PRS-Med
// paper does, and prints one row per modality and one for all images.
//
// Usage:
//
//	go run ./examples/evaluate -pred DIR -gt DIR [-split test] [-json FILE]
//
// # Ground truth
//
// -gt is either a plain folder of masks or a PosMed data root:
//
//   - PosMed data root: the folder given by -annotations (default: -gt
//     itself) holds one CSV per modality with the columns
//     image_path,image_name,question,answer,position,split. The modality is
//     the CSV's file name without ".csv"; image_path is the mask's path
//     relative to -gt (for example brain_tumors_ct_scan/test_masks/10.png).
//     Only rows whose split equals -split are used ("all" keeps every row);
//     a mask named by several rows is scored once.
//   - Plain folder: used when no PosMed CSV is found. Every .png, .jpg and
//     .jpeg or .dcm file under -gt (recursively, hidden entries skipped) is a mask;
//     its group is its top-level sub-folder, or "all" for files directly in
//     -gt. -split does not apply.
//
// # Predictions
//
// Predictions are 8-bit grey PNGs whose grey level/255 is the foreground
// probability (what PRS-Med inference saves). For a mask at relative path
// REL in group G the tool uses the first of these files that exists under
// -pred:
//
//  1. REL itself (same relative path as the ground truth);
//  2. REL with its extension replaced by .png;
//  3. G/BASE, where BASE is REL's file name (the official inference layout
//     masks/<modality>/<file>; skipped for files directly in a plain -gt);
//  4. G/BASE with its extension replaced by .png.
//
// A mask without a prediction is an error unless -allow-missing is given,
// in which case it is left out of the scores and counted on stderr.
//
// # Answers
//
// If -pred holds answers.jsonl or answers.csv (or -answers names a file),
// zone accuracy is printed too. answers.jsonl has one JSON object per line,
// {"file": "...", "answer": "..."}; answers.csv has a header with at least
// the columns file and answer. "file" is either the ground-truth mask's
// relative path (image_path) or the prediction's path relative to -pred, in
// slash form. A file may have several answers; each is scored. The true zone
// is derived from the ground-truth mask with the PosMed rule
// (zones.FromMask); the answer's zone is zones.Parse of its text, and an
// answer that names no single zone counts as wrong. Answers for masks that
// are not scored, or whose mask is empty, are counted on stderr and skipped.
//
// # Scores
//
// Per image: Dice and IoU at threshold 0.5 and over the 256 thresholds
// linspace(1, 0, 256) of the official evaluation (see package
// prsmed/metrics for the exact rules: nearest resize to the ground truth's
// size, ground truth = grey > 127, Dice = IoU = 0 when nothing overlaps).
// Per modality: the mean over images at 0.5 (Dice@0.5, IoU@0.5), and for
// each threshold the mean over images, then the mean (mDice, mIoU) and the
// maximum (maxDice) over thresholds. "overall" pools all images.
//
// Exit status: 0 on success, 1 when evaluation fails, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command-line flags.
type options struct {
	pred, gt, annotations string
	split                 string
	splitSet              bool
	jsonOut               string
	answers               string
	allowMissing          bool
	workers               int
}

const usageText = `Usage: evaluate -pred DIR -gt DIR [flags]

Scores predicted masks (8-bit grey PNG probabilities) against ground-truth
masks and prints Dice@0.5, IoU@0.5, mDice, mIoU and maxDice per modality and
overall, plus zone accuracy when answers are available.

-gt is a PosMed data root (per-modality CSVs with columns
image_path,image_name,question,answer,position,split) or a plain folder of
masks. Predictions are found under -pred at the mask's relative path, or at
<modality>/<file name> (a .png extension is also tried). Answers are read
from -pred/answers.jsonl ({"file": ..., "answer": ...} per line) or
-pred/answers.csv (columns file,answer).

Flags:
`

// parseFlags parses args. It returns flag.ErrHelp when help was asked for, after printing
// the help to help (standard error, as every example program does).
func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.pred, "pred", "", "folder of predicted masks (required)")
	fs.StringVar(&o.gt, "gt", "", "ground-truth folder or PosMed data root (required)")
	fs.StringVar(&o.annotations, "annotations", "", "folder of PosMed CSVs (default: the -gt folder)")
	fs.StringVar(&o.split, "split", "test", `PosMed split to score, or "all"`)
	fs.StringVar(&o.jsonOut, "json", "", "also write the scores as JSON to this file")
	fs.StringVar(&o.answers, "answers", "", "answers file (default: answers.jsonl or answers.csv in -pred, if present)")
	fs.BoolVar(&o.allowMissing, "allow-missing", false, "skip masks that have no prediction instead of failing")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "number of images scored in parallel")
	if err := cli.ParseFlags(fs, args, help, usageText); err != nil {
		return o, err // reported in one line by run
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "split" {
			o.splitSet = true
		}
	})
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.pred == "":
		return o, errors.New("-pred is required")
	case o.gt == "":
		return o, errors.New("-gt is required")
	case o.workers < 1:
		return o, fmt.Errorf("-workers must be at least 1, got %d", o.workers)
	case o.split == "":
		return o, errors.New(`-split must not be empty (use "all" for every row)`)
	}
	return o, nil
}

// run is the whole program; it returns the exit status (cli.RunTool's).
func run(args []string, stdout, stderr io.Writer) int {
	return cli.RunParsed("evaluate", args, stderr, parseFlags, func(_ context.Context, o options) (int, error) {
		return 0, evaluate(o, stdout, stderr)
	})
}
