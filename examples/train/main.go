// Command train trains PRS-Med on a PosMed data root (real or from examples/synthdata):
// stage 0 when -epochs0 asks for it (tiny preset only: the backbone learns to answer), stage 1
// (fusion and decoder), then stage 2 (LoRA, TinyViT, fusion, decoder). It writes a
// checkpoint every epoch and on Ctrl-C, and -resume continues exactly where it stopped.
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
	"os"
	"os/signal"
	"syscall"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/train"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	dataDir := flag.String("data", "", "PosMed data root (required)")
	out := flag.String("out", "", "output folder: checkpoint, log.csv, curves.png (required)")
	preset := flag.String("preset", "tiny", "model preset: tiny or paper")
	tokPath := flag.String("tokenizer", "", "tokenizer.model (default: the shipped template tokenizer; the paper preset needs LLaVA-Med's)")
	tinySAM := flag.String("tinysam", "", "TinySAM weights (tinysam_42.3.pth) for the paper preset")
	llavaDir := flag.String("llava", "", "LLaVA-Med v1.5 folder for the paper preset")
	tc := train.DefaultConfig()
	flag.IntVar(&tc.Stage0Epochs, "epochs0", 0, "stage 0 epochs (tiny preset: the backbone learns to answer first)")
	flag.Float64Var(&tc.Stage0LR, "lr0", 0, "stage 0 peak learning rate (0: -lr)")
	flag.IntVar(&tc.Stage1Epochs, "epochs1", tc.Stage1Epochs, "stage 1 epochs")
	flag.IntVar(&tc.Stage2Epochs, "epochs2", tc.Stage2Epochs, "stage 2 epochs")
	flag.IntVar(&tc.BatchSize, "batch", tc.BatchSize, "batch size")
	flag.Float64Var(&tc.LR, "lr", tc.LR, "peak learning rate")
	flag.Float64Var(&tc.MinLR, "min-lr", tc.MinLR, "cosine floor")
	flag.Uint64Var(&tc.Seed, "seed", tc.Seed, "seed")
	flag.IntVar(&tc.ValSamples, "val-samples", 0, "validation samples per epoch (0: all)")
	resume := flag.Bool("resume", false, "continue from the checkpoint in -out")
	device := flag.String("device", "cpu", "cpu, cuda or cuda:N")
	threads := flag.Int("threads", 0, "intra-op threads (0: libtorch's default)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: train -data DIR -out DIR [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *dataDir == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "train: -data and -out are required (see -h)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tc.OutDir, tc.Progress = *out, os.Stdout
	err := run(ctx, *dataDir, *preset, *tokPath, *tinySAM, *llavaDir, *device, *threads, *resume, tc)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "\ntrain: interrupted; checkpoint saved, continue with -resume")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir, preset, tokPath, tinySAM, llavaDir, device string, threads int, resume bool, tc train.Config) (err error) {
	defer torch.Recover(&err)
	if threads > 0 {
		torch.SetNumThreads(threads)
	}
	dev, err := cli.Device(device)
	if err != nil {
		return err
	}
	ds, err := data.Open(dataDir)
	if err != nil {
		return err
	}
	trainSet, skipped, err := data.Validate(ds.Samples("train"))
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(os.Stderr, "train: skipping %v\n", s)
	}
	val, _, err := data.Validate(ds.Samples("val"))
	if err != nil {
		return err
	}
	tok, err := cli.Tokenizer(tokPath)
	if err != nil {
		return err
	}
	var cfg prsmed.Config
	switch preset {
	case "tiny":
		cfg = prsmed.Tiny(int64(tok.VocabSize()))
	case "paper":
		if tokPath == "" || tinySAM == "" || llavaDir == "" {
			return errors.New("the paper preset needs -tokenizer, -tinysam and -llava")
		}
		cfg = prsmed.Paper()
	default:
		return fmt.Errorf("unknown preset %q (tiny or paper)", preset)
	}
	if err := torch.ManualSeed(tc.Seed); err != nil {
		return err
	}
	m, err := prsmed.New(cfg, tok, dev)
	if err != nil {
		return err
	}
	defer m.Close()
	if preset == "paper" {
		if err := m.LoadTinySAM(tinySAM); err != nil {
			return err
		}
		if err := m.LoadLLaVAMed(llavaDir); err != nil {
			return err
		}
	}
	tr, err := train.New(m, trainSet, val, tc)
	if err != nil {
		return err
	}
	defer tr.Close()
	if resume {
		ok, err := tr.Resume()
		if err != nil {
			return err
		}
		if ok {
			fmt.Printf("resumed at epoch %d\n", tr.Epoch()+1)
		} else {
			fmt.Fprintln(os.Stderr, "train: no checkpoint to resume from; starting fresh")
		}
	}
	fmt.Printf("training %s preset: %d train and %d val samples, %d parameters (%d trainable in stage 2)\n",
		cfg.Name, len(trainSet), len(val), m.Store.NumParams(false), m.TrainableCount(prsmed.Stage2))
	return tr.Run(ctx)
}
