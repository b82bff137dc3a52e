"""PyTorch reference of the CLIP vision tower as LLaVA(-Med) uses it, of its mlp2x_gelu
projector and of LLaVA-Med's image preprocessing, and the goldens the Go package
prsmed/clip is tested against.

The modules follow transformers' CLIPVisionModel (modeling_clip.py, 4.36): patch
embedding Conv2d without bias, a class token, learned position embeddings indexed by
position_ids, `pre_layrnorm` (sic), pre-LN encoder layers whose attention multiplies q by
head_dim^-0.5 before q·kᵀ, quick_gelu x·sigmoid(1.702x) in the MLP, and `post_layernorm`
(applied only to the pooled CLS token, so never to hidden_states). `hidden_states[0]` is the
embedding after pre_layrnorm and `hidden_states[k]` the output of layer k-1; LLaVA takes
`hidden_states[-2]` and drops the CLS row ("patch").

Preprocessing follows llava/mm_utils.py (process_images with image_aspect_ratio "pad") and
transformers' CLIPImageProcessor (convert RGB, PIL bicubic resize of the shortest edge, centre
crop, rescale 1/255, normalise), written out here step by step because Debian has no
transformers package: the arithmetic is transformers' (float64 rescale cast to float32,
float32 normalisation). expand2square pastes at (long-short)//2 as upstream LLaVA does
(LLaVA-Med draws the offset at random from {d//2, d//2+1}).

Weights for the tiny config are committed as LLaVA-Med shards name them (the tower under
model.vision_tower.vision_tower.vision_model., the projector, a few language-model tensors);
the Go test derives the standalone CLIP layout (vision_model.*, text_model.*, heads) from it by
renaming. The full ViT-L/14-336 and projector are filled from seeds
(fill_seeded), which the Go test repeats with the same libtorch generator.

Run: /usr/bin/python3 third_party/golden/clip_ref.py
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "clip")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

LLAVA_PREFIX = "model.vision_tower.vision_tower.vision_model."


# --------------------------------------------------------------------------- model


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


ACTS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p, s = c["hidden_size"], c["patch_size"], c["image_size"]
        self.class_embedding = nn.Parameter(torch.randn(d))
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, kernel_size=p, stride=p, bias=False)
        self.num_positions = (s // p) ** 2 + 1
        self.position_embedding = nn.Embedding(self.num_positions, d)
        self.register_buffer("position_ids", torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def forward(self, pixel_values):
        b = pixel_values.shape[0]
        patch = self.patch_embedding(pixel_values.to(dtype=self.patch_embedding.weight.dtype))
        patch = patch.flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(b, 1, -1)
        emb = torch.cat([cls, patch], dim=1)
        return emb + self.position_embedding(self.position_ids)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.d, self.h = c["hidden_size"], c["num_attention_heads"]
        self.hd = self.d // self.h
        self.scale = self.hd ** -0.5
        self.k_proj = nn.Linear(self.d, self.d)
        self.v_proj = nn.Linear(self.d, self.d)
        self.q_proj = nn.Linear(self.d, self.d)
        self.out_proj = nn.Linear(self.d, self.d)

    def _shape(self, t, n, b):
        return t.view(b, n, self.h, self.hd).transpose(1, 2).contiguous()

    def forward(self, x):
        b, n, d = x.shape
        q = self.q_proj(x) * self.scale
        k = self._shape(self.k_proj(x), -1, b)
        v = self._shape(self.v_proj(x), -1, b)
        proj = (b * self.h, -1, self.hd)
        q = self._shape(q, n, b).view(*proj)
        k, v = k.view(*proj), v.view(*proj)
        w = torch.bmm(q, k.transpose(1, 2)).softmax(dim=-1)
        o = torch.bmm(w, v).view(b, self.h, n, self.hd).transpose(1, 2).reshape(b, n, d)
        return self.out_proj(o)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = ACTS[c["hidden_act"]]
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.layer_norm1 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.mlp = MLP(c)
        self.layer_norm2 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c["num_hidden_layers"])])


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, pixel_values, upto=None):
        """Returns hidden_states[0..upto] (all of them when upto is None)."""
        h = self.pre_layrnorm(self.embeddings(pixel_values))
        states = [h]
        n = len(self.encoder.layers) if upto is None else upto
        for layer in self.encoder.layers[:n]:
            h = layer(h)
            states.append(h)
        return states


class CLIPVisionModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vision_model = VisionTransformer(c)


def feature_select(states, select_layer=-2, select_feature="patch"):
    f = states[select_layer]
    return f[:, 1:] if select_feature == "patch" else f


class Projector(nn.Sequential):
    """mlp2x_gelu: Linear, GELU (exact), Linear -> state-dict names 0.* and 2.*."""

    def __init__(self, din, dout):
        super().__init__(nn.Linear(din, dout), nn.GELU(), nn.Linear(dout, dout))


TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_channels=3,
            image_size=28, patch_size=14, layer_norm_eps=1e-5, hidden_act="quick_gelu")
VITL336 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
               num_channels=3, image_size=336, patch_size=14, layer_norm_eps=1e-5, hidden_act="quick_gelu")


RESIZES = [(5, 4), (17, 9), (13, 29), (60, 47), (61, 46), (61, 90), (122, 94), (33, 100), (150, 113), (200, 41)]


def fill_seeded(sd, seed):
    """Fills every tensor of a state dict from torch.manual_seed(seed*100000 + i), i its index
    in the sorted names: 1-d *.weight N(1, 0.1); other 1-d N(0, 0.1); n-d N(0, 1/fan_in)
    with fan_in = numel/shape[0] (the same rule as tinyvit_ref.py)."""
    with torch.no_grad():
        for i, name in enumerate(sorted(sd)):
            t = sd[name]
            torch.manual_seed(seed * 100000 + i)
            if t.dim() == 1 and name.endswith(".weight"):
                t.normal_(1.0, 0.1)
            elif t.dim() == 1:
                t.normal_(0, 0.1)
            else:
                t.normal_(0, (t.numel() / t.shape[0]) ** -0.5)


# --------------------------------------------------------------------------- preprocessing


def expand2square(img, background):
    w, h = img.size
    if w == h:
        return img
    if w > h:
        res = Image.new(img.mode, (w, w), background)
        res.paste(img, (0, (w - h) // 2))
    else:
        res = Image.new(img.mode, (h, h), background)
        res.paste(img, ((h - w) // 2, 0))
    return res


def clip_preprocess(img, size=336, pad=True):
    """LLaVA-Med process_images + CLIPImageProcessor. Returns the uint8 image after resize and
    centre crop (H, W, 3) and the normalised float32 pixels (3, H, W)."""
    if pad:
        if img.mode == "L":
            bg = int(255 * sum(CLIP_MEAN) / len(CLIP_MEAN))
        else:
            bg = tuple(int(x * 255) for x in CLIP_MEAN)
        img = expand2square(img, bg)
    img = img.convert("RGB")  # do_convert_rgb
    arr = np.array(img)
    h, w = arr.shape[:2]
    # get_resize_output_image_size(default_to_square=False): shortest edge to size.
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    oh, ow = (new_long, new_short) if w <= h else (new_short, new_long)
    arr = np.array(Image.fromarray(arr).resize((ow, oh), resample=Image.BICUBIC))
    top, left = (oh - size) // 2, (ow - size) // 2  # center_crop
    arr = arr[top:top + size, left:left + size]
    x = (arr * (1 / 255)).astype(np.float32)  # rescale: float64 product, cast to float32
    x = (x - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(CLIP_STD, dtype=np.float32)
    return arr, torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def test_image(h, w, channels, seed):
    """A smooth gradient with mild noise, a band of hard 0/255 stripes (bicubic overshoot is
    clipped there) and a dark and a bright block."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        base = 127.5 + 100 * np.sin(xx / (17.0 + 5 * c)) * np.cos(yy / (23.0 - 3 * c))
        base += rng.integers(-6, 7, size=(h, w))
        band = (yy > h * 0.6) & (yy < h * 0.75)
        base[band] = np.where((xx[band].astype(int) // (2 + c)) % 2 == 0, 0, 255)
        base[: h // 8, : w // 8] = 3
        base[-h // 8:, -w // 8:] = 252
        planes.append(np.clip(np.rint(base), 0, 255).astype(np.uint8))
    return planes[0] if channels == 1 else np.stack(planes, axis=-1)


# --------------------------------------------------------------------------- main


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    out = {}

    # Tiny tower + projector: weights committed in the LLaVA-Med shard layout.
    torch.manual_seed(0)
    tiny = CLIPVisionModel(TINY)
    proj = Projector(32, 48)
    sd = {LLAVA_PREFIX + k[len("vision_model."):]: v for k, v in tiny.state_dict().items()}
    sd.update({"model.mm_projector." + k: v for k, v in proj.state_dict().items()})
    fill_seeded(sd, 7)  # fills the modules' tensors in place
    llava = dict(sd)
    # A few language-model tensors, as the shards hold them next to the tower.
    llava["model.embed_tokens.weight"] = torch.randn(10, 8)
    llava["model.layers.0.self_attn.q_proj.weight"] = torch.randn(8, 8)
    llava["lm_head.weight"] = torch.randn(10, 8)
    stio.save(os.path.join(OUT, "tiny_llava.safetensors"), llava, {"format": "pt"})
    torch.manual_seed(11)
    x = torch.randn(2, 3, 28, 28)
    vm = tiny.vision_model
    with torch.no_grad():
        states = vm(x)
    assert len(states) == 4
    out["tiny.in"] = x
    for i, h in enumerate(states):
        out[f"tiny.hidden{i}"] = h
    out["tiny.features"] = feature_select(states).contiguous()  # hidden_states[-2], CLS dropped
    out["tiny.features_cls"] = feature_select(states, -2, "cls_patch")
    with torch.no_grad():
        out["tiny.proj"] = proj(out["tiny.features"])

    # Gradients through the tower (only the layers up to the selected one run) and the projector.
    xg = x.clone().requires_grad_(True)
    st = vm(xg, upto=2)  # hidden_states[0..2]: index 2 is hidden_states[-2] of the full tower
    y = proj(feature_select(st, 2))
    torch.manual_seed(12)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    out["tiny.gout"] = g
    out["tiny.grad.input"] = xg.grad
    named = {LLAVA_PREFIX + k[len("vision_model."):]: p for k, p in tiny.named_parameters()}
    named.update({"model.mm_projector." + k: p for k, p in proj.named_parameters()})
    for k in ["embeddings.patch_embedding.weight", "embeddings.class_embedding", "embeddings.position_embedding.weight",
              "pre_layrnorm.weight", "encoder.layers.0.self_attn.q_proj.weight", "encoder.layers.0.self_attn.k_proj.bias",
              "encoder.layers.1.self_attn.out_proj.weight", "encoder.layers.1.mlp.fc1.bias",
              "encoder.layers.1.layer_norm2.weight"]:
        out["tiny.grad." + LLAVA_PREFIX + k] = named[LLAVA_PREFIX + k].grad
    for k in ["model.mm_projector.0.weight", "model.mm_projector.2.bias"]:
        out["tiny.grad." + k] = named[k].grad
    assert named[LLAVA_PREFIX + "encoder.layers.2.mlp.fc1.weight"].grad is None

    # Full ViT-L/14-336 and a 1024->4096->4096 projector with seeded weights (not committed).
    big = CLIPVisionModel(VITL336)
    bproj = Projector(1024, 4096)
    bsd = {LLAVA_PREFIX + k[len("vision_model."):]: v for k, v in big.state_dict().items()}
    bsd.update({"model.mm_projector." + k: v for k, v in bproj.state_dict().items()})
    fill_seeded(bsd, 3)
    big.eval()
    torch.manual_seed(21)
    xb = torch.randn(1, 3, 336, 336)
    t0 = time.time()
    with torch.no_grad():
        fb = feature_select(big.vision_model(xb, upto=23), 23)  # = hidden_states[-2] of 25
        pb = bproj(fb)
    print(f"ViT-L/14-336 (23 layers) + projector forward: {time.time() - t0:.2f} s")
    out["vitl.features.tok0_7"] = fb[:, :8].contiguous()
    out["vitl.features.chsum"] = fb.double().sum(dim=(0, 1))
    out["vitl.features.chsumsq"] = (fb.double() ** 2).sum(dim=(0, 1))
    out["vitl.proj.tok0_1"] = pb[:, :2].contiguous()
    out["vitl.proj.chsum"] = pb.double().sum(dim=(0, 1))

    # Preprocessing: a non-square gray image (wider than tall, downscaled) and a non-square
    # RGB one (taller than wide), with and without the pad to a square.
    gray = test_image(350, 530, 1, 5)
    rgb = test_image(420, 260, 3, 6)
    Image.fromarray(gray).save(os.path.join(OUT, "gray.png"), optimize=True)
    Image.fromarray(rgb).save(os.path.join(OUT, "rgb.png"), optimize=True)
    for name in ["gray", "rgb"]:
        img = Image.open(os.path.join(OUT, name + ".png"))
        assert img.mode == ("L" if name == "gray" else "RGB"), img.mode
        for pad in [True, False]:
            u8, px = clip_preprocess(img, 336, pad)
            tag = f"{name}_{'pad' if pad else 'crop'}"
            im = Image.fromarray(u8[..., 0] if name == "gray" else u8)
            if name == "gray":
                assert (u8[..., 0] == u8[..., 1]).all() and (u8[..., 0] == u8[..., 2]).all()
            im.save(os.path.join(OUT, f"pil_{tag}.png"), optimize=True)
            out[f"pre.{tag}.rows0_3"] = px[:, :4].contiguous()
            out[f"pre.{tag}.chsum"] = px.double().sum(dim=(1, 2))

    # PIL bicubic resizes of a small noisy RGB image to sizes up and down (down to 1/12,
    # where the antialiasing support spans 51 taps), one axis at a time and both.
    src = np.random.default_rng(9).integers(0, 256, size=(47, 61, 3), dtype=np.uint8)
    src[20:30, 10:40] = 255
    src[30:35, 10:40] = 0
    out["resize.src"] = torch.from_numpy(src)
    for w, h in RESIZES:
        out[f"resize.{w}x{h}"] = torch.from_numpy(np.array(Image.fromarray(src).resize((w, h), resample=Image.BICUBIC)))

    for k, v in out.items():
        assert v is not None, k
    stio.save(os.path.join(OUT, "clip.safetensors"), out,
              {"torch": torch.__version__, "script": "third_party/golden/clip_ref.py"})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
