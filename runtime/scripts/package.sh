#!/usr/bin/env bash
# Builds the Debian package of artrt into target/debian/:
#
#   bash runtime/scripts/package.sh arm64   # Jetson boards, JetPack 5 and 6 (cross-built)
#   bash runtime/scripts/package.sh amd64   # x86-64 machines
#
# The binary is built in release with V4L2, the TensorRT and CUDA providers
# and the synthetic source, and shipped stripped; its debug symbols go into a
# separate artrt-dbgsym package (.ddeb) beside it, for gdb and
# symbolised backtraces. The package carries ONNX Runtime's CPU library of the
# architecture, the default bundle, the board profiles (/etc/artrt/board.toml
# is the architecture's usual board: jetson-orin-nano or x86-64-cpu), the
# systemd units and the udev rule. Installs cargo-deb (once).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

arch=${1:-}
deb_version=3.6.4
if ! cargo deb --version 2>/dev/null | grep -q "$deb_version"; then
    cargo install --locked cargo-deb@"$deb_version"
fi
ort_version=$(sed -n 's/^onnxruntime==//p' runtime/requirements.txt)
stage=target/debian/stage
rm -rf "$stage" && mkdir -p "$stage"
case "$arch" in
arm64)
    bash runtime/scripts/aarch64.sh
    triple=aarch64-unknown-linux-gnu
    cp "target/aarch64-onnxruntime/$ort_version/libonnxruntime.so" "$stage/"
    cp boards/jetson-orin-nano.toml "$stage/board.toml"
    target=(--target "$triple")
    ;;
amd64)
    bash runtime/setup.sh
    cargo build --release -p artrt --features jetson,synthetic
    cp "$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* | sort | tail -1)" "$stage/libonnxruntime.so"
    cp boards/x86-64-cpu.toml "$stage/board.toml"
    target=()
    ;;
*)
    echo "usage: $0 arm64|amd64" >&2
    exit 2
    ;;
esac

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cargo deb -p artrt --no-build --dbgsym --compress-debug-symbols=zlib "${target[@]}" --output target/debian/
package=$(ls -t target/debian/artrt_"$version"*_"$arch".deb | head -1)
size=$(stat -c %s "$package")
echo "package: $package ($((size / 1024 / 1024)) MB); debug symbols: $(ls -t target/debian/artrt-dbgsym_"$version"*_"$arch".ddeb | head -1)"
if [ "$size" -ge $((80 * 1024 * 1024)) ]; then
    echo "package: $package is $size bytes, over the 80 MB limit" >&2
    exit 1
fi
