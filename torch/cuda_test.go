package torch_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func needCUDA(t *testing.T) {
	t.Helper()
	if !torch.CUDAAvailable() {
		t.Skip("no CUDA device (build with -tags torchenv against a CUDA PyTorch: third_party/libtorch/gpu-check.sh)")
	}
}

func TestCUDAMovesAndMatchesCPU(t *testing.T) {
	needCUDA(t)
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	g := s.On(torch.CUDA(0))
	defer g.Close()
	x := torch.Randn(s, nil, torch.Float32, 64, 48)
	w := torch.Randn(s, nil, torch.Float32, 48, 32)
	cpu := x.Matmul(s, w).Gelu(s).Softmax(s, -1)
	xg, wg := x.ToDevice(g, torch.CUDA(0)), w.ToDevice(g, torch.CUDA(0))
	if d := xg.Device(); d != torch.CUDA(0) {
		t.Fatalf("moved tensor is on %v", d)
	}
	gpu := xg.Matmul(g, wg).Gelu(g).Softmax(g, -1)
	torchtest.AllClose(t, "matmul+gelu+softmax on cuda vs cpu", gpu.ToDevice(s, torch.CPU), cpu, 1e-4)

	// A bf16 matmul on the GPU against the float32 result.
	bf := xg.ToDType(g, torch.BFloat16).Matmul(g, wg.ToDType(g, torch.BFloat16))
	torchtest.AllClose(t, "bf16 matmul", bf.To(s, torch.CPU, torch.Float32), x.Matmul(s, w), 3e-2)
}

func TestCUDAMemoryReturnsToBaseline(t *testing.T) {
	needCUDA(t)
	dev := torch.CUDA(0)
	if err := torch.CUDASynchronize(dev); err != nil {
		t.Fatal(err)
	}
	before, err := torch.CUDAMemory(dev)
	if err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(dev)
	for i := 0; i < 20; i++ {
		x := torch.Randn(s, nil, torch.Float32, 1024, 1024)
		x.Matmul(s, x).SumAll(s)
	}
	mid, _ := torch.CUDAMemory(dev)
	if mid.Allocated <= before.Allocated {
		t.Fatalf("allocated %d bytes with 20 live 4 MB tensors, baseline %d", mid.Allocated, before.Allocated)
	}
	s.Close()
	if err := torch.CUDASynchronize(dev); err != nil {
		t.Fatal(err)
	}
	after, _ := torch.CUDAMemory(dev)
	if after.Allocated != before.Allocated {
		t.Fatalf("allocated %d bytes after Close, baseline %d", after.Allocated, before.Allocated)
	}
	if err := torch.CUDAEmptyCache(); err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline %d, peak-ish %d, after close %d bytes allocated", before.Allocated, mid.Allocated, after.Allocated)
}
