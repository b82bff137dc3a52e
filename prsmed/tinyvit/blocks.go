package tinyvit

import (
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Conv2dBN is TinyViT's Conv2d_BN: a bias-free Conv2d (`.c`) then BatchNorm2d (`.bn`).
type Conv2dBN struct {
	C  *nn.Conv2d
	BN *nn.BatchNorm2d
}

// NewConv2dBN registers <p>.c.weight and <p>.bn.* (BN weight set to bnWeight, as
// TinyViT's bn_weight_init).
func NewConv2dBN(p nn.Path, in, out, k, stride, pad, groups int64, bnWeight float64) *Conv2dBN {
	c := nn.NewConv2d(p.Sub("c"), in, out, k, nn.ConvConfig{Stride: stride, Padding: pad, Groups: groups, NoBias: true})
	bn := nn.NewBatchNorm2d(p.Sub("bn"), out)
	bn.Weight.Fill(bnWeight)
	return &Conv2dBN{C: c, BN: bn}
}

// Forward is bn(c(x)); the convolution's output is freed once normalised (autograd keeps
// what it saved), which keeps the peak memory of the 1024-pixel stages down.
func (l *Conv2dBN) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := l.C.Forward(s, x)
	y := l.BN.Forward(s, c)
	c.Free()
	return y
}

// gelu applies GELU and frees its input.
func gelu(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	y := x.Gelu(s)
	x.Free()
	return y
}

// PatchEmbed is two stride-2 Conv2d_BN with a GELU between (`patch_embed.seq.0`, `.seq.2`).
type PatchEmbed struct {
	Conv1, Conv2 *Conv2dBN
}

func newPatchEmbed(p nn.Path, in, dim int64) *PatchEmbed {
	seq := p.Sub("seq")
	return &PatchEmbed{
		Conv1: NewConv2dBN(seq.Index(0), in, dim/2, 3, 2, 1, 1, 1),
		Conv2: NewConv2dBN(seq.Index(2), dim/2, dim, 3, 2, 1, 1, 1),
	}
}

// Forward maps (B, C, S, S) to (B, dim, S/4, S/4).
func (l *PatchEmbed) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	return c.Escape(l.Conv2.Forward(c, gelu(c, l.Conv1.Forward(c, x))))
}

// MBConv is the inverted-residual block of stage 0: 1×1 expand, 3×3 depthwise, 1×1
// project (BN weight initialised to 0), residual add, GELU.
type MBConv struct {
	Conv1, Conv2, Conv3 *Conv2dBN
}

func newMBConv(p nn.Path, dim int64, expand float64) *MBConv {
	hidden := int64(float64(dim) * expand)
	return &MBConv{
		Conv1: NewConv2dBN(p.Sub("conv1"), dim, hidden, 1, 1, 0, 1, 1),
		Conv2: NewConv2dBN(p.Sub("conv2"), hidden, hidden, 3, 1, 1, hidden, 1),
		Conv3: NewConv2dBN(p.Sub("conv3"), hidden, dim, 1, 1, 0, 1, 0),
	}
}

// Forward keeps the shape (B, dim, H, W).
func (l *MBConv) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child() // intermediates are freed on return; autograd keeps what it saved
	defer c.Close()
	h := gelu(c, l.Conv1.Forward(c, x))
	h2 := gelu(c, l.Conv2.Forward(c, h))
	h.Free()
	h3 := l.Conv3.Forward(c, h2)
	h2.Free()
	return c.Escape(gelu(c, h3.Add(c, x)))
}

// PatchMerging changes the width (1×1), downsamples with a depthwise 3×3 of the given
// stride, and mixes (1×1); its output is tokens (B, H'·W', out).
type PatchMerging struct {
	Conv1, Conv2, Conv3 *Conv2dBN
}

func newPatchMerging(p nn.Path, dim, out, stride int64) *PatchMerging {
	return &PatchMerging{
		Conv1: NewConv2dBN(p.Sub("conv1"), dim, out, 1, 1, 0, 1, 1),
		Conv2: NewConv2dBN(p.Sub("conv2"), out, out, 3, stride, 1, out, 1),
		Conv3: NewConv2dBN(p.Sub("conv3"), out, out, 1, 1, 0, 1, 1),
	}
}

// Forward takes a map (B, C, H, W) and returns tokens (B, H'·W', out).
func (l *PatchMerging) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	h := gelu(c, l.Conv1.Forward(c, x))
	h2 := gelu(c, l.Conv2.Forward(c, h))
	h.Free()
	h = l.Conv3.Forward(c, h2)
	h2.Free()
	b, ch := h.Size(0), h.Size(1)
	return c.Escape(h.Reshape(c, b, ch, -1).Transpose(c, 1, 2))
}
