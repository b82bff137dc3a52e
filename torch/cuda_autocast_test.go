package torch_test

// CUDA checks of autocast and generators (skipped without a CUDA device; run them with
// third_party/libtorch/gpu-check.sh).

import (
	"errors"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// Under CUDA bf16 autocast a linear layer computes in bfloat16 (output bf16, within bf16
// rounding of the float32 CPU result), its float32 leaves get float32 gradients close to the
// CPU float32 ones, and closing the step's scope returns CUDA memory to the baseline: no
// autocast cast cache survives a call.
func TestCUDAAutocastBF16(t *testing.T) {
	needCUDA(t)
	dev := torch.CUDA(0)
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	g, err := torch.NewGenerator(11, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	x := torch.Randn(root, g, torch.Float32, 32, 64)
	w := torch.Randn(root, g, torch.Float32, 48, 64).DivScalar(root, 8).SetRequiresGrad(true)
	b := torch.Randn(root, g, torch.Float32, 48).SetRequiresGrad(true)
	gout := torch.Randn(root, g, torch.Float32, 32, 48)
	// Float32 reference on the CPU.
	ref := torch.Linear(root, x, w, b)
	ref.Mul(root, gout).SumAll(root).Backward()
	refW, refB := w.Grad(root).Clone(root), b.Grad(root).Clone(root)

	gs := root.On(dev)
	defer gs.Close()
	wg := w.Detach(gs).ToDevice(gs, dev).SetRequiresGrad(true)
	bg := b.Detach(gs).ToDevice(gs, dev).SetRequiresGrad(true)
	xg, goutg := x.ToDevice(gs, dev), gout.ToDevice(gs, dev)
	if err := torch.CUDASynchronize(dev); err != nil {
		t.Fatal(err)
	}
	base, err := torch.CUDAMemory(dev)
	if err != nil {
		t.Fatal(err)
	}
	// bfloat16 keeps 8 significant bits: elements within 2% of their value, or 1% of the
	// tensor's largest magnitude (a dot product of bf16-rounded inputs errs relative to the
	// whole sum, not to its possibly cancelled result).
	bf := torchtest.Tol{RTol: 2e-2, ATol: 1e-2}
	for step := 0; step < 3; step++ {
		s := gs.Child()
		ac := s.Autocast(torch.BFloat16)
		y := torch.Linear(ac, xg, wg, bg)
		if y.DType() != torch.BFloat16 || y.Device() != dev {
			t.Fatalf("step %d: output %s on %v, want bfloat16 on %v", step, y.DType(), y.Device(), dev)
		}
		// The loss in float32, outside autocast.
		y.ToDType(s, torch.Float32).Mul(s, goutg).SumAll(s).Backward()
		if step == 0 {
			torchtest.AllCloseTol(t, "bf16 autocast linear vs cpu float32", y.To(s, torch.CPU, torch.Float32), ref, bf)
			if dt := wg.Grad(s).DType(); dt != torch.Float32 {
				t.Errorf("weight gradient is %s, want float32", dt)
			}
			torchtest.AllCloseTol(t, "grad w", wg.Grad(s).ToDevice(s, torch.CPU), refW, bf)
			torchtest.AllCloseTol(t, "grad b", bg.Grad(s).ToDevice(s, torch.CPU), refB, bf)
		}
		wg.ZeroGrad()
		bg.ZeroGrad()
		s.Close()
		if err := torch.CUDASynchronize(dev); err != nil {
			t.Fatal(err)
		}
		after, _ := torch.CUDAMemory(dev)
		if after.Allocated != base.Allocated {
			t.Errorf("step %d: %d bytes allocated after the scope closed, baseline %d", step, after.Allocated, base.Allocated)
		}
	}
}

// A CUDA generator draws reproducible streams on its device; a CPU generator given to an op
// on a CUDA tensor is refused with ErrDevice, not libtorch's opaque message.
func TestCUDAGenerator(t *testing.T) {
	needCUDA(t)
	dev := torch.CUDA(0)
	s := torch.NewScope(dev)
	defer s.Close()
	draw := func() (*torch.Tensor, *torch.Tensor) {
		g, err := torch.NewGenerator(5, dev)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if g.Device() != dev {
			t.Fatalf("generator on %v, want %v", g.Device(), dev)
		}
		r := torch.Randn(s, g, torch.Float32, 256)
		d := torch.Dropout(s, torch.Ones(s, torch.Float32, 256), 0.5, true, g)
		return r, d
	}
	r1, d1 := draw()
	r2, d2 := draw()
	torchtest.AllCloseTol(t, "randn, same seed", r2, r1, torchtest.Tol{Exact: true})
	torchtest.AllCloseTol(t, "dropout, same seed", d2, d1, torchtest.Tol{Exact: true})
	if r1.Device() != dev || d1.Device() != dev {
		t.Errorf("drawn on %v and %v", r1.Device(), d1.Device())
	}
	cpuGen, err := torch.NewGenerator(5, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer cpuGen.Close()
	err = torch.Try(func() { torch.Dropout(s, torch.Ones(s, torch.Float32, 8), 0.5, true, cpuGen) })
	if !errors.Is(err, torch.ErrDevice) {
		t.Errorf("dropout on cuda with a cpu generator: %v, want ErrDevice", err)
	}
}
