#!/usr/bin/python3
"""Goldens for a tiny Mistral saved in transformers 5's config layout, with head_dim differing
from hidden/heads (as in Mistral-NeMo) and θ = 1e6 given only inside rope_parameters.

Writes testdata/mistral/v5/: config.json (rope_parameters {rope_theta, rope_type}, dtype,
head_dim; no top-level rope_theta), model.safetensors and golden.safetensors (ids, logits,
hidden). The reference forward is mistral_ref.py's (transformers' eager Mistral), with the
query width heads×head_dim instead of hidden. A decoder that ignored rope_parameters (θ =
10000) or head_dim could not reproduce the logits.

Run: /usr/bin/python3 third_party/golden/mistral_v5_ref.py
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402
from mistral_ref import rms, rope, rot  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "mistral", "v5")
CFG = {
    "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "dtype": "float32",
    "eos_token_id": 2, "head_dim": 12, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 48, "max_position_embeddings": 256, "model_type": "mistral", "num_attention_heads": 4,
    "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-05,
    "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "sliding_window": None,
    "tie_word_embeddings": False, "transformers_version": "5.17.0", "use_cache": True, "vocab_size": 37,
}


def weights(seed):
    g = torch.Generator().manual_seed(seed)
    c = CFG
    h, i, v, hd = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["head_dim"]
    qd, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd

    def lin(o, n):
        return torch.randn(o, n, generator=g) / math.sqrt(n)

    sd = {"model.embed_tokens.weight": torch.randn(v, h, generator=g)}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
        sd[p + "self_attn.q_proj.weight"] = lin(qd, h)
        sd[p + "self_attn.k_proj.weight"] = lin(kv, h)
        sd[p + "self_attn.v_proj.weight"] = lin(kv, h)
        sd[p + "self_attn.o_proj.weight"] = lin(h, qd)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
        sd[p + "mlp.gate_proj.weight"] = lin(i, h)
        sd[p + "mlp.up_proj.weight"] = lin(i, h)
        sd[p + "mlp.down_proj.weight"] = lin(h, i)
    sd["model.norm.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
    sd["lm_head.weight"] = lin(v, h)
    return sd


def forward(sd, ids, theta):
    c = CFG
    x = F.embedding(ids, sd["model.embed_tokens.weight"])
    b, l, h = x.shape
    nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    pos = torch.arange(l)[None].expand(b, l)
    cos, sin = rope(pos, hd, theta)
    am = torch.zeros(l, l).masked_fill(~torch.ones(l, l, dtype=torch.bool).tril(), torch.finfo(x.dtype).min)
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
        x = x + F.linear(a.transpose(1, 2).reshape(b, l, nh * hd), sd[p + "self_attn.o_proj.weight"])
        n = rms(x, sd[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        x = x + F.linear(F.silu(F.linear(n, sd[p + "mlp.gate_proj.weight"])) * F.linear(n, sd[p + "mlp.up_proj.weight"]),
                         sd[p + "mlp.down_proj.weight"])
    hid = rms(x, sd["model.norm.weight"], c["rms_norm_eps"])
    return F.linear(hid, sd["lm_head.weight"]), hid


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2, sort_keys=True)
    sd = weights(5)
    stio.save(os.path.join(OUT, "model.safetensors"), sd, {"format": "pt"})
    torch.manual_seed(6)
    ids = torch.randint(3, CFG["vocab_size"], (2, 24))
    with torch.no_grad():
        logits, hid = forward(sd, ids, CFG["rope_parameters"]["rope_theta"])
        wrong, _ = forward(sd, ids, 10000.0)
    rel = ((wrong - logits).abs().max() / logits.abs().max()).item()
    print(f"max relative change of the logits with θ = 10000 instead of 1e6: {rel:.3g}")
    stio.save(os.path.join(OUT, "golden.safetensors"), {"ids": ids, "logits": logits, "hidden": hid},
              {"theta_1e4_rel_change": f"{rel:.3g}"})


if __name__ == "__main__":
    main()
