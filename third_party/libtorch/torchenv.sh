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
#   TORCHENV_CUDA=1       require CUDA: fail when the libtorch is a CPU-only build
#                         (unset: CUDA when the libtorch has it)
#   TORCHENV_NCCL=0       build a CUDA shim without NCCL when no nccl.h is found (by default
#                         a CUDA build without nccl.h fails)
#   CUDA_HOME             a CUDA toolkit to take headers (and libcudart) from
#
# With CUDA it links libtorch_cuda and c10_cuda (with --no-as-needed: nothing references them
# directly, and without them CUDA reports itself unavailable) and the CUDA runtime, which the
# shim's CUDA code calls directly. pip wheels ship only a versioned runtime (libcudart.so.12 in
# nvidia/cuda_runtime/lib, libcudart.so.13 in nvidia/cu13/lib), so it is linked by file name
# (-l:libcudart.so.N). Every library directory gets an rpath, so no LD_LIBRARY_PATH is needed.
# It picks the C++ standard the headers ask for (C++20 for recent 2.x, else C++17).
#
# It exits non-zero with one line on stderr naming what is wrong and what to install when
# something would make the build fail: a torch older than 2.0 (TORCHENV_MIN), a libtorch for
# another CPU architecture, a C++ ABI flag that its libc10.so contradicts, a CPU-only libtorch
# with TORCHENV_CUDA=1, and, for CUDA, no runtime headers, no crt/ headers, no nccl.h or no
# runtime library.
set -euo pipefail
min_major=2 min_minor=0 # the oldest torch the shim's 2.x code supports (TORCHENV_MIN)

die() {
  echo "torchenv.sh: $*" >&2
  exit 1
}

py="${1:-python3}"
torchdir="" ver="" abi="" cuda_ver="" nvidia_dirs="" cudart_pkg=""

if [[ -n "${LIBTORCH:-}" ]]; then
  torchdir="${LIBTORCH%/}"
  [[ -d "$torchdir" ]] || die "LIBTORCH=$torchdir is not a directory"
  if [[ -f "$torchdir/build-version" ]]; then
    ver=$(head -n1 "$torchdir/build-version")
  else
    # TORCH_VERSION_MAJOR/MINOR from whichever version.h the zip has.
    for h in "$torchdir/include/torch/headeronly/version.h" "$torchdir/include/torch/version.h" \
      "$torchdir/include/torch/csrc/api/include/torch/version.h"; do
      [[ -f "$h" ]] || continue
      M=$(sed -n 's/^#define TORCH_VERSION_MAJOR \([0-9]*\).*/\1/p' "$h" | head -n1)
      m=$(sed -n 's/^#define TORCH_VERSION_MINOR \([0-9]*\).*/\1/p' "$h" | head -n1)
      [[ -n "$M" && -n "$m" ]] && { ver="$M.$m"; break; }
    done
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
    from importlib import metadata
    print("cudart_pkg=" + metadata.version("nvidia-cuda-runtime"))
except Exception:
    print("cudart_pkg=")
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
  cudart_pkg=$(field cudart_pkg)
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

# The oldest supported version: the shim's 2.x code starts at 2.0 (1.13 is Debian's default
# build, without the torchenv tag).
min="${TORCHENV_MIN:-$min_major.$min_minor}"
if [[ "$ver" =~ ^([0-9]+)\.([0-9]+) ]]; then
  M=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
  [[ "$min" =~ ^([0-9]+)\.([0-9]+)$ ]] || die "TORCHENV_MIN=$min is not MAJOR.MINOR"
  if ((M < BASH_REMATCH[1] || (M == BASH_REMATCH[1] && m < BASH_REMATCH[2]))); then
    die "torch $ver is older than $min, the oldest torch 2.x the torchenv build supports: install torch 2.x (pip install -r third_party/libtorch/torch2-requirements.txt, or install.sh --torch2), or build without -tags torchenv against Debian's libtorch 1.13 (install.sh)"
  fi
fi

# A libtorch for another CPU architecture links to nothing here: compare the ELF machine of
# libc10.so with this machine's (only for real ELF files).
if [[ "$(head -c4 "$lib/libc10.so" | od -An -c | tr -d ' ')" == '177ELF' ]]; then
  elf=$(od -An -tu2 -j18 -N2 "$lib/libc10.so" | tr -d ' ')
  case "$elf" in 62) arch=x86_64 ;; 183) arch=aarch64 ;; 3) arch=i386 ;; 21) arch=ppc64le ;; 22) arch=s390x ;; *) arch="ELF machine $elf" ;; esac
  host=$(uname -m)
  [[ "$arch" == "$host" ]] ||
    die "$lib/libc10.so is built for $arch but this machine is $host: install the $host build of torch"
fi

# The C++ ABI flag Python reports must be the one libc10.so was built with: libc10.so exports
# std::__cxx11 strings (mangled __cxx1112basic_string) exactly when it uses the C++11 ABI. A
# contradicting flag compiles, then fails to link with hundreds of undefined std::string
# symbols. (LIBTORCH_CXX11_ABI is an explicit override of this detection and is not checked.)
if [[ -z "${LIBTORCH:-}" && -s "$lib/libc10.so" ]]; then
  if grep -qa '__cxx1112basic_string' "$lib/libc10.so"; then lib_abi=1; else lib_abi=0; fi
  if [[ "$lib_abi" != "$abi" ]]; then
    names=("pre-C++11 (_GLIBCXX_USE_CXX11_ABI=0)" "C++11 (_GLIBCXX_USE_CXX11_ABI=1)")
    die "$lib/libc10.so uses the ${names[$lib_abi]} C++ ABI but $py reports ${names[$abi]}: its torch is a mix of two builds; reinstall it (pip install --force-reinstall torch)"
  fi
fi

# The libstdc++ ABI: a libtorch built against a newer libstdc++ than this machine's needs
# symbol versions (GLIBCXX_3.4.N) that the linker cannot find here.
if command -v readelf >/dev/null 2>&1; then
  need=$(for l in libc10.so libtorch_cpu.so libtorch.so; do readelf -V --wide "$lib/$l" 2>/dev/null; done |
    grep -oE 'GLIBCXX_[0-9]+(\.[0-9]+)+' | sort -uV | tail -n1 || true)
  stdcxx=$(readlink -f "$(${CXX:-g++} -print-file-name=libstdc++.so 2>/dev/null)" 2>/dev/null || true)
  if [[ -n "$need" && -f "$stdcxx" ]]; then
    have=$(grep -aoE 'GLIBCXX_[0-9]+(\.[0-9]+)+' "$stdcxx" | sort -uV | tail -n1 || true)
    if [[ -n "$have" && "$(printf '%s\n%s\n' "$need" "$have" | sort -V | tail -n1)" != "$have" ]]; then
      die "torch $ver needs libstdc++ symbols $need but this machine's $stdcxx stops at $have: install a torch built for this system's C++ library (PyPI's manylinux wheels), or a newer g++/libstdc++"
    fi
  fi
fi

# C++20 when the headers demand it (ATen.h stops with #error below it), else C++17.
std=c++17
grep -qE '__cplusplus < 202002L' "$inc/ATen/ATen.h" && std=c++20

cxx="-std=$std -D_GLIBCXX_USE_CXX11_ABI=$abi -isystem $inc -isystem $inc/torch/csrc/api/include"
ld="-L$lib -Wl,-rpath,$lib"
what="CPU"

if [[ "${TORCHENV_CUDA:-}" == 1 && ! -f "$lib/libtorch_cuda.so" ]]; then
  die "TORCHENV_CUDA=1 but torch $ver at $torchdir is a CPU-only build (no lib/libtorch_cuda.so): install PyTorch's CUDA build (pip install torch from PyPI's default index, not the cpu one; or install.sh --torch2), or unset TORCHENV_CUDA for a CPU build"
fi

if [[ -f "$lib/libtorch_cuda.so" && "${TORCHENV_CUDA:-}" != 0 ]]; then
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
  # cuda_runtime.h includes crt/host_config.h, which CUDA 13's runtime wheel leaves out (it is
  # in nvidia-cuda-crt); without it every CUDA file fails to compile.
  if grep -q 'crt/host_config.h' "$hdr/cuda_runtime.h" 2>/dev/null; then
    crt=""
    for r in "${roots[@]}"; do
      if [[ -f "$r/include/crt/host_config.h" ]]; then crt=1; break; fi
    done
    [[ -n "$crt" ]] || die "$hdr/cuda_runtime.h includes crt/host_config.h, found in none of: ${roots[*]/%//include} (pip: install nvidia-cuda-crt${cudart_pkg:+==$cudart_pkg}, the version of nvidia-cuda-runtime; or set CUDA_HOME to a toolkit)"
  fi
  # NCCL: the shim's NCCL process group compiles only with nccl.h.
  nccl=""
  for r in "${roots[@]}"; do
    if [[ -f "$r/include/nccl.h" ]]; then nccl="$r/include/nccl.h"; break; fi
  done
  if [[ -z "$nccl" && "${TORCHENV_NCCL:-}" != 0 ]]; then
    die "libtorch has CUDA but nccl.h was found in none of: ${roots[*]/%//include} (pip: install nvidia-nccl-cu${cuda_ver%%.*} of the version torch requires; or TORCHENV_NCCL=0 to build without the NCCL backend)"
  fi
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
  what="CUDA ${cuda_ver:-?}, runtime $cudart, ${nccl:-no nccl.h}"
fi

echo "# torch $ver ($what) from $torchdir, C++11 ABI $abi"
echo "export CGO_CXXFLAGS='$cxx'"
echo "export CGO_LDFLAGS='$ld'"
