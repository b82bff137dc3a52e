// Command segment answers a question about an image with a trained PRS-Med checkpoint: it
// writes the mask (probabilities as an 8-bit PNG at the image's size) and an overlay, and
// prints the generated answer and its zone.
//
//	go run ./examples/segment -checkpoint runs/tiny/checkpoint -image scan.png \
//	    -question "Where is the tumour?" -out mask.png -overlay overlay.png
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	ckpt := flag.String("checkpoint", "", "PRS-Med checkpoint folder (config.json, model.safetensors) (required)")
	imagePath := flag.String("image", "", "input image (required)")
	question := flag.String("question", "Where is the lesion in this image?", "the question")
	out := flag.String("out", "mask.png", "mask PNG to write")
	overlay := flag.String("overlay", "", "overlay PNG to write (optional)")
	tokPath := flag.String("tokenizer", "", "tokenizer.model (default: the shipped template tokenizer)")
	tinySAM := flag.String("tinysam", "", "TinySAM weights, for checkpoints of the paper preset")
	llavaDir := flag.String("llava", "", "LLaVA-Med folder, for checkpoints of the paper preset")
	device := flag.String("device", "cpu", "cpu, cuda or cuda:N")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: segment -checkpoint DIR -image FILE [-question TEXT] [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *ckpt == "" || *imagePath == "" {
		fmt.Fprintln(os.Stderr, "segment: -checkpoint and -image are required (see -h)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *ckpt, *imagePath, *question, *out, *overlay, *tokPath, *tinySAM, *llavaDir, *device); err != nil {
		fmt.Fprintln(os.Stderr, "segment:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, ckpt, imagePath, question, out, overlay, tokPath, tinySAM, llavaDir, device string) (err error) {
	defer torch.Recover(&err)
	dev, err := cli.Device(device)
	if err != nil {
		return err
	}
	tok, err := cli.Tokenizer(tokPath)
	if err != nil {
		return err
	}
	img, err := imageio.Load(imagePath)
	if err != nil {
		return err
	}
	m, err := prsmed.Load(ckpt, tok, tinySAM, llavaDir, dev)
	if err != nil {
		return err
	}
	defer m.Close()
	p, err := m.Predict(ctx, img, question)
	if err != nil {
		return err
	}
	if err := cli.WritePNG(out, p.Mask); err != nil {
		return err
	}
	if overlay != "" {
		if err := cli.WritePNG(overlay, cli.Overlay(img, p.Mask, nil)); err != nil {
			return err
		}
	}
	zone := "none named"
	if p.Named {
		zone = p.Zone.String()
	}
	fmt.Printf("answer: %s\nzone:   %s\nmask:   %s\n", p.Answer, zone, out)
	return nil
}
