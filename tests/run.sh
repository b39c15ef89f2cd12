#!/usr/bin/env bash
# The project's whole test suite: Rust (every crate, every feature that
# compiles without hardware), the arm64 package under emulation, fuzzing and
# Python (export). Installs what it needs. On a machine with an NVIDIA GPU,
# tests/gpu.sh checks what needs one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# On a CI machine every build starts clean: incremental state would only
# take disk.
[ -z "${CI:-}" ] || export CARGO_INCREMENTAL=0

# Each section's header says how long the suite has run so far.
section() { printf '== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

bash runtime/setup.sh
venv=$(bash export/setup.sh)

# A real MQTT broker for the network output suite (tests/tests/publish.rs),
# Debian's Chromium with its chromedriver for the labelling page
# (runtime/artrt/tests/label.rs), and GStreamer: its development files for
# the `rtsp` feature, its plugins and RTSP server for the RTSP suite
# (tests/tests/rtsp.rs, tests/rtsp_server.py).
missing=()
{ [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; } || missing+=(mosquitto)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
for package in libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "tests: installing ${missing[*]} (the broker, the browser and the RTSP camera the tests start)"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

section "cargo test"
cargo test --workspace --all-features

section "aarch64: the arm64 package, installed and run under qemu"
bash tests/aarch64.sh target/debug/artrt

# Checked, not built: with this feature set the dependencies' features
# differ from the test build's, so a build compiles tract and everything
# under it again (6-10 minutes here) for what `cargo check` proves.
section "device build: V4L2 without the synthetic gym"
device=(-p artrt --no-default-features --features v4l2)
cargo check "${device[@]}"
if cargo tree "${device[@]}" -e normal -f '{p} [{f}]' --prefix none |
    grep -E '^artrt-(calibration .*\[.*synth|live .*\[.*synthetic)'; then
    echo "the device build still has the synthetic gym" >&2
    exit 1
fi

section "fuzz: ${ARTRT_FUZZ_RUNS:-200000} inputs per target"
bash tests/fuzz.sh "${ARTRT_FUZZ_RUNS:-200000}"

section "pytest (export)"
(cd export && "$venv/bin/python" -m pytest -q)
section "done"
