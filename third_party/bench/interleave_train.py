#!/usr/bin/python3
"""The tiny PRS-Med training step (stage 2, batch 8) in PyTorch and in Go,
interleaved: each round runs third_party/bench/prsmed_bench.py (the reference model of
third_party/golden/prsmed_ref.py) and then BenchmarkTrainStep (prsmed/bench_test.go) for
the same number of steps; the table gives the median and the range over the rounds, and
the ratio is taken within each round.

    go test -c -o /tmp/prsmed.test ./prsmed/
    /usr/bin/python3 third_party/bench/interleave_train.py [rounds, default 7] [steps per run, default 10]

With GO_BEFORE=/path/to/an/older/prsmed.test that binary runs in every round too.
"""
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOTEST = os.environ.get("PRSMED_TEST", "/tmp/prsmed.test")
GOBEFORE = os.environ.get("GO_BEFORE", "")


# Threads for both sides (BENCH_THREADS, default 1): on a machine shared with other work,
# OpenMP's waiting threads spin, so 2-thread runs measure the neighbours as much as the step.
THREADS = os.environ.get("BENCH_THREADS", "1")


def run(cmd, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=THREADS, OMP_NUM_THREADS=THREADS, THREADS=THREADS,
               BENCH_THREADS=THREADS, PRSMED_BENCH_THREADS=THREADS)  # the second: binaries built before 2026-12-05
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    py, go, ratio, pyc, goc, cratio = [], [], [], [], [], []
    bw, bc, bratio, bcratio = [], [], [], []
    for r in range(rounds):
        out = run([sys.executable, os.path.join(ROOT, "third_party/bench/prsmed_bench.py"), str(steps), "--train-only"])
        m = re.search(r"train step \(batch 8\) ([\d.]+) ms, process CPU ([\d.]+) ms", out)
        p, pc = float(m.group(1)), float(m.group(2))
        def gorun(binary):
            out = run([binary, "-test.run", "^$", "-test.bench", "^BenchmarkTrainStep$", "-test.benchtime", f"{steps}x"],
                      cwd=os.path.join(ROOT, "prsmed"))
            return (float(re.search(r"BenchmarkTrainStep\S*\s+\d+\s+([\d.]+) ns/op", out).group(1)) / 1e6,
                    float(re.search(r"([\d.]+) cpu-ms/op", out).group(1)))

        g, gc = gorun(GOTEST)
        if GOBEFORE:
            w, c = gorun(GOBEFORE)
            bw.append(w)
            bc.append(c)
            bratio.append(p / w)
            bcratio.append(pc / c)
        py.append(p)
        go.append(g)
        ratio.append(p / g)
        pyc.append(pc)
        goc.append(gc)
        cratio.append(pc / gc)
        print(f"round {r + 1}: PyTorch {p:.1f} ms (CPU {pc:.1f}), Go {g:.1f} ms (CPU {gc:.1f}), "
              f"throughput ratio {p / g:.2f}", file=sys.stderr, flush=True)
    s = lambda v, f: f % (statistics.median(v), min(v), max(v))
    print(f"({rounds} rounds of {steps} steps, {THREADS} thread(s); median [min–max])")
    print("| | PyTorch | Go | Go throughput ÷ PyTorch |")
    print("|---|---|---|---|")
    print(f"| wall ms per step | {s(py, '%.1f [%.1f–%.1f]')} | {s(go, '%.1f [%.1f–%.1f]')} | {s(ratio, '%.2f [%.2f–%.2f]')} |")
    print(f"| process CPU ms per step | {s(pyc, '%.1f [%.1f–%.1f]')} | {s(goc, '%.1f [%.1f–%.1f]')} | "
          f"{s(cratio, '%.2f [%.2f–%.2f]')} |")
    if GOBEFORE:
        print(f"| before ({GOBEFORE}): wall ms per step | | {s(bw, '%.1f [%.1f–%.1f]')} | {s(bratio, '%.2f [%.2f–%.2f]')} |")
        print(f"| before: process CPU ms per step | | {s(bc, '%.1f [%.1f–%.1f]')} | {s(bcratio, '%.2f [%.2f–%.2f]')} |")


if __name__ == "__main__":
    main()
