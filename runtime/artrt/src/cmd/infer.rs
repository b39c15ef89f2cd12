//! `artrt infer`.

/// Arguments of `artrt infer`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt infer`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt infer is not available in this build")
}
