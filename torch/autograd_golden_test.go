package torch_test

// Autograd against autograd.safetensors: a graph with Backward, BackwardWith a gradient,
// gradients accumulating over two backward calls, retain_graph, ZeroGrad, Detach, and
// ClipGradNorm against torch.nn.utils.clip_grad_norm_.

import (
	"errors"
	"math"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func TestGoldenAutograd(t *testing.T) {
	base := torch.LiveTensors()
	f := loadGoldenFile(t, "autograd")
	tol := torchtest.DefaultTol(torch.Float32)
	leaf := func(s *torch.Scope, name string) *torch.Tensor {
		return f.Tensor(s, name).SetRequiresGrad(true)
	}

	t.Run("graph", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x, w := leaf(s, "graph.x"), leaf(s, "graph.w")
		loss := x.Matmul(s, w).Tanh(s).PowScalar(s, 2).MeanAll(s).Add(s, x.Exp(s).SumAll(s).MulScalar(s, 0.01))
		if !loss.RequiresGrad() || loss.IsLeaf() {
			t.Errorf("loss: RequiresGrad %v IsLeaf %v, want true false", loss.RequiresGrad(), loss.IsLeaf())
		}
		if !x.IsLeaf() {
			t.Errorf("x is not a leaf")
		}
		loss.Backward()
		torchtest.AllCloseRaw(t, "loss", loss, f.Raw("graph.loss"), tol)
		torchtest.AllCloseRaw(t, "grad x", x.Grad(s), f.Raw("graph.grad_x"), tol)
		torchtest.AllCloseRaw(t, "grad w", w.Grad(s), f.Raw("graph.grad_w"), tol)
	})

	t.Run("backward_with", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x, w := leaf(s, "backward_with.x"), leaf(s, "backward_with.w")
		y := x.Mul(s, w).Add(s, x.Sin(s))
		y.BackwardWith(f.Tensor(s, "backward_with.gy"), false)
		torchtest.AllCloseRaw(t, "grad x", x.Grad(s), f.Raw("backward_with.grad_x"), tol)
		torchtest.AllCloseRaw(t, "grad w", w.Grad(s), f.Raw("backward_with.grad_w"), tol)
		// Backward of a non-scalar without a gradient is an error, not a crash.
		s2 := s.Child()
		defer s2.Close()
		z := x.Mul(s2, w)
		if err := torch.Try(z.Backward); err == nil {
			t.Errorf("Backward of a 3×4 tensor without a gradient succeeded")
		}
	})

	t.Run("accumulate_and_zero_grad", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x := leaf(s, "accumulate.x")
		if g := x.Grad(s); g != nil {
			t.Fatalf("a fresh leaf has a gradient")
		}
		x.MulScalar(s, 2).SumAll(s).Backward()
		torchtest.AllCloseRaw(t, "after first backward", x.Grad(s), f.Raw("accumulate.grad_first"), tol)
		x.PowScalar(s, 3).SumAll(s).Backward()
		torchtest.AllCloseRaw(t, "accumulated over two", x.Grad(s), f.Raw("accumulate.grad"), tol)
		x.ZeroGrad()
		if g := x.Grad(s); g != nil {
			t.Errorf("Grad after ZeroGrad is not nil")
		}
		x.PowScalar(s, 3).SumAll(s).Backward()
		torchtest.AllCloseRaw(t, "after ZeroGrad", x.Grad(s), f.Raw("accumulate.grad_cube"), tol)
	})

	t.Run("retain_graph", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x := leaf(s, "retain.x")
		gy := f.Tensor(s, "retain.gy")
		y := x.Exp(s).Mul(s, x)
		y.BackwardWith(gy, true)
		y.BackwardWith(gy, false)
		torchtest.AllCloseRaw(t, "grad after two passes", x.Grad(s), f.Raw("retain.grad"), tol)
		// A third pass through the freed graph fails with a *torch.Error.
		err := torch.Try(func() { y.BackwardWith(gy, false) })
		var te *torch.Error
		if !errors.As(err, &te) {
			t.Errorf("backward through a freed graph: got %v, want a *torch.Error", err)
		}
	})

	t.Run("detach", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x := leaf(s, "detach.x")
		xd := x.Detach(s)
		if xd.RequiresGrad() {
			t.Errorf("Detach result requires grad")
		}
		x.Detach(s).Mul(s, x).Mul(s, x.Detach(s).Exp(s)).SumAll(s).Backward()
		torchtest.AllCloseRaw(t, "grad", x.Grad(s), f.Raw("detach.grad"), tol)
		// Detach shares storage: it reads the same values.
		torchtest.AllCloseRaw(t, "detach values", xd, f.Raw("detach.x"), torchtest.Tol{Exact: true})
	})

	t.Run("no_grad_scope", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		x := leaf(s, "graph.x")
		ng := s.NoGrad()
		defer ng.Close()
		y := x.Exp(ng).SumAll(ng)
		if y.RequiresGrad() {
			t.Errorf("an op in a NoGrad scope recorded history")
		}
		if err := torch.Try(y.Backward); err == nil {
			t.Errorf("Backward of a no-grad result succeeded")
		}
	})

	for _, c := range []struct {
		name             string
		maxNorm, normTyp float64
	}{{"clip_l2", 0.5, 2}, {"clip_inf", 0.3, math.Inf(1)}, {"clip_noop", 100, 2}, {"clip_l1", 1, 1}} {
		t.Run(c.name, func(t *testing.T) {
			s := torch.NewScope(torch.CPU)
			defer s.Close()
			p0, p1 := leaf(s, c.name+".p0"), leaf(s, c.name+".p1")
			g0, g1 := f.Tensor(s, c.name+".g0"), f.Tensor(s, c.name+".g1")
			p0.Mul(s, g0).SumAll(s).Add(s, p1.Mul(s, g1).SumAll(s)).Backward()
			total := torch.ClipGradNorm([]*torch.Tensor{p0, p1}, c.maxNorm, c.normTyp)
			want := f.Raw(c.name + ".total").Float64s()[0]
			st := torchtest.CompareValues([]float64{total}, []float64{want}, torchtest.Tol{RTol: 1e-6})
			if !st.OK() {
				t.Errorf("total norm %.9g, want %.9g (%s)", total, want, st)
			} else {
				t.Logf("%-28s max_abs %.3g  max_rel %.3g", "total norm", st.MaxAbs, st.MaxRel)
			}
			torchtest.AllCloseRaw(t, "clipped grad0", p0.Grad(s), f.Raw(c.name+".grad0"), tol)
			torchtest.AllCloseRaw(t, "clipped grad1", p1.Grad(s), f.Raw(c.name+".grad1"), tol)
		})
	}

	t.Run("clip_no_grads", func(t *testing.T) {
		s := torch.NewScope(torch.CPU)
		defer s.Close()
		p := torch.Ones(s, torch.Float32, 3).SetRequiresGrad(true)
		if n := torch.ClipGradNorm([]*torch.Tensor{p}, 1, 2); n != 0 {
			t.Errorf("ClipGradNorm without gradients = %g, want 0", n)
		}
	})

	if got := torch.LiveTensors(); got != base {
		t.Errorf("LiveTensors: %d after, %d before", got, base)
	}
}
