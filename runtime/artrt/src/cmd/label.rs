//! `artrt label`: the labelling page for a recording (`artrt_tools::label`),
//! served on 127.0.0.1 until SIGINT, SIGTERM or SIGHUP.

use std::path::PathBuf;

use artrt_tools::label::LabelServer;

use super::common::{DEFAULT_BUNDLE, load_bundle, stop_on_signals};

/// Arguments of `artrt label`.
#[derive(clap::Args)]
pub struct Args {
    /// The recording (`artrt record`); its labels are saved to labels.csv in it.
    recording: PathBuf,
    /// The bundle whose classes are offered first (its "no element" class aside).
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    bundle: PathBuf,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8737)]
    port: u16,
}

/// Runs `artrt label`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let server = LabelServer::bind(&args.recording, args.port, &bundle.action_labels())?;
    let stop = stop_on_signals()?;
    // The address on stdout, alone on its line, for scripts and tests.
    println!("{}", server.url());
    log::info!(
        "labelling {} at {} (Ctrl+C stops)",
        args.recording.display(),
        server.url()
    );
    server.serve(&stop)
}
