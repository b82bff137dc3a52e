package tinyvit

import (
	"fmt"
	"image"
	"image/color"

	"github.com/prsmed/prsmed-go/torch"
)

// PreprocessBatch is Preprocess for several images (of any sizes): their (B, 3, size,
// size) input, each row bit for bit what Preprocess makes of that image. An empty list, a
// nil or empty image, or a size that is not positive is an error naming it.
func PreprocessBatch(s *torch.Scope, imgs []image.Image, size int64) (*torch.Tensor, error) {
	return batch(s, "image", imgs, size, Preprocess)
}

// MaskTensor turns a mask into a (1, 1, size, size) float32 target on the scope's device:
// 1 where the pixel's gray value (color.GrayModel) is above 127, else 0, resized to
// size×size with nearest neighbour (F.interpolate(mode="nearest")) when it is not that
// size already. A segmentation head trained on the encoder's features compares its output
// with it (see package losses).
func MaskTensor(s *torch.Scope, mask image.Image, size int64) *torch.Tensor {
	b := mask.Bounds()
	w, h := b.Dx(), b.Dy()
	v := make([]float32, w*h)
	if g, ok := mask.(*image.Gray); ok {
		for y := 0; y < h; y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+w]
			for x, p := range row {
				if p > 127 {
					v[y*w+x] = 1
				}
			}
		}
	} else {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if color.GrayModel.Convert(mask.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y > 127 {
					v[y*w+x] = 1
				}
			}
		}
	}
	c := s.NoGrad()
	defer c.Close()
	t := torch.FromSlice(c, v, 1, 1, int64(h), int64(w))
	if int64(h) != size || int64(w) != size {
		t = torch.Interpolate(c, t, size, size, torch.Nearest, false)
	}
	if s.Device() != torch.CPU {
		t = t.ToDevice(c, s.Device())
	}
	return c.Escape(t, s)
}

// MaskBatch is MaskTensor for several masks: their (B, 1, size, size) targets, each row bit
// for bit what MaskTensor makes of that mask. An empty list, a nil or empty mask, or a size
// that is not positive is an error naming it.
func MaskBatch(s *torch.Scope, masks []image.Image, size int64) (*torch.Tensor, error) {
	return batch(s, "mask", masks, size, MaskTensor)
}

// batch concatenates one(s, img, size) of every image after checking the batch (what names
// its items in errors).
func batch(s *torch.Scope, what string, imgs []image.Image, size int64,
	one func(*torch.Scope, image.Image, int64) *torch.Tensor) (out *torch.Tensor, err error) {
	if err := checkBatch(what, imgs, size); err != nil {
		return nil, err
	}
	defer torch.Recover(&err)
	c := s.Child()
	defer c.Close()
	xs := make([]*torch.Tensor, len(imgs))
	for i, img := range imgs {
		xs[i] = one(c, img, size)
	}
	return c.Escape(torch.Cat(c, 0, xs...), s), nil
}

// checkBatch names the first problem of a batch of images.
func checkBatch(what string, imgs []image.Image, size int64) error {
	if len(imgs) == 0 {
		return fmt.Errorf("tinyvit: no %ss", what)
	}
	if size <= 0 {
		return fmt.Errorf("tinyvit: %s size %d is not positive", what, size)
	}
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return fmt.Errorf("tinyvit: %s %d is empty", what, i)
		}
	}
	return nil
}
