#!/usr/bin/env bash
# Tests linkcheck.sh on small binaries linked with gcc against stand-in libraries that carry
# the real names (libtorch_cuda.so, libc10_cuda.so, libcudart.so.13, libnccl.so.2): a binary
# that links all of them with an rpath passes; one that drops c10_cuda, one whose libtorch_cuda
# does not need NCCL, one whose libtorch_cuda cannot find its NCCL, and one without an rpath
# (resolved only through LD_LIBRARY_PATH) fail, each naming the problem.
#
#   bash third_party/libtorch/linkcheck_test.sh   (prints PASS/FAIL lines; exit 1 on a failure)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/linkcheck.sh"
command -v gcc >/dev/null 2>&1 || { echo "SKIP linkcheck_test: no gcc"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

check() { # name want-exit want-substring binary [env...]
  local name=$1 want=$2 sub=$3 bin=$4
  shift 4
  out=$(env "$@" bash "$script" "$bin" 2>&1)
  rc=$?
  if [[ ($want == 0 && $rc == 0) || ($want != 0 && $rc != 0) ]] && [[ "$out" == *"$sub"* ]]; then
    echo "PASS $name"
  else
    echo "FAIL $name: exit $rc, want $want and '$sub' in:"
    sed 's/^/    /' <<<"$out"
    fails=$((fails + 1))
  fi
}

lib="$tmp/lib"
mkdir -p "$lib"
so() { # file soname [gcc args...]: a shared object with one function named after it
  local f=$1 n=$2
  shift 2
  local fn
  fn="f_$(tr -c 'a-z0-9\n' '_' <<<"$n")"
  echo "int $fn(void) { return 0; }" >"$tmp/$n.c"
  gcc -shared -fPIC -Wl,-soname,"$n" -o "$f" "$tmp/$n.c" "$@"
}
so "$lib/libnccl.so.2" libnccl.so.2 &&
  so "$lib/libcudart.so.13" libcudart.so.13 &&
  so "$lib/libc10_cuda.so" libc10_cuda.so &&
  so "$lib/libtorch_cuda.so" libtorch_cuda.so -Wl,--no-as-needed "$lib/libnccl.so.2" -Wl,-rpath,'$ORIGIN' || {
  echo "FAIL could not build the stand-in libraries"
  exit 1
}
# libtorch_cuda without its own rpath: the binary's RUNPATH does not serve its NCCL.
mkdir -p "$tmp/norp"
so "$tmp/norp/libtorch_cuda.so" libtorch_cuda.so -Wl,--no-as-needed "$lib/libnccl.so.2"
cp "$lib/libc10_cuda.so" "$lib/libcudart.so.13" "$lib/libnccl.so.2" "$tmp/norp/"
mkdir -p "$tmp/nonccl"
so "$tmp/nonccl/libtorch_cuda.so" libtorch_cuda.so
cp "$lib/libc10_cuda.so" "$lib/libcudart.so.13" "$tmp/nonccl/"
echo 'int main(void) { return 0; }' >"$tmp/main.c"

# link out dir [libs...]
link() {
  local out=$1 dir=$2
  shift 2
  gcc -o "$out" "$tmp/main.c" -L"$dir" "$@"
}
link "$tmp/good" "$lib" -Wl,-rpath,"$lib" -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:libcudart.so.13 -Wl,-rpath-link,"$lib"
check "all linked with an rpath" 0 "links libtorch_cuda, c10_cuda, the CUDA runtime and NCCL" "$tmp/good"
check "all linked: where libnccl resolves" 0 "libnccl.so.2 => $lib/libnccl.so.2" "$tmp/good"

link "$tmp/norp-bin" "$tmp/norp" -Wl,-rpath,"$tmp/norp" -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:libcudart.so.13 -Wl,-rpath-link,"$tmp/norp"
check "NCCL unresolved from libtorch_cuda" 1 "unresolved without LD_LIBRARY_PATH: libnccl.so.2" "$tmp/norp-bin"

link "$tmp/noc10" "$lib" -Wl,-rpath,"$lib" -Wl,--no-as-needed -ltorch_cuda -l:libcudart.so.13 -Wl,-rpath-link,"$lib"
check "c10_cuda dropped" 1 "libc10_cuda is not NEEDED by $tmp/noc10" "$tmp/noc10"

link "$tmp/nonccl-bin" "$tmp/nonccl" -Wl,-rpath,"$tmp/nonccl" -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:libcudart.so.13
check "libtorch_cuda without NCCL" 1 "libnccl is not NEEDED by $tmp/nonccl/libtorch_cuda.so" "$tmp/nonccl-bin"

link "$tmp/norpath" "$lib" -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -l:libcudart.so.13 -Wl,-rpath-link,"$lib"
check "no rpath, LD_LIBRARY_PATH ignored" 1 "unresolved without LD_LIBRARY_PATH: libtorch_cuda.so libc10_cuda.so libcudart.so.13" \
  "$tmp/norpath" LD_LIBRARY_PATH="$lib"

check "no such file" 1 "no file $tmp/missing" "$tmp/missing"

if [[ $fails -gt 0 ]]; then
  echo "linkcheck_test: $fails failures"
  exit 1
fi
echo "linkcheck_test: all passed"
