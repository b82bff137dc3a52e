#!/usr/bin/python3
"""The loops of torch/bench_test.go in Python (Debian's python3-torch 1.13, the same
libtorch), printing ns/op:

    /usr/bin/python3 third_party/bench/bench_ops.py [threads for matmul512, default 2] [seconds per loop, default 2]

With threads 0 the 512x512 matmul is skipped (the per-op loops only).

add_tiny and matmul64 run with torch.set_num_threads(1), matmul512 with the given count;
grad mode is on (no input requires grad); each result is dropped in its iteration.
Each loop runs for about 2 s after a warm-up. torch.set_num_threads does not reach OpenBLAS
(Debian's BLAS for float matmul): set OPENBLAS_NUM_THREADS to the same count in all three.
"""
import sys
import time

import torch


SECONDS = 2.0


def bench(name, op):
    for _ in range(10):
        op()
    n = 1
    while True:
        t0 = time.perf_counter_ns()
        c0 = time.thread_time_ns()
        for _ in range(n):
            op()
        cpu = time.thread_time_ns() - c0
        ns = time.perf_counter_ns() - t0
        if ns > SECONDS * 1e9:
            print(f"{name:<14} {n:10d} iters {ns / n:12.1f} ns/op {cpu / n:12.1f} cpu-ns/op")
            return ns / n
        n = n * 10 if ns < 1e7 else int(n * SECONDS * 1.1e9 / ns) + 1


def main():
    global SECONDS
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if len(sys.argv) > 2:
        SECONDS = float(sys.argv[2])
    torch.set_num_threads(1)
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    bench("add_tiny", lambda: torch.add(a, b))
    # Results kept alive 64 at a time, as a Go scope keeps them until it closes.
    kept = []

    def add_kept():
        kept.append(torch.add(a, b))
        if len(kept) == 64:
            kept.clear()

    bench("add_tiny_kept64", add_kept)
    g = torch.Generator().manual_seed(0)
    x64, y64 = torch.randn(64, 64, generator=g), torch.randn(64, 64, generator=g)
    bench("add64", lambda: torch.add(x64, y64))
    bench("matmul64", lambda: torch.matmul(x64, y64))
    if threads <= 0:
        return
    torch.set_num_threads(threads)
    x512, y512 = torch.randn(512, 512, generator=g), torch.randn(512, 512, generator=g)
    bench(f"matmul512/t{threads}", lambda: torch.matmul(x512, y512))


if __name__ == "__main__":
    main()
