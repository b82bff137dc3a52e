#!/usr/bin/env bash
# Prints CGO_CXXFLAGS and CGO_LDFLAGS for building package torch against a libtorch other than
# Debian's: the one inside a pip or conda PyTorch 2.x (CPU-only, or CUDA 12 / CUDA 13 wheel
# layouts), or an unpacked libtorch zip. Use it with the torchenv build tag:
#
#   eval "$(third_party/libtorch/torchenv.sh python3)"        # a Python that can import torch
#   eval "$(LIBTORCH=/opt/libtorch third_party/libtorch/torchenv.sh)"   # an unpacked zip
#   go test -tags torchenv ./...
#
# Environment:
#   LIBTORCH=dir          use an unpacked libtorch zip (dir/include, dir/lib) instead of Python
#   LIBTORCH_CXX11_ABI=0|1  the C++ ABI of that libtorch (default: read from dir/lib/libc10.so)
#   TORCHENV_CUDA=0       build for the CPU even when the libtorch has CUDA
#   CUDA_HOME             a CUDA toolkit to take headers (and libcudart) from
#
# With CUDA it links libtorch_cuda and c10_cuda (with --no-as-needed: nothing references them
# directly, and without them CUDA reports itself unavailable) and the CUDA runtime, which the
# shim's CUDA code calls directly. pip wheels ship only a versioned runtime (libcudart.so.12 in
# nvidia/cuda_runtime/lib, libcudart.so.13 in nvidia/cu13/lib), so it is linked by file name
# (-l:libcudart.so.N). Every library directory gets an rpath, so no LD_LIBRARY_PATH is needed.
# It exits non-zero with a message on stderr when something it needs is missing.
set -euo pipefail

die() {
  echo "torchenv.sh: $*" >&2
  exit 1
}

py="${1:-python3}"
torchdir="" ver="" abi="" cuda_ver="" nvidia_dirs=""

if [[ -n "${LIBTORCH:-}" ]]; then
  torchdir="${LIBTORCH%/}"
  [[ -d "$torchdir" ]] || die "LIBTORCH=$torchdir is not a directory"
  if [[ -f "$torchdir/build-version" ]]; then
    ver=$(head -n1 "$torchdir/build-version")
  elif [[ -f "$torchdir/include/torch/version.h" ]]; then
    ver=$(sed -n 's/^#define TORCH_VERSION "\(.*\)"/\1/p' "$torchdir/include/torch/version.h" | head -n1)
  fi
  ver="${ver:-unknown}"
  if [[ -n "${LIBTORCH_CXX11_ABI:-}" ]]; then
    abi="$LIBTORCH_CXX11_ABI"
  else
    c10="$torchdir/lib/libc10.so"
    [[ -f "$c10" ]] || die "$c10 not found (is LIBTORCH the folder that holds include/ and lib/?)"
    # A C++11-ABI build exports std::__cxx11 strings in its symbols (mangled __cxx1112basic_string);
    # a pre-C++11-ABI build (the zips named libtorch-shared-with-deps-*) has none.
    if grep -qa '__cxx1112basic_string' "$c10"; then abi=1; else abi=0; fi
  fi
else
  read -r -d '' probe <<'PY' || true
import os, torch
print("dir=" + os.path.dirname(os.path.abspath(torch.__file__)))
print("version=" + torch.__version__)
print("abi=%d" % int(torch._C._GLIBCXX_USE_CXX11_ABI))
print("cuda=" + (torch.version.cuda or ""))
try:
    import nvidia
    print("nvidia=" + ":".join(os.path.abspath(p) for p in nvidia.__path__))
except Exception:
    print("nvidia=")
PY
  command -v "$py" >/dev/null 2>&1 || die "no $py on PATH (pass the Python that has torch, or set LIBTORCH=dir)"
  out=$("$py" -c "$probe" 2>/dev/null) || die "$py cannot import torch (pass the Python that has torch, or set LIBTORCH=dir)"
  field() { sed -n "s/^$1=//p" <<<"$out" | head -n1; }
  torchdir=$(field dir)
  ver=$(field version)
  abi=$(field abi)
  cuda_ver=$(field cuda)
  nvidia_dirs=$(field nvidia)
  # nvidia/ also sits next to torch/ when the nvidia package could not be imported.
  [[ -z "$nvidia_dirs" && -d "$torchdir/../nvidia" ]] && nvidia_dirs="$(cd "$torchdir/../nvidia" && pwd)"
fi

[[ "$abi" == 0 || "$abi" == 1 ]] || die "C++ ABI flag '$abi' is neither 0 nor 1"
inc="$torchdir/include"
lib="$torchdir/lib"
[[ -f "$inc/ATen/ATen.h" ]] || die "no libtorch headers at $inc (ATen/ATen.h is missing; pip and conda torch ship them, some trimmed installs do not)"
[[ -f "$inc/torch/csrc/api/include/torch/version.h" || -f "$inc/torch/version.h" ]] ||
  die "no torch/version.h under $inc"
for l in libtorch.so libtorch_cpu.so libc10.so; do
  [[ -f "$lib/$l" ]] || die "$lib/$l not found"
done

cxx="-D_GLIBCXX_USE_CXX11_ABI=$abi -isystem $inc -isystem $inc/torch/csrc/api/include"
ld="-L$lib -Wl,-rpath,$lib"
what="CPU"

if [[ -f "$lib/libtorch_cuda.so" && "${TORCHENV_CUDA:-1}" != 0 ]]; then
  [[ -f "$lib/libc10_cuda.so" ]] || die "$lib has libtorch_cuda.so but no libc10_cuda.so"
  # Where CUDA headers and the runtime may be: the nvidia wheels (CUDA 13: nvidia/cu13; CUDA 12:
  # nvidia/cuda_runtime and friends), a conda environment, a toolkit, the libtorch zip itself.
  roots=()
  IFS=: read -r -a nv <<<"$nvidia_dirs"
  for d in "${nv[@]}"; do
    [[ -n "$d" && -d "$d" ]] || continue
    [[ -d "$d/cu13" ]] && roots+=("$d/cu13")
    for sub in "$d"/*/; do
      sub="${sub%/}"
      [[ "$sub" == "$d/cu13" ]] || roots+=("$sub")
    done
  done
  [[ -n "${CONDA_PREFIX:-}" ]] && roots+=("$CONDA_PREFIX" "$CONDA_PREFIX/targets/x86_64-linux")
  if [[ -n "${CUDA_HOME:-}" ]]; then roots+=("$CUDA_HOME"); else roots+=(/usr/local/cuda); fi

  hdr=""
  for r in "${roots[@]}"; do
    if [[ -f "$r/include/cuda_runtime_api.h" ]]; then hdr="$r/include"; break; fi
  done
  [[ -n "$hdr" ]] || die "libtorch has CUDA but cuda_runtime_api.h was found in none of: ${roots[*]/%//include} (pip: install nvidia-cuda-runtime for your CUDA version; or set CUDA_HOME to a toolkit; or TORCHENV_CUDA=0 for a CPU build)"
  # Every include directory of the wheels (the runtime's headers include others, such as crt/).
  for r in "${roots[@]}"; do
    [[ -d "$r/include" ]] && cxx="$cxx -isystem $r/include"
  done

  # The CUDA runtime: the major version torch was built with when known, else any.
  major="${cuda_ver%%.*}"
  cudart=""
  for r in "$lib" "${roots[@]}"; do
    for d in "$r/lib" "$r/lib64" "$r"; do
      [[ -d "$d" ]] || continue
      for f in "$d"/libcudart.so.$major* "$d"/libcudart-*.so.$major* "$d"/libcudart.so; do
        [[ -f "$f" ]] || continue
        # An unversioned libcudart.so of another major version would be wrong; accept it only
        # when torch's CUDA version is unknown or it resolves to the right one.
        if [[ "$f" == */libcudart.so && -n "$major" ]]; then
          real=$(readlink -f "$f")
          [[ "$real" == *".so.$major"* ]] || continue
        fi
        cudart="$f"
        break 3
      done
    done
  done
  [[ -n "$cudart" ]] || die "libtorch has CUDA${cuda_ver:+ $cuda_ver} but no libcudart.so${major:+.$major} was found in $lib or ${roots[*]/%//lib} (pip: install nvidia-cuda-runtime for CUDA ${major:-N}; or set CUDA_HOME)"
  cudart_dir=$(dirname "$cudart")
  cudart_name=$(basename "$cudart")
  [[ -n "$cuda_ver" ]] || cuda_ver=$(sed -n 's/.*libcudart[^.]*\.so\.\([0-9.]*\).*/\1/p' <<<"$cudart_name")

  cxx="$cxx -DTT_WITH_CUDA=1"
  ld="$ld -L$cudart_dir -Wl,-rpath,$cudart_dir"
  # The other CUDA libraries libtorch_cuda needs (cuBLAS, cuDNN, NCCL, ...): found at link time
  # through -rpath-link and at run time through libtorch's own RUNPATH or these rpaths.
  for r in "${roots[@]}"; do
    [[ -d "$r/lib" && "$r/lib" != "$cudart_dir" ]] && ld="$ld -Wl,-rpath-link,$r/lib -Wl,-rpath,$r/lib"
  done
  ld="$ld -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:$cudart_name -Wl,--as-needed"
  what="CUDA ${cuda_ver:-?}, runtime $cudart"
fi

echo "# torch $ver ($what) from $torchdir, C++11 ABI $abi"
echo "export CGO_CXXFLAGS='$cxx'"
echo "export CGO_LDFLAGS='$ld'"
