package prsmed

import (
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// PreprocessBatch makes the SAM and CLIP inputs of images, (B, 3, S, S) and (B, 3, R, R) in
// float32 on the scope's device (tinyvit.PreprocessBatch and clip.PreprocessBatch).
func (m *Model) PreprocessBatch(s *torch.Scope, imgs []image.Image) (sam, clipIn *torch.Tensor, err error) {
	if len(imgs) == 0 {
		return nil, nil, fmt.Errorf("prsmed: no images to preprocess")
	}
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, nil, fmt.Errorf("prsmed: image %d is empty", i)
		}
	}
	if sam, err = tinyvit.PreprocessBatch(s, imgs, m.Config.ImageSize); err != nil {
		return nil, nil, fmt.Errorf("prsmed: %w", err)
	}
	if clipIn, err = clip.PreprocessBatch(s, imgs, m.Config.CLIPPreprocess); err != nil {
		return nil, nil, fmt.Errorf("prsmed: %w", err)
	}
	return sam, clipIn, nil
}

// MaskTensor turns a gray mask (foreground > 127) into a (1, 1, M, M) float target,
// resized with nearest neighbour. It is tinyvit.MaskTensor, kept here for callers of
// earlier versions; tinyvit.MaskBatch makes the targets of a batch.
func MaskTensor(s *torch.Scope, mask *image.Gray, m int64) *torch.Tensor {
	return tinyvit.MaskTensor(s, mask, m)
}
