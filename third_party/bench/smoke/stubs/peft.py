"""A stand-in for PEFT's LoRA (see transformers.py here): wraps the target linears with
lora_A / lora_B adapters, so that paper_step.py's trainable set and optimizer see what they
would."""
from types import SimpleNamespace

import torch.nn as nn

__version__ = "stub"


class LoraConfig(SimpleNamespace):
    pass


class _LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.drop = nn.Dropout(dropout)
        self.scale = alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.drop(x))) * self.scale


def get_peft_model(model, cfg, autocast_adapter_dtype=True):
    for name, child in list(model.named_children()):
        if name in cfg.target_modules:
            dt = child.weight.dtype
            setattr(model, name, _LoRALinear(child, cfg.r, cfg.lora_alpha, cfg.lora_dropout).to(dt))
    return model
