package prsmed_test

import (
	"context"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/torch"
)

// Build the tiny model and ask it where the lesion is. (Untrained here, so the answer is
// noise; train it with package prsmed/train, or load a checkpoint with prsmed.Load.)
func ExampleModel_Predict() {
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		panic(err)
	}
	m, err := prsmed.New(prsmed.Tiny(int64(tok.VocabSize())), tok, torch.CPU)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	img := image.NewGray(image.Rect(0, 0, 80, 60)) // any size: the mask comes back at it
	p, err := m.Predict(context.Background(), img, "Where is the tumour?")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Mask.Bounds(), len(p.Prob))
	// Output: (0,0)-(80,60) 4800
}
