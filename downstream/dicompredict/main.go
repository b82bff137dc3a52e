// Command dicompredict opens a checkpoint with one call, segments and answers a question
// about a DICOM image, and writes the mask as a PNG.
package main

import (
	"context"
	"flag"
	"fmt"
	"image/png"
	"log"
	"os"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

// predict loads the checkpoint folder ckpt and runs it on the DICOM file at path.
func predict(ctx context.Context, ckpt, path, question string) (*prsmed.Prediction, error) {
	m, _, err := prsmed.LoadBundle(ckpt, torch.CPU, prsmed.BundleOptions{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	img, err := imageio.Load(path) // DICOM (windowed to 8 bits), PNG, JPEG, NIfTI, ...
	if err != nil {
		return nil, err
	}
	return m.Predict(ctx, img, question)
}

func main() {
	ckpt := flag.String("checkpoint", "checkpoint", "checkpoint folder (prsmed.SaveBundle)")
	in := flag.String("dicom", "image.dcm", "DICOM file")
	q := flag.String("q", "Where is the abnormality in this image?", "question")
	out := flag.String("mask", "mask.png", "where to write the mask")
	flag.Parse()
	p, err := predict(context.Background(), *ckpt, *in, *q)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, p.Mask); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("answer: %s\nmask: %s\n", p.Answer, *out)
}
