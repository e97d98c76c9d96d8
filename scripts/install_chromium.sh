#!/usr/bin/env bash
# Make sure a Chromium for the browser tests (fpbench.reports.browser, `tox -e browser`) is on this machine:
# nothing to do when $FPBENCH_CHROMIUM, chromium, chromium-browser or google-chrome is already there, else
# Debian's package (apt-get update only when the install fails on a stale package list). Needs root or sudo.
# Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail
if [ -n "${FPBENCH_CHROMIUM:-}" ] && [ -x "$FPBENCH_CHROMIUM" ]; then
    exit 0
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null || [ -x "/usr/bin/$name" ]; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null; then
    echo "install_chromium.sh: no Chromium and no apt-get: install Chromium or Chrome yourself and set" \
         "FPBENCH_CHROMIUM to its binary" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "install_chromium.sh: installing Debian's chromium" >&2
$sudo apt-get install -y -q chromium >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
