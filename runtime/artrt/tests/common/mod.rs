//! What the `artrt` end-to-end suites share. Each suite is its own crate and
//! uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root, where the default bundle and profiles are.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `artrt` under test, run from the repository's root with info logs.
pub fn artrt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_artrt"));
    cmd.current_dir(repo()).env("RUST_LOG", "info");
    cmd
}

/// A finished command's output, once it is known to have succeeded (its
/// stderr otherwise).
pub fn succeeded(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
