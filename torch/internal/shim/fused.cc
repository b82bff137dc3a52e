// fused.cc: multi-tensor AdamW, device-side gradient clipping and fused model sub-graphs.
#include "common.h"
#include "fused.h"

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_addcdiv.h>
#include <ATen/ops/_foreach_addcmul.h>
#include <ATen/ops/_foreach_div.h>
#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_foreach_sqrt.h>

#if defined(__has_include)
#if __has_include(<ATen/ops/_fused_adamw.h>)
#include <ATen/ops/_fused_adamw.h>
#define TT_HAVE_FUSED_ADAMW 1
#endif
#endif

#include <cmath>
#include <limits>
#include <vector>

using namespace tt;

namespace {

// adamw_foreach is torch.optim.adamw._multi_tensor_adamw (capturable=False, amsgrad=False,
// maximize=False): the bias corrections are host scalars from the host step counts.
void adamw_foreach(std::vector<at::Tensor> &ps, std::vector<at::Tensor> &gs, std::vector<at::Tensor> &ms,
                   std::vector<at::Tensor> &vs, const std::vector<int64_t> &steps, double lr, double beta1,
                   double beta2, double eps, double wd) {
  std::vector<at::Scalar> bc2_sqrt, step_size;
  bc2_sqrt.reserve(steps.size());
  step_size.reserve(steps.size());
  for (int64_t st : steps) {
    double bc1 = 1 - std::pow(beta1, (double)st);
    double bc2 = 1 - std::pow(beta2, (double)st);
    step_size.emplace_back((lr / bc1) * -1);
    bc2_sqrt.emplace_back(std::sqrt(bc2));
  }
  at::_foreach_mul_(ps, 1 - lr * wd);
  at::_foreach_mul_(ms, beta1);
  at::_foreach_add_(ms, gs, 1 - beta1);
  at::_foreach_mul_(vs, beta2);
  at::_foreach_addcmul_(vs, gs, gs, 1 - beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(vs);
  at::_foreach_div_(denom, bc2_sqrt);
  at::_foreach_add_(denom, eps);
  at::_foreach_addcdiv_(ps, ms, denom, step_size);
}

#ifdef TT_HAVE_FUSED_ADAMW
// adamw_fused is torch.optim.adamw._fused_adamw: float32 step tensors on the parameters'
// device, already incremented, passed to the one kernel.
void adamw_fused(std::vector<at::Tensor> &ps, std::vector<at::Tensor> &gs, std::vector<at::Tensor> &ms,
                 std::vector<at::Tensor> &vs, const std::vector<int64_t> &steps, double lr, double beta1,
                 double beta2, double eps, double wd) {
  std::vector<float> host(steps.begin(), steps.end());
  at::Tensor all = at::from_blob(host.data(), {(int64_t)host.size()}, at::TensorOptions().dtype(at::kFloat))
                       .to(at::TensorOptions().device(ps[0].device()).dtype(at::kFloat), /*non_blocking=*/false,
                           /*copy=*/true);
  std::vector<at::Tensor> st = all.unbind(0);
  std::vector<at::Tensor> none;
  at::_fused_adamw_(ps, gs, ms, vs, none, st, lr, beta1, beta2, wd, eps, false, false, c10::nullopt, c10::nullopt);
}
#endif

}  // namespace

extern "C" {

int tt_fused_adamw_compiled(void) {
#ifdef TT_HAVE_FUSED_ADAMW
  return 1;
#else
  return 0;
#endif
}

tt_status tt_adamw_multi(const tt_tensor *hps, const tt_tensor *hms, const tt_tensor *hvs, int64_t *steps,
                         int64_t n, double lr, double beta1, double beta2, double eps, double weight_decay,
                         int mode) {
  return status([&]() -> double {
    std::vector<at::Tensor> ps, gs, ms, vs;
    std::vector<int64_t> st, idx;
    ps.reserve(n);
    gs.reserve(n);
    ms.reserve(n);
    vs.reserve(n);
    for (int64_t i = 0; i < n; i++) {
      const at::Tensor &g = hps[i]->t.grad();
      if (!g.defined()) continue;
      TORCH_CHECK(steps[i] >= 0, "adamw: negative step count");
      ps.push_back(hps[i]->t);
      gs.push_back(g);
      ms.push_back(hms[i]->t);
      vs.push_back(hvs[i]->t);
      st.push_back(steps[i] + 1);
      idx.push_back(i);
    }
    if (ps.empty()) return 0;
    if (mode == TT_ADAMW_FUSED) {
#ifdef TT_HAVE_FUSED_ADAMW
      adamw_fused(ps, gs, ms, vs, st, lr, beta1, beta2, eps, weight_decay);
#else
      TORCH_CHECK(false, "adamw: this libtorch (", TORCH_VERSION, ") has no fused AdamW");
#endif
    } else {
      adamw_foreach(ps, gs, ms, vs, st, lr, beta1, beta2, eps, weight_decay);
    }
    for (int64_t i : idx) steps[i]++;
    return (double)idx.size();
  });
}

tt_result tt_clip_grad_norm_tensor(const tt_tensor *ts, int64_t n, double max_norm, double norm_type,
                                   int use_foreach) {
  tt_result r{nullptr, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    at::NoGradGuard ng;
    std::vector<at::Tensor> grads;
    grads.reserve(n);
    for (int64_t i = 0; i < n; i++) {
      const at::Tensor &g = ts[i]->t.grad();
      if (g.defined()) grads.push_back(g.detach());
    }
    if (grads.empty()) return;
    const at::Device d0 = grads[0].device();
    at::Tensor total;
    if (std::isinf(norm_type)) {
      std::vector<at::Tensor> m;
      m.reserve(grads.size());
      for (auto &g : grads) m.push_back(g.abs().max().to(d0));
      total = m.size() == 1 ? m[0] : at::stack(m).max();
    } else {
      std::vector<at::Tensor> norms;
      if (use_foreach) {
        norms = at::_foreach_norm(grads, norm_type);
        for (auto &x : norms)
          if (x.device() != d0) x = x.to(d0);
      } else {
        norms.reserve(grads.size());
        for (auto &g : grads) norms.push_back(at::norm(g, norm_type).to(d0));
      }
      total = at::norm(at::stack(norms), norm_type);
    }
    at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
    // One coefficient per gradient, moved once per device.
    std::vector<at::Tensor> coefs;
    coefs.reserve(grads.size());
    at::Tensor last = coef;
    for (auto &g : grads) {
      if (last.device() != g.device()) last = coef.to(g.device());
      coefs.push_back(last);
    }
    if (use_foreach)
      at::_foreach_mul_(grads, coefs);
    else
      for (size_t i = 0; i < grads.size(); i++) grads[i].mul_(coefs[i]);
    r.t = wrap(total);
  });
  return r;
}

tt_result tt_rms_norm(tt_tensor hx, tt_tensor hw, double eps, int grad) {
  return run(grad, [&] {
    const at::Tensor &x = T(hx);
    at::Tensor h = x.scalar_type() == at::kFloat ? x : x.to(at::kFloat);
    at::Tensor v = h.square().mean({-1}, true);
    h = h * (v + eps).rsqrt();
    if (x.scalar_type() != at::kFloat) h = h.to(x.scalar_type());
    return T(hw) * h;
  });
}

static at::Tensor rotate(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin) {
  int64_t d = x.size(-1);
  at::Tensor x1 = x.narrow(-1, 0, d / 2);
  at::Tensor x2 = x.narrow(-1, d / 2, d - d / 2);
  return x * cos + at::cat({-x2, x1}, -1) * sin;
}

tt_result2 tt_rotary(tt_tensor q, tt_tensor k, tt_tensor cos, tt_tensor sin, int grad) {
  tt_result2 r{nullptr, nullptr, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    at::AutoGradMode gm(grad != 0);
    at::Tensor a = rotate(T(q), T(cos), T(sin));
    at::Tensor b;
    if (k != nullptr) b = rotate(T(k), T(cos), T(sin));
    r.a = wrap(std::move(a));
    if (k != nullptr) r.b = wrap(std::move(b));
  });
  return r;
}

tt_result tt_swiglu(tt_tensor x, tt_tensor wg, tt_tensor bg, tt_tensor wu, tt_tensor bu, tt_tensor wd,
                    tt_tensor bd, int grad) {
  return run(grad, [&] {
    at::Tensor g = at::linear(T(x), T(wg), opt(bg));
    at::Tensor u = at::linear(T(x), T(wu), opt(bu));
    return at::linear(at::silu(g) * u, T(wd), opt(bd));
  });
}

tt_result tt_lora_linear(tt_tensor hx, tt_tensor w, tt_tensor b, tt_tensor a, tt_tensor bm, double scale, int grad) {
  return run(grad, [&] {
    const at::Tensor &x = T(hx);
    at::Tensor y = at::linear(x, T(w), opt(b));
    at::Tensor h = x.scalar_type() == T(a).scalar_type() ? x : x.to(T(a).scalar_type());
    at::Tensor d = at::linear(at::linear(h, T(a)), T(bm)) * scale;
    at::Tensor out = y + d;
    if (out.scalar_type() != y.scalar_type()) out = out.to(y.scalar_type());
    return out;
  });
}

}  // extern "C"
