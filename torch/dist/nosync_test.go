package dist_test

import (
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

func init() { groupWorker("reducer_nosync", 60*time.Second, workReducerNoSync) }

// workReducerNoSync: two micro-batches per step. The first runs with the hooks off
// (SetSync(false), DDP's no_sync): rank r's loss is Σ(r+1)·a + Σ2·b. The second with the
// hooks on: Σ10·a + Σ5·b. After Sync the gradients are the averages of the accumulated
// ones: a (1+10 + 2+10)/2 = 11.5, b 7.
func workReducerNoSync(env dist.Env, g *dist.Group) (any, error) {
	return reducerSteps(g, func(s *torch.Scope, red *dist.Reducer, a, b *torch.Tensor) {
		lin := func(wa, wb float64) *torch.Tensor {
			return a.Mul(s, torch.Scalar(s, wa, torch.Float32)).SumAll(s).Add(s,
				b.Mul(s, torch.Scalar(s, wb, torch.Float32)).SumAll(s))
		}
		red.SetSync(false)
		lin(float64(env.Rank+1), 2).Backward()
		red.SetSync(true)
		lin(10, 5).Backward()
	})
}

// TestReducerNoSync: with the hooks off for the first micro-batch and on for the last, Sync
// averages the accumulated gradients (not the last micro-batch's alone), and the buckets of
// the last backward start from its hooks.
func TestReducerNoSync(t *testing.T) {
	res := checkReducer(t, "reducer_nosync", [][]float64{{11.5, 11.5, 11.5}, {7, 7}, {11.5, 11.5, 11.5}, {7, 7}})
	for rank, got := range res {
		if got.Overlapped != 4 {
			t.Errorf("rank %d: %d buckets started during the last backward over two steps, want 4", rank, got.Overlapped)
		}
	}
}
