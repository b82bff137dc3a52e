// Command predict runs a PRS-Med checkpoint over a folder of images or a PosMed split and
// writes what examples/evaluate reads:
//
//	OUT/masks/<modality>/<name>.png   the mask: foreground probability ×255, image-sized
//	OUT/masks/answers.jsonl           {"file": "<modality>/<name>.png", "answer": ...} lines
//	OUT/overlays/<modality>/<name>.png  (with -overlays) the mask over the image
//
// With a PosMed data root (-data) the split's table of Dice, IoU and zone accuracy is
// printed at the end, the same numbers as
//
//	go run ./examples/evaluate -pred OUT/masks -gt ROOT -split test
//
// A run is resumable: images whose mask and answer exist are skipped, so an interrupted
// run continues where it stopped when started again with the same flags.
//
// Exit status: 0 on success, 1 when a run fails or some images could not be read, 2 for
// a usage error, 130 when interrupted (SIGINT or SIGTERM).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	model                                        cli.BundleFlags
	images, data, split, out, question, modality string
	volume, plane, series, label                 string
	threshold                                    float64
	batch                                        int
	overlays, quiet, progress                    bool
	medical                                      imageio.Options
}

const usageText = `Usage: predict -checkpoint DIR (-images DIR | -data ROOT | -volume FILE|DIR) -out DIR [flags]

Runs a PRS-Med checkpoint over many images and writes, under -out,
masks/<modality>/<name>.png (probabilities ×255), masks/answers.jsonl and,
with -overlays, overlays/<modality>/<name>.png. The layout is the one
examples/evaluate reads (evaluate -pred OUT/masks -gt ROOT).

-images: every image under the folder (PNG, JPEG, BMP, TIFF, DICOM .dcm, NIfTI .nii,
.nii.gz; DICOM and NIfTI windowed with -window, -frame, -slice); the modality is
its top-level sub-folder, or -modality for files directly in the folder.
-data: a PosMed data root; one prediction per distinct mask of -split, asked
the row's question, and the evaluation table at the end.

-volume: a NIfTI file or a DICOM series folder; every -plane slice is predicted
(windowed with -window: CENTER,WIDTH, a preset, or min-max per slice, the default)
and the masks are stacked into OUT/mask.nii.gz on the input's grid (same size,
affine and orientation), with OUT/summary.json (slices with the finding, the
largest slice and its answer, the volume in mL); for a DICOM series also
OUT/mask.seg.dcm, a DICOM Segmentation referencing the series' instances.

Images already done (mask and answer present) are skipped, so rerunning an
interrupted command resumes it; masks/run.json records the checkpoint's weights,
-question and the medical decoding, and a run with others into the same -out is
refused.

Flags:
`

var errInterrupted = errors.New("interrupted")

// parseFlags parses args; -h prints the help to help (standard error, as every example
// program does).
func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.model.Register(fs, "intra-op threads (0: libtorch's default)")
	fs.StringVar(&o.images, "images", "", "folder of images")
	fs.StringVar(&o.data, "data", "", "PosMed data root")
	fs.StringVar(&o.volume, "volume", "", "NIfTI `file` or DICOM series folder to predict slice by slice")
	fs.StringVar(&o.plane, "plane", "axial", "slicing plane with -volume: axial, coronal or sagittal")
	fs.StringVar(&o.series, "series", "", "SeriesInstanceUID with -volume, for a folder holding several series")
	fs.StringVar(&o.label, "label", "finding", "segment label of the DICOM SEG written with -volume")
	fs.Float64Var(&o.threshold, "threshold", 0.5, "probability above which a voxel is in the -volume mask")
	fs.StringVar(&o.split, "split", "test", `PosMed split with -data: train, val, test or "all"`)
	fs.StringVar(&o.out, "out", "", "output folder (required)")
	fs.StringVar(&o.question, "question", "", `question for every image (default: "Where is the lesion in this image?" for -images, each row's question for -data)`)
	fs.StringVar(&o.modality, "modality", "images", "modality name for images directly in -images")
	fs.IntVar(&o.batch, "batch", 8, "images per model call")
	fs.BoolVar(&o.overlays, "overlays", false, "also write overlays of the masks over the images")
	fs.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "draw a progress bar on stderr (default: when stderr is a terminal)")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing but errors and the table")
	med := cli.RegisterMedical(fs)
	if err := cli.ParseFlags(fs, args, help, usageText); err != nil {
		return o, err
	}
	mo, err := med.Options()
	if err != nil {
		return o, err
	}
	o.medical = mo
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.model.Checkpoint == "":
		return o, errors.New("-checkpoint is required")
	case o.out == "":
		return o, errors.New("-out is required")
	case countSet(o.images, o.data, o.volume) != 1:
		return o, errors.New("give exactly one of -images, -data and -volume")
	case o.volume != "" && !(o.threshold > 0 && o.threshold < 1):
		return o, fmt.Errorf("-threshold %v: want a probability in (0, 1)", o.threshold)
	case o.batch < 1:
		return o, fmt.Errorf("-batch must be at least 1, got %d", o.batch)
	case o.modality == "" || strings.ContainsAny(o.modality, `/\`) || o.modality == "." || o.modality == "..":
		return o, fmt.Errorf("-modality %q is not a folder name", o.modality)
	}
	switch o.split {
	case "train", "val", "test", "all":
	default:
		return o, fmt.Errorf(`-split %q: want train, val, test or "all"`, o.split)
	}
	if o.volume != "" {
		if _, err := volume.ParsePlane(o.plane); err != nil {
			return o, fmt.Errorf("-plane: %w", err)
		}
		if o.question == "" {
			o.question = "Where is the lesion in this image?"
		}
	}
	if o.quiet {
		o.progress = false
	}
	return o, nil
}

// countSet counts the non-empty strings.
func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.RunParsed("predict", args, stderr, parseFlags, func(ctx context.Context, o options) (int, error) {
		if o.volume != "" {
			err := predictVolume(ctx, o, stdout, stderr)
			switch {
			case errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil):
				fmt.Fprintln(stderr, "predict: interrupted")
				return 130, nil
			case err != nil:
				return 1, err
			}
			return 0, nil
		}
		failed, err := predict(ctx, o, stdout, stderr)
		switch {
		case errors.Is(err, errInterrupted) || (err != nil && ctx.Err() != nil):
			fmt.Fprintln(stderr, "predict: interrupted; run the same command again to resume")
			return 130, nil
		case err != nil:
			return 1, err
		case failed > 0:
			fmt.Fprintf(stderr, "predict: %d images could not be read (see the warnings above)\n", failed)
			return 1, nil
		}
		return 0, nil
	})
}

// predict runs the whole job and returns the number of unreadable images.
func predict(ctx context.Context, o options, stdout, stderr io.Writer) (failed int, err error) {
	defer torch.Recover(&err)
	var items []item
	if o.images != "" {
		q := o.question
		if q == "" {
			q = "Where is the lesion in this image?"
		}
		items, err = folderItems(o.images, o.out, o.modality, q)
	} else {
		items, err = posmedItems(o.data, o.split, o.question)
	}
	if err != nil {
		return 0, err
	}
	masksDir := filepath.Join(o.out, "masks")
	if err := os.MkdirAll(masksDir, 0o755); err != nil {
		return 0, err
	}
	ans, err := openAnswers(filepath.Join(masksDir, "answers.jsonl"))
	if err != nil {
		return 0, err
	}
	defer ans.close()
	rec, err := newRunRecord(o)
	if err != nil {
		return 0, err
	}
	if err := claimOutput(masksDir, rec, len(ans.done)); err != nil {
		return 0, err
	}
	var todo []item
	for _, it := range items {
		if _, ok := ans.done[it.key()]; ok {
			if _, err := os.Stat(filepath.Join(masksDir, filepath.FromSlash(it.key()))); err == nil {
				continue
			}
		}
		todo = append(todo, it)
	}
	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format, args...)
		}
	}
	if done := len(items) - len(todo); done > 0 {
		logf("predict: %d of %d images already done in %s; predicting the other %d\n", done, len(items), o.out, len(todo))
	}
	if len(todo) > 0 {
		if failed, err = predictAll(ctx, o, todo, len(items), masksDir, ans, logf, stderr); err != nil {
			return failed, err
		}
	}
	if o.data != "" {
		s, n, err := score(items, masksDir, ans.done)
		if err != nil {
			return failed, err
		}
		if n > 0 {
			printTable(stdout, s)
		}
	}
	return failed, nil
}

// loadModel applies -threads and opens the checkpoint on -device.
func loadModel(o options) (*prsmed.Model, torch.Device, error) {
	dev, err := o.model.Setup()
	if err != nil {
		return nil, dev, err
	}
	m, _, err := prsmed.LoadBundle(o.model.Checkpoint, dev, prsmed.BundleOptions{Tokenizer: o.model.Tokenizer, TinySAM: o.model.TinySAM, LLaVAMed: o.model.LLaVA})
	return m, dev, err
}

func predictAll(ctx context.Context, o options, todo []item, total int, masksDir string, ans *answers, logf func(string, ...any), stderr io.Writer) (failed int, err error) {
	t0 := time.Now()
	m, dev, err := loadModel(o)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	logf("predict: loaded %s (%s preset) in %.1f s; %d images, batches of %d on %s\n", o.model.Checkpoint, m.Config.Name, time.Since(t0).Seconds(), len(todo), o.batch, dev)
	bar := newProgress(stderr, o.progress, total, total-len(todo))
	done := total - len(todo)
	start := time.Now()
	for i := 0; i < len(todo); i += o.batch {
		if ctx.Err() != nil {
			bar.finish()
			return failed, errInterrupted
		}
		var batch []item
		var imgs []image.Image
		var qs, sources []string
		for _, it := range todo[i:min(i+o.batch, len(todo))] {
			img, src, err := imageio.LoadWith(it.image, o.medical)
			if err != nil {
				if o.progress {
					fmt.Fprintln(stderr)
				}
				fmt.Fprintf(stderr, "predict: warning: skipping %s: %v\n", it.image, err)
				failed++
				done++
				continue
			}
			batch, imgs, qs = append(batch, it), append(imgs, img), append(qs, it.question)
			sources = append(sources, src.String())
		}
		if len(batch) == 0 {
			continue
		}
		ps, err := m.PredictBatch(ctx, imgs, qs)
		if err != nil {
			bar.finish()
			if ctx.Err() != nil {
				return failed, errInterrupted
			}
			return failed, err
		}
		for k, p := range ps {
			it := batch[k]
			if err := writePNG(filepath.Join(masksDir, filepath.FromSlash(it.key())), p.Mask); err != nil {
				return failed, err
			}
			if o.overlays {
				if err := writePNG(filepath.Join(o.out, "overlays", it.modality, it.name), cli.Overlay(imgs[k], p.Mask, nil)); err != nil {
					return failed, err
				}
			}
			l := answerLine{File: it.key(), Answer: p.Answer, Image: it.image, Source: sources[k], Question: it.question}
			if p.Named {
				l.Zone = p.Zone.String()
			}
			if err := ans.add(l); err != nil {
				return failed, err
			}
		}
		if err := ans.sync(); err != nil {
			return failed, err
		}
		done += len(batch)
		bar.update(done)
	}
	bar.finish()
	el := time.Since(start).Seconds()
	logf("predict: %d images in %.1f s (%.1f images/s); masks and answers.jsonl in %s\n", len(todo)-failed, el, float64(len(todo)-failed)/el, masksDir)
	return failed, nil
}
