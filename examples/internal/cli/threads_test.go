package cli

import (
	"runtime"
	"testing"
)

func TestResolveTrainingThreads(t *testing.T) {
	half := max(1, runtime.NumCPU()/2)
	for _, tc := range []struct {
		name string
		flag int
		omp  string
		want int
	}{
		{"flag given", 3, "5", 3},
		{"OMP_NUM_THREADS as torchrun sets it", 0, "1", 1},
		{"OMP_NUM_THREADS larger", 0, "6", 6},
		{"unset: half the CPUs", 0, "", half},
		{"OMP_NUM_THREADS not a count", 0, "all", half},
		{"OMP_NUM_THREADS zero", 0, "0", half},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OMP_NUM_THREADS", tc.omp)
			if got := ResolveTrainingThreads(tc.flag); got != tc.want {
				t.Errorf("ResolveTrainingThreads(%d) with OMP_NUM_THREADS=%q = %d, want %d", tc.flag, tc.omp, got, tc.want)
			}
		})
	}
}
