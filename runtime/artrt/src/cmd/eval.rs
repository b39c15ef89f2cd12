//! `artrt eval`.

/// Arguments of `artrt eval`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt eval`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt eval is not available in this build")
}
