#!/usr/bin/env bash
# Prepares this machine for building and running the runtime:
# - libclang (the v4l crate generates its V4L2 bindings with it),
# - `.venv/`, a small Python environment whose `onnxruntime` wheel ships
#   `libonnxruntime.so`, loaded by `artrt` at run time (no PyTorch), and
#   whose `nvidia-cuda-nvrtc-cu12` wheel ships NVRTC, with which the tests
#   compile the GPU preprocessing kernels without a GPU.
# Idempotent: a second run does nothing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so'; then
    echo "setup: installing libclang-dev (needed to build V4L2 bindings)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends libclang-dev >/dev/null
fi

venv="$root/.venv"
req="$root/runtime/requirements.txt"
if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
    echo "setup: creating $venv with ONNX Runtime"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements"
fi
