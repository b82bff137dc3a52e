// Command quickstart is PRS-Med end to end on a CPU: it writes a synthetic PosMed data set
// (six modalities, lesions in all five zones) and a multi-finding set (2 or 3 findings per
// image, one question per finding), builds the tiny model, trains stage 0 on the
// one-finding rows and stages 1 and 2 on all rows, evaluates on the test splits, and prints
// a per-modality table of mask quality (mDice, mIoU) and zone accuracy of the generated
// answers, then the referring scores of the multi-finding set (do the masks follow the
// question?). It leaves overlays of predictions, the loss/metric curves and a checkpoint in
// -out (stage 0's run in -out/stage0).
//
// On a CPU with two or more cores it trains in two data-parallel processes, copies of
// itself over Gloo (-nproc; 1 trains in this process), then evaluates the checkpoint they
// saved.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

type options struct {
	out      string
	n, size  int
	multi    int
	seed     uint64
	threads  int
	overlays int
	resume   bool
	loss     string
	device   string
	nproc    int
	args     []string // the command line, for -nproc's workers
}

func main() {
	var o options
	c := cli.NewCommand("quickstart", "quickstart [flags]", "Trains the tiny PRS-Med on synthetic data and evaluates it.")
	fs := c.Flags
	// The tiny training preset is the quickstart's recipe (examples/train -preset tiny runs
	// the same); the flags below override it.
	tc, err := train.Preset("tiny")
	if err != nil {
		panic(err)
	}
	fs.StringVar(&o.out, "out", "quickstart-out", "folder for the data set, checkpoint, log, curves and overlays")
	fs.IntVar(&o.n, "n", 600, "synthetic samples per modality")
	fs.IntVar(&o.size, "size", 64, "synthetic image side in pixels")
	fs.IntVar(&o.multi, "multi", 600, "synthetic images per modality holding 2 or 3 findings each, one question per finding, trained on in stages 1 and 2 beside the one-finding set and reported on with referring accuracy (0: none)")
	fs.IntVar(&tc.Stage0Epochs, "epochs0", tc.Stage0Epochs, "stage 0 epochs (the tiny vision-language backbone learns to answer)")
	fs.IntVar(&tc.Stage1Epochs, "epochs1", tc.Stage1Epochs, "stage 1 epochs (fusion and decoder)")
	fs.IntVar(&tc.Stage2Epochs, "epochs2", tc.Stage2Epochs, "stage 2 epochs (TinyViT, fusion and decoder, and LoRA unless -freeze-lora2)")
	fs.IntVar(&tc.BatchSize, "batch", tc.BatchSize, "samples per optimisation step (split over -nproc's processes)")
	fs.Float64Var(&tc.LR, "lr", tc.LR, "peak learning rate of stages 1 and 2 (the tiny model trains from scratch; the cosine ends at lr/20)")
	fs.Float64Var(&tc.Stage0LR, "lr0", tc.Stage0LR, "peak learning rate of stage 0")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the data, the initialisation and the data order")
	fs.IntVar(&o.threads, "threads", 0, cli.TrainingThreadsHelp)
	fs.BoolVar(&tc.Flip, "flip", tc.Flip, "mirror samples (with their answers) in stages 1 and 2")
	fs.BoolVar(&tc.Stage2FreezeLoRA, "freeze-lora2", tc.Stage2FreezeLoRA, "keep the language model's LoRA adapters frozen in stage 2 (the answers stay those stage 2 starts from; false: the paper's stage 2, which trains them)")
	fs.IntVar(&tc.Workers, "workers", tc.Workers, "goroutines loading and preprocessing samples (0: one per CPU)")
	fs.StringVar(&o.device, "device", "cpu", "cpu, cuda or cuda:N")
	fs.IntVar(&o.overlays, "overlays", 3, "overlay PNGs to write per modality")
	fs.BoolVar(&o.resume, "resume", false, "continue from the checkpoint in -out")
	fs.StringVar(&o.loss, "loss", "1,1,0.5", "loss weights: BCE,Dice,CE")
	fs.IntVar(&o.nproc, "nproc", 0, "data-parallel training processes on this machine, each taking -batch/N samples of every step with one intra-op thread (0: 2 on a CPU with at least two cores, else 1; 1: train in this process)")
	o.args = os.Args[1:]
	c.Parse(o.args)
	tc.MinLR, tc.Seed = tc.LR/20, o.seed
	// -epochs1 or -epochs2 given: that many epochs, not the preset's minimum steps.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "epochs1":
			tc.Stage1MinSteps = 0
		case "epochs2":
			tc.Stage2MinSteps = 0
		}
	})
	// An interrupted run says what it left: runPhase points to -resume only when the
	// interrupted phase saved a checkpoint (train.Interrupted tells).
	c.Main(func(ctx context.Context) error { return run(ctx, o, tc) })
}

// isTerminal reports whether f is a terminal (the progress bar redraws itself there).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func run(ctx context.Context, o options, tc train.Config) (err error) {
	defer torch.Recover(&err)
	start := time.Now()
	if err := cli.SetUpTraining(o.threads); err != nil {
		return err
	}
	dev, err := torch.ParseDevice(o.device)
	if err != nil {
		return err
	}
	// A worker of -nproc (RANK set) takes the world size from the launcher's environment:
	// its own arguments no longer hold -nproc.
	worker := os.Getenv("RANK") != ""
	nproc := 1
	if !worker {
		nproc = ranks(o.nproc, dev)
	}
	if nproc > 1 && tc.BatchSize%nproc != 0 {
		return fmt.Errorf("-batch %d does not split over -nproc %d processes", tc.BatchSize, nproc)
	}
	sets, err := prepareData(o, !worker)
	if err != nil {
		return err
	}
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		return err
	}
	tc.Progress, tc.Bar = os.Stderr, isTerminal(os.Stderr)
	tc.TokenizerModel = assets.TemplateModel() // checkpoints load with prsmed.LoadBundle alone
	var m *prsmed.Model
	switch {
	case worker:
		return trainRank(ctx, o, tc, dev, tok, sets)
	case nproc > 1:
		if m, err = trainRanks(o, nproc, dev); err != nil {
			return err
		}
	default:
		if m, err = buildModel(o, dev, tok); err != nil {
			return err
		}
		fmt.Printf("model: tiny preset on %s, %d parameters\n", dev, m.Store.NumParams(false))
		if err := trainPhases(ctx, m, o, tc, sets); err != nil {
			m.Close()
			return err
		}
	}
	defer m.Close()
	return evaluate(ctx, m, o, sets, start)
}

// dataSets are the quickstart's splits: stage 0 trains on oneTrain and validates on
// oneVal; stages 1 and 2 on all and val (one-finding and multi-finding rows together).
type dataSets struct {
	oneTrain, oneVal, all, val, test, multiTest []data.Sample
}

// prepareData writes the synthetic sets into -out unless they are there, and opens them;
// report prints what was written and read (the workers of -nproc stay quiet).
func prepareData(o options, report bool) (dataSets, error) {
	var d dataSets
	say := func(w *os.File, format string, a ...any) {
		if report {
			fmt.Fprintf(w, format, a...)
		}
	}
	root := filepath.Join(o.out, "data")
	if _, err := os.Stat(filepath.Join(root, "brain_tumors_ct_scan.csv")); err != nil {
		say(os.Stderr, "writing synthetic PosMed data to %s (%d samples × 6 modalities, %d px)\n", root, o.n, o.size)
		if err := synth.Generate(root, synth.Config{N: o.n, Size: o.size, Seed: o.seed}); err != nil {
			return d, err
		}
	}
	ds, err := data.Open(root)
	if err != nil {
		return d, err
	}
	d.oneTrain, d.oneVal, d.test = ds.Samples("train"), ds.Samples("val"), ds.Samples("test")
	say(os.Stdout, "data: %d train, %d val, %d test samples\n", len(d.oneTrain), len(d.oneVal), len(d.test))
	d.all, d.val = d.oneTrain, d.oneVal
	if o.multi <= 0 {
		return d, nil
	}
	mroot := filepath.Join(o.out, "data-multi")
	if _, err := os.Stat(filepath.Join(mroot, "brain_tumors_ct_scan.csv")); err != nil {
		say(os.Stderr, "writing multi-finding synthetic data to %s (%d images × 6 modalities, 2 or 3 findings each)\n", mroot, o.multi)
		if err := synth.Generate(mroot, synth.Config{N: o.multi, Size: o.size, Seed: o.seed, Findings: 3}); err != nil {
			return d, err
		}
	}
	mds, err := data.Open(mroot)
	if err != nil {
		return d, err
	}
	mt, mv := mds.Samples("train"), mds.Samples("val")
	d.multiTest = mds.Samples("test")
	say(os.Stdout, "multi-finding data: %d train, %d val, %d test questions\n", len(mt), len(mv), len(d.multiTest))
	d.all = append(append([]data.Sample(nil), d.oneTrain...), mt...)
	d.val = interleave(d.oneVal, mv) // the validation cap then keeps both kinds
	return d, nil
}

// buildModel is the tiny model with -seed's initialisation and -loss's weights.
func buildModel(o options, dev torch.Device, tok *tokenizer.Tokenizer) (*prsmed.Model, error) {
	if err := torch.ManualSeed(o.seed); err != nil {
		return nil, err
	}
	cfg := prsmed.Tiny(int64(tok.VocabSize()))
	if _, err := fmt.Sscanf(o.loss, "%g,%g,%g", &cfg.Loss.BCE, &cfg.Loss.Dice, &cfg.Loss.CE); err != nil {
		return nil, fmt.Errorf("-loss %q: want three comma-separated weights", o.loss)
	}
	return prsmed.New(cfg, tok, dev)
}

// evaluate scores m on the test splits, writes the overlays and prints the tables and the
// goals.
func evaluate(ctx context.Context, m *prsmed.Model, o options, sets dataSets, start time.Time) error {
	test, multiTest := sets.test, sets.multiTest
	fmt.Printf("evaluating on %d test samples\n", len(test))
	written := map[string]int{}
	ovDir := filepath.Join(o.out, "overlays")
	if err := os.MkdirAll(ovDir, 0o755); err != nil {
		return err
	}
	sum, err := prsmed.Evaluate(ctx, m, test, 8, func(smp data.Sample, img image.Image, gt *image.Gray, p *prsmed.Prediction) error {
		if written[smp.Modality] >= o.overlays {
			return nil
		}
		written[smp.Modality]++
		name := fmt.Sprintf("%s_%d.png", smp.Modality, written[smp.Modality])
		return cli.WritePNG(filepath.Join(ovDir, name), cli.Overlay(img, p.Mask, gt))
	})
	if err != nil {
		return err
	}
	printTable(sum)
	var ref *metrics.Referring
	if len(multiTest) > 0 {
		var acc metrics.ReferAccumulator
		msum, err := prsmed.Evaluate(ctx, m, multiTest, 8, prsmed.ReferEach(&acc))
		if err != nil {
			return err
		}
		r := acc.Result()
		ref = &r
		fmt.Printf("\nmulti-finding test (%d questions on %d images): mDice %.3f, zone accuracy %.1f%%, referring accuracy %.1f%%, Dice with the asked finding %.3f (best other %.3f), masks for different questions alike %.3f\n",
			r.Questions, r.Images, msum.Overall.MeanDice, 100*msum.Overall.ZoneAccuracy, 100*r.Accuracy, r.AskedDice, r.OtherDice, r.Alike)
	}
	fmt.Printf("\noverlays: %s   curves: %s   log: %s   checkpoint: %s\n", ovDir,
		filepath.Join(o.out, "curves.png"), filepath.Join(o.out, "log.csv"), filepath.Join(o.out, "checkpoint"))
	fmt.Printf("goals: mDice %.3f (goal ≥ 0.85: %s), zone accuracy %.1f%% (goal ≥ 85%%: %s); %s in all\n",
		sum.Overall.MeanDice, verdict(sum.Overall.MeanDice >= 0.85), 100*sum.Overall.ZoneAccuracy, verdict(sum.Overall.ZoneAccuracy >= 0.85),
		time.Since(start).Round(time.Second))
	if ref != nil {
		fmt.Printf("multi-finding goals: referring accuracy %.1f%% (goal ≥ 90%%: %s), Dice with asked %.3f (goal ≥ 0.75: %s), masks alike %.3f (goal ≤ 0.3: %s)\n",
			100*ref.Accuracy, verdict(ref.Accuracy >= 0.9), ref.AskedDice, verdict(ref.AskedDice >= 0.75), ref.Alike, verdict(ref.Alike <= 0.3))
	}
	return nil
}

// interleave alternates the samples of a and b, then appends the rest of the longer.
func interleave(a, b []data.Sample) []data.Sample {
	out := make([]data.Sample, 0, len(a)+len(b))
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "reached"
	}
	return "NOT reached"
}

func printTable(sum metrics.Summary) {
	groups := append([]metrics.Stats(nil), sum.Groups...)
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	fmt.Printf("\n%-24s %5s %8s %8s %9s %9s %9s\n", "modality", "n", "mDice", "mIoU", "Dice@0.5", "IoU@0.5", "zone acc")
	row := func(st metrics.Stats) {
		fmt.Printf("%-24s %5d %8.3f %8.3f %9.3f %9.3f %8.1f%%\n", st.Name, st.Images, st.MeanDice, st.MeanIoU, st.Dice05, st.IoU05, 100*st.ZoneAccuracy)
	}
	for _, g := range groups {
		row(g)
	}
	o := sum.Overall
	o.Name = "overall"
	row(o)
}

// trainPhases trains m in two runs of the trainer. Stage 0 (the backbone learns to answer)
// sees the one-finding rows only, in -out/stage0; stages 1 and 2 see every row, the
// multi-finding questions included, in -out. Stage 0 on the mixed rows did not learn to
// read the zone from the image within 40 epochs (validation zone accuracy 67%, against 88%
// on the one-finding rows alone; docs/training.md). With -resume each phase continues from
// its own checkpoint; once stages 1–2 have saved one, stage 0 is not run again.
func trainPhases(ctx context.Context, m *prsmed.Model, o options, tc train.Config, d dataSets) error {
	later := filepath.Join(o.out, "checkpoint")
	laterStarted := o.resume && (exists(later) || exists(later+".old"))
	if tc.Stage0Epochs > 0 && !laterStarted {
		c0 := tc
		c0.OutDir = filepath.Join(o.out, "stage0")
		c0.Stage1Epochs, c0.Stage2Epochs, c0.Stage1MinSteps, c0.Stage2MinSteps = 0, 0, 0, 0
		if err := runPhase(ctx, m, c0, d.oneTrain, d.oneVal, o.resume); err != nil {
			return err
		}
	}
	tc.OutDir, tc.Stage0Epochs = o.out, 0
	return runPhase(ctx, m, tc, d.all, d.val, o.resume)
}

// ranks is the number of training processes -nproc asks for: 0 is 2 on a CPU with at
// least two cores (two one-thread ranks trained the quickstart's epochs 1.94 times as fast
// as one process on the 2-core machine of BENCHMARKS.md) and 1 on a GPU.
func ranks(nproc int, dev torch.Device) int {
	switch {
	case nproc > 0:
		return nproc
	case dev.IsCUDA() || runtime.NumCPU() < 2:
		return 1
	}
	return 2
}

// trainRanks trains in n worker processes of this program (the data-parallel ranks, over
// Gloo on the CPU) and loads the model they saved in -out/checkpoint.
func trainRanks(o options, n int, dev torch.Device) (*prsmed.Model, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fmt.Printf("training in %d data-parallel processes\n", n)
	code, err := cli.Launch("quickstart", exe, cli.WithoutNproc(o.args), n, cli.StopGrace)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("training stopped: a worker exited with status %d", code)
	}
	m, _, err := prsmed.LoadBundle(filepath.Join(o.out, "checkpoint"), dev, prsmed.BundleOptions{})
	return m, err
}

// trainRank is one worker of -nproc: it joins the group the launcher set up, trains its
// share of every batch and returns; rank 0 writes the checkpoints.
func trainRank(ctx context.Context, o options, tc train.Config, dev torch.Device, tok *tokenizer.Tokenizer, d dataSets) error {
	env, err := dist.FromEnv()
	if err != nil {
		return err
	}
	if tc.BatchSize%env.WorldSize != 0 {
		return fmt.Errorf("-batch %d does not split over %d processes", tc.BatchSize, env.WorldSize)
	}
	tc.BatchSize /= env.WorldSize
	backend := dist.Gloo
	if dev.IsCUDA() {
		dev, backend = torch.CUDA(env.LocalRank), dist.NCCL
	}
	g, err := dist.Init(ctx, dist.Config{Env: env, Backend: backend})
	if err != nil {
		return err
	}
	defer g.Close()
	tc.Dist = g
	m, err := buildModel(o, dev, tok)
	if err != nil {
		return err
	}
	defer m.Close()
	if env.Rank == 0 {
		fmt.Printf("model: tiny preset on %s, %d parameters; %d processes × %d samples per step\n", dev, m.Store.NumParams(false), env.WorldSize, tc.BatchSize)
	}
	return trainPhases(ctx, m, o, tc, d)
}

// runPhase trains m on train with cfg, resuming from cfg.OutDir's checkpoint when resume
// is set and there is one.
func runPhase(ctx context.Context, m *prsmed.Model, cfg train.Config, trainSet, val []data.Sample, resume bool) error {
	tr, err := train.New(m, trainSet, val, cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	if resume {
		ok, err := tr.Resume()
		if err != nil {
			return err
		}
		if r := os.Getenv("RANK"); ok && (r == "" || r == "0") { // one process, or rank 0 of -nproc's
			fmt.Fprintln(os.Stderr, "resumed from", filepath.Join(cfg.OutDir, "checkpoint"))
		}
	}
	if err := tr.Run(ctx); err != nil {
		var in *train.Interrupted
		if errors.As(err, &in) && in.LastSaved >= 0 {
			return fmt.Errorf("%w; the checkpoint in %s resumes with -resume", err, filepath.Join(cfg.OutDir, "checkpoint"))
		}
		return err
	}
	return nil
}

// exists reports whether path names a file or folder.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
