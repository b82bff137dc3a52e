#!/usr/bin/env bash
# Packs what gpu-check.sh needs on a machine that has Python and torch but no Go, into
# .gotoolchain/ (ignored by git, small enough to carry with the tree):
#
#   .gotoolchain/go.tar.xz   a trimmed Go toolchain for this host's OS and architecture: the go
#                            command, the compiler, linker, assembler, cgo, vet and the standard
#                            library's sources, without tests, testdata, docs, the sources of
#                            the commands, and the other tools
#   .gotoolchain/vendor/     `go mod vendor` output (the module's dependencies)
#
# gpu-check.sh unpacks the toolchain with Python's tarfile (no tar or xz needed there).
#
#   bash third_party/libtorch/pack-go.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v go >/dev/null 2>&1 || { echo "pack-go.sh: no go on PATH" >&2; exit 1; }
root=$(go env GOROOT)
tooldir="pkg/tool/$(go env GOHOSTOS)_$(go env GOHOSTARCH)"
out=.gotoolchain
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/go/$tooldir"

# The go command needs VERSION and go.env; builds need src/ (minus cmd/ and tests), lib/ (time
# zones, the FIPS module snapshot), pkg/include (cgo and assembly headers) and these tools.
(cd "$root" && tar -cf - --exclude='*_test.go' --exclude='testdata' --exclude='./src/cmd' --exclude='./lib/wasm' \
  VERSION go.env bin/go src lib pkg/include) | tar -C "$stage/go" -xf -
for t in asm buildid cgo compile link pack vet test2json covdata; do
  [[ -f "$root/$tooldir/$t" ]] && cp "$root/$tooldir/$t" "$stage/go/$tooldir/"
done
XZ_OPT="${XZ_OPT:--6 -T0}" tar -C "$stage" -cJf "$out/go.tar.xz" go
go mod vendor -o "$out/vendor"
echo "pack-go.sh: $(go env GOVERSION) $(go env GOHOSTOS)/$(go env GOHOSTARCH): $(du -sh "$out/go.tar.xz" | cut -f1) toolchain ($(du -sh "$stage/go" | cut -f1) unpacked), $(du -sh "$out/vendor" | cut -f1) vendor"
