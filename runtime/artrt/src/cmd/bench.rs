//! `artrt bench`.

/// Arguments of `artrt bench`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `artrt bench`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("artrt bench is not available in this build")
}
