#!/bin/sh
# Decode time of prsmed/imageio/dicom against pydicom, interleaved: a 512×512 16-bit CT
# slice (explicit VR little endian) and a 1024×1024 16-bit JPEG lossless (SV1) frame.
# Each run times N decodes per file in Go (Open + Frame: read, parse, decode, rescale) and
# then in pydicom (dcmread + pixel_array + apply_modality_lut; GDCM for JPEG lossless), and
# prints the mean time per decode of that run and the sum of the decoded values; the
# summary is the median and range of the runs' means.
# Needs python3-pydicom, python3-numpy and python3-gdcm under /usr/bin/python3.
#
# Usage: sh third_party/golden/medical_bench.sh [RUNS] [N]
set -eu
RUNS=${1:-7}
N=${2:-20}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
PY=/usr/bin/python3
REF=third_party/golden/medical_ref.py
$PY $REF bench "$DIR"
go test -c -o "$DIR/dicom.test" ./prsmed/imageio/dicom
for run in $(seq 1 "$RUNS"); do
	MEDICAL_BENCH_DIR=$DIR "$DIR/dicom.test" -test.run '^$' -test.bench 'BenchmarkDecode' -test.benchtime "${N}x" |
		awk -v run="$run" '/^BenchmarkDecode/ { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); printf "go %s %s %.3f sum %s\n", run, a[2], $3 / 1e6, $5 }'
	for f in ct512.dcm jll1024.dcm; do
		echo "pydicom $run $f $($PY $REF time "$DIR/$f" "$N" 2>/dev/null)"
	done
done | tee "$DIR/runs.txt"
echo "summary (ms per decode: median [min, max] of $RUNS runs of $N decodes):"
$PY - "$DIR/runs.txt" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for who in ("go", "pydicom"):
    for f in ("ct512.dcm", "jll1024.dcm"):
        t = [float(r[3]) for r in rows if r[0] == who and r[2] == f]
        sums = {r[5] for r in rows if r[0] == who and r[2] == f}
        print("  %-8s %-12s %9.3f [%.3f, %.3f]  value sum %s" % (who, f, statistics.median(t), min(t), max(t), ",".join(sorted(sums))))
PYEOF
