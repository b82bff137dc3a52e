// Package losses holds the training objectives of PRS-Med: binary cross-entropy and soft
// Dice on mask logits, token cross-entropy on the language model's logits, and their
// weighted sum. Each matches the PyTorch expression named in its doc comment, in value and
// gradient.
package losses

import (
	"github.com/prsmed/prsmed-go/torch"
)

// IgnoreIndex is the label that token losses skip, as PyTorch's default ignore_index.
const IgnoreIndex = -100

// BCE is F.binary_cross_entropy_with_logits(logits, target, pos_weight=posWeight) with mean
// reduction. target holds soft or hard labels in [0, 1] of logits' shape; posWeight may be
// nil.
func BCE(s *torch.Scope, logits, target, posWeight *torch.Tensor) *torch.Tensor {
	return torch.BCEWithLogits(s, logits, target, nil, posWeight, torch.ReduceMean)
}

// Dice is the soft Dice loss on sigmoid(logits) with smoothing 1, computed per sample over
// every non-batch element and then averaged over the batch:
//
//	p = sigmoid(logits)
//	dice_b = 1 − (2·Σ p·y + 1) / (Σ p + Σ y + 1)
//	loss = mean_b dice_b
//
// An empty target gives a defined value (the smoothing keeps the ratio finite).
func Dice(s *torch.Scope, logits, target *torch.Tensor) *torch.Tensor {
	const smooth = 1.0
	b := logits.Size(0)
	p := logits.Sigmoid(s).Reshape(s, b, -1)
	y := target.Reshape(s, b, -1)
	inter := p.Mul(s, y).Sum(s, []int64{1}, false)
	denom := p.Sum(s, []int64{1}, false).Add(s, y.Sum(s, []int64{1}, false)).AddScalar(s, smooth)
	ratio := inter.MulScalar(s, 2).AddScalar(s, smooth).Div(s, denom)
	return ratio.RSubScalar(s, 1).MeanAll(s)
}

// TokenCE is the cross-entropy of token logits (…, V) against labels (…) of int64 ids,
// averaged over the labels that are not IgnoreIndex — F.cross_entropy(logits.view(-1, V),
// labels.view(-1), ignore_index=-100). When every label is ignored it returns 0 (with a
// zero gradient) where PyTorch returns NaN, so that a batch without answer tokens cannot
// poison training.
func TokenCE(s *torch.Scope, logits, labels *torch.Tensor) *torch.Tensor {
	v := logits.Size(-1)
	flat := logits.Reshape(s, -1, v)
	lab := labels.Reshape(s, -1)
	sum := torch.CrossEntropy(s, flat, lab, nil, torch.ReduceSum, IgnoreIndex, 0)
	count := lab.NeScalar(s, IgnoreIndex).SumAll(s).ToDType(s, logits.DType()).ClampMin(s, 1)
	return sum.Div(s, count)
}

// NextTokenCE is TokenCE after the causal shift that language models train with: the
// logits at position t predict the label at t+1 (logits[:, :-1] against labels[:, 1:]) over
// (B, L, V) logits and (B, L) labels.
func NextTokenCE(s *torch.Scope, logits, labels *torch.Tensor) *torch.Tensor {
	l := logits.Size(1)
	return TokenCE(s, logits.Narrow(s, 1, 0, l-1), labels.Narrow(s, 1, 1, l-1))
}
