// Command segment trains its own head on TinyViT features with BCE + Dice on toy images.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// squares makes n gray images with a bright square at a different place each, and masks.
func squares(n, size int) (imgs, masks []image.Image) {
	for i := 0; i < n; i++ {
		img, mask := image.NewGray(image.Rect(0, 0, size, size)), image.NewGray(image.Rect(0, 0, size, size))
		x0 := (i * 13) % (size / 2)
		for y := size / 4; y < size/4+size/2; y++ {
			for x := x0; x < x0+size/2; x++ {
				img.SetGray(x, y, color.Gray{Y: 200})
				mask.SetGray(x, y, color.Gray{Y: 255})
			}
		}
		imgs, masks = append(imgs, img), append(masks, mask)
	}
	return imgs, masks
}

// train builds TinyViT + a convolutional head and returns the loss of each step.
func train(steps int, seed uint64) (curve []float64, err error) {
	if err := torch.ManualSeed(seed); err != nil {
		return nil, err
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	cfg := tinyvit.Tiny()
	enc, err := tinyvit.New(st.Root().Sub("encoder"), cfg)
	if err != nil {
		return nil, err
	}
	head := nn.Seq(st.Root().Sub("head"),
		nn.Conv2dPart(cfg.NeckDim, 16, 3, nn.ConvConfig{Padding: 1}),
		nn.Use(nn.ReLU),
		nn.Conv2dPart(16, 1, 1, nn.ConvConfig{}))
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: st.Trainable()}}, torch.DefaultAdamW())
	defer opt.Close()
	imgs, masks := squares(4, int(cfg.ImageSize))
	const maskSize = 16
	err = torch.Try(func() {
		for i := 0; i < steps; i++ {
			s := torch.NewScope(torch.CPU)
			ts := s.Train(nil)                                       // BatchNorm and Dropout in training mode
			x, _ := tinyvit.PreprocessBatch(ts, imgs, cfg.ImageSize) // errors only for empty inputs
			y, _ := tinyvit.MaskBatch(ts, masks, maskSize)
			logits := torch.Interpolate(ts, head.Forward(ts, enc.Forward(ts, x)), maskSize, maskSize, torch.Bilinear, false)
			loss := losses.BCE(ts, logits, y, nil).Add(ts, losses.Dice(ts, logits, y))
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			curve = append(curve, loss.Item())
			s.Close()
		}
	})
	return curve, err
}

func main() {
	steps := flag.Int("steps", 20, "training steps")
	flag.Parse()
	curve, err := train(*steps, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loss %.4f → %.4f\n", curve[0], curve[len(curve)-1])
}
