#!/usr/bin/python3
"""The tiny PRS-Med training step (stage 2, batch 8, 2 threads) in PyTorch and in Go,
interleaved: each round runs third_party/bench/prsmed_bench.py (the reference model of
third_party/golden/prsmed_ref.py) and then BenchmarkTrainStep (prsmed/bench_test.go) for
the same number of steps; the table gives the median and the range over the rounds, and
the ratio is taken within each round.

    go test -c -o /tmp/prsmed.test ./prsmed/
    /usr/bin/python3 third_party/bench/interleave_train.py [rounds, default 7] [steps per run, default 10]
"""
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOTEST = os.environ.get("PRSMED_TEST", "/tmp/prsmed.test")


def run(cmd, cwd=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", THREADS="2")
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    py, go, ratio = [], [], []
    for r in range(rounds):
        out = run([sys.executable, os.path.join(ROOT, "third_party/bench/prsmed_bench.py"), str(steps), "--train-only"])
        p = float(re.search(r"train step \(batch 8\) ([\d.]+) ms", out).group(1))
        out = run([GOTEST, "-test.run", "^$", "-test.bench", "^BenchmarkTrainStep$", "-test.benchtime", f"{steps}x"],
                  cwd=os.path.join(ROOT, "prsmed"))
        g = float(re.search(r"BenchmarkTrainStep\S*\s+\d+\s+([\d.]+) ns/op", out).group(1)) / 1e6
        py.append(p)
        go.append(g)
        ratio.append(p / g)
        print(f"round {r + 1}: PyTorch {p:.1f} ms, Go {g:.1f} ms, throughput ratio {p / g:.2f}", file=sys.stderr, flush=True)
    s = lambda v, f: f % (statistics.median(v), min(v), max(v))
    print(f"({rounds} rounds of {steps} steps; median [min–max])")
    print("| | PyTorch | Go | Go throughput ÷ PyTorch |")
    print("|---|---|---|---|")
    print(f"| ms per step | {s(py, '%.1f [%.1f–%.1f]')} | {s(go, '%.1f [%.1f–%.1f]')} | {s(ratio, '%.2f [%.2f–%.2f]')} |")


if __name__ == "__main__":
    main()
