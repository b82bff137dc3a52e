#!/usr/bin/env bash
# Prints CGO_CXXFLAGS and CGO_LDFLAGS for building against an installed PyTorch 2.x (pip or
# conda; CUDA when that torch has it). Use it with the torchenv build tag:
#
#   eval "$(third_party/libtorch/torchenv.sh python3)"
#   go test -tags torchenv ./...
#
# It asks the given Python for torch's include and library directories, the C++ ABI flag it
# was built with and its CUDA version, and adds an rpath so no LD_LIBRARY_PATH is needed.
set -euo pipefail
py="${1:-python3}"

read -r -d '' probe <<'PY' || true
import torch, os
from torch.utils import cpp_extension
inc = cpp_extension.include_paths()
lib = cpp_extension.library_paths()[0]
abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
cuda = torch.version.cuda or ""
has_cuda_lib = os.path.exists(os.path.join(lib, "libtorch_cuda.so"))
print(" ".join(inc))
print(lib)
print(abi)
print(cuda if has_cuda_lib else "")
print(torch.__version__)
PY

out=$("$py" -c "$probe") || { echo "torchenv.sh: $py cannot import torch" >&2; exit 1; }
incs=$(sed -n 1p <<<"$out")
lib=$(sed -n 2p <<<"$out")
abi=$(sed -n 3p <<<"$out")
cuda=$(sed -n 4p <<<"$out")
ver=$(sed -n 5p <<<"$out")

cxx="-D_GLIBCXX_USE_CXX11_ABI=$abi"
for d in $incs; do cxx="$cxx -isystem $d"; done
ld="-L$lib -Wl,-rpath,$lib"
if [[ -n "$cuda" ]]; then
  cxx="$cxx -DTT_WITH_CUDA=1"
  # Without --no-as-needed the linker drops libtorch_cuda (no symbol of it is referenced
  # directly) and CUDA then reports itself unavailable.
  ld="$ld -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed"
  # CUDA headers (cuda_runtime_api.h) for c10/cuda: the toolkit, or the pip nvidia wheels.
  for d in /usr/local/cuda/include $("$py" -c 'import nvidia, os; p=os.path.dirname(nvidia.__path__[0]); import glob; print(" ".join(glob.glob(os.path.join(nvidia.__path__[0], "*", "include"))))' 2>/dev/null); do
    [[ -d "$d" ]] && cxx="$cxx -isystem $d"
  done
fi
echo "# torch $ver${cuda:+ (CUDA $cuda)} from $lib"
echo "export CGO_CXXFLAGS='$cxx'"
echo "export CGO_LDFLAGS='$ld'"
