#!/usr/bin/env bash
# Builds `artrt` for Jetson boards: aarch64, glibc 2.31 (JetPack 5 and 6),
# V4L2, the TensorRT and CUDA providers and the synthetic source, into
# target/aarch64-unknown-linux-gnu/release/artrt. Installs what it needs
# (once): Debian's aarch64 C and C++ runtime, binutils and qemu-user, the Rust target, zig and
# cargo-zigbuild in ${ARTRT_CACHE:-~/.cache/artrt}/cross-venv-<hash>, and the
# aarch64 ONNX Runtime library in target/aarch64-onnxruntime/.
#
#   bash runtime/scripts/aarch64.sh            # setup and build
#   bash runtime/scripts/aarch64.sh --setup    # setup only
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

packages=(libc6-arm64-cross libstdc++6-arm64-cross qemu-user binutils-aarch64-linux-gnu)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "aarch64: installing ${missing[*]}"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu

# Outside the source tree: zig names its library folder relative to the
# current directory when it lies below it, and build scripts, which run
# elsewhere, would not find zig's headers.
req="$root/runtime/requirements-cross.txt"
cache="${ARTRT_CACHE:-$HOME/.cache/artrt}"
venv="$cache/cross-venv-$(sha256sum "$req" | cut -c1-12)"
if [ ! -f "$venv/.complete" ]; then
    echo "aarch64: creating $venv with zig and cargo-zigbuild"
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check -r "$req"
    touch "$venv/.complete"
fi

# ONNX Runtime's aarch64 CPU library, from the same release as the x86 one.
ort_version=$(sed -n 's/^onnxruntime==//p' runtime/requirements.txt)
ort_dir="$root/target/aarch64-onnxruntime"
if [ ! -f "$ort_dir/$ort_version/libonnxruntime.so" ]; then
    echo "aarch64: fetching the onnxruntime $ort_version aarch64 wheel"
    tmp=$(mktemp -d)
    "$venv/bin/pip" download -q --no-cache-dir --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform manylinux_2_28_aarch64 --python-version 3.11 -d "$tmp" "onnxruntime==$ort_version"
    python3 - "$tmp"/onnxruntime-*.whl "$ort_dir/$ort_version" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    libs = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so")]
    if not libs:
        sys.exit(f"{wheel}: no libonnxruntime.so inside")
    (out / "libonnxruntime.so").write_bytes(z.read(libs[0]))
PY
    rm -rf "$tmp"
fi
[ "${1:-}" = "--setup" ] && exit 0

export PATH="$venv/bin:$PATH"
cargo zigbuild --release -p artrt --target aarch64-unknown-linux-gnu.2.31 \
    --features jetson,synthetic
bin="$root/target/aarch64-unknown-linux-gnu/release/artrt"
newest=$(aarch64-linux-gnu-objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "aarch64: $bin needs at most $newest"
if [ "$(printf '%s\n' "$newest" GLIBC_2.31 | sort -V | tail -1)" != GLIBC_2.31 ]; then
    echo "aarch64: $bin needs $newest, newer than JetPack 5's GLIBC_2.31" >&2
    exit 1
fi
