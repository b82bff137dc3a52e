#!/usr/bin/env bash
# Tests torchenv.sh's logic on fake layouts (empty files where libraries would be, and a stub
# "python" that answers the probe), since the real PyTorch 2.x wheels and CUDA are not on the
# build machine: pip CPU, pip CUDA 13 (nvidia/cu13), pip CUDA 12 (nvidia/cuda_runtime, ...),
# an unpacked libtorch zip (C++11 ABI and not, with its bundled libcudart-<hash>.so.12), and
# the failures (no torch, no headers, no runtime, the wrong runtime), including the bad inputs
# that must stop with one line instead of compiler errors: a torch older than 2.0, a CPU-only
# torch with TORCHENV_CUDA=1, no nccl.h, no crt/ headers, a library of another C++ ABI (the
# ABI flag, the libstdc++ version, the CPU architecture).
#
#   bash third_party/libtorch/torchenv_test.sh     (prints PASS/FAIL lines; exit 1 on a failure)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/torchenv.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

mk() { mkdir -p "$(dirname "$1")" && : >"$1"; }
# torch_tree dir: the headers and CPU libraries of a libtorch.
torch_tree() {
  mk "$1/include/ATen/ATen.h"
  mk "$1/include/torch/csrc/api/include/torch/version.h"
  for l in libtorch.so libtorch_cpu.so libc10.so; do mk "$1/lib/$l"; done
}
# stub_python file torchdir version abi cuda nvidia [cudart_pkg]: a "python" whose probe prints
# these.
stub_python() {
  cat >"$1" <<PYEOF
#!/usr/bin/env bash
printf 'dir=%s\nversion=%s\nabi=%s\ncuda=%s\nnvidia=%s\ncudart_pkg=%s\n' "$2" "$3" "$4" "$5" "$6" "${7:-}"
PYEOF
  chmod +x "$1"
}
# run name [env...] -- args: runs torchenv.sh in a clean environment, keeping stdout+stderr.
run() {
  local name=$1
  shift
  local envs=()
  while [[ $# -gt 0 && "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  out=$(env -u LIBTORCH -u LIBTORCH_CXX11_ABI -u TORCHENV_CUDA -u CONDA_PREFIX CUDA_HOME="$tmp/no-toolkit" \
    "${envs[@]}" bash "$script" "$@" 2>&1)
  rc=$?
  cur="$name"
}
has() {
  if [[ "$out" == *"$1"* ]]; then echo "PASS $cur: has '$1'"; else
    echo "FAIL $cur: missing '$1' in:"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1)); fi
}
hasnt() {
  if [[ "$out" != *"$1"* ]]; then echo "PASS $cur: no '$1'"; else
    echo "FAIL $cur: unexpected '$1' in:"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1)); fi
}
# oneline: the failure is a single line (no wall of compiler output).
oneline() {
  local n
  n=$(grep -c . <<<"$out")
  if [[ $n == 1 ]]; then echo "PASS $cur: one line"; else
    echo "FAIL $cur: $n lines:"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1)); fi
}
ok() {
  if [[ $rc == 0 ]]; then echo "PASS $cur: exit 0"; else
    echo "FAIL $cur: exit $rc:"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1)); fi
}
bad() {
  if [[ $rc != 0 ]]; then echo "PASS $cur: exit $rc"; else
    echo "FAIL $cur: exit 0, want a failure:"; echo "$out" | sed 's/^/    /'; fails=$((fails + 1)); fi
}

# pip, CPU only.
site="$tmp/cpu/site-packages"
torch_tree "$site/torch"
stub_python "$tmp/py-cpu" "$site/torch" "2.11.0+cpu" 1 "" ""
run "pip cpu" -- "$tmp/py-cpu"
ok
has "-D_GLIBCXX_USE_CXX11_ABI=1"
has "-isystem $site/torch/include -isystem $site/torch/include/torch/csrc/api/include"
has "-L$site/torch/lib -Wl,-rpath,$site/torch/lib"
hasnt "TT_WITH_CUDA"
hasnt "torch_cuda"
# The output is shell that sets the two variables.
eval "$(grep '^export' <<<"$out")"
[[ "$CGO_CXXFLAGS" == *"-isystem $site/torch/include"* && "$CGO_LDFLAGS" == "-L$site/torch/lib -Wl,-rpath,$site/torch/lib" ]] &&
  echo "PASS pip cpu: eval sets CGO_CXXFLAGS and CGO_LDFLAGS" ||
  { echo "FAIL pip cpu: eval gave CGO_CXXFLAGS=$CGO_CXXFLAGS CGO_LDFLAGS=$CGO_LDFLAGS"; fails=$((fails + 1)); }

# pip, CUDA 13: one nvidia/cu13 tree with headers and libcudart.so.13 (no libcudart.so).
site="$tmp/cu13/site-packages"
torch_tree "$site/torch"
mk "$site/torch/lib/libtorch_cuda.so"
mk "$site/torch/lib/libc10_cuda.so"
mk "$site/nvidia/cu13/include/cuda_runtime_api.h"
mk "$site/nvidia/cu13/lib/libcudart.so.13"
mk "$site/nvidia/cudnn/lib/libcudnn.so.9"
mk "$site/nvidia/nccl/lib/libnccl.so.2"
mk "$site/nvidia/nccl/include/nccl.h"
stub_python "$tmp/py-cu13" "$site/torch" "2.11.0+cu130" 1 "13.0" "$site/nvidia"
run "pip cu13" -- "$tmp/py-cu13"
ok
has "-DTT_WITH_CUDA=1"
has "-isystem $site/nvidia/cu13/include"
has "-L$site/nvidia/cu13/lib -Wl,-rpath,$site/nvidia/cu13/lib"
has "-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:libcudart.so.13 -Wl,--as-needed"
has "-Wl,-rpath-link,$site/nvidia/cudnn/lib"
has "CUDA 13.0"
has "$site/nvidia/nccl/include/nccl.h"
has "-std=c++17"
# The same tree without the nvidia package importable: found next to torch/.
stub_python "$tmp/py-cu13b" "$site/torch" "2.11.0+cu130" 1 "13.0" ""
run "pip cu13, nvidia found beside torch" -- "$tmp/py-cu13b"
ok
has "-l:libcudart.so.13"
# TORCHENV_CUDA=0 builds for the CPU.
run "pip cu13, TORCHENV_CUDA=0" TORCHENV_CUDA=0 -- "$tmp/py-cu13"
ok
hasnt "TT_WITH_CUDA"
hasnt "cudart"

# pip, CUDA 12: one package per library (nvidia/cuda_runtime, nvidia/cublas, ...).
site="$tmp/cu12/site-packages"
torch_tree "$site/torch"
mk "$site/torch/lib/libtorch_cuda.so"
mk "$site/torch/lib/libc10_cuda.so"
mk "$site/nvidia/cuda_runtime/include/cuda_runtime_api.h"
mk "$site/nvidia/cuda_runtime/lib/libcudart.so.12"
mk "$site/nvidia/cublas/include/cublas_v2.h"
mk "$site/nvidia/cublas/lib/libcublas.so.12"
mk "$site/nvidia/nccl/include/nccl.h"
stub_python "$tmp/py-cu12" "$site/torch" "2.5.1+cu124" 0 "12.4" "$site/nvidia"
run "pip cu12" -- "$tmp/py-cu12"
ok
has "-D_GLIBCXX_USE_CXX11_ABI=0"
has "-isystem $site/nvidia/cuda_runtime/include"
has "-isystem $site/nvidia/cublas/include"
has "-l:libcudart.so.12"
has "-Wl,-rpath,$site/nvidia/cuda_runtime/lib"
has "-Wl,-rpath-link,$site/nvidia/cublas/lib"
# A torch built for CUDA 13 next to only a CUDA 12 runtime: refused, naming what is missing.
stub_python "$tmp/py-mismatch" "$site/torch" "2.11.0+cu130" 1 "13.0" "$site/nvidia"
run "cu13 torch, cu12 runtime" -- "$tmp/py-mismatch"
bad
has "no libcudart.so.13 was found"

# CUDA torch without headers or runtime anywhere.
site="$tmp/nocuda/site-packages"
torch_tree "$site/torch"
mk "$site/torch/lib/libtorch_cuda.so"
mk "$site/torch/lib/libc10_cuda.so"
stub_python "$tmp/py-nocuda" "$site/torch" "2.11.0+cu130" 1 "13.0" ""
run "cuda torch, no runtime" -- "$tmp/py-nocuda"
bad
has "cuda_runtime_api.h was found in none of"
has "TORCHENV_CUDA=0"
# ... with a toolkit in CUDA_HOME instead (unversioned libcudart.so linking to .so.13).
mk "$tmp/toolkit/include/cuda_runtime_api.h"
mk "$tmp/toolkit/lib64/libcudart.so.13.0.48"
ln -s libcudart.so.13.0.48 "$tmp/toolkit/lib64/libcudart.so"
run "cuda torch, CUDA_HOME toolkit, no nccl.h" CUDA_HOME="$tmp/toolkit" -- "$tmp/py-nocuda"
bad
oneline
has "nccl.h was found in none of: $tmp/toolkit/include (pip: install nvidia-nccl-cu13"
has "TORCHENV_NCCL=0"
run "cuda torch, CUDA_HOME toolkit, TORCHENV_NCCL=0" CUDA_HOME="$tmp/toolkit" TORCHENV_NCCL=0 -- "$tmp/py-nocuda"
ok
has "-DTT_WITH_CUDA=1"
has "no nccl.h"
mk "$tmp/toolkit/include/nccl.h"
run "cuda torch, CUDA_HOME toolkit" CUDA_HOME="$tmp/toolkit" -- "$tmp/py-nocuda"
ok
has "-isystem $tmp/toolkit/include"
has "-L$tmp/toolkit/lib64"
has "-l:libcudart.so.13"

# Failures before any flag.
printf '#!/usr/bin/env bash\necho "No module named torch" >&2; exit 1\n' >"$tmp/py-notorch"
chmod +x "$tmp/py-notorch"
run "python without torch" -- "$tmp/py-notorch"
bad
has "cannot import torch"
run "no such python" -- "$tmp/no-such-python"
bad
has "no $tmp/no-such-python on PATH"
mkdir -p "$tmp/noheaders/torch/lib"
stub_python "$tmp/py-noheaders" "$tmp/noheaders/torch" "2.11.0" 1 "" ""
run "no headers" -- "$tmp/py-noheaders"
bad
has "no libtorch headers"

# An unpacked libtorch zip, C++11 ABI (detected from libc10.so), CUDA 12 with the bundled runtime.
z="$tmp/libtorch-cxx11"
torch_tree "$z"
printf 'junk _ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE4sizeEv junk' >"$z/lib/libc10.so"
echo "2.5.1+cu124" >"$z/build-version"
mk "$z/lib/libtorch_cuda.so"
mk "$z/lib/libc10_cuda.so"
mk "$z/lib/libcudart-9335f6a2.so.12"
run "zip cxx11 cuda, no toolkit" LIBTORCH="$z" -- 
bad
has "cuda_runtime_api.h was found in none of"
run "zip cxx11 cuda" LIBTORCH="$z" CUDA_HOME="$tmp/toolkit" --
ok
has "# torch 2.5.1+cu124"
has "-D_GLIBCXX_USE_CXX11_ABI=1"
has "-isystem $z/include -isystem $z/include/torch/csrc/api/include"
has "-l:libcudart-9335f6a2.so.12"
has "-L$z/lib"
# The same zip, pre-C++11 ABI (no __cxx11 symbols), CPU only; then the ABI given explicitly.
z="$tmp/libtorch-old"
torch_tree "$z"
printf 'junk _ZNKSs4sizeEv junk' >"$z/lib/libc10.so"
run "zip old abi" LIBTORCH="$z" --
ok
has "-D_GLIBCXX_USE_CXX11_ABI=0"
hasnt "TT_WITH_CUDA"
run "zip abi override" LIBTORCH="$z" LIBTORCH_CXX11_ABI=1 --
ok
has "-D_GLIBCXX_USE_CXX11_ABI=1"
run "zip abi bad" LIBTORCH="$z" LIBTORCH_CXX11_ABI=yes --
bad
has "neither 0 nor 1"
run "zip not a dir" LIBTORCH="$tmp/nothing" --
bad
has "is not a directory"
rm "$z/lib/libtorch_cpu.so"
run "zip missing a library" LIBTORCH="$z" --
bad
has "libtorch_cpu.so not found"

# ---- Bad input: each a single line naming the problem and what to install. ----

# A torch older than 2.0, from Python and from a zip's version.h; TORCHENV_MIN moves the floor.
site="$tmp/old/site-packages"
torch_tree "$site/torch"
stub_python "$tmp/py-old" "$site/torch" "1.13.1+cpu" 1 "" ""
run "torch 1.13 from python" -- "$tmp/py-old"
bad
oneline
has "torch 1.13.1+cpu is older than 2.0"
has "install.sh --torch2"
z="$tmp/libtorch-113"
torch_tree "$z"
printf '#define TORCH_VERSION_MAJOR 1\n#define TORCH_VERSION_MINOR 13\n' >"$z/include/torch/csrc/api/include/torch/version.h"
run "torch 1.13 zip" LIBTORCH="$z" --
bad
oneline
has "torch 1.13 is older than 2.0"
stub_python "$tmp/py-215" "$tmp/cpu/site-packages/torch" "2.15.0+cpu" 1 "" ""
run "TORCHENV_MIN above the version" TORCHENV_MIN=2.16 -- "$tmp/py-215"
bad
has "torch 2.15.0+cpu is older than 2.16"
run "2.15 passes the default floor" -- "$tmp/py-215"
ok

# Headers that demand C++20 get -std=c++20.
site="$tmp/cxx20/site-packages"
torch_tree "$site/torch"
printf '#if __cplusplus < 202002L\n#error C++20 or later compatible compiler is required to use ATen.\n#endif\n' >"$site/torch/include/ATen/ATen.h"
stub_python "$tmp/py-cxx20" "$site/torch" "2.15.0+cpu" 1 "" ""
run "C++20 headers" -- "$tmp/py-cxx20"
ok
has "-std=c++20"
hasnt "-std=c++17"

# A CPU-only torch with TORCHENV_CUDA=1.
run "cpu torch, TORCHENV_CUDA=1" TORCHENV_CUDA=1 -- "$tmp/py-cpu"
bad
oneline
has "TORCHENV_CUDA=1 but torch 2.11.0+cpu"
has "is a CPU-only build (no lib/libtorch_cuda.so): install PyTorch's CUDA build"
# ... while a CUDA torch with TORCHENV_CUDA=1 builds for CUDA.
run "cuda torch, TORCHENV_CUDA=1" TORCHENV_CUDA=1 -- "$tmp/py-cu13"
ok
has "-DTT_WITH_CUDA=1"

# CUDA 13 wheels without nccl.h, and without the crt/ headers that cuda_runtime.h includes.
site="$tmp/cu13bad/site-packages"
torch_tree "$site/torch"
mk "$site/torch/lib/libtorch_cuda.so"
mk "$site/torch/lib/libc10_cuda.so"
mk "$site/nvidia/cu13/include/cuda_runtime_api.h"
printf '#include "crt/host_config.h"\n' >"$site/nvidia/cu13/include/cuda_runtime.h"
mk "$site/nvidia/cu13/lib/libcudart.so.13"
mk "$site/nvidia/nccl/lib/libnccl.so.2"
stub_python "$tmp/py-cu13bad" "$site/torch" "2.15.0+cu132" 1 "13.2" "$site/nvidia" "13.2.86"
run "cu13, no crt headers" -- "$tmp/py-cu13bad"
bad
oneline
has "cuda_runtime.h includes crt/host_config.h, found in none of"
has "pip: install nvidia-cuda-crt==13.2.86"
mk "$site/nvidia/cu13/include/crt/host_config.h"
run "cu13, no nccl.h" -- "$tmp/py-cu13bad"
bad
oneline
has "libtorch has CUDA but nccl.h was found in none of"
has "$site/nvidia/nccl/include"
has "pip: install nvidia-nccl-cu13"
mk "$site/nvidia/nccl/include/nccl.h"
run "cu13, crt and nccl.h present" -- "$tmp/py-cu13bad"
ok
has "-isystem $site/nvidia/nccl/include"
has "-DTT_WITH_CUDA=1"

# Another C++ ABI: Python says C++11 but libc10.so has no std::__cxx11 symbol (and the reverse).
site="$tmp/abimix/site-packages"
torch_tree "$site/torch"
printf 'junk _ZNKSs4sizeEv junk' >"$site/torch/lib/libc10.so"
stub_python "$tmp/py-abimix" "$site/torch" "2.15.0" 1 "" ""
run "python abi 1, library abi 0" -- "$tmp/py-abimix"
bad
oneline
has "libc10.so uses the pre-C++11 (_GLIBCXX_USE_CXX11_ABI=0) C++ ABI but $tmp/py-abimix reports C++11"
stub_python "$tmp/py-abimatch" "$site/torch" "2.15.0" 0 "" ""
run "python abi 0, library abi 0" -- "$tmp/py-abimatch"
ok
has "-D_GLIBCXX_USE_CXX11_ABI=0"
printf 'junk _ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE4sizeEv junk' >"$site/torch/lib/libc10.so"
run "python abi 0, library abi 1" -- "$tmp/py-abimatch"
bad
oneline
has "uses the C++11 (_GLIBCXX_USE_CXX11_ABI=1) C++ ABI but $tmp/py-abimatch reports pre-C++11"

# A library for another CPU architecture (an ELF header whose e_machine is not this host's).
site="$tmp/arch/site-packages"
torch_tree "$site/torch"
if [[ "$(uname -m)" == aarch64 ]]; then m='\x3e\x00' other=x86_64; else m='\xb7\x00' other=aarch64; fi
printf "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00$m\x01\x00\x00\x00" >"$site/torch/lib/libc10.so"
stub_python "$tmp/py-arch" "$site/torch" "2.15.0" 0 "" ""
run "library of another architecture" -- "$tmp/py-arch"
bad
oneline
has "libc10.so is built for $other but this machine is $(uname -m): install the $(uname -m) build of torch"

# A library that needs a newer libstdc++ than this machine's: a real shared object linked
# against a stand-in libstdc++.so.6 that defines the symbol version GLIBCXX_3.4.99.
if command -v gcc >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1; then
  site="$tmp/glibcxx/site-packages"
  torch_tree "$site/torch"
  d="$tmp/newstdcxx"
  mkdir -p "$d"
  printf 'GLIBCXX_3.4.99 { global: tt_fake_new; local: *; };\n' >"$d/v.map"
  printf 'int tt_fake_new(void) { return 1; }\n' >"$d/s.c"
  printf 'int tt_fake_new(void);\nint c10_fake(void) { return tt_fake_new(); }\n' >"$d/c.c"
  if gcc -shared -fPIC -Wl,--version-script="$d/v.map" -Wl,-soname,libstdc++.so.6 -o "$d/libstdc++.so.6" "$d/s.c" &&
    gcc -shared -fPIC -o "$site/torch/lib/libc10.so" "$d/c.c" "$d/libstdc++.so.6"; then
    stub_python "$tmp/py-glibcxx" "$site/torch" "2.15.0" 0 "" ""
    run "library needs a newer libstdc++" -- "$tmp/py-glibcxx"
    bad
    oneline
    has "torch 2.15.0 needs libstdc++ symbols GLIBCXX_3.4.99 but this machine's"
    has "install a torch built for this system's C++ library"
  else
    echo "FAIL could not build the stand-in libraries with gcc"
    fails=$((fails + 1))
  fi
else
  echo "SKIP libstdc++ version check: no gcc or readelf"
fi

if [[ $fails -gt 0 ]]; then
  echo "torchenv_test: $fails failures"
  exit 1
fi
echo "torchenv_test: all passed"
