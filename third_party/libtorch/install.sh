#!/usr/bin/env bash
# Installs what the default build needs on Debian 12: libtorch-dev (libtorch 1.13, CPU),
# libgloo-dev (the headers of Gloo, the CPU engine of distributed training) and
# OpenBLAS (without it libtorch runs on the reference BLAS, ~35x slower on matmul).
# Safe to run twice. With --python it also installs python3-torch and python3-sentencepiece,
# which only the golden-writing scripts in third_party/golden need. With --test-data it also
# installs python3-pydicom and python3-nibabel, whose bundled DICOM and NIfTI test files the
# medical image readers' tests compare against (those tests skip when the files are absent),
# and iproute2, whose ip netns the several-hosts training test builds its hosts with.
# With --torch2 it also makes the torch 2.x environment of CI's second lane: a virtual
# environment of Debian's python3 at .torch2/ in the repository (ignored by git) holding the
# pinned set in torch2-requirements.txt (torch 2.15 with CUDA 13, transformers, peft, ...);
# when that set is already there, nothing is downloaded.
set -euo pipefail

want=(libtorch-dev libopenblas0-pthread libgloo-dev)
torch2=""
for arg in "$@"; do
  case "$arg" in
  --python) want+=(python3-torch python3-sentencepiece python3-numpy) ;;
  --test-data) want+=(python3-pydicom python3-nibabel iproute2) ;;
  --torch2)
    want+=(python3-venv)
    torch2=1
    ;;
  *)
    echo "install.sh: unknown option $arg (--python, --test-data, --torch2)" >&2
    exit 2
    ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install.sh: this script needs Debian's apt (Debian 12 'bookworm')." >&2
  echo "On other systems install libtorch yourself and build with -tags torchenv;" >&2
  echo "see third_party/libtorch/torchenv.sh and the README." >&2
  exit 1
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install.sh: ${want[*]} already installed"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
  fi
  echo "install.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "install.sh: done"
fi

if [[ -n "$torch2" ]]; then
  exec bash "$(dirname "$0")/torch2-venv.sh"
fi
