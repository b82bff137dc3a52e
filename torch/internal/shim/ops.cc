// ops.cc: elementwise math, reductions, views, indexing and linear algebra.
#include "common.h"

#include <cmath>
#include <vector>

using namespace tt;

extern "C" {

tt_result tt_unary(int op, tt_tensor h, int grad) {
  return run(grad, [&]() -> at::Tensor {
    const at::Tensor &a = T(h);
    switch (op) {
      case TT_NEG: return at::neg(a);
      case TT_EXP: return at::exp(a);
      case TT_LOG: return at::log(a);
      case TT_SQRT: return at::sqrt(a);
      case TT_RSQRT: return at::rsqrt(a);
      case TT_ABS: return at::abs(a);
      case TT_SIN: return at::sin(a);
      case TT_COS: return at::cos(a);
      case TT_RELU: return at::relu(a);
      case TT_SIGMOID: return at::sigmoid(a);
      case TT_TANH: return at::tanh(a);
      case TT_SILU: return at::silu(a);
      case TT_GELU: return at::gelu(a, "none");
      case TT_GELU_TANH: return at::gelu(a, "tanh");
      case TT_CONTIGUOUS: return a.contiguous();
      case TT_CLONE: return a.clone();
      case TT_FLOOR: return at::floor(a);
      case TT_CEIL: return at::ceil(a);
      case TT_ROUND: return at::round(a);
      case TT_SIGN: return at::sign(a);
      case TT_LOGICAL_NOT: return at::logical_not(a);
      case TT_ISNAN: return at::isnan(a);
      case TT_ERF: return at::erf(a);
      case TT_LOG1P: return at::log1p(a);
      case TT_SQUARE: return at::square(a);
      case TT_RECIPROCAL: return at::reciprocal(a);
      case TT_DETACH: return a.detach();
      case TT_ISFINITE: return at::isfinite(a);
      case TT_ERFINV: return at::erfinv(a);
      case TT_EXPM1: return at::expm1(a);
    }
    TORCH_CHECK(false, "unknown unary op ", op);
  });
}

tt_result tt_binary(int op, tt_tensor ha, tt_tensor hb, int grad) {
  return run(grad, [&]() -> at::Tensor {
    const at::Tensor &a = T(ha), &b = T(hb);
    switch (op) {
      case TT_ADD: return at::add(a, b);
      case TT_SUB: return at::sub(a, b);
      case TT_MUL: return at::mul(a, b);
      case TT_DIV: return at::div(a, b);
      case TT_POW: return at::pow(a, b);
      case TT_MAXIMUM: return at::maximum(a, b);
      case TT_MINIMUM: return at::minimum(a, b);
      case TT_EQ: return at::eq(a, b);
      case TT_NE: return at::ne(a, b);
      case TT_LT: return at::lt(a, b);
      case TT_LE: return at::le(a, b);
      case TT_GT: return at::gt(a, b);
      case TT_GE: return at::ge(a, b);
      case TT_MATMUL: return at::matmul(a, b);
      case TT_BMM: return at::bmm(a, b);
      case TT_LOGICAL_AND: return at::logical_and(a, b);
      case TT_LOGICAL_OR: return at::logical_or(a, b);
      case TT_RSUB: return at::sub(b, a);
      case TT_REMAINDER: return at::remainder(a, b);
      case TT_ATAN2: return at::atan2(a, b);
      case TT_FLOOR_DIVIDE: return at::div(a, b, "floor");
    }
    TORCH_CHECK(false, "unknown binary op ", op);
  });
}

tt_result tt_binary_scalar(int op, tt_tensor ha, double s, int grad) {
  return run(grad, [&]() -> at::Tensor {
    const at::Tensor &a = T(ha);
    // An integral value with an integer tensor stays an integer scalar, as `t - 1` in
    // Python keeps an int64 tensor int64 (a double scalar would promote it to float).
    bool integral = !a.is_floating_point() && !a.is_complex() && std::floor(s) == s && std::fabs(s) < 9e18;
    at::Scalar v = integral ? at::Scalar((int64_t)s) : at::Scalar(s);
    switch (op) {
      case TT_ADD: return at::add(a, v);
      case TT_SUB: return at::sub(a, v);
      case TT_MUL: return at::mul(a, v);
      case TT_DIV: return at::div(a, v);
      case TT_POW: return at::pow(a, v);
      case TT_MAXIMUM: return at::clamp_min(a, v);
      case TT_MINIMUM: return at::clamp_max(a, v);
      case TT_EQ: return at::eq(a, v);
      case TT_NE: return at::ne(a, v);
      case TT_LT: return at::lt(a, v);
      case TT_LE: return at::le(a, v);
      case TT_GT: return at::gt(a, v);
      case TT_GE: return at::ge(a, v);
      case TT_RSUB: return at::rsub(a, v);
      case TT_REMAINDER: return at::remainder(a, v);
      case TT_FLOOR_DIVIDE: return at::div(a, v, "floor");
    }
    TORCH_CHECK(false, "unknown scalar op ", op);
  });
}

tt_result tt_where(tt_tensor c, tt_tensor a, tt_tensor b, int grad) {
  return run(grad, [&] { return at::where(T(c), T(a), T(b)); });
}

tt_result tt_clamp(tt_tensor a, double lo, double hi, int has_lo, int has_hi, int grad) {
  return run(grad, [&] {
    c10::optional<at::Scalar> l, h;
    if (has_lo) l = at::Scalar(lo);
    if (has_hi) h = at::Scalar(hi);
    return at::clamp(T(a), l, h);
  });
}

tt_result tt_masked_fill(tt_tensor a, tt_tensor mask, double v, int grad) {
  return run(grad, [&] { return at::masked_fill(T(a), T(mask), v); });
}

tt_result tt_triangle(tt_tensor a, int64_t k, int upper, int grad) {
  return run(grad, [&] { return upper ? at::triu(T(a), k) : at::tril(T(a), k); });
}

tt_result tt_to(tt_tensor a, int device, int dtype, int copy, int grad) {
  return run(grad, [&] {
    return T(a).to(dev(device), (at::ScalarType)dtype, /*non_blocking=*/false, copy != 0);
  });
}

tt_result tt_addcmul(tt_tensor a, tt_tensor b, tt_tensor c, double value, int grad) {
  return run(grad, [&] { return at::addcmul(T(a), T(b), T(c), value); });
}

tt_result tt_reduce(int op, tt_tensor h, const int64_t *dims, int64_t n, int keepdim, int grad) {
  return run(grad, [&]() -> at::Tensor {
    const at::Tensor &a = T(h);
    bool all = n == 0;
    std::vector<int64_t> every;
    if (all) {
      for (int64_t i = 0; i < a.dim(); i++) every.push_back(i);
    }
    at::IntArrayRef d = all ? at::IntArrayRef(every) : ints(dims, n);
    switch (op) {
      case TT_SUM: return all && !keepdim ? at::sum(a) : at::sum(a, d, keepdim);
      case TT_MEAN: return all && !keepdim ? at::mean(a) : at::mean(a, d, keepdim);
      case TT_AMAX: return at::amax(a, d, keepdim);
      case TT_AMIN: return at::amin(a, d, keepdim);
      case TT_PROD:
        if (all && !keepdim) return at::prod(a);
        TORCH_CHECK(n == 1, "prod reduces over one dim at a time");
        return at::prod(a, dims[0], keepdim);
      case TT_LOGSUMEXP: return at::logsumexp(a, d, keepdim);
      case TT_ALL:
        if (all && !keepdim) return at::all(a);
        TORCH_CHECK(n == 1, "all reduces over one dim at a time");
        return at::all(a, dims[0], keepdim);
      case TT_ANY:
        if (all && !keepdim) return at::any(a);
        TORCH_CHECK(n == 1, "any reduces over one dim at a time");
        return at::any(a, dims[0], keepdim);
    }
    TORCH_CHECK(false, "unknown reduction ", op);
  });
}

tt_result2 tt_reduce_dim2(int op, tt_tensor h, int64_t dim, int keepdim, int grad) {
  return run2(grad, [&]() -> std::tuple<at::Tensor, at::Tensor> {
    switch (op) {
      case 0: return at::max(T(h), dim, keepdim);
      case 1: return at::min(T(h), dim, keepdim);
      case 2: return at::sort(T(h), dim, keepdim != 0);
    }
    TORCH_CHECK(false, "unknown reduction ", op);
  });
}

tt_result tt_argmax(tt_tensor h, int64_t dim, int has_dim, int keepdim, int argmin) {
  return run(0, [&] {
    c10::optional<int64_t> d;
    if (has_dim) d = dim;
    return argmin ? at::argmin(T(h), d, keepdim) : at::argmax(T(h), d, keepdim);
  });
}

tt_result tt_var(tt_tensor h, const int64_t *dims, int64_t n, int unbiased, int keepdim, int grad) {
  return run(grad, [&] {
    if (n == 0 && !keepdim) return at::var(T(h), unbiased != 0);
    std::vector<int64_t> every;
    if (n == 0)
      for (int64_t i = 0; i < T(h).dim(); i++) every.push_back(i);
    at::IntArrayRef d = n == 0 ? at::IntArrayRef(every) : ints(dims, n);
    return at::var(T(h), d, unbiased != 0, keepdim != 0);
  });
}

tt_result tt_norm(tt_tensor h, double p, const int64_t *dims, int64_t n, int keepdim, int grad) {
  return run(grad, [&] {
    if (n == 0 && !keepdim) return at::norm(T(h), p);
    std::vector<int64_t> every;
    if (n == 0)
      for (int64_t i = 0; i < T(h).dim(); i++) every.push_back(i);
    at::IntArrayRef d = n == 0 ? at::IntArrayRef(every) : ints(dims, n);
    return at::norm(T(h), p, d, keepdim != 0);
  });
}

tt_result tt_cumsum(tt_tensor h, int64_t dim, int grad) {
  return run(grad, [&] { return at::cumsum(T(h), dim); });
}

tt_result2 tt_topk(tt_tensor h, int64_t k, int64_t dim, int largest, int sorted, int grad) {
  return run2(grad, [&] { return at::topk(T(h), k, dim, largest != 0, sorted != 0); });
}

tt_result tt_shape_op(int op, tt_tensor h, const int64_t *v, int64_t n, int grad) {
  return run(grad, [&]() -> at::Tensor {
    switch (op) {
      case TT_RESHAPE: return T(h).reshape(ints(v, n));
      case TT_VIEW: return T(h).view(ints(v, n));
      case TT_PERMUTE: return T(h).permute(ints(v, n));
      case TT_EXPAND: return T(h).expand(ints(v, n));
      case TT_FLIP: return at::flip(T(h), ints(v, n));
    }
    TORCH_CHECK(false, "unknown shape op ", op);
  });
}

tt_result tt_transpose(tt_tensor h, int64_t d0, int64_t d1, int grad) {
  return run(grad, [&] { return T(h).transpose(d0, d1); });
}

tt_result tt_squeeze(tt_tensor h, int64_t dim, int has_dim, int grad) {
  return run(grad, [&] { return has_dim ? T(h).squeeze(dim) : T(h).squeeze(); });
}

tt_result tt_unsqueeze(tt_tensor h, int64_t dim, int grad) {
  return run(grad, [&] { return T(h).unsqueeze(dim); });
}

tt_result tt_narrow(tt_tensor h, int64_t dim, int64_t start, int64_t len, int grad) {
  return run(grad, [&] { return T(h).narrow(dim, start, len); });
}

tt_result tt_slice(tt_tensor h, int64_t dim, int64_t start, int64_t end, int64_t step, int grad) {
  return run(grad, [&] { return T(h).slice(dim, start, end, step); });
}

tt_result tt_select(tt_tensor h, int64_t dim, int64_t index, int grad) {
  return run(grad, [&] { return T(h).select(dim, index); });
}

tt_result tt_index_select(tt_tensor h, int64_t dim, tt_tensor idx, int grad) {
  return run(grad, [&] { return at::index_select(T(h), dim, T(idx)); });
}

tt_result tt_gather(tt_tensor h, int64_t dim, tt_tensor idx, int grad) {
  return run(grad, [&] { return at::gather(T(h), dim, T(idx)); });
}

tt_result tt_scatter(tt_tensor h, int64_t dim, tt_tensor idx, tt_tensor src, int add, int grad) {
  return run(grad, [&] {
    return add ? at::scatter_add(T(h), dim, T(idx), T(src)) : at::scatter(T(h), dim, T(idx), T(src));
  });
}

tt_result tt_index_put(tt_tensor h, tt_tensor idx, tt_tensor values, int grad) {
  return run(grad, [&] {
    c10::List<c10::optional<at::Tensor>> l;
    l.push_back(T(idx));
    return at::index_put(T(h), l, T(values));
  });
}

tt_result tt_join(int op, const tt_tensor *ts, int64_t n, int64_t dim, int grad) {
  return run(grad, [&] {
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int64_t i = 0; i < n; i++) v.push_back(ts[i]->t);
    return op == 0 ? at::cat(v, dim) : at::stack(v, dim);
  });
}

tt_status tt_split(int op, tt_tensor h, int64_t arg, int64_t dim, tt_tensor *out, int64_t cap, int grad) {
  tt_status r{0, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    ModeGuard gm(grad);
    std::vector<at::Tensor> parts = op == 0 ? T(h).split(arg, dim) : T(h).chunk(arg, dim);
    TORCH_CHECK((int64_t)parts.size() <= cap, "split: ", parts.size(), " pieces but room for ", cap);
    for (size_t i = 0; i < parts.size(); i++) out[i] = wrap(parts[i]);
    r.v = (double)parts.size();
  });
  return r;
}

tt_result tt_roll(tt_tensor h, const int64_t *shifts, int64_t ns, const int64_t *dims, int64_t nd, int grad) {
  return run(grad, [&] { return at::roll(T(h), ints(shifts, ns), ints(dims, nd)); });
}

tt_result tt_pad(tt_tensor h, const int64_t *pad, int64_t n, int mode, double value, int grad) {
  return run(grad, [&] {
    static const char *modes[] = {"constant", "reflect", "replicate", "circular"};
    TORCH_CHECK(mode >= 0 && mode < 4, "pad: unknown mode ", mode);
    c10::optional<double> v;
    if (mode == 0) v = value;
    return at::pad(T(h), ints(pad, n), modes[mode], v);
  });
}

tt_result tt_linear(tt_tensor x, tt_tensor w, tt_tensor b, int grad) {
  return run(grad, [&] { return at::linear(T(x), T(w), opt(b)); });
}

tt_result tt_baddbmm(tt_tensor in, tt_tensor b1, tt_tensor b2, double beta, double alpha, int grad) {
  return run(grad, [&] { return at::baddbmm(T(in), T(b1), T(b2), beta, alpha); });
}

}  // extern "C"
