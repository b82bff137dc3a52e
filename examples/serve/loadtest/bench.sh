#!/usr/bin/env bash
# Measures examples/serve on this machine (loopback only), as reported in BENCHMARKS.md:
#   1. 8 concurrent clients for DURATION with dynamic batching (-max-batch 8) and without
#      (-max-batch 1): requests/s, p50/p99 latency, errors;
#   2. the server's RSS after 500 and after 5000 requests (8 clients, batching on).
# Usage: examples/serve/loadtest/bench.sh CHECKPOINT [DURATION] [IMAGE]
# ROUNDS=5 repeats part 1 five times, alternating the two settings (default 1);
# SERVE_FLAGS adds flags to the server (e.g. "-threads 1"); SKIP_MEMORY=1 skips part 2.
set -euo pipefail
ckpt=${1:?usage: bench.sh CHECKPOINT [DURATION] [IMAGE]}
dur=${2:-30s}
img=${3:-}
cd "$(dirname "$0")/../../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/serve" ./examples/serve
go build -o "$bin/loadtest" ./examples/serve/loadtest
imgflag=()
[[ -n "$img" ]] && imgflag=(-image "$img")
port=18087

serve() { # serve MAXBATCH: starts the server, waits until it answers
  "$bin/serve" -checkpoint "$ckpt" -addr 127.0.0.1:$port -max-batch "$1" -max-wait 10ms -queue 64 ${SERVE_FLAGS:-} 2>"$bin/serve.log" &
  pid=$!
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench.sh: the server did not start" >&2; cat "$bin/serve.log" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

for round in $(seq "${ROUNDS:-1}"); do
  for mb in 8 1; do
    serve "$mb"
    "$bin/loadtest" -url "http://127.0.0.1:$port" -c 8 -d 3s "${imgflag[@]}" >/dev/null || true # warm-up
    echo "== round $round: -max-batch $mb, 8 clients, $dur (load average $(cut -d' ' -f1 /proc/loadavg))"
    "$bin/loadtest" -url "http://127.0.0.1:$port" -c 8 -d "$dur" "${imgflag[@]}" || true
    stop
  done
done
[[ "${SKIP_MEMORY:-}" == 1 ]] && exit 0

serve 8
echo "== memory: 5000 requests, -max-batch 8, 8 clients"
"$bin/loadtest" -url "http://127.0.0.1:$port" -c 8 -d 20m -n 5000 "${imgflag[@]}" -pid "$pid" -rss-at 1,500,1000,2500,5000 || true
stop
