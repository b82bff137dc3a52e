package tinyvit_test

import (
	"runtime"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// BenchmarkForward1024 times one eval-mode vit_t forward of a 1024×1024 image on the CPU
// with BENCH_THREADS intra-op threads, default 2 (compare: third_party/bench/tinyvit_bench.py;
// third_party/bench/interleave_models.py runs the two alternately).
func BenchmarkForward1024(b *testing.B) {
	runtime.LockOSThread() // one OpenMP team (see prsmed's benchmarks)
	defer runtime.UnlockOSThread()
	torch.SetNumThreads(torchtest.BenchThreads(2))
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	enc, err := tinyvit.New(st.Root(), tinyvit.VitT())
	if err != nil {
		b.Fatal(err)
	}
	in := torch.NewScope(torch.CPU).Eval()
	defer in.Close()
	x := torch.Randn(in, nil, torch.Float32, 1, 3, 1024, 1024)
	warm := torch.NewScope(torch.CPU).Eval().NoGrad() // as the PyTorch side, one untimed forward first
	enc.Forward(warm, x)
	warm.Close()
	done := torchtest.CPUPerOp(b)
	for i := 0; i < b.N; i++ {
		s := torch.NewScope(torch.CPU).Eval().NoGrad()
		enc.Forward(s, x)
		s.Close()
	}
	done()
}
