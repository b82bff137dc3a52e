#!/usr/bin/python3
"""Write seeded goldens for package torch's autocast tests (torch/autocast_golden_test.go).

Run with Debian's python3-torch (1.13), from the repository root:

    /usr/bin/python3 third_party/golden/autocast_ref.py [outdir]

outdir defaults to testdata/torch; the file is autocast.safetensors. Every case runs under
torch.autocast("cpu", dtype=torch.bfloat16) on float32 inputs that require grad, except
the ".plain" cases, which run the same op without autocast. For a case <c>:
<c>.in0, <c>.in1, ... are the float32 inputs, <c>.out the output (in the dtype autocast
gave it), <c>.gout an upstream gradient in the output's dtype, and <c>.grad0, ... the
float32 gradients of sum(out * gout) with respect to each input (backward runs outside
autocast, as PyTorch recommends).
"""
import os
import sys
import zlib

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "testdata/torch"


def case(g, name, fn, shapes, autocast=True):
    torch.manual_seed(zlib.crc32(name.encode()))
    ins = [torch.randn(*s, dtype=torch.float32, requires_grad=True) for s in shapes]
    if autocast:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fn(*ins)
    else:
        out = fn(*ins)
    gout = torch.randn(out.shape, dtype=torch.float32).to(out.dtype)
    (out * gout).sum().backward()
    for i, x in enumerate(ins):
        g[f"{name}.in{i}"] = x.detach()
        g[f"{name}.grad{i}"] = x.grad
    g[f"{name}.out"] = out.detach()
    g[f"{name}.gout"] = gout


def main():
    g = {}
    case(g, "linear", lambda x, w, b: F.linear(x, w, b), [(4, 16), (8, 16), (8,)])
    case(g, "linear.plain", lambda x, w, b: F.linear(x, w, b), [(4, 16), (8, 16), (8,)], autocast=False)
    case(g, "matmul", lambda a, b: a @ b, [(2, 3, 12), (12, 5)])
    case(g, "bmm", torch.bmm, [(2, 3, 8), (2, 8, 4)])
    case(g, "conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), [(1, 3, 6, 6), (4, 3, 3, 3), (4,)])
    # A chain: an autocast op feeding ops that follow their input (gelu, add) and a
    # float32 residual (bf16 + f32 promotes to f32).
    case(g, "chain", lambda x, w, r: F.gelu(F.linear(x, w)) + r, [(3, 10), (6, 10), (3, 6)])
    os.makedirs(OUT, exist_ok=True)
    stio.save(os.path.join(OUT, "autocast.safetensors"), g, {"torch": torch.__version__})
    for k in sorted(g):
        print(k, tuple(g[k].shape), g[k].dtype)


if __name__ == "__main__":
    main()
