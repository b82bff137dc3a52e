package dist_test

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// benchShapes are 22.8M float32 parameters (PRS-Med's trainable count): 21 matrices of
// 1024×1024, 40 vectors of 1024 and one of 738,944 elements. third_party/golden/dist_ref.py
// bench times the same layout through torch.distributed.
func benchShapes() [][]int64 {
	var sh [][]int64
	for i := 0; i < 21; i++ {
		sh = append(sh, []int64{1024, 1024})
	}
	for i := 0; i < 40; i++ {
		sh = append(sh, []int64{1024})
	}
	return append(sh, []int64{738944})
}

func init() { groupWorker("bench_allreduce", 5*time.Minute, workBenchAllReduce) }

// workBenchAllReduce times AllReduceGrads over benchShapes (bucketed, 25 MiB), after one
// warm-up call, BENCH_RUNS times; each timed call starts after a barrier.
func workBenchAllReduce(env dist.Env, g *dist.Group) (any, error) {
	ctx := context.Background()
	runs, _ := strconv.Atoi(os.Getenv("BENCH_RUNS"))
	if runs < 1 {
		runs = 5
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	var params []*torch.Tensor
	var n int64
	for _, sh := range benchShapes() {
		p := torch.Zeros(s, torch.Float32, sh...).SetRequiresGrad(true)
		params = append(params, p)
		n += p.Numel()
	}
	if err := g.AllReduceGrads(ctx, params, 0); err != nil { // warm-up: makes the gradients
		return nil, err
	}
	ms := make([]float64, runs)
	for i := range ms {
		if err := g.Barrier(ctx); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := g.AllReduceGrads(ctx, params, 0); err != nil {
			return nil, err
		}
		ms[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	return map[string]any{"params": n, "ms": ms}, nil
}

// BenchmarkAllReduceGrads22M runs two Gloo workers on this machine and reports rank 0's
// median time of one bucketed gradient all-reduce of 22.8M float32 parameters.
//
//	go test -run '^$' -bench AllReduceGrads22M -benchtime 1x ./torch/dist
func BenchmarkAllReduceGrads22M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runs := mustOK(b, spawn(b, "bench_allreduce", 2, 10*time.Minute, nil))
		var res struct {
			Params int64
			MS     []float64
		}
		if err := json.Unmarshal(runs[0], &res); err != nil {
			b.Fatal(err)
		}
		v := append([]float64(nil), res.MS...)
		sort.Float64s(v)
		b.ReportMetric(v[len(v)/2], "ms/allreduce")
		b.ReportMetric(v[0], "min-ms")
		b.ReportMetric(v[len(v)-1], "max-ms")
		b.Logf("%d parameters, 2 Gloo processes, times (ms): %v", res.Params, res.MS)
	}
}
