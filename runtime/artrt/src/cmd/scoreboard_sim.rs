//! `artrt scoreboard-sim`.

/// Arguments of `artrt scoreboard-sim`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt scoreboard-sim`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt scoreboard-sim is not available in this build")
}
