//! `artrt eval-stream`.

/// Arguments of `artrt eval-stream`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt eval-stream`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt eval-stream is not available in this build")
}
