#!/usr/bin/env bash
# Runs the GPU checks on a machine with an NVIDIA GPU and a Python with a PyTorch 2.x (CUDA),
# which may have no Go, and prints one summary table:
#
#   go          Go from PATH, or unpacked (with Python's tarfile) from .gotoolchain/go.tar.xz,
#               with the module's dependencies from .gotoolchain/vendor (both made beforehand
#               by third_party/libtorch/pack-go.sh on a machine with Go)
#   torchenv    the build flags for that PyTorch (torchenv.sh)
#   gpu         what nvidia-smi and torch.cuda report (information only)
#   build       go build -tags torchenv ./...
#   cuda-tests  the tests whose names contain CUDA, in every package (-v)
#   suite       go test -tags torchenv ./... (every package)
#   quickstart  examples/quickstart -device cuda (the tiny PRS-Med on synthetic data)
#   compare     (only when named in GPU_CHECK_STAGES) issue 16's paper-size comparison:
#               examples/benchstep against third_party/bench/paper_step.py, alternately,
#               through third_party/bench/gpu_step_compare.py, with what is left of the
#               budget; its table goes to the logs (compare/summary.md) and the output.
#               Needs transformers and peft in that Python. GPU_CHECK_COMPARE_ARGS adds
#               flags (e.g. "--rounds 3 --configs bf16:8,predict-bf16:1").
#
# Without a CUDA device (torch.cuda.device_count() is 0, as on CI's CPU machines) it rehearses
# everything that launches no kernel: the stages go, torchenv and build run as usual, a
# test-build stage builds every package's test binary and starts it with no test selected
# (go test -run '^$'), the kernel stages
# (cuda-tests, suite, quickstart, compare) are skipped, and it ends with "no CUDA device: N
# checks skipped" and exit 0 when the rest passed. GPU_CHECK_GO=packed makes the go stage
# use .gotoolchain/ even when Go is on PATH (as on a GPU machine without Go).
#
# GPU_CHECK_STAGES lists the stages after torchenv to run (default
# build,cuda-tests,suite,quickstart); for the comparison alone, with a longer budget:
#
#   GPU_CHECK_STAGES=build,compare GPU_CHECK_BUDGET=540 bash third_party/libtorch/gpu-check.sh
#
# Each stage has a time limit and the whole stays under GPU_CHECK_BUDGET seconds (default
# 470); a stage that would start with too little time left is skipped, and the suite leaves
# GPU_CHECK_QUICKSTART_RESERVE seconds (default 150) to the quickstart. Extra quickstart flags
# can be given in GPU_CHECK_QUICKSTART_ARGS. Logs go to
# GPU_CHECK_LOGS (default $OUT/gpu-check when OUT is set, else /tmp/gpu-check). The exit status
# is 0 when every stage that ran passed. A C++ compiler (g++) must be on the machine.
#
#   bash third_party/libtorch/gpu-check.sh [python]
set -uo pipefail
cd "$(dirname "$0")/../.."
py="${1:-python3}"
budget="${GPU_CHECK_BUDGET:-470}"
deadline=$((SECONDS + budget))
logs="${GPU_CHECK_LOGS:-${OUT:+$OUT/gpu-check}}"
logs="${logs:-/tmp/gpu-check}"
mkdir -p "$logs"
rows=()
failed=0
made_vendor=""
cleanup() { [[ -n "$made_vendor" ]] && rm -f vendor; }
trap cleanup EXIT

# row stage status seconds note
row() { rows+=("$1|$2|$3|$4"); [[ "$2" == ok || "$2" == skip || "$2" == info ]] || failed=1; }

# stage name limit note-function command...: runs the command under timeout, logging to
# $logs/name.log, and adds a row whose note comes from note-function (given the log).
stage() {
  local name=$1 limit=$2 notefn=$3
  shift 3
  local left=$((deadline - SECONDS - 5))
  ((limit > left)) && limit=$left
  if ((limit < 15)); then
    row "$name" skip 0 "no time left in the ${budget}s budget"
    return 1
  fi
  local start=$SECONDS rc status
  timeout -k 10 "$limit" bash -c '"$@"' _ "$@" >"$logs/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status=TIMEOUT ;;
    *) status=FAIL ;;
  esac
  local note
  note=$("$notefn" "$logs/$name.log" "$limit")
  [[ $status == TIMEOUT ]] && note="over ${limit}s; $note"
  [[ $status == FAIL ]] && note="exit $rc; $note"
  row "$name" "$status" $((SECONDS - start)) "$note"
  [[ $status == ok ]]
}

lastline() { grep -v '^\s*$' "$1" | tail -n1 | cut -c1-110; }
testcounts() {
  local p f s
  p=$(grep -c -- '--- PASS' "$1")
  f=$(grep -c -- '--- FAIL' "$1")
  s=$(grep -c -- '--- SKIP' "$1")
  local first
  first=$(grep -m1 -E -- '--- FAIL|^FAIL|panic:|error:' "$1" | cut -c1-80)
  echo "$p passed, $f failed, $s skipped${first:+; first: $first}"
}
suitecounts() {
  local ok fl first
  ok=$(grep -cE '^ok ' "$1")
  fl=$(grep -cE '^(FAIL|---.FAIL)\s' "$1")
  first=$(grep -m1 -E -- '^--- FAIL|^FAIL\s|panic:' "$1" | cut -c1-80)
  echo "$ok packages ok, $fl FAIL lines${first:+; first: $first}"
}
goalnote() {
  local g
  g=$(grep -m1 '^goals:' "$1" | cut -c1-110)
  echo "${g:-$(lastline "$1")}"
}

# ---- go ----
setup_go() {
  if [[ "${GPU_CHECK_GO:-}" != packed ]] && command -v go >/dev/null 2>&1; then
    echo "go from PATH: $(command -v go)"
  elif [[ -x .gotoolchain/go/bin/go ]]; then
    echo "go already unpacked in .gotoolchain/go"
  elif [[ -f .gotoolchain/go.tar.xz ]]; then
    "$py" - .gotoolchain/go.tar.xz .gotoolchain <<'PY' || return 1
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    try:
        t.extractall(sys.argv[2], filter="data")
    except TypeError:  # Python < 3.12 without extraction filters
        t.extractall(sys.argv[2])
PY
    echo "unpacked .gotoolchain/go.tar.xz with $py"
  else
    echo "no go on PATH and no .gotoolchain/go.tar.xz: run third_party/libtorch/pack-go.sh on a machine with Go and carry .gotoolchain/"
    return 1
  fi
  command -v g++ >/dev/null 2>&1 || { echo "no g++ on this machine: cgo cannot compile the shim"; return 1; }
}
gonote() { lastline "$1"; }
export py logs envfile
export -f setup_go
export GPU_CHECK_GO="${GPU_CHECK_GO:-}"
if stage go 90 gonote setup_go; then
  if [[ "$GPU_CHECK_GO" == packed ]] || ! command -v go >/dev/null 2>&1; then
    export PATH="$PWD/.gotoolchain/go/bin:$PATH" GOROOT="$PWD/.gotoolchain/go"
  fi
  export GOTOOLCHAIN=local GOPROXY=off GOCACHE="${GOCACHE:-/tmp/gpu-check-gocache}" CGO_ENABLED=1
  if [[ -d .gotoolchain/vendor && ! -e vendor ]]; then
    ln -s .gotoolchain/vendor vendor && made_vendor=1
  fi
  if [[ -e vendor ]]; then export GOFLAGS="${GOFLAGS:-} -mod=vendor"; else export GOFLAGS="${GOFLAGS:-} -mod=mod"; fi
  rows[-1]="${rows[-1]%|*}|$(go version 2>&1 | cut -c1-60)$([[ -e vendor ]] && echo ', vendored deps')"
else
  failed=1
fi

# ---- torchenv ----
envfile="$logs/torchenv.env"
torchenv() { bash third_party/libtorch/torchenv.sh "$py" >"$envfile"; }
envnote() { head -n1 "$envfile" 2>/dev/null | sed 's/^# //' | cut -c1-110; }
errnote() { lastline "$1"; }
export -f torchenv
if stage torchenv 30 errnote torchenv; then
  # shellcheck disable=SC1090
  source "$envfile"
  rows[-1]="${rows[-1]%|*}|$(envnote)"
fi

# ---- gpu (information) ----
gpuinfo() {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -n1
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())' 2>&1 | tail -n1
  true
}
gpunote() { paste -sd ';' "$1" | cut -c1-110; }
export -f gpuinfo
stage gpu 30 gpunote gpuinfo
rows[-1]="${rows[-1]/|ok|/|info|}"
# No CUDA device: the stages that launch kernels are skipped (and counted), the rest rehearsed.
nodevice=""
grep -qE 'devices [1-9]' "$logs/gpu.log" 2>/dev/null || nodevice=1
skipped=0
nodev() { row "$1" skip 0 "no CUDA device"; skipped=$((skipped + 1)); }

stages=",${GPU_CHECK_STAGES:-build,cuda-tests,suite,quickstart},"
want() { [[ "$stages" == *",$1,"* ]]; }

gobuild() { go build -tags torchenv ./...; }
compare() {
  go build -tags torchenv -o "$logs/benchstep" ./examples/benchstep &&
    "$py" third_party/bench/gpu_step_compare.py --go "$logs/benchstep" --python "$py" --budget "$1" \
      --out "$logs/compare" ${GPU_CHECK_COMPARE_ARGS:-}
}
comparenote() {
  local first
  first=$(grep -m1 -E '^\| (autocast|bf16|f32|predict)' "$logs/compare/summary.md" 2>/dev/null | cut -c1-100)
  echo "${first:-$(lastline "$1")}; table: compare/summary.md"
}
cudatests() { go test -tags torchenv -count=1 -timeout 150s -run CUDA -v ./...; }
# Every package's test binary, as the kernel stages build them, linked and started with no
# test selected (-run '^$': only package initialisation and TestMain run, no kernel).
testbuild() { go test -tags torchenv -count=1 -run '^$' ./...; }
testbuildnote() { echo "$(grep -cE '^ok ' "$1") test binaries built and started, $(grep -cE '^FAIL' "$1") FAIL lines"; }
suite() { go test -tags torchenv -count=1 -timeout 240s ./...; }
quickstart() {
  go run -tags torchenv ./examples/quickstart -device cuda -out "$logs/quickstart-out" ${GPU_CHECK_QUICKSTART_ARGS:-}
}
export py logs envfile
export -f setup_go torchenv gpuinfo gobuild cudatests testbuild suite quickstart compare
if command -v go >/dev/null 2>&1 && [[ -n "${CGO_CXXFLAGS:-}" && -n "$nodevice" ]]; then
  want build && stage build 200 errnote gobuild
  stage test-build 300 testbuildnote testbuild
  for s in cuda-tests suite quickstart compare; do want "$s" && nodev "$s"; done
elif command -v go >/dev/null 2>&1 && [[ -n "${CGO_CXXFLAGS:-}" ]]; then
  want build && stage build 200 errnote gobuild
  want cuda-tests && stage cuda-tests 180 testcounts cudatests
  if want suite; then
    # Leave the quickstart its share of the budget: the suite gets what remains after it.
    reserve=0
    want quickstart && reserve="${GPU_CHECK_QUICKSTART_RESERVE:-150}"
    suite_limit=$((deadline - SECONDS - 5 - reserve))
    ((suite_limit > 260)) && suite_limit=260
    stage suite "$suite_limit" suitecounts suite
  fi
  want quickstart && stage quickstart 200 goalnote quickstart
  if want compare; then
    # The comparison takes what is left, less a margin for its own summary.
    left=$((deadline - SECONDS - 15))
    stage compare "$left" comparenote compare $((left - 20))
  fi
else
  for s in build cuda-tests suite quickstart compare; do want "$s" && row "$s" skip 0 "no Go or no torchenv flags"; done
fi
[[ -f "$logs/compare/summary.md" ]] && { echo; cat "$logs/compare/summary.md"; }

# ---- summary ----
echo
printf '%-11s %-7s %6s  %s\n' stage result seconds note
printf '%-11s %-7s %6s  %s\n' ----- ------ ------- ----
for r in "${rows[@]}"; do
  IFS='|' read -r n s t note <<<"$r"
  printf '%-11s %-7s %6s  %s\n' "$n" "$s" "$t" "$note"
done
echo "total ${SECONDS}s of a ${budget}s budget; logs in $logs"
if [[ -n "$nodevice" ]]; then
  echo "no CUDA device: $skipped checks skipped"
fi
exit $failed
