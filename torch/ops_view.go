package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

func (t *Tensor) shapeOp(s *Scope, op int, name string, v []int64) *Tensor {
	h, err := shim.ShapeOp(op, t.handle(name), v, s.mode())
	return s.result(name, h, err)
}

// Reshape gives the tensor a new shape (one size may be -1), copying only when needed.
func (t *Tensor) Reshape(s *Scope, shape ...int64) *Tensor {
	return t.shapeOp(s, shim.Reshape, "reshape", shape)
}

// View is Reshape that never copies (it fails on incompatible strides).
func (t *Tensor) View(s *Scope, shape ...int64) *Tensor {
	return t.shapeOp(s, shim.View, "view", shape)
}

// Permute reorders dims.
func (t *Tensor) Permute(s *Scope, dims ...int64) *Tensor {
	return t.shapeOp(s, shim.Permute, "permute", dims)
}

// Expand broadcasts size-1 dims to shape (-1 keeps a size).
func (t *Tensor) Expand(s *Scope, shape ...int64) *Tensor {
	return t.shapeOp(s, shim.Expand, "expand", shape)
}

// Flip reverses the order along dims.
func (t *Tensor) Flip(s *Scope, dims ...int64) *Tensor { return t.shapeOp(s, shim.Flip, "flip", dims) }

// Transpose swaps two dims.
func (t *Tensor) Transpose(s *Scope, d0, d1 int64) *Tensor {
	h, err := shim.Transpose(t.handle("transpose"), d0, d1, s.mode())
	return s.result("transpose", h, err)
}

// T swaps the last two dims.
func (t *Tensor) T(s *Scope) *Tensor { return t.Transpose(s, -2, -1) }

// Squeeze removes dim if its size is 1.
func (t *Tensor) Squeeze(s *Scope, dim int64) *Tensor {
	h, err := shim.Squeeze(t.handle("squeeze"), dim, true, s.mode())
	return s.result("squeeze", h, err)
}

// SqueezeAll removes every size-1 dim.
func (t *Tensor) SqueezeAll(s *Scope) *Tensor {
	h, err := shim.Squeeze(t.handle("squeeze"), 0, false, s.mode())
	return s.result("squeeze", h, err)
}

// Unsqueeze inserts a size-1 dim at dim.
func (t *Tensor) Unsqueeze(s *Scope, dim int64) *Tensor {
	h, err := shim.Unsqueeze(t.handle("unsqueeze"), dim, s.mode())
	return s.result("unsqueeze", h, err)
}

// Narrow is the view of length elements from start along dim.
func (t *Tensor) Narrow(s *Scope, dim, start, length int64) *Tensor {
	h, err := shim.Narrow(t.handle("narrow"), dim, start, length, s.mode())
	return s.result("narrow", h, err)
}

// Slice is t[start:end:step] along dim (Python's clamping of start and end).
func (t *Tensor) Slice(s *Scope, dim, start, end, step int64) *Tensor {
	h, err := shim.Slice(t.handle("slice"), dim, start, end, step, s.mode())
	return s.result("slice", h, err)
}

// Select is t[..., index, ...] along dim, dropping that dim.
func (t *Tensor) Select(s *Scope, dim, index int64) *Tensor {
	h, err := shim.Select(t.handle("select"), dim, index, s.mode())
	return s.result("select", h, err)
}

// IndexSelect picks entries along dim by an int64 index tensor.
func (t *Tensor) IndexSelect(s *Scope, dim int64, idx *Tensor) *Tensor {
	h, err := shim.IndexSelect(t.handle("index_select"), dim, idx.handle("index_select"), s.mode())
	return s.result("index_select", h, err)
}

// Gather is torch.gather.
func (t *Tensor) Gather(s *Scope, dim int64, idx *Tensor) *Tensor {
	h, err := shim.Gather(t.handle("gather"), dim, idx.handle("gather"), s.mode())
	return s.result("gather", h, err)
}

// Scatter is torch.scatter (out of place).
func (t *Tensor) Scatter(s *Scope, dim int64, idx, src *Tensor) *Tensor {
	h, err := shim.Scatter(t.handle("scatter"), dim, idx.handle("scatter"), src.handle("scatter"), false, s.mode())
	return s.result("scatter", h, err)
}

// ScatterAdd is torch.scatter_add (out of place).
func (t *Tensor) ScatterAdd(s *Scope, dim int64, idx, src *Tensor) *Tensor {
	h, err := shim.Scatter(t.handle("scatter_add"), dim, idx.handle("scatter_add"), src.handle("scatter_add"), true, s.mode())
	return s.result("scatter_add", h, err)
}

// IndexPut is t[idx] = values (out of place) with one index tensor (int64 or bool).
func (t *Tensor) IndexPut(s *Scope, idx, values *Tensor) *Tensor {
	h, err := shim.IndexPut(t.handle("index_put"), idx.handle("index_put"), values.handle("index_put"), s.mode())
	return s.result("index_put", h, err)
}

func handles(op string, ts []*Tensor) []shim.Handle {
	hs := make([]shim.Handle, len(ts))
	for i, t := range ts {
		hs[i] = t.handle(op)
	}
	return hs
}

// Cat joins tensors along an existing dim.
func Cat(s *Scope, dim int64, ts ...*Tensor) *Tensor {
	h, err := shim.Join(0, handles("cat", ts), dim, s.mode())
	return s.result("cat", h, err)
}

// Stack joins tensors along a new dim.
func Stack(s *Scope, dim int64, ts ...*Tensor) *Tensor {
	h, err := shim.Join(1, handles("stack", ts), dim, s.mode())
	return s.result("stack", h, err)
}

func (t *Tensor) split(s *Scope, op int, name string, arg, dim int64) []*Tensor {
	h := t.handle(name)
	if arg <= 0 {
		fail(name, ErrShape, "split size or chunk count must be positive, got %d", arg)
	}
	sh := shim.Sizes(h, nil)
	d := dim
	if d < 0 {
		d += int64(len(sh))
	}
	if d < 0 || d >= int64(len(sh)) {
		fail(name, ErrIndex, "dim %d out of range for a %d-d tensor", dim, len(sh))
	}
	n := sh[d]
	if op == 0 {
		n = (sh[d] + arg - 1) / arg
	} else if arg < n {
		n = arg
	}
	if n < 1 {
		n = 1
	}
	out := make([]shim.Handle, n)
	cnt, err := shim.Split(op, h, arg, dim, out, s.mode())
	if err != nil {
		panic(newError(name, err))
	}
	ts := make([]*Tensor, cnt)
	for i := range ts {
		ts[i] = s.adopt(out[i])
	}
	return ts
}

// Split cuts the tensor into pieces of size along dim (the last may be smaller).
func (t *Tensor) Split(s *Scope, size, dim int64) []*Tensor { return t.split(s, 0, "split", size, dim) }

// Chunk cuts the tensor into at most n pieces along dim.
func (t *Tensor) Chunk(s *Scope, n, dim int64) []*Tensor { return t.split(s, 1, "chunk", n, dim) }

// Roll shifts elements cyclically along dims.
func (t *Tensor) Roll(s *Scope, shifts, dims []int64) *Tensor {
	h, err := shim.Roll(t.handle("roll"), shifts, dims, s.mode())
	return s.result("roll", h, err)
}

// PadMode chooses how Pad fills.
type PadMode int

// Pad modes, as F.pad's mode strings.
const (
	PadConstant PadMode = iota
	PadReflect
	PadReplicate
	PadCircular
)

// Pad is F.pad: pad lists (before, after) pairs starting from the last dim.
func (t *Tensor) Pad(s *Scope, pad []int64, mode PadMode, value float64) *Tensor {
	h, err := shim.Pad(t.handle("pad"), pad, int(mode), value, s.mode())
	return s.result("pad", h, err)
}

// Matmul is torch.matmul.
func (t *Tensor) Matmul(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Matmul, "matmul", o) }

// Bmm is a batched matrix product of 3-d tensors.
func (t *Tensor) Bmm(s *Scope, o *Tensor) *Tensor { return t.binary(s, shim.Bmm, "bmm", o) }

// Linear is x Wᵀ + b (b may be nil).
func Linear(s *Scope, x, w, b *Tensor) *Tensor {
	var bh shim.Handle
	if b != nil {
		bh = b.handle("linear")
	}
	h, err := shim.Linear(x.handle("linear"), w.handle("linear"), bh, s.mode())
	return s.result("linear", h, err)
}

// Baddbmm is beta·in + alpha·(b1 @ b2).
func Baddbmm(s *Scope, in, b1, b2 *Tensor, beta, alpha float64) *Tensor {
	h, err := shim.Baddbmm(in.handle("baddbmm"), b1.handle("baddbmm"), b2.handle("baddbmm"), beta, alpha, s.mode())
	return s.result("baddbmm", h, err)
}
