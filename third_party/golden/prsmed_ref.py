#!/usr/bin/python3
"""PyTorch reference of the tiny PRS-Med (prsmed.Tiny(800)) and the goldens of
prsmed/parity_test.go: one training forward (loss parts, mask logits), its backward and one
optimiser step (clip_grad_norm 1.0, then AdamW).

The model is assembled from the other reference scripts, imported, not copied:
  image_encoder.*                                 TinyViT        (tinyvit_ref.TinyViT)
  model.vision_tower.vision_tower.vision_model.*  CLIP tower     (clip_ref.CLIPVisionModel)
  model.mm_projector.*                            mlp2x_gelu     (clip_ref.Projector)
  model.* / lm_head.weight                        Mistral        (mistral_ref.rms / rope / rot)
  model.layers.N.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight       LoRA, written out below
  fusion.*, decoder.*                             written out below from docs/model.md
and follows the data flow of docs/model.md:
  z_img = TinyViT(sam)                            (BatchNorm in train mode, batch 2)
  img   = projector(CLIP hidden_states[-2] without CLS)
  ids   = [BOS] + sp(chunk before <image>) + [-200] + sp(chunk after) ; answer sp(answer) + [EOS]
          (prompt and answer encoded separately, as llava.Model.Tokens does)
  embeds = embed(pre) ++ img ++ embed(post ++ answer), right-padded with zeros
  labels = -100 except the answer ids and EOS; prompt mask = image, question, template
  hidden, logits = Mistral-with-LoRA(embeds, key padding)  (y = Wx + B(A x)·alpha/r, no dropout)
  mask  = decoder(fusion(z_img, hidden, key padding = not prompt))
  loss  = BCE + Dice + 0.5·CE(next token, answer + EOS)
Every parameter trains except image_encoder.norm_head (Stage2 with TrainBackbone, the tiny
preset's setting); CLIP's last layer and post_layernorm get no gradient (LLaVA reads layer -2).

Weights are drawn from seeds, rounded to bfloat16 (so that the weight file is half the size
and both sides hold exactly the same float32 values) and written as BF16.

Writes testdata/prsmed/:
  config.json            the prsmed.Config settings assumed here (checked against Tiny(800))
  rgb.png, gray.png, mask_rgb.png, mask_gray.png   the two synthetic samples (64×64)
  weights.safetensors    every store tensor of the Go model (BF16; num_batches_tracked I64)
  golden.safetensors
    in.sam (2,3,64,64), in.clip (2,3,48,48), in.masks (2,1,64,64)     preprocessed inputs
    ids.prompt.<i>, ids.answer.<i>       token ids (prompt with -200 and BOS; answer with EOS)
    batch.labels, batch.prompt_mask, batch.attention_mask              the spliced batch
    out.z_img, out.hidden, out.mask_logits
    loss.total, loss.bce, loss.dice, loss.ce
    grad.<name>          gradients of all fusion, decoder, TinyViT, LoRA and projector
                         tensors and of a few CLIP and Mistral base tensors
    grad.rows.ids        the token ids used; grad.rows.<name> rows of the embedding /
                         lm_head gradients at those ids
    grad_norm            the global 2-norm before clipping
    buffer.<name>        BatchNorm running statistics after the forward
    step.<name>          parameters after one AdamW step (lr 1e-3, betas 0.9/0.999, eps 1e-6,
                         weight decay 1e-5 on every parameter), gradients clipped to norm 1.0

Run from anywhere: /usr/bin/python3 third_party/golden/prsmed_ref.py
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_ref  # noqa: E402
import losses_ref  # noqa: E402
import mistral_ref  # noqa: E402
import stio  # noqa: E402
import tinyvit_ref  # noqa: E402

warnings.filterwarnings("ignore", message="Initializing zero-element tensors")

ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "testdata", "prsmed")
TOKENIZER = os.path.join(ROOT, "prsmed", "assets", "template.model")

# prsmed.Tiny(800): keep in step with prsmed/config.go.
VOCAB = 800
TINYVIT = dict(image_size=64, embed_dims=[16, 24, 32, 48], depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 3],
               window_sizes=[4, 4, 4, 4], mlp_ratio=2.0, mbconv_expand=2.0, neck_dim=32, num_classes=0)
CLIP = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_channels=3,
            image_size=48, patch_size=12, layer_norm_eps=1e-5, hidden_act="quick_gelu")
CLIP_SELECT = -2
MISTRAL = dict(hidden=64, inter=128, layers=2, heads=4, kv_heads=2, eps=1e-6, theta=10000.0)
LORA_R, LORA_ALPHA = 8, 8
FUSION = dict(dim=32, text_hidden=64, heads=4, ffn=64)
DECODER = dict(min_channels=8, groups=4)
IMAGE, MASK = 64, 64
LOSS_W = dict(bce=1.0, dice=1.0, ce=0.5)
TEMPLATE = "<image>\n### User: {question} \n### Assistant: \n"
IMAGE_TOKEN_ID, IGNORE = -200, -100
OPT = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=1e-5, clip=1.0)

# The samples (prsmed/parity_test.go holds the same strings).
SAMPLES = [
    ("rgb", "Where is the lesion located in this image?", "The lesion is in the top left of the image."),
    ("gray", "Which region of the scan shows the tumour?", "It sits in the bottom right."),
]


# --------------------------------------------------------------------------- model


class LoRALinear(nn.Module):
    """PEFT's lora.Linear without dropout: y = x Wᵀ + (x Aᵀ) Bᵀ · alpha/r."""

    def __init__(self, din, dout, r, alpha):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dout, din))
        self.lora_A = nn.Linear(din, r, bias=False)
        self.lora_B = nn.Linear(r, dout, bias=False)
        self.scaling = alpha / r

    def forward(self, x):
        return F.linear(x, self.weight) + self.lora_B(self.lora_A(x)) * self.scaling


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return mistral_ref.rms(x, self.weight, self.eps)


class SelfAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, kv = c["hidden"], c["kv_heads"] * c["hidden"] // c["heads"]
        self.q_proj = LoRALinear(h, h, LORA_R, LORA_ALPHA)
        self.k_proj = LoRALinear(h, kv, LORA_R, LORA_ALPHA)
        self.v_proj = LoRALinear(h, kv, LORA_R, LORA_ALPHA)
        self.o_proj = LoRALinear(h, h, LORA_R, LORA_ALPHA)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden"], c["inter"], bias=False)
        self.up_proj = nn.Linear(c["hidden"], c["inter"], bias=False)
        self.down_proj = nn.Linear(c["inter"], c["hidden"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden"], c["eps"])
        self.self_attn = SelfAttn(c)
        self.post_attention_layernorm = RMSNorm(c["hidden"], c["eps"])
        self.mlp = MLP(c)


class VisionTowerWrap(nn.Module):
    """LLaVA's CLIPVisionTower: its CLIPVisionModel sits at .vision_tower."""

    def __init__(self):
        super().__init__()
        self.vision_tower = clip_ref.CLIPVisionModel(CLIP)

    def forward(self, pixels):
        n = CLIP["num_hidden_layers"]
        idx = CLIP_SELECT + n + 1
        states = self.vision_tower.vision_model(pixels, upto=idx)
        return clip_ref.feature_select(states, idx, "patch")


class LLaVAMistral(nn.Module):
    """The `model.` part of LlavaMistralForCausalLM: tower, projector, Mistral body."""

    def __init__(self):
        super().__init__()
        c = MISTRAL
        self.vision_tower = VisionTowerWrap()
        self.mm_projector = clip_ref.Projector(CLIP["hidden_size"], c["hidden"])
        self.embed_tokens = nn.Embedding(VOCAB, c["hidden"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["hidden"], c["eps"])

    def decode(self, x, mask):
        """mistral_ref.forward's decoder loop with LoRA projections; mask (B, L) 1 = real."""
        c = MISTRAL
        b, l, h = x.shape
        nh, nkv = c["heads"], c["kv_heads"]
        hd = h // nh
        pos = torch.arange(l)[None].expand(b, l)
        cos, sin = mistral_ref.rope(pos, hd, c["theta"])
        allowed = torch.ones(l, l, dtype=torch.bool).tril()[None, None] & mask[:, None, None, :].bool()
        am = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, torch.finfo(x.dtype).min)
        rot = mistral_ref.rot
        for ly in self.layers:
            n = ly.input_layernorm(x)
            at = ly.self_attn
            q = at.q_proj(n).view(b, l, nh, hd).transpose(1, 2)
            k = at.k_proj(n).view(b, l, nkv, hd).transpose(1, 2)
            v = at.v_proj(n).view(b, l, nkv, hd).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            rep = nh // nkv
            k = k[:, :, None].expand(b, nkv, rep, l, hd).reshape(b, nh, l, hd)
            v = v[:, :, None].expand(b, nkv, rep, l, hd).reshape(b, nh, l, hd)
            a = q @ k.transpose(2, 3) / math.sqrt(hd) + am
            a = F.softmax(a, dim=-1, dtype=torch.float32).to(q.dtype) @ v
            x = x + at.o_proj(a.transpose(1, 2).reshape(b, l, h))
            x = x + ly.mlp(ly.post_attention_layernorm(x))
        return self.norm(x)


class FFN(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.fc1 = nn.Linear(d, f)
        self.fc2 = nn.Linear(f, d)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class Fusion(nn.Module):
    """docs/model.md, Fusion: text 4096→512→256 (Linear, LayerNorm, ReLU twice); image tokens
    LayerNorm; cross-attention (image queries, text keys/values, key padding); residual +
    LayerNorm; FFN + residual + LayerNorm; back to B×C×H×W; skip connection + z_img."""

    def __init__(self, img_dim, text_dim, c):
        super().__init__()
        d = c["dim"]
        self.prompt_projection = nn.Sequential(nn.Linear(text_dim, c["text_hidden"]), nn.LayerNorm(c["text_hidden"]),
                                               nn.ReLU(), nn.Linear(c["text_hidden"], d), nn.LayerNorm(d), nn.ReLU())
        self.image_norm = nn.LayerNorm(img_dim)
        self.attn = nn.MultiheadAttention(d, c["heads"], batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ffn = FFN(d, c["ffn"])
        self.norm2 = nn.LayerNorm(d)

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
    """docs/model.md, Mask decoder: log2(M/G) stride-2 ConvTranspose2d stages (channels halving to a floor),
    GroupNorm (groups reduced until they divide the channels) and GELU, then a 1×1 conv."""

    def __init__(self, cin, grid, mask, c):
        super().__init__()
        stages, ch, r = [], cin, mask // grid
        while r > 1:
            out = max(ch // 2, c["min_channels"])
            g = c["groups"]
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


class PRSMed(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_encoder = tinyvit_ref.TinyViT(TINYVIT)
        del self.image_encoder.head  # Tiny has num_classes 0: no classifier
        self.model = LLaVAMistral()
        self.lm_head = nn.Linear(MISTRAL["hidden"], VOCAB, bias=False)
        self.fusion = Fusion(TINYVIT["neck_dim"], MISTRAL["hidden"], FUSION)
        self.decoder = Decoder(FUSION["dim"], IMAGE // 16, MASK, DECODER)

    def build(self, pixels, rows):
        """llava.Model.Build: rows are (prompt ids with -200, answer ids)."""
        img = self.model.mm_projector(self.model.vision_tower(pixels))
        n, h = img.shape[1], MISTRAL["hidden"]
        parts = []
        for i, (p, a) in enumerate(rows):
            k = p.index(IMAGE_TOKEN_ID)
            pre, post = p[:k], p[k + 1:] + a
            plen = len(p) - 1 + n
            emb = [self.model.embed_tokens(torch.tensor(pre))] if pre else []
            emb.append(img[i])
            if post:
                emb.append(self.model.embed_tokens(torch.tensor(post)))
            parts.append((torch.cat(emb, 0), plen, len(a)))
        longest = max(e.shape[0] for e, _, _ in parts)
        b = len(rows)
        embeds = []
        mask = torch.zeros(b, longest, dtype=torch.int64)
        labels = torch.full((b, longest), IGNORE, dtype=torch.int64)
        prompt = torch.zeros(b, longest, dtype=torch.bool)
        for i, (e, plen, alen) in enumerate(parts):
            total = e.shape[0]
            if total < longest:
                e = torch.cat([e, torch.zeros(longest - total, h)], 0)
            embeds.append(e)
            mask[i, :total] = 1
            prompt[i, :plen] = True
            labels[i, plen:total] = torch.tensor(rows[i][1])
        return torch.stack(embeds), mask, labels, prompt

    def forward(self, sam, pixels, rows, masks):
        z = self.image_encoder(sam)
        embeds, amask, labels, prompt = self.build(pixels, rows)
        hidden = self.model.decode(embeds, amask)
        logits = self.lm_head(hidden)
        v = logits.shape[-1]
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=IGNORE)
        mask_logits = self.decoder(self.fusion(z, hidden, prompt))
        bce = F.binary_cross_entropy_with_logits(mask_logits, masks)
        dice = losses_ref.dice(mask_logits, masks)
        total = LOSS_W["bce"] * bce + LOSS_W["dice"] * dice + LOSS_W["ce"] * ce
        return dict(z_img=z, hidden=hidden, lm_logits=logits, mask_logits=mask_logits, labels=labels,
                    attention_mask=amask, prompt_mask=prompt, bce=bce, dice=dice, ce=ce, total=total)


def fill(model, seed):
    """Seeded values for every state-dict tensor, rounded to bfloat16. Tensor i of the sorted
    names draws from torch.Generator().manual_seed(seed*1000 + i)."""
    sd = model.state_dict()
    with torch.no_grad():
        for i, name in enumerate(sorted(sd)):
            t = sd[name]
            g = torch.Generator().manual_seed(seed * 1000 + i)
            if name.endswith("num_batches_tracked"):
                t.fill_(3)
                continue
            if name.endswith("running_var"):
                v = torch.rand(t.shape, generator=g) + 0.5
            elif name.endswith("running_mean"):
                v = torch.randn(t.shape, generator=g) * 0.1
            elif name.endswith("attention_biases"):
                v = torch.randn(t.shape, generator=g) * 0.5
            elif name.endswith("embed_tokens.weight"):
                v = torch.randn(t.shape, generator=g)
            elif name.endswith("lora_B.weight"):
                # Non-zero (PEFT starts at 0) so that A gets a gradient; the update is about
                # half the size of the base projection's output.
                v = torch.randn(t.shape, generator=g) * 0.5 / math.sqrt(t.shape[1])
            elif t.dim() == 1 and name.endswith(".weight"):
                v = 1 + 0.1 * torch.randn(t.shape, generator=g)
            elif t.dim() == 1:
                v = 0.1 * torch.randn(t.shape, generator=g)
            else:
                v = torch.randn(t.shape, generator=g) * (t.numel() / t.shape[0]) ** -0.5
            t.copy_(v.to(torch.bfloat16).float())


# --------------------------------------------------------------------------- data


def blob_image(kind):
    """64×64 synthetic image and its 0/255 mask: a textured background with a bright
    ellipse (the lesion)."""
    rng = np.random.default_rng(7 if kind == "rgb" else 8)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    if kind == "rgb":
        cy, cx, ry, rx = 18.0, 20.0, 9.0, 12.0
    else:
        cy, cx, ry, rx = 44.0, 46.0, 11.0, 8.0
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    mask = np.where(inside, 255, 0).astype(np.uint8)
    planes = []
    for c in range(3 if kind == "rgb" else 1):
        base = 70 + 30 * np.sin(xx / (6.0 + c)) * np.cos(yy / (9.0 - c)) + rng.normal(0, 8, size=(64, 64))
        base[inside] = 220 - 15 * c + rng.normal(0, 6, size=inside.sum())
        planes.append(np.clip(np.rint(base), 0, 255).astype(np.uint8))
    img = planes[0] if kind == "gray" else np.stack(planes, -1)
    return img, mask


def tokens(sp, question, answer):
    """llava.Model.Tokens: BOS + chunks around <image> (each encoded alone) joined by -200;
    the answer encoded alone with EOS."""
    text = TEMPLATE.replace("{question}", question.strip())
    prompt = [sp.bos_id()]
    for i, chunk in enumerate(text.split("<image>")):
        if i > 0:
            prompt.append(IMAGE_TOKEN_ID)
        prompt += sp.encode(chunk)
    answer_ids = sp.encode(answer.strip()) + [sp.eos_id()] if answer else []
    return prompt, answer_ids


# --------------------------------------------------------------------------- main


def config_json():
    """The settings this script assumes, under prsmed.Config's JSON names (a subset of what
    prsmed.SaveConfig writes); the Go test checks them against prsmed.Tiny(800)."""
    t, c, m = TINYVIT, CLIP, MISTRAL
    return {
        "image_size": IMAGE, "mask_size": MASK,
        "tinyvit": {"image_size": t["image_size"], "in_chans": 3, "embed_dims": t["embed_dims"], "depths": t["depths"],
                    "num_heads": t["num_heads"], "window_sizes": t["window_sizes"], "mlp_ratio": t["mlp_ratio"],
                    "mbconv_expand": t["mbconv_expand"], "local_conv": 3, "neck_dim": t["neck_dim"],
                    "num_classes": t["num_classes"]},
        "clip": {k: c[k] for k in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                   "num_channels", "image_size", "patch_size", "layer_norm_eps", "hidden_act"]},
        "clip_select_layer": CLIP_SELECT,
        "clip_preprocess": {"Size": c["image_size"], "Pad": True, "Mean": list(clip_ref.CLIP_MEAN),
                            "Std": list(clip_ref.CLIP_STD)},
        "projector": {"Type": "mlp2x_gelu", "InDim": c["hidden_size"], "OutDim": m["hidden"]},
        "mistral": {"vocab_size": VOCAB, "hidden_size": m["hidden"], "intermediate_size": m["inter"],
                    "num_hidden_layers": m["layers"], "num_attention_heads": m["heads"],
                    "num_key_value_heads": m["kv_heads"], "rms_norm_eps": m["eps"], "rope_theta": m["theta"],
                    "sliding_window": None, "tie_word_embeddings": False, "hidden_act": "silu"},
        "lora": {"R": LORA_R, "Alpha": LORA_ALPHA, "Targets": ["q_proj", "k_proj", "v_proj", "o_proj"],
                 "Prefixes": ["model.layers."], "RSLoRA": False},
        "fusion": FUSION, "decoder": DECODER,
        "loss": {"BCE": LOSS_W["bce"], "Dice": LOSS_W["dice"], "CE": LOSS_W["ce"]},
        "template": TEMPLATE, "train_backbone": True,
    }


def main():
    import sentencepiece as spm

    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config_json(), f, indent=1, sort_keys=True)
        f.write("\n")
    sp = spm.SentencePieceProcessor(model_file=TOKENIZER)
    assert sp.get_piece_size() == VOCAB, sp.get_piece_size()

    # Inputs: PNGs, read back and preprocessed as the Go model does.
    sam, clip_px, masks, rows = [], [], [], []
    for kind, q, a in SAMPLES:
        img, mask = blob_image(kind)
        Image.fromarray(img).save(os.path.join(OUT, kind + ".png"), optimize=True)
        Image.fromarray(mask).save(os.path.join(OUT, "mask_" + kind + ".png"), optimize=True)
        im = Image.open(os.path.join(OUT, kind + ".png"))
        arr = np.array(im)
        sam.append(tinyvit_ref.preprocess(arr, IMAGE))
        _, px = clip_ref.clip_preprocess(im, CLIP["image_size"], pad=True)
        clip_px.append(px[None])
        masks.append(torch.from_numpy((mask > 127).astype(np.float32))[None, None])
        rows.append(tokens(sp, q, a))
    sam, clip_px, masks = torch.cat(sam), torch.cat(clip_px), torch.cat(masks)

    model = PRSMed()
    fill(model, 11)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    wfile = {k: (v if v.dtype == torch.int64 else v.to(torch.bfloat16)) for k, v in sd.items()}
    stio.save(os.path.join(OUT, "weights.safetensors"), wfile, {"format": "pt", "script": "third_party/golden/prsmed_ref.py"})

    params = dict(model.named_parameters())
    trainable = []
    for name, p in params.items():
        p.requires_grad_(not name.startswith("image_encoder.norm_head."))
        if p.requires_grad:
            trainable.append(p)
    model.train()
    out = model(sam, clip_px, rows, masks)
    out["total"].backward()

    g = {"in.sam": sam, "in.clip": clip_px, "in.masks": masks}
    for i, (p, a) in enumerate(rows):
        g[f"ids.prompt.{i}"] = torch.tensor(p)
        g[f"ids.answer.{i}"] = torch.tensor(a)
    g["batch.labels"] = out["labels"]
    g["batch.attention_mask"] = out["attention_mask"]
    g["batch.prompt_mask"] = out["prompt_mask"]
    for k in ["z_img", "hidden", "mask_logits"]:
        g["out." + k] = out[k].detach()
    for k in ["total", "bce", "dice", "ce"]:
        g["loss." + k] = out[k].detach()

    def wanted_grad(name):
        if name.startswith(("fusion.", "decoder.", "image_encoder.", "model.mm_projector.")) or ".lora_" in name:
            return True
        return name in {
            "model.vision_tower.vision_tower.vision_model.embeddings.position_embedding.weight",
            "model.vision_tower.vision_tower.vision_model.embeddings.class_embedding",
            "model.vision_tower.vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.weight",
            "model.vision_tower.vision_tower.vision_model.encoder.layers.0.mlp.fc1.bias",
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.1.mlp.down_proj.weight",
            "model.layers.1.post_attention_layernorm.weight",
            "model.norm.weight",
        }

    for name, p in params.items():
        if p.grad is None:
            assert name.startswith(("image_encoder.norm_head.", "model.vision_tower.vision_tower.vision_model.encoder.layers.2.",
                                    "model.vision_tower.vision_tower.vision_model.post_layernorm.")), name
            continue
        if wanted_grad(name):
            g["grad." + name] = p.grad.clone()
    ids = sorted({t for p, a in rows for t in p + a if t >= 0})
    g["grad.rows.ids"] = torch.tensor(ids)
    for name in ["model.embed_tokens.weight", "lm_head.weight"]:
        g["grad.rows." + name] = params[name].grad[ids].clone()
    for name, t in model.state_dict().items():
        if "running_" in name or "num_batches_tracked" in name:
            if name.startswith(("image_encoder.patch_embed.seq.0.", "image_encoder.layers.2.blocks.0.local_conv.",
                                "image_encoder.layers.3.")):
                g["buffer." + name] = t.clone()

    g["grad_norm"] = torch.nn.utils.clip_grad_norm_(trainable, OPT["clip"], 2.0).detach().reshape(())
    opt = torch.optim.AdamW(trainable, lr=OPT["lr"], betas=OPT["betas"], eps=OPT["eps"],
                            weight_decay=OPT["weight_decay"])
    opt.step()
    for name in ["fusion.attn.in_proj_weight", "fusion.prompt_projection.0.weight", "fusion.norm2.bias",
                 "decoder.stages.0.up.weight", "decoder.stages.3.norm.weight", "decoder.out.weight", "decoder.out.bias",
                 "image_encoder.patch_embed.seq.0.c.weight", "image_encoder.layers.0.blocks.0.conv2.bn.weight",
                 "image_encoder.layers.1.blocks.0.attn.qkv.weight", "image_encoder.layers.3.blocks.0.attn.attention_biases",
                 "image_encoder.neck.3.weight",
                 "model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
                 "model.layers.1.self_attn.v_proj.lora_A.weight", "model.layers.1.self_attn.o_proj.lora_B.weight",
                 "model.mm_projector.0.weight",
                 "model.vision_tower.vision_tower.vision_model.encoder.layers.0.self_attn.k_proj.weight",
                 "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"]:
        g["step." + name] = params[name].detach().clone()

    stio.save(os.path.join(OUT, "golden.safetensors"), g,
              {"torch": torch.__version__, "script": "third_party/golden/prsmed_ref.py"})
    print("wrote", OUT)
    print("loss total %.6f bce %.6f dice %.6f ce %.6f grad_norm %.4f" % (
        out["total"].item(), out["bce"].item(), out["dice"].item(), out["ce"].item(), g["grad_norm"].item()))
    print("lengths", out["attention_mask"].sum(1).tolist(), "tensors", len(g))


if __name__ == "__main__":
    main()
