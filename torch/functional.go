package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

func opt(op string, t *Tensor) shim.Handle {
	if t == nil {
		return shim.Handle{}
	}
	return t.handle(op)
}

func pair(v [2]int64, def int64) []int64 {
	if v == [2]int64{} {
		return []int64{def, def}
	}
	return []int64{v[0], v[1]}
}

// ConvOpts are the options of Conv2d and ConvTranspose2d; zero values mean PyTorch's
// defaults (stride 1, padding 0, dilation 1, groups 1).
type ConvOpts struct {
	Stride        [2]int64
	Padding       [2]int64
	OutputPadding [2]int64 // transposed convolution only
	Dilation      [2]int64
	Groups        int64
}

func (o ConvOpts) groups() int64 {
	if o.Groups == 0 {
		return 1
	}
	return o.Groups
}

// Conv2d is F.conv2d (b may be nil).
func Conv2d(s *Scope, x, w, b *Tensor, o ConvOpts) *Tensor {
	h, err := shim.Conv2d(x.handle("conv2d"), w.handle("conv2d"), opt("conv2d", b),
		pair(o.Stride, 1), pair(o.Padding, 0), pair(o.Dilation, 1), o.groups(), s.mode())
	return s.result("conv2d", h, err)
}

// ConvTranspose2d is F.conv_transpose2d (b may be nil).
func ConvTranspose2d(s *Scope, x, w, b *Tensor, o ConvOpts) *Tensor {
	h, err := shim.ConvTranspose2d(x.handle("conv_transpose2d"), w.handle("conv_transpose2d"), opt("conv_transpose2d", b),
		pair(o.Stride, 1), pair(o.Padding, 0), pair(o.OutputPadding, 0), pair(o.Dilation, 1), o.groups(), s.mode())
	return s.result("conv_transpose2d", h, err)
}

// PoolOpts are the options of MaxPool2d and AvgPool2d; a zero Stride means the kernel size.
type PoolOpts struct {
	Kernel          [2]int64
	Stride          [2]int64
	Padding         [2]int64
	Dilation        [2]int64 // max pooling only
	CeilMode        bool
	ExcludePadCount bool // avg pooling: count_include_pad=False
}

func (o PoolOpts) stride() []int64 {
	if o.Stride == [2]int64{} {
		return []int64{o.Kernel[0], o.Kernel[1]}
	}
	return []int64{o.Stride[0], o.Stride[1]}
}

// MaxPool2d is F.max_pool2d.
func MaxPool2d(s *Scope, x *Tensor, o PoolOpts) *Tensor {
	h, err := shim.Pool2d(0, x.handle("max_pool2d"), o.Kernel[:], o.stride(), pair(o.Padding, 0), pair(o.Dilation, 1),
		o.CeilMode, true, s.mode())
	return s.result("max_pool2d", h, err)
}

// AvgPool2d is F.avg_pool2d.
func AvgPool2d(s *Scope, x *Tensor, o PoolOpts) *Tensor {
	h, err := shim.Pool2d(1, x.handle("avg_pool2d"), o.Kernel[:], o.stride(), pair(o.Padding, 0), nil,
		o.CeilMode, !o.ExcludePadCount, s.mode())
	return s.result("avg_pool2d", h, err)
}

// AdaptiveAvgPool2d is F.adaptive_avg_pool2d to an h×w output.
func AdaptiveAvgPool2d(s *Scope, x *Tensor, h, w int64) *Tensor {
	r, err := shim.AdaptiveAvgPool2d(x.handle("adaptive_avg_pool2d"), []int64{h, w}, s.mode())
	return s.result("adaptive_avg_pool2d", r, err)
}

// InterpMode is an F.interpolate mode.
type InterpMode int

// Interpolation modes.
const (
	Nearest InterpMode = iota
	Bilinear
	Bicubic
	NearestExact
)

// Interpolate is F.interpolate(x, size=(h, w), mode=mode, align_corners=alignCorners) for
// 4-d input; alignCorners is ignored (unset) for the nearest modes.
func Interpolate(s *Scope, x *Tensor, h, w int64, mode InterpMode, alignCorners bool) *Tensor {
	ac := 0
	if alignCorners {
		ac = 1
	}
	if mode == Nearest || mode == NearestExact {
		ac = -1
	}
	r, err := shim.Interpolate(x.handle("interpolate"), []int64{h, w}, int(mode), ac, s.mode())
	return s.result("interpolate", r, err)
}

// LayerNorm is F.layer_norm over the trailing dims in shape (w and b may be nil).
func LayerNorm(s *Scope, x *Tensor, shape []int64, w, b *Tensor, eps float64) *Tensor {
	x = normInput(s, x, w)
	h, err := shim.LayerNorm(x.handle("layer_norm"), shape, opt("layer_norm", w), opt("layer_norm", b), eps, s.mode())
	return s.result("layer_norm", h, err)
}

// normInput casts a low-precision input to a float32 norm's weight dtype under autocast, as
// CUDA autocast runs normalisations in float32; libtorch 1.13's CPU autocast leaves them to
// the input's dtype and then rejects a bfloat16 input with float32 weights.
func normInput(s *Scope, x, w *Tensor) *Tensor {
	if s.autocast == 0 || w == nil || x.DType() == w.DType() || w.DType() != Float32 {
		return x
	}
	return x.ToDType(s, Float32)
}

// GroupNorm is F.group_norm.
func GroupNorm(s *Scope, x *Tensor, groups int64, w, b *Tensor, eps float64) *Tensor {
	x = normInput(s, x, w)
	h, err := shim.GroupNorm(x.handle("group_norm"), groups, opt("group_norm", w), opt("group_norm", b), eps, s.mode())
	return s.result("group_norm", h, err)
}

// BatchNorm is F.batch_norm; in training it uses batch statistics and updates the running
// mean and variance in place (with PyTorch's momentum convention).
func BatchNorm(s *Scope, x, w, b, runMean, runVar *Tensor, training bool, momentum, eps float64) *Tensor {
	h, err := shim.BatchNorm(x.handle("batch_norm"), opt("batch_norm", w), opt("batch_norm", b),
		opt("batch_norm", runMean), opt("batch_norm", runVar), training, momentum, eps, s.mode())
	return s.result("batch_norm", h, err)
}

// InstanceNorm is F.instance_norm (running stats may be nil).
func InstanceNorm(s *Scope, x, w, b, runMean, runVar *Tensor, useInputStats bool, momentum, eps float64) *Tensor {
	h, err := shim.InstanceNorm(x.handle("instance_norm"), opt("instance_norm", w), opt("instance_norm", b),
		opt("instance_norm", runMean), opt("instance_norm", runVar), useInputStats, momentum, eps, s.mode())
	return s.result("instance_norm", h, err)
}

// Embedding looks rows of w up by an integer index tensor (paddingIdx -1 for none).
func Embedding(s *Scope, w, idx *Tensor, paddingIdx int64) *Tensor {
	h, err := shim.Embedding(w.handle("embedding"), idx.handle("embedding"), paddingIdx, s.mode())
	return s.result("embedding", h, err)
}

// Softmax along dim.
func (t *Tensor) Softmax(s *Scope, dim int64) *Tensor {
	h, err := shim.Softmax(0, t.handle("softmax"), dim, s.mode())
	return s.result("softmax", h, err)
}

// LogSoftmax along dim.
func (t *Tensor) LogSoftmax(s *Scope, dim int64) *Tensor {
	h, err := shim.Softmax(1, t.handle("log_softmax"), dim, s.mode())
	return s.result("log_softmax", h, err)
}

// Dropout zeroes elements with probability p and scales the rest by 1/(1-p) when train is
// true; g (nil: the default generator) draws the mask exactly as F.dropout does. In a scope
// with row keys (Scope.RowKeys) each row's mask comes from its key instead (see
// keyedDropout): the same probabilities, other draws than F.dropout's.
func Dropout(s *Scope, x *Tensor, p float64, train bool, g *Generator) *Tensor {
	if train && p > 0 && s.rowKeys != nil {
		return keyedDropout(s, x, p, g)
	}
	h, err := shim.Dropout(x.handle("dropout"), p, train, g.genFor("dropout", x.Device(), train && p > 0), s.mode())
	return s.result("dropout", h, err)
}

// AttentionOpts are the options of ScaledDotProductAttention.
type AttentionOpts struct {
	// Mask is a bool mask (true = attend) or an additive float mask, broadcastable to
	// (…, L, S); nil for none.
	Mask *Tensor
	// Causal masks out keys after each query position.
	Causal bool
	// Dropout on the attention weights (training only).
	Dropout float64
	// Scale of the logits; 0 means 1/√(head dim).
	Scale float64
	// Generator for the dropout mask (nil: the default generator).
	Generator *Generator
}

// ScaledDotProductAttention is softmax(Q Kᵀ·scale + mask) V over (…, L, E) queries and
// (…, S, E) keys. On libtorch ≥ 2.1 it uses the fused kernel (when no generator is given),
// otherwise the explicit formula.
func ScaledDotProductAttention(s *Scope, q, k, v *Tensor, o AttentionOpts) *Tensor {
	if o.Dropout > 0 && s.rowKeys != nil {
		fail("sdpa", ErrInvalid, "attention dropout cannot be keyed by row (Scope.RowKeys): its mask would depend on "+
			"the batch; use dropout 0 on attention weights in a keyed scope")
	}
	h, err := shim.SDPA(q.handle("sdpa"), k.handle("sdpa"), v.handle("sdpa"), opt("sdpa", o.Mask), o.Dropout, o.Causal,
		o.Scale, o.Generator.genFor("sdpa", q.Device(), o.Dropout > 0), s.mode())
	return s.result("scaled_dot_product_attention", h, err)
}

// Multinomial draws n indices per row of probs (non-negative weights).
func Multinomial(s *Scope, probs *Tensor, n int64, replacement bool, g *Generator) *Tensor {
	h, err := shim.Multinomial(probs.handle("multinomial"), n, replacement, g.genFor("multinomial", probs.Device(), true))
	return s.result("multinomial", h, err)
}

// OneHot is F.one_hot of an int64 tensor into n classes (int64).
func OneHot(s *Scope, idx *Tensor, n int64) *Tensor {
	h, err := shim.OneHot(idx.handle("one_hot"), n)
	return s.result("one_hot", h, err)
}

// Reduction says how a loss combines its elements.
type Reduction int

// Reductions, with PyTorch's codes.
const (
	ReduceNone Reduction = 0
	ReduceMean Reduction = 1
	ReduceSum  Reduction = 2
)

// BCEWithLogits is F.binary_cross_entropy_with_logits (weight and posWeight may be nil).
func BCEWithLogits(s *Scope, x, y, weight, posWeight *Tensor, r Reduction) *Tensor {
	h, err := shim.BCEWithLogits(x.handle("bce_with_logits"), y.handle("bce_with_logits"), opt("bce_with_logits", weight),
		opt("bce_with_logits", posWeight), int(r), s.mode())
	return s.result("binary_cross_entropy_with_logits", h, err)
}

// CrossEntropy is F.cross_entropy over (N, C) logits and (N) int64 targets, with an
// ignore index (-100 in PyTorch) and label smoothing.
func CrossEntropy(s *Scope, logits, target, weight *Tensor, r Reduction, ignoreIndex int64, labelSmoothing float64) *Tensor {
	h, err := shim.CrossEntropy(logits.handle("cross_entropy"), target.handle("cross_entropy"), opt("cross_entropy", weight),
		int(r), ignoreIndex, labelSmoothing, s.mode())
	return s.result("cross_entropy", h, err)
}

// MSELoss is F.mse_loss.
func MSELoss(s *Scope, x, y *Tensor, r Reduction) *Tensor {
	h, err := shim.MSE(x.handle("mse_loss"), y.handle("mse_loss"), int(r), s.mode())
	return s.result("mse_loss", h, err)
}
