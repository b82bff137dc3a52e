package shim

/*
// The C functions below neither keep a Go pointer past their return nor call back into Go:
// noescape lets the Go slices and arrays passed to them (shapes, handle lists, the buffer
// of Sizes) stay on the stack. cgo honours noescape only on a function also marked
// nocallback (which itself costs a small runtime check per call, so only these carry it).
// These directives apply to the whole package.
#cgo noescape tt_free_many
#cgo noescape tt_sizes
#cgo noescape tt_strides
#cgo noescape tt_copy_out
#cgo noescape tt_empty
#cgo noescape tt_full
#cgo noescape tt_random
#cgo noescape tt_randint
#cgo noescape tt_from_data
#cgo noescape tt_reduce
#cgo noescape tt_var
#cgo noescape tt_norm
#cgo noescape tt_shape_op
#cgo noescape tt_join
#cgo noescape tt_split
#cgo noescape tt_roll
#cgo noescape tt_pad
#cgo noescape tt_conv2d
#cgo noescape tt_conv_transpose2d
#cgo noescape tt_pool2d
#cgo noescape tt_adaptive_avg_pool2d
#cgo noescape tt_interpolate
#cgo noescape tt_layer_norm
#cgo noescape tt_clip_grad_norm
#cgo noescape tt_adamw_multi
#cgo noescape tt_clip_grad_norm_tensor
#cgo nocallback tt_free_many
#cgo nocallback tt_sizes
#cgo nocallback tt_strides
#cgo nocallback tt_copy_out
#cgo nocallback tt_empty
#cgo nocallback tt_full
#cgo nocallback tt_random
#cgo nocallback tt_randint
#cgo nocallback tt_from_data
#cgo nocallback tt_reduce
#cgo nocallback tt_var
#cgo nocallback tt_norm
#cgo nocallback tt_shape_op
#cgo nocallback tt_join
#cgo nocallback tt_split
#cgo nocallback tt_roll
#cgo nocallback tt_pad
#cgo nocallback tt_conv2d
#cgo nocallback tt_conv_transpose2d
#cgo nocallback tt_pool2d
#cgo nocallback tt_adaptive_avg_pool2d
#cgo nocallback tt_interpolate
#cgo nocallback tt_layer_norm
#cgo nocallback tt_clip_grad_norm
#cgo nocallback tt_adamw_multi
#cgo nocallback tt_clip_grad_norm_tensor
#include <stdlib.h>
#include "fused.h"
*/
import "C"

import "unsafe"

// AdamW implementations for AdamWMulti.
const (
	AdamWForeach = C.TT_ADAMW_FOREACH
	AdamWFused   = C.TT_ADAMW_FUSED
)

// FusedAdamWCompiled reports whether libtorch's fused AdamW kernel (2.x) was compiled in.
func FusedAdamWCompiled() bool { return C.tt_fused_adamw_compiled() != 0 }

// AdamWMulti updates one parameter group with a multi-tensor AdamW; steps holds each
// parameter's step count before the update and is incremented for those updated. It
// returns the number of parameters updated.
func AdamWMulti(ps, ms, vs []Handle, steps []int64, lr, beta1, beta2, eps, wd float64, mode int) (int, error) {
	n := len(ps)
	if len(ms) != n || len(vs) != n || len(steps) != n {
		return 0, &Error{Code: CodeValue, Msg: "adamw: parameter and state lists differ in length"}
	}
	if n == 0 {
		return 0, nil
	}
	v, err := st(C.tt_adamw_multi(hp(ps), hp(ms), hp(vs), (*C.int64_t)(unsafe.Pointer(&steps[0])), C.int64_t(n),
		C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(wd), C.int(mode)))
	return int(v), err
}

// ClipGradNormTensor scales the gradients of ts to a total norm of at most maxNorm on the
// device and returns the total norm (before clipping) as a 0-d tensor; the zero Handle when
// no tensor has a gradient.
func ClipGradNormTensor(ts []Handle, maxNorm, normType float64, foreach bool) (Handle, error) {
	return res(C.tt_clip_grad_norm_tensor(hp(ts), C.int64_t(len(ts)), C.double(maxNorm), C.double(normType), cb(foreach)))
}

// RMSNorm is MistralRMSNorm in one call.
func RMSNorm(x, w Handle, eps float64, grad Mode) (Handle, error) {
	return res(C.tt_rms_norm(x.p, w.p, C.double(eps), C.int(grad)))
}

// Rotary applies the rotate-half rotary embedding to q and (when not nil) k in one call.
func Rotary(q, k, cos, sin Handle, grad Mode) (Handle, Handle, error) {
	return res2(C.tt_rotary(q.p, k.p, cos.p, sin.p, C.int(grad)))
}

// SwiGLU is linear(silu(linear(x, wg, bg)) * linear(x, wu, bu), wd, bd) in one call.
func SwiGLU(x, wg, bg, wu, bu, wd, bd Handle, grad Mode) (Handle, error) {
	return res(C.tt_swiglu(x.p, wg.p, bg.p, wu.p, bu.p, wd.p, bd.p, C.int(grad)))
}

// LoRALinear is linear(x, w, b) + linear(linear(x, a), bm)·scale in one call.
func LoRALinear(x, w, b, a, bm Handle, scale float64, grad Mode) (Handle, error) {
	return res(C.tt_lora_linear(x.p, w.p, b.p, a.p, bm.p, C.double(scale), C.int(grad)))
}
