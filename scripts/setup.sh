#!/usr/bin/env bash
# Create .venv and install fpbench with the exact versions CI uses (constraints/ci.txt).
# torch 2.14.1 / torchvision 0.29.1 come from the local wheel store where one is configured.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -c constraints/ci.txt -e ".[test]"
