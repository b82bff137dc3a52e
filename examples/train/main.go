// Command train trains PRS-Med on a PosMed data root (real or from examples/synthdata):
// stage 0 (tiny preset only: the backbone learns to answer), stage 1 (fusion and decoder),
// then stage 2 (LoRA, TinyViT, fusion, decoder). Worker goroutines load and preprocess the
// samples ahead of each step; unreadable samples are skipped and reported (-strict stops
// instead). It writes checkpoint/ every epoch, after every validation and on Ctrl-C, best/
// at the best validation mDice, log.csv, validation.csv and curves.png, and -resume
// continues exactly where it stopped.
//
// Data-parallel training: -nproc N starts N worker processes of this command on this
// machine (one per GPU with -device cuda, or N CPU processes), forwards Ctrl-C to them and
// stops them all when one fails. A launcher of its own (torchrun, Slurm, Kubernetes) sets
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT instead; the processes join
// through Gloo on the CPU or NCCL on CUDA (LOCAL_RANK picks cuda:LOCAL_RANK). -batch is
// per process; rank 0 alone writes -out. -sync-bn synchronises TinyViT's BatchNorms
// across the processes; -resume with another number of processes keeps the global batch.
//
// The preset sets every default (-preset tiny trains as the quickstart does); flags
// override it, and -config FILE.json trains any model configuration (prsmed.Config).
//
//	go run ./examples/train -data posmed -out runs/tiny
//	go run ./examples/train -preset paper -data PosMed -out runs/paper \
//	    -tokenizer llava-med/tokenizer.model -tinysam tinysam_42.3.pth -llava llava-med -device cuda
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// options are the flags that are not training settings.
type options struct {
	data, out, preset, config string
	tokenizer, tinySAM, llava string
	device, dtype, autocast   string
	threads                   int
	resume                    bool
	nproc                     int
	distTimeout               time.Duration
}

// parse reads the flags over tc, which holds the preset's settings.
func parse(args []string, tc *train.Config, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "PosMed data root (required)")
	fs.StringVar(&o.out, "out", "", "output folder: checkpoint/, best/, log.csv, validation.csv, curves.png (required)")
	fs.StringVar(&o.preset, "preset", "tiny", "model and training preset: tiny or paper (the defaults below are tiny's)")
	fs.StringVar(&o.config, "config", "", "model configuration FILE.json (a prsmed.Config) to train instead of the preset's model")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer.model (default: the shipped template tokenizer; the paper preset needs LLaVA-Med's)")
	fs.StringVar(&o.tinySAM, "tinysam", "", "TinySAM weights (tinysam_42.3.pth) for the paper preset")
	fs.StringVar(&o.llava, "llava", "", "LLaVA-Med v1.5 folder for the paper preset")
	fs.StringVar(&o.device, "device", "cpu", "cpu, cuda or cuda:N")
	fs.IntVar(&o.threads, "threads", 0, cli.TrainingThreadsHelp)
	fs.BoolVar(&o.resume, "resume", false, "continue from the checkpoint in -out")
	fs.IntVar(&o.nproc, "nproc", 0, "start N local data-parallel worker processes (one per GPU with -device cuda); -batch is per worker")
	fs.BoolVar(&tc.SyncBN, "sync-bn", tc.SyncBN, "data-parallel runs: normalise TinyViT's BatchNorms with every worker's batch together (SyncBatchNorm)")
	fs.DurationVar(&o.distTimeout, "dist-timeout", dist.DefaultTimeout, "data-parallel runs: the bound on the rendezvous and on every collective")
	fs.IntVar(&tc.Workers, "workers", tc.Workers, "goroutines loading and preprocessing samples (0: one per CPU)")
	fs.Uint64Var(&tc.Seed, "seed", tc.Seed, "seed of the initialisation, the data order and the flips")
	fs.IntVar(&tc.Stage0Epochs, "epochs0", tc.Stage0Epochs, "stage 0 epochs (models whose backbone trains from scratch)")
	fs.IntVar(&tc.Stage1Epochs, "epochs1", tc.Stage1Epochs, "stage 1 epochs")
	fs.IntVar(&tc.Stage2Epochs, "epochs2", tc.Stage2Epochs, "stage 2 epochs")
	fs.IntVar(&tc.Stage1MinSteps, "min-steps1", tc.Stage1MinSteps, "lengthen stage 1 to at least this many optimisation steps, in whole epochs (0, or -epochs1 given without it: -epochs1 exactly)")
	fs.IntVar(&tc.Stage2MinSteps, "min-steps2", tc.Stage2MinSteps, "lengthen stage 2 to at least this many optimisation steps, in whole epochs (0, or -epochs2 given without it: -epochs2 exactly)")
	fs.IntVar(&tc.BatchSize, "batch", tc.BatchSize, "samples per forward pass")
	fs.IntVar(&tc.Accum, "accum", tc.Accum, "micro-batches accumulated per optimisation step")
	fs.Float64Var(&tc.LR, "lr", tc.LR, "peak learning rate of stages 1 and 2")
	fs.Float64Var(&tc.Stage0LR, "lr0", tc.Stage0LR, "peak learning rate of stage 0 (0: -lr)")
	fs.Float64Var(&tc.MinLR, "min-lr", tc.MinLR, "cosine floor")
	fs.IntVar(&tc.WarmupSteps, "warmup", tc.WarmupSteps, "linear warm-up steps at the start of each stage")
	fs.Float64Var(&tc.ClipNorm, "clip", tc.ClipNorm, "gradient-norm clip (0: none)")
	fs.BoolVar(&tc.Flip, "flip", tc.Flip, "mirror samples (with their answers) in stages 1 and 2")
	fs.BoolVar(&tc.Stage2FreezeLoRA, "freeze-lora2", tc.Stage2FreezeLoRA, "keep the language model's LoRA adapters frozen in stage 2 (the answers stay those stage 2 starts from; false: the paper's stage 2, which trains them)")
	fs.IntVar(&tc.ValSamples, "val-samples", tc.ValSamples, "validation samples (0: all)")
	fs.IntVar(&tc.ValEvery, "val-every", tc.ValEvery, "validate every N epochs (and at the end of each stage)")
	fs.IntVar(&tc.ValEverySteps, "val-every-steps", tc.ValEverySteps, "also validate and save every N steps (0: never)")
	fs.IntVar(&tc.KeepLast, "keep-last", tc.KeepLast, "also keep the last N checkpoints under checkpoints/")
	fs.Func("cache-mb", fmt.Sprintf("cache of preprocessed samples in MiB (0: none) (default %d)", tc.CacheBytes>>20), func(v string) error {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || mb < 0 {
			return errors.New("want a size in MiB")
		}
		tc.CacheBytes = mb << 20
		return nil
	})
	fs.BoolVar(&tc.Strict, "strict", tc.Strict, "stop at the first unreadable sample instead of skipping it")
	fs.BoolVar(&tc.GradCheckpoint, "grad-checkpoint", tc.GradCheckpoint, "recompute the language model's layers in the backward pass (less memory)")
	fs.StringVar(&o.autocast, "autocast", "", "train under autocast to bfloat16 or float16 (empty: off; the paper's recipe on CUDA is bfloat16)")
	fs.StringVar(&o.dtype, "dtype", "float32", "parameter dtype: float32, bfloat16 or float16 (with -autocast keep float32: master weights)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: train -data DIR -out DIR [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	exactEpochs(fs, tc)
	return o, nil
}

// exactEpochs drops the preset's minimum steps of a stage whose epochs the command line
// sets while leaving its -min-steps alone: -epochs1 3 then means 3 epochs.
func exactEpochs(fs *flag.FlagSet, tc *train.Config) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["epochs1"] && !set["min-steps1"] {
		tc.Stage1MinSteps = 0
	}
	if set["epochs2"] && !set["min-steps2"] {
		tc.Stage2MinSteps = 0
	}
}

func main() { os.Exit(command(os.Args[1:], os.Stderr)) }

// command is the whole program; it returns the exit status (cli.RunTool's: 0 done, 1
// failed, 2 bad usage, 130 interrupted; with -nproc, the workers' status).
func command(args []string, stderr io.Writer) int {
	var o options
	var tc train.Config
	return cli.RunTool("train", stderr, func(help io.Writer) (err error) {
		o, tc, err = parseAll(args, help)
		return err
	}, func(ctx context.Context) (int, error) {
		if o.nproc > 0 && os.Getenv("RANK") == "" {
			exe, err := os.Executable()
			if err != nil {
				return cli.ExitFailed, err
			}
			return cli.Launch("train", exe, cli.WithoutNproc(args), o.nproc, cli.StopGrace)
		}
		tc.OutDir, tc.Progress, tc.Bar = o.out, stderr, isTerminal(os.Stderr)
		err := run(ctx, o, tc)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "\n"+interruptReport(err))
			return cli.ExitInterrupted, nil
		}
		return cli.ExitOK, err
	})
}

// parseAll parses args over the tiny preset's settings, then, when -preset names another
// one, again over that preset's.
func parseAll(args []string, help io.Writer) (options, train.Config, error) {
	tc, _ := train.Preset("tiny")
	o, err := parse(args, &tc, help)
	if err == nil && o.preset != "tiny" {
		if tc, err = train.Preset(o.preset); err == nil {
			o, err = parse(args, &tc, io.Discard)
		}
	}
	if err == nil && (o.data == "" || o.out == "") {
		err = errors.New("-data and -out are required (see -h)")
	}
	return o, tc, err
}

// interruptReport says what an interrupted run left on disk: the checkpoint saved at the
// interruption, the save's failure, or (interrupted during validation, or before training
// started) that nothing was saved since the last checkpoint.
func interruptReport(err error) string {
	var in *train.Interrupted
	if !errors.As(err, &in) {
		return "train: interrupted before training started; nothing saved"
	}
	if in.LastSaved >= 0 {
		return in.Error() + "; continue with -resume"
	}
	return in.Error()
}

// distributed reports whether a launcher set torchrun's variables.
func distributed() bool { return os.Getenv("RANK") != "" || os.Getenv("WORLD_SIZE") != "" }

// isTerminal reports whether f is a terminal (the progress bar redraws itself there).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// modelConfig is the configuration to train: -config's file, or the preset's model.
func modelConfig(o options, vocab int) (prsmed.Config, error) {
	if o.config != "" {
		return prsmed.LoadConfig(o.config)
	}
	switch o.preset {
	case "tiny":
		return prsmed.Tiny(int64(vocab)), nil
	case "paper":
		if o.tokenizer == "" || o.tinySAM == "" || o.llava == "" {
			return prsmed.Config{}, errors.New("the paper preset needs -tokenizer, -tinysam and -llava")
		}
		return prsmed.PaperFrom(o.llava)
	}
	return prsmed.Config{}, fmt.Errorf("unknown preset %q (tiny or paper)", o.preset)
}

func run(ctx context.Context, o options, tc train.Config) (err error) {
	defer torch.Recover(&err)
	if err := cli.SetUpTraining(o.threads); err != nil {
		return err
	}
	dev, err := torch.ParseDevice(o.device)
	if err != nil {
		return err
	}
	rank0 := true
	if distributed() {
		// Launched by -nproc, torchrun or a scheduler: join the group (Gloo on the CPU,
		// NCCL on CUDA, where LOCAL_RANK picks the GPU).
		env, err := dist.FromEnv()
		if err != nil {
			return err
		}
		backend := dist.Gloo
		if dev.IsCUDA() {
			dev, backend = torch.CUDA(env.LocalRank), dist.NCCL
		}
		g, err := dist.Init(ctx, dist.Config{Env: env, Backend: backend, Timeout: o.distTimeout})
		if err != nil {
			return err
		}
		defer g.Close()
		tc.Dist, rank0 = g, env.Rank == 0
	}
	ds, err := data.Open(o.data)
	if err != nil {
		return err
	}
	// Training samples are checked as the pipeline reads them; the validation set is
	// checked up front (it is read every validation).
	trainSet := ds.Samples("train")
	val, skipped, err := data.Validate(ds.Samples("val"))
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(os.Stderr, "train: validation set: skipping %v\n", s.Reason)
	}
	tok, err := cli.Tokenizer(o.tokenizer)
	if err != nil {
		return err
	}
	cfg, err := modelConfig(o, tok.VocabSize())
	if err != nil {
		return err
	}
	if err := torch.ManualSeed(tc.Seed); err != nil {
		return err
	}
	m, err := prsmed.New(cfg, tok, dev)
	if err != nil {
		return err
	}
	defer m.Close()
	if o.tinySAM != "" {
		if err := m.LoadTinySAM(o.tinySAM); err != nil {
			return err
		}
	}
	if o.llava != "" {
		if err := m.LoadLLaVAMed(o.llava); err != nil {
			return err
		}
	}
	if o.dtype != "float32" {
		dt, err := torch.ParseDType(o.dtype)
		if err != nil {
			return fmt.Errorf("-dtype: %w", err)
		}
		if err := m.Store.To(dev, dt); err != nil {
			return err
		}
	}
	if o.autocast != "" {
		if tc.Autocast, err = torch.ParseDType(o.autocast); err != nil {
			return fmt.Errorf("-autocast: %w", err)
		}
	}
	// Checkpoints carry their tokenizer and name their base weights (prsmed.LoadBundle).
	if o.tokenizer == "" {
		tc.TokenizerModel = assets.TemplateModel()
	} else if tc.TokenizerModel, err = os.ReadFile(o.tokenizer); err != nil {
		return err
	}
	tc.Base = prsmed.BaseWeights{TinySAM: o.tinySAM, LLaVAMed: o.llava}
	tr, err := train.New(m, trainSet, val, tc)
	if err != nil {
		return err
	}
	defer tr.Close()
	if o.resume {
		ok, err := tr.Resume()
		if err != nil {
			return err
		}
		if ok && rank0 {
			fmt.Fprintf(os.Stderr, "resumed at epoch %d\n", tr.Epoch()+1)
		} else if !ok && rank0 {
			fmt.Fprintln(os.Stderr, "train: no checkpoint to resume from; starting fresh")
		}
	}
	if rank0 {
		fmt.Fprintf(os.Stderr, "training %s model (%s preset settings) on %s: %d train and %d val samples, %d parameters (%d trainable in stage 2)\n",
			cfg.Name, o.preset, dev, len(trainSet), len(val), m.Store.NumParams(false), tr.TrainableCount(prsmed.Stage2))
		if tr.Cfg.Stage1Epochs != tc.Stage1Epochs || tr.Cfg.Stage2Epochs != tc.Stage2Epochs {
			fmt.Fprintf(os.Stderr, "stages 1 and 2 run %d and %d epochs (lengthened to at least %d and %d optimisation steps)\n",
				tr.Cfg.Stage1Epochs, tr.Cfg.Stage2Epochs, tc.Stage1MinSteps, tc.Stage2MinSteps)
		}
		if tc.Dist != nil {
			fmt.Fprintf(os.Stderr, "data-parallel over %d processes (%s): %d samples per step\n", tc.Dist.World(), tc.Dist.Backend(), tc.BatchSize*max(tc.Accum, 1)*tc.Dist.World())
		}
	}
	if err := tr.Run(ctx); err != nil {
		return err
	}
	if b := tr.Best(); b != nil && rank0 {
		ref := ""
		if r := b.Referring; r != nil {
			ref = fmt.Sprintf(", referring accuracy %.1f%%, masks alike %.2f", 100*r.Accuracy, r.Alike)
		}
		fmt.Printf("best validation mDice %.4f (zone accuracy %.1f%%%s) at epoch %d step %d: %s/best\n",
			b.Summary.Overall.MeanDice, 100*b.Summary.Overall.ZoneAccuracy, ref, b.Epoch, b.Step, o.out)
	}
	return nil
}
