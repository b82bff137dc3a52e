// Command segment answers a question about an image with a trained PRS-Med checkpoint: it
// writes the mask (probabilities as an 8-bit PNG at the image's size) and an overlay, and
// prints the generated answer and its zone.
//
//	go run ./examples/segment -checkpoint runs/tiny/checkpoint -image scan.png \
//	    -question "Where is the tumour?" -out mask.png -overlay overlay.png -device cuda
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

// options are the command's flags.
type options struct {
	ckpt, imagePath, question, out, overlay, tokPath, tinySAM, llavaDir, device *string
	threads                                                                     *int
	med                                                                         *cli.MedicalFlags
}

func newCommand() (*cli.Command, options) {
	c := cli.NewCommand("segment", "segment -checkpoint DIR -image FILE -out MASK.png [-question TEXT] [flags]",
		"Answers a question about one image with a trained checkpoint: writes the mask and, with -overlay, the image with the mask drawn over it, and prints the answer and its zone.")
	var o options
	o.ckpt = c.Checkpoint()
	o.imagePath = c.Flags.String("image", "", "input image: PNG, JPEG, BMP, TIFF, DICOM (.dcm) or NIfTI (.nii, .nii.gz, .hdr/.img)")
	o.med = cli.RegisterMedical(c.Flags)
	o.question = c.Flags.String("question", "Where is the lesion in this image?", "the question")
	o.out = c.Flags.String("out", "", "mask PNG to write (probabilities ×255 at the image's size)")
	o.overlay = c.Flags.String("overlay", "", "overlay PNG to write (optional)")
	o.tokPath = c.Tokenizer("tokenizer.model: must be the bundled one for a checkpoint with manifest.json (default: the bundled one, or the shipped template tokenizer for an older tiny checkpoint)")
	o.tinySAM = c.TinySAM("TinySAM weights, for checkpoints of the paper preset")
	o.llavaDir = c.LLaVA("LLaVA-Med folder, for checkpoints of the paper preset")
	o.device = c.Device()
	o.threads = c.Threads()
	return c, o
}

func main() {
	c, o := newCommand()
	c.Parse(os.Args[1:], "checkpoint", "image", "out")
	c.Main(func(ctx context.Context) error {
		dev, err := cli.Setup(*o.device, *o.threads)
		if err != nil {
			return err
		}
		opts, err := o.med.Options()
		if err != nil {
			return err
		}
		return run(ctx, *o.ckpt, *o.imagePath, opts, *o.question, *o.out, *o.overlay, *o.tokPath, *o.tinySAM, *o.llavaDir, dev)
	})
}

func run(ctx context.Context, ckpt, imagePath string, opts imageio.Options, question, out, overlay, tokPath, tinySAM, llavaDir string, dev torch.Device) error {
	img, src, err := imageio.LoadWith(imagePath, opts)
	if err != nil {
		return err
	}
	// The one loader of every command: a bundle's own tokenizer and hash checks, or an older
	// checkpoint as before.
	m, _, err := prsmed.LoadBundle(ckpt, dev, prsmed.BundleOptions{Tokenizer: tokPath, TinySAM: tinySAM, LLaVAMed: llavaDir})
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
	fmt.Printf("input:  %s\nanswer: %s\nzone:   %s\nmask:   %s\n", src, p.Answer, zone, out)
	return nil
}
