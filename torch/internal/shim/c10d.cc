// c10d.cc: libtorch's distributed engine (c10d) behind the plain-C surface of c10d.h: the
// TCP store, Gloo and NCCL process groups, their collectives with timeouts, bucketed
// gradient averaging (after backward, or overlapped with it through gradient hooks) and
// torch.randperm for the sharded sampler.
//
// libtorch 1.13 (Debian) and 2.x differ here: in 2.x the Gloo and NCCL groups derive from
// c10d::Backend instead of c10d::ProcessGroup, and the headers of a backend compile only
// when USE_C10D_GLOO / USE_C10D_NCCL is defined. The Gloo group needs the Gloo headers
// (Debian: libgloo-dev); NCCL needs a CUDA build and nccl.h. A build without them still
// compiles and reports a clear error when such a group is asked for.
#include "common.h"
#include "c10d.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/exception.h>
#include <torch/csrc/distributed/c10d/socket.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#if __has_include(<gloo/config.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <gloo/common/error.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define TT_HAS_GLOO 1
#endif

#if defined(TT_WITH_CUDA) && __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define TT_HAS_NCCL 1
#endif

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace tt;
using ms = std::chrono::milliseconds;

namespace {

// The class both backends derive from.
#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

}  // namespace

struct tt_store_s {
  c10::intrusive_ptr<c10d::TCPStore> s;
};

struct tt_pg_s {
  c10::intrusive_ptr<Group> g;
  int backend = TT_PG_GLOO;
  int rank = 0, size = 1;
  ms timeout{0};
};

namespace {

ms timeout_of(tt_pg pg, int64_t timeout_ms) { return timeout_ms > 0 ? ms(timeout_ms) : pg->timeout; }

// WorkTimeout: a work that did not finish in its time.
struct WorkTimeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// wait blocks until w finishes or the timeout passes; the work's own exception passes
// through with its type (dist_guard classifies it).
void wait(const c10::intrusive_ptr<c10d::Work> &w, ms timeout, const char *op) {
  if (!w->wait(timeout)) throw WorkTimeout(std::string(op) + " did not finish within its timeout");
}

const char *what_of(const std::exception &e) {
  if (auto *c = dynamic_cast<const c10::Error *>(&e)) return c->what_without_backtrace();
  return e.what();
}

// dist_code is the status code of the exception being handled (call it inside a catch
// block only): from the exception's type, or TT_DIST_TIMEOUT when the call had run for its
// whole timeout (timeout_ms > 0) when it failed, whatever the type.
int dist_code(bool timed_out, char **msg) {
  try {
    throw;
  } catch (const WorkTimeout &e) {
    *msg = dup(e.what());
    return TT_DIST_TIMEOUT;
  } catch (const c10d::TimeoutError &e) {
    *msg = dup(what_of(e));
    return TT_DIST_TIMEOUT;
  } catch (const std::invalid_argument &e) {
    *msg = dup(e.what());
    return TT_DIST_INVALID;
  } catch (const std::exception &e) {
    *msg = dup(what_of(e));
    if (timed_out) return TT_DIST_TIMEOUT;
    try {
      throw;
#if TORCH_VERSION_MAJOR >= 2
    } catch (const c10::DistNetworkError &) {  // c10d::SocketError among them
      return TT_DIST_NETWORK;
    } catch (const c10::DistStoreError &) {
      return TT_DIST_STORE;
    } catch (const c10::DistBackendError &) {
      return TT_DIST_BACKEND;
#else
    } catch (const c10d::SocketError &) {
      return TT_DIST_NETWORK;
    } catch (const c10d::C10dError &) {
      return TT_DIST_BACKEND;
#endif
#ifdef TT_HAS_GLOO
    } catch (const gloo::IoException &) {
      return TT_DIST_NETWORK;
    } catch (const gloo::Exception &) {
      return TT_DIST_BACKEND;
#endif
    } catch (const std::system_error &) {
      return TT_DIST_NETWORK;
    } catch (const c10::OutOfMemoryError &) {
      return TT_OOM;
    } catch (const c10::Error &) {
      return TT_ERR;
    } catch (const std::bad_alloc &) {
      return TT_OOM;
    } catch (...) {
      return TT_STD;
    }
  } catch (...) {
    *msg = dup("unknown C++ exception");
    return TT_UNKNOWN;
  }
}

// dist_guard runs f as guard does, classifying a failure with dist_code; timeout is the
// call's time limit (zero: none).
template <class F>
int dist_guard(char **msg, ms timeout, F &&f) {
  auto start = std::chrono::steady_clock::now();
  try {
    apply_threads();
    f();
    return TT_OK;
  } catch (...) {
    bool late = timeout.count() > 0 && std::chrono::steady_clock::now() - start >= timeout;
    return dist_code(late, msg);
  }
}

// dist_status is status with dist_guard's codes.
template <class F>
tt_status dist_status(ms timeout, F &&f) {
  tt_status r{0, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, timeout, [&] {
    at::NoGradGuard ng;
    r.v = f();
  });
  return r;
}

c10d::ReduceOp reduce_op(int op) {
  switch (op) {
    case TT_RED_SUM:
    case TT_RED_AVG:  // Gloo has no AVG: sum, then divide
      return c10d::ReduceOp::SUM;
    case TT_RED_MAX:
      return c10d::ReduceOp::MAX;
    case TT_RED_MIN:
      return c10d::ReduceOp::MIN;
  }
  throw std::invalid_argument("unknown reduce op " + std::to_string(op));
}

c10::intrusive_ptr<c10d::Work> allreduce_async(tt_pg pg, at::Tensor &t, int op, ms timeout) {
  std::vector<at::Tensor> v{t};
  c10d::AllreduceOptions o;
  o.reduceOp = reduce_op(op);
  o.timeout = timeout;
  return pg->g->allreduce(v, o);
}

void check_tensor(tt_pg pg, const at::Tensor &t, const char *op) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": undefined tensor");
  if (pg->backend == TT_PG_GLOO && !t.device().is_cpu())
    throw std::invalid_argument(std::string(op) + ": the Gloo group works on CPU tensors, got " +
                                t.device().str());
  if (pg->backend == TT_PG_NCCL && !t.device().is_cuda())
    throw std::invalid_argument(std::string(op) + ": the NCCL group works on CUDA tensors, got " +
                                t.device().str());
}

// A bucket: parameters of one dtype and device laid out one after another in flat.
struct Bucket {
  std::vector<size_t> idx;     // indices into the parameter list
  std::vector<int64_t> off;    // element offset of each in flat
  std::vector<int64_t> numel;  // element count of each
  at::Tensor flat;
  int pending = 0;  // gradients not yet copied in this step
  c10::intrusive_ptr<c10d::Work> work;
};

// plan cuts ts into buckets of at most bucket_bytes (a tensor larger than that gets a bucket
// of its own), walking them from last to first as DistributedDataParallel does: backward
// computes the last layers' gradients first.
std::vector<Bucket> plan(const std::vector<at::Tensor> &ts, int64_t bucket_bytes) {
  std::vector<Bucket> out;
  struct Open {
    at::ScalarType dt;
    at::Device dev;
    size_t b;
    int64_t bytes;
  };
  std::vector<Open> open;
  for (size_t k = ts.size(); k-- > 0;) {
    const at::Tensor &t = ts[k];
    int64_t bytes = t.numel() * (int64_t)t.element_size();
    Open *o = nullptr;
    for (auto &x : open)
      if (x.dt == t.scalar_type() && x.dev == t.device()) o = &x;
    if (o == nullptr || (o->bytes > 0 && o->bytes + bytes > bucket_bytes)) {
      out.emplace_back();
      if (o == nullptr) {
        open.push_back(Open{t.scalar_type(), t.device(), out.size() - 1, 0});
        o = &open.back();
      } else {
        o->b = out.size() - 1;
        o->bytes = 0;
      }
    }
    Bucket &b = out[o->b];
    int64_t off = b.numel.empty() ? 0 : b.off.back() + b.numel.back();
    b.idx.push_back(k);
    b.off.push_back(off);
    b.numel.push_back(t.numel());
    o->bytes += bytes;
  }
  for (auto &b : out) {
    const at::Tensor &t = ts[b.idx[0]];
    b.flat = at::empty({b.off.back() + b.numel.back()}, t.options().requires_grad(false));
    b.pending = (int)b.idx.size();
  }
  return out;
}

at::Tensor slot(const Bucket &b, size_t j) { return b.flat.narrow(0, b.off[j], b.numel[j]); }

// Presence flags: which parameters have a gradient on at least one rank. A parameter that
// no rank used keeps no gradient (AdamW then skips it, as it would in one process); one that
// some ranks used counts as zeros on the others, as DistributedDataParallel does with
// find_unused_parameters. The flags travel in an all-reduce of their own, started after the
// buckets (every rank starts the collectives in the same order).
struct Presence {
  at::Tensor flags;  // (n,) float32 on the group's device: 1 where this rank has a gradient
  c10::intrusive_ptr<c10d::Work> work;
};

Presence start_presence(tt_pg pg, const std::vector<at::Tensor> &params, const std::vector<char> &have, ms timeout) {
  at::NoGradGuard ng;
  std::vector<float> h(have.size());
  for (size_t i = 0; i < have.size(); i++) h[i] = have[i] ? 1.0f : 0.0f;
  Presence p;
  p.flags = at::tensor(h, at::TensorOptions().dtype(at::kFloat));
  if (!params.empty()) p.flags = p.flags.to(params[0].device());
  p.work = allreduce_async(pg, p.flags, TT_RED_SUM, timeout);
  return p;
}

// any_rank waits for the presence all-reduce and returns, per parameter, whether some rank
// had its gradient.
std::vector<char> any_rank(Presence &p, ms timeout) {
  wait(p.work, timeout, "all_reduce_grads (gradient presence)");
  at::Tensor f = p.flags.to(at::kCPU).contiguous();
  const float *v = f.data_ptr<float>();
  std::vector<char> out((size_t)f.numel());
  for (size_t i = 0; i < out.size(); i++) out[i] = v[i] > 0.5f;
  return out;
}

// write_grads divides each bucket by the group size and writes it into the gradients of the
// parameters that some rank had a gradient for (creating those that are undefined here).
// The others keep no gradient.
void write_grads(std::vector<Bucket> &bs, std::vector<at::Tensor> &params, int size,
                 const std::vector<char> &present) {
  at::NoGradGuard ng;
  for (auto &b : bs) {
    b.flat.div_(size);
    for (size_t j = 0; j < b.idx.size(); j++) {
      if (!present[b.idx[j]]) continue;
      at::Tensor &p = params[b.idx[j]];
      at::Tensor v = slot(b, j).view(p.sizes());
      at::Tensor g = p.grad();
      if (g.defined())
        g.copy_(v);
      else
        p.mutable_grad() = v.clone();
    }
  }
}

std::vector<at::Tensor> tensors(const tt_tensor *ts, int64_t n) {
  std::vector<at::Tensor> v;
  v.reserve((size_t)n);
  for (int64_t i = 0; i < n; i++) {
    if (ts[i] == nullptr) throw std::invalid_argument("nil tensor in the list");
    v.push_back(ts[i]->t);
  }
  return v;
}

// AllReduceFn is torch.distributed.nn.functional.all_reduce with SUM: the forward returns a
// new tensor holding the sum over the ranks of x, the backward the sum over the ranks of
// the output's gradient (every rank's loss depends on every rank's x through the sum). The
// group and the timeout travel in saved_data as integers. Every rank must run the backward
// of the same calls in the same order, which the autograd engine does for identical graphs.
struct AllReduceFn : public torch::autograd::Function<AllReduceFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, at::Tensor x, int64_t pg_bits,
                            int64_t timeout_ms) {
    ctx->saved_data["pg"] = pg_bits;
    ctx->saved_data["timeout"] = timeout_ms;
    tt_pg pg = reinterpret_cast<tt_pg>(pg_bits);
    at::Tensor y = x.contiguous().clone();
    ms to = timeout_of(pg, timeout_ms);
    wait(allreduce_async(pg, y, TT_RED_SUM, to), to, "all_reduce (autograd)");
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    tt_pg pg = reinterpret_cast<tt_pg>(ctx->saved_data["pg"].toInt());
    int64_t timeout_ms = ctx->saved_data["timeout"].toInt();
    at::Tensor g = grads[0].contiguous().clone();
    ms to = timeout_of(pg, timeout_ms);
    wait(allreduce_async(pg, g, TT_RED_SUM, to), to, "all_reduce (autograd backward)");
    return {g, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

struct tt_reducer_s {
  tt_pg pg = nullptr;
  std::vector<at::Tensor> params;
  std::vector<std::pair<size_t, size_t>> where;  // parameter -> (bucket, slot)
  std::vector<char> ready;
  std::vector<unsigned> hooks;
  std::vector<Bucket> buckets;
  size_t next = 0;  // the next bucket to launch; buckets start in index order on every rank
  int64_t launched_by_hooks = 0, last_by_hooks = 0;
  std::string error;  // the first error a hook met (reported by finish)
  bool sync = true;   // false: hooks do nothing (DDP's no_sync); finish still reduces .grad
  std::mutex mu;

  // launch starts, in order, the buckets whose gradients are all in. Called with mu held.
  void launch() {
    while (next < buckets.size() && buckets[next].pending == 0) {
      Bucket &b = buckets[next];
      b.work = allreduce_async(pg, b.flat, TT_RED_SUM, pg->timeout);
      next++;
    }
  }

  void on_grad(size_t i, const at::Tensor &g) {
    std::lock_guard<std::mutex> lk(mu);
    if (!error.empty() || !sync) return;
    try {
      if (ready[i]) throw std::runtime_error("a parameter's gradient arrived twice before finish");
      auto [bi, j] = where[i];
      Bucket &b = buckets[bi];
      {
        // The hook runs before the gradient is accumulated into .grad: what is reduced is
        // .grad as it will be after this backward (the earlier micro-batches' sum plus this
        // one's, added in the order autograd adds them), as DDP reduces after no_sync.
        at::NoGradGuard ng;
        at::Tensor s = slot(b, j);
        s.copy_(g.reshape({-1}));
        const at::Tensor &acc = params[i].grad();
        if (acc.defined()) s.add_(acc.reshape({-1}));
      }
      ready[i] = 1;
      b.pending--;
      size_t before = next;
      launch();
      launched_by_hooks += (int64_t)(next - before);
    } catch (const c10::Error &e) {
      error = e.what_without_backtrace();
    } catch (const std::exception &e) {
      error = e.what();
    }
  }
};

extern "C" {

int tt_c10d_has_gloo(void) {
#ifdef TT_HAS_GLOO
  return 1;
#else
  return 0;
#endif
}

int tt_c10d_has_nccl(void) {
#ifdef TT_HAS_NCCL
  return 1;
#else
  return 0;
#endif
}

tt_ptr_result tt_store_tcp(const char *host, int port, int world_size, int is_server,
                           int wait_workers, int64_t timeout_ms) {
  tt_ptr_result r{nullptr, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, ms(timeout_ms > 0 ? timeout_ms : 300000), [&] {
    if (port < 0 || port > 65535) throw std::invalid_argument("port out of range");
    c10d::TCPStoreOptions o;
    o.port = (std::uint16_t)port;
    o.isServer = is_server != 0;
    if (world_size > 0) o.numWorkers = (std::size_t)world_size;
    o.waitWorkers = wait_workers != 0;
    o.timeout = ms(timeout_ms > 0 ? timeout_ms : 300000);
    auto s = c10::make_intrusive<c10d::TCPStore>(std::string(host), o);
    r.p = new tt_store_s{std::move(s)};
  });
  // The host of the store failed otherwise than by time: it could not listen.
  if (is_server && r.code != TT_OK && r.code != TT_DIST_TIMEOUT && r.code != TT_DIST_INVALID &&
      r.code != TT_OOM)
    r.code = TT_DIST_LISTEN;
  return r;
}

int tt_store_port(tt_store s) { return s == nullptr ? -1 : (int)s->s->getPort(); }

void tt_store_free(tt_store s) {
  try {
    delete s;
  } catch (...) {
  }
}

tt_status tt_store_set(tt_store s, const char *key, const void *data, int64_t n) {
  return dist_status(ms(0), [&] {
    const uint8_t *p = (const uint8_t *)data;
    s->s->set(key, std::vector<uint8_t>(p, p + n));
    return 0.0;
  });
}

tt_bytes_result tt_store_get(tt_store s, const char *key, int64_t timeout_ms) {
  tt_bytes_result r{nullptr, 0, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, ms(timeout_ms > 0 ? timeout_ms : 300000), [&] {
    s->s->wait({std::string(key)}, ms(timeout_ms > 0 ? timeout_ms : 300000));
    auto v = s->s->get(key);
    r.data = (char *)std::malloc(v.size() + 1);
    if (r.data == nullptr) throw std::bad_alloc();
    std::memcpy(r.data, v.data(), v.size());
    r.n = (int64_t)v.size();
  });
  return r;
}

tt_status tt_store_add(tt_store s, const char *key, int64_t delta) {
  return dist_status(ms(0), [&] { return (double)s->s->add(key, delta); });
}

tt_status tt_store_check(tt_store s, const char *key) {
  return dist_status(ms(0), [&] { return s->s->check({std::string(key)}) ? 1.0 : 0.0; });
}

tt_ptr_result tt_pg_new(int backend, tt_store s, const char *prefix, int rank, int size,
                        int64_t timeout_ms, const char *iface, const char *host, int device) {
  tt_ptr_result r{nullptr, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, ms(timeout_ms > 0 ? timeout_ms : 1800000), [&] {
    if (s == nullptr) throw std::invalid_argument("no store");
    if (size < 1 || rank < 0 || rank >= size)
      throw std::invalid_argument("rank " + std::to_string(rank) + " is outside a group of " +
                                  std::to_string(size));
    ms timeout(timeout_ms > 0 ? timeout_ms : 1800000);
    c10::intrusive_ptr<c10d::Store> st =
        c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), s->s);
    auto pg = std::make_unique<tt_pg_s>();
    pg->backend = backend;
    pg->rank = rank;
    pg->size = size;
    pg->timeout = timeout;
    if (backend == TT_PG_GLOO) {
#ifdef TT_HAS_GLOO
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      std::string ifc(iface), h(host);
      if (!ifc.empty())
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifc));
      else if (!h.empty())
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(h));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      o->threads = 2;
      pg->g = c10::make_intrusive<c10d::ProcessGroupGloo>(st, rank, size, o);
#else
      throw std::runtime_error(
          "this build has no Gloo backend: the Gloo headers were missing when the shim was "
          "compiled (Debian: apt-get install libgloo-dev, then rebuild)");
#endif
    } else if (backend == TT_PG_NCCL) {
#ifdef TT_HAS_NCCL
      if (device < 0) throw std::invalid_argument("the NCCL group needs a CUDA device");
      c10::cuda::set_device((c10::DeviceIndex)device);
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      pg->g = c10::make_intrusive<c10d::ProcessGroupNCCL>(st, rank, size, o);
#else
      (void)device;
      throw std::runtime_error(
          "this build has no NCCL backend: it needs a CUDA build of libtorch 2.x with NCCL "
          "headers (the torchenv tag); use Gloo on the CPU");
#endif
    } else {
      throw std::invalid_argument("unknown backend " + std::to_string(backend));
    }
    r.p = pg.release();
  });
  return r;
}

void tt_pg_free(tt_pg pg) {
  try {
    delete pg;
  } catch (...) {
  }
}

int tt_pg_rank(tt_pg pg) { return pg->rank; }
int tt_pg_size(tt_pg pg) { return pg->size; }

tt_status tt_pg_allreduce(tt_pg pg, tt_tensor t, int op, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    at::Tensor x = T(t);
    check_tensor(pg, x, "all_reduce");
    if (!x.is_contiguous()) throw std::invalid_argument("all_reduce: the tensor must be contiguous");
    ms to = timeout_of(pg, timeout_ms);
    wait(allreduce_async(pg, x, op, to), to, "all_reduce");
    if (op == TT_RED_AVG) x.div_(pg->size);
    return 0.0;
  });
}

tt_status tt_pg_broadcast(tt_pg pg, tt_tensor t, int root, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    at::Tensor x = T(t);
    check_tensor(pg, x, "broadcast");
    if (!x.is_contiguous()) throw std::invalid_argument("broadcast: the tensor must be contiguous");
    if (root < 0 || root >= pg->size)
      throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is outside the group");
    ms to = timeout_of(pg, timeout_ms);
    std::vector<at::Tensor> v{x};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = to;
    wait(pg->g->broadcast(v, o), to, "broadcast");
    return 0.0;
  });
}

tt_status tt_pg_allgather(tt_pg pg, tt_tensor t, tt_tensor out, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    at::Tensor x = T(t).contiguous();
    at::Tensor o = T(out);
    check_tensor(pg, x, "all_gather");
    if (!o.is_contiguous() || o.dim() != x.dim() + 1 || o.size(0) != pg->size ||
        o.scalar_type() != x.scalar_type() || o.device() != x.device() ||
        o.sizes().slice(1) != x.sizes())
      throw std::invalid_argument("all_gather: the output must be a contiguous (" +
                                  std::to_string(pg->size) + ", *input.shape) tensor of the input's "
                                  "dtype and device");
    ms to = timeout_of(pg, timeout_ms);
    std::vector<std::vector<at::Tensor>> outs(1);
    for (int i = 0; i < pg->size; i++) outs[0].push_back(o.select(0, i));
    std::vector<at::Tensor> in{x};
    c10d::AllgatherOptions ao;
    ao.timeout = to;
    wait(pg->g->allgather(outs, in, ao), to, "all_gather");
    return 0.0;
  });
}

tt_status tt_pg_barrier(tt_pg pg, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    ms to = timeout_of(pg, timeout_ms);
    c10d::BarrierOptions o;
    o.timeout = to;
    if (pg->backend == TT_PG_GLOO) {
      pg->g->monitoredBarrier(o, true);
    } else {
      wait(pg->g->barrier(o), to, "barrier");
    }
    return 0.0;
  });
}

tt_status tt_dp_broadcast(tt_pg pg, const tt_tensor *ts, int64_t n, int root,
                          int64_t bucket_bytes, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    if (root < 0 || root >= pg->size)
      throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is outside the group");
    std::vector<at::Tensor> v = tensors(ts, n);
    for (auto &x : v) check_tensor(pg, x, "broadcast");
    ms to = timeout_of(pg, timeout_ms);
    at::NoGradGuard ng;
    auto bs = plan(v, bucket_bytes);
    for (auto &b : bs) {
      for (size_t j = 0; j < b.idx.size(); j++) slot(b, j).copy_(v[b.idx[j]].reshape({-1}));
      std::vector<at::Tensor> one{b.flat};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.timeout = to;
      wait(pg->g->broadcast(one, o), to, "broadcast");
      for (size_t j = 0; j < b.idx.size(); j++) {
        at::Tensor &x = v[b.idx[j]];
        x.copy_(slot(b, j).view(x.sizes()));
      }
    }
    return 0.0;
  });
}

tt_status tt_dp_allreduce_grads(tt_pg pg, const tt_tensor *params, int64_t n,
                                int64_t bucket_bytes, int64_t timeout_ms) {
  return dist_status(timeout_of(pg, timeout_ms), [&] {
    std::vector<at::Tensor> v = tensors(params, n);
    for (auto &x : v) check_tensor(pg, x, "all_reduce_grads");
    ms to = timeout_of(pg, timeout_ms);
    auto bs = plan(v, bucket_bytes);
    {
      at::NoGradGuard ng;
      for (auto &b : bs)
        for (size_t j = 0; j < b.idx.size(); j++) {
          at::Tensor g = v[b.idx[j]].grad();
          if (g.defined())
            slot(b, j).copy_(g.reshape({-1}));
          else
            slot(b, j).zero_();
        }
    }
    std::vector<char> have(v.size());
    for (size_t i = 0; i < v.size(); i++) have[i] = v[i].grad().defined();
    // Start every bucket and the presence flags, then wait for them in order.
    for (auto &b : bs) b.work = allreduce_async(pg, b.flat, TT_RED_SUM, to);
    Presence pr = start_presence(pg, v, have, to);
    for (auto &b : bs) wait(b.work, to, "all_reduce_grads");
    write_grads(bs, v, pg->size, any_rank(pr, to));
    return 0.0;
  });
}

tt_ptr_result tt_reducer_new(tt_pg pg, const tt_tensor *params, int64_t n,
                             int64_t bucket_bytes) {
  tt_ptr_result r{nullptr, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, ms(0), [&] {
    auto red = std::make_unique<tt_reducer_s>();
    red->pg = pg;
    red->params = tensors(params, n);
    for (size_t i = 0; i < red->params.size(); i++) {
      const at::Tensor &p = red->params[i];
      check_tensor(pg, p, "reducer");
      if (!p.requires_grad() || !p.is_leaf())
        throw std::invalid_argument("reducer: parameter " + std::to_string(i) +
                                    " is not a leaf that requires grad");
    }
    red->buckets = plan(red->params, bucket_bytes);
    red->where.resize(red->params.size());
    for (size_t b = 0; b < red->buckets.size(); b++)
      for (size_t j = 0; j < red->buckets[b].idx.size(); j++)
        red->where[red->buckets[b].idx[j]] = {b, j};
    red->ready.assign(red->params.size(), 0);
    tt_reducer_s *self = red.get();
    try {
      for (size_t i = 0; i < red->params.size(); i++) {
        unsigned h = red->params[i].register_hook([self, i](const at::Tensor &g) { self->on_grad(i, g); });
        red->hooks.push_back(h);
      }
    } catch (...) {
      for (size_t i = 0; i < red->hooks.size(); i++) red->params[i].remove_hook(red->hooks[i]);
      throw;
    }
    r.p = red.release();
  });
  return r;
}

tt_status tt_reducer_finish(tt_reducer r, int64_t timeout_ms) {
  return dist_status(timeout_of(r->pg, timeout_ms), [&] {
    std::lock_guard<std::mutex> lk(r->mu);
    ms to = timeout_of(r->pg, timeout_ms);
    // Reset for the next step whatever happens below.
    struct Reset {
      tt_reducer_s *r;
      ~Reset() {
        r->next = 0;
        r->last_by_hooks = r->launched_by_hooks;
        r->launched_by_hooks = 0;
        std::fill(r->ready.begin(), r->ready.end(), 0);
        for (auto &b : r->buckets) {
          b.pending = (int)b.idx.size();
          b.work.reset();
        }
        r->error.clear();
      }
    } reset{r};
    if (!r->error.empty()) throw std::runtime_error("gradient hook: " + r->error);
    {
      // Parameters whose hook did not fill their slot (no gradient in this backward, or
      // hooks off under no_sync) contribute their accumulated .grad, or zeros when they
      // have none (and keep no gradient when no rank had one).
      at::NoGradGuard ng;
      for (size_t i = 0; i < r->params.size(); i++) {
        if (r->ready[i]) continue;
        auto [bi, j] = r->where[i];
        const at::Tensor &acc = r->params[i].grad();
        if (acc.defined()) {
          slot(r->buckets[bi], j).copy_(acc.reshape({-1}));
          r->ready[i] = 1;
        } else {
          slot(r->buckets[bi], j).zero_();
        }
        r->buckets[bi].pending--;
      }
    }
    r->launch();
    Presence pr = start_presence(r->pg, r->params, r->ready, to);
    for (auto &b : r->buckets) wait(b.work, to, "all_reduce_grads");
    write_grads(r->buckets, r->params, r->pg->size, any_rank(pr, to));
    return 0.0;
  });
}

void tt_reducer_set_sync(tt_reducer r, int on) {
  std::lock_guard<std::mutex> lk(r->mu);
  r->sync = on != 0;
}

int64_t tt_reducer_buckets(tt_reducer r) { return (int64_t)r->buckets.size(); }
int64_t tt_reducer_hook_launched(tt_reducer r) { return r->last_by_hooks; }

void tt_reducer_free(tt_reducer r) {
  if (r == nullptr) return;
  try {
    std::lock_guard<std::mutex> lk(r->mu);
    for (size_t i = 0; i < r->hooks.size(); i++) r->params[i].remove_hook(r->hooks[i]);
    // Buckets still in flight finish (or fail) before their tensors go.
    for (auto &b : r->buckets)
      if (b.work) {
        try {
          b.work->wait(r->pg->timeout);
        } catch (...) {
        }
      }
  } catch (...) {
  }
  try {
    delete r;
  } catch (...) {
  }
}

tt_status tt_randperm(int64_t n, uint64_t seed, int64_t *out) {
  return status([&] {
    if (n < 0) throw std::invalid_argument("randperm: negative n");
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::Tensor p = at::randperm(n, g, at::TensorOptions().dtype(at::kLong));
    if (n > 0) std::memcpy(out, p.data_ptr<int64_t>(), (size_t)n * sizeof(int64_t));
    return 0.0;
  });
}

tt_result tt_pg_allreduce_autograd(tt_pg pg, tt_tensor t, int64_t timeout_ms, int grad) {
  tt_result r{nullptr, TT_OK, nullptr};
  r.code = dist_guard(&r.msg, timeout_of(pg, timeout_ms), [&] {
    ModeGuard gm(grad);
    at::Tensor x = T(t);
    check_tensor(pg, x, "all_reduce (autograd)");
    r.t = wrap(AllReduceFn::apply(x, reinterpret_cast<int64_t>(pg), timeout_ms));
  });
  return r;
}

}  // extern "C"
