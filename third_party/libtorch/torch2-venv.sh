#!/usr/bin/env bash
# Makes the torch 2.x environment of CI's second lane (install.sh --torch2 runs it after the
# Debian packages): a virtual environment at .torch2/ in the repository, ignored by git, holding
# exactly the versions pinned in torch2-requirements.txt. When every pinned version is already
# installed it downloads nothing. A failed download or install ends with one line naming the
# package pip stopped at and the log that holds the rest.
#
#   bash third_party/libtorch/torch2-venv.sh      (or: install.sh --torch2)
#
# Environment (for tests): TORCH2_VENV another folder for the environment, TORCH2_REQUIREMENTS
# another pin file, TORCH2_PYTHON the Python that makes it (default Debian's /usr/bin/python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${TORCH2_VENV:-$root/.torch2}"
req="${TORCH2_REQUIREMENTS:-$here/torch2-requirements.txt}"
base="${TORCH2_PYTHON:-/usr/bin/python3}"
[[ -x "$base" ]] || base=$(command -v python3 || true)

die() {
  echo "install.sh --torch2: $*" >&2
  exit 1
}

# check: exit 0 when the environment's Python runs and holds every pinned version; else it
# prints the first difference.
check() {
  [[ -x "$venv/bin/python" ]] || { echo "no environment at $venv"; return 1; }
  "$venv/bin/python" - "$req" <<'PY'
import re, sys
from importlib import metadata

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = metadata.version(norm(name))
    except metadata.PackageNotFoundError:
        print(f"{name} is not installed")
        sys.exit(1)
    if have != want:
        print(f"{name} is {have}, pinned {want}")
        sys.exit(1)
PY
}

if why=$(check 2>&1); then
  echo "install.sh --torch2: $venv already holds the pinned set ($(grep -m1 '^torch==' "$req"))"
  exit 0
fi
echo "install.sh --torch2: $why; installing the pinned set into $venv"

[[ -n "$base" ]] || die "no python3 to make the environment with (Debian: apt-get install python3 python3-venv)"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  "$base" -m venv --clear "$venv" >/dev/null 2>&1 ||
    die "$base -m venv $venv failed (Debian: apt-get install python3-venv)"
fi

log="$venv/pip-install.log"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -r "$req" >"$log" 2>&1; then
  # pip's own reason: its last ERROR line (no matching distribution, a network error, no space).
  reason=$(grep -E '^ERROR:' "$log" | tail -n1 | cut -c1-200)
  die "pip could not install the pinned set${reason:+: ${reason#ERROR: }} (full log: $log)"
fi
why=$(check 2>&1) || die "after pip install, $why (full log: $log)"
echo "install.sh --torch2: $venv ready ($(grep -m1 '^torch==' "$req"), $(du -sh "$venv" | cut -f1))"
