#!/usr/bin/python3
"""Writes the goldens of package nn from PyTorch (Debian's python3-torch 1.13).

Run: /usr/bin/python3 third_party/golden/nn_ref.py

testdata/nn/layers.safetensors
    one case per layer configuration, named "<case>.<what>":
      <case>.sd.<param>      the layer's state dict (loaded into the Go store with Prefix)
      <case>.in<i>           inputs; <case>.gout the upstream gradient of the output
      <case>.out             the output; <case>.grad.in<i> / <case>.grad.<param> gradients
    References that transformers or segment_anything define (Mistral RMSNorm and rotary,
    eager attention, SAM's LayerNorm2d) are written out below, as those packages define them.
testdata/nn/init.safetensors
    parameters of Linear, Conv2d, ConvTranspose2d, Embedding and MultiheadAttention built in
    that order after torch.manual_seed, and each torch.nn.init initialiser after its own seed.
testdata/nn/model.{pth,safetensors}, sam.pth, bad.pth, model_io.safetensors
    a small nested model's state dict (torch.save and safetensors), the same under
    "image_encoder." inside a bigger state dict, a broken copy (one tensor renamed, one
    removed, one with the wrong shape), and the model's input and eval-mode output.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import stio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "nn")
META = {"torch": torch.__version__, "script": "third_party/golden/nn_ref.py"}


# ---------------------------------------------------------------------------------------
# References from other projects' definitions.


class LayerNorm2d(nn.Module):
    """segment_anything.modeling.common.LayerNorm2d."""

    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        x = self.weight[:, None, None] * x + self.bias[:, None, None]
        return x


class MistralRMSNorm(nn.Module):
    """transformers.models.mistral.modeling_mistral.MistralRMSNorm."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class SamMLP(nn.Module):
    """segment_anything.modeling.mask_decoder.MLP (ReLU between layers)."""

    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


def mistral_cos_sin(dim, theta, position_ids, dtype):
    """transformers' MistralRotaryEmbedding (default rope type, attention_scaling 1)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin)


def repeat_kv(hidden_states, n_rep):
    """transformers' repeat_kv: (B, Hkv, S, D) -> (B, Hkv*n_rep, S, D)."""
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


def hf_mask(b, l, s, dtype, causal, attention_mask):
    """The 4-d additive mask transformers builds for eager attention: 0 where a query may
    see a key, torch.finfo(dtype).min elsewhere; the L queries are the last L positions."""
    min_dtype = torch.finfo(dtype).min
    blocked = torch.zeros(b, 1, l, s, dtype=torch.bool)
    if causal:
        cache_position = torch.arange(s - l, s)
        blocked |= (torch.arange(s)[None, :] > cache_position[:, None])[None, None]
    if attention_mask is not None:
        blocked |= (attention_mask == 0)[:, None, None, :]
    return torch.zeros(b, 1, l, s, dtype=dtype).masked_fill(blocked, min_dtype)


def eager_attention(query, key, value, mask, scaling):
    """transformers' eager_attention_forward (no dropout)."""
    n_rep = query.shape[1] // key.shape[1]
    key_states = repeat_kv(key, n_rep)
    value_states = repeat_kv(value, n_rep)
    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if mask is not None:
        attn_weights = attn_weights + mask[:, :, :, : key_states.shape[-2]]
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    return torch.matmul(attn_weights, value_states)


# ---------------------------------------------------------------------------------------
# Layers.

out = {}


def randomize(module, seed):
    """Gives every floating parameter non-trivial values (so that weight and bias grads
    of norm layers are not hidden by ones and zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g).to(p.dtype) * 0.5 + (1.0 if p.dim() == 1 else 0.0))


def record(case, module, inputs, fn=None, grad=True, out_index=None, extra=None):
    """Runs fn(*inputs) (module(*inputs) by default) and records inputs, state dict,
    output, and (with grad) the gradient of <out, gout> w.r.t. the floating inputs and
    every parameter."""
    fn = fn or module
    for n, t in (module.state_dict().items() if module is not None else []):
        out[f"{case}.sd.{n}"] = t.detach().clone()
    ins = []
    for i, x in enumerate(inputs):
        if isinstance(x, torch.Tensor):
            x = x.detach().clone()
            out[f"{case}.in{i}"] = x.clone()
            if grad and x.is_floating_point():
                x.requires_grad_(True)
        ins.append(x)
    if module is not None:
        module.zero_grad(set_to_none=True)
    y = fn(*ins)
    if out_index is not None:
        y = y[out_index]
    out[f"{case}.out"] = y.detach().clone()
    if grad:
        g = torch.Generator().manual_seed(len(case) * 131 + 7)
        gout = torch.randn(y.shape, generator=g).to(y.dtype)
        out[f"{case}.gout"] = gout
        y.backward(gout)
        for i, x in enumerate(ins):
            if isinstance(x, torch.Tensor) and x.requires_grad:
                out[f"{case}.grad.in{i}"] = x.grad.clone()
        if module is not None:
            for n, p in module.named_parameters():
                if p.grad is not None:
                    out[f"{case}.grad.{n}"] = p.grad.clone()
    for k, v in (extra or {}).items():
        out[f"{case}.{k}"] = v.detach().clone()
    return y


def layers():
    torch.manual_seed(0)
    # Linear.
    for bias in (True, False):
        m = nn.Linear(5, 4, bias=bias)
        record("linear_bias" if bias else "linear_nobias", m, [torch.randn(2, 3, 5)])

    # Conv2d: (name, in, out, k, kwargs, input shape).
    convs = [
        ("conv_basic", 3, 4, 3, dict(), (2, 3, 7, 7)),
        ("conv_stride_pad", 3, 5, 3, dict(stride=2, padding=1), (2, 3, 8, 9)),
        ("conv_dilation", 2, 3, 3, dict(padding=2, dilation=2), (1, 2, 7, 6)),
        ("conv_groups", 4, 6, 3, dict(padding=1, groups=2), (2, 4, 5, 5)),
        ("conv_depthwise_nobias", 4, 4, 3, dict(padding=1, groups=4, bias=False), (1, 4, 5, 6)),
        ("conv_1x1", 4, 2, 1, dict(), (2, 4, 3, 3)),
    ]
    for name, cin, cout, k, kw, shape in convs:
        record(name, nn.Conv2d(cin, cout, k, **kw), [torch.randn(*shape)])
    convts = [
        ("convt_s2_op1", 4, 3, 3, dict(stride=2, padding=1, output_padding=1), (2, 4, 4, 5)),
        ("convt_s2_k2", 4, 2, 2, dict(stride=2), (1, 4, 3, 3)),
        ("convt_groups_nobias", 4, 6, 3, dict(stride=2, groups=2, bias=False), (1, 4, 3, 3)),
    ]
    for name, cin, cout, k, kw, shape in convts:
        record(name, nn.ConvTranspose2d(cin, cout, k, **kw), [torch.randn(*shape)])

    # BatchNorm2d: three training steps, then evaluation.
    bn = nn.BatchNorm2d(3)
    randomize(bn, 1)
    out["bn.sd0.weight"], out["bn.sd0.bias"] = bn.weight.detach().clone(), bn.bias.detach().clone()
    bn.train()
    for step in range(3):
        x = torch.randn(4, 3, 5, 5) * (step + 1) + step
        record(f"bn_train{step}", bn, [x])
    out["bn.running_mean"] = bn.running_mean.clone()
    out["bn.running_var"] = bn.running_var.clone()
    out["bn.num_batches_tracked"] = bn.num_batches_tracked.clone()
    bn.eval()
    record("bn_eval", bn, [torch.randn(2, 3, 4, 4)])

    # LayerNorm over one and two trailing dims.
    ln = nn.LayerNorm(6)
    randomize(ln, 2)
    record("layernorm", ln, [torch.randn(2, 3, 6) * 3 + 1])
    ln2 = nn.LayerNorm((3, 4), eps=1e-6)
    randomize(ln2, 3)
    record("layernorm_2dims", ln2, [torch.randn(2, 3, 4)])

    ln2d = LayerNorm2d(4)
    randomize(ln2d, 4)
    record("layernorm2d", ln2d, [torch.randn(2, 4, 3, 5) * 2 - 1])

    gn = nn.GroupNorm(2, 4)
    randomize(gn, 5)
    record("groupnorm", gn, [torch.randn(2, 4, 3, 3)])

    inorm = nn.InstanceNorm2d(3, affine=True)
    randomize(inorm, 6)
    for mode in ("train", "eval"):
        inorm.train(mode == "train")
        record(f"instancenorm_{mode}", inorm, [torch.randn(2, 3, 4, 5) + 2])

    rms = MistralRMSNorm(8, eps=1e-6)
    randomize(rms, 7)
    record("rmsnorm", rms, [torch.randn(2, 3, 8) * 4])
    rms_bf = MistralRMSNorm(8, eps=1e-6)
    randomize(rms_bf, 8)
    rms_bf = rms_bf.to(torch.bfloat16)
    record("rmsnorm_bf16", rms_bf, [(torch.randn(2, 3, 8) * 4).to(torch.bfloat16)])

    emb = nn.Embedding(10, 4)
    record("embedding", emb, [torch.tensor([[1, 3, 3, 9, 0], [2, 2, 7, 5, 1]])])

    # Dropout: the mask comes from the default generator, seeded just before.
    x = torch.randn(4, 6)
    torch.manual_seed(123)
    record("dropout_functional", None, [x], fn=lambda x: F.dropout(x, p=0.3, training=True))
    torch.manual_seed(123)
    d = nn.Dropout(0.3)
    record("dropout_module", None, [x], fn=d)
    d.eval()
    record("dropout_eval", None, [x], fn=d)

    # Activations.
    x = torch.linspace(-5, 5, 28).reshape(4, 7) + torch.randn(4, 7) * 0.1
    acts = {
        "relu": F.relu,
        "gelu": lambda v: F.gelu(v),
        "gelu_tanh": lambda v: F.gelu(v, approximate="tanh"),
        "quick_gelu": lambda v: v * torch.sigmoid(1.702 * v),  # CLIP's QuickGELU
        "silu": F.silu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }
    for name, fn in acts.items():
        record(f"act_{name}", None, [x], fn=fn)

    mlp = SamMLP(5, 8, 3, 3)
    record("mlp", mlp, [torch.randn(2, 4, 5)])


def mha_cases():
    torch.manual_seed(10)
    e, h = 8, 2
    # (case, batch_first, self attention, key_padding_mask, attn_mask kind, train)
    cases = [
        ("mha_self_bf", True, True, False, None),
        ("mha_self_seqfirst", False, True, False, None),
        ("mha_cross_kpm_seqfirst", False, False, True, None),
        ("mha_cross_kpm_bf", True, False, True, None),
        ("mha_boolmask_bf", True, False, False, "bool"),
        ("mha_floatmask_kpm_seqfirst", False, False, True, "float"),
        ("mha_boolmask_kpm_bf", True, False, True, "bool"),
    ]
    b, l, s = 2, 4, 6
    for name, bf, self_attn, kpm, mask_kind in cases:
        m = nn.MultiheadAttention(e, h, batch_first=bf)
        with torch.no_grad():  # non-zero biases so that their gradients and use show
            m.in_proj_bias.normal_(0, 0.1)
            m.out_proj.bias.normal_(0, 0.1)

        def shape(n):
            return (b, n, e) if bf else (n, b, e)

        q = torch.randn(*shape(l))
        k = q if self_attn else torch.randn(*shape(s))
        v = q if self_attn else torch.randn(*shape(s))
        sk = l if self_attn else s
        key_padding_mask = None
        if kpm:
            key_padding_mask = torch.zeros(b, sk, dtype=torch.bool)
            key_padding_mask[0, -1] = True
            key_padding_mask[1, :2] = True
        attn_mask = None
        if mask_kind == "bool":
            attn_mask = torch.rand(l, sk) > 0.7
            attn_mask[:, 2] = False  # every query keeps a key
        elif mask_kind == "float":
            attn_mask = torch.randn(l, sk)
        extra = {}
        if key_padding_mask is not None:
            extra["kpm"] = key_padding_mask
        if attn_mask is not None:
            extra["attn_mask"] = attn_mask
        if self_attn:
            record(name, m, [q], fn=lambda x: m(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask),
                   out_index=0, extra=extra)
        else:
            record(name, m, [q, k, v],
                   fn=lambda a, c, d: m(a, c, d, key_padding_mask=key_padding_mask, attn_mask=attn_mask),
                   out_index=0, extra=extra)

    # Dropout on the attention weights in training mode, drawn from the default generator.
    m = nn.MultiheadAttention(e, h, dropout=0.25, batch_first=True)
    q, kv = torch.randn(b, l, e), torch.randn(b, s, e)
    torch.manual_seed(77)
    record("mha_dropout_bf", m, [q, kv, kv], fn=lambda a, c, d: m(a, c, d), out_index=0,
           extra={"seed": torch.tensor(77)})

    # Evaluation without grad (batch-first self-attention with a key padding mask takes
    # PyTorch's fused fast path).
    m = nn.MultiheadAttention(e, h, batch_first=True)
    with torch.no_grad():
        m.in_proj_bias.normal_(0, 0.1)
        m.out_proj.bias.normal_(0, 0.1)
    m.eval()
    x = torch.randn(b, 5, e)
    kp = torch.zeros(b, 5, dtype=torch.bool)
    kp[1, 3:] = True
    with torch.no_grad():
        record("mha_eval_fast", m, [x], fn=lambda x: m(x, x, x, key_padding_mask=kp), out_index=0, grad=False,
               extra={"kpm": kp})


def rotary_cases():
    torch.manual_seed(20)
    d, theta = 8, 10000.0
    pos = torch.tensor([[0, 1, 2, 3, 4], [3, 4, 5, 6, 7]])
    q = torch.randn(2, 3, 5, d)
    cos, sin = mistral_cos_sin(d, theta, pos, torch.float32)
    record("rotary", None, [q, pos], fn=lambda x, p: apply_rotary_pos_emb(x, cos, sin),
           extra={"cos": cos.unsqueeze(1), "sin": sin.unsqueeze(1)})
    pos2 = torch.tensor([[100, 2047, 4095]])
    cos, sin = mistral_cos_sin(16, 1e6, pos2, torch.bfloat16)
    out["rotary_bf16.in0"] = pos2
    out["rotary_bf16.cos"], out["rotary_bf16.sin"] = cos.unsqueeze(1), sin.unsqueeze(1)


def attention_cases():
    torch.manual_seed(30)
    d = 8
    # (case, hq, hkv, l, s, causal, attention_mask rows or None)
    cases = [
        ("attn_plain", 4, 4, 5, 5, False, None),
        ("attn_causal", 4, 4, 5, 5, True, None),
        ("attn_gqa", 4, 2, 5, 5, False, None),
        ("attn_pad_right", 2, 2, 5, 5, False, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
        ("attn_causal_pad_left_gqa", 4, 2, 5, 5, True, [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]),
        ("attn_kvcache", 4, 2, 2, 6, True, [[1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]),
        ("attn_kvcache_one", 4, 1, 1, 6, True, [[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]),
    ]
    for name, hq, hkv, l, s, causal, am in cases:
        b = 2
        q = torch.randn(b, hq, l, d)
        k = torch.randn(b, hkv, s, d)
        v = torch.randn(b, hkv, s, d)
        am_t = torch.tensor(am, dtype=torch.int64) if am is not None else None
        mask = hf_mask(b, l, s, torch.float32, causal, am_t) if (causal or am_t is not None) else None
        extra = {"mask": mask} if mask is not None else {}
        if am_t is not None:
            extra["attention_mask"] = am_t
        record(name, None, [q, k, v], fn=lambda a, c, e: eager_attention(a, c, e, mask, d ** -0.5), extra=extra)


# ---------------------------------------------------------------------------------------
# Default initialisation.


def init_cases():
    init = {}
    seed = 1234
    torch.manual_seed(seed)
    mods = [
        ("linear", nn.Linear(7, 5)),
        ("linear_nobias", nn.Linear(4, 6, bias=False)),
        ("conv", nn.Conv2d(3, 6, 3)),
        ("conv_groups", nn.Conv2d(4, 8, 5, groups=2)),
        ("convt", nn.ConvTranspose2d(6, 4, 3, stride=2)),
        ("convt_groups", nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2)),
        ("embedding", nn.Embedding(11, 6)),
        ("mha", nn.MultiheadAttention(8, 2)),
        ("linear_after", nn.Linear(3, 3)),
    ]
    for name, m in mods:
        for n, t in m.state_dict().items():
            init[f"mod.{name}.{n}"] = t.clone()
    init["mod.seed"] = torch.tensor(seed)

    shape = (6, 4, 3, 3)
    inits = {
        "kaiming_uniform_sqrt5": lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
        "kaiming_uniform_0": lambda t: nn.init.kaiming_uniform_(t),
        "xavier_uniform": lambda t: nn.init.xavier_uniform_(t),
        "xavier_uniform_relu": lambda t: nn.init.xavier_uniform_(t, gain=nn.init.calculate_gain("relu")),
        "xavier_normal": lambda t: nn.init.xavier_normal_(t),
        "xavier_normal_g05": lambda t: nn.init.xavier_normal_(t, gain=0.5),
        "normal": lambda t: nn.init.normal_(t, 0.0, 0.02),
        "normal_mean": lambda t: nn.init.normal_(t, 1.5, 3.0),
        "uniform": lambda t: nn.init.uniform_(t, -0.1, 0.2),
        "trunc_normal": lambda t: nn.init.trunc_normal_(t, std=0.02),
        "trunc_normal_tight": lambda t: nn.init.trunc_normal_(t, mean=0.1, std=1.0, a=-0.5, b=0.5),
        "zeros": nn.init.zeros_,
        "ones": nn.init.ones_,
        "constant": lambda t: nn.init.constant_(t, 0.7),
    }
    for i, (name, fn) in enumerate(inits.items()):
        torch.manual_seed(100 + i)
        t = torch.empty(*shape)
        fn(t)
        init[f"init.{name}"] = t
        init[f"init.{name}.seed"] = torch.tensor(100 + i)
    # 2-d (Linear-shaped) weights too: fans without a receptive field.
    torch.manual_seed(99)
    t = torch.empty(5, 7)
    nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    init["init.kaiming_uniform_sqrt5_2d"] = t
    init["init.kaiming_uniform_sqrt5_2d.seed"] = torch.tensor(99)
    stio.save(os.path.join(OUT, "init.safetensors"), init, META)


# ---------------------------------------------------------------------------------------
# Checkpoint loading.


class Attn(nn.Module):
    """A ViT-style attention block: one qkv Linear and an output projection."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1), dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attn(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Neck(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 1, bias=False)
        self.norm = LayerNorm2d(dim)

    def forward(self, x):
        return self.norm(self.conv(x))


class Stage(nn.Module):
    def __init__(self, dim, heads, depth):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


class Model(nn.Module):
    """stem (Conv2d + BatchNorm2d + ReLU) -> layers.0 (1x1 conv + LayerNorm2d) -> tokens ->
    layers.1 (two pre-norm blocks) -> MultiheadAttention from two learned queries -> head."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, stride=2, padding=1), nn.BatchNorm2d(dim))
        self.layers = nn.ModuleList([Neck(dim), Stage(dim, heads, 2)])
        self.query_embed = nn.Embedding(2, dim)
        self.cross = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.layers[0](x)
        x = x.flatten(2).transpose(1, 2)
        x = self.layers[1](x)
        q = self.query_embed.weight.unsqueeze(0).expand(x.shape[0], -1, -1)
        y, _ = self.cross(q, x, x, need_weights=False)
        return self.head(y)


def checkpoint_cases():
    torch.manual_seed(40)
    m = Model()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n or n.endswith("bias"):
                p.add_(torch.randn(p.shape) * 0.3)
    m.train()
    for _ in range(2):  # non-trivial running statistics
        m(torch.randn(2, 3, 8, 8))
    m.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        y = m(x)
    sd = m.state_dict()
    torch.save(sd, os.path.join(OUT, "model.pth"))
    stio.save(os.path.join(OUT, "model.safetensors"), dict(sd), META)
    stio.save(os.path.join(OUT, "model_io.safetensors"), {
        "x": x, "y": y,
        "num_params": torch.tensor(sum(p.numel() for p in m.parameters())),
        "num_entries": torch.tensor(len(sd)),
    }, META)

    big = {"image_encoder." + k: v for k, v in sd.items()}
    big["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = torch.randn(2, 4)
    big["mask_decoder.iou_token.weight"] = torch.randn(1, 8)
    torch.save(big, os.path.join(OUT, "sam.pth"))

    bad = dict(sd)
    bad["layers.1.blocks.0.attn.qkv_renamed.weight"] = bad.pop("layers.1.blocks.0.attn.qkv.weight")
    del bad["head.bias"]
    bad["stem.0.weight"] = torch.randn(8, 3, 5, 5)
    torch.save(bad, os.path.join(OUT, "bad.pth"))


def main():
    os.makedirs(OUT, exist_ok=True)
    layers()
    mha_cases()
    rotary_cases()
    attention_cases()
    stio.save(os.path.join(OUT, "layers.safetensors"), out, META)
    init_cases()
    checkpoint_cases()


if __name__ == "__main__":
    main()
