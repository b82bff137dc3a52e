package dist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

type collectiveResult map[string][]float64

func init() {
	groupWorker("collectives", 60*time.Second, workCollectives)
	groupWorker("barrier_missing", 3*time.Second, workBarrierMissing)
	groupWorker("killed_peer", 20*time.Second, workKilledPeer)
	groupWorker("rendezvous", 5*time.Second, workRendezvous)
	groupWorker("mismatched_sizes", 10*time.Second, workMismatchedSizes)
}

// workCollectives runs each collective on rank-dependent values: rank r holds
// x = (r+1, -2(r+1), 10r).
func workCollectives(env dist.Env, g *dist.Group) (any, error) {
	ctx := context.Background()
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	r := float32(env.Rank)
	x := func() *torch.Tensor { return torch.FromSlice(s, []float32{r + 1, -2 * (r + 1), 10 * r}) }
	out := collectiveResult{}
	for _, c := range []struct {
		name string
		op   dist.Op
	}{{"sum", dist.Sum}, {"avg", dist.Avg}, {"max", dist.Max}, {"min", dist.Min}} {
		t := x()
		if err := g.AllReduce(ctx, t, c.op); err != nil {
			return nil, err
		}
		out[c.name] = t.Float64s()
	}
	// float64 and int64 tensors go through the same path.
	d := torch.FromSlice(s, []float64{float64(env.Rank) + 0.5})
	if err := g.AllReduce(ctx, d, dist.Sum); err != nil {
		return nil, err
	}
	out["sum_f64"] = d.Float64s()
	i := torch.FromSlice(s, []int64{int64(env.Rank) * 3})
	if err := g.AllReduce(ctx, i, dist.Sum); err != nil {
		return nil, err
	}
	out["sum_i64"] = []float64{float64(torch.Data[int64](i)[0])}

	b := x()
	if err := g.Broadcast(ctx, b, env.WorldSize-1); err != nil {
		return nil, err
	}
	out["broadcast_last"] = b.Float64s()
	b0 := torch.FromSlice(s, []float32{r, r, r, r}, 2, 2)
	if err := g.Broadcast(ctx, b0, 0); err != nil {
		return nil, err
	}
	out["broadcast_0"] = b0.Float64s()

	ga, err := g.AllGather(ctx, s, torch.FromSlice(s, []float32{r, r * r}))
	if err != nil {
		return nil, err
	}
	if sh := ga.Shape(); len(sh) != 2 || sh[0] != int64(env.WorldSize) || sh[1] != 2 {
		return nil, fmt.Errorf("all_gather shape %v", sh)
	}
	out["all_gather"] = ga.Float64s()
	if err := g.Barrier(ctx); err != nil {
		return nil, err
	}
	// Bad arguments are errors, not crashes: a root outside the group, a freed tensor.
	if err := g.Broadcast(ctx, x(), env.WorldSize); err == nil {
		return nil, fmt.Errorf("broadcast from root %d succeeded", env.WorldSize)
	}
	f := x()
	f.Free()
	if err := g.AllReduce(ctx, f, dist.Sum); err == nil {
		return nil, fmt.Errorf("all_reduce of a freed tensor succeeded")
	}
	if err := g.Barrier(ctx); err != nil { // the group still works after rejected calls
		return nil, err
	}
	return out, nil
}

func TestCollectives(t *testing.T) {
	want := map[int]collectiveResult{
		2: {
			"sum": {3, -6, 10}, "avg": {1.5, -3, 5}, "max": {2, -2, 10}, "min": {1, -4, 0},
			"sum_f64": {2}, "sum_i64": {3},
			"broadcast_last": {2, -4, 10}, "broadcast_0": {0, 0, 0, 0},
			"all_gather": {0, 0, 1, 1},
		},
		3: {
			"sum": {6, -12, 30}, "avg": {2, -4, 10}, "max": {3, -2, 20}, "min": {1, -6, 0},
			"sum_f64": {4.5}, "sum_i64": {9},
			"broadcast_last": {3, -6, 20}, "broadcast_0": {0, 0, 0, 0},
			"all_gather": {0, 0, 1, 1, 2, 4},
		},
	}
	for _, world := range []int{2, 3} {
		t.Run(fmt.Sprintf("world%d", world), func(t *testing.T) {
			res := mustOK(t, spawn(t, "collectives", world, 3*time.Minute, nil))
			for rank, raw := range res {
				var got collectiveResult
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				for name, w := range want[world] {
					g := got[name]
					if len(g) != len(w) {
						t.Errorf("rank %d %s: got %v, want %v", rank, name, g, w)
						continue
					}
					for i := range w {
						if g[i] != w[i] {
							t.Errorf("rank %d %s: got %v, want %v", rank, name, g, w)
							break
						}
					}
				}
			}
		})
	}
}

// workBarrierMissing: ranks 0 and 1 enter a barrier that rank 2 never enters (it stays
// alive, heartbeat and all, until the others are done).
func workBarrierMissing(env dist.Env, g *dist.Group) (any, error) {
	if env.Rank == 2 {
		time.Sleep(12 * time.Second)
		return "slept", nil
	}
	err := g.Barrier(context.Background())
	if err == nil {
		return nil, fmt.Errorf("the barrier passed without rank 2")
	}
	return nil, err
}

func TestBarrierMissingRankTimesOut(t *testing.T) {
	runs := spawn(t, "barrier_missing", 3, 3*time.Minute, nil)
	for _, r := range runs[:2] {
		if r.Out.Err == "" {
			t.Fatalf("rank %d: no error (stderr: %s)", r.Rank, tail(r.Stderr))
		}
		t.Logf("rank %d: %s (after %d ms)", r.Rank, r.Out.Err, r.Out.ElapsedMS)
		if !has(r.Out.Kinds, "timeout") {
			t.Errorf("rank %d: error %q does not match ErrTimeout", r.Rank, r.Out.Err)
		}
		if len(r.Out.Peers) != 1 || r.Out.Peers[0] != 2 || !strings.Contains(r.Out.Err, "rank 2") {
			t.Errorf("rank %d: error %q (peers %v) does not name rank 2", r.Rank, r.Out.Err, r.Out.Peers)
		}
		if !strings.Contains(r.Out.Err, "barrier") {
			t.Errorf("rank %d: error %q does not name the operation", r.Rank, r.Out.Err)
		}
	}
	if runs[2].Out.Err != "" {
		t.Errorf("rank 2: %s", runs[2].Out.Err)
	}
}

// workKilledPeer: every rank all-reduces in a loop; the victim rank (KILL_RANK) kills
// itself with SIGKILL in the middle of the run.
func workKilledPeer(env dist.Env, g *dist.Group) (any, error) {
	victim := 0
	fmt.Sscan(os.Getenv("KILL_RANK"), &victim)
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	for i := 0; i < 1000; i++ {
		if i == 20 && env.Rank == victim {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		start := time.Now()
		x := torch.Ones(s, torch.Float32, 1000)
		if err := g.AllReduce(context.Background(), x, dist.Sum); err != nil {
			return map[string]any{"step": i, "op_ms": time.Since(start).Milliseconds()}, err
		}
		x.Free()
	}
	return nil, fmt.Errorf("no error after 1000 all-reduces with rank %d killed", victim)
}

func TestKilledPeer(t *testing.T) {
	const timeout = 20 * time.Second
	for _, victim := range []int{2, 0} {
		t.Run(fmt.Sprintf("rank%d", victim), func(t *testing.T) {
			runs := spawn(t, "killed_peer", 3, 3*time.Minute, func(rank int, env []string) []string {
				return append(env, fmt.Sprintf("KILL_RANK=%d", victim))
			})
			for _, r := range runs {
				if r.Rank == victim {
					if !r.Signaled {
						t.Errorf("rank %d was not killed: exit %d, %q", r.Rank, r.ExitCode, r.Out.Err)
					}
					continue
				}
				if r.Out.Err == "" {
					t.Fatalf("rank %d: no error (exit %d, stderr %s)", r.Rank, r.ExitCode, tail(r.Stderr))
				}
				t.Logf("rank %d: %s (after %d ms in all, result %s)", r.Rank, r.Out.Err, r.Out.ElapsedMS, r.Out.Result)
				if !has(r.Out.Kinds, "peer") {
					t.Errorf("rank %d: error %q does not match ErrPeer", r.Rank, r.Out.Err)
				}
				if len(r.Out.Peers) != 1 || r.Out.Peers[0] != victim {
					t.Errorf("rank %d: error %q names peers %v, want [%d]", r.Rank, r.Out.Err, r.Out.Peers, victim)
				}
				if !strings.Contains(r.Out.Err, "all_reduce") {
					t.Errorf("rank %d: error %q does not name the operation", r.Rank, r.Out.Err)
				}
				var res struct {
					OpMS int64 `json:"op_ms"`
				}
				if err := json.Unmarshal(r.Out.Result, &res); err != nil || len(r.Out.Result) == 0 {
					t.Errorf("rank %d: no timing in %q (%v)", r.Rank, r.Out.Result, err)
				}
				if limit := (timeout + 10*time.Second).Milliseconds(); res.OpMS > limit {
					t.Errorf("rank %d: the failing all-reduce took %d ms, more than the timeout allows (%d ms)", r.Rank, res.OpMS, limit)
				}
			}
		})
	}
}

// workRendezvous just joins and leaves (with a short timeout); the test bends the
// environment to make it fail.
func workRendezvous(env dist.Env, g *dist.Group) (any, error) {
	return "joined", g.Barrier(context.Background())
}

func TestWorldSizeMismatch(t *testing.T) {
	runs := spawn(t, "rendezvous", 2, 2*time.Minute, func(rank int, env []string) []string {
		if rank == 1 {
			return append(env, "WORLD_SIZE=3")
		}
		return env
	})
	for _, r := range runs {
		t.Logf("rank %d: %s", r.Rank, r.Out.Err)
		if !has(r.Out.Kinds, "mismatch") || !strings.Contains(r.Out.Err, "WORLD_SIZE") {
			t.Errorf("rank %d: error %q is not a WORLD_SIZE mismatch", r.Rank, r.Out.Err)
		}
	}
	if p := runs[0].Out.Peers; len(p) != 1 || p[0] != 1 {
		t.Errorf("rank 0 names peers %v, want [1]", p)
	}
	if p := runs[1].Out.Peers; len(p) != 1 || p[0] != 0 {
		t.Errorf("rank 1 names peers %v, want [0]", p)
	}
}

func TestDuplicateRank(t *testing.T) {
	runs := spawn(t, "rendezvous", 3, 2*time.Minute, func(rank int, env []string) []string {
		if rank == 2 {
			return append(env, "RANK=1")
		}
		return env
	})
	n := 0
	for _, r := range runs {
		if strings.Contains(r.Out.Err, "two processes were started with RANK=1") && has(r.Out.Kinds, "mismatch") {
			n++
		}
	}
	if n != 1 {
		for _, r := range runs {
			t.Logf("process %d: %q", r.Rank, r.Out.Err)
		}
		t.Errorf("%d processes reported the duplicate RANK=1, want 1", n)
	}
}

// workMismatchedSizes: the ranks pass parameter lists of different shapes.
func workMismatchedSizes(env dist.Env, g *dist.Group) (any, error) {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	n := int64(4 + env.Rank)
	p := torch.Zeros(s, torch.Float32, n)
	if os.Getenv("RAW") != "" {
		// A plain all-reduce: its shape check must catch the mismatch before Gloo sees it
		// (Gloo aborts the process on a size mismatch).
		return nil, g.AllReduce(context.Background(), p, dist.Sum)
	}
	return nil, g.BroadcastParams(context.Background(), []*torch.Tensor{p}, 0, 0)
}

func TestMismatchedSizes(t *testing.T) {
	// A plain all-reduce of different sizes: a clear error on every rank, not a crash.
	raw := spawn(t, "mismatched_sizes", 2, 2*time.Minute, func(rank int, env []string) []string {
		return append(env, "RAW=1")
	})
	for _, r := range raw {
		t.Logf("raw all_reduce, rank %d: %s (after %d ms)", r.Rank, r.Out.Err, r.Out.ElapsedMS)
		if !has(r.Out.Kinds, "mismatch") || r.Signaled || r.ExitCode != 0 || !strings.Contains(r.Out.Err, "all_reduce") {
			t.Errorf("rank %d: exit %d, signaled %v, error %q; want a clean all_reduce error (stderr %s)",
				r.Rank, r.ExitCode, r.Signaled, r.Out.Err, tail(r.Stderr))
		}
	}
	runs := spawn(t, "mismatched_sizes", 2, 2*time.Minute, nil)
	for _, r := range runs {
		t.Logf("rank %d: %s", r.Rank, r.Out.Err)
		if !has(r.Out.Kinds, "mismatch") || len(r.Out.Peers) != 1 || r.Out.Peers[0] != 1-r.Rank {
			t.Errorf("rank %d: error %q (peers %v) does not name rank %d's mismatch", r.Rank, r.Out.Err, r.Out.Peers, 1-r.Rank)
		}
	}
}

func init() { groupWorker("stuck_peer", time.Minute, workStuckPeer) }

// workStuckPeer: rank 1 is alive but never enters the all-reduce; rank 0's call is bounded
// by its context's 3 s deadline (the group's own timeout is a minute).
func workStuckPeer(env dist.Env, g *dist.Group) (any, error) {
	if env.Rank == 1 {
		time.Sleep(15 * time.Second)
		return "slept", nil
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err := g.AllReduce(ctx, torch.Ones(s, torch.Float32, 10), dist.Sum)
	return map[string]any{"op_ms": time.Since(start).Milliseconds()}, err
}

func TestStuckPeerTimesOut(t *testing.T) {
	runs := spawn(t, "stuck_peer", 2, 2*time.Minute, nil)
	r := runs[0]
	t.Logf("rank 0: %s, %s", r.Out.Err, r.Out.Result)
	if !has(r.Out.Kinds, "timeout") || !strings.Contains(r.Out.Err, "all_reduce") {
		t.Fatalf("rank 0: error %q, want an all_reduce timeout (stderr %s)", r.Out.Err, tail(r.Stderr))
	}
	var res struct {
		OpMS int64 `json:"op_ms"`
	}
	if err := json.Unmarshal(r.Out.Result, &res); err != nil || res.OpMS > 30000 {
		t.Fatalf("rank 0: the all-reduce returned after %d ms (%v), want about the 3 s deadline", res.OpMS, err)
	}
	if runs[1].Out.Err != "" {
		t.Errorf("rank 1: %s", runs[1].Out.Err)
	}
}
