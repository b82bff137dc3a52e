package data_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

// Write a small synthetic PosMed root, open it, and walk one epoch of
// training batches.
func Example() {
	root, err := os.MkdirTemp("", "posmed-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	cfg := synth.Config{N: 20, Size: 64, Seed: 1, Modalities: []string{"polyp_endoscopy", "skin_rgbimage"}}
	if err := synth.Generate(root, cfg); err != nil {
		log.Fatal(err)
	}
	ds, err := data.Open(root)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range ds.Modalities() {
		c := ds.Counts()[m]
		fmt.Printf("%s: train %d, val %d, test %d\n", m, c["train"], c["val"], c["test"])
	}

	train, skipped, err := data.Validate(ds.Samples(data.SplitTrain))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("train samples:", len(train), "skipped:", len(skipped))

	sampler, err := data.NewSampler(len(train), data.SamplerConfig{Seed: 7, Shuffle: true, BatchSize: 8, DropLast: true})
	if err != nil {
		log.Fatal(err)
	}
	for step, batch := range sampler.Batches(0) {
		for _, i := range batch {
			img, mask, err := data.LoadSample(train[i])
			if errors.Is(err, data.ErrEmptyMask) {
				continue // cannot happen after Validate; shown for loops that skip it
			}
			if err != nil {
				log.Fatal(err)
			}
			if z, _ := zones.FromMask(mask); z != train[i].Zone {
				log.Fatalf("%v: mask zone %v, position %v", train[i], z, train[i].Zone)
			}
			_ = img // turned into tensors by the model code
		}
		fmt.Printf("step %d: %d samples\n", step, len(batch))
	}
	// Output:
	// polyp_endoscopy: train 14, val 3, test 3
	// skin_rgbimage: train 14, val 3, test 3
	// train samples: 28 skipped: 0
	// step 0: 8 samples
	// step 1: 8 samples
	// step 2: 8 samples
}

// Open a root in the official layout (CSVs in annotation_v3/, ISIC names
// for the skin images) and list the test rows with their zones.
func ExampleOpen() {
	ds, err := data.Open("../../testdata/posmed/official")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range ds.Samples(data.SplitTest) {
		fmt.Printf("%s | %s | %v\n", s.Modality, s.Position, s.Zone)
	}
	// Output:
	// brain_tumors_ct_scan | The tumor is in position center and near the center. | center
	// skin_rgbimage | Position top right contains the tumor and which is not near the center. | top right
}
