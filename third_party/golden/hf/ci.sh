#!/usr/bin/env bash
# The real-library round trip, for the torch 2 CI lane:
#
#   third_party/golden/hf/ci.sh PYTHON
#
# PYTHON must import torch 2.x, transformers 5.x and peft (third_party/libtorch/install.sh
# --torch2 makes one). In a temporary directory it
#   1. builds tiny random models with transformers and PEFT and writes their references
#      (make_refs.py);
#   2. runs the Go differential tests of internal/hfref against them (none may skip), with
#      -tags torchenv when CGO_LDFLAGS names a libtorch (eval "$(third_party/libtorch/torchenv.sh
#      PYTHON)" first), with Debian's libtorch otherwise;
#   3. loads the adapter the Go tests wrote with PeftModel.from_pretrained and compares the
#      logits (peft_reverse.py);
#   4. runs third_party/bench/paper_step.py and examples/benchstep at a tiny size on the CPU
#      from the same weights and batch and compares their losses and trainable parameter
#      counts (third_party/bench/step_compare.py).
# It exits non-zero when any step fails.
set -euo pipefail

py="${1:?usage: third_party/golden/hf/ci.sh PYTHON}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# transformers' progress bars and advice would bury the comparisons.
export HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error TQDM_DISABLE=1 PYTHONWARNINGS=ignore

tags=() benchtags=()
if [[ "${CGO_LDFLAGS:-}" == *torch* ]]; then
  tags=(-tags torchenv) benchtags=(--tags torchenv)
fi

echo "== hf: references from transformers and PEFT ($("$py" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)'))"
"$py" "$here/make_refs.py" "$tmp/refs"

echo "== hf: Go differential tests (go test ${tags[*]:-} ./internal/hfref/)"
mkdir -p "$tmp/go"
PRSMED_HF_REFS="$tmp/refs" PRSMED_HF_GO_OUT="$tmp/go" go test -count=1 ${tags[@]+"${tags[@]}"} -v ./internal/hfref/ >"$tmp/go.log" 2>&1 || {
  cat "$tmp/go.log"
  echo "hf: the Go differential tests failed" >&2
  exit 1
}
grep -E '^ *(--- |ok|PASS)|worst of|greedy' "$tmp/go.log" || true
if grep -q -- '--- SKIP' "$tmp/go.log"; then
  grep -- '--- SKIP' -A2 "$tmp/go.log"
  echo "hf: a differential test skipped" >&2
  exit 1
fi

echo "== hf: PEFT reads the adapter written by loraadapter.Save"
"$py" "$here/peft_reverse.py" "$tmp/refs" "$tmp/go"

echo "== bench: paper_step.py and benchstep from the same weights"
"$py" "$root/third_party/bench/step_compare.py" --python "$py" --work "$tmp/bench" ${benchtags[@]+"${benchtags[@]}"}

echo "hf: all real-library comparisons passed"
