// mode.cc: a probe of the per-call mode guard (mode.h), for tests.
#include "common.h"

using namespace tt;

extern "C" {

tt_status tt_mode_probe(int flags) {
  tt_status r{0, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    ModeGuard m(flags);
    int out = at::GradMode::is_enabled() ? TT_MODE_GRAD : 0;
    bool cpu = autocast_on(at::kCPU), cuda = autocast_on(at::kCUDA);
    if (cpu) out |= TT_MODE_AUTOCAST_CPU | ((int)autocast_dtype(at::kCPU) << TT_MODE_DTYPE_SHIFT);
    if (cuda) out |= TT_MODE_AUTOCAST_CUDA | ((int)autocast_dtype(at::kCUDA) << TT_MODE_DTYPE_SHIFT);
    if ((cpu || cuda) && at::autocast::is_autocast_cache_enabled()) out |= 1 << 16;  // must never be set
    r.v = out;
  });
  return r;
}

}  // extern "C"
