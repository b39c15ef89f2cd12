#!/usr/bin/env bash
# The project's whole test suite: Rust (every crate, every feature that
# compiles without hardware) and Python (export). Installs what it needs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash runtime/setup.sh
venv=$(bash export/setup.sh)

echo "== cargo test"
cargo test --workspace --all-features

echo "== pytest (export)"
(cd export && "$venv/bin/python" -m pytest -q)
