package nn

import (
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// LinearConfig configures a Linear layer.
type LinearConfig struct {
	Bias bool
}

// Linear is torch.nn.Linear: y = x Wᵀ + b, with weight (out, in) and bias (out).
type Linear struct {
	Weight, Bias *torch.Tensor // Bias is nil without bias
}

// NewLinear registers <p>.weight and <p>.bias with PyTorch's default init (kaiming uniform
// a=√5 for the weight, U(±1/√in) for the bias), drawn in PyTorch's order.
func NewLinear(p Path, in, out int64, c LinearConfig) *Linear {
	l := &Linear{Weight: p.Param("weight", KaimingUniform(math.Sqrt(5)), out, in)}
	if c.Bias {
		l.Bias = p.Param("bias", FanInUniform(in), out)
	}
	return l
}

// Forward is F.linear(x, weight, bias).
func (l *Linear) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return torch.Linear(s, x, l.Weight, l.Bias)
}
