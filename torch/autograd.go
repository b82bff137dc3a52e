package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// SetRequiresGrad marks a leaf tensor as a parameter whose gradient backward accumulates.
func (t *Tensor) SetRequiresGrad(flag bool) *Tensor {
	if err := shim.SetRequiresGrad(t.handle("requires_grad"), flag); err != nil {
		panic(newError("requires_grad", err))
	}
	return t
}

// RequiresGrad reports whether autograd tracks the tensor.
func (t *Tensor) RequiresGrad() bool { return shim.RequiresGrad(t.handle("requires_grad")) }

// IsLeaf reports whether the tensor is an autograd leaf.
func (t *Tensor) IsLeaf() bool { return shim.IsLeaf(t.handle("is_leaf")) }

// Backward accumulates d(t)/d(leaf) into every leaf's gradient; t must be a scalar.
func (t *Tensor) Backward() {
	if err := shim.Backward(t.handle("backward"), shim.Handle{}, false); err != nil {
		panic(newError("backward", err))
	}
}

// BackwardWith backpropagates a gradient of t's shape; retain keeps the graph for another pass.
func (t *Tensor) BackwardWith(grad *Tensor, retain bool) {
	if err := shim.Backward(t.handle("backward"), opt("backward", grad), retain); err != nil {
		panic(newError("backward", err))
	}
}

// Grad is the accumulated gradient (sharing its storage), or nil when there is none.
func (t *Tensor) Grad(s *Scope) *Tensor {
	h, err := shim.Grad(t.handle("grad"))
	if err != nil {
		panic(newError("grad", err))
	}
	if h.IsNil() {
		return nil
	}
	return s.adopt(h)
}

// ZeroGrad drops the accumulated gradient (sets it to None, PyTorch 2.x's default).
func (t *Tensor) ZeroGrad() {
	if err := shim.ZeroGrad(t.handle("zero_grad"), true); err != nil {
		panic(newError("zero_grad", err))
	}
}

// ClipGradNorm is ClipGradNormTensor returning the norm before clipping as a host float64
// (0 when no parameter has a gradient), for logging. Reading the value waits for the
// device to finish all queued work (a host synchronisation on CUDA); inside a training
// step prefer ClipGradNormTensor and read the norm later, or not at all.
func ClipGradNorm(params []*Tensor, maxNorm, normType float64) float64 {
	s := NewScope(CPU)
	defer s.Close()
	t := ClipGradNormTensor(s, params, maxNorm, normType)
	if t == nil {
		return 0
	}
	return t.Item()
}

// CopyFrom copies src's values into t in place (no autograd), broadcasting and casting.
func (t *Tensor) CopyFrom(src *Tensor) {
	if err := shim.CopyInto(t.handle("copy_"), src.handle("copy_")); err != nil {
		panic(newError("copy_", err))
	}
}

// SetData makes t use src's storage, shape, dtype and device, keeping t's identity and
// autograd flag, as PyTorch's `param.data = src`; it is how a parameter moves device or
// dtype while layers keep pointing at it.
func (t *Tensor) SetData(src *Tensor) {
	if err := shim.SetData(t.handle("set_data"), src.handle("set_data")); err != nil {
		panic(newError("set_data", err))
	}
}

// Fill sets every element to v in place (no autograd).
func (t *Tensor) Fill(v float64) {
	if err := shim.Fill(t.handle("fill_"), v); err != nil {
		panic(newError("fill_", err))
	}
}

// UniformFill draws U(a, b) values in place from g (nil: the default generator).
func (t *Tensor) UniformFill(a, b float64, g *Generator) {
	if err := shim.RandomFill(t.handle("uniform_"), 0, a, b, g.genFor("uniform_", t.Device(), true)); err != nil {
		panic(newError("uniform_", err))
	}
}

// NormalFill draws N(mean, std²) values in place from g (nil: the default generator).
func (t *Tensor) NormalFill(mean, std float64, g *Generator) {
	if err := shim.RandomFill(t.handle("normal_"), 1, mean, std, g.genFor("normal_", t.Device(), true)); err != nil {
		panic(newError("normal_", err))
	}
}
