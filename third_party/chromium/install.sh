#!/usr/bin/env bash
# Installs Debian's chromium, which the web page test of examples/serve drives headless
# (examples/serve/internal/server/web_test.go). Safe to run twice.
set -euo pipefail

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "chromium/install.sh: chromium already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium/install.sh: this script needs Debian's apt; install Chromium yourself." >&2
  exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
echo "chromium/install.sh: installing chromium"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
echo "chromium/install.sh: done"
