package tinyvit

import (
	"image"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

// ImageNet normalisation used by the SAM branch.
var (
	Mean = [3]float64{0.485, 0.456, 0.406}
	Std  = [3]float64{0.229, 0.224, 0.225}
)

// Preprocess turns an image into the encoder's (1, 3, size, size) input:
//
//  1. pixels to float32 in [0, 1] (8-bit /255, 16-bit /65535; gray repeated to three
//     channels; alpha dropped), as a (1, 3, H, W) tensor;
//  2. a stretch resize to size×size with bilinear interpolation, align_corners=False and
//     no antialiasing: exactly F.interpolate(x, (size, size), mode="bilinear",
//     align_corners=False) in PyTorch;
//  3. (x − mean) / std per channel with ImageNet's mean and std.
func Preprocess(s *torch.Scope, img image.Image, size int64) *torch.Tensor {
	c := s.NoGrad()
	defer c.Close()
	p, h, w := imageio.RGBFloats(img)
	x := torch.FromSlice(c, p, 1, 3, int64(h), int64(w))
	if x.Size(2) != size || x.Size(3) != size {
		x = torch.Interpolate(c, x, size, size, torch.Bilinear, false)
	}
	mean := torch.FromSlice(c, []float32{float32(Mean[0]), float32(Mean[1]), float32(Mean[2])}, 1, 3, 1, 1)
	std := torch.FromSlice(c, []float32{float32(Std[0]), float32(Std[1]), float32(Std[2])}, 1, 3, 1, 1)
	out := x.Sub(c, mean).Div(c, std)
	if s.Device() != torch.CPU {
		out = out.ToDevice(c, s.Device())
	}
	return c.Escape(out, s)
}
