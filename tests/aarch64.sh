#!/usr/bin/env bash
# The Jetson target without a Jetson: builds the arm64 Debian package (one
# aarch64 build, glibc 2.31), checks its contents and maintainer scripts,
# installs it into a scratch root with dpkg, and runs the installed binary
# under qemu-aarch64 (Cortex-A76, an Arm /proc/cpuinfo bound over the host's
# so that ONNX Runtime's CPU detection works):
#   - `artrt --version`, `artrt doctor` (the golden self-test of ort-cpu and
#     tract) and `artrt doctor` on the package's Jetson profile (no camera:
#     a clear FAIL and exit code 1);
#   - `artrt eval` on a small synthetic set at FP32 and INT8 on ort-cpu and
#     tract, every clip's top-1 compared with the x86-64 build's;
#   - `artrt run` on the synthetic source (INT8, the fastest under
#     emulation) to the built-in scoreboard emulator: events, then a clean
#     stop on SIGTERM;
#   - purge: the package's files, state and cache gone, the conffile too.
# Needs root or unprivileged user namespaces (for the bind mount).
# Usage: bash tests/aarch64.sh [X86_ARTRT]   (an x86-64 artrt with `synth`;
# default: target/debug/artrt, built if it lacks the synthetic gym)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
x86=${1:-target/debug/artrt}
if ! "$x86" synth --help >/dev/null 2>&1; then
    cargo build -p artrt
    x86=target/debug/artrt
fi

bash runtime/scripts/package.sh arm64
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb=$(ls -t target/debian/artrt_"$version"*_arm64.deb | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "aarch64: $*" >&2; exit 1; }

echo "== package contents: $deb"
dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/files"
for f in /usr/bin/artrt /usr/lib/artrt/libonnxruntime.so /etc/artrt/board.toml \
    /usr/share/artrt/bundles/art-tiny-gym/bundle.toml /usr/share/artrt/bundles/art-tiny-gym/model.int8.onnx \
    /usr/share/artrt/bundles/art-tiny-gym/golden/input.npy /usr/share/artrt/boards/jetson-orin-nano.toml \
    /lib/systemd/system/artrt.service /lib/systemd/system/artrt-prepare.service \
    /lib/udev/rules.d/99-artrt-scoreboard.rules; do
    grep -qx "$f" "$work/files" || fail "$f missing from the package"
done
grep -q '^ Architecture: arm64$' "$work/info" || fail "not an arm64 package"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" ./conffiles ./postinst ./prerm ./postrm
grep -qx /etc/artrt/board.toml "$work/conffiles" || fail "/etc/artrt/board.toml is not a conffile"
for script in postinst prerm postrm; do sh -n "$work/$script" || fail "$script does not parse"; done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/bin/artrt
if aarch64-linux-gnu-readelf -S "$work/usr/bin/artrt" | grep -Eq '\.debug_(info|line|str|abbrev)'; then
    fail "/usr/bin/artrt is not stripped"
fi
newest=$(aarch64-linux-gnu-objdump -T "$work/usr/bin/artrt" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
[ "$(printf '%s\n' "$newest" GLIBC_2.31 | sort -V | tail -1)" = GLIBC_2.31 ] || fail "needs $newest"
echo "package: $(stat -c %s "$deb") bytes, binary needs at most $newest"

echo "== install into a scratch root"
sysroot="$work/root"
mkdir -p "$sysroot/etc" "$sysroot/var/lib/dpkg/info" "$sysroot/var/lib/dpkg/updates" "$sysroot/usr/sbin"
touch "$sysroot/var/lib/dpkg/status" "$sysroot/var/lib/dpkg/available"
for f in passwd group shadow gshadow; do
    grep -E '^(root|daemon|dialout|video):' "/etc/$f" >"$sysroot/etc/$f" || true
done
dpkg_root=(dpkg --root="$sysroot" --force-script-chrootless --force-not-root --force-depends --force-architecture --log=/dev/null)
"${dpkg_root[@]}" --install "$deb" >/dev/null
grep -q '^artrt:' "$sysroot/etc/passwd" || fail "postinst made no artrt user"
for group in dialout video; do
    grep -q "^$group:.*artrt" "$sysroot/etc/group" || fail "artrt is not in the $group group"
done
uid=$(awk -F: '$1 == "artrt" {print $3}' "$sysroot/etc/passwd")
for dir in /var/cache/artrt/tensorrt /var/log/artrt /var/lib/artrt; do
    [ "$(stat -c %u "$sysroot$dir")" = "$uid" ] || fail "$dir is not owned by artrt"
done

echo "== the installed binary under qemu-aarch64"
cpuinfo="$work/cpuinfo"
for ((i = 0; i < $(nproc); i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i"
done >"$cpuinfo"
unshare_flags=-m
[ "$(id -u)" -eq 0 ] || unshare_flags=-rm
# unshare and sh exec in turn, so the command keeps one pid (for signals).
arm_argv=(unshare "$unshare_flags" sh -c 'mount --bind "$0" /proc/cpuinfo && shift && exec "$@"' "$cpuinfo" _
    qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$sysroot/usr/bin/artrt")
arm() { "${arm_argv[@]}" "$@"; }
arm --version | grep -qx "artrt $version" || fail "artrt --version"
(cd /tmp && arm doctor) | tee "$work/doctor.txt"
grep -Eq '^ok +backend.ort-cpu .*passes the golden self-test.*serves' "$work/doctor.txt" || fail "ort-cpu self-test under emulation"
grep -Eq '^ok +backend.tract .*passes the golden self-test' "$work/doctor.txt" || fail "tract self-test under emulation"
grep -Eq "^ok +onnxruntime +1\.[0-9.]+ $sysroot/usr/lib/artrt/libonnxruntime.so " "$work/doctor.txt" || fail "the installed ONNX Runtime was not used"
rc=0
arm doctor --board "$sysroot/etc/artrt/board.toml" --json >"$work/doctor.json" || rc=$?
[ "$rc" -eq 1 ] || fail "doctor on the Jetson profile without a camera exited $rc, not 1"
python3 - "$work/doctor.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
status = {c["id"]: c["status"] for c in r["checks"]}
assert r["schema"] == 1 and r["profile"] == "jetson-orin-nano" and not r["can_run"], r
assert status["camera"] == "fail" and status["scoreboard"] == "fail", status
assert status["tensorrt"] == "warn" and status["backend.ort-cpu"] == "ok", status
print("doctor on jetson-orin-nano:", ", ".join(f"{k} {v}" for k, v in status.items()))
PY

echo "== eval: the same top-1 per clip as x86-64"
"$x86" synth --out "$work/set" --clips 13 --seed 31 2>/dev/null
for backend in ort-cpu tract; do
    "$x86" eval --set "$work/set" --precision both --backend "$backend" --threads 2 --json "$work/x86-$backend.json" 2>/dev/null
    arm eval --set "$work/set" --precision both --backend "$backend" --threads 2 --json "$work/arm-$backend.json" 2>/dev/null
    python3 - "$work/x86-$backend.json" "$work/arm-$backend.json" "$backend" <<'PY'
import json, sys
x86, arm, backend = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
for a, b in zip(x86["runs"], arm["runs"], strict=True):
    assert a["precision"] == b["precision"] and b["backend"] == backend, (a["precision"], b["backend"])
    same = sum(p == q for p, q in zip(a["predictions"], b["predictions"], strict=True))
    print(f"{backend} {a['precision']}: {same}/{len(a['predictions'])} clips name the same class on aarch64 "
          f"(top-1 x86 {a['top1']:.3f}, aarch64 {b['top1']:.3f})")
    assert same == len(a["predictions"]), f"{backend} {a['precision']}: aarch64 differs from x86-64"
PY
done

echo "== run: synthetic source to the built-in scoreboard emulator"
"${arm_argv[@]}" run --board x86-64-cpu --backend ort-cpu --precision int8 --threads 2 --fast --no-panel --events "$work/events.jsonl" \
    >"$work/run.log" 2>&1 &
pid=$!
# The run never outlives this script, whatever stops it.
trap 'kill -KILL "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
    [ -s "$work/events.jsonl" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
    tail -20 "$work/run.log"
    fail "artrt run did not stop within 60 s of SIGTERM"
fi
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { tail -20 "$work/run.log"; fail "artrt run exited $rc after SIGTERM"; }
[ -s "$work/events.jsonl" ] || { tail -20 "$work/run.log"; fail "artrt run gave no event"; }
grep -q 'elements recognised' "$work/run.log" || fail "artrt run logged no summary"
echo "run: $(wc -l <"$work/events.jsonl") event(s), clean stop"

echo "== purge"
"${dpkg_root[@]}" --purge artrt >/dev/null
for f in /usr/bin/artrt /etc/artrt/board.toml /var/cache/artrt /var/lib/artrt /usr/share/artrt/bundles; do
    [ ! -e "$sysroot$f" ] || fail "$f left after purge"
done
echo "aarch64: all checks passed"
