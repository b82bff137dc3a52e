package nn

import (
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// ConvConfig configures Conv2d and ConvTranspose2d; zero values are PyTorch's defaults
// (stride 1, padding 0, dilation 1, groups 1). Bias is on unless NoBias.
type ConvConfig struct {
	Stride, Padding, Dilation, OutputPadding int64
	Groups                                   int64
	NoBias                                   bool
}

func (c ConvConfig) opts() torch.ConvOpts {
	two := func(v, def int64) [2]int64 {
		if v == 0 {
			v = def
		}
		return [2]int64{v, v}
	}
	g := c.Groups
	if g == 0 {
		g = 1
	}
	return torch.ConvOpts{Stride: two(c.Stride, 1), Padding: [2]int64{c.Padding, c.Padding},
		Dilation: two(c.Dilation, 1), OutputPadding: [2]int64{c.OutputPadding, c.OutputPadding}, Groups: g}
}

// Conv2d is torch.nn.Conv2d with a square kernel.
type Conv2d struct {
	Weight, Bias *torch.Tensor
	Opts         torch.ConvOpts
}

// NewConv2d registers <p>.weight (out, in/groups, k, k) and <p>.bias with PyTorch's init.
func NewConv2d(p Path, in, out, k int64, c ConvConfig) *Conv2d {
	o := c.opts()
	checkGroups("nn.Conv2d", o.Groups, map[string]int64{"in_channels": in, "out_channels": out})
	w := p.Param("weight", KaimingUniform(math.Sqrt(5)), out, in/o.Groups, k, k)
	l := &Conv2d{Weight: w, Opts: o}
	if !c.NoBias {
		l.Bias = p.Param("bias", FanInUniform(in/o.Groups*k*k), out)
	}
	return l
}

// Forward is F.conv2d.
func (l *Conv2d) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.Conv2d(s, x, l.Weight, l.Bias, l.Opts)
}

// ConvTranspose2d is torch.nn.ConvTranspose2d with a square kernel.
type ConvTranspose2d struct {
	Weight, Bias *torch.Tensor
	Opts         torch.ConvOpts
}

// NewConvTranspose2d registers <p>.weight (in, out/groups, k, k) and <p>.bias with
// PyTorch's init (fan in taken from the weight's dim 1, as PyTorch does).
func NewConvTranspose2d(p Path, in, out, k int64, c ConvConfig) *ConvTranspose2d {
	o := c.opts()
	checkGroups("nn.ConvTranspose2d", o.Groups, map[string]int64{"in_channels": in, "out_channels": out})
	w := p.Param("weight", KaimingUniform(math.Sqrt(5)), in, out/o.Groups, k, k)
	l := &ConvTranspose2d{Weight: w, Opts: o}
	if !c.NoBias {
		l.Bias = p.Param("bias", FanInUniform(out/o.Groups*k*k), out)
	}
	return l
}

// Forward is F.conv_transpose2d.
func (l *ConvTranspose2d) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.ConvTranspose2d(s, x, l.Weight, l.Bias, l.Opts)
}
