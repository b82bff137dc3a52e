// Command synthdata writes a synthetic PosMed data root: six modalities named
// like the real ones (brain_tumors_ct_scan, breast_tumors_ct_scan, lung_CT,
// lung_Xray, polyp_endoscopy, skin_rgbimage), each with its own look, one
// lesion per image placed so that the five Clinical Action Zones are
// balanced within every split, and question/answer/position text from the
// zone templates. The layout and CSV schema are those of the real data set,
// so every tool that reads PosMed reads the output:
//
//	DIR/<modality>.csv   columns image_path,image_name,question,answer,position,split
//	DIR/<modality>/{train,val,test}_images/…
//	DIR/<modality>/{train,val,test}_masks/…
//
// Usage:
//
//	go run ./examples/synthdata -out DIR [-n 60] [-size 128] [-seed 1]
//
// The same flags always write the same bytes. See package prsmed/data/synth
// (Generate, Config) for the details of each modality.
//
// Exit status: 0 on success, 1 when writing fails, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed/data/synth"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command-line flags.
type options struct {
	out        string
	n, size    int
	findings   int
	seed       uint64
	modalities string
	force      bool
	quiet      bool
}

const usageText = `Usage: synthdata -out DIR [flags]

Writes a synthetic PosMed data root (six modalities, balanced Clinical Action
Zones, train/val/test = 70/15/15) for quick CPU runs and tests. The layout is
that of the real data set: DIR/<modality>.csv with the columns
image_path,image_name,question,answer,position,split, and the images and
masks under DIR/<modality>/{train,val,test}_{images,masks}/.

Flags:
`

// run is the whole program; it returns the exit status (cli.RunTool's).
func run(args []string, stdout, stderr io.Writer) int {
	return cli.RunParsed("synthdata", args, stderr, parseFlags, func(_ context.Context, o options) (int, error) {
		return 0, generate(o, stdout, stderr)
	})
}

// parseFlags parses and checks args. -h prints the usage to help (standard error, as
// every example program does) and returns flag.ErrHelp.
func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("synthdata", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.out, "out", "", "output `folder` (required; created if missing)")
	fs.IntVar(&o.n, "n", synth.DefaultN, "samples per modality")
	fs.IntVar(&o.size, "size", synth.DefaultSize, fmt.Sprintf("image side in pixels (at least %d)", synth.MinSize))
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.IntVar(&o.findings, "findings", 0, fmt.Sprintf("multi-finding mode: each image holds 2 … this many findings (at most %d), one question and mask per finding; -n counts images (0: one finding per image)", synth.MaxFindings))
	fs.StringVar(&o.modalities, "modalities", "", "comma-separated modalities to write (default: all six)")
	fs.BoolVar(&o.force, "force", false, "write into a folder that is not empty")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the final summary")
	if err := cli.ParseFlags(fs, args, help, usageText); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.out == "":
		return o, errors.New("-out is required")
	case o.n < 1:
		return o, fmt.Errorf("-n %d: need at least 1", o.n)
	case o.size < synth.MinSize:
		return o, fmt.Errorf("-size %d: need at least %d", o.size, synth.MinSize)
	case o.findings < 0 || o.findings == 1 || o.findings > synth.MaxFindings:
		return o, fmt.Errorf("-findings %d: need 0 (one finding per image) or 2 … %d", o.findings, synth.MaxFindings)
	}
	return o, nil
}

// generate writes the data, reports progress on stderr and prints a summary on stdout.
func generate(o options, stdout, stderr io.Writer) error {
	if entries, err := os.ReadDir(o.out); err == nil && len(entries) > 0 && !o.force {
		return fmt.Errorf("-out %s is not empty (use -force to write into it)", o.out)
	}
	cfg := synth.Config{N: o.n, Size: o.size, Seed: o.seed, Findings: o.findings}
	if o.modalities != "" {
		for _, m := range strings.Split(o.modalities, ",") {
			cfg.Modalities = append(cfg.Modalities, strings.TrimSpace(m))
		}
	}
	if !o.quiet {
		cfg.Progress = func(m string, done, total int) {
			if done == total {
				fmt.Fprintf(stderr, "%-22s %4d/%d\n", m, done, total)
			}
		}
	}
	if err := synth.Generate(o.out, cfg); err != nil {
		return err
	}
	ds, err := data.Open(o.out)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	return summary(stdout, ds)
}

// summary prints the split and zone counts of every modality.
func summary(w io.Writer, ds *data.Dataset) error {
	fmt.Fprintf(w, "wrote %d samples to %s\n", ds.Len(), ds.Root())
	fmt.Fprintf(w, "%-22s %5s %5s %5s   %s\n", "modality", "train", "val", "test", "zones (TL/TR/BL/BR/C)")
	for _, m := range ds.Modalities() {
		zc := map[zones.Zone]int{}
		for _, s := range ds.Samples("") {
			if s.Modality == m {
				zc[s.Zone]++
			}
		}
		c := ds.Counts()[m]
		_, err := fmt.Fprintf(w, "%-22s %5d %5d %5d   %d/%d/%d/%d/%d\n", m, c[data.SplitTrain], c[data.SplitVal], c[data.SplitTest],
			zc[zones.TopLeft], zc[zones.TopRight], zc[zones.BottomLeft], zc[zones.BottomRight], zc[zones.Center])
		if err != nil {
			return err
		}
	}
	return nil
}
