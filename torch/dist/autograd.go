package dist

import (
	"context"
	"fmt"

	"github.com/prsmed/prsmed-go/torch"
)

// AllReduceAutograd returns, in s, a new tensor holding the sum over the ranks of t, recorded
// for autograd (when s records gradients) so that its backward is the sum over the ranks of
// the result's gradient: torch.distributed.nn.functional.all_reduce with SUM. Every rank's
// loss depends on every rank's t through the sum, so the gradient reaching t is the sum of
// all ranks' gradients of the result. Every rank must call it, and later run the backward,
// with tensors of the same shape in the same order; the backward's all-reduce uses the same
// time limit as the forward's. Synchronised BatchNorm builds on it (nn.BatchNorm2d.Sync).
func (g *Group) AllReduceAutograd(ctx context.Context, s *torch.Scope, t *torch.Tensor) (*torch.Tensor, error) {
	const name = "all_reduce (autograd)"
	to, err := g.opTimeout(ctx, name)
	if err != nil {
		return nil, err
	}
	if t != nil && !t.Freed() && !t.DType().IsFloat() {
		return nil, &Error{Op: name, Rank: g.rank, World: g.world, kinds: []error{ErrConfig},
			Msg: fmt.Sprintf("needs a floating-point tensor, got %v", t.DType())}
	}
	h, err := g.handle(name, t)
	if err != nil {
		return nil, err
	}
	out, err := g.pg.AllReduceAutograd(h, to, torch.ShimMode(s))
	if err != nil {
		return nil, g.wrap(name, err)
	}
	return torch.AdoptShimHandle(s, out), nil
}

// SumAcross is AllReduceAutograd without a context (the group's timeout applies): the
// nn.StatsReducer that synchronised BatchNorm calls from inside a forward.
func (g *Group) SumAcross(s *torch.Scope, t *torch.Tensor) (*torch.Tensor, error) {
	return g.AllReduceAutograd(context.Background(), s, t)
}
