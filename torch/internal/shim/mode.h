// mode.h: the per-call thread-local mode (grad recording and autocast) that every op
// receives as its `grad` flags argument and sets with an RAII guard for the length of the
// call, so that no libtorch thread-local state outlives a call (a goroutine may move to
// another OS thread between calls).
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/AutogradState.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include "shim.h"

// libtorch 2.4 replaced the per-backend autocast setters (set_enabled, set_cpu_enabled,
// set_autocast_gpu_dtype, ...) by ones that take the device type, and deprecated the old ones
// (which now warn on every call).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TT_AUTOCAST_BY_DEVICE 1
#else
#define TT_AUTOCAST_BY_DEVICE 0
#endif

namespace tt {

inline bool autocast_on(at::DeviceType d) {
#if TT_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

inline void set_autocast_on(at::DeviceType d, bool on) {
#if TT_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
#endif
}

inline at::ScalarType autocast_dtype(at::DeviceType d) {
#if TT_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

inline void set_autocast_dtype(at::DeviceType d, at::ScalarType t) {
#if TT_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == at::kCUDA)
    at::autocast::set_autocast_gpu_dtype(t);
  else
    at::autocast::set_autocast_cpu_dtype(t);
#endif
}

// ModeGuard applies a TT_MODE_* flags word for its lifetime and restores what was there
// before. Autocast runs with libtorch's cast cache off: the cache keeps the low-precision
// copy of each float32 leaf that requires grad until autocast is left at nesting level 0,
// which a per-call mode never reaches, so cached copies would outlive optimizer updates
// (stale weights) and pile up (a leak).
//
// Every op passes through here, so the common case is kept to two thread-local reads: the
// autograd state (one call into libc10, whose reference is then read and written
// directly) and the local dispatch-key set, whose excluded keys say whether CPU or CUDA
// autocast is on (libtorch's is_*enabled functions read the same bits). Grad mode is
// written only when it differs from the wanted one, and restored only then.
class ModeGuard {
 public:
  explicit ModeGuard(int flags) : state_(c10::AutogradState::get_tls_state()) {
    bool want = (flags & TT_MODE_GRAD) != 0;
    prev_grad_ = state_.get_grad_mode();
    if (prev_grad_ != want) {
      state_.set_grad_mode(want);
      grad_set_ = true;
    }
    bool cpu = (flags & TT_MODE_AUTOCAST_CPU) != 0;
    bool cuda = (flags & TT_MODE_AUTOCAST_CUDA) != 0;
    c10::DispatchKeySet excluded = c10::impl::tls_local_dispatch_key_set().excluded_;
    prev_cpu_ = !excluded.has(c10::DispatchKey::AutocastCPU);
    prev_cuda_ = !excluded.has(c10::DispatchKey::AutocastCUDA);
    if (!cpu && !cuda && !prev_cpu_ && !prev_cuda_) return;  // the common case: nothing to do
    auto dt = (at::ScalarType)((flags >> TT_MODE_DTYPE_SHIFT) & 0xff);
    if (cpu || cuda) {
      TORCH_CHECK(dt == at::kBFloat16 || dt == at::kHalf, "autocast: the dtype must be bfloat16 or float16, not ",
                  dt);
#if !TT_AUTOCAST_BY_DEVICE
      TORCH_CHECK(!cpu || dt == at::kBFloat16, "autocast: CPU autocast in libtorch ", TORCH_VERSION,
                  " supports only bfloat16");
#endif
    }
    prev_cpu_dt_ = autocast_dtype(at::kCPU);
    prev_cuda_dt_ = autocast_dtype(at::kCUDA);
    prev_cache_ = at::autocast::is_autocast_cache_enabled();
    active_ = true;
    at::autocast::set_autocast_cache_enabled(false);
    if (cpu) set_autocast_dtype(at::kCPU, dt);
    if (cuda) set_autocast_dtype(at::kCUDA, dt);
    set_autocast_on(at::kCPU, cpu);
    set_autocast_on(at::kCUDA, cuda);
  }
  ~ModeGuard() {
    if (active_) {
      set_autocast_on(at::kCPU, prev_cpu_);
      set_autocast_on(at::kCUDA, prev_cuda_);
      set_autocast_dtype(at::kCPU, prev_cpu_dt_);
      set_autocast_dtype(at::kCUDA, prev_cuda_dt_);
      at::autocast::set_autocast_cache_enabled(prev_cache_);
    }
    if (grad_set_) state_.set_grad_mode(prev_grad_);
  }
  ModeGuard(const ModeGuard &) = delete;
  ModeGuard &operator=(const ModeGuard &) = delete;

 private:
  c10::AutogradState &state_;
  bool prev_grad_ = true, grad_set_ = false;
  bool active_ = false;
  bool prev_cpu_ = false, prev_cuda_ = false, prev_cache_ = true;
  at::ScalarType prev_cpu_dt_ = at::kBFloat16, prev_cuda_dt_ = at::kHalf;
};

}  // namespace tt
