package shim

/*
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
func RMSNorm(x, w Handle, eps float64, grad bool) (Handle, error) {
	return res(C.tt_rms_norm(x.p, w.p, C.double(eps), cb(grad)))
}

// Rotary applies the rotate-half rotary embedding to q and (when not nil) k in one call.
func Rotary(q, k, cos, sin Handle, grad bool) (Handle, Handle, error) {
	return res2(C.tt_rotary(q.p, k.p, cos.p, sin.p, cb(grad)))
}

// SwiGLU is linear(silu(linear(x, wg, bg)) * linear(x, wu, bu), wd, bd) in one call.
func SwiGLU(x, wg, bg, wu, bu, wd, bd Handle, grad bool) (Handle, error) {
	return res(C.tt_swiglu(x.p, wg.p, bg.p, wu.p, bu.p, wd.p, bd.p, cb(grad)))
}

// LoRALinear is linear(x, w, b) + linear(linear(x, a), bm)·scale in one call.
func LoRALinear(x, w, b, a, bm Handle, scale float64, grad bool) (Handle, error) {
	return res(C.tt_lora_linear(x.p, w.p, b.p, a.p, bm.p, C.double(scale), cb(grad)))
}
