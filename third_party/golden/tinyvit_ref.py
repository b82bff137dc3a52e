"""PyTorch reference of TinySAM's TinyViT image encoder ("vit_t") and the goldens the Go
package prsmed/tinyvit is tested against.

The modules below follow TinySAM's tinysam/modeling/tiny_vit_sam.py (layout, parameter
names, and its particular behaviour: per-head interleaved qkv, |Δ| relative-bias table,
unmasked zero padding of windows, local conv without residual, stride-1 last merge).

Weights are not committed for the full model: every tensor is filled from a seed derived
from its position in the sorted state dict (fill_seeded), which the Go test repeats with
the same libtorch generator, so both sides hold bit-identical weights.

Run: /usr/bin/python3 third_party/golden/tinyvit_ref.py
"""
import itertools
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "tinyvit")


class Conv2dBN(nn.Sequential):
    def __init__(self, a, b, ks=1, stride=1, pad=0, groups=1, bn_weight_init=1.0):
        super().__init__()
        self.add_module("c", nn.Conv2d(a, b, ks, stride, pad, groups=groups, bias=False))
        bn = nn.BatchNorm2d(b)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.constant_(bn.bias, 0)
        self.add_module("bn", bn)


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.seq = nn.Sequential(Conv2dBN(cin, dim // 2, 3, 2, 1), nn.GELU(), Conv2dBN(dim // 2, dim, 3, 2, 1))

    def forward(self, x):
        return self.seq(x)


class MBConv(nn.Module):
    def __init__(self, dim, expand):
        super().__init__()
        hid = int(dim * expand)
        self.conv1 = Conv2dBN(dim, hid, 1)
        self.conv2 = Conv2dBN(hid, hid, 3, 1, 1, groups=hid)
        self.conv3 = Conv2dBN(hid, dim, 1, bn_weight_init=0.0)

    def forward(self, x):
        h = F.gelu(self.conv1(x))
        h = F.gelu(self.conv2(h))
        return F.gelu(self.conv3(h) + x)


class PatchMerging(nn.Module):
    def __init__(self, res, dim, out, stride):
        super().__init__()
        self.res = res
        self.conv1 = Conv2dBN(dim, out, 1)
        self.conv2 = Conv2dBN(out, out, 3, stride, 1, groups=out)
        self.conv3 = Conv2dBN(out, out, 1)

    def forward(self, x):
        if x.ndim == 3:
            h, w = self.res
            x = x.view(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads, win):
        super().__init__()
        self.heads, self.kd = heads, dim // heads
        self.scale = self.kd ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        pts = list(itertools.product(range(win), range(win)))
        offsets, idx = {}, []
        for p1 in pts:
            for p2 in pts:
                off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                offsets.setdefault(off, len(offsets))
                idx.append(offsets[off])
        self.attention_biases = nn.Parameter(torch.zeros(heads, len(offsets)))
        self.register_buffer("attention_bias_idxs", torch.LongTensor(idx).view(len(pts), len(pts)), persistent=False)

    def forward(self, x):
        b, n, _ = x.shape
        x = self.norm(x)
        q, k, v = self.qkv(x).view(b, n, self.heads, -1).split([self.kd, self.kd, self.kd], dim=3)
        q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.attention_biases[:, self.attention_bias_idxs]
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hid):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hid)
        self.fc2 = nn.Linear(hid, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class Block(nn.Module):
    def __init__(self, dim, res, heads, win, mlp_ratio, local):
        super().__init__()
        self.res, self.win = res, win
        self.attn = Attention(dim, heads, win)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = Conv2dBN(dim, dim, local, 1, local // 2, groups=dim)

    def forward(self, x):
        h, w = self.res
        b, l, c = x.shape
        ws = self.win
        if h == ws and w == ws:
            a = self.attn(x)
        else:
            g = x.view(b, h, w, c)
            pb, pr = (ws - h % ws) % ws, (ws - w % ws) % ws
            if pb or pr:
                g = F.pad(g, (0, 0, 0, pr, 0, pb))
            ph, pw = h + pb, w + pr
            nh, nw = ph // ws, pw // ws
            g = g.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
            g = self.attn(g)
            g = g.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
            if pb or pr:
                g = g[:, :h, :w].contiguous()
            a = g.view(b, l, c)
        x = x + a
        m = self.local_conv(x.transpose(1, 2).reshape(b, c, h, w))
        x = m.view(b, c, l).transpose(1, 2)
        return x + self.mlp(x)


class LayerNorm2d(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class Stage(nn.Module):
    def __init__(self, blocks, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.downsample(x) if self.downsample is not None else x


class TinyViT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        s, dims = cfg["image_size"], cfg["embed_dims"]
        self.grid = s // 16
        self.patch_embed = PatchEmbed(3, dims[0])
        pr = s // 4
        layers = []
        for i in range(4):
            res = pr // (2 ** (i - 1 if i == 3 else i))
            down = None
            if i < 3:
                down = PatchMerging((res, res), dims[i], dims[i + 1], 1 if i == 2 else 2)
            if i == 0:
                blocks = [MBConv(dims[0], cfg["mbconv_expand"]) for _ in range(cfg["depths"][0])]
            else:
                blocks = [Block(dims[i], (res, res), cfg["num_heads"][i], cfg["window_sizes"][i], cfg["mlp_ratio"], 3)
                          for _ in range(cfg["depths"][i])]
            layers.append(Stage(blocks, down))
        self.layers = nn.ModuleList(layers)
        self.norm_head = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], cfg["num_classes"])
        nd = cfg["neck_dim"]
        self.neck = nn.Sequential(nn.Conv2d(dims[-1], nd, 1, bias=False), LayerNorm2d(nd),
                                  nn.Conv2d(nd, nd, 3, padding=1, bias=False), LayerNorm2d(nd))

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        b, _, c = x.shape
        x = x.view(b, self.grid, self.grid, c).permute(0, 3, 1, 2)
        return self.neck(x)


VIT_T = dict(image_size=1024, embed_dims=[64, 128, 160, 320], depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10],
             window_sizes=[7, 7, 14, 7], mlp_ratio=4.0, mbconv_expand=4.0, neck_dim=256, num_classes=1000)
SMALL = dict(image_size=128, embed_dims=[8, 16, 24, 32], depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
             window_sizes=[7, 7, 5, 8], mlp_ratio=4.0, mbconv_expand=4.0, neck_dim=16, num_classes=10)


def fill_seeded(model, seed):
    """Fills every state-dict tensor from torch.manual_seed(seed*100000 + i), i its index in
    the sorted names: running_var U(0.5,1.5); running_mean N(0,0.1); attention_biases
    N(0,0.5); 1-d *.weight N(1,0.1); other 1-d N(0,0.1); n-d N(0, 1/fan_in) with fan_in =
    numel/shape[0]; num_batches_tracked 0."""
    sd = model.state_dict()
    with torch.no_grad():
        for i, name in enumerate(sorted(sd)):
            t = sd[name]
            torch.manual_seed(seed * 100000 + i)
            if name.endswith("num_batches_tracked"):
                t.fill_(0)
            elif name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                t.normal_(0, 0.1)
            elif name.endswith("attention_biases"):
                t.normal_(0, 0.5)
            elif t.dim() == 1 and name.endswith(".weight"):
                t.normal_(1.0, 0.1)
            elif t.dim() == 1:
                t.normal_(0, 0.1)
            else:
                t.normal_(0, (t.numel() / t.shape[0]) ** -0.5)


def preprocess(img_u8, size):
    x = torch.from_numpy(img_u8.astype(np.float32) / 255.0)
    if x.ndim == 2:
        x = x[None].expand(3, -1, -1)
    else:
        x = x[..., :3].permute(2, 0, 1)
    x = F.interpolate(x[None].contiguous(), size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def write_png(path, arr):
    from PIL import Image
    Image.fromarray(arr).save(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    out = {}

    # Small config: weights committed as a torch.save file (also tests .pth loading).
    small = TinyViT(SMALL)
    fill_seeded(small, 7)
    torch.save({("image_encoder." + k): v for k, v in small.state_dict().items()},
               os.path.join(OUT, "small_sam.pth"))
    torch.manual_seed(11)
    x = torch.randn(1, 3, 128, 128)
    small.eval()
    with torch.no_grad():
        out["small.eval.in"], out["small.eval.out"] = x, small(x)
    # Train mode, batch 2: batch statistics, running stats updated, gradients.
    small.train()
    torch.manual_seed(12)
    x2 = torch.randn(2, 3, 128, 128).requires_grad_(True)
    y = small(x2)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    out.update({"small.train.in": x2.detach(), "small.train.out": y.detach(), "small.train.gout": g,
                "small.train.grad_in": x2.grad})
    sd = small.state_dict()
    params = dict(small.named_parameters())
    for name in ["patch_embed.seq.0.bn.running_mean", "patch_embed.seq.0.bn.running_var",
                 "layers.2.blocks.1.local_conv.bn.running_var", "layers.0.blocks.0.conv2.bn.num_batches_tracked"]:
        out["small.train.state." + name] = sd[name].clone()
    for name in ["patch_embed.seq.0.c.weight", "layers.1.blocks.0.attn.qkv.weight",
                 "layers.2.blocks.0.attn.attention_biases", "layers.3.blocks.0.mlp.fc2.bias", "neck.3.weight",
                 "layers.2.downsample.conv2.c.weight", "layers.0.blocks.0.conv3.bn.weight"]:
        out["small.train.grad." + name] = params[name].grad.clone()

    # vit_t at 256 and 1024, eval mode, seeded weights (not committed).
    vt = TinyViT(VIT_T)
    fill_seeded(vt, 3)
    vt.eval()
    torch.manual_seed(21)
    x256 = torch.randn(1, 3, 256, 256)
    torch.manual_seed(22)
    x1024 = torch.randn(1, 3, 1024, 1024)
    vt256 = TinyViT(dict(VIT_T, image_size=256))
    vt256.load_state_dict(vt.state_dict())
    vt256.eval()
    with torch.no_grad():
        out["vitt256.out"] = vt256(x256)
        e = vt(x1024)
    out["vitt1024.out.ch0_15"] = e[:, :16].contiguous()
    out["vitt1024.out.chsum"] = e.double().sum(dim=(0, 2, 3))
    out["vitt1024.out.chsumsq"] = (e.double() ** 2).sum(dim=(0, 2, 3))

    # Preprocessing of a non-square RGB and gray image.
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(45, 29), dtype=np.uint8)
    write_png(os.path.join(OUT, "rgb.png"), rgb)
    write_png(os.path.join(OUT, "gray.png"), gray)
    out["pre.rgb64"] = preprocess(rgb, 64)
    out["pre.gray64"] = preprocess(gray, 64)

    stio.save(os.path.join(OUT, "tinyvit.safetensors"), out,
              {"torch": torch.__version__, "script": "third_party/golden/tinyvit_ref.py"})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
