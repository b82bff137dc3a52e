#!/usr/bin/env python3
"""Proves that paper_step.py and examples/benchstep compare the same thing: both run, at the
tiny preset's size on the CPU in float32, from the same initial weights (benchstep -dump
writes its model's weights, config and batch; paper_step.py --from loads them into
transformers' Mistral and CLIP, PEFT's LoRA and the PyTorch twins of the rest) on the same
batch, and the loss of every step (1 to --steps, 3 by default) must agree within 1e-4
relative, and the trainable parameter counts exactly.

    python third_party/bench/step_compare.py [--python PY] [--work DIR] [--tags torchenv]

PY (default: this interpreter) must import torch 2.x, transformers and peft. LoRA dropout is
off (its random masks are drawn differently by the two programs) and the learning rate is
1e-3, large enough that the later steps' losses depend on the optimizer updates: the script
also fails when the loss moves by less than 10x the tolerance over the steps. Exits
non-zero on any disagreement.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

RTOL = 1e-4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", help="directory for the dump (default: a temporary one)")
    ap.add_argument("--tags", default="", help="go build tags (torchenv to build against the torch of CGO_* flags)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    a = ap.parse_args()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    work = a.work or tempfile.mkdtemp(prefix="step_compare.")
    dump = os.path.join(work, "dump")
    common = ["-steps", str(a.steps), "-lr", str(a.lr)]
    go = ["go", "run"] + (["-tags", a.tags] if a.tags else []) + ["./examples/benchstep", "-preset", "tiny",
                                                                 "-batch", "2", "-warmup", "0", "-lora-dropout", "0",
                                                                 "-threads", "1", "-dump", dump] + common
    print("step_compare.py:", " ".join(go), flush=True)
    subprocess.run(go, cwd=root, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(dump, "go.json")) as f:
        g = json.load(f)
    py = [a.python, os.path.join(root, "third_party", "bench", "paper_step.py"), "--device", "cpu", "--from", dump,
          "--steps", str(a.steps), "--lr", str(a.lr)]
    print("step_compare.py:", " ".join(py), flush=True)
    out = subprocess.run(py, cwd=root, check=True, stdout=subprocess.PIPE, text=True).stdout
    p = json.loads(out.strip().splitlines()[-1])

    ok = True
    print(f"{'step':>4} {'prsmed-go (libtorch ' + g['libtorch'] + ')':>28} {'pytorch ' + p['libtorch']:>24} {'rel':>9}")
    for i, (x, y) in enumerate(zip(g["losses"], p["losses"]), 1):
        rel = abs(x - y) / abs(y)
        bad = rel > RTOL
        ok &= not bad
        print(f"{i:>4} {x:>28.9g} {y:>24.9g} {rel:>9.2g}{'  DIFFERS' if bad else ''}")
    if len(g["losses"]) != a.steps or len(p["losses"]) != a.steps:
        print(f"step_compare.py: {len(g['losses'])} and {len(p['losses'])} losses for {a.steps} steps")
        ok = False
    moved = abs(p["losses"][-1] - p["losses"][0]) / abs(p["losses"][0])
    if moved < 10 * RTOL:
        print(f"step_compare.py: the loss moved by {moved:.2g} relative over the steps: too little to test the updates")
        ok = False
    print(f"trainable parameters: prsmed-go {g['trainable']}, pytorch {p['trainable']}; all parameters: "
          f"{g['params']} and {p['params']}; the loss moved by {moved:.3g} relative from step 1 to {a.steps}")
    if g["trainable"] != p["trainable"]:
        print("step_compare.py: the trainable parameter counts differ")
        ok = False
    if not ok:
        sys.exit("step_compare.py: FAIL")
    print("step_compare.py: the two programs agree")


if __name__ == "__main__":
    main()
