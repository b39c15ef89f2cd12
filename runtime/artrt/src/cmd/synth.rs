//! `artrt synth`.

/// Arguments of `artrt synth`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt synth`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt synth is not available in this build")
}
