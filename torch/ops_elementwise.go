package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

func (t *Tensor) unary(s *Scope, op int, name string) *Tensor {
	h, err := shim.Unary(op, t.handle(name), s.mode())
	return s.result(name, h, err)
}

func (t *Tensor) binary(s *Scope, op int, name string, o *Tensor) *Tensor {
	h, err := shim.Binary(op, t.handle(name), o.handle(name), s.mode())
	return s.result(name, h, err)
}

func (t *Tensor) scalar(s *Scope, op int, name string, v float64) *Tensor {
	h, err := shim.BinaryScalar(op, t.handle(name), v, s.mode())
	return s.result(name, h, err)
}

// Neg is -t.
func (t *Tensor) Neg(s *Scope) *Tensor { return t.unary(s, shim.Neg, "neg") }

// Exp is e^t.
func (t *Tensor) Exp(s *Scope) *Tensor { return t.unary(s, shim.Exp, "exp") }

// Log is the natural logarithm.
func (t *Tensor) Log(s *Scope) *Tensor { return t.unary(s, shim.Log, "log") }

// Log1p is log(1 + t).
func (t *Tensor) Log1p(s *Scope) *Tensor { return t.unary(s, shim.Log1p, "log1p") }

// Sqrt is the square root.
func (t *Tensor) Sqrt(s *Scope) *Tensor { return t.unary(s, shim.Sqrt, "sqrt") }

// Rsqrt is 1/√t.
func (t *Tensor) Rsqrt(s *Scope) *Tensor { return t.unary(s, shim.Rsqrt, "rsqrt") }

// Square is t².
func (t *Tensor) Square(s *Scope) *Tensor { return t.unary(s, shim.Square, "square") }

// Reciprocal is 1/t.
func (t *Tensor) Reciprocal(s *Scope) *Tensor { return t.unary(s, shim.Reciprocal, "reciprocal") }

// Abs is |t|.
func (t *Tensor) Abs(s *Scope) *Tensor { return t.unary(s, shim.Abs, "abs") }

// Sin is the sine.
func (t *Tensor) Sin(s *Scope) *Tensor { return t.unary(s, shim.Sin, "sin") }

// Cos is the cosine.
func (t *Tensor) Cos(s *Scope) *Tensor { return t.unary(s, shim.Cos, "cos") }

// Erf is the error function.
func (t *Tensor) Erf(s *Scope) *Tensor { return t.unary(s, shim.Erf, "erf") }

// Erfinv is the inverse error function.
func (t *Tensor) Erfinv(s *Scope) *Tensor { return t.unary(s, shim.Erfinv, "erfinv") }

// Floor rounds down.
func (t *Tensor) Floor(s *Scope) *Tensor { return t.unary(s, shim.Floor, "floor") }

// Ceil rounds up.
func (t *Tensor) Ceil(s *Scope) *Tensor { return t.unary(s, shim.Ceil, "ceil") }

// Round rounds half to even, as torch.round.
func (t *Tensor) Round(s *Scope) *Tensor { return t.unary(s, shim.Round, "round") }

// Sign is -1, 0 or 1.
func (t *Tensor) Sign(s *Scope) *Tensor { return t.unary(s, shim.Sign, "sign") }

// LogicalNot is !t as bool.
func (t *Tensor) LogicalNot(s *Scope) *Tensor { return t.unary(s, shim.LogicalNot, "logical_not") }

// IsNaN marks NaN elements.
func (t *Tensor) IsNaN(s *Scope) *Tensor { return t.unary(s, shim.IsNaN, "isnan") }

// IsFinite marks finite elements.
func (t *Tensor) IsFinite(s *Scope) *Tensor { return t.unary(s, shim.IsFinite, "isfinite") }

// Relu is max(t, 0).
func (t *Tensor) Relu(s *Scope) *Tensor { return t.unary(s, shim.Relu, "relu") }

// Sigmoid is 1/(1+e^-t).
func (t *Tensor) Sigmoid(s *Scope) *Tensor { return t.unary(s, shim.Sigmoid, "sigmoid") }

// Tanh is the hyperbolic tangent.
func (t *Tensor) Tanh(s *Scope) *Tensor { return t.unary(s, shim.Tanh, "tanh") }

// Silu is t·sigmoid(t).
func (t *Tensor) Silu(s *Scope) *Tensor { return t.unary(s, shim.Silu, "silu") }

// Gelu is the exact GELU (approximate="none").
func (t *Tensor) Gelu(s *Scope) *Tensor { return t.unary(s, shim.Gelu, "gelu") }

// GeluTanh is the tanh approximation of GELU (approximate="tanh").
func (t *Tensor) GeluTanh(s *Scope) *Tensor { return t.unary(s, shim.GeluTanh, "gelu") }

// Contiguous returns a contiguous tensor with the same values.
func (t *Tensor) Contiguous(s *Scope) *Tensor { return t.unary(s, shim.Contiguous, "contiguous") }

// Clone copies the tensor (keeping autograd history).
func (t *Tensor) Clone(s *Scope) *Tensor { return t.unary(s, shim.Clone, "clone") }

// Detach shares storage but drops autograd history.
func (t *Tensor) Detach(s *Scope) *Tensor { return t.unary(s, shim.Detach, "detach") }

// Add is t + o with broadcasting.
func (t *Tensor) Add(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Add, "add", o) }

// Sub is t - o.
func (t *Tensor) Sub(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Sub, "sub", o) }

// Mul is t · o elementwise.
func (t *Tensor) Mul(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Mul, "mul", o) }

// Div is t / o.
func (t *Tensor) Div(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Div, "div", o) }

// Pow is t^o.
func (t *Tensor) Pow(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Pow, "pow", o) }

// Remainder is Python's modulus.
func (t *Tensor) Remainder(s *Scope, o *Tensor) *Tensor {
	return t.binary(s, shim.Remainder, "remainder", o)
}

// FloorDivide is t // o.
func (t *Tensor) FloorDivide(s *Scope, o *Tensor) *Tensor {
	return t.binary(s, shim.FloorDivide, "floor_divide", o)
}

// Atan2 is atan2(t, o).
func (t *Tensor) Atan2(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Atan2, "atan2", o) }

// Maximum is the elementwise maximum.
func (t *Tensor) Maximum(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Maximum, "maximum", o) }

// Minimum is the elementwise minimum.
func (t *Tensor) Minimum(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Minimum, "minimum", o) }

// Eq is t == o as bool.
func (t *Tensor) Eq(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Eq, "eq", o) }

// Ne is t != o.
func (t *Tensor) Ne(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Ne, "ne", o) }

// Lt is t < o.
func (t *Tensor) Lt(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Lt, "lt", o) }

// Le is t <= o.
func (t *Tensor) Le(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Le, "le", o) }

// Gt is t > o.
func (t *Tensor) Gt(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Gt, "gt", o) }

// Ge is t >= o.
func (t *Tensor) Ge(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Ge, "ge", o) }

// LogicalAnd is t && o.
func (t *Tensor) LogicalAnd(s *Scope, o *Tensor) *Tensor {
	return t.binary(s, shim.LogicalAnd, "logical_and", o)
}

// LogicalOr is t || o.
func (t *Tensor) LogicalOr(s *Scope, o *Tensor) *Tensor {
	return t.binary(s, shim.LogicalOr, "logical_or", o)
}

// AddScalar is t + v.
func (t *Tensor) AddScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Add, "add", v) }

// SubScalar is t - v.
func (t *Tensor) SubScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Sub, "sub", v) }

// RSubScalar is v - t.
func (t *Tensor) RSubScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Rsub, "rsub", v) }

// MulScalar is t · v.
func (t *Tensor) MulScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Mul, "mul", v) }

// DivScalar is t / v.
func (t *Tensor) DivScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Div, "div", v) }

// PowScalar is t^v.
func (t *Tensor) PowScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Pow, "pow", v) }

// EqScalar is t == v.
func (t *Tensor) EqScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Eq, "eq", v) }

// NeScalar is t != v.
func (t *Tensor) NeScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Ne, "ne", v) }

// LtScalar is t < v.
func (t *Tensor) LtScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Lt, "lt", v) }

// LeScalar is t <= v.
func (t *Tensor) LeScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Le, "le", v) }

// GtScalar is t > v.
func (t *Tensor) GtScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Gt, "gt", v) }

// GeScalar is t >= v.
func (t *Tensor) GeScalar(s *Scope, v float64) *Tensor { return t.scalar(s, shim.Ge, "ge", v) }

// Where picks a where cond is true and b elsewhere.
func Where(s *Scope, cond, a, b *Tensor) *Tensor {
	h, err := shim.Where(cond.handle("where"), a.handle("where"), b.handle("where"), s.mode())
	return s.result("where", h, err)
}

// Clamp limits values to [lo, hi].
func (t *Tensor) Clamp(s *Scope, lo, hi float64) *Tensor {
	h, err := shim.Clamp(t.handle("clamp"), lo, hi, true, true, s.mode())
	return s.result("clamp", h, err)
}

// ClampMin limits values from below.
func (t *Tensor) ClampMin(s *Scope, lo float64) *Tensor {
	h, err := shim.Clamp(t.handle("clamp"), lo, 0, true, false, s.mode())
	return s.result("clamp", h, err)
}

// ClampMax limits values from above.
func (t *Tensor) ClampMax(s *Scope, hi float64) *Tensor {
	h, err := shim.Clamp(t.handle("clamp"), 0, hi, false, true, s.mode())
	return s.result("clamp", h, err)
}

// MaskedFill sets v where mask (bool, broadcastable) is true.
func (t *Tensor) MaskedFill(s *Scope, mask *Tensor, v float64) *Tensor {
	h, err := shim.MaskedFill(t.handle("masked_fill"), mask.handle("masked_fill"), v, s.mode())
	return s.result("masked_fill", h, err)
}

// Triu keeps the upper triangle from diagonal k.
func (t *Tensor) Triu(s *Scope, k int64) *Tensor {
	h, err := shim.Triangle(t.handle("triu"), k, true, s.mode())
	return s.result("triu", h, err)
}

// Tril keeps the lower triangle up to diagonal k.
func (t *Tensor) Tril(s *Scope, k int64) *Tensor {
	h, err := shim.Triangle(t.handle("tril"), k, false, s.mode())
	return s.result("tril", h, err)
}

// To moves and casts the tensor (a new tensor even when nothing changes).
func (t *Tensor) To(s *Scope, dev Device, dt DType) *Tensor {
	h, err := shim.To(t.handle("to"), dev.code(), int(dt), true, s.mode())
	return s.result("to", h, err)
}

// ToDType casts on the same device.
func (t *Tensor) ToDType(s *Scope, dt DType) *Tensor { return t.To(s, t.Device(), dt) }

// ToDevice moves keeping the dtype.
func (t *Tensor) ToDevice(s *Scope, dev Device) *Tensor { return t.To(s, dev, t.DType()) }

// Addcmul is t + v·a·b.
func (t *Tensor) Addcmul(s *Scope, a, b *Tensor, v float64) *Tensor {
	h, err := shim.Addcmul(t.handle("addcmul"), a.handle("addcmul"), b.handle("addcmul"), v, s.mode())
	return s.result("addcmul", h, err)
}
