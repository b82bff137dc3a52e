package prsmed

import (
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// FusionConfig sizes the fusion module.
type FusionConfig struct {
	Dim        int64 `json:"dim"`         // width of both streams after projection (256)
	TextHidden int64 `json:"text_hidden"` // the text projection's middle width (512)
	Heads      int64 `json:"heads"`       // cross-attention heads (8)
	FFN        int64 `json:"ffn"`         // feed-forward width (512)
}

// Fusion lets the image tokens read the language model's hidden states:
//
//	t = ReLU(LN(Linear(ReLU(LN(Linear(text))))))          text → Dim (prompt_projection)
//	q = LN(flatten(z_img))                                 image tokens (image_norm)
//	a = LN(q + CrossAttn(q, t, t, key padding))            (attn, norm1)
//	f = LN(a + Linear(ReLU(Linear(a))))                    (ffn.fc1, ffn.fc2, norm2)
//	out = unflatten(f) + z_img                             skip connection
type Fusion struct {
	TextProj1  *nn.Linear
	TextNorm1  *nn.LayerNorm
	TextProj2  *nn.Linear
	TextNorm2  *nn.LayerNorm
	ImageNorm  *nn.LayerNorm
	Attn       *nn.MultiheadAttention
	Norm1      *nn.LayerNorm
	FC1, FC2   *nn.Linear
	Norm2      *nn.LayerNorm
	imageWidth int64
}

// NewFusion registers the fusion module under p for image features of imageWidth channels
// and text hidden states of textWidth.
func NewFusion(p nn.Path, imageWidth, textWidth int64, c FusionConfig) *Fusion {
	pp := p.Sub("prompt_projection")
	return &Fusion{
		TextProj1:  nn.NewLinear(pp.Index(0), textWidth, c.TextHidden, nn.LinearConfig{Bias: true}),
		TextNorm1:  nn.NewLayerNorm(pp.Index(1), 1e-5, c.TextHidden),
		TextProj2:  nn.NewLinear(pp.Index(3), c.TextHidden, c.Dim, nn.LinearConfig{Bias: true}),
		TextNorm2:  nn.NewLayerNorm(pp.Index(4), 1e-5, c.Dim),
		ImageNorm:  nn.NewLayerNorm(p.Sub("image_norm"), 1e-5, imageWidth),
		Attn:       nn.NewMultiheadAttention(p.Sub("attn"), c.Dim, c.Heads, true),
		Norm1:      nn.NewLayerNorm(p.Sub("norm1"), 1e-5, c.Dim),
		FC1:        nn.NewLinear(p.Sub("ffn").Sub("fc1"), c.Dim, c.FFN, nn.LinearConfig{Bias: true}),
		FC2:        nn.NewLinear(p.Sub("ffn").Sub("fc2"), c.FFN, c.Dim, nn.LinearConfig{Bias: true}),
		Norm2:      nn.NewLayerNorm(p.Sub("norm2"), 1e-5, c.Dim),
		imageWidth: imageWidth,
	}
}

// Forward fuses image features zImg (B, C, H, W) with text hidden states (B, L, T); keep
// (B, L) is true / non-zero at the text positions to attend (the real prompt tokens), or
// nil for all. It returns (B, C, H, W).
func (f *Fusion) Forward(s *torch.Scope, zImg, text, keep *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	sh := zImg.Shape()
	b, ch, h, w := sh[0], sh[1], sh[2], sh[3]
	t := f.TextNorm1.Forward(c, f.TextProj1.Forward(c, text.ToDType(c, zImg.DType()))).Relu(c)
	t = f.TextNorm2.Forward(c, f.TextProj2.Forward(c, t)).Relu(c)
	q := f.ImageNorm.Forward(c, zImg.View(c, b, ch, h*w).Transpose(c, 1, 2))
	var pad *torch.Tensor
	if keep != nil {
		pad = keep.EqScalar(c, 0)
	}
	a := f.Attn.Forward3(c, q, t, t, pad, nil)
	a = f.Norm1.Forward(c, a.Add(c, q))
	ff := f.FC2.Forward(c, f.FC1.Forward(c, a).Relu(c))
	a = f.Norm2.Forward(c, a.Add(c, ff))
	out := a.Transpose(c, 1, 2).Reshape(c, b, ch, h, w).Add(c, zImg)
	return c.Escape(out)
}
