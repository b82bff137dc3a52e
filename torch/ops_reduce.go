package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

func (t *Tensor) reduce(s *Scope, op int, name string, dims []int64, keep bool) *Tensor {
	h, err := shim.Reduce(op, t.handle(name), dims, keep, s.mode())
	return s.result(name, h, err)
}

// Sum sums over dims (every dim when dims is empty).
func (t *Tensor) Sum(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Sum, "sum", dims, keepdim)
}

// SumAll sums every element into a 0-d tensor.
func (t *Tensor) SumAll(s *Scope) *Tensor { return t.reduce(s, shim.Sum, "sum", nil, false) }

// Mean averages over dims (every dim when dims is empty).
func (t *Tensor) Mean(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Mean, "mean", dims, keepdim)
}

// MeanAll averages every element into a 0-d tensor.
func (t *Tensor) MeanAll(s *Scope) *Tensor { return t.reduce(s, shim.Mean, "mean", nil, false) }

// Amax is the maximum over dims.
func (t *Tensor) Amax(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Amax, "amax", dims, keepdim)
}

// Amin is the minimum over dims.
func (t *Tensor) Amin(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Amin, "amin", dims, keepdim)
}

// MaxAll is the largest element as a 0-d tensor.
func (t *Tensor) MaxAll(s *Scope) *Tensor { return t.reduce(s, shim.Amax, "max", nil, false) }

// MinAll is the smallest element as a 0-d tensor.
func (t *Tensor) MinAll(s *Scope) *Tensor { return t.reduce(s, shim.Amin, "min", nil, false) }

// Prod multiplies over one dim (every element when dims is empty).
func (t *Tensor) Prod(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Prod, "prod", dims, keepdim)
}

// LogSumExp is log Σ exp over dims.
func (t *Tensor) LogSumExp(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.LogSumExp, "logsumexp", dims, keepdim)
}

// All reports whether every element is true (over one dim, or all when dims is empty).
func (t *Tensor) All(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.All, "all", dims, keepdim)
}

// Any reports whether some element is true.
func (t *Tensor) Any(s *Scope, dims []int64, keepdim bool) *Tensor {
	return t.reduce(s, shim.Any, "any", dims, keepdim)
}

// Max is the maximum over one dim with its indices.
func (t *Tensor) Max(s *Scope, dim int64, keepdim bool) (values, indices *Tensor) {
	a, b, err := shim.ReduceDim2(0, t.handle("max"), dim, keepdim, s.mode())
	return s.result2("max", a, b, err)
}

// Min is the minimum over one dim with its indices.
func (t *Tensor) Min(s *Scope, dim int64, keepdim bool) (values, indices *Tensor) {
	a, b, err := shim.ReduceDim2(1, t.handle("min"), dim, keepdim, s.mode())
	return s.result2("min", a, b, err)
}

// Sort sorts along dim with the permutation indices.
func (t *Tensor) Sort(s *Scope, dim int64, descending bool) (values, indices *Tensor) {
	a, b, err := shim.ReduceDim2(2, t.handle("sort"), dim, descending, s.mode())
	return s.result2("sort", a, b, err)
}

// Argmax is the index of the maximum along dim.
func (t *Tensor) Argmax(s *Scope, dim int64, keepdim bool) *Tensor {
	h, err := shim.Argmax(t.handle("argmax"), dim, true, keepdim, false)
	return s.result("argmax", h, err)
}

// ArgmaxAll is the flat index of the maximum.
func (t *Tensor) ArgmaxAll(s *Scope) *Tensor {
	h, err := shim.Argmax(t.handle("argmax"), 0, false, false, false)
	return s.result("argmax", h, err)
}

// Argmin is the index of the minimum along dim.
func (t *Tensor) Argmin(s *Scope, dim int64, keepdim bool) *Tensor {
	h, err := shim.Argmax(t.handle("argmin"), dim, true, keepdim, true)
	return s.result("argmin", h, err)
}

// Var is the variance over dims (all when empty), unbiased as PyTorch's default.
func (t *Tensor) Var(s *Scope, dims []int64, unbiased, keepdim bool) *Tensor {
	h, err := shim.Var(t.handle("var"), dims, unbiased, keepdim, s.mode())
	return s.result("var", h, err)
}

// Norm is the p-norm over dims (all when empty).
func (t *Tensor) Norm(s *Scope, p float64, dims []int64, keepdim bool) *Tensor {
	h, err := shim.Norm(t.handle("norm"), p, dims, keepdim, s.mode())
	return s.result("norm", h, err)
}

// Cumsum is the running sum along dim.
func (t *Tensor) Cumsum(s *Scope, dim int64) *Tensor {
	h, err := shim.Cumsum(t.handle("cumsum"), dim, s.mode())
	return s.result("cumsum", h, err)
}

// Topk is the k largest (or smallest) values along dim with their indices.
func (t *Tensor) Topk(s *Scope, k, dim int64, largest, sorted bool) (values, indices *Tensor) {
	a, b, err := shim.Topk(t.handle("topk"), k, dim, largest, sorted, s.mode())
	return s.result2("topk", a, b, err)
}
