package prsmed_test

import (
	"context"
	"fmt"
	"os"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

// Open a checkpoint folder with one call and run it on a DICOM file. (The checkpoint here
// is an untrained tiny model saved a moment before.)
func ExampleLoadBundle() {
	dir, _ := os.MkdirTemp("", "checkpoint")
	defer os.RemoveAll(dir)
	tok, _ := assets.TemplateTokenizer()
	src, err := prsmed.New(prsmed.Tiny(int64(tok.VocabSize())), tok, torch.CPU)
	if err != nil {
		panic(err)
	}
	if err := prsmed.SaveBundle(src, dir, assets.TemplateModel(), prsmed.BaseWeights{}); err != nil {
		panic(err)
	}
	src.Close()

	m, manifest, err := prsmed.LoadBundle(dir, torch.CPU, prsmed.BundleOptions{})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	img, err := imageio.Load("../testdata/medical/ct_implicit.dcm") // DICOM, windowed to 8 bits
	if err != nil {
		panic(err)
	}
	p, err := m.Predict(context.Background(), img, "Where is the abnormality in this image?")
	if err != nil {
		panic(err)
	}
	fmt.Println(manifest.Preset, img.Bounds(), p.Mask.Bounds())
	// Output: tiny (0,0)-(48,40) (0,0)-(48,40)
}
