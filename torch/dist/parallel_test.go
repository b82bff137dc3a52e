package dist_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// The data-parallel equivalence: two ranks with 4 samples each and averaged gradients take
// the same AdamW steps as one process with all 8 samples.
const (
	dpSteps     = 5
	dpGlobal    = 8
	dpInitSeed  = 100 // rank r initialises with dpInitSeed+r; rank 0's values are broadcast
	dpDataSeed  = 7
	dpBucketMin = 64 // bytes: small buckets, so the model spans several
)

type dpResult struct {
	Params     [][]float64 `json:"params"`
	Buckets    int         `json:"buckets"`
	Overlapped int         `json:"overlapped"`
}

func init() { groupWorker("dp", 60*time.Second, workDataParallel) }

// trainDP runs dpSteps AdamW steps of a small MLP on rows [lo, lo+n) of each step's global
// batch; sync (when not nil) averages the gradients after backward.
func trainDP(initSeed uint64, lo, n int64, prepare func(params []*torch.Tensor) error, sync func() error) ([][]float64, error) {
	return trainDPWith(initSeed, lo, n, false, prepare, sync)
}

// dpHalf is the number of rows of the global batch that use the "half" parameter of the
// unused-parameter variant: rank 0's rows in a group of two, none of rank 1's.
const dpHalf = dpGlobal / 2

// trainDPWith is trainDP; with unused, the store holds two more trainable parameters and
// AdamW decays the weights: "unused" (no sample ever uses it: it must keep no gradient, so
// AdamW leaves it, decay included) and "half", which only rows [0, dpHalf) of the global
// batch use (a rank without such rows has no gradient for it and must count as zeros).
func trainDPWith(initSeed uint64, lo, n int64, unused bool, prepare func(params []*torch.Tensor) error, sync func() error) ([][]float64, error) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	gen, err := torch.NewGenerator(initSeed, torch.CPU)
	if err != nil {
		return nil, err
	}
	defer gen.Close()
	st.SetGenerator(gen)
	m := nn.NewMLP(st.Root().Sub("mlp"), nn.Tanh, []int64{6, 16, 8, 3})
	var half *torch.Tensor
	if unused {
		st.Root().Param("unused", nn.Normal(0, 1), 4)
		half = st.Root().Param("half", nn.Normal(0, 1), 6)
	}
	params := st.Trainable()
	if prepare != nil {
		if err := prepare(params); err != nil {
			return nil, err
		}
	}
	cfg := torch.DefaultAdamW()
	cfg.LR = 1e-2
	group := &torch.ParamGroup{Params: params}
	if unused {
		group.WeightDecay = torch.Float(0.1)
	}
	opt := torch.NewAdamW([]*torch.ParamGroup{group}, cfg)
	defer opt.Close()
	data, err := torch.NewGenerator(dpDataSeed, torch.CPU)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	for step := 0; step < dpSteps; step++ {
		err := func() (err error) {
			s := root.Child()
			defer s.Close()
			defer torch.Recover(&err)
			x := torch.Randn(s, data, torch.Float32, dpGlobal, 6)
			y := torch.Randn(s, data, torch.Float32, dpGlobal, 3)
			opt.ZeroGrad()
			loss := torch.MSELoss(s, m.Forward(s, x.Narrow(s, 0, lo, n)), y.Narrow(s, 0, lo, n), torch.ReduceMean)
			if hi := min(lo+n, dpHalf); half != nil && hi > lo {
				// Σ over this process's rows among the first dpHalf of (x·half)², divided
				// by the process's row count as the mean loss is.
				xh := x.Narrow(s, 0, lo, hi-lo).Matmul(s, half.Unsqueeze(s, 1))
				loss = loss.Add(s, xh.Mul(s, xh).SumAll(s).MulScalar(s, 1/float64(n)))
			}
			loss.Backward()
			if sync != nil {
				if err := sync(); err != nil {
					return err
				}
			}
			opt.Step()
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	out := make([][]float64, len(params))
	for i, p := range params {
		out[i] = p.Float64s()
	}
	return out, nil
}

func workDataParallel(env dist.Env, g *dist.Group) (any, error) {
	ctx := context.Background()
	per := int64(dpGlobal / env.WorldSize)
	var red *dist.Reducer
	defer func() { red.Close() }()
	var params []*torch.Tensor
	prepare := func(ps []*torch.Tensor) error {
		params = ps
		if err := g.BroadcastParams(ctx, ps, 0, 0); err != nil {
			return err
		}
		if os.Getenv("DP_MODE") == "overlap" {
			var err error
			red, err = dist.NewReducer(ctx, g, ps, dpBucketMin)
			return err
		}
		return nil
	}
	sync := func() error {
		if os.Getenv("DP_MODE") == "none" {
			return nil // the negative control: each rank trains on its own half
		}
		if red != nil {
			return red.Sync(ctx)
		}
		return g.AllReduceGrads(ctx, params, dpBucketMin)
	}
	ps, err := trainDPWith(dpInitSeed+uint64(env.Rank), int64(env.Rank)*per, per, os.Getenv("DP_UNUSED") == "1", prepare, sync)
	if err != nil {
		return nil, err
	}
	res := dpResult{Params: ps}
	if red != nil {
		res.Buckets, res.Overlapped = red.Buckets(), red.Overlapped()
	}
	return res, nil
}

func TestDataParallelEquivalence(t *testing.T) {
	want, err := trainDP(dpInitSeed, 0, dpGlobal, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rank 1's own initial values differ from rank 0's, so the broadcast matters.
	other, err := trainDP(dpInitSeed+1, 0, dpGlobal, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if maxRel(other, want) < 1e-3 {
		t.Fatal("the two initialisations give the same model; the test could not catch a missing broadcast")
	}
	for _, mode := range []string{"post", "overlap", "none"} {
		t.Run(mode, func(t *testing.T) {
			res := mustOK(t, spawn(t, "dp", 2, 3*time.Minute, func(rank int, env []string) []string {
				return append(env, "DP_MODE="+mode)
			}))
			for rank, raw := range res {
				var got dpResult
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				rel := maxRel(got.Params, want)
				t.Logf("rank %d: max relative difference %.3g after %d AdamW steps (buckets %d, started during backward %d)",
					rank, rel, dpSteps, got.Buckets, got.Overlapped)
				if mode == "none" {
					if rel < 1e-3 {
						t.Errorf("rank %d: without gradient averaging the parameters still match (%.3g): the test cannot fail", rank, rel)
					}
					continue
				}
				if rel > 1e-5 {
					t.Errorf("rank %d: parameters differ from one process with batch %d by %.3g relative (limit 1e-5)", rank, dpGlobal, rel)
				}
				if mode == "overlap" && (got.Buckets < 2 || got.Overlapped != got.Buckets) {
					t.Errorf("rank %d: %d of %d buckets started during backward, want all (and at least 2)", rank, got.Overlapped, got.Buckets)
				}
			}
		})
	}
}

// TestDataParallelUnusedParameters: a parameter that no rank uses keeps no gradient (AdamW
// leaves it alone, weight decay included, as one process does), and one that only rank 0's
// samples use counts as zeros on rank 1; both ways (after backward and overlapped with it),
// two ranks end where one process with the whole batch ends.
func TestDataParallelUnusedParameters(t *testing.T) {
	var init [][]float64
	want, err := trainDPWith(dpInitSeed, 0, dpGlobal, true, func(ps []*torch.Tensor) error {
		for _, p := range ps {
			init = append(init, p.Float64s())
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Parameter order: the MLP's three layers (weight, bias), then "unused", then "half".
	const unusedAt, halfAt = 6, 7
	if maxRel(want[unusedAt:unusedAt+1], init[unusedAt:unusedAt+1]) != 0 {
		t.Fatal("one process changed the unused parameter: the reference is wrong")
	}
	if maxRel(want[halfAt:halfAt+1], init[halfAt:halfAt+1]) < 1e-3 {
		t.Fatal("the half-used parameter did not move in one process: the test could not see it")
	}
	for _, mode := range []string{"post", "overlap"} {
		t.Run(mode, func(t *testing.T) {
			res := mustOK(t, spawn(t, "dp", 2, 3*time.Minute, func(rank int, env []string) []string {
				return append(env, "DP_MODE="+mode, "DP_UNUSED=1")
			}))
			for rank, raw := range res {
				var got dpResult
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Params) != len(want) {
					t.Fatalf("rank %d: %d parameters, want %d", rank, len(got.Params), len(want))
				}
				if rel := maxRel(got.Params[unusedAt:unusedAt+1], init[unusedAt:unusedAt+1]); rel != 0 {
					t.Errorf("rank %d: the parameter no rank uses moved by %.3g relative (AdamW must skip it, as in one process)", rank, rel)
				}
				if rel := maxRel(got.Params, want); rel > 1e-5 {
					t.Errorf("rank %d: parameters differ from one process with batch %d by %.3g relative (limit 1e-5)", rank, dpGlobal, rel)
				}
			}
		})
	}
}

// maxRel is the largest |a-b| / max(|b|, 1e-3) over all elements (a shape difference is +Inf).
func maxRel(a, b [][]float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return math.Inf(1)
		}
		for j := range a[i] {
			d := math.Abs(a[i][j]-b[i][j]) / math.Max(math.Abs(b[i][j]), 1e-3)
			if d > worst || math.IsNaN(d) {
				worst = d
			}
		}
	}
	return worst
}

// reducerResult is what a reducer worker reports: the gradients of a and b after each
// step's Sync, the number of buckets, and how many buckets started during the last backward
// of each step, summed over the steps.
type reducerResult struct {
	Grads      [][]float64 `json:"grads"`
	Buckets    int         `json:"buckets"`
	Overlapped int         `json:"overlapped"`
}

// reducerSteps is the body of the reducer workers: a = (1,1,1) and b = (1,1), trainable, in
// buckets of their own, two steps (to see that the reducer resets between them), each
// zeroing the gradients, running backward(s, red, a, b) and syncing.
func reducerSteps(g *dist.Group, backward func(s *torch.Scope, red *dist.Reducer, a, b *torch.Tensor)) (any, error) {
	ctx := context.Background()
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	a := torch.Ones(root, torch.Float32, 3).SetRequiresGrad(true)
	b := torch.Ones(root, torch.Float32, 2).SetRequiresGrad(true)
	red, err := dist.NewReducer(ctx, g, []*torch.Tensor{a, b}, 8)
	if err != nil {
		return nil, err
	}
	var res reducerResult
	for step := 0; step < 2; step++ {
		err := func() (err error) {
			s := root.Child()
			defer s.Close()
			defer torch.Recover(&err)
			a.ZeroGrad()
			b.ZeroGrad()
			backward(s, red, a, b)
			if err := red.Sync(ctx); err != nil {
				return err
			}
			res.Overlapped += red.Overlapped()
			res.Grads = append(res.Grads, a.Grad(s).Float64s(), b.Grad(s).Float64s())
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	res.Buckets = red.Buckets()
	return res, nil
}

// checkReducer runs the reducer worker scenario on two ranks and checks that each rank
// ends every step with the gradients want (a's, then b's, per step) in two buckets; it
// returns the ranks' results.
func checkReducer(t *testing.T, scenario string, want [][]float64) []reducerResult {
	t.Helper()
	raws := mustOK(t, spawn(t, scenario, 2, 2*time.Minute, nil))
	res := make([]reducerResult, len(raws))
	for rank, raw := range raws {
		if err := json.Unmarshal(raw, &res[rank]); err != nil {
			t.Fatal(err)
		}
		if got := res[rank]; got.Buckets != 2 || maxRel(got.Grads, want) != 0 {
			t.Errorf("rank %d: grads %v in %d buckets, want %v in 2", rank, got.Grads, got.Buckets, want)
		}
	}
	return res
}

func init() { groupWorker("reducer_unused", 60*time.Second, workReducerUnused) }

// workReducerUnused: rank r's loss is Σ(r+1)·a, plus Σ3·b on rank 0 only, so rank 1's b
// gets no gradient from backward.
func workReducerUnused(env dist.Env, g *dist.Group) (any, error) {
	return reducerSteps(g, func(s *torch.Scope, _ *dist.Reducer, a, b *torch.Tensor) {
		loss := a.Mul(s, torch.Scalar(s, float64(env.Rank+1), torch.Float32)).SumAll(s)
		if env.Rank == 0 {
			loss = loss.Add(s, b.Mul(s, torch.Scalar(s, 3, torch.Float32)).SumAll(s))
		}
		loss.Backward()
	})
}

func TestReducerUnusedParameter(t *testing.T) {
	checkReducer(t, "reducer_unused", [][]float64{{1.5, 1.5, 1.5}, {1.5, 1.5}, {1.5, 1.5, 1.5}, {1.5, 1.5}})
}
