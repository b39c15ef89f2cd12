//! `artrt doctor`: what this machine can run with a board profile, every item
//! ok, warn or FAIL with its reason. Exits 0 when the profile can run, 1 when
//! it cannot.

use std::io::Write;
use std::path::PathBuf;

use artrt_live::board::Profile;
use artrt_tools::doctor::{self, Check, Report, Status};

/// Arguments of `artrt doctor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Board profile: a built-in name or a TOML file (default: the one made for this machine).
    #[arg(long)]
    board: Option<String>,
    /// ONNX Runtime shared library (otherwise as `artrt run` finds it).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
    /// Print the report as JSON (schema: docs/doctor.md).
    #[arg(long)]
    json: bool,
}

/// Runs `artrt doctor`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (profile, origin) = match &args.board {
        Some(name) => (Profile::load(name), format!("from {name}")),
        None => (Profile::detect(), "detected".to_string()),
    };
    let report = match profile {
        Ok(profile) => doctor::examine(&profile, &origin, args.ort_lib),
        Err(e) => Report {
            schema: doctor::SCHEMA,
            artrt: env!("CARGO_PKG_VERSION").to_string(),
            profile: args.board.clone().unwrap_or_default(),
            can_run: false,
            checks: vec![Check::new("board", Status::Fail, e.to_string())],
        },
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{report}")?;
    }
    out.flush()?;
    if !report.can_run {
        std::process::exit(1);
    }
    Ok(())
}
