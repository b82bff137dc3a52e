"""Times the eval-mode vit_t forward of a 1024×1024 image in PyTorch on the CPU, with the
reference module of third_party/golden/tinyvit_ref.py, at the same thread count as the Go
benchmark (BenchmarkForward1024). Run: /usr/bin/python3 third_party/bench/tinyvit_bench.py"""
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
from tinyvit_ref import TinyViT, VIT_T  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
m = TinyViT(VIT_T).eval()
x = torch.randn(1, 3, 1024, 1024)
with torch.no_grad():
    m(x)
    n, t0, c0 = int(os.environ.get("STEPS", "5")), time.perf_counter(), time.process_time()
    for _ in range(n):
        m(x)
    dt = (time.perf_counter() - t0) / n
    cpu = (time.process_time() - c0) / n
print(f"pytorch {torch.__version__} threads={torch.get_num_threads()} vit_t 1024 forward: {dt*1e3:.0f} ms/op "
      f"(process CPU {cpu*1e3:.0f} ms/op), "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
