#!/usr/bin/env bash
# Smoke run of paper_step.py on a CPU without transformers or PEFT: the stand-ins in stubs/
# take their place (a one-layer language model at Mistral's hidden size and vocabulary, a
# patch embedding for CLIP, LoRA adapters on q/k/v/o); TinyViT, fusion, decoder, losses,
# the optimizer, the configurations and the JSON lines are the script's own. It checks that
# the script runs before it meets a GPU, not any number. About a minute per configuration
# on 2 cores. Only float32 configurations run on Debian's PyTorch 1.13: its CPU autocast
# leaves layer_norm's input in bf16 beside float32 weights, and its bf16 ConvTranspose2d
# on the CPU rejects the weight's layout (PyTorch 2.x on CUDA has neither problem).
#
#   bash third_party/bench/smoke/run.sh [configs, default f32:1,f32:2]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-/usr/bin/python3}"
PYTHONPATH="$here/stubs${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/../paper_step.py" --device cpu \
  --configs "${1:-f32:1,f32:2}" --steps 1 --warmup 0 --phases
