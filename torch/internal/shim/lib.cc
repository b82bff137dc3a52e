// lib.cc: library state, generators, tensor lifecycle, creation, autograd, in-place updates
// and optimizer steps.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cmath>
#include <mutex>
#include <tuple>
#include <vector>

#ifdef TT_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

using namespace tt;

#ifdef TT_WITH_CUDA
// The index of the all-pools entry in the caching allocator's per-pool statistics. The enum
// that names it moved: c10::cuda::CUDACachingAllocator::StatType up to libtorch 2.4, then the
// device-generic c10/core/CachingDeviceAllocator.h (2024's allocator refactor), and later
// c10::CachingAllocator, where 2.11 has it. AGGREGATE has been entry 0 of a 3-entry array in
// every release, so from 2.5 on it is indexed by number, checked against the array's size.
#if TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 5)
constexpr size_t kStatAggregate = (size_t)c10::cuda::CUDACachingAllocator::StatType::AGGREGATE;
#else
constexpr size_t kStatAggregate = 0;
#endif
static_assert(std::tuple_size<decltype(c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes)>::value > kStatAggregate,
              "the caching allocator's per-pool statistics are not an array holding kStatAggregate");
#endif

namespace tt {
// The per-thread live-handle counters (common.h), and what exited threads left.
static std::mutex g_live_mu;
static std::vector<LiveCount *> g_live_counts;
static int64_t g_live_retired = 0;
LiveCount::LiveCount() {
  std::lock_guard<std::mutex> l(g_live_mu);
  g_live_counts.push_back(this);
}
LiveCount::~LiveCount() {
  std::lock_guard<std::mutex> l(g_live_mu);
  g_live_retired += n.load(std::memory_order_relaxed);
  for (size_t i = 0; i < g_live_counts.size(); i++) {
    if (g_live_counts[i] == this) {
      g_live_counts[i] = g_live_counts.back();
      g_live_counts.pop_back();
      break;
    }
  }
}
thread_local LiveCount t_live;

std::atomic<int> g_threads{0};
static thread_local int t_threads = 0;
static thread_local int t_own_threads = 0;  // tt_set_thread_num_threads; 0: g_threads
void apply_threads() {
  int n = t_own_threads > 0 ? t_own_threads : g_threads.load(std::memory_order_relaxed);
  if (n > 0 && t_threads != n) {
    at::set_num_threads(n);
    t_threads = n;
  }
}
}  // namespace tt

extern "C" {

const char *tt_version(void) { return TORCH_VERSION; }

int tt_cuda_compiled(void) {
#ifdef TT_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

void tt_set_num_threads(int n) {
  if (n <= 0) return;
  g_threads.store(n);
  // Debian's libtorch runs float matmuls in OpenBLAS, whose pthread pool ignores
  // at::set_num_threads; set it too when OpenBLAS is loaded.
  using setter = void (*)(int);
  if (auto f = (setter)dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) f(n);
  try {
    apply_threads();
  } catch (...) {
  }
}

int tt_retain_host_memory(long long mmap_threshold, long long trim_threshold, long long top_pad) {
#ifdef __GLIBC__
  // mallopt takes an int; the callers' values fit.
  return mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) == 1 &&
                 mallopt(M_TOP_PAD, (int)top_pad) == 1
             ? 1
             : 0;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  (void)top_pad;
  return -1;
#endif
}

int tt_get_num_threads(void) {
  try {
    // Reports the calling thread's count as it is (ops apply the configured one first).
    return at::get_num_threads();
  } catch (...) {
    return -1;
  }
}

int tt_cuda_available(void) {
  try {
    return at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0;
  } catch (...) {
    return 0;
  }
}

int tt_cuda_device_count(void) {
  try {
    return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  } catch (...) {
    return 0;
  }
}

tt_status tt_cuda_synchronize(int device) {
  return status([&]() -> double {
#ifdef TT_WITH_CUDA
    c10::cuda::CUDAGuard g((c10::DeviceIndex)device);
    c10::cuda::device_synchronize();
    return 0;
#else
    (void)device;
    TORCH_CHECK(false, "CUDA is not compiled into this build of the shim");
#endif
  });
}

tt_status tt_cuda_memory_allocated(int device) {
  return status([&]() -> double {
#ifdef TT_WITH_CUDA
    auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
    return (double)st.allocated_bytes[kStatAggregate].current;
#else
    (void)device;
    TORCH_CHECK(false, "CUDA is not compiled into this build of the shim");
#endif
  });
}

tt_status tt_cuda_memory_reserved(int device) {
  return status([&]() -> double {
#ifdef TT_WITH_CUDA
    auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
    return (double)st.reserved_bytes[kStatAggregate].current;
#else
    (void)device;
    TORCH_CHECK(false, "CUDA is not compiled into this build of the shim");
#endif
  });
}

tt_status tt_cuda_empty_cache(void) {
  return status([&]() -> double {
#ifdef TT_WITH_CUDA
    c10::cuda::CUDACachingAllocator::emptyCache();
#endif
    return 0;
  });
}

tt_status tt_manual_seed(uint64_t seed) {
  return status([&]() -> double {
    auto g = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_current_seed(seed);
    }
#ifdef TT_WITH_CUDA
    if (at::hasCUDA()) {
      int n = at::detail::getCUDAHooks().getNumGPUs();
      for (int i = 0; i < n; i++) {
        auto cg = at::cuda::detail::getDefaultCUDAGenerator(i);
        std::lock_guard<std::mutex> lock(cg.mutex());
        cg.set_current_seed(seed);
      }
    }
#endif
    return 0;
  });
}

tt_gen tt_gen_new(uint64_t seed, int device) {
  try {
    if (device < 0) return new tt_gen_s{at::make_generator<at::CPUGeneratorImpl>(seed)};
#ifdef TT_WITH_CUDA
    auto g = at::cuda::detail::createCUDAGenerator((c10::DeviceIndex)device);
    g.set_current_seed(seed);
    return new tt_gen_s{g};
#else
    return nullptr;
#endif
  } catch (...) {
    return nullptr;
  }
}

void tt_gen_free(tt_gen g) { delete g; }

// state_gen is g, or the default generator of device when g is NULL.
static at::Generator state_gen(tt_gen g, int device) {
  if (g != nullptr) return g->g;
  if (device < 0) return at::detail::getDefaultCPUGenerator();
#ifdef TT_WITH_CUDA
  return at::cuda::detail::getDefaultCUDAGenerator((c10::DeviceIndex)device);
#else
  TORCH_CHECK(false, "generator state: this build has no CUDA");
#endif
}

tt_result tt_gen_get_state(tt_gen g, int device) {
  return run(0, [&] {
    auto gg = state_gen(g, device);
    std::lock_guard<std::mutex> lock(gg.mutex());
    return gg.get_state();
  });
}

tt_status tt_gen_set_state(tt_gen g, int device, tt_tensor state) {
  return status([&]() -> double {
    auto gg = state_gen(g, device);
    std::lock_guard<std::mutex> lock(gg.mutex());
    gg.set_state(state->t);
    return 0;
  });
}

void tt_free(tt_tensor t) {
  if (t == nullptr) return;
  t_live.add(-1);
  delete t;
}
void tt_free_many(const tt_tensor *ts, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    if (ts[i] == nullptr) continue;
    delete ts[i];
    k++;
  }
  t_live.add(-k);
}
int64_t tt_live_tensors(void) {
  std::lock_guard<std::mutex> l(g_live_mu);
  int64_t sum = g_live_retired;
  for (LiveCount *c : g_live_counts) sum += c->n.load(std::memory_order_relaxed);
  return sum;
}
int64_t tt_dim(tt_tensor t) { return t->t.dim(); }
int64_t tt_sizes(tt_tensor t, int64_t *out, int64_t cap) {
  int64_t d = t->t.dim();
  for (int64_t i = 0; i < d && i < cap; i++) out[i] = t->t.size(i);
  return d;
}
int64_t tt_strides(tt_tensor t, int64_t *out, int64_t cap) {
  int64_t d = t->t.dim();
  for (int64_t i = 0; i < d && i < cap; i++) out[i] = t->t.stride(i);
  return d;
}
int tt_dtype(tt_tensor t) { return (int)t->t.scalar_type(); }
int tt_device(tt_tensor t) { return t->t.is_cuda() ? (int)t->t.device().index() : -1; }
int64_t tt_numel(tt_tensor t) { return t->t.numel(); }
int tt_requires_grad(tt_tensor t) { return t->t.requires_grad(); }
int tt_is_contiguous(tt_tensor t) { return t->t.is_contiguous(); }
int tt_is_leaf(tt_tensor t) { return t->t.is_leaf(); }

tt_status tt_item(tt_tensor t) {
  return status([&]() -> double { return t->t.item().toDouble(); });
}

tt_status tt_copy_out(tt_tensor t, void *dst, int64_t nbytes) {
  return status([&]() -> double {
    at::Tensor c = t->t.detach().to(at::kCPU).contiguous();
    TORCH_CHECK((int64_t)c.nbytes() == nbytes, "copy_out: tensor has ", c.nbytes(), " bytes, buffer has ",
                nbytes);
    if (nbytes > 0) std::memcpy(dst, c.data_ptr(), (size_t)nbytes);
    return 0;
  });
}

tt_result tt_empty(const int64_t *shape, int64_t n, int dtype, int device) {
  return run(0, [&] { return at::empty(ints(shape, n), opts(dtype, device)); });
}

tt_result tt_full(const int64_t *shape, int64_t n, double v, int dtype, int device) {
  return run(0, [&] { return at::full(ints(shape, n), v, opts(dtype, device)); });
}

tt_result tt_arange(double start, double end, double step, int dtype, int device) {
  return run(0, [&] { return at::arange(start, end, step, opts(dtype, device)); });
}

tt_result tt_linspace(double start, double end, int64_t steps, int dtype, int device) {
  return run(0, [&] { return at::linspace(start, end, steps, opts(dtype, device)); });
}

tt_result tt_random(int kind, tt_gen g, const int64_t *shape, int64_t n, int dtype, int device) {
  return run(0, [&] {
    if (kind == 0) return at::rand(ints(shape, n), gen(g), opts(dtype, device));
    return at::randn(ints(shape, n), gen(g), opts(dtype, device));
  });
}

tt_result tt_randint(tt_gen g, int64_t low, int64_t high, const int64_t *shape, int64_t n, int dtype, int device) {
  return run(0, [&] { return at::randint(low, high, ints(shape, n), gen(g), opts(dtype, device)); });
}

tt_result tt_from_data(const void *data, int64_t nbytes, const int64_t *shape, const int64_t *strides, int64_t n,
                       int64_t offset, int src_dtype, int dtype, int device) {
  return run(0, [&] {
    auto st = (at::ScalarType)src_dtype;
    int64_t esize = (int64_t)c10::elementSize(st);
    TORCH_CHECK(nbytes % esize == 0, "from_data: ", nbytes, " bytes is not a whole number of ", esize,
                "-byte elements");
    int64_t avail = nbytes / esize;
    int64_t numel = 1, last = offset;
    for (int64_t i = 0; i < n; i++) {
      TORCH_CHECK(shape[i] >= 0 && strides[i] >= 0, "from_data: negative size or stride");
      numel *= shape[i];
      if (shape[i] > 0) last += (shape[i] - 1) * strides[i];
    }
    if (numel == 0) return at::empty(ints(shape, n), opts(dtype, device));
    TORCH_CHECK(offset >= 0 && last < avail, "from_data: the view needs element ", last, " but the data holds ",
                avail);
    void *p = const_cast<void *>(data);
    at::Tensor src = at::from_blob(p, {avail}, at::TensorOptions().dtype(st))
                         .as_strided(ints(shape, n), ints(strides, n), offset);
    at::Tensor out = at::empty(ints(shape, n), opts(dtype, device));
    out.copy_(src);
    return out;
  });
}

tt_status tt_set_requires_grad(tt_tensor t, int flag) {
  return status([&]() -> double {
    t->t.set_requires_grad(flag != 0);
    return 0;
  });
}

tt_status tt_backward(tt_tensor t, tt_tensor g, int retain_graph) {
  tt_status r{0, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    at::AutoGradMode gm(true);
    t->t.backward(or_undef(g), retain_graph ? c10::optional<bool>(true) : c10::nullopt, false);
  });
  return r;
}

tt_result tt_grad(tt_tensor t) {
  tt_result r{nullptr, TT_OK, nullptr};
  r.code = guard(&r.msg, [&] {
    const at::Tensor &g = t->t.grad();
    if (g.defined()) r.t = wrap(g);
  });
  return r;
}

tt_status tt_zero_grad(tt_tensor t, int set_to_none) {
  return status([&]() -> double {
    at::Tensor &g = t->t.mutable_grad();
    if (!g.defined()) return 0;
    if (set_to_none) {
      g = at::Tensor();
    } else {
      g = g.detach();
      g.zero_();
    }
    return 0;
  });
}

tt_status tt_clip_grad_norm(const tt_tensor *ts, int64_t n, double max_norm, double norm_type) {
  return status([&]() -> double {
    std::vector<at::Tensor> grads;
    for (int64_t i = 0; i < n; i++) {
      const at::Tensor &g = ts[i]->t.grad();
      if (g.defined()) grads.push_back(g.detach());
    }
    if (grads.empty()) return 0;
    at::Tensor total;
    if (std::isinf(norm_type)) {
      std::vector<at::Tensor> m;
      for (auto &g : grads) m.push_back(g.abs().max().to(grads[0].device()));
      total = at::stack(m).max();
    } else {
      std::vector<at::Tensor> norms;
      for (auto &g : grads) norms.push_back(at::norm(g, norm_type).to(grads[0].device()));
      total = at::norm(at::stack(norms), norm_type);
    }
    at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
    for (auto &g : grads) g.mul_(coef.to(g.device()));
    return total.item().toDouble();
  });
}

tt_status tt_copy_(tt_tensor dst, tt_tensor src) {
  return status([&]() -> double {
    dst->t.copy_(src->t);
    return 0;
  });
}

tt_status tt_set_data(tt_tensor dst, tt_tensor src) {
  return status([&]() -> double {
    dst->t.set_data(src->t);
    return 0;
  });
}

tt_status tt_fill_(tt_tensor t, double v) {
  return status([&]() -> double {
    t->t.fill_(v);
    return 0;
  });
}

tt_status tt_random_(tt_tensor t, int kind, double a, double b, tt_gen g) {
  return status([&]() -> double {
    if (kind == 0)
      t->t.uniform_(a, b, gen(g));
    else
      t->t.normal_(a, b, gen(g));
    return 0;
  });
}

// AdamW as torch.optim.AdamW's single-tensor path in PyTorch 1.13 (no amsgrad, no maximize).
tt_status tt_adamw_step(tt_tensor p, tt_tensor exp_avg, tt_tensor exp_avg_sq, int64_t step, double lr,
                        double beta1, double beta2, double eps, double weight_decay) {
  return status([&]() -> double {
    at::Tensor &param = p->t;
    const at::Tensor &grad = param.grad();
    if (!grad.defined()) return 0;  // not updated
    TORCH_CHECK(step >= 1, "adamw: step must be at least 1");
    param.mul_(1 - lr * weight_decay);
    exp_avg->t.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq->t.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    double bc1 = 1 - std::pow(beta1, (double)step);
    double bc2 = 1 - std::pow(beta2, (double)step);
    double step_size = lr / bc1;
    at::Tensor denom = (exp_avg_sq->t.sqrt() / std::sqrt(bc2)).add_(eps);
    param.addcdiv_(exp_avg->t, denom, -step_size);
    return 1;
  });
}

// SGD as torch.optim.SGD's single-tensor path in PyTorch 1.13 (no maximize).
tt_status tt_sgd_step(tt_tensor p, tt_tensor buf, int first, double lr, double momentum, double dampening,
                      double weight_decay, int nesterov) {
  return status([&]() -> double {
    at::Tensor &param = p->t;
    const at::Tensor &grad = param.grad();
    if (!grad.defined()) return 0;
    at::Tensor d_p = grad;
    if (weight_decay != 0) d_p = d_p.add(param, weight_decay);
    if (momentum != 0) {
      TORCH_CHECK(buf != nullptr, "sgd: momentum needs a buffer");
      if (first)
        buf->t.copy_(d_p);
      else
        buf->t.mul_(momentum).add_(d_p, 1 - dampening);
      if (nesterov)
        d_p = d_p.add(buf->t, momentum);
      else
        d_p = buf->t;
    }
    param.add_(d_p, -lr);
    return 0;
  });
}

}  // extern "C"

// tt_set_thread_num_threads gives the calling OS thread its own intra-op thread count (0:
// back to the process-wide one), e.g. 1 for data-loading threads, as PyTorch's DataLoader
// workers run with torch.set_num_threads(1).
extern "C" void tt_set_thread_num_threads(int n) {
  tt::t_own_threads = n > 0 ? n : 0;
  try {
    tt::apply_threads();
  } catch (...) {
  }
}
