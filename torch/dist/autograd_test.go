package dist_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

func init() {
	groupWorker("allreduce_autograd", 60*time.Second, workAllReduceAutograd)
}

// workAllReduceAutograd: rank r holds the leaf x = (r+1, 2(r+1)) and computes the loss
// (r+1)·Σ AllReduceAutograd(x). The forward is Σ over ranks of x; the backward gives every
// rank's x the gradient of the sum of all ranks' losses, Σ over ranks of (r+1).
func workAllReduceAutograd(env dist.Env, g *dist.Group) (any, error) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	r := float32(env.Rank)
	x := torch.FromSlice(s, []float32{r + 1, 2 * (r + 1)}, 2).SetRequiresGrad(true)
	y, err := g.AllReduceAutograd(context.Background(), s, x)
	if err != nil {
		return nil, err
	}
	out := collectiveResult{"forward": y.Float64s()}
	if err := torch.Try(func() { y.SumAll(s).MulScalar(s, float64(r+1)).Backward() }); err != nil {
		return nil, err
	}
	out["grad"] = x.Grad(s).Float64s()
	// An integer tensor is refused before any communication.
	_, err = g.AllReduceAutograd(context.Background(), s, torch.FromSlice(s, []int64{1}, 1))
	if !errors.Is(err, dist.ErrConfig) {
		return nil, fmt.Errorf("an int64 tensor: got %v, want ErrConfig", err)
	}
	return out, nil
}

// TestAllReduceAutograd: the differentiable all-reduce sums the forward over the ranks and
// the gradients of every rank's loss in the backward, as
// torch.distributed.nn.functional.all_reduce does.
func TestAllReduceAutograd(t *testing.T) {
	needGloo(t)
	for _, world := range []int{2, 3} {
		t.Run(fmt.Sprintf("world%d", world), func(t *testing.T) {
			tri := float64(world * (world + 1) / 2)
			want := collectiveResult{"forward": {tri, 2 * tri}, "grad": {tri, tri}}
			for rank, raw := range mustOK(t, spawn(t, "allreduce_autograd", world, 2*time.Minute, nil)) {
				var got collectiveResult
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				for name, w := range want {
					if fmt.Sprint(got[name]) != fmt.Sprint(w) {
						t.Errorf("rank %d %s: got %v, want %v", rank, name, got[name], w)
					}
				}
			}
		})
	}
}
