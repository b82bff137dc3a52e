#!/usr/bin/env python3
"""The reverse of the differential tests: PEFT reads the adapter that the Go side wrote.

    python third_party/golden/hf/peft_reverse.py REFS_DIR GO_OUT_DIR

REFS_DIR is make_refs.py's output; GO_OUT_DIR is where internal/hfref's
TestSavedAdapterForPEFT wrote go_adapter/ (loraadapter.Save) and go_logits.safetensors (the
Go decoder's logits with that adapter, and the ids and mask they were computed on). The
adapter is loaded onto mistral_v5 with PeftModel.from_pretrained, run in eval mode (no
dropout) on the same batch, and its logits compared with Go's: float32, 1e-5 relative plus
1e-6 x max|logits| (the project's tolerance). Exits non-zero on any difference.
"""
import json
import os
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import MistralForCausalLM

RTOL, ATOL = 1e-5, 1e-6


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: peft_reverse.py REFS_DIR GO_OUT_DIR")
    refs, out = sys.argv[1:]
    adapter = os.path.join(out, "go_adapter")
    go = load_file(os.path.join(out, "go_logits.safetensors"))
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        cfg = json.load(f)
    base = MistralForCausalLM.from_pretrained(os.path.join(refs, "mistral_v5"), dtype=torch.float32)
    pm = PeftModel.from_pretrained(base, adapter).eval()
    n = sum(1 for name, _ in pm.named_parameters() if "lora_" in name)
    if n == 0:
        sys.exit("peft_reverse.py: PEFT injected no LoRA weights from the Go adapter")
    with torch.no_grad():
        logits = pm(input_ids=go["ids"], attention_mask=go["mask"]).logits
        plain = MistralForCausalLM.from_pretrained(os.path.join(refs, "mistral_v5"), dtype=torch.float32)
        base_logits = plain(input_ids=go["ids"], attention_mask=go["mask"]).logits
    want = go["logits"]
    d = (logits - want).abs()
    bound = RTOL * want.abs() + ATOL * want.abs().max()
    bad = int((d > bound).sum())
    moved = float((base_logits - want).abs().max())
    print(f"peft_reverse.py: PEFT {n} LoRA tensors (r {cfg['r']}, alpha {cfg['lora_alpha']}, targets "
          f"{cfg['target_modules']}): logits max_abs {float(d.max()):.3g}, max_rel "
          f"{float((d / want.abs().clamp_min(1e-30)).max()):.3g}, {bad} of {d.numel()} outside; "
          f"the adapter moves the logits by up to {moved:.3g}")
    if bad or moved <= float(bound.max()):
        sys.exit("peft_reverse.py: FAIL")


if __name__ == "__main__":
    main()
