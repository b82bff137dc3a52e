#!/usr/bin/python3
"""Write the goldens of package torch's fused calls and multi-tensor optimizer
(torch/fused_golden_test.go) to testdata/torch/fused.safetensors.

Run with Debian's python3-torch (1.13), from the repository root:

    /usr/bin/python3 third_party/golden/fused_ref.py [outdir]

Cases (naming as in torch_ops.py: <c>.inN, <c>.out, <c>.gout, <c>.gradN):

  rms_norm_f32, rms_norm_bf16     transformers' MistralRMSNorm written out
  rotary                          x*cos + rotate_half(x)*sin for q and k
  swiglu, swiglu_bias             down(silu(gate(x)) * up(x))
  lora, lora_bf16                 PEFT's lora.Linear without dropout (bf16 base, f32 adapter)

Plus:
  adamw_foreach.*, adamw_late_foreach.*   torch.optim.AdamW(foreach=True) on the MLP of
                                          torch_ops.py's optim_cases (same data, 20 steps)
  clipN.*                                  torch.nn.utils.clip_grad_norm_ on several
                                           parameters: gradients before (gN), after
                                           (clippedN), the total norm
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

from torch_ops import Golden, case, rn, seed_of, train


def rms_norm(x, w, eps=1e-5):
    dt = x.dtype
    h = x.to(torch.float32)
    v = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(v + eps)
    return w * h.to(dt)


def rotate_half(x):
    d = x.shape[-1]
    return torch.cat((-x[..., d // 2:], x[..., : d // 2]), dim=-1)


def rotary(q, k, cos, sin):
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def cos_sin(b, l, d, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    pos = torch.arange(l).float().unsqueeze(0).expand(b, l) + torch.arange(b).float().unsqueeze(1)
    f = pos.unsqueeze(-1) * inv
    emb = torch.cat((f, f), dim=-1).unsqueeze(1)
    return emb.cos(), emb.sin()


def swiglu(x, wg, wu, wd, bg=None, bu=None, bd=None):
    return F.linear(F.silu(F.linear(x, wg, bg)) * F.linear(x, wu, bu), wd, bd)


def lora(x, w, b, a, bm, scale):
    y = F.linear(x, w, b)
    h = x.to(a.dtype)
    out = y + F.linear(F.linear(h, a), bm) * scale
    return out.to(y.dtype)


def fused_cases(g):
    c = lambda *a, **k: case(g, *a, **k)
    c("rms_norm_f32", rms_norm, lambda: [rn(2, 3, 16), rn(16) * 0.5 + 1])
    c("rms_norm_bf16", rms_norm, lambda: [rn(2, 3, 16).bfloat16(), (rn(16) * 0.5 + 1).bfloat16()])

    def rot_inputs():
        cs, sn = cos_sin(2, 5, 8)
        return [rn(2, 4, 5, 8), rn(2, 2, 5, 8), cs, sn]

    c("rotary", rotary, rot_inputs, grad=[0, 1])
    c("swiglu", lambda x, wg, wu, wd: swiglu(x, wg, wu, wd),
      lambda: [rn(2, 3, 8), rn(12, 8) * 0.3, rn(12, 8) * 0.3, rn(8, 12) * 0.3])
    c("swiglu_bias", lambda x, wg, bg, wu, bu, wd, bd: swiglu(x, wg, wu, wd, bg, bu, bd),
      lambda: [rn(2, 3, 8), rn(12, 8) * 0.3, rn(12), rn(12, 8) * 0.3, rn(12), rn(8, 12) * 0.3, rn(8)])
    c("lora", lambda x, w, b, a, bm: lora(x, w, b, a, bm, 2.0),
      lambda: [rn(2, 3, 8), rn(6, 8) * 0.3, rn(6), rn(4, 8) * 0.3, rn(6, 4) * 0.3])
    # A frozen bf16 base with a float32 adapter (the base gets no gradient, as under LoRA).
    c("lora_bf16", lambda x, w, a, bm: lora(x, w, None, a, bm, 0.5),
      lambda: [rn(2, 3, 8).bfloat16(), (rn(6, 8) * 0.3).bfloat16(), rn(4, 8) * 0.3, rn(6, 4) * 0.3],
      grad=[0, 2, 3])


def adamw_cases(g):
    # The problem of torch_ops.py's optim_cases, drawn the same way.
    torch.manual_seed(seed_of("mlp"))
    x, y = rn(16, 4), rn(16, 1)
    p0 = {"W1": rn(8, 4) * 0.5, "b1": rn(8) * 0.1, "W2": rn(1, 8) * 0.5, "b2": rn(1) * 0.1,
          "W3": rn(1, 4) * 0.5}
    g.add("mlp.x", x)
    g.add("mlp.y", y)
    for k, v in p0.items():
        g.add("mlp." + k, v)
    mlp = {k: v for k, v in p0.items() if k != "W3"}

    def adamw(p):
        return torch.optim.AdamW(
            [{"params": [p["W1"], p["b1"]]},
             {"params": [p["W2"], p["b2"]], "lr": 5e-3, "weight_decay": 0.0}],
            lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, foreach=True)

    p, losses = train(adamw, mlp, x, y)
    g.add("adamw_foreach.losses", losses)
    for k, v in p.items():
        g.add(f"adamw_foreach.{k}", v)

    def adamw_late(p):
        return torch.optim.AdamW(list(p.values()), lr=1e-2, weight_decay=1e-2, foreach=True)

    late = dict(mlp)
    late["W3"] = p0["W3"]
    extra = lambda p, step: (F.linear(x, p["W3"]) - y).pow(2).mean() if step >= 5 else torch.zeros(())
    p, losses = train(adamw_late, late, x, y, extra=extra)
    g.add("adamw_late_foreach.losses", losses)
    for k, v in p.items():
        g.add(f"adamw_late_foreach.{k}", v)


def clip_cases(g):
    # name, max_norm, norm_type, dtype; five parameters of mixed shapes, the fourth without
    # a gradient.
    for name, max_norm, norm_type, dt in (("clip5_l2", 1.0, 2.0, torch.float32),
                                          ("clip5_inf", 0.5, math.inf, torch.float32),
                                          ("clip5_noop", 1e3, 2.0, torch.float32),
                                          ("clip5_l2_bf16", 1.0, 2.0, torch.bfloat16)):
        torch.manual_seed(seed_of(name))
        shapes = [(4, 3), (7,), (2, 2, 2), (3,), (5, 1)]
        ps = []
        for i, sh in enumerate(shapes):
            p = torch.zeros(sh, dtype=dt, requires_grad=True)
            gr = rn(*sh).to(dt) * (i + 1)
            if i != 3:
                p.grad = gr.clone()
                g.add(f"{name}.g{i}", gr)
            ps.append(p)
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        g.add(f"{name}.total", total.double())
        for i, p in enumerate(ps):
            if p.grad is not None:
                g.add(f"{name}.clipped{i}", p.grad)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "torch")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    g = Golden("fused")
    fused_cases(g)
    adamw_cases(g)
    clip_cases(g)
    g.meta["torch"] = torch.__version__
    g.save(outdir)


if __name__ == "__main__":
    main()
