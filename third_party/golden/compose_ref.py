#!/usr/bin/python3
"""Writes the goldens of nn.Seq and of LoRA on nn.MLP from PyTorch (Debian's python3-torch 1.13).

Run: /usr/bin/python3 third_party/golden/compose_ref.py
Check against PEFT (optional, any Python with torch and peft):
     /tmp/t2venv/bin/python third_party/golden/compose_ref.py --check-peft

testdata/nn/compose.safetensors, in the layout of layers.safetensors:
    seq.sd.<param>     the state dict of a torch.nn.Sequential
                       (Linear(5,8), ReLU, Sequential(Linear(8,8), Tanh), LayerNorm(8), Linear(8,3))
    seq.in0, seq.gout  input (4, 5) and upstream gradient
    seq.out, seq.grad.in0, seq.grad.<param>
testdata/lora/mlp.safetensors
    sd.mlp.layers.<i>.{weight,bias}     an MLP of Linear(5,8), ReLU, Linear(8,8), ReLU, Linear(8,3)
                                        (module list "layers" under a module "mlp")
    sd.mlp.layers.<i>.lora_{A,B}.weight LoRA r=2, alpha=4 on layers 0 and 2 with non-zero B
    x, gout, out_base                   input (4, 5), upstream gradient, the base output
    out, grad.x, grad.<lora param>      output with the adapters (eval: no dropout), gradients
    merged.out                          output of the merged model (W + B·A·scaling)

LoRA is written out by hand with PEFT's semantics (y = base(x) + B(A(x))·alpha/r, as in
lora_ref.py); --check-peft builds the same model with peft.get_peft_model, copies the
adapter weights in and asserts that PEFT's output matches the golden.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata")
META = {"torch": torch.__version__, "script": "third_party/golden/compose_ref.py"}
R, ALPHA, TARGETS = 2, 4.0, ["layers.0", "layers.2"]


def seq():
    torch.manual_seed(27)
    m = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.Tanh()),
                      nn.LayerNorm(8), nn.Linear(8, 3))
    with torch.no_grad():  # LayerNorm's affine away from ones/zeros so its gradients are checked
        m[3].weight.uniform_(0.5, 1.5)
        m[3].bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, 5, requires_grad=True)
    gout = torch.randn(4, 3)
    out = m(x)
    out.backward(gout)
    t = {"seq.in0": x.detach(), "seq.gout": gout, "seq.out": out.detach(), "seq.grad.in0": x.grad}
    for k, v in m.state_dict().items():
        t["seq.sd." + k] = v
    for k, p in m.named_parameters():
        t["seq.grad." + k] = p.grad
    stio.save(os.path.join(ROOT, "nn", "compose.safetensors"), t, META)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(5, 8), nn.Linear(8, 8), nn.Linear(8, 3)])

    def forward(self, x):
        for i, l in enumerate(self.layers):
            x = l(x)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = MLP()

    def forward(self, x):
        return self.mlp(x)


def lora_weights(net):
    g = torch.Generator().manual_seed(7)
    w = {}
    for t in TARGETS:
        base = net.mlp.layers[int(t.split(".")[1])]
        w["mlp." + t + ".lora_A.weight"] = torch.randn(R, base.in_features, generator=g) * 0.5
        w["mlp." + t + ".lora_B.weight"] = torch.randn(base.out_features, R, generator=g) * 0.5
    return w


def lora_forward(net, w, x):
    h = x
    for i, l in enumerate(net.mlp.layers):
        name = "mlp.layers.%d" % i
        y = l(h)
        if name + ".lora_A.weight" in w:
            y = y + (h @ w[name + ".lora_A.weight"].t()) @ w[name + ".lora_B.weight"].t() * (ALPHA / R)
        h = torch.relu(y) if i + 1 < len(net.mlp.layers) else y
    return h


def mlp_lora():
    torch.manual_seed(28)
    net = Net()
    x = torch.randn(4, 5, requires_grad=True)
    gout = torch.randn(4, 3)
    w = {k: v.clone().requires_grad_(True) for k, v in lora_weights(net).items()}
    with torch.no_grad():
        base = net(x)
    out = lora_forward(net, w, x)
    out.backward(gout)
    t = {"x": x.detach(), "gout": gout, "out_base": base, "out": out.detach(), "grad.x": x.grad}
    for k, v in net.state_dict().items():
        t["sd." + k] = v
    for k, v in w.items():
        t["sd." + k] = v.detach()
        t["grad." + k] = v.grad
    merged = Net()
    merged.load_state_dict(net.state_dict())
    with torch.no_grad():
        for tg in TARGETS:
            lin = merged.mlp.layers[int(tg.split(".")[1])]
            a, b = w["mlp." + tg + ".lora_A.weight"], w["mlp." + tg + ".lora_B.weight"]
            lin.weight += (b @ a) * (ALPHA / R)
        t["merged.out"] = merged(x.detach())
    stio.save(os.path.join(ROOT, "lora", "mlp.safetensors"), t, META)


def check_peft():
    """PEFT's LoRA on the same MLP, with the golden's weights, gives the golden's output."""
    import peft
    from safetensors.torch import load_file
    g = load_file(os.path.join(ROOT, "lora", "mlp.safetensors"))
    net = Net()
    net.load_state_dict({k[3:]: v for k, v in g.items() if k.startswith("sd.") and "lora_" not in k})
    pm = peft.get_peft_model(net, peft.LoraConfig(r=R, lora_alpha=ALPHA, target_modules=TARGETS, lora_dropout=0.0))
    sd = {}
    for k, v in g.items():
        if k.startswith("sd.") and "lora_" in k:
            sd["base_model.model." + k[3:].replace(".weight", ".default.weight")] = v
    missing = pm.load_state_dict(sd, strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
    pm.eval()
    with torch.no_grad():
        got = pm(g["x"])
    err = (got - g["out"]).abs().max().item()
    print("PEFT %s vs golden: max abs diff %.3g" % (peft.__version__, err))
    assert err < 1e-5, err


def main():
    if "--check-peft" in sys.argv:
        check_peft()
        return
    seq()
    mlp_lora()


if __name__ == "__main__":
    main()
