package prsmed

import (
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// PreprocessBatch makes the SAM and CLIP inputs of images, (B, 3, S, S) and (B, 3, R, R) in
// float32 on the scope's device.
func (m *Model) PreprocessBatch(s *torch.Scope, imgs []image.Image) (sam, clipIn *torch.Tensor, err error) {
	defer torch.Recover(&err)
	if len(imgs) == 0 {
		return nil, nil, fmt.Errorf("prsmed: no images to preprocess")
	}
	var a, b []*torch.Tensor
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, nil, fmt.Errorf("prsmed: image %d is empty", i)
		}
		a = append(a, tinyvit.Preprocess(s, img, m.Config.ImageSize))
		x, err := clip.Preprocess(s, img, m.Config.CLIPPreprocess)
		if err != nil {
			return nil, nil, fmt.Errorf("prsmed: image %d: %w", i, err)
		}
		b = append(b, x)
	}
	return torch.Cat(s, 0, a...), torch.Cat(s, 0, b...), nil
}

// MaskTensor turns a gray mask (foreground > 127) into a (1, 1, M, M) float target,
// resized with nearest neighbour.
func MaskTensor(s *torch.Scope, mask *image.Gray, m int64) *torch.Tensor {
	b := mask.Bounds()
	w, h := b.Dx(), b.Dy()
	v := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask.Pix[(y)*mask.Stride+x] > 127 {
				v[y*w+x] = 1
			}
		}
	}
	t := torch.FromSlice(s, v, 1, 1, int64(h), int64(w))
	if int64(h) != m || int64(w) != m {
		t = torch.Interpolate(s, t, m, m, torch.Nearest, false)
	}
	return t
}
