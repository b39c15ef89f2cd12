//! `artrt cut`: a clip set from a labelled recording (`artrt_tools::cut`),
//! its classes numbered as the bundle's.

use std::path::PathBuf;

use artrt_calibration::Framing;
use artrt_tools::cut::{CutOptions, cut};

use super::common::{DEFAULT_BUNDLE, load_bundle};

/// Arguments of `artrt cut`.
#[derive(clap::Args)]
pub struct Args {
    /// The recording (`artrt record`), labelled in its labels.csv (or truth.csv).
    recording: PathBuf,
    /// The clip set to write: a new or empty folder.
    #[arg(long)]
    out: PathBuf,
    /// The bundle whose window sets the clip length and whose classes number
    /// the labels (labels it does not know are added after them).
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    bundle: PathBuf,
    /// "No element" clips from the unlabelled stretches (default: as many as
    /// the average class has elements).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    background: Option<u32>,
    /// `centred`: each element in its clip's middle; `live`: clips as the live
    /// pipeline's windows meet the elements.
    #[arg(long, default_value = "centred")]
    framing: Framing,
    /// Frames between two live windows (live framing; default: a quarter window).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    hop: Option<u32>,
}

/// Runs `artrt cut`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let window = bundle.input.window;
    let background_label = bundle
        .background()
        .map_or_else(|| "no element".to_owned(), |i| bundle.labels()[i].clone());
    let options = CutOptions {
        window,
        hop: args.hop.map_or((window / 4).max(1), |h| h as usize),
        framing: args.framing,
        background: args.background.map(|n| n as usize),
        classes: bundle.labels().to_vec(),
        background_label,
    };
    let done = cut(&args.recording, &args.out, &options)?;
    for label in &done.skipped {
        log::warn!(
            "{} at {}–{} ms: too close to the recording's ends for a {window}-frame clip; not cut",
            label.label,
            label.start_ms,
            label.end_ms
        );
    }
    log::info!(
        "{}: {} element clips and {} \"no element\" clips of {window} frames, by {}",
        args.out.display(),
        done.elements,
        done.background,
        done.labels_file
    );
    Ok(())
}
