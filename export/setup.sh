#!/usr/bin/env bash
# Creates (once) the Python environment for training, export and quantisation,
# and prints its path. It is large (PyTorch pulls CUDA wheels), so it lives in
# a cache keyed by the requirements' hash and is reused between runs:
# ${ARTRT_CACHE:-~/.cache/artrt}/export-venv-<hash>. The `art_export` package
# itself is installed editable, so source changes need no reinstall.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="${ARTRT_CACHE:-$HOME/.cache/artrt}"
hash=$(cat "$here/requirements.txt" "$here/pyproject.toml" | sha256sum | cut -c1-12)
venv="$cache/export-venv-$hash"
if [ ! -f "$venv/.complete" ]; then
    echo "setup: creating $venv (PyTorch, onnx, onnxruntime; several minutes)" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check -r "$here/requirements.txt" >&2
    touch "$venv/.complete"
fi
"$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation -e "$here" >&2
echo "$venv"
