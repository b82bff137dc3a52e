// common.h: C++ helpers shared by the shim's translation units (not part of the C surface).
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "mode.h"
#include "shim.h"

struct tt_tensor_s {
  at::Tensor t;
};
// shim.h shows tt_tensor to C (and Go) as a uintptr_t; the two must have the same size.
static_assert(sizeof(tt_tensor) == sizeof(uintptr_t), "tt_tensor must fit a uintptr_t exactly");
struct tt_gen_s {
  at::Generator g;
};

namespace tt {

// The intra-op thread count. libtorch 1.13 keeps the OpenMP count per OS thread, so every
// call applies the configured count on the thread it runs on the first time it sees it.
extern std::atomic<int> g_threads;
void apply_threads();

inline const at::Tensor &T(tt_tensor h) { return h->t; }
inline c10::optional<at::Tensor> opt(tt_tensor h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}
inline at::Tensor or_undef(tt_tensor h) { return h == nullptr ? at::Tensor() : h->t; }
inline c10::optional<at::Generator> gen(tt_gen g) {
  if (g == nullptr) return c10::nullopt;
  return g->g;
}
inline at::IntArrayRef ints(const int64_t *v, int64_t n) { return at::IntArrayRef(v, (size_t)n); }
inline at::Device dev(int d) {
  return d < 0 ? at::Device(at::kCPU) : at::Device(at::kCUDA, (c10::DeviceIndex)d);
}
inline at::TensorOptions opts(int dtype, int device) {
  return at::TensorOptions().dtype((at::ScalarType)dtype).device(dev(device));
}
// The count of live handles (tt_live_tensors), kept per thread so that making and freeing a
// handle costs no atomic read-modify-write: each thread adds to its own counter (plain
// relaxed load and store), and the total is summed over the threads when asked for. A handle
// freed on another thread than the one that made it moves one count between two counters;
// the sum stays right.
struct LiveCount {
  std::atomic<int64_t> n{0};
  LiveCount();
  ~LiveCount();
  void add(int64_t d) { n.store(n.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }
};
extern thread_local LiveCount t_live;

inline tt_tensor wrap(at::Tensor t) {
  t_live.add(1);
  return new tt_tensor_s{std::move(t)};
}

inline char *dup(const char *s) {
  size_t n = std::strlen(s);
  char *m = (char *)std::malloc(n + 1);
  if (m) std::memcpy(m, s, n + 1);
  return m;
}

// guard runs f, turning every exception into a code and a malloc'd message.
template <class F>
inline int guard(char **msg, F &&f) {
  try {
    apply_threads();
    f();
    return TT_OK;
  } catch (const c10::OutOfMemoryError &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_OOM;
  } catch (const c10::IndexError &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_INDEX;
  } catch (const c10::TypeError &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_TYPE;
  } catch (const c10::ValueError &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_VALUE;
  } catch (const c10::NotImplementedError &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_NOTIMPL;
  } catch (const c10::Error &e) {
    *msg = dup(e.what_without_backtrace());
    return TT_ERR;
  } catch (const std::bad_alloc &e) {
    *msg = dup("out of memory (std::bad_alloc)");
    return TT_OOM;
  } catch (const std::exception &e) {
    *msg = dup(e.what());
    return TT_STD;
  } catch (...) {
    *msg = dup("unknown C++ exception");
    return TT_UNKNOWN;
  }
}

// run evaluates f (returning an at::Tensor) under the given mode flags (TT_MODE_*).
template <class F>
inline tt_result run(int grad, F &&f) {
  tt_result r{nullptr, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    ModeGuard gm(grad);
    r.t = wrap(f());
  });
  return r;
}

// run2 evaluates f (returning a pair of tensors) under the given mode flags (TT_MODE_*).
template <class F>
inline tt_result2 run2(int grad, F &&f) {
  tt_result2 r{nullptr, nullptr, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    ModeGuard gm(grad);
    auto p = f();
    r.a = wrap(std::get<0>(p));
    r.b = wrap(std::get<1>(p));
  });
  return r;
}

// status evaluates f (returning a double) with grad recording off.
template <class F>
inline tt_status status(F &&f) {
  tt_status r{0, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    at::NoGradGuard ng;
    r.v = f();
  });
  return r;
}

}  // namespace tt
