"""PyTorch reference of the Mistral decoder (following transformers' MistralForCausalLM,
eager attention: rotate-half RoPE, repeat_kv, fp32 RMSNorm, softmax in fp32, additive
dtype-min masks) for a tiny config, and the goldens prsmed/mistral is tested against.
Writes testdata/mistral/: config.json, model.safetensors, a 2-shard safetensors checkpoint
with its index, a 2-shard bf16 pytorch_model-*.bin checkpoint with its index, and
golden.safetensors. Run: /usr/bin/python3 third_party/golden/mistral_ref.py"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "mistral")
CFG = dict(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
           num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, sliding_window=None,
           max_position_embeddings=256, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
           hidden_act="silu", architectures=["MistralForCausalLM"], torch_dtype="float32")


def weights(seed):
    g = torch.Generator().manual_seed(seed)
    h, i, v = CFG["hidden_size"], CFG["intermediate_size"], CFG["vocab_size"]
    kv = CFG["num_key_value_heads"] * h // CFG["num_attention_heads"]
    sd = {"model.embed_tokens.weight": torch.randn(v, h, generator=g)}

    def lin(o, n):
        return torch.randn(o, n, generator=g) / math.sqrt(n)

    for l in range(CFG["num_hidden_layers"]):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
        sd[p + "self_attn.q_proj.weight"] = lin(h, h)
        sd[p + "self_attn.k_proj.weight"] = lin(kv, h)
        sd[p + "self_attn.v_proj.weight"] = lin(kv, h)
        sd[p + "self_attn.o_proj.weight"] = lin(h, h)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
        sd[p + "mlp.gate_proj.weight"] = lin(i, h)
        sd[p + "mlp.up_proj.weight"] = lin(i, h)
        sd[p + "mlp.down_proj.weight"] = lin(h, i)
    sd["model.norm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
    sd["lm_head.weight"] = lin(v, h)
    return sd


def rms(x, w, eps):
    dt = x.dtype
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


def rope(pos, d, theta):
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    f = pos[:, :, None].float() * inv[None, None, :]
    emb = torch.cat([f, f], -1)[:, None]
    return emb.cos(), emb.sin()


def rot(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], -1)


def forward(sd, ids=None, embeds=None, mask=None, pos=None):
    c = CFG
    x = F.embedding(ids, sd["model.embed_tokens.weight"]) if embeds is None else embeds
    b, l, h = x.shape
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = h // nh
    if pos is None:
        pos = torch.arange(l)[None].expand(b, l)
    cos, sin = rope(pos, hd, c["rope_theta"])
    mn = torch.finfo(x.dtype).min
    allowed = torch.ones(l, l, dtype=torch.bool).tril()[None, None]
    if mask is not None:
        allowed = allowed & mask[:, None, None, :].bool()
    am = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, mn)
    for li in range(c["num_hidden_layers"]):
        p = f"model.layers.{li}."
        n = rms(x, sd[p + "input_layernorm.weight"], c["rms_norm_eps"])
        q = F.linear(n, sd[p + "self_attn.q_proj.weight"]).view(b, l, nh, hd).transpose(1, 2)
        k = F.linear(n, sd[p + "self_attn.k_proj.weight"]).view(b, l, nkv, hd).transpose(1, 2)
        v = F.linear(n, sd[p + "self_attn.v_proj.weight"]).view(b, l, nkv, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        rep = nh // nkv
        k = k[:, :, None].expand(b, nkv, rep, l, hd).reshape(b, nh, l, hd)
        v = v[:, :, None].expand(b, nkv, rep, l, hd).reshape(b, nh, l, hd)
        a = q @ k.transpose(2, 3) / math.sqrt(hd) + am
        a = F.softmax(a, dim=-1, dtype=torch.float32).to(q.dtype) @ v
        x = x + F.linear(a.transpose(1, 2).reshape(b, l, h), sd[p + "self_attn.o_proj.weight"])
        n = rms(x, sd[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        x = x + F.linear(F.silu(F.linear(n, sd[p + "mlp.gate_proj.weight"])) * F.linear(n, sd[p + "mlp.up_proj.weight"]),
                         sd[p + "mlp.down_proj.weight"])
    hid = rms(x, sd["model.norm.weight"], c["rms_norm_eps"])
    return F.linear(hid, sd["lm_head.weight"]), hid


def write_index(path, shards, kind):
    wm, total = {}, 0
    for fname, part in shards.items():
        for k, t in part.items():
            wm[k] = fname
            total += t.numel() * t.element_size()
    with open(path, "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    sd = weights(1)
    stio.save(os.path.join(OUT, "model.safetensors"), sd, {"format": "pt"})
    names = sorted(sd)
    half = {"model-00001-of-00002.safetensors": {k: sd[k] for k in names[: len(names) // 2]},
            "model-00002-of-00002.safetensors": {k: sd[k] for k in names[len(names) // 2:]}}
    for fname, part in half.items():
        stio.save(os.path.join(OUT, fname), part, {"format": "pt"})
    write_index(os.path.join(OUT, "model.safetensors.index.json"), half, "st")
    bins = {"pytorch_model-00001-of-00002.bin": {k: sd[k].to(torch.bfloat16) for k in names[::2]},
            "pytorch_model-00002-of-00002.bin": {k: sd[k].to(torch.bfloat16) for k in names[1::2]}}
    os.makedirs(os.path.join(OUT, "bin"), exist_ok=True)
    for fname, part in bins.items():
        torch.save(part, os.path.join(OUT, "bin", fname))
    write_index(os.path.join(OUT, "bin", "pytorch_model.bin.index.json"), bins, "bin")

    out = {}
    torch.manual_seed(2)
    ids = torch.randint(3, CFG["vocab_size"], (2, 7))
    mask = torch.ones(2, 7, dtype=torch.int64)
    mask[1, 4:] = 0
    ids[1, 4:] = 0
    params = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
    logits, hid = forward(params, ids=ids, mask=mask)
    gl, gh = torch.randn_like(logits), torch.randn_like(hid)
    ((logits * gl).sum() + (hid * gh).sum()).backward()
    out.update({"ids": ids, "mask": mask, "logits": logits.detach(), "hidden": hid.detach(), "gout_logits": gl,
                "gout_hidden": gh})
    for k in ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
              "model.layers.1.mlp.down_proj.weight", "model.layers.1.input_layernorm.weight", "lm_head.weight"]:
        out["grad." + k] = params[k].grad.clone()
    # Each row alone equals its row in the padded batch (checked in Go); row 1 alone:
    l1, _ = forward(sd, ids=ids[1:, :4])
    out["logits_row1_alone"] = l1.detach()
    # Embedding input.
    torch.manual_seed(3)
    emb = torch.randn(1, 5, CFG["hidden_size"])
    le, he = forward(sd, embeds=emb)
    out.update({"embeds": emb, "embeds.logits": le.detach(), "embeds.hidden": he.detach()})
    # Greedy generation by recomputing the whole sequence each step.
    seq = ids[:1, :6].clone()
    gen = []
    with torch.no_grad():
        for _ in range(8):
            lg, _ = forward(sd, ids=seq)
            nxt = lg[:, -1].argmax(-1)
            gen.append(int(nxt))
            seq = torch.cat([seq, nxt[:, None]], 1)
    out["greedy.prompt"] = ids[:1, :6]
    out["greedy.tokens"] = torch.tensor(gen)
    stio.save(os.path.join(OUT, "golden.safetensors"), out,
              {"torch": torch.__version__, "script": "third_party/golden/mistral_ref.py"})
    print("wrote", OUT, "greedy", gen)


if __name__ == "__main__":
    main()
