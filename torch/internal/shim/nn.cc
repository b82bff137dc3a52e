// nn.cc: convolutions, pooling, resampling, normalisation, attention, sampling and losses.
#include "common.h"

#include <cmath>
#include <limits>

using namespace tt;

extern "C" {

tt_result tt_conv2d(tt_tensor x, tt_tensor w, tt_tensor b, const int64_t *stride, const int64_t *pad,
                    const int64_t *dil, int64_t groups, int grad) {
  return run(grad, [&] {
    return at::conv2d(T(x), T(w), opt(b), ints(stride, 2), ints(pad, 2), ints(dil, 2), groups);
  });
}

tt_result tt_conv_transpose2d(tt_tensor x, tt_tensor w, tt_tensor b, const int64_t *stride, const int64_t *pad,
                              const int64_t *outpad, const int64_t *dil, int64_t groups, int grad) {
  return run(grad, [&] {
#if TORCH_VERSION_MAJOR < 2
    // libtorch 1.13's CPU kernel rejects bfloat16 transposed convolutions with a wrong
    // channel check; compute those in float32 and round the result back to bfloat16.
    if (T(x).device().is_cpu() && T(x).scalar_type() == at::kBFloat16) {
      c10::optional<at::Tensor> bf;
      if (opt(b).has_value()) bf = opt(b)->to(at::kFloat);
      return at::conv_transpose2d(T(x).to(at::kFloat), T(w).to(at::kFloat), bf, ints(stride, 2), ints(pad, 2),
                                  ints(outpad, 2), groups, ints(dil, 2))
          .to(at::kBFloat16);
    }
#endif
    return at::conv_transpose2d(T(x), T(w), opt(b), ints(stride, 2), ints(pad, 2), ints(outpad, 2), groups,
                                ints(dil, 2));
  });
}

tt_result tt_pool2d(int op, tt_tensor x, const int64_t *k, const int64_t *stride, const int64_t *pad,
                    const int64_t *dil, int ceil_mode, int count_include_pad, int grad) {
  return run(grad, [&] {
    if (op == 0) return at::max_pool2d(T(x), ints(k, 2), ints(stride, 2), ints(pad, 2), ints(dil, 2), ceil_mode != 0);
    return at::avg_pool2d(T(x), ints(k, 2), ints(stride, 2), ints(pad, 2), ceil_mode != 0, count_include_pad != 0);
  });
}

tt_result tt_adaptive_avg_pool2d(tt_tensor x, const int64_t *out, int grad) {
  return run(grad, [&] { return at::adaptive_avg_pool2d(T(x), ints(out, 2)); });
}

tt_result tt_interpolate(tt_tensor x, const int64_t *size, int mode, int align_corners, int grad) {
  return run(grad, [&]() -> at::Tensor {
    at::IntArrayRef s = ints(size, 2);
    bool ac = align_corners > 0;
    switch (mode) {
      case 0:
        TORCH_CHECK(align_corners < 0, "interpolate: align_corners only goes with bilinear and bicubic");
        return at::upsample_nearest2d(T(x), s);
      case 1: return at::upsample_bilinear2d(T(x), s, ac);
      case 2: return at::upsample_bicubic2d(T(x), s, ac);
      case 3:
        TORCH_CHECK(align_corners < 0, "interpolate: align_corners only goes with bilinear and bicubic");
        return at::_upsample_nearest_exact2d(T(x), s);
    }
    TORCH_CHECK(false, "interpolate: unknown mode ", mode);
  });
}

tt_result tt_layer_norm(tt_tensor x, const int64_t *shape, int64_t n, tt_tensor w, tt_tensor b, double eps, int grad) {
  return run(grad, [&] { return at::layer_norm(T(x), ints(shape, n), opt(w), opt(b), eps, true); });
}

tt_result tt_group_norm(tt_tensor x, int64_t groups, tt_tensor w, tt_tensor b, double eps, int grad) {
  return run(grad, [&] { return at::group_norm(T(x), groups, opt(w), opt(b), eps, true); });
}

tt_result tt_batch_norm(tt_tensor x, tt_tensor w, tt_tensor b, tt_tensor rmean, tt_tensor rvar, int training,
                        double momentum, double eps, int grad) {
  return run(grad, [&] {
    return at::batch_norm(T(x), opt(w), opt(b), opt(rmean), opt(rvar), training != 0, momentum, eps, true);
  });
}

tt_result tt_instance_norm(tt_tensor x, tt_tensor w, tt_tensor b, tt_tensor rmean, tt_tensor rvar,
                           int use_input_stats, double momentum, double eps, int grad) {
  return run(grad, [&] {
    return at::instance_norm(T(x), opt(w), opt(b), opt(rmean), opt(rvar), use_input_stats != 0, momentum, eps,
                             true);
  });
}

tt_result tt_embedding(tt_tensor w, tt_tensor idx, int64_t padding_idx, int grad) {
  return run(grad, [&] { return at::embedding(T(w), T(idx), padding_idx, false, false); });
}

tt_result tt_softmax(int op, tt_tensor x, int64_t dim, int grad) {
  return run(grad, [&] { return op == 0 ? at::softmax(T(x), dim) : at::log_softmax(T(x), dim); });
}

// Dropout as ATen's reference path: noise ~ Bernoulli(1-p), scaled by 1/(1-p), times x.
static at::Tensor dropout_impl(const at::Tensor &x, double p, bool train, tt_gen g) {
  TORCH_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got ", p);
  if (!train || p == 0) return x;
  if (p == 1) return x * at::zeros({}, x.options());
  at::Tensor noise = at::empty_like(x);
  noise.bernoulli_(1 - p, gen(g));
  noise.div_(1 - p);
  return x * noise;
}

tt_result tt_dropout(tt_tensor x, double p, int train, tt_gen g, int grad) {
  return run(grad, [&] { return dropout_impl(T(x), p, train != 0, g); });
}

}  // extern "C"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
namespace {
// fully_masked_row reports whether gradients flow into an attention whose float mask holds a
// query row masked everywhere with the dtype's lowest value (left padding under a causal
// mask). Eager attention gives such a row uniform weights (the mask swamps the scores), and
// so does the fused forward of libtorch 2.x, but its CPU backward (checked on 2.15) scales
// that row's gradients by the number of keys: its log-sum-exp loses log S next to the mask
// value. tt_sdpa takes the explicit path for these, so gradients stay eager attention's. Only
// on the CPU, where that was seen (the check costs a host synchronisation per call).
bool fully_masked_row(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, tt_tensor mask) {
  if (mask == nullptr || !q.device().is_cpu() || !(q.requires_grad() || k.requires_grad() || v.requires_grad()))
    return false;
  const at::Tensor &m = T(mask);
  if (!at::isFloatingType(m.scalar_type()) || m.numel() == 0) return false;
  double lowest = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, m.scalar_type(), "fully_masked_row",
                                  [&] { lowest = (double)std::numeric_limits<scalar_t>::lowest(); });
  return m.amax(-1).le(lowest).any().item<bool>();
}
}  // namespace
#endif

extern "C" {

tt_result tt_sdpa(tt_tensor hq, tt_tensor hk, tt_tensor hv, tt_tensor mask, double dropout, int causal,
                  double scale, tt_gen g, int grad) {
  return run(grad, [&]() -> at::Tensor {
    const at::Tensor &q = T(hq), &k = T(hk), &v = T(hv);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    if (g == nullptr && !(at::GradMode::is_enabled() && fully_masked_row(q, k, v, mask))) {
      c10::optional<double> sc;
      if (scale > 0) sc = scale;
      return at::scaled_dot_product_attention(q, k, v, opt(mask), dropout, causal != 0, sc);
    }
#endif
    // Explicit path: softmax(Q Kᵀ · scale + mask) V.
    double sc = scale > 0 ? scale : 1.0 / std::sqrt((double)q.size(-1));
    at::Tensor attn = at::matmul(q * sc, k.transpose(-2, -1));
    int64_t L = q.size(-2), S = k.size(-2);
    if (causal) {
      at::Tensor keep = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
      attn = attn.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
    }
    if (mask != nullptr) {
      const at::Tensor &m = T(mask);
      if (m.scalar_type() == at::kBool)
        attn = attn.masked_fill(m.logical_not(), -std::numeric_limits<double>::infinity());
      else
        attn = attn + m;
    }
    attn = at::softmax(attn, -1);
    if (dropout > 0) attn = dropout_impl(attn, dropout, true, g);
    return at::matmul(attn, v);
  });
}

tt_result tt_multinomial(tt_tensor probs, int64_t n, int replacement, tt_gen g) {
  return run(0, [&] { return at::multinomial(T(probs), n, replacement != 0, gen(g)); });
}

tt_result tt_one_hot(tt_tensor idx, int64_t n) {
  return run(0, [&] { return at::one_hot(T(idx), n); });
}

tt_result tt_bce_with_logits(tt_tensor x, tt_tensor y, tt_tensor weight, tt_tensor pos_weight, int reduction,
                             int grad) {
  return run(grad, [&] {
    return at::binary_cross_entropy_with_logits(T(x), T(y), opt(weight), opt(pos_weight), reduction);
  });
}

tt_result tt_cross_entropy(tt_tensor logits, tt_tensor target, tt_tensor weight, int reduction,
                           int64_t ignore_index, double label_smoothing, int grad) {
  return run(grad, [&] {
    return at::cross_entropy_loss(T(logits), T(target), opt(weight), reduction, ignore_index, label_smoothing);
  });
}

tt_result tt_mse(tt_tensor x, tt_tensor y, int reduction, int grad) {
  return run(grad, [&] { return at::mse_loss(T(x), T(y), reduction); });
}

}  // extern "C"
