"""Times the tiny PRS-Med in PyTorch on the CPU, with the reference model of
third_party/golden/prsmed_ref.py (same structure as prsmed.Tiny): one stage-2 training
step (forward, backward, clip, AdamW over LoRA, TinyViT, fusion and decoder) on a batch of
8, and the inference forward (mask branch and the language model over the prompt) of one
sample, at 2 threads. Compare: go test -run NONE -bench 'TrainStep|PredictForward' ./prsmed/
Run: /usr/bin/python3 third_party/bench/prsmed_bench.py [steps, default 10] [--train-only | --infer-only]
A single run is noisy on a shared machine; third_party/bench/interleave_train.py alternates
it with the Go benchmark and reports medians and ranges."""
import os
import resource
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "golden"))
import clip_ref  # noqa: E402
import prsmed_ref as ref  # noqa: E402
import tinyvit_ref  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
import sentencepiece as spm  # noqa: E402

sp = spm.SentencePieceProcessor(model_file=ref.TOKENIZER)
sam, px, masks, rows = [], [], [], []
for kind, q, a in ref.SAMPLES * 4:
    img, mask = ref.blob_image(kind)
    im = Image.fromarray(img)
    sam.append(tinyvit_ref.preprocess(np.array(im), ref.IMAGE))
    px.append(clip_ref.clip_preprocess(im, ref.CLIP["image_size"], pad=True)[1][None])
    masks.append(torch.from_numpy((mask > 127).astype(np.float32))[None, None])
    rows.append(ref.tokens(sp, q, a))
sam, px, masks = torch.cat(sam), torch.cat(px), torch.cat(masks)
model = ref.PRSMed()
ref.fill(model, 11)
train = [p for n, p in model.named_parameters()
         if n.startswith(("image_encoder.", "fusion.", "decoder.")) or ".lora_" in n]
for p in model.parameters():
    p.requires_grad_(False)
for p in train:
    p.requires_grad_(True)
opt = torch.optim.AdamW(train, lr=1e-4, eps=1e-6, weight_decay=1e-5)
model.train()


def step():
    out = model(sam, px, rows, masks)
    opt.zero_grad()
    out["total"].backward()
    torch.nn.utils.clip_grad_norm_(train, 1.0)
    opt.step()


args = [x for x in sys.argv[1:] if not x.startswith("--")]
n = int(args[0]) if args else 10
if "--infer-only" not in sys.argv:
    step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        step()
    dt = (time.perf_counter() - t0) / n
    cpu = (time.process_time() - c0) / n
if "--train-only" in sys.argv:
    print(f"pytorch {torch.__version__} threads={torch.get_num_threads()}: train step (batch 8) {dt*1e3:.1f} ms, "
          f"process CPU {cpu*1e3:.1f} ms")
    sys.exit(0)
model.eval()
with torch.no_grad():
    one = (sam[:1], px[:1], [(rows[0][0], [])], masks[:1])
    model(*one)
    m, t1, c1 = 20, time.perf_counter(), time.process_time()
    for _ in range(m):
        model(*one)
    inf = (time.perf_counter() - t1) / m
    inf_cpu = (time.process_time() - c1) / m
if "--infer-only" in sys.argv:
    print(f"pytorch {torch.__version__} threads={torch.get_num_threads()}: inference forward (1 sample, no generation) "
          f"{inf*1e3:.2f} ms, process CPU {inf_cpu*1e3:.2f} ms")
    sys.exit(0)
print(f"pytorch {torch.__version__} threads={torch.get_num_threads()}: train step (batch 8) {dt*1e3:.1f} ms "
      f"= {8/dt:.1f} samples/s; inference forward (1 sample, no generation) {inf*1e3:.2f} ms; "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
