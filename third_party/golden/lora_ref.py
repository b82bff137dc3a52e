#!/usr/bin/python3
"""Writes the goldens of package loraadapter from PyTorch (Debian's python3-torch 1.13).

Run: /usr/bin/python3 third_party/golden/lora_ref.py

There is no peft package here, so LoRA is written out below by hand with PEFT's semantics
(src/peft/tuners/lora/layer.py, read for the format, not copied):
  y = base(x) + lora_B(lora_A(dropout(x))) * scaling,  scaling = lora_alpha / r
  lora_A = Linear(in, r, bias=False), lora_B = Linear(r, out, bias=False), each built with
  nn.Linear's default init, then kaiming_uniform_(lora_A.weight, a=sqrt(5)) and zeros_(B).
and the adapter directory is written in the layout PeftModel.save_pretrained produces:
adapter_config.json (the LoraConfig fields PEFT 0.10 writes, sorted, indent 2) and
adapter_model.safetensors with keys "base_model.model.<module>.lora_{A,B}.weight" (the
adapter name stripped) and metadata {"format": "pt"}.

testdata/lora/lora.safetensors
    sd.<name>              the tiny decoder's base weights (Go store names)
    x, gout                input (2, 3, 8) and the upstream gradient of the output
    eval.out_base          base-only output
    eval.out               output with the adapter of peft/ (eval mode: no dropout)
    eval.grad.x            d out / d x (against gout)
    eval.grad.<module>.lora_{A,B}.weight   LoRA gradients
    merged.w.<module>.weight               W + (B @ A) * scaling, PEFT's merge in float32
    merged.out             the output of the merged model (base layers only)
    train.seed, train.p    torch.manual_seed before the train-mode forward, and the dropout
    train.out, train.grad.<...>            same with dropout p on every adapter's input
    init.seed              a fresh tiny decoder built and injected after torch.manual_seed:
    init.sd.<name>         its base weights and LoRA weights (PEFT's draw order)
testdata/lora/peft/        a PEFT-layout adapter (non-zero B) for the tiny decoder, whose
                           target_modules also matched a tiny CLIP-style vision tower: the
                           file holds model.vision_tower... keys too (B = 0 there, as in
                           PRS-Med, where CLIP runs under no_grad)
testdata/lora/peft_bin/    the same adapter as adapter_model.bin (torch.save)
"""
import json
import math
import os
import shutil
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "lora")
META = {"torch": torch.__version__, "script": "third_party/golden/lora_ref.py"}

D, KV, VD = 8, 4, 6  # hidden, k/v width, vision width
R, ALPHA, DROPOUT = 4, 8, 0.05
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
BASE_NAME = "tiny-llava-test"


# ---------------------------------------------------------------------------------------
# The tiny model: names as in LLaVA-Mistral ("model.layers.N.self_attn.q_proj"), plus a
# vision tower whose q/k/v suffixes PEFT's suffix matching also catches.


class SelfAttn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D, D, bias=False)
        self.k_proj = nn.Linear(D, KV, bias=True)  # one biased projection for coverage
        self.v_proj = nn.Linear(D, KV, bias=False)
        self.o_proj = nn.Linear(D, D, bias=False)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = SelfAttn()


class VisionAttn(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(VD, VD)
        self.k_proj = nn.Linear(VD, VD)
        self.v_proj = nn.Linear(VD, VD)
        self.out_proj = nn.Linear(VD, VD)  # CLIP's output projection: not a target


class VisionLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = VisionAttn()


class VisionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([VisionLayer()])


class VisionTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision_tower = nn.Module()
        self.vision_tower.vision_model = VisionModel()


class Inner(nn.Module):
    def __init__(self, vision):
        super().__init__()
        self.layers = nn.ModuleList([Layer(), Layer()])
        if vision:
            self.vision_tower = VisionTower()


class Tiny(nn.Module):
    def __init__(self, vision=False):
        super().__init__()
        self.model = Inner(vision)


def forward(m, x):
    """The Go test's Tiny.Forward, op for op."""
    h = x
    for layer in m.model.layers:
        a = layer.self_attn
        q, k, v = a.q_proj(h), a.k_proj(h), a.v_proj(h)
        kv = torch.cat([k * v, k + v], -1)
        h = h + a.o_proj(torch.tanh(q) * kv)
    return h


def forward_base(m, x):
    """forward with every LoRA layer's base layer alone (a merged model)."""
    saved = {}
    for n, mod in list(m.named_modules()):
        if isinstance(mod, LoraLinear):
            parent_name, _, child = n.rpartition(".")
            parent = m.get_submodule(parent_name)
            saved[(parent, child)] = mod
            setattr(parent, child, mod.base_layer)
    try:
        return forward(m, x)
    finally:
        for (parent, child), mod in saved.items():
            setattr(parent, child, mod)


# ---------------------------------------------------------------------------------------
# LoRA with PEFT's semantics.


class LoraLinear(nn.Module):
    def __init__(self, base, r, alpha, p):
        super().__init__()
        self.base_layer = base
        self.lora_dropout = nn.Dropout(p) if p > 0 else nn.Identity()
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def inject(model, targets, r, alpha, p):
    """Replaces every nn.Linear whose name is a target or ends in "." + target, in
    named_modules order (PEFT's), freezes everything else, and returns {name: LoraLinear}."""
    names = [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)
             and any(n == t or n.endswith("." + t) for t in targets)]
    for prm in model.parameters():
        prm.requires_grad_(False)
    out = {}
    for n in names:
        parent_name, _, child = n.rpartition(".")
        parent = model.get_submodule(parent_name)
        lora = LoraLinear(getattr(parent, child), r, alpha, p)
        setattr(parent, child, lora)
        out[n] = lora
    return out


def lora_state(loras):
    """PEFT's saved state dict: base_model.model.<module>.lora_{A,B}.weight."""
    sd = {}
    for n, l in loras.items():
        sd[f"base_model.model.{n}.lora_A.weight"] = l.lora_A.weight.detach().clone()
        sd[f"base_model.model.{n}.lora_B.weight"] = l.lora_B.weight.detach().clone()
    return sd


def peft_config(target_modules):
    """adapter_config.json as PEFT 0.10's LoraConfig.save_pretrained writes it."""
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": BASE_NAME,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": ALPHA,
        "lora_dropout": DROPOUT,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": R,
        "rank_pattern": {},
        "revision": None,
        "target_modules": target_modules,
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": False,
    }


def write_dir(path, cfg, sd, binary):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    with open(os.path.join(path, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    if binary:
        torch.save({k: v.contiguous() for k, v in sd.items()}, os.path.join(path, "adapter_model.bin"))
    else:
        stio.save(os.path.join(path, "adapter_model.safetensors"), sd, {"format": "pt"})


def grads(prefix, loras):
    out = {}
    for n, l in loras.items():
        out[f"{prefix}.{n}.lora_A.weight"] = l.lora_A.weight.grad.clone()
        out[f"{prefix}.{n}.lora_B.weight"] = l.lora_B.weight.grad.clone()
    return out


def main():
    g = {}

    # --- The adapter: a tiny LLaVA-like model with a vision tower, PEFT-injected, then
    # non-zero B on the decoder's adapters (the vision ones keep B = 0).
    torch.manual_seed(0)
    m = Tiny(vision=True)
    for n, prm in m.named_parameters():
        if n.startswith("model.layers."):
            g["sd." + n] = prm.detach().clone()
    x = torch.randn(2, 3, D)
    gout = torch.randn(2, 3, D)
    g["x"], g["gout"] = x, gout
    with torch.no_grad():
        g["eval.out_base"] = forward(m, x)
    loras = inject(m, TARGETS, R, ALPHA, DROPOUT)
    assert len(loras) == 2 * 4 + 3, sorted(loras)
    with torch.no_grad():
        for n, l in loras.items():
            if n.startswith("model.layers."):
                l.lora_B.weight.copy_(torch.randn_like(l.lora_B.weight) * 0.5)
    sd = lora_state(loras)
    cfg = peft_config(["v_proj", "q_proj", "o_proj", "k_proj"])  # a set's order
    write_dir(os.path.join(OUT, "peft"), cfg, sd, binary=False)
    write_dir(os.path.join(OUT, "peft_bin"), cfg, sd, binary=True)

    dec = {n: l for n, l in loras.items() if n.startswith("model.layers.")}
    m.eval()
    xe = x.clone().requires_grad_(True)
    out = forward(m, xe)
    out.backward(gout)
    g["eval.out"] = out.detach()
    g["eval.grad.x"] = xe.grad.clone()
    g.update(grads("eval.grad", dec))
    # The base weights must not have gradients (frozen), as PEFT leaves them.
    assert all(prm.grad is None for n, prm in m.named_parameters() if "lora_" not in n)

    # Merged: W += (B @ A) * scaling, as PEFT's merge does for float32 weights; the merged
    # model's output uses the base layers alone.
    with torch.no_grad():
        for n, l in dec.items():
            w = l.base_layer.weight.detach().clone()
            w += (l.lora_B.weight @ l.lora_A.weight) * l.scaling
            g[f"merged.w.{n}.weight"] = w
        saved = {n: l.base_layer.weight.detach().clone() for n, l in dec.items()}
        for n, l in dec.items():
            l.base_layer.weight.copy_(g[f"merged.w.{n}.weight"])
        g["merged.out"] = forward_base(m, x)
        for n, l in dec.items():
            l.base_layer.weight.copy_(saved[n])

    # Train mode: dropout p on each adapter's input, after a fixed seed; the masks are drawn
    # in forward order (q, k, v of layer 0, then o, then layer 1).
    p, seed = 0.3, 1234
    for l in loras.values():
        l.lora_dropout = nn.Dropout(p)
        l.lora_A.weight.grad = None
        l.lora_B.weight.grad = None
    m.train()
    torch.manual_seed(seed)
    xt = x.clone().requires_grad_(True)
    out = forward(m, xt)
    out.backward(gout)
    g["train.seed"] = torch.tensor(seed, dtype=torch.int64)
    g["train.p"] = torch.tensor(p, dtype=torch.float64)
    g["train.out"] = out.detach()
    g["train.grad.x"] = xt.grad.clone()
    g.update(grads("train.grad", dec))

    # --- Init parity: a fresh decoder-only model built and injected after a seed.
    seed = 77
    torch.manual_seed(seed)
    m2 = Tiny(vision=False)
    inject(m2, TARGETS, R, ALPHA, DROPOUT)
    g["init.seed"] = torch.tensor(seed, dtype=torch.int64)
    for n, prm in m2.state_dict().items():
        n = n.replace(".base_layer.", ".")
        g["init.sd." + n] = prm.detach().clone()

    os.makedirs(OUT, exist_ok=True)
    stio.save(os.path.join(OUT, "lora.safetensors"), g, META)


if __name__ == "__main__":
    main()
