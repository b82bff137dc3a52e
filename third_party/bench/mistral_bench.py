"""Times the Mistral decoder in PyTorch on the CPU at the sizes of prsmed/mistral's
BenchmarkPrefill / BenchmarkDecode (2 threads): a 128-token prompt forward, and greedy
decoding of 32 tokens after a 16-token prompt with a KV cache (transformers-style: keys and
values concatenated per step). Run: /usr/bin/python3 third_party/bench/mistral_bench.py"""
import math
import os
import resource
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
CFGS = {"tiny": dict(v=97, h=64, i=128, l=2, nh=4, kv=2), "100M": dict(v=32000, h=768, i=2048, l=12, nh=12, kv=4)}


def build(c):
    g = torch.Generator().manual_seed(0)
    h, kvd = c["h"], c["kv"] * c["h"] // c["nh"]
    r = lambda *s: torch.randn(*s, generator=g) * 0.02  # noqa: E731
    w = {"emb": r(c["v"], h), "norm": torch.ones(h), "head": r(c["v"], h), "layers": []}
    for _ in range(c["l"]):
        w["layers"].append(dict(n1=torch.ones(h), q=r(h, h), k=r(kvd, h), v=r(kvd, h), o=r(h, h), n2=torch.ones(h),
                                g=r(c["i"], h), u=r(c["i"], h), d=r(h, c["i"])))
    return w


def rms(x, w):
    return w * (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype)


def rot(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], -1)


def forward(c, w, ids, cache, past):
    b, l = ids.shape
    nh, kv, hd = c["nh"], c["kv"], c["h"] // c["nh"]
    x = F.embedding(ids, w["emb"])
    pos = torch.arange(past, past + l)[None].float()
    inv = 1.0 / (1e6 ** (torch.arange(0, hd, 2).float() / hd))
    f = pos[..., None] * inv
    emb = torch.cat([f, f], -1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    for li, p in enumerate(w["layers"]):
        n = rms(x, p["n1"])
        q = F.linear(n, p["q"]).view(b, l, nh, hd).transpose(1, 2)
        k = F.linear(n, p["k"]).view(b, l, kv, hd).transpose(1, 2)
        v = F.linear(n, p["v"]).view(b, l, kv, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if cache[li] is not None:
            k, v = torch.cat([cache[li][0], k], 2), torch.cat([cache[li][1], v], 2)
        cache[li] = (k, v)
        s = k.shape[2]
        k = k[:, :, None].expand(b, kv, nh // kv, s, hd).reshape(b, nh, s, hd)
        v = v[:, :, None].expand(b, kv, nh // kv, s, hd).reshape(b, nh, s, hd)
        a = q @ k.transpose(2, 3) / math.sqrt(hd)
        if l > 1:
            a = a.masked_fill(~torch.ones(l, s, dtype=torch.bool).tril(s - l), torch.finfo(a.dtype).min)
        a = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, l, -1)
        x = x + F.linear(a, p["o"])
        n = rms(x, p["n2"])
        x = x + F.linear(F.silu(F.linear(n, p["g"])) * F.linear(n, p["u"]), p["d"])
    return F.linear(rms(x, w["norm"])[:, -1:], w["head"])


for name, c in CFGS.items():
    w = build(c)
    with torch.no_grad():
        ids = torch.randint(3, 90, (1, 128))
        forward(c, w, ids, [None] * c["l"], 0)
        n, t0, c0 = 5, time.perf_counter(), time.process_time()
        for _ in range(n):
            forward(c, w, ids, [None] * c["l"], 0)
        pre = 128 * n / (time.perf_counter() - t0)
        pre_cpu = (time.process_time() - c0) / n
        n, t0, c0 = 3, time.perf_counter(), time.process_time()
        for _ in range(n):
            cache = [None] * c["l"]
            lg = forward(c, w, torch.randint(3, 90, (1, 16)), cache, 0)
            past = 16
            for _ in range(32):
                nxt = lg[:, -1].argmax(-1, keepdim=True)
                lg = forward(c, w, nxt, cache, past)
                past += 1
        dec = 32 * n / (time.perf_counter() - t0)
        dec_cpu = (time.process_time() - c0) / n
    print(f"pytorch {torch.__version__} threads={torch.get_num_threads()} {name}: prefill {pre:.0f} tokens/s, decode {dec:.1f} tokens/s"
          f" (process CPU per prompt {pre_cpu*1e3:.2f} ms, per generation {dec_cpu*1e3:.2f} ms)")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
