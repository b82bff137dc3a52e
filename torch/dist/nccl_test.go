package dist_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// TestNCCLGroupCUDA is the one-GPU NCCL smoke test that gpu-check.sh's cuda-tests stage runs
// (it selects tests named *CUDA*): a group of one rank on the NCCL backend all-reduces,
// averages and broadcasts a CUDA tensor and passes a barrier. With one rank each collective
// returns its input, so the values check that the data went through NCCL and back intact.
// Without a device it skips; the torch 2 lane still compiles and links the NCCL code it calls.
func TestNCCLGroupCUDA(t *testing.T) {
	if !torch.CUDAAvailable() {
		t.Skip("no CUDA device (run third_party/libtorch/gpu-check.sh on a GPU machine)")
	}
	if !dist.NCCL.Available() {
		t.Fatal("CUDA is available but this build has no NCCL: build with TORCHENV_CUDA=1 against a CUDA PyTorch with nvidia-nccl")
	}
	env, err := dist.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := dist.Init(ctx, dist.Config{Env: env, Backend: dist.NCCL, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	want := []float32{1, -2.5, 3, 1e6}
	for _, op := range []dist.Op{dist.Sum, dist.Avg} {
		x := torch.FromSlice(s, want, 4).ToDevice(s, torch.CUDA(0))
		if err := g.AllReduce(ctx, x, op); err != nil {
			t.Fatalf("all-reduce %v: %v", op, err)
		}
		if got := x.ToDevice(s, torch.CPU).Float64s(); !slices.Equal(got, []float64{1, -2.5, 3, 1e6}) {
			t.Errorf("all-reduce %v over one rank: %v, want the input %v", op, got, want)
		}
	}
	y := torch.FromSlice(s, want, 4).ToDevice(s, torch.CUDA(0))
	if err := g.Broadcast(ctx, y, 0); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	if err := g.Barrier(ctx); err != nil {
		t.Fatalf("barrier: %v", err)
	}
}
