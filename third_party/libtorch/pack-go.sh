#!/usr/bin/env bash
# Copies a trimmed Go toolchain (no tests, no docs, no other platforms' tools) and the
# module cache entries this project needs into .gotoolchain/, for a machine without Go
# (see gpu-check.sh). .gotoolchain is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(go env GOROOT)
rm -rf .gotoolchain && mkdir -p .gotoolchain/go
tar -C "$root" --exclude='./test' --exclude='./doc' --exclude='./api' --exclude='*_test.go' \
  --exclude='./pkg/tool/*/api' --exclude='./misc' --exclude='./lib/wasm' -cf - . | tar -C .gotoolchain/go -xf -
go mod vendor -o .gotoolchain/vendor 2>/dev/null || true
du -sh .gotoolchain
