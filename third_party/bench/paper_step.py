#!/usr/bin/env python3
"""The PyTorch + transformers + PEFT side of the paper-size training-step comparison: the
same work as `go run ./examples/benchstep -preset paper`, assembled the way a PyTorch user
would, on random weights, printing one JSON line with the same keys.

    python3 third_party/bench/paper_step.py --device cuda --dtype bfloat16 --batch 2 --steps 20
    python3 third_party/bench/paper_step.py --device cuda --dtype bfloat16 --batch 8 --phases
    python3 third_party/bench/paper_step.py --device cuda --autocast bfloat16 --batch 2
    python3 third_party/bench/paper_step.py --device cuda --configs autocast-bf16:2,bf16:2,f32:2

Needs PyTorch 2.x with transformers and peft (Debian's python3-torch 1.13 has neither; run
it on the GPU machine, in the same job as the Go program, and compare only runs of one job).

The model (shapes of prsmed.Paper()):
  - image encoder: TinyViT vit_t at 1024 with its 256-channel neck (the reference module of
    third_party/golden/tinyvit_ref.py), trained;
  - vision tower: transformers' CLIPVisionModel (ViT-L/14 at 336, SDPA), frozen, the
    patch tokens of the second-to-last layer; projector Linear(1024, 4096)-GELU-Linear(4096,
    4096), frozen;
  - language model: transformers' MistralForCausalLM (Mistral-7B shapes, SDPA), frozen,
    with PEFT LoRA r16 / alpha 16 / dropout 0.05 on q/k/v/o (trained);
  - fusion (text 4096->512->256, cross-attention of the 64x64 image tokens to the prompt,
    FFN) and mask decoder (four stride-2 transposed convolutions 256->16 channels, GroupNorm,
    GELU, 1x1 conv to 1024x1024), as prsmed/fusion.go and prsmed/decoder.go, trained;
  - loss: BCE + Dice on the mask, 0.5 x next-token cross-entropy on the answer tokens;
  - torch.optim.AdamW (its default foreach implementation on CUDA; --fused for fused=True),
    torch.nn.utils.clip_grad_norm_(max_norm=1).
--dtype bfloat16 makes every parameter and input bfloat16 (pure bf16, as the Go program's
-dtype bfloat16); --dtype float32 keeps everything float32; --autocast bfloat16 (or float16)
keeps float32 parameters and runs the step under torch.autocast, as the Go program's
-autocast. --configs times several configurations NAME:BATCH in one process on one model
(built once in float32, cast between configurations), one JSON line each, with the Go
program's names: f32, bf16, autocast-bf16, autocast-f16; third_party/bench/gpu_step_compare.py
runs it and the Go program alternately. predict-f32:N and predict-bf16:N time inference
instead, as the Go program's configurations of those names: one call on N random 1024x1024
images (host preprocessing as LLaVA-Med and TinySAM do it, TinyViT, CLIP, the prompt's
prefill with a KV cache, --answer-tokens greedy tokens with a check for the stop token
after each, fusion and decoder over the prompt's hidden states, sigmoid, resize to the
image, masks to the host); step_s is its latency. The prompt has --prompt-len tokens
(image tokens included; default 597, what the Go program's template gives its question).

--from DIR is not a timing: it runs --steps float32 steps of the model at the sizes of the
config that `examples/benchstep -dump DIR` wrote, from the Go model's initial weights, on its
batch, and prints each step's loss (third_party/bench/step_compare.py compares them with the
Go program's).

Timing: --warmup untimed steps, then --steps steps back to back with one synchronisation
at the end (step_s is the mean); with --phases a synchronisation after the forward pass,
the backward pass, the clipping and the optimizer step of every timed step, and the
medians of the phases.
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import tinyvit_ref  # noqa: E402

IGNORE = -100
IMAGE_SIDE, MASK_SIDE, CLIP_SIDE = 1024, 1024, 336
PATCHES = (CLIP_SIDE // 14) ** 2  # 576 image tokens
LOSS_W = dict(bce=1.0, dice=1.0, ce=0.5)


class FFN(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.fc1 = nn.Linear(d, f)
        self.fc2 = nn.Linear(f, d)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class Fusion(nn.Module):
    """prsmed/fusion.go: text hidden -> 512 -> 256 (Linear, LayerNorm, ReLU twice); image
    tokens LayerNorm; cross-attention with key padding; residual + LayerNorm; FFN + residual
    + LayerNorm; back to B x C x H x W plus the encoder's output."""

    def __init__(self, img_dim=256, text_dim=4096, dim=256, text_hidden=512, heads=8, ffn=512):
        super().__init__()
        self.prompt_projection = nn.Sequential(nn.Linear(text_dim, text_hidden), nn.LayerNorm(text_hidden), nn.ReLU(),
                                               nn.Linear(text_hidden, dim), nn.LayerNorm(dim), nn.ReLU())
        self.image_norm = nn.LayerNorm(img_dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, z, text, keep):
        b, ch, h, w = z.shape
        t = self.prompt_projection(text)
        q = self.image_norm(z.flatten(2).transpose(1, 2))
        a, _ = self.attn(q, t, t, key_padding_mask=~keep, need_weights=False)
        a = self.norm1(q + a)
        a = self.norm2(a + self.ffn(a))
        return a.transpose(1, 2).reshape(b, ch, h, w) + z


class DecoderStage(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        self.norm = nn.GroupNorm(groups, cout, eps=1e-5)

    def forward(self, x):
        return F.gelu(self.norm(self.up(x)))


class Decoder(nn.Module):
    """prsmed/decoder.go: stride-2 transposed convolutions from the 64x64 grid to the mask
    side, channels halving to a floor of 16, GroupNorm(8) and GELU, then a 1x1 conv."""

    def __init__(self, cin=256, grid=64, mask=1024, min_channels=16, groups=8):
        super().__init__()
        stages, ch, r = [], cin, mask // grid
        while r > 1:
            out = max(ch // 2, min_channels)
            g = groups
            while g > 1 and out % g:
                g -= 1
            stages.append(DecoderStage(ch, out, g))
            ch, r = out, r // 2
        self.stages = nn.ModuleList(stages)
        self.out = nn.Conv2d(ch, 1, 1)

    def forward(self, x):
        for s in self.stages:
            x = s(x)
        return self.out(x)


def dice(logits, target):
    b = logits.shape[0]
    p = torch.sigmoid(logits).reshape(b, -1)
    y = target.reshape(b, -1)
    inter = (p * y).sum(1)
    return (1 - (2 * inter + 1) / (p.sum(1) + y.sum(1) + 1)).mean()


def build_transformers(dtype):
    """Mistral-7B and CLIP ViT-L/14-336 from transformers with SDPA attention."""
    from transformers import CLIPVisionConfig, CLIPVisionModel, MistralConfig, MistralForCausalLM

    mcfg = MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, rms_norm_eps=1e-6, rope_theta=10000.0,
                         sliding_window=4096, max_position_embeddings=4096 * 32, hidden_act="silu",
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    vcfg = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                            num_channels=3, image_size=CLIP_SIDE, patch_size=14, layer_norm_eps=1e-5,
                            hidden_act="quick_gelu", projection_dim=768)

    def make(cls, cfg):
        # transformers' spelling of "build with this attention and dtype" moved between
        # versions; try the ones in use, newest first.
        for kw in (dict(attn_implementation="sdpa", dtype=dtype), dict(attn_implementation="sdpa", torch_dtype=dtype)):
            try:
                return cls._from_config(cfg, **kw)
            except TypeError:
                continue
        cfg._attn_implementation = "sdpa"
        return cls(cfg).to(dtype)

    return make(MistralForCausalLM, mcfg), make(CLIPVisionModel, vcfg)


class PaperModel(nn.Module):
    """The paper's shapes by default; --from builds it at the sizes of a dumped Go config."""

    def __init__(self, lm, clip, vit=None, proj=(1024, 4096), fusion=None, decoder=None, select_layer=-2,
                 loss_w=None):
        super().__init__()
        self.image_encoder = tinyvit_ref.TinyViT(dict(vit or tinyvit_ref.VIT_T))
        self.clip = clip
        self.mm_projector = nn.Sequential(nn.Linear(proj[0], proj[1]), nn.GELU(), nn.Linear(proj[1], proj[1]))
        self.lm = lm
        self.fusion = Fusion(**(fusion or {}))
        self.decoder = Decoder(**(decoder or {}))
        self.select_layer = select_layer
        self.loss_w = loss_w or LOSS_W

    def trainable(self):
        """Stage 2: LoRA, TinyViT (without its unused classifier head), fusion, decoder."""
        out = []
        for n, p in self.named_parameters():
            train = ("lora_" in n or n.startswith(("fusion.", "decoder.")) or
                     (n.startswith("image_encoder.") and not n.startswith(("image_encoder.head", "image_encoder.norm_head"))))
            p.requires_grad_(train)
            if train:
                out.append(p)
        return out

    def forward(self, sam, pixels, pre_ids, post_ids, answer_len, masks):
        z = self.image_encoder(sam)
        feats = self.clip(pixels, output_hidden_states=True).hidden_states[self.select_layer][:, 1:]
        img = self.mm_projector(feats)
        emb = self.lm.get_input_embeddings()
        embeds = torch.cat([emb(pre_ids), img, emb(post_ids)], dim=1)
        b, l, _ = embeds.shape
        out = self.lm(inputs_embeds=embeds, attention_mask=torch.ones(b, l, dtype=torch.long, device=embeds.device),
                      output_hidden_states=True, use_cache=False)
        hidden, logits = out.hidden_states[-1], out.logits
        labels = torch.full((b, l), IGNORE, dtype=torch.long, device=embeds.device)
        labels[:, l - answer_len:] = post_ids[:, post_ids.shape[1] - answer_len:]
        v = logits.shape[-1]
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=IGNORE)
        keep = torch.zeros(b, l, dtype=torch.bool, device=embeds.device)
        keep[:, : l - answer_len] = True
        mask_logits = self.decoder(self.fusion(z, hidden, keep))
        bce = F.binary_cross_entropy_with_logits(mask_logits, masks)
        d = dice(mask_logits, masks)
        w = self.loss_w
        return w["bce"] * bce + w["dice"] * d + w["ce"] * ce.to(bce.dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--phases", action="store_true")
    ap.add_argument("--seq", type=int, default=642, help="decoder sequence length (image tokens + text)")
    ap.add_argument("--answer", type=int, default=12, help="answer tokens (the cross-entropy's targets)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--fused", action="store_true", help="torch.optim.AdamW(fused=True) instead of its default")
    ap.add_argument("--autocast", choices=["bfloat16", "float16"], help="run the step under torch.autocast to this dtype")
    ap.add_argument("--answer-tokens", type=int, default=64, help="tokens each prediction generates (predict-*)")
    ap.add_argument("--predict-steps", type=int, default=3, help="timed calls of a predict-* configuration")
    ap.add_argument("--predict-warmup", type=int, default=1, help="untimed calls of a predict-* configuration first")
    ap.add_argument("--prompt-len", type=int, default=PATCHES + 21, help="prompt tokens of a prediction, image tokens included")
    ap.add_argument("--configs", help="time several configurations NAME:BATCH in one process, comma-separated "
                    "(NAME: f32, bf16, autocast-bf16, autocast-f16, predict-f32, predict-bf16); overrides --dtype, "
                    "--autocast and --batch")
    ap.add_argument("--from", dest="from_dir", help="run --steps float32 steps from the config, weights and batch that "
                    "examples/benchstep -dump wrote there, printing each step's loss (see run_from)")
    a = ap.parse_args()
    if a.from_dir:
        print(json.dumps(run_from(a)), flush=True)
        return
    if a.seq < PATCHES + a.answer + 2:
        sys.exit(f"--seq must be at least {PATCHES + a.answer + 2}")
    if a.steps <= 0 or a.predict_steps <= 0 or a.answer_tokens <= 0 or a.warmup < 0 or a.predict_warmup < 0:
        sys.exit("paper_step.py: --steps, --predict-steps and --answer-tokens must be positive, the warm-ups not negative")
    if a.configs:
        try:
            configs = parse_configs(a.configs)
        except ValueError as e:
            sys.exit(f"paper_step.py: {e}")
    else:
        configs = [dict(name="", dtype=DTYPES[a.dtype], autocast=DTYPES.get(a.autocast), batch=a.batch)]
    if any(c["name"].startswith("predict-") for c in configs) and a.prompt_len < PATCHES + 6:
        sys.exit(f"paper_step.py: --prompt-len {a.prompt_len} leaves no room for text beside {PATCHES} image tokens")
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    # One model for every configuration: built in the first configuration's dtype, cast
    # between configurations.
    dtype = configs[0]["dtype"]

    from peft import LoraConfig, get_peft_model

    # torch.device is a context manager (tensors made inside go to it) from PyTorch 2.0.
    with (dev if hasattr(dev, "__enter__") else contextlib.nullcontext()):
        lm, clip = build_transformers(dtype)
        lcfg = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05, bias="none",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        try:
            # Keep the adapter in the model's dtype (pure bf16), as the Go side does.
            lm = get_peft_model(lm, lcfg, autocast_adapter_dtype=False)
        except TypeError:
            lm = get_peft_model(lm, lcfg)
    # The small modules are built on the CPU (tinyvit_ref makes an index buffer with a
    # legacy constructor, which a CUDA device context rejects) and then moved.
    model = PaperModel(lm, clip)
    model.to(device=dev, dtype=dtype)
    model.train()
    for c in configs:
        res = (time_predict if c["name"].startswith("predict-") else time_config)(a, model, lm, dev, c)
        print(json.dumps(res), flush=True)


CONFIGS = {"f32": (torch.float32, None), "bf16": (torch.bfloat16, None),
           "autocast-bf16": (torch.float32, torch.bfloat16), "autocast-f16": (torch.float32, torch.float16),
           "predict-f32": (torch.float32, None), "predict-bf16": (torch.bfloat16, None)}
DTYPES = dict(float32=torch.float32, bfloat16=torch.bfloat16, float16=torch.float16)
NAMES = {v: k for k, v in DTYPES.items()}


def parse_configs(text):
    out = []
    for item in text.split(","):
        name, _, batch = item.strip().partition(":")
        if name not in CONFIGS or not batch.isdigit() or int(batch) <= 0:
            raise ValueError(f"--configs: {item!r} is not NAME:BATCH with NAME f32, bf16, autocast-bf16, "
                             "autocast-f16, predict-f32 or predict-bf16 and a positive batch")
        dt, ac = CONFIGS[name]
        out.append(dict(name=name, dtype=dt, autocast=ac, batch=int(batch)))
    return out


def time_config(a, model, lm, dev, c):
    """Casts the model to c's dtype and times a.steps steps of c after a.warmup untimed
    ones, with a fresh optimizer; returns the JSON line's fields."""
    dtype, b = c["dtype"], c["batch"]
    model.to(dtype=dtype)
    train = model.trainable()
    attn = getattr(lm.config, "_attn_implementation", "?")
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)

    g = torch.Generator(device=dev).manual_seed(a.seed + 1)
    sam = torch.randn(b, 3, IMAGE_SIDE, IMAGE_SIDE, device=dev, generator=g).to(dtype)
    pixels = torch.randn(b, 3, CLIP_SIDE, CLIP_SIDE, device=dev, generator=g).to(dtype)
    masks = (torch.rand(b, 1, MASK_SIDE, MASK_SIDE, device=dev, generator=g) > 0.5).to(dtype)
    text = a.seq - PATCHES
    pre = 5  # BOS and the template's words before the image
    pre_ids = torch.randint(3, 32000, (b, pre), device=dev, generator=g)
    post_ids = torch.randint(3, 32000, (b, text - pre), device=dev, generator=g)

    kw = dict(lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-5)
    opt = torch.optim.AdamW(train, fused=True, **kw) if a.fused else torch.optim.AdamW(train, **kw)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def forward():
        if c["autocast"] is None:
            return model(sam, pixels, pre_ids, post_ids, a.answer, masks)
        with torch.autocast(device_type=dev.type, dtype=c["autocast"]):
            return model(sam, pixels, pre_ids, post_ids, a.answer, masks)

    phases = {k: [] for k in ("forward", "backward", "clip", "optimizer")}
    state = {}

    def step(timed):
        mark = [time.perf_counter()]

        def lap(name):
            if timed and a.phases:
                sync()
                now = time.perf_counter()
                phases[name].append(now - mark[0])
                mark[0] = now

        opt.zero_grad(set_to_none=True)
        loss = forward()
        lap("forward")
        loss.backward()
        lap("backward")
        norm = torch.nn.utils.clip_grad_norm_(train, a.clip)
        lap("clip")
        opt.step()
        lap("optimizer")
        state["loss"], state["norm"] = loss.detach(), norm

    for _ in range(a.warmup):
        step(False)
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step(True)
    sync()
    total = time.perf_counter() - t0

    import peft
    import transformers
    res = dict(
        impl="pytorch+transformers+peft", preset="paper", device=str(dev), dtype=NAMES[train[0].dtype], batch=b,
        seq_len=a.seq, params=sum(p.numel() for p in model.parameters()), trainable=sum(p.numel() for p in train),
        steps=a.steps, step_s=total / a.steps, samples_per_s=b * a.steps / total,
        adamw="fused" if a.fused else "default (foreach on CUDA)", libtorch=torch.__version__,
        transformers=transformers.__version__, peft=peft.__version__, attn=attn,
        loss=float(state["loss"]), grad_norm=float(state["norm"]),
        lora="r16/alpha16/dropout0.05 on q_proj,k_proj,v_proj,o_proj",
    )
    if c["name"]:
        res["config"] = c["name"]
    if c["autocast"] is not None:
        res["autocast"] = NAMES[c["autocast"]]
    if dev.type == "cuda":
        res["card"] = torch.cuda.get_device_name(dev)
        res["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
        res["reserved_gib"] = torch.cuda.memory_reserved(dev) / 2**30
    if a.phases:
        res["phases_median_s"] = {k: statistics.median(v) for k, v in phases.items()}
    del opt
    return res


def go_to_torch_name(name, lora_modules):
    """The PaperModel (PEFT-wrapped) name of a tensor that prsmed-go's store calls name."""
    if name.startswith("model.vision_tower.vision_tower.vision_model."):
        return "clip." + name[len("model.vision_tower.vision_tower.vision_model."):]
    if name.startswith("model.mm_projector."):
        return name[len("model."):]
    if name.startswith(("model.", "lm_head.")):
        for which in ("lora_A", "lora_B"):
            if f".{which}." in name:
                return "lm.base_model.model." + name.replace(f".{which}.weight", f".{which}.default.weight")
        mod, _, leaf = name.rpartition(".")
        if mod in lora_modules:
            return f"lm.base_model.model.{mod}.base_layer.{leaf}"
        return "lm.base_model.model." + name
    return name


def run_from(a):
    """The twin of `examples/benchstep -dump DIR`: builds PaperModel at the sizes of DIR's
    config.json (transformers' MistralForCausalLM and CLIPVisionModel, PEFT LoRA with the
    config's r, alpha, dropout and targets), loads every tensor of DIR/weights.safetensors
    (the Go model's initial weights; a tensor either side lacks is an error), runs a.steps
    training steps (AdamW with the Go program's settings, gradient clipping) on
    DIR/batch.safetensors in float32 on the CPU, and returns each step's loss and the
    parameter counts."""
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import CLIPVisionConfig, CLIPVisionModel, MistralConfig, MistralForCausalLM

    with open(os.path.join(a.from_dir, "config.json")) as f:
        cfg = json.load(f)
    mc, vc, lc = cfg["mistral"], cfg["clip"], cfg["lora"]
    theta = mc["rope_theta"]
    mcfg = MistralConfig(vocab_size=mc["vocab_size"], hidden_size=mc["hidden_size"],
                         intermediate_size=mc["intermediate_size"], num_hidden_layers=mc["num_hidden_layers"],
                         num_attention_heads=mc["num_attention_heads"], num_key_value_heads=mc["num_key_value_heads"],
                         head_dim=mc.get("head_dim") or mc["hidden_size"] // mc["num_attention_heads"],
                         rms_norm_eps=mc["rms_norm_eps"], sliding_window=mc["sliding_window"],
                         max_position_embeddings=mc["max_position_embeddings"], hidden_act=mc["hidden_act"],
                         bos_token_id=mc["bos_token_id"], eos_token_id=mc["eos_token_id"],
                         tie_word_embeddings=mc["tie_word_embeddings"], attention_dropout=0.0)
    if isinstance(getattr(mcfg, "rope_parameters", None), dict):  # transformers 5
        mcfg.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    else:
        mcfg.rope_theta = theta
    vcfg = CLIPVisionConfig(hidden_size=vc["hidden_size"], intermediate_size=vc["intermediate_size"],
                            num_hidden_layers=vc["num_hidden_layers"], num_attention_heads=vc["num_attention_heads"],
                            num_channels=vc["num_channels"], image_size=vc["image_size"], patch_size=vc["patch_size"],
                            layer_norm_eps=vc["layer_norm_eps"], hidden_act=vc["hidden_act"])
    if vc["select_feature"] != "patch" or cfg["projector"]["Type"] != "mlp2x_gelu":
        sys.exit("paper_step.py --from: only the patch features and the mlp2x_gelu projector are built here")
    torch.manual_seed(a.seed)
    lm, clip = MistralForCausalLM(mcfg), CLIPVisionModel(vcfg)
    lm = get_peft_model(lm, LoraConfig(r=lc["R"], lora_alpha=lc["Alpha"], lora_dropout=lc["Dropout"], bias="none",
                                       target_modules=lc["Targets"], use_rslora=lc["RSLoRA"]))
    grid = cfg["image_size"] // 16
    f, d = cfg["fusion"], cfg["decoder"]
    model = PaperModel(lm, clip, vit=cfg["tinyvit"], proj=(cfg["projector"]["InDim"], cfg["projector"]["OutDim"]),
                       fusion=dict(img_dim=cfg["tinyvit"]["neck_dim"], text_dim=mc["hidden_size"], dim=f["dim"],
                                   text_hidden=f["text_hidden"], heads=f["heads"], ffn=f["ffn"]),
                       decoder=dict(cin=f["dim"], grid=grid, mask=cfg["mask_size"], min_channels=d["min_channels"],
                                    groups=d["groups"]),
                       select_layer=cfg["clip_select_layer"],
                       loss_w=dict(bce=cfg["loss"]["BCE"], dice=cfg["loss"]["Dice"], ce=cfg["loss"]["CE"]))

    # The Go model's initial weights, every one of them.
    lora_modules = {n[len("lm.base_model.model."):] for n, m in model.named_modules()
                    if n.startswith("lm.base_model.model.") and hasattr(m, "base_layer")}
    sd = model.state_dict()
    go = load_file(os.path.join(a.from_dir, "weights.safetensors"))
    missing = {k for k, v in sd.items() if v.numel() > 0 and not k.endswith("attention_bias_idxs")}
    unknown = []
    for name, t in go.items():
        k = go_to_torch_name(name, lora_modules)
        if k not in sd:
            if t.numel() == 0:
                continue
            unknown.append(f"{name} (as {k})")
            continue
        if sd[k].shape != t.shape:
            unknown.append(f"{name}: shape {list(t.shape)}, here {list(sd[k].shape)}")
            continue
        with torch.no_grad():
            sd[k].copy_(t)
        missing.discard(k)
    if unknown or missing:
        sys.exit(f"paper_step.py --from: the weights do not line up: {len(unknown)} Go tensors without a place "
                 f"{sorted(unknown)[:8]}, {len(missing)} tensors not in the file {sorted(missing)[:8]}")

    b = load_file(os.path.join(a.from_dir, "batch.safetensors"))
    answer = int(b["answer_len"][0])
    model.train()
    train = model.trainable()
    opt = torch.optim.AdamW(train, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-5, foreach=False)
    losses = []
    for _ in range(a.steps):
        opt.zero_grad(set_to_none=True)
        loss = model(b["sam"], b["clip"], b["pre_ids"], b["post_ids"], answer, b["masks"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(train, a.clip)
        opt.step()
        losses.append(float(loss.detach()))
    import peft
    import transformers
    return dict(impl="pytorch+transformers+peft", losses=losses, trainable=sum(p.numel() for p in train),
                params=sum(p.numel() for p in model.parameters()), libtorch=torch.__version__,
                transformers=transformers.__version__, peft=peft.__version__)


SAM_MEAN, SAM_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def host_preprocess(img, side, mean, std, mode):
    """A square uint8 H x W x 3 image to normalised 1 x 3 x side x side float32 pixels on the
    CPU (TinySAM's resize and ImageNet normalisation; CLIP's bicubic resize and its own
    normalisation: the work of the image processors, without PIL)."""
    x = img.permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(side, side), mode=mode, align_corners=False)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def time_predict(a, model, lm, dev, c):
    """Casts the model to c's dtype and times a.predict_steps prediction calls on c["batch"]
    random images after a.predict_warmup untimed ones; returns the JSON line's fields."""
    dtype, b = c["dtype"], c["batch"]
    model.to(dtype=dtype)
    model.eval()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    cpu = torch.Generator().manual_seed(a.seed)
    images = [torch.randint(0, 256, (IMAGE_SIDE, IMAGE_SIDE, 3), dtype=torch.uint8, generator=cpu) for _ in range(b)]
    g = torch.Generator(device=dev).manual_seed(a.seed + 1)
    pre = 5  # BOS and the template's words before the image
    pre_ids = torch.randint(3, 32000, (b, pre), device=dev, generator=g)
    post_ids = torch.randint(3, 32000, (b, a.prompt_len - PATCHES - pre), device=dev, generator=g)
    eos = 2

    @torch.no_grad()
    def predict():
        sam = torch.cat([host_preprocess(im, IMAGE_SIDE, SAM_MEAN, SAM_STD, "bilinear") for im in images]).to(dev, dtype)
        pixels = torch.cat([host_preprocess(im, CLIP_SIDE, CLIP_MEAN, CLIP_STD, "bicubic") for im in images]).to(dev, dtype)
        z = model.image_encoder(sam)
        feats = model.clip(pixels, output_hidden_states=True).hidden_states[-2][:, 1:]
        emb = lm.get_input_embeddings()
        embeds = torch.cat([emb(pre_ids), model.mm_projector(feats), emb(post_ids)], dim=1)
        out = lm(inputs_embeds=embeds, use_cache=True, output_hidden_states=True)
        hidden, past = out.hidden_states[-1], out.past_key_values
        nxt = out.logits[:, -1].argmax(-1)
        tokens = [nxt]
        for _ in range(a.answer_tokens - 1):
            if bool((nxt == eos).all()):  # a generation loop stops at the stop token
                break
            out = lm(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1)
            tokens.append(nxt)
        answers = torch.stack(tokens, 1).tolist()
        keep = torch.ones(hidden.shape[:2], dtype=torch.bool, device=dev)
        probs = torch.sigmoid(model.decoder(model.fusion(z, hidden, keep)).float())
        masks = F.interpolate(probs, size=(IMAGE_SIDE, IMAGE_SIDE), mode="bilinear", align_corners=False).cpu()
        return answers, masks

    for _ in range(a.predict_warmup):
        predict()
    t0 = time.perf_counter()
    for _ in range(a.predict_steps):
        answers, _ = predict()
    total = time.perf_counter() - t0
    model.train()

    import peft
    import transformers
    res = dict(
        impl="pytorch+transformers+peft", config=c["name"], answer_tokens=len(answers[0]), preset="paper",
        device=str(dev), dtype=NAMES[next(model.parameters()).dtype], batch=b, seq_len=a.prompt_len,
        params=sum(p.numel() for p in model.parameters()), steps=a.predict_steps, step_s=total / a.predict_steps,
        samples_per_s=b * a.predict_steps / total, libtorch=torch.__version__, transformers=transformers.__version__,
        peft=peft.__version__,
    )
    if dev.type == "cuda":
        res["card"] = torch.cuda.get_device_name(dev)
        res["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
        res["reserved_gib"] = torch.cuda.memory_reserved(dev) / 2**30
    return res


if __name__ == "__main__":
    main()
