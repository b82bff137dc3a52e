"""A stand-in for the few parts of transformers that paper_step.py uses, small enough to run
on a CPU: the smoke run (third_party/bench/smoke/run.sh) checks the script's own code paths
on a machine without transformers. Not a model: one attention-free layer with the q/k/v/o
projections PEFT targets, at the real hidden size and vocabulary."""
from types import SimpleNamespace

import torch
import torch.nn as nn

__version__ = "stub"


class _Config(SimpleNamespace):
    def __init__(self, **kw):
        super().__init__(**kw)
        self._attn_implementation = "eager"


MistralConfig = CLIPVisionConfig = _Config


class _Pretrained(nn.Module):
    @classmethod
    def _from_config(cls, cfg, attn_implementation="eager", dtype=None, torch_dtype=None):
        cfg._attn_implementation = attn_implementation
        return cls(cfg).to(dtype or torch_dtype or torch.float32)


class MistralForCausalLM(_Pretrained):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        h = cfg.hidden_size
        self.embed_tokens = nn.Embedding(cfg.vocab_size, h)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(h, h, bias=False) for _ in range(4))
        self.lm_head = nn.Linear(h, cfg.vocab_size, bias=False)

    def get_input_embeddings(self):
        return self.embed_tokens

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, past_key_values=None,
                output_hidden_states=False, use_cache=False):
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        x = inputs_embeds
        x = x + self.o_proj(self.q_proj(x) * torch.sigmoid(self.k_proj(x)) + self.v_proj(x))
        past = (past_key_values or 0) + x.shape[1] if use_cache else None  # a token count, not a cache
        return SimpleNamespace(hidden_states=(inputs_embeds, x), logits=self.lm_head(x), past_key_values=past)


class CLIPVisionModel(_Pretrained):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.patch = nn.Conv2d(cfg.num_channels, cfg.hidden_size, cfg.patch_size, cfg.patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.hidden_size))

    def forward(self, pixels, output_hidden_states=False):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        return SimpleNamespace(hidden_states=(x, x, x))
