// bench_ops.cc: the loops of torch/bench_test.go in C++ against the same libtorch, to
// measure what the Go binding adds per op. Build and run (Debian 12, libtorch-dev 1.13):
//
//   g++ -O2 -std=c++17 -I/usr/include/torch/csrc/api/include third_party/bench/bench_ops.cc \
//       -o /tmp/bench_ops -ltorch -ltorch_cpu -lc10
//   /tmp/bench_ops [threads for matmul512, default 2] [seconds per loop, default 2]
//
// With threads 0 the 512×512 matmul is skipped (the per-op loops only, as
// third_party/bench/interleave_ops.py runs them). Each loop runs for about the given
// seconds after a warm-up and prints ns/op. at::set_num_threads does
// not reach OpenBLAS (Debian's BLAS for float matmul), so run with OPENBLAS_NUM_THREADS set to
// the same count as the Go and Python runs (e.g. OPENBLAS_NUM_THREADS=1 ... /tmp/bench_ops 1). Like the Go benchmarks:
// add_tiny and matmul64 use 1 intra-op thread, matmul512 the given count; grad mode is on
// (the default; no input requires grad, so no graph is recorded); each result is dropped
// (freed) in the iteration that made it.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

static double g_seconds = 2;

// thread_cpu_ns is the calling thread's CPU time: on a shared machine it moves far less
// than the wall clock when other processes compete for the cores.
static double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double bench(const char *name, const std::function<void()> &op) {
  using clk = std::chrono::steady_clock;
  for (int i = 0; i < 10; i++) op();
  long n = 1;
  for (;;) {
    auto t0 = clk::now();
    double c0 = thread_cpu_ns();
    for (long i = 0; i < n; i++) op();
    double cpu = thread_cpu_ns() - c0;
    double ns = std::chrono::duration<double, std::nano>(clk::now() - t0).count();
    if (ns > g_seconds * 1e9 || n > (1L << 34)) {
      std::printf("%-14s %10ld iters %12.1f ns/op %12.1f cpu-ns/op\n", name, n, ns / n, cpu / n);
      return ns / n;
    }
    n = ns < 1e7 ? n * 10 : (long)(n * g_seconds * 1.1e9 / ns) + 1;
  }
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (argc > 2) g_seconds = std::atof(argv[2]);
  at::set_num_threads(1);
  at::Tensor a = at::tensor({1.f, 2.f, 3.f, 4.f}).reshape({2, 2});
  at::Tensor b = at::tensor({5.f, 6.f, 7.f, 8.f}).reshape({2, 2});
  bench("add_tiny", [&] { at::Tensor c = at::add(a, b); });
  // Results kept alive 64 at a time, as a Go scope keeps them until it closes (more live
  // tensors cost the allocator and the caches: the fair twin of Go's AddTinyInScope).
  std::vector<at::Tensor> kept;
  kept.reserve(64);
  bench("add_tiny_kept64", [&] {
    kept.push_back(at::add(a, b));
    if (kept.size() == 64) kept.clear();
  });
  // The same through a heap-allocated handle, as the shim does (new/delete of a wrapper).
  bench("add_tiny_heap", [&] {
    at::Tensor *c = new at::Tensor(at::add(a, b));
    delete c;
  });
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  at::Tensor x64 = at::randn({64, 64}, gen), y64 = at::randn({64, 64}, gen);
  bench("add64", [&] { at::Tensor c = at::add(x64, y64); });
  bench("matmul64", [&] { at::Tensor c = at::matmul(x64, y64); });
  if (threads <= 0) return 0;
  at::set_num_threads(threads);
  at::Tensor x512 = at::randn({512, 512}, gen), y512 = at::randn({512, 512}, gen);
  char name[32];
  std::snprintf(name, sizeof name, "matmul512/t%d", threads);
  bench(name, [&] { at::Tensor c = at::matmul(x512, y512); });
  return 0;
}
