package torch_test

// Memory and concurrency: 10,000 scope cycles leave LiveTensors and RSS flat; 8 goroutines
// with their own scopes compute what one goroutine computes (run with -race too).

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// rssBytes is the resident set size from /proc/self/statm.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return pages * int64(os.Getpagesize())
}

// leakCycle opens a scope, runs a few ops including a backward pass, and closes it.
func leakCycle(root *torch.Scope, w *torch.Tensor, xs []float32) float64 {
	s := root.Child()
	defer s.Close()
	x := torch.FromSlice(s, xs, 4, 8)
	y := x.Matmul(s, w).Softmax(s, -1)
	loss := y.Mul(s, y).SumAll(s)
	loss.Backward()
	g := w.Grad(s)
	v := g.SumAll(s).Item() + loss.Item()
	parts := y.Chunk(s, 2, 0)
	v += torch.Cat(s, 0, parts...).SumAll(s).Item()
	w.ZeroGrad()
	return v
}

func TestGoldenLeak(t *testing.T) {
	cycles := 10000
	if v, err := strconv.Atoi(os.Getenv("TORCH_LEAK_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	if testing.Short() {
		cycles = 2000
	}
	base := torch.LiveTensors()
	root := torch.NewScope(torch.CPU)
	xs := make([]float32, 32)
	for i := range xs {
		xs[i] = float32(i%7) * 0.1
	}
	w := torch.FromSlice(root, []float32{0.1, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0, 0.4, -0.3, 0.1, 0.2, -0.05, 0.15, 0.25, -0.35, 0.45,
		0.05, 0.1, -0.15, 0.2, 0.3, -0.1, 0.05, 0.0, 0.1, 0.2, 0.3, 0.4, -0.4, -0.3, -0.2, -0.1,
		0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, 0.3, 0.3, 0.3, 0.3, -0.3, 0.3, -0.3, 0.3,
		0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4}, 8, 8).SetRequiresGrad(true)
	first := leakCycle(root, w, xs)
	for i := 0; i < 1000; i++ { // warm-up: allocator pools, autograd engine threads
		leakCycle(root, w, xs)
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := rssBytes(t)
	live0 := torch.LiveTensors()
	for i := 0; i < cycles; i++ {
		if v := leakCycle(root, w, xs); v != first {
			t.Fatalf("cycle %d: %v, first cycle %v", i, v, first)
		}
		if i%1000 == 999 && torch.LiveTensors() != live0 {
			t.Fatalf("cycle %d: LiveTensors %d, was %d", i, torch.LiveTensors(), live0)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss1 := rssBytes(t)
	growth := rss1 - rss0
	t.Logf("%d cycles: RSS %.1f MiB → %.1f MiB (%+.2f MiB), LiveTensors %d", cycles,
		float64(rss0)/(1<<20), float64(rss1)/(1<<20), float64(growth)/(1<<20), torch.LiveTensors())
	// One leaked cycle holds a dozen tensors and a graph (kilobytes): 10,000 would be tens of MiB.
	const margin = 4 << 20
	if raceEnabled {
		t.Logf("race detector on: RSS growth not checked (its shadow memory only grows)")
	} else if growth > margin {
		t.Errorf("RSS grew by %.2f MiB over %d cycles (margin %.0f MiB)", float64(growth)/(1<<20), cycles, float64(margin)/(1<<20))
	}
	root.Close()
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}

// concWork is one goroutine's job: y = softmax(x·w), loss = Σ y·c, backward to w, 20 times.
func concWork(s *torch.Scope, k int) (y, grad *torch.Tensor) {
	n := 16
	xs, ws, cs := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range xs {
		xs[i] = float32((i*7+k*13)%23)/23 - 0.5
		ws[i] = float32((i*5+k*3)%19)/19 - 0.5
		cs[i] = float32((i*11+k)%17) / 17
	}
	x := torch.FromSlice(s, xs, int64(n), int64(n))
	w := torch.FromSlice(s, ws, int64(n), int64(n)).SetRequiresGrad(true)
	c := torch.FromSlice(s, cs, int64(n), int64(n))
	for it := 0; it < 20; it++ {
		step := s.Child()
		w.ZeroGrad()
		y = x.Matmul(step, w).Softmax(step, -1)
		y.Mul(step, c).SumAll(step).Backward()
		if it == 19 {
			y = step.Escape(y, s)
		}
		step.Close()
	}
	return y, w.Grad(s)
}

func TestGoldenConcurrent(t *testing.T) {
	const workers = 8
	base := torch.LiveTensors()
	ref := torch.NewScope(torch.CPU)
	defer ref.Close()
	wantY, wantG := make([]*torch.Tensor, workers), make([]*torch.Tensor, workers)
	for k := 0; k < workers; k++ {
		wantY[k], wantG[k] = concWork(ref, k)
	}
	type result struct {
		y, g []byte
		err  error
	}
	res := make([]result, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			<-start
			s := torch.NewScope(torch.CPU)
			defer s.Close()
			res[k].err = torch.Try(func() {
				for rep := 0; rep < 10; rep++ {
					c := s.Child()
					y, g := concWork(c, k)
					res[k].y, res[k].g = y.Bytes(), g.Bytes()
					c.Close()
				}
			})
		}(k)
	}
	close(start)
	wg.Wait()
	for k := 0; k < workers; k++ {
		if res[k].err != nil {
			t.Errorf("worker %d: %v", k, res[k].err)
			continue
		}
		yt := torch.FromBytes(ref, torch.Float32, res[k].y, 16, 16)
		gt := torch.FromBytes(ref, torch.Float32, res[k].g, 16, 16)
		torchtest.AllCloseTol(t, "worker y", yt, wantY[k], torchtest.DefaultTol(torch.Float32))
		torchtest.AllCloseTol(t, "worker grad", gt, wantG[k], torchtest.DefaultTol(torch.Float32))
	}
	ref.Close()
	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}
