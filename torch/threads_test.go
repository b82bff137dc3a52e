package torch_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// The configured intra-op thread count holds on OS threads that start after SetNumThreads
// (libtorch 1.13 keeps OpenMP's count per thread; the shim re-applies it on each thread).
func TestThreadCountHoldsOnEveryOSThread(t *testing.T) {
	prev := torch.NumThreads()
	defer torch.SetNumThreads(prev)
	for _, n := range []int{1, 2} {
		torch.SetNumThreads(n)
		var wg sync.WaitGroup
		got := make([]int, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // a thread of its own, possibly new to libtorch
				defer runtime.UnlockOSThread()
				s := torch.NewScope(torch.CPU)
				defer s.Close()
				torch.Ones(s, torch.Float32, 2).SumAll(s) // an op on this thread
				got[i] = torch.NumThreads()
			}()
		}
		wg.Wait()
		for i, g := range got {
			if g != n {
				t.Fatalf("SetNumThreads(%d): goroutine %d's OS thread runs with %d threads", n, i, g)
			}
		}
	}
}
