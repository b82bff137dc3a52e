#!/usr/bin/env python3
"""Builds tiny random models with the real transformers and PEFT classes, saves them with
save_pretrained, and writes reference outputs for the Go differential tests
(internal/hfref, run with PRSMED_HF_REFS=<out>).

    python third_party/golden/hf/make_refs.py OUT_DIR

Needs PyTorch 2.x, transformers 5.x and peft (third_party/libtorch/install.sh --torch2).
Everything is float32 on the CPU with fixed seeds; OUT_DIR takes about 1 MB. Layout:

  mistral_v4/   MistralForCausalLM whose config.json is rewritten in transformers 4.x's
                layout (top-level rope_theta, torch_dtype, no head_dim, no rope_parameters)
                and read back with from_pretrained: the references come from the model that
                transformers built from that file
  mistral_v5/   MistralForCausalLM as transformers 5 writes it: rope_parameters
                {rope_type, rope_theta} and an explicit head_dim that differs from
                hidden_size / num_attention_heads
  clip/         CLIPVisionModel
  llava/        LlavaForConditionalGeneration with a Mistral text model (5.x layout) and a
                CLIP vision tower, vision_feature_layer -2, strategy "default"
  lora/         a PEFT LoRA adapter (LoraConfig r/alpha/dropout, q/v/down projections,
                non-zero B) on mistral_v5's base, written by PeftModel.save_pretrained;
                its refs also hold f64.grad.*: the LoRA gradients computed in float64

Each directory holds refs.safetensors (names described in ref_* below) and the model's own
save_pretrained files. Weights are drawn with a larger initializer_range than transformers'
0.02, so that the logits are far from uniform and a wrong RoPE θ, head width or scale moves
them well beyond the tolerance; the greedy tokens are checked to win each step by a margin
that float32 rounding cannot overturn.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

MARGIN = 1e-3  # smallest accepted gap between the best and second-best greedy logit
INIT = 0.15    # initializer_range of the random weights


def save_refs(r, d):
    """Writes r to d/refs.safetensors (each tensor its own contiguous copy)."""
    save_file({k: v.detach().clone().contiguous() for k, v in r.items()}, os.path.join(d, "refs.safetensors"))


def mistral_kwargs(head_dim=None, theta=10000.0):
    kw = dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=64, sliding_window=None,
              tie_word_embeddings=False, initializer_range=INIT, bos_token_id=1, eos_token_id=2,
              rope_parameters={"rope_type": "default", "rope_theta": theta})
    if head_dim is not None:
        kw["head_dim"] = head_dim
    return kw


def batch(seed, vocab):
    """Two rows of token ids (row 1 right-padded from 7 to 5 real tokens), the mask, and
    upstream gradients for logits and hidden states."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    ids[1, 5:] = 0
    return g, ids, mask


def forward_refs(model, ids, mask, g, prefix=""):
    """logits, hidden (after the final norm), and the gradients of
    sum(logits·gout_logits) + sum(hidden·gout_hidden) wrt every parameter that requires one."""
    model.zero_grad(set_to_none=True)
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
    logits, hidden = out.logits, out.hidden_states[-1]
    gl = torch.randn(logits.shape, generator=g)
    gh = torch.randn(hidden.shape, generator=g)
    ((logits * gl).sum() + (hidden * gh).sum()).backward()
    r = {prefix + "ids": ids, prefix + "mask": mask, prefix + "logits": logits.detach(),
         prefix + "hidden": hidden.detach(), prefix + "gout_logits": gl, prefix + "gout_hidden": gh}
    for n, p in model.named_parameters():
        if p.grad is not None:
            r[prefix + "grad." + n] = p.grad.detach().clone()
    return r


def greedy(model, prompts, new_tokens=6, **extra):
    """Greedy generation of each prompt alone (no padding), checked for clear winners.
    Returns a (rows, new_tokens) int64 tensor padded with -1 after an EOS."""
    rows = []
    for p in prompts:
        with torch.no_grad():
            out = model.generate(input_ids=p[None], attention_mask=torch.ones_like(p)[None], max_new_tokens=new_tokens,
                                 do_sample=False, output_scores=True, return_dict_in_generate=True,
                                 pad_token_id=0, **extra)
        seq = out.sequences[0, p.shape[0]:].tolist()
        for s in out.scores:
            top = torch.topk(s[0], 2).values
            if float(top[0] - top[1]) < MARGIN:
                sys.exit(f"make_refs.py: greedy step won by {float(top[0] - top[1]):.2g} < {MARGIN}: pick another seed")
        seq += [-1] * (new_tokens - len(seq))
        rows.append(seq)
    return torch.tensor(rows, dtype=torch.int64)


def to_v4_layout(path):
    """Rewrites a transformers 5 Mistral config.json in the 4.x layout."""
    with open(path) as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    assert rp["rope_type"] == "default"
    c["rope_theta"] = rp["rope_theta"]
    c["torch_dtype"] = c.pop("dtype")
    c.pop("head_dim", None)
    c["transformers_version"] = "4.46.3"
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)


def mistral(out, name, seed, head_dim, theta, v4):
    from transformers import MistralConfig, MistralForCausalLM
    torch.manual_seed(seed)
    d = os.path.join(out, name)
    MistralForCausalLM(MistralConfig(**mistral_kwargs(head_dim, theta))).save_pretrained(d)
    if v4:
        to_v4_layout(os.path.join(d, "config.json"))
    m = MistralForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    # The file's settings reached the model transformers built.
    got = m.config.rope_parameters["rope_theta"]
    assert got == theta, (got, theta)
    assert m.model.layers[0].self_attn.head_dim == (head_dim or 32 // 4)
    g, ids, mask = batch(seed + 1, 96)
    r = forward_refs(m, ids, mask, g)
    r["greedy"] = greedy(m, [ids[0], ids[1, :5]])
    save_refs(r, d)
    return d


def clip(out, seed):
    from transformers import CLIPVisionConfig, CLIPVisionModel
    torch.manual_seed(seed)
    d = os.path.join(out, "clip")
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                           num_channels=3, image_size=32, patch_size=8, layer_norm_eps=1e-5, hidden_act="quick_gelu",
                           projection_dim=16, initializer_range=INIT, initializer_factor=4.0)
    CLIPVisionModel(cfg).save_pretrained(d)
    m = CLIPVisionModel.from_pretrained(d, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(seed + 1)
    px = torch.randn(2, 3, 32, 32, generator=g)
    out_ = m(pixel_values=px, output_hidden_states=True)
    hs = out_.hidden_states
    r = {"pixels": px}
    for i, h in enumerate(hs):
        r[f"hidden_states.{i}"] = h.detach()
    r["last_hidden_state"] = out_.last_hidden_state.detach()
    # The gradient of sum(hidden_states[-2]·gout) (LLaVA's feature layer).
    gout = torch.randn(hs[-2].shape, generator=g)
    (hs[-2] * gout).sum().backward()
    r["gout"] = gout
    for n, p in m.named_parameters():
        if p.grad is not None:
            r["grad." + n] = p.grad.detach().clone()
    save_refs(r, d)


def llava(out, seed):
    from transformers import (CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, MistralConfig)
    torch.manual_seed(seed)
    d = os.path.join(out, "llava")
    image_token = 95
    vc = CLIPVisionConfig(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4,
                          image_size=32, patch_size=8, hidden_act="quick_gelu", projection_dim=16,
                          initializer_range=INIT, initializer_factor=4.0)
    tc = MistralConfig(**mistral_kwargs(head_dim=12, theta=2500.0))
    lc = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=image_token, vision_feature_layer=-2,
                     vision_feature_select_strategy="default", projector_hidden_act="gelu",
                     image_seq_length=16, initializer_range=INIT, tie_word_embeddings=False)
    LlavaForConditionalGeneration(lc).save_pretrained(d)
    m = LlavaForConditionalGeneration.from_pretrained(d, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(seed + 1)
    n = (32 // 8) ** 2
    pre = torch.randint(3, 90, (3,), generator=g)
    post = torch.randint(3, 90, (5,), generator=g)
    ids = torch.cat([pre, torch.full((n,), image_token), post])[None]
    px = torch.randn(1, 3, 32, 32, generator=g)
    m.zero_grad(set_to_none=True)
    o = m(input_ids=ids, pixel_values=px, attention_mask=torch.ones_like(ids), output_hidden_states=True,
          use_cache=False)
    logits, hidden = o.logits, o.hidden_states[-1]
    gl, gh = torch.randn(logits.shape, generator=g), torch.randn(hidden.shape, generator=g)
    ((logits * gl).sum() + (hidden * gh).sum()).backward()
    r = {"pre_ids": pre, "post_ids": post, "input_ids": ids, "pixels": px, "logits": logits.detach(),
         "hidden": hidden.detach(), "gout_logits": gl, "gout_hidden": gh,
         "image_features": o.image_hidden_states.detach().reshape(1, n, -1)}
    for name, p in m.named_parameters():
        if p.grad is not None:
            r["grad." + name] = p.grad.detach().clone()
    r["greedy"] = greedy(m, [ids[0]], pixel_values=px)
    save_refs(r, d)


def lora(out, base, seed):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import MistralForCausalLM
    torch.manual_seed(seed)
    d = os.path.join(out, "lora")
    m = MistralForCausalLM.from_pretrained(base, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=12, lora_dropout=0.1, bias="none", task_type="CAUSAL_LM",
                     target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    pm = get_peft_model(m, cfg)
    with torch.no_grad():  # B non-zero, both at the base weights' scale
        for n, p in pm.named_parameters():
            if "lora_" in n:
                p.normal_(0, INIT)
    pm.save_pretrained(d)
    # The references come from the adapter read back by PeftModel.from_pretrained.
    m2 = MistralForCausalLM.from_pretrained(base, dtype=torch.float32)
    pm2 = PeftModel.from_pretrained(m2, d, is_trainable=True).eval()  # eval: dropout off
    g, ids, mask = batch(seed + 1, 96)
    r = forward_refs(pm2, ids, mask, g)
    r = {k.replace("grad.base_model.model.", "grad.").replace(".default.weight", ".weight"): v for k, v in r.items()}
    with torch.no_grad():  # the base alone (from_pretrained injected the adapter into m2)
        plain = MistralForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        r["base_logits"] = plain(input_ids=ids, attention_mask=mask).logits
    moved = float((r["base_logits"] - r["logits"]).abs().max() / r["logits"].abs().max())
    assert moved > 1e-2, f"the adapter moves the logits by only {moved:.2g} of their magnitude"
    r["greedy"] = greedy(pm2, [ids[0], ids[1, :5]])
    # The same gradients in float64: the accuracy that both float32 computations aim at.
    m64 = MistralForCausalLM.from_pretrained(base, dtype=torch.float64)
    pm64 = PeftModel.from_pretrained(m64, d, is_trainable=True).eval().double()
    out = pm64(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
    ((out.logits * r["gout_logits"].double()).sum() + (out.hidden_states[-1] * r["gout_hidden"].double()).sum()).backward()
    for n, p in pm64.named_parameters():
        if p.grad is not None:
            r["f64.grad." + n.replace("base_model.model.", "").replace(".default.weight", ".weight")] = p.grad
    save_refs(r, d)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_refs.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    mistral(out, "mistral_v4", 10, None, 500.0, v4=True)
    base = mistral(out, "mistral_v5", 20, 12, 1234.0, v4=False)
    clip(out, 30)
    llava(out, 40)
    lora(out, base, 50)
    import peft
    import transformers
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__), f)
    print(f"make_refs.py: references in {out} (torch {torch.__version__}, transformers {transformers.__version__}, "
          f"peft {peft.__version__})")


if __name__ == "__main__":
    main()
