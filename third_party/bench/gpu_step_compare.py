#!/usr/bin/env python3
"""Issue 16's paper-size training-step comparison on one GPU, in one job: the Go program
(examples/benchstep) and its PyTorch + transformers + PEFT twin (paper_step.py) time the
same stage-2 step in several configurations, alternately, round after round, within a time
budget; the table gives per configuration the median and the range over the rounds of the
time per step and of the throughput ratio taken within each round.

    go build -tags torchenv -o /tmp/benchstep ./examples/benchstep   # with torchenv.sh's flags
    python3 third_party/bench/gpu_step_compare.py --go /tmp/benchstep [--rounds 5] [--budget 420]

Each side is one process per round that builds the 7.6-billion-parameter model once and
times every configuration on it (-configs / --configs), so a round costs two model builds,
not two per configuration. The sides take turns going first. A round starts only while the
budget holds one more round as long as the longest so far; --phases adds, budget allowing,
one run per side that synchronises after each phase of the step. Every JSON line goes to
OUT/steps.jsonl (OUT: --out, else $OUT, else a temporary folder) with "side" and "round"
added, and the table to OUT/summary.md and the standard output.

The predict-* configurations time inference (one PredictBatch call and its PyTorch twin,
each generating 64 tokens) on the same model in the same processes.

Throughput in TFLOP/s is estimated as 4 × parameters × tokens per step (forward and the
backward's input gradients through the frozen weights; the LoRA and trained modules' weight
gradients and the attention's quadratic term are left out), and MFU against --peak-tflops
(default 989, an H100/H200 SXM's dense bf16 figure; give the card's own), for the bf16
configurations only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CONFIGS = "autocast-bf16:2,bf16:2,autocast-bf16:8,bf16:8,f32:2,predict-bf16:1,predict-f32:1"


def side_cmd(a, side, configs, phases):
    common = ["--configs" if side == "py" else "-configs", configs,
              "--steps" if side == "py" else "-steps", str(a.steps),
              "--warmup" if side == "py" else "-warmup", str(a.warmup),
              "--answer-tokens" if side == "py" else "-answer", str(a.answer)]
    if side == "go":
        cmd = [a.go, "-preset", a.go_preset, "-device", a.device] + common
        return cmd + (["-phases"] if phases else [])
    cmd = [a.python, os.path.join(HERE, "paper_step.py"), "--device", a.device] + common
    if a.prompt_len:
        cmd += ["--prompt-len", str(a.prompt_len)]
    return cmd + (["--phases"] if phases else [])


def run_side(a, side, configs, rnd, phases, log):
    """Runs one side; returns its JSON lines (dicts) and an error text or None."""
    cmd = side_cmd(a, side, configs, phases)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=a.side_timeout)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = f"timed out after {a.side_timeout}s", 124
    lines = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            r.update(side=side, round=rnd, phases_run=phases)
            if side == "go" and str(r.get("config", "")).startswith("predict-") and not a.prompt_len:
                a.prompt_len = r["seq_len"]  # the PyTorch side's predictions get the same prompt length
            lines.append(r)
            log.write(json.dumps(r) + "\n")
            log.flush()
    took = time.time() - t0
    problem = None
    if rc != 0:
        tail = (err or "").strip().splitlines()[-3:]
        problem = f"{side} exited {rc} after {took:.0f}s: " + " | ".join(tail)
    print(f"round {rnd} {side}: {len(lines)} configuration(s) in {took:.0f}s" + (f"; {problem}" if problem else ""),
          file=sys.stderr, flush=True)
    return lines, problem, took


def span(v, f):
    return f"{f % statistics.median(v)} [{f % min(v)}–{f % max(v)}]" if v else "—"


def summarize(a, results, problems):
    configs = [c.strip() for c in a.configs.split(",")]
    timed = [r for r in results if not r.get("phases_run")]
    out = []
    card = next((r["card"] for r in results if r.get("card")), "?")
    py0 = next((r for r in results if r["side"] == "py"), {})
    go0 = next((r for r in results if r["side"] == "go" and r.get("adamw")), {})
    out.append(f"card: {card}; PyTorch {py0.get('libtorch', '?')}, transformers "
               f"{py0.get('transformers', '?')}, peft {py0.get('peft', '?')}; Go side's libtorch "
               f"{go0.get('libtorch', '?')}, AdamW {go0.get('adamw', '?')}; {a.steps} timed steps after "
               f"{a.warmup} per configuration and round; median [min–max] over the rounds")
    out.append("")
    out.append("| configuration | rounds | Go s/step | PyTorch s/step | Go throughput ÷ PyTorch | Go TFLOP/s (MFU) "
               "| PyTorch TFLOP/s (MFU) | Go / PyTorch reserved GiB |")
    out.append("|---|---|---|---|---|---|---|---|")
    for c in configs:
        name = c.split(":")[0]
        batch = int(c.split(":")[1])
        go = {r["round"]: r for r in timed if r["side"] == "go" and r.get("config") == name and r["batch"] == batch}
        py = {r["round"]: r for r in timed if r["side"] == "py" and r.get("config") == name and r["batch"] == batch}
        both = sorted(set(go) & set(py))
        ratio = [py[k]["step_s"] / go[k]["step_s"] for k in both]

        def tflops(rs):
            if name.startswith("predict-"):
                return "—"
            v = [4 * r["params"] * r["batch"] * r["seq_len"] / r["step_s"] / 1e12 for r in rs]
            if not v:
                return "—"
            t = statistics.median(v)
            return f"{t:.3g} ({100 * t / a.peak_tflops:.0f}%)" if "bf16" in name else f"{t:.3g}"

        mem = "/".join(f"{statistics.median([r['reserved_gib'] for r in rs]):.1f}" if rs and all("reserved_gib" in r for r in rs)
                       else "?" for rs in (list(go.values()), list(py.values())))
        out.append(f"| {c} | {len(both)} | {span([r['step_s'] for r in go.values()], '%.3f')} | "
                   f"{span([r['step_s'] for r in py.values()], '%.3f')} | {span(ratio, '%.2f')} | "
                   f"{tflops(list(go.values()))} | {tflops(list(py.values()))} | {mem} |")
    out.append("")
    out.append("Rows predict-*: one PredictBatch call (s/step is its latency; the ratio is PyTorch's latency over "
               "Go's, so Go ≤ 0.8× PyTorch's latency reads as ≥ 1.25).")
    for r in timed:
        if str(r.get("config", "")).startswith("predict-") and r.get("answer_tokens") != a.answer:
            problems.append(f"round {r['round']} {r['side']} {r['config']}: {r.get('answer_tokens')} tokens "
                            f"generated, not {a.answer}")
    ph = [r for r in results if r.get("phases_run") and r.get("phases_median_s")]
    if ph:
        out.append("")
        out.append("Phases (a synchronisation after each; median seconds of the timed steps):")
        out.append("")
        out.append("| side | configuration | forward | backward | clip | optimizer |")
        out.append("|---|---|---|---|---|---|")
        for r in ph:
            p = r["phases_median_s"]
            out.append(f"| {r['side']} | {r.get('config')}:{r['batch']} | {p.get('forward', 0):.3f} | "
                       f"{p.get('backward', 0):.3f} | {p.get('clip', 0):.3f} | {p.get('optimizer', 0):.3f} |")
    if problems:
        out.append("")
        out.append("Problems:")
        out.extend(f"- {p}" for p in problems)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--go", required=True, help="the built examples/benchstep binary")
    ap.add_argument("--python", default=sys.executable, help="the Python with PyTorch, transformers and peft")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budget", type=float, default=420, help="seconds for the whole comparison")
    ap.add_argument("--side-timeout", type=float, default=300, help="seconds for one side's process")
    ap.add_argument("--phases", default="bf16:8", help="configurations for the phase runs ('' for none)")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--out", default=os.environ.get("OUT") or "")
    ap.add_argument("--go-preset", default="paper", help="the Go side's -preset (tiny for a smoke run of this script)")
    ap.add_argument("--prompt-len", type=int, default=0,
                    help="the PyTorch side's prompt length for predictions (default: what the Go side reports)")
    ap.add_argument("--answer", type=int, default=64, help="tokens each prediction generates (both sides' default)")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="gpu-step-")
    os.makedirs(out, exist_ok=True)
    deadline = time.time() + a.budget
    results, problems, longest = [], [], 0.0
    with open(os.path.join(out, "steps.jsonl"), "a") as log:
        for rnd in range(1, a.rounds + 1):
            if rnd > 1 and time.time() + longest > deadline:
                problems.append(f"stopped after {rnd - 1} round(s): the budget of {a.budget:.0f}s would not hold another")
                break
            t0 = time.time()
            order = ("go", "py") if rnd % 2 else ("py", "go")
            failed = False
            for side in order:
                lines, problem, _ = run_side(a, side, a.configs, rnd, False, log)
                results += lines
                if problem:
                    problems.append(f"round {rnd}: {problem}")
                    failed = True
            longest = max(longest, time.time() - t0)
            if failed:
                break
        if a.phases:
            for side in ("go", "py"):
                if time.time() + longest / 2 > deadline:
                    problems.append(f"{side} phase run skipped: no time left")
                    continue
                lines, problem, _ = run_side(a, side, a.phases, 0, True, log)
                results += lines
                if problem:
                    problems.append(f"phases: {problem}")
    table = summarize(a, results, problems)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print(f"\nJSON lines: {os.path.join(out, 'steps.jsonl')}", file=sys.stderr)
    sys.exit(1 if problems and not results else 0)


if __name__ == "__main__":
    main()
