#!/usr/bin/python3
"""Write seeded PyTorch goldens for package torch's tests (torch/*_golden_test.go).

Run with Debian's python3-torch (1.13), from the repository root:

    /usr/bin/python3 third_party/golden/torch_ops.py [outdir]

outdir defaults to testdata/torch. The script writes one safetensors file per topic:

  elementwise.safetensors  math, comparisons, activations with broadcasting and scalars
  reduce.safetensors       reductions over dims (keepdim), arg-reductions, sort, topk, cumsum
  view.safetensors         views, indexing, joins, splits, flips, rolls, pads
  linalg.safetensors       matmul (2-d, batched, broadcast), bmm, linear, baddbmm
  nn.safetensors           conv, pooling, interpolation, norms, embedding, softmax,
                           dropout, attention, losses
  random.safetensors       rand/randn/randint/multinomial/uniform_/normal_ (default
                           generator after torch.manual_seed, and torch.Generator),
                           arange, linspace, full, one_hot
  dtype.safetensors        bfloat16 / float16 arithmetic and dtype casts
  autograd.safetensors     backward, backward with a gradient, accumulation, detach,
                           clip_grad_norm_
  optim.safetensors        AdamW and SGD on a small MLP (20 steps), LR schedulers

Naming, for an op case <c>: inputs <c>.in0, <c>.in1, ...; outputs <c>.out, <c>.out1, ...;
for every output that requires grad a random upstream gradient <c>.gout, <c>.gout1, ...;
and for every input that requires grad <c>.grad0, <c>.grad1, ... = d/d(in_i) of
sum_j (out_j * gout_j).sum(). Inputs are drawn after torch.manual_seed(crc32(<c>)).
The Go side sets requires_grad exactly on the inputs that have a .grad<i> entry.

The safetensors format is written by hand (no safetensors package): an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} with the
names sorted (plus __metadata__), padded with spaces to a multiple of 8, then the raw
little-endian bytes of each tensor in name order.
"""

import json
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F

ST_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    b = t.numpy().tobytes()
    assert len(b) == t.numel() * t.element_size()
    return b


def write_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in sorted(metadata.items())}
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Golden:
    """One output file: a dict of tensors plus metadata."""

    def __init__(self, name):
        self.name = name
        self.t = {}
        self.meta = {}

    def add(self, key, t):
        assert key not in self.t, key
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(t, dtype=torch.float64)
        self.t[key] = t.detach().clone().contiguous()

    def save(self, outdir):
        write_safetensors(os.path.join(outdir, self.name + ".safetensors"), self.t, self.meta)


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def case(g, name, fn, make_inputs, grad=None):
    """Record one op case. make_inputs() runs right after torch.manual_seed(crc32(name)).

    grad: None differentiates every floating input, False none, a list those indices.
    """
    torch.manual_seed(seed_of(name))
    inputs = make_inputs()
    ins = []
    for i, x in enumerate(inputs):
        g.add(f"{name}.in{i}", x)
        x = x.clone()
        if x.is_floating_point() and grad is not False and (grad is None or i in grad):
            x.requires_grad_(True)
        ins.append(x)
    outs = fn(*ins)
    if not isinstance(outs, (tuple, list)):
        outs = (outs,)
    loss = None
    for j, o in enumerate(outs):
        sfx = "" if j == 0 else str(j)
        g.add(f"{name}.out{sfx}", o)
        if o.requires_grad:
            go = torch.randn_like(o)
            g.add(f"{name}.gout{sfx}", go)
            term = (o * go).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
        for i, x in enumerate(ins):
            if x.requires_grad:
                g.add(f"{name}.grad{i}", x.grad if x.grad is not None else torch.zeros_like(x))


def rn(*shape):
    return torch.randn(*shape)


def pos(*shape):
    """Values in [0.5, 1.5)."""
    return torch.rand(*shape) + 0.5


def away0(*shape):
    """Values with |v| in [0.5, 1.5) and a random sign."""
    s = torch.randint(0, 2, shape).float() * 2 - 1
    return (torch.rand(*shape) + 0.5) * s


def ints_f(lo, hi, *shape):
    return torch.randint(lo, hi, shape).float()


# ---------------------------------------------------------------- elementwise

def elementwise():
    g = Golden("elementwise")
    c = lambda *a, **k: case(g, *a, **k)
    c("add_bcast", lambda a, b: a + b, lambda: [rn(3, 4), rn(4)])
    c("add_bcast2", lambda a, b: a + b, lambda: [rn(2, 1, 4), rn(3, 1)])
    c("sub_bcast", lambda a, b: a - b, lambda: [rn(3, 4), rn(3, 1)])
    c("mul_bcast", lambda a, b: a * b, lambda: [rn(2, 3, 4), rn(3, 4)])
    c("div_bcast", lambda a, b: a / b, lambda: [rn(3, 4), away0(4)])
    c("pow_tensor", lambda a, b: torch.pow(a, b), lambda: [pos(3, 4), rn(3, 4)])
    c("pow_scalar", lambda a: a ** 2.5, lambda: [pos(3, 4)])
    c("pow_scalar_int", lambda a: a ** 3, lambda: [rn(3, 4)])
    c("add_scalar", lambda a: a + 1.5, lambda: [rn(3, 4)])
    c("sub_scalar", lambda a: a - 0.25, lambda: [rn(3, 4)])
    c("rsub_scalar", lambda a: 1.0 - a, lambda: [rn(3, 4)])
    c("mul_scalar", lambda a: a * -2.0, lambda: [rn(3, 4)])
    c("div_scalar", lambda a: a / 3.0, lambda: [rn(3, 4)])
    c("neg", torch.neg, lambda: [rn(3, 4)])
    c("exp", torch.exp, lambda: [rn(3, 4)])
    c("log", torch.log, lambda: [pos(3, 4) - 0.4])
    c("log1p", torch.log1p, lambda: [torch.rand(3, 4)])
    c("sqrt", torch.sqrt, lambda: [pos(3, 4) - 0.4])
    c("rsqrt", torch.rsqrt, lambda: [pos(3, 4) - 0.4])
    c("abs", torch.abs, lambda: [rn(3, 4)])
    c("sin", torch.sin, lambda: [rn(3, 4) * 2])
    c("cos", torch.cos, lambda: [rn(3, 4) * 2])
    c("erf", torch.erf, lambda: [rn(3, 4)])
    c("square", torch.square, lambda: [rn(3, 4)])
    c("reciprocal", torch.reciprocal, lambda: [away0(3, 4)])
    c("relu", torch.relu, lambda: [rn(3, 4)])
    c("sigmoid", torch.sigmoid, lambda: [rn(3, 4) * 2])
    c("tanh", torch.tanh, lambda: [rn(3, 4)])
    c("silu", F.silu, lambda: [rn(3, 4) * 2])
    c("gelu", lambda a: F.gelu(a), lambda: [rn(3, 4) * 2])
    c("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), lambda: [rn(3, 4) * 2])
    c("maximum", torch.maximum, lambda: [rn(3, 4), rn(4)])
    c("minimum", torch.minimum, lambda: [rn(2, 1, 4), rn(3, 4)])
    c("maximum_scalar", lambda a: torch.clamp_min(a, 0.2), lambda: [rn(3, 4)])
    c("atan2", torch.atan2, lambda: [rn(3, 4), away0(3, 4)])
    c("remainder", torch.remainder, lambda: [rn(3, 4) * 3, away0(4)])
    c("floor", torch.floor, lambda: [rn(3, 4) * 3], grad=False)
    c("ceil", torch.ceil, lambda: [rn(3, 4) * 3], grad=False)
    c("round", torch.round, lambda: [torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6])], grad=False)
    c("sign", torch.sign, lambda: [torch.tensor([-2.0, 0.0, 3.0, -0.0, 1e-9])], grad=False)
    c("floor_divide", lambda a, b: torch.div(a, b, rounding_mode="floor"), lambda: [rn(3, 4) * 5, away0(4)],
      grad=False)
    cmp_in = lambda: [ints_f(0, 3, 3, 4), ints_f(0, 3, 4)]
    c("eq", torch.eq, cmp_in)
    c("ne", torch.ne, cmp_in)
    c("lt", torch.lt, cmp_in)
    c("le", torch.le, cmp_in)
    c("gt", torch.gt, cmp_in)
    c("ge", torch.ge, cmp_in)
    c("eq_scalar", lambda a: torch.eq(a, 1.0), lambda: [ints_f(0, 3, 3, 4)])
    c("ne_scalar", lambda a: torch.ne(a, 1.0), lambda: [ints_f(0, 3, 3, 4)])
    c("lt_scalar", lambda a: torch.lt(a, 0.5), lambda: [rn(3, 4)])
    c("le_scalar", lambda a: torch.le(a, 1.0), lambda: [ints_f(0, 3, 3, 4)])
    c("gt_scalar", lambda a: torch.gt(a, -0.25), lambda: [rn(3, 4)])
    c("ge_scalar", lambda a: torch.ge(a, 2.0), lambda: [ints_f(0, 3, 3, 4)])
    c("logical_and", torch.logical_and, lambda: [torch.rand(3, 4) > 0.5, torch.rand(4) > 0.5])
    c("logical_or", torch.logical_or, lambda: [torch.rand(3, 4) > 0.5, torch.rand(4) > 0.5])
    c("logical_not", torch.logical_not, lambda: [torch.rand(3, 4) > 0.5])
    c("isnan", torch.isnan, lambda: [torch.tensor([1.0, float("nan"), float("inf"), -2.0])])
    c("where", torch.where, lambda: [torch.rand(3, 4) > 0.5, rn(3, 4), rn(1, 4)])
    c("clamp", lambda a: torch.clamp(a, -0.5, 0.5), lambda: [rn(3, 4)])
    c("clamp_min", lambda a: torch.clamp(a, min=0.1), lambda: [rn(3, 4)])
    c("clamp_max", lambda a: torch.clamp(a, max=-0.1), lambda: [rn(3, 4)])
    c("masked_fill", lambda a, m: a.masked_fill(m, -2.5), lambda: [rn(2, 3, 4), torch.rand(3, 4) > 0.5])
    c("triu", lambda a: torch.triu(a), lambda: [rn(4, 5)])
    c("triu_k1", lambda a: torch.triu(a, 1), lambda: [rn(2, 3, 4)])
    c("tril", lambda a: torch.tril(a), lambda: [rn(4, 5)])
    c("tril_km1", lambda a: torch.tril(a, -1), lambda: [rn(5, 4)])
    c("addcmul", lambda a, b, d: torch.addcmul(a, b, d, value=0.5), lambda: [rn(3, 4), rn(3, 4), rn(4)])
    # Scalars with integer tensors follow PyTorch's type promotion: an integral scalar keeps
    # the tensor's integer dtype, a fractional one (or true division) gives float32.
    iv = lambda: [torch.randint(-9, 10, (3, 4))]
    c("int_sub_scalar", lambda a: a - 1, iv)
    c("int_add_scalar", lambda a: a + 3, lambda: [torch.randint(-9, 10, (3, 4), dtype=torch.int32)])
    c("int_mul_scalar", lambda a: a * 2, iv)
    c("int_mul_scalar_frac", lambda a: a * 2.5, iv)
    c("int_div_scalar", lambda a: a / 2, iv)
    c("int_floor_divide_scalar", lambda a: torch.div(a, 2, rounding_mode="floor"), iv)
    c("int_remainder_scalar", lambda a: torch.remainder(a, 3), iv)
    c("int_pow_scalar", lambda a: a ** 2, iv)
    c("int_rsub_scalar", lambda a: 5 - a, iv)
    c("int_lt_scalar_frac", lambda a: a < 0.5, iv)
    c("int_add_tensor_float", lambda a, b: a + b, lambda: [torch.randint(-9, 10, (3, 4)), rn(4)], grad=False)
    return g


# ---------------------------------------------------------------- reductions

def reduce():
    g = Golden("reduce")
    c = lambda *a, **k: case(g, *a, **k)
    x345 = lambda: [rn(3, 4, 5)]
    c("sum_dim1_keep", lambda a: a.sum(dim=[1], keepdim=True), x345)
    c("sum_dims02", lambda a: a.sum(dim=[0, 2]), x345)
    c("sum_all", lambda a: a.sum(), x345)
    c("mean_dim2", lambda a: a.mean(dim=[-1]), x345)
    c("mean_dims01_keep", lambda a: a.mean(dim=[0, 1], keepdim=True), x345)
    c("mean_all", lambda a: a.mean(), x345)
    c("max_dim1", lambda a: torch.max(a, 1), x345)
    c("max_dim2_keep", lambda a: torch.max(a, 2, keepdim=True), x345)
    c("min_dim0", lambda a: torch.min(a, 0), x345)
    c("min_dim1_keep", lambda a: torch.min(a, -2, keepdim=True), x345)
    c("amax_dims12", lambda a: torch.amax(a, dim=[1, 2]), x345)
    c("amin_dim0_keep", lambda a: torch.amin(a, dim=[0], keepdim=True), x345)
    c("max_all", lambda a: a.max(), x345)
    c("min_all", lambda a: a.min(), x345)
    c("argmax_dim1", lambda a: torch.argmax(a, 1), x345)
    c("argmax_dim2_keep", lambda a: torch.argmax(a, 2, keepdim=True), x345)
    c("argmin_dim0", lambda a: torch.argmin(a, 0), x345)
    c("argmax_all", lambda a: torch.argmax(a), x345)
    c("var_dim1", lambda a: torch.var(a, dim=[1]), x345)
    c("var_dims02_keep", lambda a: torch.var(a, dim=[0, 2], keepdim=True), x345)
    c("var_all", lambda a: torch.var(a), x345)
    c("var_biased_dim2", lambda a: torch.var(a, dim=[2], unbiased=False), x345)
    c("norm2_dim2", lambda a: torch.norm(a, p=2, dim=[-1]), x345)
    c("norm1_dim0_keep", lambda a: torch.norm(a, p=1, dim=[0], keepdim=True), x345)
    c("norm2_all", lambda a: torch.norm(a, p=2), x345)
    c("norm1_all", lambda a: torch.norm(a, p=1), x345)
    c("cumsum_dim1", lambda a: torch.cumsum(a, 1), x345)
    c("cumsum_dim0", lambda a: torch.cumsum(a, 0), x345)
    c("topk3_largest", lambda a: torch.topk(a, 3, dim=-1), x345)
    c("topk2_smallest_dim1", lambda a: torch.topk(a, 2, dim=1, largest=False), x345)
    c("sort_dim1", lambda a: torch.sort(a, dim=1), x345)
    c("sort_desc_dim2", lambda a: torch.sort(a, dim=2, descending=True), x345)
    c("logsumexp_dim1_keep", lambda a: torch.logsumexp(a, dim=[1], keepdim=True), x345)
    c("logsumexp_dims02", lambda a: torch.logsumexp(a, dim=[0, 2]), x345)
    c("prod_dim1", lambda a: torch.prod(a, 1), lambda: [pos(3, 4, 5)])
    c("all_dim1", lambda a: torch.all(a, 1), lambda: [torch.rand(3, 4) > 0.2])
    c("any_all", lambda a: torch.any(a), lambda: [torch.rand(3, 4) > 0.9])
    c("norminf_dim1", lambda a: torch.norm(a, p=float("inf"), dim=[1]), x345)
    # Integer and bool reductions promote as PyTorch does (sum and cumsum give int64).
    c("sum_bool_dim1", lambda a: a.sum(dim=[1]), lambda: [torch.rand(3, 4) > 0.5])
    c("sum_int32_all", lambda a: a.sum(), lambda: [torch.randint(-50, 50, (3, 4), dtype=torch.int32)])
    c("cumsum_int32", lambda a: torch.cumsum(a, 1), lambda: [torch.randint(-50, 50, (3, 4), dtype=torch.int32)])
    c("max_int64_dim0", lambda a: torch.max(a, 0), lambda: [torch.randperm(12).reshape(3, 4)])
    return g


# ---------------------------------------------------------------- views and indexing

def view():
    g = Golden("view")
    c = lambda *a, **k: case(g, *a, **k)
    c("reshape", lambda a: a.reshape(2, 6), lambda: [rn(3, 4)])
    c("reshape_infer", lambda a: a.reshape(-1, 3), lambda: [rn(2, 3, 2)])
    c("reshape_noncontig", lambda a: a.t().reshape(12), lambda: [rn(3, 4)])
    c("view", lambda a: a.view(6, 4), lambda: [rn(2, 3, 4)])
    c("permute", lambda a: a.permute(2, 0, 1), lambda: [rn(2, 3, 4)])
    c("transpose02", lambda a: a.transpose(0, 2), lambda: [rn(2, 3, 4)])
    c("t", lambda a: a.transpose(-2, -1), lambda: [rn(3, 4)])
    c("contiguous", lambda a: a.transpose(0, 1).contiguous(), lambda: [rn(3, 4)])
    c("squeeze_dim1", lambda a: a.squeeze(1), lambda: [rn(3, 1, 4)])
    c("squeeze_all", lambda a: a.squeeze(), lambda: [rn(1, 3, 1, 4)])
    c("unsqueeze1", lambda a: a.unsqueeze(1), lambda: [rn(3, 4)])
    c("unsqueeze_last", lambda a: a.unsqueeze(-1), lambda: [rn(3, 4)])
    c("expand", lambda a: a.expand(3, 4), lambda: [rn(3, 1)])
    c("expand_new_dims", lambda a: a.expand(2, 3, 4), lambda: [rn(4)])
    c("expand_keep", lambda a: a.expand(2, -1, 4), lambda: [rn(1, 3, 1)])
    c("narrow", lambda a: a.narrow(1, 1, 2), lambda: [rn(3, 4)])
    c("slice_step", lambda a: a[:, 1:5:2], lambda: [rn(3, 6)])
    c("select", lambda a: a.select(0, 1), lambda: [rn(3, 4)])
    c("index_select", lambda a, i: torch.index_select(a, 1, i), lambda: [rn(3, 4), torch.tensor([2, 0, 2])])
    c("gather", lambda a, i: torch.gather(a, 1, i), lambda: [rn(3, 5), torch.randint(0, 5, (3, 2))])
    c("scatter", lambda a, i, s: torch.scatter(a, 1, i, s),
      lambda: [rn(3, 5), torch.stack([torch.randperm(5)[:3] for _ in range(3)]), rn(3, 3)])
    c("scatter_add", lambda a, i, s: torch.scatter_add(a, 0, i, s),
      lambda: [rn(4, 3), torch.randint(0, 4, (5, 3)), rn(5, 3)])
    c("index_put", lambda a, i, v: torch.index_put(a, (i,), v), lambda: [rn(5, 3), torch.tensor([4, 0, 2]), rn(3, 3)])
    c("index_put_bool", lambda a, m, v: torch.index_put(a, (m,), v),
      lambda: [rn(6), torch.tensor([True, False, True, True, False, False]), rn(1)])
    c("cat0", lambda a, b: torch.cat([a, b], 0), lambda: [rn(2, 3), rn(4, 3)])
    c("cat1", lambda a, b, d: torch.cat([a, b, d], 1), lambda: [rn(2, 3), rn(2, 1), rn(2, 2)])
    c("cat_last", lambda a, b: torch.cat([a, b], -1), lambda: [rn(2, 3, 2), rn(2, 3, 3)])
    c("stack0", lambda a, b, d: torch.stack([a, b, d], 0), lambda: [rn(2, 3), rn(2, 3), rn(2, 3)])
    c("stack1", lambda a, b: torch.stack([a, b], 1), lambda: [rn(2, 3), rn(2, 3)])
    c("stack_last", lambda a, b: torch.stack([a, b], -1), lambda: [rn(2, 3), rn(2, 3)])
    c("split2_dim1", lambda a: a.split(2, 1), lambda: [rn(3, 5)])
    c("chunk3_dim0", lambda a: a.chunk(3, 0), lambda: [rn(7, 2)])
    c("chunk4_of6", lambda a: a.chunk(4, 0), lambda: [rn(6, 2)])  # PyTorch gives 3 pieces of 2
    c("flip0", lambda a: a.flip(0), lambda: [rn(3, 4)])
    c("flip02", lambda a: a.flip(0, 2), lambda: [rn(2, 3, 4)])
    c("roll1", lambda a: torch.roll(a, [1], [0]), lambda: [rn(3, 4)])
    c("roll2", lambda a: torch.roll(a, [2, -1], [0, 1]), lambda: [rn(3, 4)])
    c("pad_constant", lambda a: F.pad(a, (1, 2), "constant", 0.5), lambda: [rn(2, 3, 4)])
    c("pad_constant4", lambda a: F.pad(a, (1, 0, 2, 1), "constant", 0.0), lambda: [rn(2, 3, 4)])
    c("pad_reflect2d", lambda a: F.pad(a, (2, 1, 1, 2), "reflect"), lambda: [rn(1, 2, 4, 5)])
    c("pad_reflect1d", lambda a: F.pad(a, (2, 3), "reflect"), lambda: [rn(2, 3, 5)])
    c("pad_replicate2d", lambda a: F.pad(a, (1, 2, 2, 1), "replicate"), lambda: [rn(1, 2, 3, 4)])
    c("pad_circular1d", lambda a: F.pad(a, (1, 2), "circular"), lambda: [rn(1, 2, 5)])
    return g


# ---------------------------------------------------------------- linear algebra

def linalg():
    g = Golden("linalg")
    c = lambda *a, **k: case(g, *a, **k)
    c("matmul_2d", torch.matmul, lambda: [rn(3, 4), rn(4, 5)])
    c("matmul_batched", torch.matmul, lambda: [rn(2, 3, 4), rn(4, 5)])
    c("matmul_bcast", torch.matmul, lambda: [rn(2, 1, 3, 4), rn(3, 4, 5)])
    c("matmul_mv", torch.matmul, lambda: [rn(3, 4), rn(4)])
    c("matmul_vm", torch.matmul, lambda: [rn(4), rn(4, 5)])
    c("matmul_dot", torch.matmul, lambda: [rn(4), rn(4)])
    c("bmm", torch.bmm, lambda: [rn(2, 3, 4), rn(2, 4, 5)])
    c("linear_bias", F.linear, lambda: [rn(2, 3, 4), rn(5, 4), rn(5)])
    c("linear_nobias", F.linear, lambda: [rn(3, 4), rn(5, 4)])
    c("baddbmm", lambda i, a, b: torch.baddbmm(i, a, b, beta=0.5, alpha=1.5), lambda: [rn(2, 3, 5), rn(2, 3, 4), rn(2, 4, 5)])
    c("baddbmm_bcast", lambda i, a, b: torch.baddbmm(i, a, b, beta=1.0, alpha=1.0), lambda: [rn(3, 5), rn(2, 3, 4), rn(2, 4, 5)])
    return g


# ---------------------------------------------------------------- nn functions

def sdpa_ref(q, k, v, mask=None, causal=False, scale=None):
    """softmax(Q Kᵀ · scale + mask) V, written out (1.13 has no F.scaled_dot_product_attention)."""
    sc = scale if scale else 1.0 / math.sqrt(q.size(-1))
    a = (q @ k.transpose(-2, -1)) * sc
    L, S = q.size(-2), k.size(-2)
    if causal:
        a = a.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    if mask is not None:
        if mask.dtype == torch.bool:
            a = a.masked_fill(~mask, float("-inf"))
        else:
            a = a + mask
    return torch.softmax(a, -1) @ v


def nn_cases():
    g = Golden("nn")
    c = lambda *a, **k: case(g, *a, **k)
    # convolutions
    c("conv2d", lambda x, w, b: F.conv2d(x, w, b), lambda: [rn(2, 3, 6, 6), rn(4, 3, 3, 3), rn(4)])
    c("conv2d_stride2_pad1", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
      lambda: [rn(2, 3, 6, 6), rn(4, 3, 3, 3), rn(4)])
    c("conv2d_dilation2", lambda x, w: F.conv2d(x, w, None, padding=2, dilation=2),
      lambda: [rn(1, 3, 6, 7), rn(2, 3, 3, 3)])
    c("conv2d_groups3", lambda x, w: F.conv2d(x, w, None, groups=3), lambda: [rn(1, 6, 5, 5), rn(6, 2, 3, 3)])
    c("conv2d_asym", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
      lambda: [rn(1, 2, 7, 6), rn(3, 2, 3, 2), rn(3)])
    c("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
      lambda: [rn(1, 4, 3, 3), rn(4, 2, 3, 3), rn(2)])
    c("conv_transpose2d_groups2", lambda x, w: F.conv_transpose2d(x, w, None, stride=2, output_padding=1, groups=2),
      lambda: [rn(1, 4, 3, 3), rn(4, 3, 3, 3)])
    c("conv_transpose2d_dilation2", lambda x, w, b: F.conv_transpose2d(x, w, b, dilation=2, padding=1),
      lambda: [rn(2, 2, 3, 4), rn(2, 3, 2, 2), rn(3)])
    # pooling
    c("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda: [rn(1, 2, 5, 5)])
    c("max_pool2d_ceil", lambda x: F.max_pool2d(x, 3, stride=2, ceil_mode=True), lambda: [rn(1, 2, 6, 6)])
    c("max_pool2d_pad_dil", lambda x: F.max_pool2d(x, 2, stride=1, padding=1, dilation=2), lambda: [rn(1, 2, 5, 5)])
    c("avg_pool2d_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), lambda: [rn(1, 2, 6, 6)])
    c("avg_pool2d_nopadcount", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
      lambda: [rn(1, 2, 6, 6)])
    c("avg_pool2d_ceil", lambda x: F.avg_pool2d(x, 2, stride=2, ceil_mode=True, count_include_pad=False),
      lambda: [rn(1, 2, 5, 5)])
    c("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda: [rn(1, 2, 7, 5)])
    c("adaptive_avg_pool2d_1", lambda x: F.adaptive_avg_pool2d(x, (1, 1)), lambda: [rn(2, 3, 4, 4)])
    # interpolation
    c("interp_nearest_up", lambda x: F.interpolate(x, size=(6, 8), mode="nearest"), lambda: [rn(1, 2, 3, 4)])
    c("interp_nearest_down", lambda x: F.interpolate(x, size=(3, 4), mode="nearest"), lambda: [rn(1, 2, 6, 7)])
    c("interp_nearest_exact", lambda x: F.interpolate(x, size=(5, 3), mode="nearest-exact"), lambda: [rn(1, 2, 3, 4)])
    for ac in (False, True):
        sfx = "_ac" if ac else ""
        c("interp_bilinear_up" + sfx, lambda x, ac=ac: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=ac),
          lambda: [rn(1, 2, 3, 4)])
        c("interp_bilinear_down" + sfx,
          lambda x, ac=ac: F.interpolate(x, size=(3, 2), mode="bilinear", align_corners=ac), lambda: [rn(1, 2, 6, 5)])
        c("interp_bicubic_up" + sfx, lambda x, ac=ac: F.interpolate(x, size=(6, 7), mode="bicubic", align_corners=ac),
          lambda: [rn(1, 2, 4, 4)])
        c("interp_bicubic_down" + sfx,
          lambda x, ac=ac: F.interpolate(x, size=(3, 4), mode="bicubic", align_corners=ac), lambda: [rn(1, 1, 7, 6)])
    # normalisation
    c("layer_norm", lambda x, w, b: F.layer_norm(x, [4], w, b, 1e-5), lambda: [rn(2, 3, 4), rn(4), rn(4)])
    c("layer_norm_2d", lambda x, w, b: F.layer_norm(x, [3, 4], w, b, 1e-5), lambda: [rn(2, 3, 4), rn(3, 4), rn(3, 4)])
    c("layer_norm_noaffine", lambda x: F.layer_norm(x, [5], None, None, 1e-6), lambda: [rn(3, 5) * 3 + 1])
    c("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b, 1e-5), lambda: [rn(2, 6, 3, 3), rn(6), rn(6)])

    def bn_train(x, w, b, rm, rv):
        y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
        return y, rm, rv

    c("batch_norm_train", bn_train, lambda: [rn(4, 3, 2, 2) * 2 + 1, rn(3), rn(3), rn(3) * 0.1, pos(3)], grad=[0, 1, 2])
    c("batch_norm_train_2d", bn_train, lambda: [rn(6, 4), rn(4), rn(4), torch.zeros(4), torch.ones(4)], grad=[0, 1, 2])

    def bn_train3(x1, x2, x3, w, b, rm, rv):
        F.batch_norm(x1, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
        F.batch_norm(x2, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
        y = F.batch_norm(x3, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
        return y, rm, rv

    c("batch_norm_train3", bn_train3,
      lambda: [rn(4, 3, 2, 2) + 1, rn(4, 3, 2, 2) * 2, rn(4, 3, 2, 2) - 1, rn(3), rn(3), torch.zeros(3), torch.ones(3)],
      grad=[2, 3, 4])
    c("batch_norm_eval", lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False, eps=1e-5),
      lambda: [rn(4, 3, 2, 2), rn(3), rn(3), rn(3) * 0.1, pos(3)], grad=[0, 1, 2])
    c("instance_norm", lambda x, w, b: F.instance_norm(x, None, None, w, b, use_input_stats=True, eps=1e-5),
      lambda: [rn(2, 3, 4, 4) * 2 + 0.5, rn(3), rn(3)])
    # embedding
    c("embedding", lambda w, i: F.embedding(i, w), lambda: [rn(10, 4), torch.tensor([[1, 3, 1], [9, 0, 3]])])
    c("embedding_padding", lambda w, i: F.embedding(i, w, padding_idx=0),
      lambda: [rn(6, 3), torch.tensor([[0, 2, 5], [0, 0, 2]])])
    # softmax
    c("softmax_last", lambda x: torch.softmax(x, -1), lambda: [rn(3, 5) * 2])
    c("softmax_dim0", lambda x: torch.softmax(x, 0), lambda: [rn(3, 5) * 2])
    c("log_softmax_dim1", lambda x: torch.log_softmax(x, 1), lambda: [rn(2, 4, 3) * 2])

    # dropout: the default generator after torch.manual_seed (as F.dropout draws), and a
    # torch.Generator (F.dropout takes none, so the reference is F.dropout's own formula
    # with bernoulli_ drawn from the generator).
    def drop_default(x):
        torch.manual_seed(1234)
        return F.dropout(x, p=0.3, training=True)

    def drop_gen(x):
        gen = torch.Generator().manual_seed(4321)
        noise = torch.empty_like(x).bernoulli_(1 - 0.3, generator=gen)
        return x * (noise / (1 - 0.3))

    c("dropout_default", drop_default, lambda: [rn(4, 8)])
    c("dropout_generator", drop_gen, lambda: [rn(4, 8)])
    c("dropout_eval", lambda x: F.dropout(x, p=0.3, training=False), lambda: [rn(4, 8)])

    # attention
    qkv = lambda: [rn(2, 2, 4, 8), rn(2, 2, 5, 8), rn(2, 2, 5, 6)]
    c("sdpa", lambda q, k, v: sdpa_ref(q, k, v), qkv)
    c("sdpa_causal", lambda q, k, v: sdpa_ref(q, k, v, causal=True), qkv)
    c("sdpa_causal_square", lambda q, k, v: sdpa_ref(q, k, v, causal=True),
      lambda: [rn(1, 2, 5, 4), rn(1, 2, 5, 4), rn(1, 2, 5, 4)])

    def bool_mask():
        m = torch.rand(2, 1, 4, 5) > 0.4
        m[..., 0] = True  # every query attends to something
        return m

    c("sdpa_bool_mask", lambda q, k, v, m: sdpa_ref(q, k, v, mask=m), lambda: qkv() + [bool_mask()])
    c("sdpa_float_mask", lambda q, k, v, m: sdpa_ref(q, k, v, mask=m), lambda: qkv() + [rn(4, 5)], grad=[0, 1, 2])
    c("sdpa_scale", lambda q, k, v: sdpa_ref(q, k, v, scale=0.3), qkv)

    def sdpa_dropout(q, k, v):
        # Dropout on the attention weights drawn from a torch.Generator, as F.dropout does.
        gen = torch.Generator().manual_seed(31)
        a = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1)), -1)
        noise = torch.empty_like(a).bernoulli_(1 - 0.25, generator=gen)
        return (a * (noise / (1 - 0.25))) @ v

    c("sdpa_dropout_generator", sdpa_dropout, qkv)
    # losses
    c("bce_logits_mean_posw", lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
      lambda: [rn(4, 3) * 2, torch.rand(4, 3), pos(3)], grad=[0])
    c("bce_logits_sum_weight", lambda x, y, w: F.binary_cross_entropy_with_logits(x, y, weight=w, reduction="sum"),
      lambda: [rn(4, 3) * 2, (torch.rand(4, 3) > 0.5).float(), pos(4, 1)], grad=[0])
    c("bce_logits_none", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
      lambda: [rn(4, 3) * 2, torch.rand(4, 3)], grad=[0])
    c("cross_entropy_ignore", lambda x, t: F.cross_entropy(x, t, ignore_index=-100),
      lambda: [rn(6, 5) * 2, torch.tensor([1, -100, 4, 0, -100, 2])])
    c("cross_entropy_smooth", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
      lambda: [rn(6, 5) * 2, torch.tensor([1, 3, 4, 0, 2, 2])])
    c("cross_entropy_weight_sum", lambda x, t, w: F.cross_entropy(x, t, weight=w, reduction="sum"),
      lambda: [rn(6, 5) * 2, torch.tensor([1, 3, 4, 0, 2, 2]), pos(5)], grad=[0])
    c("cross_entropy_none", lambda x, t: F.cross_entropy(x, t, reduction="none", ignore_index=-100),
      lambda: [rn(4, 3), torch.tensor([2, 0, -100, 1])])
    c("mse_mean", lambda x, y: F.mse_loss(x, y), lambda: [rn(3, 4), rn(3, 4)])
    c("mse_sum", lambda x, y: F.mse_loss(x, y, reduction="sum"), lambda: [rn(3, 4), rn(3, 4)])
    c("mse_none", lambda x, y: F.mse_loss(x, y, reduction="none"), lambda: [rn(3, 4), rn(3, 4)])
    return g


# ---------------------------------------------------------------- random and creation

def random_cases():
    g = Golden("random")
    c = lambda *a, **k: case(g, *a, **k)

    def seeded(fn):
        def f():
            torch.manual_seed(2024)
            return fn()
        return f

    def gen(fn):
        def f():
            gg = torch.Generator().manual_seed(77)
            return fn(gg)
        return f

    c("randn_seed", seeded(lambda: torch.randn(4, 5)), lambda: [])
    c("randn_seed_small", seeded(lambda: torch.randn(3)), lambda: [])
    c("randn_seed_f64", seeded(lambda: torch.randn(2, 9, dtype=torch.float64)), lambda: [])
    c("rand_seed", seeded(lambda: torch.rand(4, 5)), lambda: [])
    c("randint_seed", seeded(lambda: torch.randint(0, 10, (3, 7))), lambda: [])
    c("randn_gen", gen(lambda gg: torch.randn(4, 5, generator=gg)), lambda: [])
    c("randn_gen_twice", gen(lambda gg: (torch.randn(3, 6, generator=gg), torch.randn(7, generator=gg))), lambda: [])
    c("rand_gen", gen(lambda gg: torch.rand(4, 5, generator=gg)), lambda: [])
    c("rand_gen_f64", gen(lambda gg: torch.rand(17, generator=gg, dtype=torch.float64)), lambda: [])
    c("randint_gen", gen(lambda gg: torch.randint(-5, 5, (3, 7), generator=gg)), lambda: [])
    c("uniform_gen", gen(lambda gg: torch.empty(5, 4).uniform_(-2.0, 3.0, generator=gg)), lambda: [])
    c("normal_gen", gen(lambda gg: torch.empty(5, 4).normal_(1.0, 0.5, generator=gg)), lambda: [])
    c("multinomial_norepl", lambda p: torch.multinomial(p, 3, replacement=False, generator=torch.Generator().manual_seed(5)),
      lambda: [torch.softmax(rn(4, 6), -1)], grad=False)
    c("multinomial_repl", lambda p: torch.multinomial(p, 10, replacement=True, generator=torch.Generator().manual_seed(6)),
      lambda: [torch.softmax(rn(4, 6), -1)], grad=False)

    def mn_default(p):
        torch.manual_seed(99)
        return torch.multinomial(p, 4, replacement=True)

    c("multinomial_default", mn_default, lambda: [torch.rand(3, 5) + 0.1], grad=False)
    c("arange_f32", lambda: torch.arange(-1.0, 2.0, 0.25), lambda: [])
    c("arange_i64", lambda: torch.arange(2, 17, 3), lambda: [])
    c("linspace", lambda: torch.linspace(-1.0, 1.0, 7), lambda: [])
    c("linspace_f64", lambda: torch.linspace(0.0, 1.0, 11, dtype=torch.float64), lambda: [])
    c("full", lambda: torch.full((2, 3), 2.5), lambda: [])
    c("full_i32", lambda: torch.full((2, 2), 7, dtype=torch.int32), lambda: [])
    c("one_hot", lambda i: F.one_hot(i, 5), lambda: [torch.tensor([[0, 4, 2], [1, 1, 3]])])
    return g


# ---------------------------------------------------------------- dtypes

def dtype_cases():
    g = Golden("dtype")
    c = lambda *a, **k: case(g, *a, **k)
    bf = lambda *s: torch.randn(*s).bfloat16()
    hf = lambda *s: torch.randn(*s).half()
    c("bf16_matmul", torch.matmul, lambda: [bf(4, 16), bf(16, 5)], grad=False)
    c("bf16_add", torch.add, lambda: [bf(3, 4), bf(4)], grad=False)
    c("bf16_mul", torch.mul, lambda: [bf(3, 4), bf(3, 4)], grad=False)
    c("bf16_softmax", lambda x: torch.softmax(x, -1), lambda: [bf(3, 8)], grad=False)
    c("bf16_matmul_grad", torch.matmul, lambda: [bf(3, 8), bf(8, 4)])
    c("f16_add", torch.add, lambda: [hf(3, 4), hf(4)], grad=False)
    c("f16_mul", torch.mul, lambda: [hf(3, 4), hf(3, 4)], grad=False)
    c("f16_div", torch.div, lambda: [hf(3, 4), hf(3, 4).abs() + 0.5], grad=False)
    c("f16_sum_dim1", lambda x: x.sum(dim=[1]), lambda: [hf(3, 8)], grad=False)
    c("bf16_exp", torch.exp, lambda: [bf(3, 4)], grad=False)
    # float16 matmul is not implemented on the CPU in libtorch 1.13 ("addmm_impl_cpu_" not
    # implemented for 'Half'); the Go test checks that it fails with ErrDType there.
    c("cast_f32_bf16", lambda x: x.to(torch.bfloat16), lambda: [rn(3, 5)], grad=False)
    c("cast_f32_f16", lambda x: x.to(torch.float16), lambda: [rn(3, 5)], grad=False)
    c("cast_f32_f64", lambda x: x.to(torch.float64), lambda: [rn(3, 5)], grad=False)
    c("cast_f64_f32", lambda x: x.to(torch.float32), lambda: [torch.randn(3, 5, dtype=torch.float64)], grad=False)
    c("cast_f32_i64", lambda x: x.to(torch.int64), lambda: [rn(3, 5) * 10], grad=False)
    c("cast_f32_i32", lambda x: x.to(torch.int32), lambda: [rn(3, 5) * 10], grad=False)
    c("cast_f32_u8", lambda x: x.to(torch.uint8), lambda: [torch.rand(3, 5) * 255], grad=False)
    c("cast_f32_bool", lambda x: x.to(torch.bool), lambda: [torch.tensor([0.0, -0.0, 1.0, -2.5, 1e-30, float("nan")])],
      grad=False)
    c("cast_i64_f32", lambda x: x.to(torch.float32), lambda: [torch.randint(-1000, 1000, (3, 5))], grad=False)
    c("cast_bool_f32", lambda x: x.to(torch.float32), lambda: [torch.rand(3, 5) > 0.5], grad=False)
    c("cast_bf16_f32", lambda x: x.to(torch.float32), lambda: [bf(3, 5)], grad=False)
    c("cast_f16_bf16", lambda x: x.to(torch.bfloat16), lambda: [hf(3, 5)], grad=False)
    c("cast_i64_bf16", lambda x: x.to(torch.bfloat16), lambda: [torch.randint(-1000, 1000, (3, 5))], grad=False)
    return g


# ---------------------------------------------------------------- autograd

def autograd_cases():
    g = Golden("autograd")

    # A graph: loss = mean(tanh(x @ w)^2) + 0.01 * sum(exp(x)).
    torch.manual_seed(seed_of("graph"))
    x, w = rn(3, 4), rn(4, 5)
    g.add("graph.x", x)
    g.add("graph.w", w)
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    loss = torch.tanh(x @ w).pow(2).mean() + 0.01 * torch.exp(x).sum()
    loss.backward()
    g.add("graph.loss", loss)
    g.add("graph.grad_x", x.grad)
    g.add("graph.grad_w", w.grad)

    # backward with a gradient: y = x * w + sin(x); y.backward(gy)
    torch.manual_seed(seed_of("backward_with"))
    x, w, gy = rn(3, 4), rn(3, 4), rn(3, 4)
    for k, v in (("x", x), ("w", w), ("gy", gy)):
        g.add("backward_with." + k, v)
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = x * w + torch.sin(x)
    y.backward(gy)
    g.add("backward_with.grad_x", x.grad)
    g.add("backward_with.grad_w", w.grad)

    # accumulation over two backward calls: (2x).sum() then (x^3).sum()
    torch.manual_seed(seed_of("accumulate"))
    x = rn(5)
    g.add("accumulate.x", x)
    x = x.clone().requires_grad_()
    (2 * x).sum().backward()
    g.add("accumulate.grad_first", x.grad)
    (x ** 3).sum().backward()
    g.add("accumulate.grad", x.grad)
    x.grad = None  # what ZeroGrad does: the next backward starts afresh
    (x ** 3).sum().backward()
    g.add("accumulate.grad_cube", x.grad)

    # retain_graph: the same graph backwarded twice accumulates twice
    torch.manual_seed(seed_of("retain"))
    x, gy = rn(5), rn(5)
    g.add("retain.x", x)
    g.add("retain.gy", gy)
    x = x.clone().requires_grad_()
    y = torch.exp(x) * x
    y.backward(gy, retain_graph=True)
    y.backward(gy)
    g.add("retain.grad", x.grad)

    # detach stops the gradient: d/dx sum(detach(x) * x) = x
    torch.manual_seed(seed_of("detach"))
    x = rn(4)
    g.add("detach.x", x)
    x = x.clone().requires_grad_()
    (x.detach() * x * x.detach().exp()).sum().backward()
    g.add("detach.grad", x.grad)

    # clip_grad_norm_ over two parameters with grads g0, g1
    for name, max_norm, norm_type in (("clip_l2", 0.5, 2.0), ("clip_inf", 0.3, float("inf")),
                                      ("clip_noop", 100.0, 2.0), ("clip_l1", 1.0, 1.0)):
        torch.manual_seed(seed_of(name))
        p0, p1, g0, g1 = rn(3, 4), rn(5), rn(3, 4), rn(5)
        for k, v in (("p0", p0), ("p1", p1), ("g0", g0), ("g1", g1)):
            g.add(f"{name}.{k}", v)
        p0, p1 = p0.clone().requires_grad_(), p1.clone().requires_grad_()
        ((p0 * g0).sum() + (p1 * g1).sum()).backward()
        total = torch.nn.utils.clip_grad_norm_([p0, p1], max_norm, norm_type)
        g.add(f"{name}.total", total.to(torch.float64))
        g.add(f"{name}.grad0", p0.grad)
        g.add(f"{name}.grad1", p1.grad)
    return g


# ---------------------------------------------------------------- optimizers

def mlp_forward(p, x):
    h = torch.tanh(F.linear(x, p["W1"], p["b1"]))
    return F.linear(h, p["W2"], p["b2"])


def train(opt_fn, p0, x, y, steps=20, extra=None):
    p = {k: v.clone().requires_grad_() for k, v in p0.items()}
    opt = opt_fn(p)
    losses = []
    for step in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(mlp_forward(p, x), y)
        if extra is not None:
            loss = loss + extra(p, step)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return p, torch.tensor(losses, dtype=torch.float64)


def optim_cases():
    g = Golden("optim")
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
            lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, foreach=False)

    def sgd(nesterov):
        def f(p):
            return torch.optim.SGD(
                [{"params": [p["W1"], p["b1"]]},
                 {"params": [p["W2"], p["b2"]], "lr": 0.02, "weight_decay": 0.0}],
                lr=0.05, momentum=0.9, dampening=0, weight_decay=1e-3, nesterov=nesterov, foreach=False)
        return f

    def sgd_plain(p):
        return torch.optim.SGD(list(p.values()), lr=0.1, foreach=False)

    for name, fn in (("adamw", adamw), ("sgd", sgd(False)), ("sgd_nesterov", sgd(True)), ("sgd_plain", sgd_plain)):
        p, losses = train(fn, mlp, x, y)
        g.add(name + ".losses", losses)
        for k, v in p.items():
            g.add(f"{name}.{k}", v)

    # A parameter that gets its first gradient only at step 5 (0-based): PyTorch keeps a
    # step count per parameter, so W3's bias correction starts from 1 at that step.
    def adamw_late(p):
        return torch.optim.AdamW(list(p.values()), lr=1e-2, weight_decay=1e-2, foreach=False)

    late = dict(mlp)
    late["W3"] = p0["W3"]
    extra = lambda p, step: (F.linear(x, p["W3"]) - y).pow(2).mean() if step >= 5 else torch.zeros(())
    p, losses = train(adamw_late, late, x, y, extra=extra)
    g.add("adamw_late.losses", losses)
    for k, v in p.items():
        g.add(f"adamw_late.{k}", v)

    # LR schedulers: the LR after n scheduler steps, n = 0..30 (float64).
    def lrs(make, n=30, base=0.1):
        prm = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([prm], lr=base)
        sch = make(opt)
        out = [sch.get_last_lr()[0]]
        for _ in range(n):
            opt.step()
            sch.step()
            out.append(sch.get_last_lr()[0])
        return torch.tensor(out, dtype=torch.float64)

    CA = torch.optim.lr_scheduler.CosineAnnealingLR
    g.add("sched.cosine30", lrs(lambda o: CA(o, T_max=30, eta_min=1e-3)))
    g.add("sched.cosine30_nomin", lrs(lambda o: CA(o, T_max=30)))
    g.add("sched.cosine10_over30", lrs(lambda o: CA(o, T_max=10, eta_min=1e-3)))
    g.add("sched.linear10", lrs(lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=10)))
    g.add("sched.linear30", lrs(lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=30)))
    g.meta.update({"sched.base": "0.1", "sched.eta_min": "0.001"})
    return g


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "torch")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for make in (elementwise, reduce, view, linalg, nn_cases, random_cases, dtype_cases, autograd_cases, optim_cases):
        gold = make()
        gold.meta["generator"] = "third_party/golden/torch_ops.py"
        gold.meta["torch"] = torch.__version__
        gold.save(outdir)
        print(f"{gold.name}: {len(gold.t)} tensors")


if __name__ == "__main__":
    main()
