package losses

import (
	"fmt"
	"math"

	"github.com/prsmed/prsmed-go/torch"
)

// Weights are the factors of the PRS-Med objective L = BCE·bce + Dice·dice + CE·ce.
type Weights struct {
	BCE, Dice, CE float64
}

// DefaultWeights are the paper's: 1, 1 and 0.5.
func DefaultWeights() Weights { return Weights{BCE: 1, Dice: 1, CE: 0.5} }

// Parts are the objective's total and its unweighted terms, as 0-d tensors in the scope
// they were computed in (CE is nil when no token logits were given).
type Parts struct {
	Total, BCE, Dice, CE *torch.Tensor
}

// Objective computes the PRS-Med loss from mask logits and targets (B, 1, H, W) and, when
// tokenLogits is not nil, next-token logits (B, L, V) with labels (B, L) that are
// IgnoreIndex outside the answer.
func (w Weights) Objective(s *torch.Scope, maskLogits, maskTarget, tokenLogits, labels *torch.Tensor) Parts {
	var ce *torch.Tensor
	if tokenLogits != nil {
		ce = NextTokenCE(s, tokenLogits, labels)
	}
	return w.WithCE(s, maskLogits, maskTarget, ce)
}

// WithCE is Objective with the answer's cross-entropy already computed (nil: none), as the
// language model's forward returns it. The mask terms are computed in float32 whatever the
// logits' dtype (a bfloat16 model's losses are float32, as under autocast).
func (w Weights) WithCE(s *torch.Scope, maskLogits, maskTarget, ce *torch.Tensor) Parts {
	if maskLogits.DType() != torch.Float32 {
		maskLogits = maskLogits.ToDType(s, torch.Float32)
	}
	if maskTarget.DType() != torch.Float32 {
		maskTarget = maskTarget.ToDType(s, torch.Float32)
	}
	p := Parts{
		BCE:  BCE(s, maskLogits, maskTarget, nil),
		Dice: Dice(s, maskLogits, maskTarget),
	}
	p.Total = p.BCE.MulScalar(s, w.BCE).Add(s, p.Dice.MulScalar(s, w.Dice))
	if ce != nil {
		if ce.DType() != torch.Float32 {
			ce = ce.ToDType(s, torch.Float32)
		}
		p.CE = ce
		p.Total = p.Total.Add(s, p.CE.MulScalar(s, w.CE))
	}
	return p
}

// Values reads the parts as float64 (CE is 0 when absent).
func (p Parts) Values() (total, bce, dice, ce float64) {
	total, bce, dice = p.Total.Item(), p.BCE.Item(), p.Dice.Item()
	if p.CE != nil {
		ce = p.CE.Item()
	}
	return
}

// ErrNonFinite is returned by Check when a loss is NaN or infinite.
var ErrNonFinite = fmt.Errorf("losses: non-finite loss")

// Check returns an error naming the first part that is NaN or infinite.
func (p Parts) Check() error {
	total, bce, dice, ce := p.Values()
	for _, v := range []struct {
		name string
		v    float64
	}{{"total", total}, {"bce", bce}, {"dice", dice}, {"ce", ce}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%w: %s = %v", ErrNonFinite, v.name, v.v)
		}
	}
	return nil
}
