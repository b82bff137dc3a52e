#!/usr/bin/python3
"""The model-level CPU comparisons of BENCHMARKS.md, PyTorch and Go interleaved.

Each round runs, for every comparison, the PyTorch script and then the Go benchmark doing
the same work; the table gives the median and the range over the rounds of the time per
unit of work (wall clock and process CPU time, all threads), and the ratios are taken
within each round, so that a slow spell of a shared machine hits both sides of a ratio.

    /usr/bin/python3 third_party/bench/interleave_models.py [rounds, default 5] [name ...]

Names: mistral (prefill and decode, tiny and 100M: mistral_bench.py against
BenchmarkPrefill/BenchmarkDecode), prsmed (the tiny PRS-Med's inference forward:
prsmed_bench.py --infer-only against BenchmarkPredictForward), tinyvit (vit_t on a 1024²
image: tinyvit_bench.py against BenchmarkForward1024); default: all three.

Threads: BENCH_THREADS (default 1) sets both sides' intra-op threads and OpenBLAS's pool
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, THREADS for the Python scripts, BENCH_THREADS for
the Go benchmarks, whose torch.SetNumThreads also sizes OpenBLAS's pool). With more than
one thread, PY_OPENBLAS_NUM_THREADS gives the PyTorch side's OpenBLAS pool a size of its
own: on a 2-core machine PyTorch 1.13 with two OpenMP threads and two OpenBLAS threads
oversubscribes the cores and runs several times slower than with one OpenBLAS thread. The Go test
binaries are built first into a temporary folder (GO_BIN_DIR=dir reuses binaries already
there: mistral.test, prsmed.test, tinyvit.test). Run it on an otherwise idle machine.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "third_party", "bench")
THREADS = os.environ.get("BENCH_THREADS", "1")
PACKAGES = {"mistral": "./prsmed/mistral/", "prsmed": "./prsmed/", "tinyvit": "./prsmed/tinyvit/"}


def run(cmd, cwd=None, extra=None):
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS, THREADS=THREADS,
               BENCH_THREADS=THREADS)
    if cmd[0] == sys.executable and os.environ.get("PY_OPENBLAS_NUM_THREADS"):
        env["OPENBLAS_NUM_THREADS"] = os.environ["PY_OPENBLAS_NUM_THREADS"]
    env.update(extra or {})
    return subprocess.run(cmd, cwd=cwd or ROOT, env=env, check=True, capture_output=True, text=True).stdout


def go_bench(binary, pattern, times, cwd):
    """Runs one Go benchmark and returns {sub-benchmark: (wall ms, CPU ms)} per op."""
    out = run([binary, "-test.run", "^$", "-test.bench", pattern, "-test.benchtime", f"{times}x"], cwd=cwd)
    res = {}
    for line in out.splitlines():
        m = re.match(r"(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if m:
            res[m.group(1)] = (float(m.group(3)) / 1e6, float(re.search(r"([\d.]+) cpu-ms/op", line).group(1)))
    return res


def mistral(bins):
    """Per 128-token prompt forward and per 32-token greedy generation."""
    out = run([sys.executable, os.path.join(BENCH, "mistral_bench.py")])
    py = {}
    for m in re.finditer(r"(\w+): prefill (\d+) tokens/s, decode ([\d.]+) tokens/s "
                         r"\(process CPU per prompt ([\d.]+) ms, per generation ([\d.]+) ms\)", out):
        name = m.group(1)
        py[f"Mistral {name} prefill (128 tokens)"] = (128e3 / float(m.group(2)), float(m.group(4)))
        py[f"Mistral {name} decode (32 tokens)"] = (32e3 / float(m.group(3)), float(m.group(5)))
    go = go_bench(bins["mistral"], "^Benchmark(Prefill|Decode)$", 5, os.path.join(ROOT, "prsmed", "mistral"))
    gor = {}
    for key, v in go.items():
        kind, name = key.removeprefix("Benchmark").split("/")
        gor[f"Mistral {name} {kind.lower()} ({128 if kind == 'Prefill' else 32} tokens)"] = v
    return {k: (py[k], gor[k]) for k in py}


def prsmed(bins):
    out = run([sys.executable, os.path.join(BENCH, "prsmed_bench.py"), "--infer-only"])
    m = re.search(r"inference forward \(1 sample, no generation\) ([\d.]+) ms, process CPU ([\d.]+) ms", out)
    go = go_bench(bins["prsmed"], "^BenchmarkPredictForward$", 20, os.path.join(ROOT, "prsmed"))
    return {"PRS-Med tiny inference forward (1 sample)": ((float(m.group(1)), float(m.group(2))),
                                                          go["BenchmarkPredictForward"])}


def tinyvit(bins):
    out = run([sys.executable, os.path.join(BENCH, "tinyvit_bench.py")], extra={"STEPS": "2"})
    m = re.search(r"forward: (\d+) ms/op \(process CPU (\d+) ms/op\)", out)
    go = go_bench(bins["tinyvit"], "^BenchmarkForward1024$", 2, os.path.join(ROOT, "prsmed", "tinyvit"))
    return {"TinyViT vit_t 1024² forward": ((float(m.group(1)), float(m.group(2))), go["BenchmarkForward1024"])}


COMPARISONS = {"mistral": mistral, "prsmed": prsmed, "tinyvit": tinyvit}


def main():
    args = sys.argv[1:]
    rounds = int(args.pop(0)) if args and args[0].isdigit() else 5
    names = args or list(COMPARISONS)
    for n in names:
        if n not in COMPARISONS:
            sys.exit(f"interleave_models: unknown comparison {n!r} (have {', '.join(COMPARISONS)})")
    bindir = os.environ.get("GO_BIN_DIR") or tempfile.mkdtemp(prefix="prsmed-bench-")
    bins = {}
    for n in names:
        bins[n] = os.path.join(bindir, n + ".test")
        if not os.path.exists(bins[n]):
            subprocess.run(["go", "test", "-c", "-o", bins[n], PACKAGES[n]], cwd=ROOT, check=True)
    rows = {}  # work -> list of (py wall, py cpu, go wall, go cpu)
    for r in range(rounds):
        for n in names:
            for work, ((pw, pc), (gw, gc)) in COMPARISONS[n](bins).items():
                rows.setdefault(work, []).append((pw, pc, gw, gc))
                print(f"round {r + 1}: {work}: PyTorch {pw:.2f} ms (CPU {pc:.2f}), Go {gw:.2f} ms (CPU {gc:.2f}), "
                      f"Go throughput ÷ PyTorch {pw / gw:.2f}", file=sys.stderr, flush=True)

    def s(v, f="%.1f"):
        return f"{f % statistics.median(v)} [{f % min(v)}–{f % max(v)}]"

    pyob = os.environ.get("PY_OPENBLAS_NUM_THREADS") or THREADS
    print(f"({rounds} rounds, {THREADS} thread(s), PyTorch's OpenBLAS {pyob}; per unit of work, median [min–max]; "
          "ratios within a round)")
    print("| work | PyTorch wall ms | Go wall ms | Go throughput ÷ PyTorch (wall) | PyTorch CPU ms | Go CPU ms "
          "| PyTorch CPU ÷ Go CPU |")
    print("|---|---|---|---|---|---|---|")
    for work, v in rows.items():
        pw, pc, gw, gc = zip(*v)
        print(f"| {work} | {s(pw)} | {s(gw)} | {s([a / b for a, b in zip(pw, gw)], '%.2f')} | {s(pc)} | {s(gc)} "
              f"| {s([a / b for a, b in zip(pc, gc)], '%.2f')} |")


if __name__ == "__main__":
    main()
