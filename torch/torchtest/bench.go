package torchtest

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// BenchThreads is the intra-op thread count for a benchmark: the BENCH_THREADS environment
// variable when it holds a positive integer, else def. The comparison scripts under
// third_party/bench set it (and the same count for their PyTorch side) so that both sides
// of a comparison run with the same threads.
func BenchThreads(def int) int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return def
}

// ProcessCPU is the process's user plus system CPU time in seconds, over all its threads
// (what Python's time.process_time measures).
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// CPUPerOp resets b's timer and starts counting the process's CPU time; the function it
// returns, called after the loop, reports the CPU time per iteration as "cpu-ms/op". On a
// machine shared with other work the wall clock of a loop varies several-fold, its CPU time
// far less, so the comparison scripts read both.
func CPUPerOp(b *testing.B) func() {
	b.ResetTimer()
	c0 := ProcessCPU()
	return func() { b.ReportMetric((ProcessCPU()-c0)/float64(b.N)*1e3, "cpu-ms/op") }
}
