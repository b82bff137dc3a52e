/* fused.h: multi-tensor optimizer and clipping calls, and small fused sub-graphs of the
 * model (RMSNorm, rotary embedding, SwiGLU MLP, LoRA linear), each one C call so that a
 * layer crosses from Go into libtorch once. The sub-graphs are compositions of ATen ops,
 * so autograd records them as it records the ops one by one.
 *
 * Same rules as shim.h: opaque handles, status in the result, no exception escapes.
 */
#ifndef PRSMED_FUSED_H
#define PRSMED_FUSED_H

#include "shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AdamW implementations for tt_adamw_multi. */
enum { TT_ADAMW_FOREACH = 0, TT_ADAMW_FUSED = 1 };

/* 1 when the shim was compiled against a libtorch that has at::_fused_adamw_ (2.x). */
int tt_fused_adamw_compiled(void);

/* One AdamW update of a parameter group (one lr and weight decay) as
 * torch.optim.AdamW(foreach=True) (mode TT_ADAMW_FOREACH) or fused=True (TT_ADAMW_FUSED;
 * CUDA, libtorch 2.x). steps[i] is parameter i's step count before the update; it is
 * incremented for every parameter that had a gradient (the others are skipped). v is the
 * number of parameters updated. */
tt_status tt_adamw_multi(const tt_tensor *ps, const tt_tensor *ms, const tt_tensor *vs, int64_t *steps,
                         int64_t n, double lr, double beta1, double beta2, double eps, double weight_decay,
                         int mode);

/* torch.nn.utils.clip_grad_norm_ without a host synchronisation: the total norm of the
 * gradients of ts is computed on the device (with _foreach_norm when use_foreach and the
 * norm is finite), every gradient is scaled by clamp(max_norm / (total + 1e-6), max=1), and
 * the total is returned as a 0-d tensor on the first gradient's device (t is NULL when no
 * tensor has a gradient). */
tt_result tt_clip_grad_norm_tensor(const tt_tensor *ts, int64_t n, double max_norm, double norm_type,
                                   int use_foreach);

/* RMSNorm as transformers' MistralRMSNorm: w * (x32 * rsqrt(mean(x32^2, -1) + eps)).to(x.dtype). */
tt_result tt_rms_norm(tt_tensor x, tt_tensor w, double eps, int grad);
/* Rotary embedding (rotate-half layout) of q and, when k is not NULL, of k:
 * x * cos + cat(-x[..., D/2:], x[..., :D/2]) * sin. b is NULL when k is NULL. */
tt_result2 tt_rotary(tt_tensor q, tt_tensor k, tt_tensor cos, tt_tensor sin, int grad);
/* SwiGLU MLP: linear(silu(linear(x, wg, bg)) * linear(x, wu, bu), wd, bd); biases may be NULL. */
tt_result tt_swiglu(tt_tensor x, tt_tensor wg, tt_tensor bg, tt_tensor wu, tt_tensor bu, tt_tensor wd,
                    tt_tensor bd, int grad);
/* LoRA linear as PEFT's lora.Linear without dropout: y = linear(x, w, b);
 * out = y + linear(linear(x.to(a.dtype), a), bm) * scale, cast back to y's dtype. */
tt_result tt_lora_linear(tt_tensor x, tt_tensor w, tt_tensor b, tt_tensor a, tt_tensor bm, double scale, int grad);

#ifdef __cplusplus
}
#endif
#endif
