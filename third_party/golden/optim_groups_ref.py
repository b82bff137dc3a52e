#!/usr/bin/python3
"""Write testdata/torch/optim_groups.safetensors: how torch.optim.AdamW and SGD param groups
inherit the optimizer's hyper-parameters, for torch/optim_groups_test.go.

Run with Debian's python3-torch (1.13), from the repository root:

    /usr/bin/python3 third_party/golden/optim_groups_ref.py [outdir]

The problem is torch_ops.py's optimizer MLP (same seed, same draws). Each case builds the
optimizer with two groups: [W1, b1] with no keys at all, and [W2, b2] with the one key the
case names (or none), and takes 20 steps. Recorded per case <c>:

  <c>.groups   float64 (2, 5) or (2, 2): each group's values after construction, as
               PyTorch's param_groups hold them: lr, beta1, beta2, eps, weight_decay
               (AdamW) or lr, weight_decay (SGD)
  <c>.losses   the 20 losses
  <c>.W1 ...   the final parameters
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ops import Golden, rn, seed_of, train  # noqa: E402

ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
SGD = dict(lr=0.05, momentum=0.9, weight_decay=1e-3)

# The key the second group sets, per case; every value differs from the optimizer's.
ADAMW_CASES = {
    "adamw_none": {},
    "adamw_lr": {"lr": 5e-3},
    "adamw_lr_zero": {"lr": 0.0},
    "adamw_betas": {"betas": (0.8, 0.99)},
    "adamw_eps": {"eps": 1e-3},
    "adamw_weight_decay": {"weight_decay": 0.5},
    "adamw_weight_decay_zero": {"weight_decay": 0.0},
}
SGD_CASES = {
    "sgd_none": {},
    "sgd_lr": {"lr": 0.02},
    "sgd_weight_decay": {"weight_decay": 0.1},
    "sgd_weight_decay_zero": {"weight_decay": 0.0},
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "testdata/torch"
    g = Golden("optim_groups")
    torch.manual_seed(seed_of("mlp"))
    x, y = rn(16, 4), rn(16, 1)
    p0 = {"W1": rn(8, 4) * 0.5, "b1": rn(8) * 0.1, "W2": rn(1, 8) * 0.5, "b2": rn(1) * 0.1}
    g.add("mlp.x", x)
    g.add("mlp.y", y)
    for k, v in p0.items():
        g.add("mlp." + k, v)

    def record(name, make, fields):
        groups = []

        def fn(p):
            opt = make(p)
            for pg in opt.param_groups:
                row = []
                for f in fields:
                    if f == "betas":
                        row += list(pg["betas"])
                    else:
                        row.append(pg[f])
                groups.append(row)
            return opt

        p, losses = train(fn, p0, x, y)
        g.add(name + ".groups", torch.tensor(groups, dtype=torch.float64))
        g.add(name + ".losses", losses)
        for k, v in p.items():
            g.add(f"{name}.{k}", v)

    for name, key in ADAMW_CASES.items():
        record(name, lambda p, key=key: torch.optim.AdamW(
            [{"params": [p["W1"], p["b1"]]}, dict(params=[p["W2"], p["b2"]], **key)],
            foreach=False, **ADAMW), ["lr", "betas", "eps", "weight_decay"])
    for name, key in SGD_CASES.items():
        record(name, lambda p, key=key: torch.optim.SGD(
            [{"params": [p["W1"], p["b1"]]}, dict(params=[p["W2"], p["b2"]], **key)],
            foreach=False, **SGD), ["lr", "weight_decay"])
    g.meta["generator"] = "third_party/golden/optim_groups_ref.py"
    g.meta["torch"] = torch.__version__
    g.save(outdir)
    print(f"{g.name}: {len(g.t)} tensors")


if __name__ == "__main__":
    main()
