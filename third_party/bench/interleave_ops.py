#!/usr/bin/python3
"""Per-op cost of the Go binding against C++ and PyTorch on the same libtorch, the three
sides interleaved: each round runs the C++ loops, the Python loops and the Go benchmarks
once, one after the other, and the table gives the median and the range over the rounds.

    g++ -O2 -std=c++17 -I/usr/include/torch/csrc/api/include third_party/bench/bench_ops.cc \\
        -o /tmp/bench_ops -ltorch -ltorch_cpu -lc10
    go test -c -o /tmp/torch.test ./torch/
    /usr/bin/python3 third_party/bench/interleave_ops.py [rounds, default 7] [seconds per loop, default 1]

With GO_BEFORE=/path/to/an/older/torch.test (built from an earlier commit, with this
commit's torch/bench_test.go) that binary runs in every round too, as a fourth column.

Everything runs with one intra-op thread and OPENBLAS_NUM_THREADS=1. The Go rows: AddTiny
(each result freed with Free: two calls into libtorch per op), AddTinyInScope (results
freed 64 at a time when their scope closes, the intended use; compared with C++ and
Python loops that likewise keep 64 results alive, add_tiny_kept64), Add64, Matmul64. The ratios
are computed per round (Go ÷ the other side in the same round) and then summarised, so a
slow spell of a shared machine affects both sides of a ratio alike.
"""
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPP = os.environ.get("BENCH_OPS", "/tmp/bench_ops")
GOTEST = os.environ.get("TORCH_TEST", "/tmp/torch.test")
GOBEFORE = os.environ.get("GO_BEFORE", "")
# BENCH_CLOCK=wall compares wall-clock times; the default compares each loop's thread CPU
# time, which a machine shared with other work disturbs far less.
CPU = os.environ.get("BENCH_CLOCK", "cpu") != "wall"

GO_NAMES = {"AddTiny": "add_tiny", "AddTinyInScope": "add_tiny_scope", "Add64": "add64", "Matmul64": "matmul64"}


def run(cmd, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", BENCH_THREADS="1",
               TORCH_BENCH_THREADS="1")  # the name binaries built before 2026-12-05 read
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def parse_loops(out):
    res = {}
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+\d+ iters\s+([\d.]+) ns/op\s+([\d.]+) cpu-ns/op", line)
        if m:
            res[m.group(1)] = float(m.group(3 if CPU else 2))
    return res


def parse_go(out):
    res = {}
    for line in out.splitlines():
        m = re.match(r"Benchmark(\w+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op.*?([\d.]+) cpu-ns/op", line)
        if m and m.group(1) in GO_NAMES:
            res[GO_NAMES[m.group(1)]] = float(m.group(3 if CPU else 2))
    return res


def summary(v):
    return statistics.median(v), min(v), max(v)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    secs = sys.argv[2] if len(sys.argv) > 2 else "1"
    rows = {}  # (side, op) -> list
    ratios = {}  # (op, vs) -> list
    for r in range(rounds):
        c = parse_loops(run([CPP, "0", secs]))
        p = parse_loops(run([sys.executable, os.path.join(ROOT, "third_party/bench/bench_ops.py"), "0", secs]))
        goargs = ["-test.run", "^$", "-test.bench", "^Benchmark(AddTiny|AddTinyInScope|Add64|Matmul64)$",
                  "-test.benchtime", secs + "s"]
        g = parse_go(run([GOTEST] + goargs, cwd=os.path.join(ROOT, "torch")))
        b = parse_go(run([GOBEFORE] + goargs, cwd=os.path.join(ROOT, "torch"))) if GOBEFORE else {}
        for side, d in (("C++", c), ("PyTorch", p), ("Go", g), ("Go before", b)):
            for op, ns in d.items():
                rows.setdefault((side, op), []).append(ns)
        for gop, op in (("add_tiny", "add_tiny"), ("add_tiny_scope", "add_tiny_kept64"), ("add64", "add64"),
                        ("matmul64", "matmul64")):
            ratios.setdefault((gop, "C++"), []).append(g[gop] / c[op])
            ratios.setdefault((gop, "PyTorch"), []).append(g[gop] / p[op])
            if gop in b:
                ratios.setdefault((gop, "before C++"), []).append(b[gop] / c[op])
                ratios.setdefault((gop, "before PyTorch"), []).append(b[gop] / p[op])
        print(f"round {r + 1}: C++ {c}  PyTorch {p}  Go {g}  Go before {b}", file=sys.stderr, flush=True)
    clock = "thread CPU time" if CPU else "wall clock"
    print(f"| op | C++ ns | PyTorch ns | Go ns | Go ÷ C++ | Go ÷ PyTorch |  ({rounds} rounds, {clock}: median [min–max])")
    print("|---|---|---|---|---|---|")
    fmt = lambda s: "%.0f [%.0f–%.0f]" % s
    fr = lambda s: "%.2f [%.2f–%.2f]" % s
    for gop, op in (("add_tiny", "add_tiny"), ("add_tiny_scope", "add_tiny_kept64"), ("add64", "add64"),
                    ("matmul64", "matmul64")):
        print(f"| {gop} | {fmt(summary(rows[('C++', op)]))} | {fmt(summary(rows[('PyTorch', op)]))} | "
              f"{fmt(summary(rows[('Go', gop)]))} | {fr(summary(ratios[(gop, 'C++')]))} | {fr(summary(ratios[(gop, 'PyTorch')]))} |")
    if GOBEFORE:
        print()
        print(f"| op | Go before ns | before ÷ C++ | before ÷ PyTorch |  ({GOBEFORE})")
        print("|---|---|---|---|")
        for gop in ("add_tiny", "add_tiny_scope", "add64", "matmul64"):
            if ("Go before", gop) in rows:
                print(f"| {gop} | {fmt(summary(rows[('Go before', gop)]))} | {fr(summary(ratios[(gop, 'before C++')]))} | "
                      f"{fr(summary(ratios[(gop, 'before PyTorch')]))} |")


if __name__ == "__main__":
    main()
