//! `artrt run`.

/// Arguments of `artrt run`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt run`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt run is not available in this build")
}
