package cli

import (
	"os"
	"runtime"
	"strconv"
)

// TrainingThreadsHelp is the help text of -threads in the programs that train.
const TrainingThreadsHelp = "intra-op CPU threads (0: OMP_NUM_THREADS when set, else half the CPUs, the other half feeding the data pipeline)"

// TrainingThreads registers -threads for a program that trains; ResolveTrainingThreads
// turns its 0 into a count.
func (c *Command) TrainingThreads() *int {
	return c.Flags.Int("threads", 0, TrainingThreadsHelp)
}

// ResolveTrainingThreads is the intra-op thread count a training program uses: n when
// n > 0; else OMP_NUM_THREADS when it holds a positive count (torchrun and -nproc set it to
// 1 for each rank); else half the CPUs, at least one.
//
// Half, because a training step shares the machine with the goroutines that decode and
// preprocess the next batches. On a 2-core machine, two intra-op threads trained no faster
// than one, spent 40% of the process's CPU time in the kernel (OpenBLAS's and OpenMP's
// waiting threads calling sched_yield), and took twice as long as one thread when another
// job kept one core busy (BENCHMARKS.md, "Threads on a small machine").
func ResolveTrainingThreads(n int) int {
	if n > 0 {
		return n
	}
	if v, err := strconv.Atoi(os.Getenv("OMP_NUM_THREADS")); err == nil && v > 0 {
		return v
	}
	return max(1, runtime.NumCPU()/2)
}
