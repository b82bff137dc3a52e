// Package tinyvit is the image encoder of PRS-Med's SAM branch: TinySAM's TinyViT
// ("vit_t"), built from package nn with the state-dict names of TinySAM's
// tiny_vit_sam.py, so that the released tinysam_42.3.pth loads as it is.
//
// Data flow for an S×S image (S divisible by 16): patch_embed (two stride-2 Conv2d_BN) →
// S/4 grid; layers.0 (MBConv blocks) and a stride-2 PatchMerging → S/8 tokens;
// layers.1 and layers.2 (windowed-attention TinyViT blocks), the first merging stride 2
// → S/16 and the last stride 1; layers.3; then the neck (1×1 conv, LayerNorm2d, 3×3 conv,
// LayerNorm2d) → (B, 256, S/16, S/16).
package tinyvit

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config describes a TinyViT; VitT gives TinySAM's vit_t.
type Config struct {
	ImageSize    int64   `json:"image_size"`    // S, a multiple of 16
	InChans      int64   `json:"in_chans"`      // 3
	EmbedDims    []int64 `json:"embed_dims"`    // per stage
	Depths       []int64 `json:"depths"`        // blocks per stage
	NumHeads     []int64 `json:"num_heads"`     // per stage (stage 0 is convolutional)
	WindowSizes  []int64 `json:"window_sizes"`  // per stage
	MLPRatio     float64 `json:"mlp_ratio"`     // 4
	MBConvExpand float64 `json:"mbconv_expand"` // 4
	LocalConv    int64   `json:"local_conv"`    // 3
	NeckDim      int64   `json:"neck_dim"`      // 256
	NumClasses   int64   `json:"num_classes"`   // the unused classifier head (1000 in the checkpoint; 0 for none)
}

// VitT is TinySAM's vit_t at 1024 px: dims 64/128/160/320, depths 2/2/6/2, heads
// 2/4/5/10, windows 7/7/14/7, MLP ratio 4, MBConv expansion 4, local conv 3, neck 256.
func VitT() Config {
	return Config{
		ImageSize: 1024, InChans: 3,
		EmbedDims: []int64{64, 128, 160, 320}, Depths: []int64{2, 2, 6, 2},
		NumHeads: []int64{2, 4, 5, 10}, WindowSizes: []int64{7, 7, 14, 7},
		MLPRatio: 4, MBConvExpand: 4, LocalConv: 3, NeckDim: 256, NumClasses: 1000,
	}
}

// Grid is the side of the output feature map, S/16.
func (c Config) Grid() int64 { return c.ImageSize / 16 }

// Validate reports the first inconsistency in the config.
func (c Config) Validate() error {
	n := len(c.EmbedDims)
	switch {
	case c.ImageSize <= 0 || c.ImageSize%16 != 0:
		return fmt.Errorf("tinyvit: image size %d is not a positive multiple of 16", c.ImageSize)
	case n != 4:
		return fmt.Errorf("tinyvit: %d stages; the encoder has 4 (its output stride is 16)", n)
	case len(c.Depths) != n || len(c.NumHeads) != n || len(c.WindowSizes) != n:
		return fmt.Errorf("tinyvit: embed_dims, depths, num_heads and window_sizes need %d entries each", n)
	case c.InChans <= 0 || c.NeckDim <= 0 || c.MLPRatio <= 0 || c.MBConvExpand <= 0 || c.LocalConv <= 0:
		return fmt.Errorf("tinyvit: in_chans, neck_dim, mlp_ratio, mbconv_expand and local_conv must be positive")
	}
	for i := 1; i < n; i++ {
		if c.NumHeads[i] <= 0 || c.EmbedDims[i]%c.NumHeads[i] != 0 {
			return fmt.Errorf("tinyvit: stage %d: dim %d is not divisible by %d heads", i, c.EmbedDims[i], c.NumHeads[i])
		}
		if c.WindowSizes[i] <= 0 {
			return fmt.Errorf("tinyvit: stage %d: window size must be positive", i)
		}
	}
	return nil
}

// LoadConfig reads a JSON config; "vit_t" (not a file) gives VitT.
func LoadConfig(nameOrPath string) (Config, error) {
	if nameOrPath == "vit_t" || nameOrPath == "" {
		return VitT(), nil
	}
	raw, err := os.ReadFile(nameOrPath)
	if err != nil {
		return Config{}, err
	}
	c := VitT()
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("tinyvit: config %s: %v", nameOrPath, err)
	}
	return c, c.Validate()
}

// Tiny is a small TinyViT for tests and examples (the encoder of prsmed.Tiny): 64 px, dims
// 16/24/32/48, one block per stage, heads 1/2/2/3, windows 4, MLP ratio 2, MBConv
// expansion 2, neck 32, no classifier: its output is (B, 32, 4, 4).
func Tiny() Config {
	return Config{ImageSize: 64, InChans: 3, EmbedDims: []int64{16, 24, 32, 48}, Depths: []int64{1, 1, 1, 1},
		NumHeads: []int64{1, 2, 2, 3}, WindowSizes: []int64{4, 4, 4, 4}, MLPRatio: 2, MBConvExpand: 2, LocalConv: 3,
		NeckDim: 32}
}
