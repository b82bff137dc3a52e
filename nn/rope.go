package nn

import (
	"github.com/prsmed/prsmed-go/torch"
)

// Rotary is rotary position embedding in the rotate-half layout used by LLaMA and Mistral
// in transformers: inv_freq_i = θ^(−2i/D) for i < D/2, angles = position · inv_freq
// concatenated with themselves, x' = x·cos + rotate_half(x)·sin, where rotate_half(x) =
// cat(−x[D/2:], x[:D/2]).
type Rotary struct {
	Dim   int64
	Theta float64
}

// CosSin computes cos and sin of shape (B, 1, L, D) for int64 positions (B, L), in float32
// and then cast to dt.
func (r Rotary) CosSin(s *torch.Scope, positions *torch.Tensor, dt torch.DType) (cos, sin *torch.Tensor) {
	on := s.On(positions.Device())
	defer on.Close() // closes c too; closing only c would leave on open in s
	c := on.NoGrad()
	exps := torch.Arange(c, 0, float64(r.Dim), 2, torch.Int64).ToDType(c, torch.Float32).DivScalar(c, float64(r.Dim))
	theta := torch.Full(c, r.Theta, torch.Float32, 1)
	invFreq := theta.Pow(c, exps).Reciprocal(c)                 // (D/2)
	pos := positions.ToDType(c, torch.Float32).Unsqueeze(c, -1) // (B, L, 1)
	freqs := pos.Mul(c, invFreq)                                // (B, L, D/2)
	emb := torch.Cat(c, -1, freqs, freqs).Unsqueeze(c, 1)       // (B, 1, L, D)
	cos = c.Escape(emb.Cos(c).ToDType(c, dt), s)
	sin = c.Escape(emb.Sin(c).ToDType(c, dt), s)
	return cos, sin
}

// RotateHalf is cat(−x[…, D/2:], x[…, :D/2]).
func RotateHalf(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	d := x.Size(-1)
	x1 := x.Narrow(s, -1, 0, d/2)
	x2 := x.Narrow(s, -1, d/2, d-d/2)
	return torch.Cat(s, -1, x2.Neg(s), x1)
}

// ApplyRotary rotates x (B, H, L, D) by cos and sin from CosSin.
func ApplyRotary(s *torch.Scope, x, cos, sin *torch.Tensor) *torch.Tensor {
	return x.Mul(s, cos).Add(s, RotateHalf(s, x).Mul(s, sin))
}
