#!/usr/bin/env bash
# Checks that a binary built with -tags torchenv against a CUDA libtorch really carries CUDA:
# libtorch_cuda, c10_cuda and the CUDA runtime (libcudart) are NEEDED by the binary itself,
# NCCL (libnccl) is NEEDED by libtorch_cuda, and all four resolve, with every other library,
# without LD_LIBRARY_PATH (through the rpaths torchenv.sh adds). Prints where each resolves;
# exits 1 naming what is missing.
#
#   bash third_party/libtorch/linkcheck.sh BINARY
set -euo pipefail
bin="${1:?usage: linkcheck.sh BINARY}"
[[ -f "$bin" ]] || { echo "linkcheck: no file $bin" >&2; exit 1; }
for t in readelf ldd; do
  command -v "$t" >/dev/null 2>&1 || { echo "linkcheck: $t not found (Debian: binutils, libc-bin)" >&2; exit 1; }
done

problems=()
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
resolved=$(env -u LD_LIBRARY_PATH ldd "$bin" 2>&1)

# path REGEX: where ldd resolved the library whose file name matches.
path() { awk -v p="$1" '$1 ~ p && $2 == "=>" && $3 != "not" { print $3; exit }' <<<"$resolved"; }

# name|regex of its file name; the first three must be NEEDED by the binary itself.
libs=('libtorch_cuda|^libtorch_cuda[.]so' 'libc10_cuda|^libc10_cuda[.]so' 'libcudart|^libcudart(-[0-9a-f]+)?[.]so'
  'libnccl|^libnccl[.]so')
for i in 0 1 2; do
  IFS='|' read -r name re <<<"${libs[$i]}"
  grep -qE "$re" <<<"$needed" || problems+=("$name is not NEEDED by $bin")
done
tc=$(path '^libtorch_cuda[.]so')
if [[ -n "$tc" && -f "$tc" ]]; then
  readelf -d "$tc" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -qE '^libnccl[.]so' ||
    problems+=("libnccl is not NEEDED by $tc")
fi
if grep -q 'not found' <<<"$resolved"; then
  problems+=("unresolved without LD_LIBRARY_PATH: $(grep 'not found' <<<"$resolved" | awk '{print $1}' | paste -sd ' ')")
fi
for l in "${libs[@]}"; do
  IFS='|' read -r name re <<<"$l"
  p=$(path "$re")
  if [[ -z "$p" ]]; then
    problems+=("$name does not resolve")
  else
    echo "linkcheck: $(basename "$p") => $p"
  fi
done

if ((${#problems[@]} > 0)); then
  for p in "${problems[@]}"; do echo "linkcheck: $p" >&2; done
  exit 1
fi
echo "linkcheck: $bin links libtorch_cuda, c10_cuda, the CUDA runtime and NCCL, all resolved without LD_LIBRARY_PATH"
