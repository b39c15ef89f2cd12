#!/usr/bin/env bash
# What needs an NVIDIA GPU, on any machine with one and CUDA (x86-64, or a
# Jetson with the package's build tools), in a few minutes:
#   1. `artrt doctor` on a profile with trt, cuda, ort-cpu and tract;
#   2. the trt and cuda backends against the bundle's golden outputs at FP32
#      and INT8 (`artrt eval` opens each with its golden self-test), every
#      clip's top-1 compared with ort-cpu's;
#   3. `artrt bench` per backend;
#   4. GPU against CPU preprocessing (the kernels on the device, every
#      format, the same values as the host path);
#   5. the TensorRT engine cache: `artrt prepare` twice, the second loading
#      the first's engine (its files unchanged), keyed in `key.toml`;
#   6. the live pipeline with frames preprocessed on the GPU and handed to
#      the model in device memory: the same events as with CPU preprocessing;
#   7. two cameras on one inference thread, both clips in one call of the
#      bundle's batched file, preprocessed on the CPU and on the GPU (clips
#      copied into the batch input on the device): each camera's events as
#      when it runs alone.
# ONNX Runtime with the CUDA and TensorRT providers: ORT_DYLIB_PATH, or the
# `onnxruntime-gpu` wheel installed into .venv-gpu/ when PyPI is reachable.
# ARTRT=PATH uses an artrt already built with `--features jetson,synthetic`.
# Exit codes: 0 all passed, 1 a check failed, 3 no NVIDIA GPU here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && [ ! -e /usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1 ]; then
    echo "gpu: no NVIDIA driver (libcuda.so.1) on this machine: nothing to check here" >&2
    exit 3
fi
if command -v nvidia-smi >/dev/null 2>&1 && ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu: nvidia-smi sees no GPU: nothing to check here" >&2
    exit 3
fi

if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    venv="$root/.venv-gpu"
    if [ ! -f "$venv/.complete" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q onnxruntime-gpu nvidia-cuda-nvrtc-cu12 && touch "$venv/.complete" \
            || { echo "gpu: set ORT_DYLIB_PATH to an ONNX Runtime with CUDA and TensorRT" >&2; exit 1; }
    fi
    ORT_DYLIB_PATH=$(ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* | sort | tail -1)
    export ORT_DYLIB_PATH
fi
echo "gpu: ONNX Runtime $ORT_DYLIB_PATH"

artrt=${ARTRT:-}
if [ -z "$artrt" ]; then
    cargo build --release -p artrt --features jetson,synthetic
    artrt=target/release/artrt
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "gpu: $*" >&2; exit 1; }

sed -e 's/^name = .*/name = "gpu-check"/' \
    -e 's/^backends = .*/backends = ["trt", "cuda", "ort-cpu", "tract"]/' \
    -e "s#^cache_dir = .*#cache_dir = \"$work/cache\"#" \
    boards/jetson-orin-nano.toml | sed -e 's#^source = .*#source = "synthetic"#' -e 's#^port = .*#port = "emulator"#' \
    >"$work/board.toml"
grep -q '^cache_dir' "$work/board.toml" || fail "the profile has no cache_dir"

echo "== 1. doctor"
"$artrt" doctor --board "$work/board.toml" | tee "$work/doctor.txt"
grep -Eq '^ok +gpu ' "$work/doctor.txt" || fail "doctor sees no GPU"

echo "== 2. trt and cuda against the goldens, FP32 and INT8"
"$artrt" synth --out "$work/set" --clips 26 --seed 41 2>/dev/null
"$artrt" eval --set "$work/set" --backend ort-cpu --precision both --json "$work/ort-cpu.json" >/dev/null
for backend in cuda trt; do
    "$artrt" eval --set "$work/set" --backend "$backend" --precision both --json "$work/$backend.json" \
        >/dev/null || fail "$backend refused (golden self-test or provider)"
    python3 - "$work/ort-cpu.json" "$work/$backend.json" "$backend" <<'PY'
import json, sys
cpu, gpu, backend = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
for a, b in zip(cpu["runs"], gpu["runs"], strict=True):
    assert b["backend"] == backend, f"{backend} did not serve: {b['refusals']}"
    same = sum(p == q for p, q in zip(a["predictions"], b["predictions"], strict=True))
    n = len(a["predictions"])
    print(f"{backend} {b['precision']} ({b['provider']}): {same}/{n} clips as ort-cpu, top-1 {b['top1']:.3f}")
    assert same >= n - 1, f"{backend} {b['precision']} differs from ort-cpu on {n - same} clips"
PY
done

echo "== 3. bench per backend"
for backend in trt cuda ort-cpu tract; do
    "$artrt" bench --backend "$backend" --json "$work/bench-$backend.json" | tail -3
done

echo "== 4. GPU against CPU preprocessing"
ARTRT_REQUIRE_GPU=1 cargo test --release -p artrt-infer --features cuda --lib gpu:: -- --nocapture
ARTRT_REQUIRE_GPU=1 cargo test --release -p artrt-live --features cuda --lib stage:: -- --nocapture

echo "== 5. engine cache round trip"
"$artrt" prepare --board "$work/board.toml" | tee "$work/prepare1.txt"
engines=$(find "$work/cache" -name '*.engine' | sort)
[ -n "$engines" ] || fail "no engine in $work/cache after artrt prepare"
find "$work/cache" -name key.toml | grep -q . || fail "no key.toml in the cache"
before=$(find "$work/cache" -name '*.engine' -printf '%p %T@ %s\n' | sort)
"$artrt" prepare --board "$work/board.toml" | tee "$work/prepare2.txt"
after=$(find "$work/cache" -name '*.engine' -printf '%p %T@ %s\n' | sort)
[ "$before" = "$after" ] || fail "the second start rebuilt the engine instead of loading it"
python3 - "$work/prepare1.txt" "$work/prepare2.txt" <<'PY'
import re, sys
first, second = (float(re.search(r" in ([0-9.]+) s:", open(p).read()).group(1)) for p in sys.argv[1:3])
print(f"engine build {first:.1f} s, cached start {second:.1f} s ({first / max(second, 1e-3):.1f}x)")
PY
echo "== 6. live run, GPU preprocessing against CPU preprocessing"
for on in cpu gpu; do
    for backend in cuda trt; do
        RUST_LOG=info "$artrt" run --board "$work/board.toml" --source "frames:$work/set" --fast \
            --scoreboard none --backend "$backend" --preprocess "$on" \
            --events "$work/events-$backend-$on.jsonl" 2>"$work/run-$backend-$on.log" \
            || { tail -20 "$work/run-$backend-$on.log" >&2; fail "run on $backend with $on preprocessing failed"; }
        grep -q "frames preprocessed on ${on}" "$work/run-$backend-$on.log" \
            || fail "$backend with --preprocess $on did not preprocess on $on"
    done
done
python3 - "$work" <<'PY'
import json, sys
def actions(path):
    return [e["label"] for e in map(json.loads, open(path)) if e.get("type") == "action"]
for backend in ("cuda", "trt"):
    cpu, gpu = (actions(f"{sys.argv[1]}/events-{backend}-{on}.jsonl") for on in ("cpu", "gpu"))
    print(f"{backend}: {len(cpu)} actions with CPU preprocessing, {len(gpu)} with GPU preprocessing")
    assert cpu, f"{backend}: no action on 26 clips"
    assert cpu == gpu, f"{backend}: GPU preprocessing changed the events: {cpu} against {gpu}"
PY
echo "== 7. two cameras, their clips batched"
"$artrt" synth --out "$work/set2" --clips 26 --seed 42 2>/dev/null
for on in cpu gpu; do
    for backend in cuda trt; do
        RUST_LOG=info "$artrt" run --board "$work/board.toml" --source "frames:$work/set2" --fast \
            --scoreboard none --backend "$backend" --preprocess "$on" \
            --events "$work/alone2-$backend-$on.jsonl" 2>/dev/null || fail "run on $backend failed"
        RUST_LOG=info "$artrt" run --board "$work/board.toml" --source "frames:$work/set" \
            --source "frames:$work/set2" --fast --scoreboard none --backend "$backend" --preprocess "$on" \
            --events "$work/two-$backend-$on.jsonl" 2>"$work/two-$backend-$on.log" \
            || { tail -20 "$work/two-$backend-$on.log" >&2; fail "two cameras on $backend ($on) failed"; }
        grep -q "2 cameras on one inference thread, up to 2 clips in each call" "$work/two-$backend-$on.log" \
            || fail "two cameras on $backend with $on preprocessing were not batched"
    done
done
python3 - "$work" <<'PY'
import json, sys
def actions(path, camera=None):
    events = [e for e in map(json.loads, open(path)) if e.get("type") == "action"]
    cameras = list(dict.fromkeys(e["camera"] for e in events))
    return cameras, [e["label"] for e in events if camera is None or e["camera"] == camera]
for backend in ("cuda", "trt"):
    for on in ("cpu", "gpu"):
        cameras, _ = actions(f"{sys.argv[1]}/two-{backend}-{on}.jsonl")
        assert len(cameras) == 2, f"{backend} {on}: actions from {cameras}"
        for camera, alone in zip(sorted(cameras), (f"events-{backend}-{on}", f"alone2-{backend}-{on}")):
            _, together = actions(f"{sys.argv[1]}/two-{backend}-{on}.jsonl", camera)
            _, single = actions(f"{sys.argv[1]}/{alone}.jsonl")
            differ = sum(a != b for a, b in zip(together, single)) + abs(len(together) - len(single))
            print(f"{backend} {on} {camera}: {len(together)} actions batched, {len(single)} alone, {differ} differ")
            assert differ <= 1, f"{backend} {on} {camera}: batching changed the events: {together} against {single}"
PY
echo "gpu: all checks passed"
