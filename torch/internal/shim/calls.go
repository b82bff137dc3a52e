package shim

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"unsafe"
)

// Handle is an owned libtorch tensor (one heap at::Tensor). The zero Handle is "none". Go
// sees the handle as an integer (shim.h), so cgo does not check it as a Go pointer on each
// call.
type Handle struct{ p C.tt_tensor }

// IsNil reports whether h holds no tensor.
func (h Handle) IsNil() bool { return h.p == 0 }

// Gen is a random number generator; the zero Gen means libtorch's default generator.
type Gen struct{ p C.tt_gen }

// IsNil reports whether g is the default generator.
func (g Gen) IsNil() bool { return g.p == nil }

// Status codes, as in shim.h.
const (
	CodeOK      = C.TT_OK
	CodeErr     = C.TT_ERR
	CodeOOM     = C.TT_OOM
	CodeIndex   = C.TT_INDEX
	CodeType    = C.TT_TYPE
	CodeValue   = C.TT_VALUE
	CodeNotImpl = C.TT_NOTIMPL
	CodeStd     = C.TT_STD
	CodeUnknown = C.TT_UNKNOWN
)

// Error is a failed call: the status code and libtorch's message.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func cerr(code C.int, msg *C.char) error {
	if code == C.TT_OK {
		return nil
	}
	m := "libtorch error"
	if msg != nil {
		m = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	return &Error{Code: int(code), Msg: m}
}

func res(r C.tt_result) (Handle, error) {
	if err := cerr(r.code, r.msg); err != nil {
		return Handle{}, err
	}
	return Handle{r.t}, nil
}

func res2(r C.tt_result2) (Handle, Handle, error) {
	if err := cerr(r.code, r.msg); err != nil {
		return Handle{}, Handle{}, err
	}
	return Handle{r.a}, Handle{r.b}, nil
}

func st(r C.tt_status) (float64, error) {
	if err := cerr(r.code, r.msg); err != nil {
		return 0, err
	}
	return float64(r.v), nil
}

func cb(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func ip(v []int64) *C.int64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0]))
}

func hp(v []Handle) *C.tt_tensor {
	if len(v) == 0 {
		return nil
	}
	return (*C.tt_tensor)(unsafe.Pointer(&v[0]))
}

// ---- library ----

// Version is the libtorch version the shim was compiled against.
func Version() string { return C.GoString(C.tt_version()) }

// CUDACompiled reports whether the shim was built with CUDA support.
func CUDACompiled() bool { return C.tt_cuda_compiled() != 0 }

// SetNumThreads sets the intra-op thread count for every OS thread that runs an op.
func SetNumThreads(n int) { C.tt_set_num_threads(C.int(n)) }

// NumThreads is the intra-op thread count on the calling OS thread.
func NumThreads() int { return int(C.tt_get_num_threads()) }

// CUDAAvailable reports whether a CUDA device can be used.
func CUDAAvailable() bool { return C.tt_cuda_available() != 0 }

// CUDADeviceCount is the number of CUDA devices.
func CUDADeviceCount() int { return int(C.tt_cuda_device_count()) }

// CUDASynchronize waits for all work on a device.
func CUDASynchronize(dev int) error { _, err := st(C.tt_cuda_synchronize(C.int(dev))); return err }

// CUDAMemoryAllocated is the caching allocator's allocated bytes on a device.
func CUDAMemoryAllocated(dev int) (float64, error) { return st(C.tt_cuda_memory_allocated(C.int(dev))) }

// CUDAMemoryReserved is the caching allocator's reserved bytes on a device.
func CUDAMemoryReserved(dev int) (float64, error) { return st(C.tt_cuda_memory_reserved(C.int(dev))) }

// CUDAEmptyCache returns cached blocks to the driver.
func CUDAEmptyCache() error { _, err := st(C.tt_cuda_empty_cache()); return err }

// ManualSeed seeds libtorch's default generators.
func ManualSeed(seed uint64) error { _, err := st(C.tt_manual_seed(C.uint64_t(seed))); return err }

// NewGen makes a generator on a device (-1 CPU); the zero Gen when that fails.
func NewGen(seed uint64, dev int) Gen { return Gen{C.tt_gen_new(C.uint64_t(seed), C.int(dev))} }

// FreeGen releases a generator.
func FreeGen(g Gen) { C.tt_gen_free(g.p) }

// GenState is the state of g (the zero Gen: the default generator of dev, -1 the CPU) as a
// uint8 CPU tensor.
func GenState(g Gen, dev int) (Handle, error) { return res(C.tt_gen_get_state(g.p, C.int(dev))) }

// SetGenState sets the state of g (the zero Gen: the default generator of dev) from a
// tensor made by GenState.
func SetGenState(g Gen, dev int, state Handle) error {
	_, err := st(C.tt_gen_set_state(g.p, C.int(dev), state.p))
	return err
}

// ---- lifecycle and queries ----

// Free releases a tensor handle.
func Free(h Handle) { C.tt_free(h.p) }

// FreeMany releases handles in one call.
func FreeMany(hs []Handle) {
	if len(hs) > 0 {
		C.tt_free_many(hp(hs), C.int64_t(len(hs)))
	}
}

// LiveTensors is the number of handles made and not yet freed, over all threads.
func LiveTensors() int64 { return int64(C.tt_live_tensors()) }

// Sizes appends the tensor's sizes to buf.
func Sizes(h Handle, buf []int64) []int64 {
	var a [8]int64
	n := int64(C.tt_sizes(h.p, (*C.int64_t)(unsafe.Pointer(&a[0])), 8))
	if n <= 8 {
		return append(buf, a[:n]...)
	}
	big := make([]int64, n)
	C.tt_sizes(h.p, ip(big), C.int64_t(n))
	return append(buf, big...)
}

// Strides appends the tensor's strides to buf.
func Strides(h Handle, buf []int64) []int64 {
	n := int64(C.tt_dim(h.p))
	out := make([]int64, n)
	C.tt_strides(h.p, ip(out), C.int64_t(n))
	return append(buf, out...)
}

// Dim is the number of dimensions.
func Dim(h Handle) int { return int(C.tt_dim(h.p)) }

// DType is the c10::ScalarType code.
func DType(h Handle) int { return int(C.tt_dtype(h.p)) }

// Device is -1 for the CPU or the CUDA index.
func Device(h Handle) int { return int(C.tt_device(h.p)) }

// Numel is the number of elements.
func Numel(h Handle) int64 { return int64(C.tt_numel(h.p)) }

// RequiresGrad reports the autograd flag.
func RequiresGrad(h Handle) bool { return C.tt_requires_grad(h.p) != 0 }

// IsContiguous reports whether the tensor is contiguous.
func IsContiguous(h Handle) bool { return C.tt_is_contiguous(h.p) != 0 }

// IsLeaf reports whether the tensor is an autograd leaf.
func IsLeaf(h Handle) bool { return C.tt_is_leaf(h.p) != 0 }

// Item is the value of a one-element tensor.
func Item(h Handle) (float64, error) { return st(C.tt_item(h.p)) }

// CopyOut copies the tensor's values into dst (len must equal the byte size).
func CopyOut(h Handle, dst unsafe.Pointer, nbytes int64) error {
	_, err := st(C.tt_copy_out(h.p, dst, C.int64_t(nbytes)))
	return err
}

// ---- creation ----

// Empty makes an uninitialised tensor.
func Empty(shape []int64, dtype, dev int) (Handle, error) {
	return res(C.tt_empty(ip(shape), C.int64_t(len(shape)), C.int(dtype), C.int(dev)))
}

// Full makes a tensor filled with v.
func Full(shape []int64, v float64, dtype, dev int) (Handle, error) {
	return res(C.tt_full(ip(shape), C.int64_t(len(shape)), C.double(v), C.int(dtype), C.int(dev)))
}

// Arange is torch.arange.
func Arange(start, end, step float64, dtype, dev int) (Handle, error) {
	return res(C.tt_arange(C.double(start), C.double(end), C.double(step), C.int(dtype), C.int(dev)))
}

// Linspace is torch.linspace.
func Linspace(start, end float64, steps int64, dtype, dev int) (Handle, error) {
	return res(C.tt_linspace(C.double(start), C.double(end), C.int64_t(steps), C.int(dtype), C.int(dev)))
}

// Random is rand (kind 0) or randn (kind 1).
func Random(kind int, g Gen, shape []int64, dtype, dev int) (Handle, error) {
	return res(C.tt_random(C.int(kind), g.p, ip(shape), C.int64_t(len(shape)), C.int(dtype), C.int(dev)))
}

// Randint is torch.randint.
func Randint(g Gen, low, high int64, shape []int64, dtype, dev int) (Handle, error) {
	return res(C.tt_randint(g.p, C.int64_t(low), C.int64_t(high), ip(shape), C.int64_t(len(shape)), C.int(dtype), C.int(dev)))
}

// FromData copies a strided view of srcDType data (offset and strides in elements) into a
// new contiguous tensor of dtype on dev.
func FromData(data unsafe.Pointer, nbytes int64, shape, strides []int64, offset int64, srcDType, dtype, dev int) (Handle, error) {
	return res(C.tt_from_data(data, C.int64_t(nbytes), ip(shape), ip(strides), C.int64_t(len(shape)), C.int64_t(offset), C.int(srcDType), C.int(dtype), C.int(dev)))
}

// ---- elementwise ----

// Unary op codes.
const (
	Neg = iota
	Exp
	Log
	Sqrt
	Rsqrt
	Abs
	Sin
	Cos
	Relu
	Sigmoid
	Tanh
	Silu
	Gelu
	GeluTanh
	Contiguous
	Clone
	Floor
	Ceil
	Round
	Sign
	LogicalNot
	IsNaN
	Erf
	Log1p
	Square
	Reciprocal
	Detach
	IsFinite
	Erfinv
	Expm1
)

// Binary op codes.
const (
	Add = iota
	Sub
	Mul
	Div
	Pow
	Maximum
	Minimum
	Eq
	Ne
	Lt
	Le
	Gt
	Ge
	Matmul
	Bmm
	LogicalAnd
	LogicalOr
	Rsub
	Remainder
	Atan2
	FloorDivide
)

// Unary applies a one-input op.
func Unary(op int, a Handle, grad Mode) (Handle, error) {
	return res(C.tt_unary(C.int(op), a.p, C.int(grad)))
}

// Binary applies a two-input op with broadcasting.
func Binary(op int, a, b Handle, grad Mode) (Handle, error) {
	return res(C.tt_binary(C.int(op), a.p, b.p, C.int(grad)))
}

// BinaryScalar applies a two-input op with a scalar second input.
func BinaryScalar(op int, a Handle, s float64, grad Mode) (Handle, error) {
	return res(C.tt_binary_scalar(C.int(op), a.p, C.double(s), C.int(grad)))
}

// Where is torch.where.
func Where(c, a, b Handle, grad Mode) (Handle, error) {
	return res(C.tt_where(c.p, a.p, b.p, C.int(grad)))
}

// Clamp is torch.clamp with optional bounds.
func Clamp(a Handle, lo, hi float64, hasLo, hasHi bool, grad Mode) (Handle, error) {
	return res(C.tt_clamp(a.p, C.double(lo), C.double(hi), cb(hasLo), cb(hasHi), C.int(grad)))
}

// MaskedFill is Tensor.masked_fill.
func MaskedFill(a, mask Handle, v float64, grad Mode) (Handle, error) {
	return res(C.tt_masked_fill(a.p, mask.p, C.double(v), C.int(grad)))
}

// Triangle is triu (upper) or tril.
func Triangle(a Handle, k int64, upper bool, grad Mode) (Handle, error) {
	return res(C.tt_triangle(a.p, C.int64_t(k), cb(upper), C.int(grad)))
}

// To moves or casts a tensor.
func To(a Handle, dev, dtype int, copy bool, grad Mode) (Handle, error) {
	return res(C.tt_to(a.p, C.int(dev), C.int(dtype), cb(copy), C.int(grad)))
}

// Addcmul is a + value·b·c.
func Addcmul(a, b, c Handle, value float64, grad Mode) (Handle, error) {
	return res(C.tt_addcmul(a.p, b.p, c.p, C.double(value), C.int(grad)))
}

// ---- reductions ----

// Reduction op codes.
const (
	Sum = iota
	Mean
	Amax
	Amin
	Prod
	LogSumExp
	All
	Any
)

// Reduce reduces over dims (all when empty).
func Reduce(op int, a Handle, dims []int64, keep bool, grad Mode) (Handle, error) {
	return res(C.tt_reduce(C.int(op), a.p, ip(dims), C.int64_t(len(dims)), cb(keep), C.int(grad)))
}

// ReduceDim2 is max (0), min (1) or sort (2, keep = descending) with indices.
func ReduceDim2(op int, a Handle, dim int64, keep bool, grad Mode) (Handle, Handle, error) {
	return res2(C.tt_reduce_dim2(C.int(op), a.p, C.int64_t(dim), cb(keep), C.int(grad)))
}

// Argmax is argmax or argmin over a dim or everything.
func Argmax(a Handle, dim int64, hasDim, keep, argmin bool) (Handle, error) {
	return res(C.tt_argmax(a.p, C.int64_t(dim), cb(hasDim), cb(keep), cb(argmin)))
}

// Var is torch.var.
func Var(a Handle, dims []int64, unbiased, keep bool, grad Mode) (Handle, error) {
	return res(C.tt_var(a.p, ip(dims), C.int64_t(len(dims)), cb(unbiased), cb(keep), C.int(grad)))
}

// Norm is torch.norm.
func Norm(a Handle, p float64, dims []int64, keep bool, grad Mode) (Handle, error) {
	return res(C.tt_norm(a.p, C.double(p), ip(dims), C.int64_t(len(dims)), cb(keep), C.int(grad)))
}

// Cumsum is torch.cumsum.
func Cumsum(a Handle, dim int64, grad Mode) (Handle, error) {
	return res(C.tt_cumsum(a.p, C.int64_t(dim), C.int(grad)))
}

// Topk is torch.topk.
func Topk(a Handle, k, dim int64, largest, sorted bool, grad Mode) (Handle, Handle, error) {
	return res2(C.tt_topk(a.p, C.int64_t(k), C.int64_t(dim), cb(largest), cb(sorted), C.int(grad)))
}

// ---- views and indexing ----

// Shape op codes.
const (
	Reshape = iota
	View
	Permute
	Expand
	Flip
)

// ShapeOp applies reshape, view, permute, expand or flip.
func ShapeOp(op int, a Handle, v []int64, grad Mode) (Handle, error) {
	return res(C.tt_shape_op(C.int(op), a.p, ip(v), C.int64_t(len(v)), C.int(grad)))
}

// Transpose swaps two dims.
func Transpose(a Handle, d0, d1 int64, grad Mode) (Handle, error) {
	return res(C.tt_transpose(a.p, C.int64_t(d0), C.int64_t(d1), C.int(grad)))
}

// Squeeze removes a size-1 dim (or all of them).
func Squeeze(a Handle, dim int64, hasDim bool, grad Mode) (Handle, error) {
	return res(C.tt_squeeze(a.p, C.int64_t(dim), cb(hasDim), C.int(grad)))
}

// Unsqueeze inserts a size-1 dim.
func Unsqueeze(a Handle, dim int64, grad Mode) (Handle, error) {
	return res(C.tt_unsqueeze(a.p, C.int64_t(dim), C.int(grad)))
}

// Narrow is Tensor.narrow.
func Narrow(a Handle, dim, start, length int64, grad Mode) (Handle, error) {
	return res(C.tt_narrow(a.p, C.int64_t(dim), C.int64_t(start), C.int64_t(length), C.int(grad)))
}

// Slice is Tensor.slice.
func Slice(a Handle, dim, start, end, step int64, grad Mode) (Handle, error) {
	return res(C.tt_slice(a.p, C.int64_t(dim), C.int64_t(start), C.int64_t(end), C.int64_t(step), C.int(grad)))
}

// Select is Tensor.select.
func Select(a Handle, dim, index int64, grad Mode) (Handle, error) {
	return res(C.tt_select(a.p, C.int64_t(dim), C.int64_t(index), C.int(grad)))
}

// IndexSelect is torch.index_select.
func IndexSelect(a Handle, dim int64, idx Handle, grad Mode) (Handle, error) {
	return res(C.tt_index_select(a.p, C.int64_t(dim), idx.p, C.int(grad)))
}

// Gather is torch.gather.
func Gather(a Handle, dim int64, idx Handle, grad Mode) (Handle, error) {
	return res(C.tt_gather(a.p, C.int64_t(dim), idx.p, C.int(grad)))
}

// Scatter is torch.scatter (or scatter_add).
func Scatter(a Handle, dim int64, idx, src Handle, add bool, grad Mode) (Handle, error) {
	return res(C.tt_scatter(a.p, C.int64_t(dim), idx.p, src.p, cb(add), C.int(grad)))
}

// IndexPut is index_put with one index tensor.
func IndexPut(a, idx, values Handle, grad Mode) (Handle, error) {
	return res(C.tt_index_put(a.p, idx.p, values.p, C.int(grad)))
}

// Join is cat (op 0) or stack (op 1).
func Join(op int, ts []Handle, dim int64, grad Mode) (Handle, error) {
	return res(C.tt_join(C.int(op), hp(ts), C.int64_t(len(ts)), C.int64_t(dim), C.int(grad)))
}

// Split is split by size (op 0) or chunk (op 1); out must have room for every piece.
func Split(op int, a Handle, arg, dim int64, out []Handle, grad Mode) (int, error) {
	v, err := st(C.tt_split(C.int(op), a.p, C.int64_t(arg), C.int64_t(dim), hp(out), C.int64_t(len(out)), C.int(grad)))
	return int(v), err
}

// Roll is torch.roll.
func Roll(a Handle, shifts, dims []int64, grad Mode) (Handle, error) {
	return res(C.tt_roll(a.p, ip(shifts), C.int64_t(len(shifts)), ip(dims), C.int64_t(len(dims)), C.int(grad)))
}

// Pad is F.pad (mode 0 constant, 1 reflect, 2 replicate, 3 circular).
func Pad(a Handle, pad []int64, mode int, value float64, grad Mode) (Handle, error) {
	return res(C.tt_pad(a.p, ip(pad), C.int64_t(len(pad)), C.int(mode), C.double(value), C.int(grad)))
}

// ---- linear algebra ----

// Linear is F.linear; b may be the zero Handle.
func Linear(x, w, b Handle, grad Mode) (Handle, error) {
	return res(C.tt_linear(x.p, w.p, b.p, C.int(grad)))
}

// Baddbmm is torch.baddbmm.
func Baddbmm(in, b1, b2 Handle, beta, alpha float64, grad Mode) (Handle, error) {
	return res(C.tt_baddbmm(in.p, b1.p, b2.p, C.double(beta), C.double(alpha), C.int(grad)))
}

// ---- nn ----

// Conv2d is F.conv2d; each of stride, pad and dil has two values.
func Conv2d(x, w, b Handle, stride, pad, dil []int64, groups int64, grad Mode) (Handle, error) {
	return res(C.tt_conv2d(x.p, w.p, b.p, ip(stride), ip(pad), ip(dil), C.int64_t(groups), C.int(grad)))
}

// ConvTranspose2d is F.conv_transpose2d.
func ConvTranspose2d(x, w, b Handle, stride, pad, outpad, dil []int64, groups int64, grad Mode) (Handle, error) {
	return res(C.tt_conv_transpose2d(x.p, w.p, b.p, ip(stride), ip(pad), ip(outpad), ip(dil), C.int64_t(groups), C.int(grad)))
}

// Pool2d is max (op 0) or average (op 1) pooling.
func Pool2d(op int, x Handle, k, stride, pad, dil []int64, ceil, countIncludePad bool, grad Mode) (Handle, error) {
	return res(C.tt_pool2d(C.int(op), x.p, ip(k), ip(stride), ip(pad), ip(dil), cb(ceil), cb(countIncludePad), C.int(grad)))
}

// AdaptiveAvgPool2d is F.adaptive_avg_pool2d.
func AdaptiveAvgPool2d(x Handle, out []int64, grad Mode) (Handle, error) {
	return res(C.tt_adaptive_avg_pool2d(x.p, ip(out), C.int(grad)))
}

// Interpolate resizes to size (mode 0 nearest, 1 bilinear, 2 bicubic, 3 nearest-exact;
// alignCorners -1 unset, 0 false, 1 true).
func Interpolate(x Handle, size []int64, mode, alignCorners int, grad Mode) (Handle, error) {
	return res(C.tt_interpolate(x.p, ip(size), C.int(mode), C.int(alignCorners), C.int(grad)))
}

// LayerNorm is F.layer_norm.
func LayerNorm(x Handle, shape []int64, w, b Handle, eps float64, grad Mode) (Handle, error) {
	return res(C.tt_layer_norm(x.p, ip(shape), C.int64_t(len(shape)), w.p, b.p, C.double(eps), C.int(grad)))
}

// GroupNorm is F.group_norm.
func GroupNorm(x Handle, groups int64, w, b Handle, eps float64, grad Mode) (Handle, error) {
	return res(C.tt_group_norm(x.p, C.int64_t(groups), w.p, b.p, C.double(eps), C.int(grad)))
}

// BatchNorm is F.batch_norm (training updates the running stats in place).
func BatchNorm(x, w, b, rm, rv Handle, training bool, momentum, eps float64, grad Mode) (Handle, error) {
	return res(C.tt_batch_norm(x.p, w.p, b.p, rm.p, rv.p, cb(training), C.double(momentum), C.double(eps), C.int(grad)))
}

// InstanceNorm is F.instance_norm.
func InstanceNorm(x, w, b, rm, rv Handle, useInputStats bool, momentum, eps float64, grad Mode) (Handle, error) {
	return res(C.tt_instance_norm(x.p, w.p, b.p, rm.p, rv.p, cb(useInputStats), C.double(momentum), C.double(eps), C.int(grad)))
}

// Embedding is F.embedding.
func Embedding(w, idx Handle, paddingIdx int64, grad Mode) (Handle, error) {
	return res(C.tt_embedding(w.p, idx.p, C.int64_t(paddingIdx), C.int(grad)))
}

// Softmax is softmax (op 0) or log_softmax (op 1).
func Softmax(op int, x Handle, dim int64, grad Mode) (Handle, error) {
	return res(C.tt_softmax(C.int(op), x.p, C.int64_t(dim), C.int(grad)))
}

// Dropout is F.dropout with an optional generator.
func Dropout(x Handle, p float64, train bool, g Gen, grad Mode) (Handle, error) {
	return res(C.tt_dropout(x.p, C.double(p), cb(train), g.p, C.int(grad)))
}

// SDPA is scaled-dot-product attention; mask may be the zero Handle; scale <= 0 means 1/√d.
func SDPA(q, k, v, mask Handle, dropout float64, causal bool, scale float64, g Gen, grad Mode) (Handle, error) {
	return res(C.tt_sdpa(q.p, k.p, v.p, mask.p, C.double(dropout), cb(causal), C.double(scale), g.p, C.int(grad)))
}

// Multinomial is torch.multinomial.
func Multinomial(probs Handle, n int64, replacement bool, g Gen) (Handle, error) {
	return res(C.tt_multinomial(probs.p, C.int64_t(n), cb(replacement), g.p))
}

// OneHot is F.one_hot.
func OneHot(idx Handle, n int64) (Handle, error) { return res(C.tt_one_hot(idx.p, C.int64_t(n))) }

// BCEWithLogits is F.binary_cross_entropy_with_logits (reduction 0 none, 1 mean, 2 sum).
func BCEWithLogits(x, y, weight, posWeight Handle, reduction int, grad Mode) (Handle, error) {
	return res(C.tt_bce_with_logits(x.p, y.p, weight.p, posWeight.p, C.int(reduction), C.int(grad)))
}

// CrossEntropy is F.cross_entropy.
func CrossEntropy(logits, target, weight Handle, reduction int, ignoreIndex int64, labelSmoothing float64, grad Mode) (Handle, error) {
	return res(C.tt_cross_entropy(logits.p, target.p, weight.p, C.int(reduction), C.int64_t(ignoreIndex), C.double(labelSmoothing), C.int(grad)))
}

// MSE is F.mse_loss.
func MSE(x, y Handle, reduction int, grad Mode) (Handle, error) {
	return res(C.tt_mse(x.p, y.p, C.int(reduction), C.int(grad)))
}

// ---- autograd ----

// SetRequiresGrad sets the autograd flag of a leaf.
func SetRequiresGrad(h Handle, flag bool) error {
	_, err := st(C.tt_set_requires_grad(h.p, cb(flag)))
	return err
}

// Backward runs backpropagation; g may be the zero Handle for a scalar.
func Backward(h, g Handle, retain bool) error {
	_, err := st(C.tt_backward(h.p, g.p, cb(retain)))
	return err
}

// Grad is the accumulated gradient (the zero Handle when there is none).
func Grad(h Handle) (Handle, error) { return res(C.tt_grad(h.p)) }

// ZeroGrad clears the gradient (to none, or to zeros).
func ZeroGrad(h Handle, toNone bool) error { _, err := st(C.tt_zero_grad(h.p, cb(toNone))); return err }

// ClipGradNorm scales gradients so that their global norm is at most maxNorm; it returns the norm.
func ClipGradNorm(ts []Handle, maxNorm, normType float64) (float64, error) {
	return st(C.tt_clip_grad_norm(hp(ts), C.int64_t(len(ts)), C.double(maxNorm), C.double(normType)))
}

// ---- in place ----

// CopyInto copies src into dst without autograd.
func CopyInto(dst, src Handle) error { _, err := st(C.tt_copy_(dst.p, src.p)); return err }

// SetData makes dst use src's storage, shape and dtype (param.data = src).
func SetData(dst, src Handle) error { _, err := st(C.tt_set_data(dst.p, src.p)); return err }

// Fill sets every element to v.
func Fill(h Handle, v float64) error { _, err := st(C.tt_fill_(h.p, C.double(v))); return err }

// RandomFill fills uniform(a, b) (kind 0) or normal(a, b) (kind 1).
func RandomFill(h Handle, kind int, a, b float64, g Gen) error {
	_, err := st(C.tt_random_(h.p, C.int(kind), C.double(a), C.double(b), g.p))
	return err
}

// ---- optimizers ----

// AdamWStep updates one parameter with AdamW; it reports whether the parameter had a
// gradient (and so was updated).
func AdamWStep(p, m, v Handle, step int64, lr, b1, b2, eps, wd float64) (bool, error) {
	r, err := st(C.tt_adamw_step(p.p, m.p, v.p, C.int64_t(step), C.double(lr), C.double(b1), C.double(b2), C.double(eps), C.double(wd)))
	return r != 0, err
}

// SGDStep updates one parameter with SGD; buf may be the zero Handle without momentum.
func SGDStep(p, buf Handle, first bool, lr, momentum, dampening, wd float64, nesterov bool) error {
	_, err := st(C.tt_sgd_step(p.p, buf.p, cb(first), C.double(lr), C.double(momentum), C.double(dampening), C.double(wd), cb(nesterov)))
	return err
}
