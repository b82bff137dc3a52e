package dist_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

func init() { workers["reducer_nosync"] = workReducerNoSync }

// workReducerNoSync: a = (1,1,1) and b = (1,1) in buckets of their own, two micro-batches
// per step. The first runs with the hooks off (SetSync(false), DDP's no_sync): rank r's
// loss is Σ(r+1)·a + Σ2·b. The second with the hooks on: Σ10·a + Σ5·b. After Sync the
// gradients are the averages of the accumulated ones: a (1+10 + 2+10)/2 = 11.5, b 7. Two
// steps, to see that the reducer resets between them.
func workReducerNoSync(env dist.Env) (any, error) {
	g, err := join(env, 60*time.Second)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	ctx := context.Background()
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	a := torch.Ones(root, torch.Float32, 3).SetRequiresGrad(true)
	b := torch.Ones(root, torch.Float32, 2).SetRequiresGrad(true)
	red, err := dist.NewReducer(ctx, g, []*torch.Tensor{a, b}, 8)
	if err != nil {
		return nil, err
	}
	var out [][]float64
	overlapped := 0
	for step := 0; step < 2; step++ {
		err := func() (err error) {
			s := root.Child()
			defer s.Close()
			defer torch.Recover(&err)
			a.ZeroGrad()
			b.ZeroGrad()
			lin := func(wa, wb float64) *torch.Tensor {
				return a.Mul(s, torch.Scalar(s, wa, torch.Float32)).SumAll(s).Add(s,
					b.Mul(s, torch.Scalar(s, wb, torch.Float32)).SumAll(s))
			}
			red.SetSync(false)
			lin(float64(env.Rank+1), 2).Backward()
			red.SetSync(true)
			lin(10, 5).Backward()
			if err := red.Sync(ctx); err != nil {
				return err
			}
			overlapped += red.Overlapped()
			out = append(out, a.Grad(s).Float64s(), b.Grad(s).Float64s())
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	return map[string]any{"grads": out, "buckets": red.Buckets(), "overlapped": overlapped}, nil
}

// TestReducerNoSync: with the hooks off for the first micro-batch and on for the last, Sync
// averages the accumulated gradients (not the last micro-batch's alone), and the buckets of
// the last backward start from its hooks.
func TestReducerNoSync(t *testing.T) {
	res := mustOK(t, spawn(t, "reducer_nosync", 2, 2*time.Minute, nil))
	want := [][]float64{{11.5, 11.5, 11.5}, {7, 7}, {11.5, 11.5, 11.5}, {7, 7}}
	for rank, raw := range res {
		var got struct {
			Grads      [][]float64
			Buckets    int
			Overlapped int
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if got.Buckets != 2 || maxRel(got.Grads, want) != 0 {
			t.Errorf("rank %d: grads %v in %d buckets, want %v in 2", rank, got.Grads, got.Buckets, want)
		}
		if got.Overlapped != 4 {
			t.Errorf("rank %d: %d buckets started during the last backward over two steps, want 4", rank, got.Overlapped)
		}
	}
}
