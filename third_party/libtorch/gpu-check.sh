#!/usr/bin/env bash
# Runs the CUDA checks on a machine with an NVIDIA GPU and a pip PyTorch 2.x, which may have
# no Go: builds package torch against that PyTorch's libtorch (CUDA) with the torchenv tag
# and runs the tests whose names contain CUDA, then the whole torch package.
#
# Go comes from PATH, or from .gotoolchain/go (a trimmed toolchain carried with the tree;
# make it here with: bash third_party/libtorch/pack-go.sh).
#
#   bash third_party/libtorch/gpu-check.sh [python]
set -euo pipefail
cd "$(dirname "$0")/../.."
py="${1:-python3}"

if ! command -v go >/dev/null 2>&1; then
  if [[ -x .gotoolchain/go/bin/go ]]; then
    export PATH="$PWD/.gotoolchain/go/bin:$PATH" GOROOT="$PWD/.gotoolchain/go"
  else
    echo "gpu-check: no go on PATH and no .gotoolchain/go; run third_party/libtorch/pack-go.sh first" >&2
    exit 1
  fi
fi
export GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN=local GOPROXY=off GOCACHE="${GOCACHE:-/tmp/gocache}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
eval "$(bash third_party/libtorch/torchenv.sh "$py")"
echo "CGO_CXXFLAGS=$CGO_CXXFLAGS"
echo "CGO_LDFLAGS=$CGO_LDFLAGS"
go version
go test -tags torchenv -count=1 -run 'CUDA' -v ./torch/ 2>&1 | tail -60
go test -tags torchenv -count=1 ./torch/... ./nn/... ./losses/ 2>&1 | tail -20
