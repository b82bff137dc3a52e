package tinyvit_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// A batch of images of any sizes becomes the encoder's input, and a batch of masks the
// targets, in one call each.
func ExamplePreprocessBatch() {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	imgs := []image.Image{image.NewRGBA(image.Rect(0, 0, 80, 60)), image.NewGray(image.Rect(0, 0, 64, 64))}
	x, err := tinyvit.PreprocessBatch(s, imgs, tinyvit.Tiny().ImageSize)
	if err != nil {
		panic(err)
	}
	y, err := tinyvit.MaskBatch(s, imgs, 16)
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Shape(), y.Shape())
	// Output: [2 3 64 64] [2 1 16 16]
}

// A model of your own: the TinyViT encoder with a head built by nn.Seq, trained with the
// library's BCE + Dice on a bright square.
func Example_segmentationHead() {
	if err := torch.ManualSeed(1); err != nil {
		panic(err)
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	cfg := tinyvit.Tiny()
	enc, err := tinyvit.New(st.Root().Sub("encoder"), cfg)
	if err != nil {
		panic(err)
	}
	head := nn.Seq(st.Root().Sub("head"),
		nn.Conv2dPart(cfg.NeckDim, 16, 3, nn.ConvConfig{Padding: 1}),
		nn.Use(nn.ReLU),
		nn.Conv2dPart(16, 1, 1, nn.ConvConfig{}),
	)
	img, mask := image.NewGray(image.Rect(0, 0, 64, 64)), image.NewGray(image.Rect(0, 0, 64, 64))
	for y := 16; y < 48; y++ {
		for x := 8; x < 40; x++ {
			img.SetGray(x, y, color.Gray{Y: 200})
			mask.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: st.Trainable()}}, torch.DefaultAdamW())
	defer opt.Close()
	var first, last float64
	for step := 0; step < 8; step++ {
		s := torch.NewScope(torch.CPU)
		ts := s.Train(nil) // BatchNorm in training mode
		x, _ := tinyvit.PreprocessBatch(ts, []image.Image{img}, cfg.ImageSize)
		target, _ := tinyvit.MaskBatch(ts, []image.Image{mask}, 16)
		logits := torch.Interpolate(ts, head.Forward(ts, enc.Forward(ts, x)), 16, 16, torch.Bilinear, false)
		loss := losses.BCE(ts, logits, target, nil).Add(ts, losses.Dice(ts, logits, target))
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		if last = loss.Item(); step == 0 {
			first = last
		}
		s.Close()
	}
	fmt.Println("loss fell:", last < first)
	// Output: loss fell: true
}
