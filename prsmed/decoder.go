package prsmed

import (
	"fmt"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// DecoderConfig sizes the mask decoder.
type DecoderConfig struct {
	MinChannels int64 `json:"min_channels"` // channels halve per stage down to this floor (16)
	Groups      int64 `json:"groups"`       // GroupNorm groups (8; fewer when a stage is narrower)
}

// Decoder turns fused features (B, C, G, G) into mask logits (B, 1, M, M): k stride-2
// ConvTranspose2d stages (kernel 4, padding 1), k = log2(M/G), each followed by GroupNorm
// (independent of the batch size) and GELU, channels halving from C to a floor; then a 1×1
// conv to one channel. A 64×64 grid gets four stages to 1024, a 16×16 grid six.
type Decoder struct {
	Stages []DecoderStage
	Out    *nn.Conv2d
}

// DecoderStage is one ×2 upsampling step.
type DecoderStage struct {
	Up   *nn.ConvTranspose2d
	Norm *nn.GroupNorm
}

// DecoderStages is the number of ×2 stages from grid to mask size, or an error when mask
// is not grid times a power of two.
func DecoderStages(grid, mask int64) (int, error) {
	if grid <= 0 || mask < grid || mask%grid != 0 {
		return 0, fmt.Errorf("prsmed: mask size %d is not a multiple of the %d grid", mask, grid)
	}
	n, r := 0, mask/grid
	for r > 1 {
		if r%2 != 0 {
			return 0, fmt.Errorf("prsmed: mask size %d is not the %d grid times a power of two", mask, grid)
		}
		r /= 2
		n++
	}
	return n, nil
}

// NewDecoder registers the decoder under p.
func NewDecoder(p nn.Path, in, grid, mask int64, c DecoderConfig) (*Decoder, error) {
	n, err := DecoderStages(grid, mask)
	if err != nil {
		return nil, err
	}
	d := &Decoder{}
	ch := in
	for i := 0; i < n; i++ {
		out := ch / 2
		if out < c.MinChannels {
			out = c.MinChannels
		}
		g := c.Groups
		for g > 1 && out%g != 0 {
			g--
		}
		sp := p.Sub("stages").Index(i)
		d.Stages = append(d.Stages, DecoderStage{
			Up:   nn.NewConvTranspose2d(sp.Sub("up"), ch, out, 4, nn.ConvConfig{Stride: 2, Padding: 1}),
			Norm: nn.NewGroupNorm(sp.Sub("norm"), g, out, 1e-5),
		})
		ch = out
	}
	d.Out = nn.NewConv2d(p.Sub("out"), ch, 1, 1, nn.ConvConfig{})
	return d, nil
}

// Forward maps (B, C, G, G) to (B, 1, M, M) logits.
func (d *Decoder) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	for _, st := range d.Stages {
		x = st.Norm.Forward(c, st.Up.Forward(c, x)).Gelu(c)
	}
	return c.Escape(d.Out.Forward(c, x))
}
