"""Writes testdata/losses/losses.safetensors: inputs, values and gradients of the PRS-Med
losses computed by PyTorch. Run: /usr/bin/python3 third_party/golden/losses_ref.py"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "losses", "losses.safetensors")


def dice(logits, target):
    b = logits.shape[0]
    p = torch.sigmoid(logits).reshape(b, -1)
    y = target.reshape(b, -1)
    inter = (p * y).sum(1)
    return (1 - (2 * inter + 1) / (p.sum(1) + y.sum(1) + 1)).mean()


def main():
    out = {}
    for case, (b, h, w, soft) in {"b1": (1, 8, 8, False), "b3": (3, 6, 10, True), "empty": (2, 5, 5, False)}.items():
        torch.manual_seed(len(case) * 7 + b)
        x = (torch.randn(b, 1, h, w) * 2).requires_grad_(True)
        if case == "empty":
            y = torch.zeros(b, 1, h, w)
        elif soft:
            y = torch.rand(b, 1, h, w)
        else:
            y = (torch.rand(b, 1, h, w) > 0.6).float()
        pw = torch.tensor([2.5])
        for name, fn in {
            "bce": lambda: F.binary_cross_entropy_with_logits(x, y),
            "bce_pw": lambda: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
            "dice": lambda: dice(x, y),
        }.items():
            x.grad = None
            v = fn()
            v.backward()
            out[f"{case}.{name}.value"] = v.detach()
            out[f"{case}.{name}.grad"] = x.grad.clone()
        out[f"{case}.logits"] = x.detach()
        out[f"{case}.target"] = y
    out["pos_weight"] = pw

    # Token cross-entropy with ignored positions, and the causal shift.
    torch.manual_seed(3)
    logits = torch.randn(2, 7, 11, requires_grad=True)
    labels = torch.randint(0, 11, (2, 7))
    labels[0, :3] = -100
    labels[1, :5] = -100
    ce = F.cross_entropy(logits.view(-1, 11), labels.view(-1), ignore_index=-100)
    ce.backward()
    out["tok.logits"], out["tok.labels"] = logits.detach(), labels
    out["tok.ce.value"], out["tok.ce.grad"] = ce.detach(), logits.grad.clone()
    logits.grad = None
    nt = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100)
    nt.backward()
    out["tok.next.value"], out["tok.next.grad"] = nt.detach(), logits.grad.clone()

    # The combined objective: 1·BCE + 1·Dice + 0.5·CE.
    torch.manual_seed(5)
    ml = torch.randn(2, 1, 8, 8, requires_grad=True)
    mt = (torch.rand(2, 1, 8, 8) > 0.5).float()
    tl = torch.randn(2, 6, 9, requires_grad=True)
    lab = torch.randint(0, 9, (2, 6))
    lab[:, :2] = -100
    bce = F.binary_cross_entropy_with_logits(ml, mt)
    dc = dice(ml, mt)
    ce = F.cross_entropy(tl[:, :-1].reshape(-1, 9), lab[:, 1:].reshape(-1), ignore_index=-100)
    total = bce + dc + 0.5 * ce
    total.backward()
    out.update({"obj.mask_logits": ml.detach(), "obj.mask_target": mt, "obj.tok_logits": tl.detach(),
                "obj.labels": lab, "obj.total": total.detach(), "obj.bce": bce.detach(), "obj.dice": dc.detach(),
                "obj.ce": ce.detach(), "obj.grad_mask": ml.grad.clone(), "obj.grad_tok": tl.grad.clone()})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    stio.save(OUT, out, {"torch": torch.__version__, "script": "third_party/golden/losses_ref.py"})
    print("wrote", OUT, len(out), "tensors")


if __name__ == "__main__":
    main()
