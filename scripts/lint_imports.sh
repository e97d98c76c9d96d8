#!/usr/bin/env bash
# Check the import contracts of .importlinter (the floors of fpbench) against the package as installed:
# the editable install maps attacks/, baselines/ and reports/ into fpbench through an import hook that
# import-linter cannot walk, so the package is installed (no dependencies) into a scratch folder first.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
python -m pip install -q --no-deps --no-build-isolation --target "$target" . >/dev/null
PYTHONPATH="$target" lint-imports --config .importlinter "$@"
