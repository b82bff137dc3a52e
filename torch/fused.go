package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// The functions of this file run a small sub-graph of a transformer layer in one call into
// libtorch. Each is the composition of the ATen ops named in its comment, so its values and
// its gradients (autograd records the ops inside the call) equal those of the ops called
// one by one; what it saves is the per-op cost of crossing from Go into libtorch.

// RMSNorm is transformers' MistralRMSNorm: the input cast to float32, x·rsqrt(mean(x², -1)
// + eps), cast back to the input's dtype and multiplied by w.
func RMSNorm(s *Scope, x, w *Tensor, eps float64) *Tensor {
	h, err := shim.RMSNorm(x.handle("rms_norm"), w.handle("rms_norm"), eps, s.mode())
	return s.result("rms_norm", h, err)
}

// Rotary applies the rotate-half rotary embedding x·cos + cat(−x[…, D/2:], x[…, :D/2])·sin
// to q and k (B, H, L, D) with cos and sin broadcastable to them, in one call. k may be
// nil, and then so is the second result.
func Rotary(s *Scope, q, k, cos, sin *Tensor) (*Tensor, *Tensor) {
	a, b, err := shim.Rotary(q.handle("rotary"), opt("rotary", k), cos.handle("rotary"), sin.handle("rotary"), s.mode())
	if err != nil {
		panic(newError("rotary", err))
	}
	qa := s.adopt(a)
	if b.IsNil() {
		return qa, nil
	}
	return qa, s.adopt(b)
}

// SwiGLU is the gated MLP of LLaMA and Mistral, down(silu(gate(x)) · up(x)):
// linear(silu(linear(x, wg, bg)) · linear(x, wu, bu), wd, bd). The biases may be nil.
func SwiGLU(s *Scope, x, wg, bg, wu, bu, wd, bd *Tensor) *Tensor {
	const op = "swiglu"
	h, err := shim.SwiGLU(x.handle(op), wg.handle(op), opt(op, bg), wu.handle(op), opt(op, bu), wd.handle(op), opt(op, bd), s.mode())
	return s.result(op, h, err)
}

// LoRALinear is a LoRA layer without dropout, as PEFT's lora.Linear computes it:
// y = linear(x, w, b); y + linear(linear(x cast to a's dtype, a), bm)·scale, cast back to
// y's dtype. b may be nil.
func LoRALinear(s *Scope, x, w, b, a, bm *Tensor, scale float64) *Tensor {
	const op = "lora_linear"
	h, err := shim.LoRALinear(x.handle(op), w.handle(op), opt(op, b), a.handle(op), bm.handle(op), scale, s.mode())
	return s.result(op, h, err)
}
