package torch_test

// Benchmarks of the binding's per-op overhead and of matmul, to compare with the same loops
// in C++ (third_party/bench/bench_ops.cc) and Python (third_party/bench/bench_ops.py).
//
//	go test ./torch/ -run '^$' -bench . -benchtime 2s
//
// Threads: torch.SetNumThreads(1) for AddTiny, AddTinyScope and Matmul64; Matmul512 uses
// BENCH_THREADS (default 2, the cores of the reference machine). With Debian's libtorch a
// float matmul runs in OpenBLAS (openblas-pthread), whose own thread pool SetNumThreads
// sets too; the C++ and Python loops take OPENBLAS_NUM_THREADS, so pin it to the same count
// for a fair comparison:
//
//	OPENBLAS_NUM_THREADS=1 BENCH_THREADS=1 go test ./torch/ -run '^$' -bench .
//
// Every result is freed in the iteration that made it: AddTiny and Matmul* call Free on the
// result (their scope is recycled every 4096 iterations so that its list of freed tensors
// stays short); AddTinyScope opens and closes a child scope per iteration instead.
//
// Each benchmark locks its goroutine to one OS thread and also reports that thread's CPU
// time per op (cpu-ns/op), which the C++ and Python loops report too: on a machine shared
// with other work the wall clock of a loop varies several-fold, its CPU time far less.

import (
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// threadCPU is the calling OS thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// cpuTimer locks the benchmark to its OS thread and returns a function that reports the
// thread's CPU time per iteration since the call; call it after the loop.
func cpuTimer(b *testing.B) func() {
	runtime.LockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	c0 := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}

// benchFreeLoop runs op b.N times, freeing each result, in a scope recycled every 4096
// iterations (Free leaves a dead entry in the scope's list until the scope closes).
func benchFreeLoop(b *testing.B, root *torch.Scope, op func(s *torch.Scope) *torch.Tensor) {
	s := root.Child()
	op(s).Free() // warm-up
	done := cpuTimer(b)
	for i := 0; i < b.N; i++ {
		op(s).Free()
		if i&4095 == 4095 {
			s.Close()
			s = root.Child()
		}
	}
	b.StopTimer()
	done()
	s.Close()
}

// tinyOperands sets one thread and returns a root scope, closed when the benchmark ends,
// holding two 2×2 float32 operands.
func tinyOperands(b *testing.B) (root *torch.Scope, x, y *torch.Tensor) {
	torch.SetNumThreads(1)
	root = torch.NewScope(torch.CPU)
	b.Cleanup(root.Close)
	return root, torch.FromSlice(root, []float32{1, 2, 3, 4}, 2, 2), torch.FromSlice(root, []float32{5, 6, 7, 8}, 2, 2)
}

// randOperands sets the thread count and returns a root scope, closed when the benchmark
// ends, holding two n×n standard normal float32 operands drawn from a generator seeded 0.
func randOperands(b *testing.B, n int64, threads int) (root *torch.Scope, x, y *torch.Tensor) {
	torch.SetNumThreads(threads)
	root = torch.NewScope(torch.CPU)
	b.Cleanup(root.Close)
	g, err := torch.NewGenerator(0, torch.CPU)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	return root, torch.Randn(root, g, torch.Float32, n, n), torch.Randn(root, g, torch.Float32, n, n)
}

func BenchmarkAddTiny(b *testing.B) {
	root, x, y := tinyOperands(b)
	benchFreeLoop(b, root, func(s *torch.Scope) *torch.Tensor { return x.Add(s, y) })
}

// BenchmarkAddTinyInScope is the intended use: 64 adds into one scope (as in one forward
// pass), the scope closed with one call; ns/op is per add.
func BenchmarkAddTinyInScope(b *testing.B) {
	root, x, y := tinyOperands(b)
	done := cpuTimer(b)
	s := root.Child()
	for i := 0; i < b.N; i++ {
		x.Add(s, y)
		if i%64 == 63 {
			s.Close()
			s = root.Child()
		}
	}
	s.Close()
	done()
}

func BenchmarkAddTinyScope(b *testing.B) {
	root, x, y := tinyOperands(b)
	done := cpuTimer(b)
	for i := 0; i < b.N; i++ {
		s := root.Child()
		x.Add(s, y)
		s.Close()
	}
	done()
}

// BenchmarkAdd64 is a 64×64 float32 add, 1 thread, each result freed.
func BenchmarkAdd64(b *testing.B) {
	root, x, y := randOperands(b, 64, 1)
	benchFreeLoop(b, root, func(s *torch.Scope) *torch.Tensor { return x.Add(s, y) })
}

func benchMatmul(b *testing.B, n int64, threads int) {
	root, x, y := randOperands(b, n, threads)
	b.SetBytes(2 * n * n * n) // "bytes" here are flops: MB/s reads as Mflop/s
	benchFreeLoop(b, root, func(s *torch.Scope) *torch.Tensor { return x.Matmul(s, y) })
}

func BenchmarkMatmul64(b *testing.B)  { benchMatmul(b, 64, 1) }
func BenchmarkMatmul512(b *testing.B) { benchMatmul(b, 512, torchtest.BenchThreads(2)) }
