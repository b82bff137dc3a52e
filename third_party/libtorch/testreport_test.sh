#!/usr/bin/env bash
# Tests testreport.py on hand-written `go test -json` streams: a CUDA test skipped for want of a
# device passes; any other skip, a failed test and a package that failed to build each fail
# the report, naming the test.
#
#   bash third_party/libtorch/testreport_test.sh   (prints PASS/FAIL lines; exit 1 on a failure)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=$(command -v python3) || { echo "FAIL no python3"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

ev() { printf '{"Action":"%s","Package":"p","Test":"%s","Output":"%s"}\n' "$@"; }
pkg() { printf '{"Action":"%s","Package":"%s"}\n' "$1" "$2"; }
# check name want-exit want-substring extra-args... < stream
check() {
  local name=$1 want=$2 sub=$3
  shift 3
  cat >"$tmp/log.json"
  out=$("$py" "$here/testreport.py" "$@" "$tmp/log.json" 2>&1)
  rc=$?
  if [[ ($want == 0 && $rc == 0) || ($want != 0 && $rc != 0) ]] && [[ "$out" == *"$sub"* ]]; then
    echo "PASS $name"
  else
    echo "FAIL $name: exit $rc, want $want and '$sub' in:"
    sed 's/^/    /' <<<"$out"
    fails=$((fails + 1))
  fi
}

{
  ev run TestA ""; ev pass TestA ""
  ev run TestCUDA ""; ev output TestCUDA '    cuda_test.go:18: no CUDA device (build with -tags torchenv)\\n'; ev skip TestCUDA ""
  pkg pass p
} | check "CUDA skip allowed" 0 "torch2: 1 passed, 0 failed, 1 skipped"

{
  ev run TestA ""; ev pass TestA ""
  ev run TestTok ""; ev output TestTok '    golden_test.go:115: TOKENIZER_GOLDEN is not set\\n'; ev skip TestTok ""
  pkg pass p
} | check "other skip refused" 1 "skip not allowed (only 'no CUDA device' may skip): p TestTok: golden_test.go:115: TOKENIZER_GOLDEN is not set"

{
  ev run TestTok ""; ev output TestTok '    golden_test.go:115: TOKENIZER_GOLDEN is not set\\n'; ev skip TestTok ""
  pkg pass p
} | check "other skip allowed by --allow" 0 "torch2: 0 passed, 0 failed, 1 skipped" --allow 'no CUDA device|TOKENIZER_GOLDEN'

{
  ev run TestB ""; ev output TestB '    b_test.go:9: got 2, want 3\\n'; ev fail TestB ""
  pkg fail p
} | check "failed test" 1 "b_test.go:9: got 2, want 3"

{
  printf '{"ImportPath":"q [q.test]","Action":"build-output","Output":"q/x.go:2:12: undefined: f\\n"}\n'
  printf '{"ImportPath":"q [q.test]","Action":"build-fail"}\n'
  printf '{"Action":"output","Package":"q","Output":"FAIL\\tq [build failed]\\n"}\n'
  pkg fail q
} | check "build failure" 1 "q/x.go:2:12: undefined: f"

if [[ $fails -gt 0 ]]; then
  echo "testreport_test: $fails failures"
  exit 1
fi
echo "testreport_test: all passed"
