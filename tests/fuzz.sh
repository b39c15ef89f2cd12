#!/usr/bin/env bash
# Fuzzes what artrt reads from outside (ARTS/1 sentences, bundle manifests,
# .npy files, board profiles) with libFuzzer through cargo-fuzz, on the
# stable toolchain without a sanitizer (the code is safe Rust: the fuzzer
# looks for panics, hangs and runaway memory).
#
#   bash tests/fuzz.sh [RUNS] [TARGET...]
#
# RUNS inputs per target (default 1000000), starting from the committed
# corpus in tests/fuzz/corpus/<target>/, which is only read; what the run
# finds is kept under tests/fuzz/target/corpus/. A crash, a panic, an input
# slower than 10 s or over 2 GiB fails the script and leaves the input in
# tests/fuzz/artifacts/<target>/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(arts_sentence bundle_manifest npy_file board_profile)
if ! [[ $runs =~ ^[1-9][0-9]{0,9}$ ]]; then
    echo "RUNS must be a positive number of inputs, got '$runs'" >&2
    exit 2
fi

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

# The fuzz crate is a workspace of its own: starting from the product's
# lockfile, it fuzzes the very versions artrt is built with.
cp Cargo.lock tests/fuzz/Cargo.lock
opts=(--dev --fuzz-dir tests/fuzz --sanitizer none --debug-assertions)
cargo fuzz build "${opts[@]}"
for t in "${targets[@]}"; do
    found="tests/fuzz/target/corpus/$t"
    mkdir -p "$found" "tests/fuzz/artifacts/$t"
    echo "== fuzz $t: $runs inputs"
    cargo fuzz run "${opts[@]}" "$t" "$found" "tests/fuzz/corpus/$t" -- \
        -runs="$runs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE|==|INFO: (Loaded|seed corpus))|panicked|ERROR|SUMMARY' || true
    if [ -n "$(ls -A "tests/fuzz/artifacts/$t")" ]; then
        echo "fuzz $t found inputs that fail: tests/fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
