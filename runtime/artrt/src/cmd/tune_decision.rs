//! `artrt tune-decision`: chooses the decision settings for a bundle from
//! seeded synthetic streams.
//!
//! The model runs once per stream; every configuration of the grid is then
//! replayed through the real decider on the recorded window probabilities
//! and scored against the ground truth. The best configuration on the tuning
//! seeds is printed as a `[decision]` table for a board profile, with its
//! score on held-out seeds beside that of the profile's current settings.

use std::path::PathBuf;

use anyhow::bail;
use artrt_infer::Backend;
use artrt_live::decision::DecisionConfig;
use artrt_tools::scoring::StreamScore;
use artrt_tools::stream::record;
use artrt_tools::tuning::{self, Candidate, Grid, Recording};
use serde_json::json;

use super::common::{Opened, StreamSetup, write_json};

/// Arguments of `artrt tune-decision`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    setup: StreamSetup,
    /// Seeds of the streams the settings are chosen on.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    seeds: Vec<u64>,
    /// Seeds of held-out streams the chosen settings are checked on (`--check-seeds` alone: none).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "4,5")]
    check_seeds: Vec<u64>,
    /// Largest median onset latency accepted, ms of stream time.
    #[arg(long, default_value_t = 1000.0, value_parser = onset_ms)]
    max_onset_ms: f64,
    /// Configurations listed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    top: u16,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A latency bound in milliseconds: 0 to a minute.
fn onset_ms(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ms) if (0.0..=60_000.0).contains(&ms) => Ok(ms),
        Ok(_) => Err(format!("{text} ms is outside 0..=60000")),
        Err(_) => Err(format!("`{text}` is not a number of milliseconds")),
    }
}

/// Runs `artrt tune-decision`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.seeds.is_empty() {
        bail!("--seeds names no stream to tune on");
    }
    let Opened {
        profile,
        bundle,
        mut chain,
    } = args.setup.open(true)?;
    let (classes, background) = (bundle.labels().len(), bundle.background());

    let mut record_seeds = |seeds: &[u64]| -> anyhow::Result<Vec<Recording>> {
        seeds
            .iter()
            .map(|&seed| {
                let run = record(&bundle, &profile, &mut chain, seed, args.setup.seconds, None)?;
                let replayed =
                    tuning::replay(&profile.decision, classes, background, &run.recording.windows)?;
                if replayed != run.detections {
                    bail!(
                        "seed {seed}: replaying the recorded windows gave {} events where the pipeline sent {}; \
                         the recording does not reproduce the run",
                        replayed.len(),
                        run.detections.len()
                    );
                }
                log::info!(
                    "seed {seed}: {} windows, {} elements",
                    run.recording.windows.len(),
                    run.recording.segments.len()
                );
                Ok(run.recording)
            })
            .collect()
    };
    let tune = record_seeds(&args.seeds)?;
    let check = record_seeds(&args.check_seeds)?;

    let configs = Grid::default().configs();
    let ranked = tuning::search(&configs, classes, background, &tune, args.max_onset_ms);
    let Some(best) = ranked.first() else {
        bail!(
            "no configuration of the grid has a median onset latency of at most {} ms on seeds {:?}",
            args.max_onset_ms,
            args.seeds
        );
    };
    let current = tuning::evaluate(&profile.decision, classes, background, &tune)?;
    let on_check = |c: &DecisionConfig| -> anyhow::Result<Option<Candidate>> {
        if check.is_empty() {
            return Ok(None);
        }
        Ok(Some(tuning::evaluate(c, classes, background, &check)?))
    };
    let best_check = on_check(&best.config)?;
    let current_check = on_check(&profile.decision)?;

    println!(
        "{} configurations tried on seeds {:?} ({} on {}, {}); best first:",
        configs.len(),
        args.seeds,
        bundle.model.name,
        chain.kind(),
        chain.precision()
    );
    println!("smooth enter  exit hold_ms margin | precision recall    F1 onset_ms");
    for c in ranked.iter().take(usize::from(args.top)) {
        println!("{}", row(&c.config, &c.score));
    }
    println!(
        "current profile {}:\n{}",
        args.setup.board,
        row(&current.config, &current.score)
    );
    if let (Some(b), Some(c)) = (&best_check, &current_check) {
        println!("held-out seeds {:?}:", args.check_seeds);
        println!("  best:    {}", row(&b.config, &b.score));
        println!("  current: {}", row(&c.config, &c.score));
    }
    println!("\n[decision]\n{}", toml::to_string(&best.config)?);

    if let Some(path) = &args.json {
        let report = json!({
            "bundle": args.setup.bundle.display().to_string(),
            "backend": chain.kind().as_str(),
            "precision": chain.precision().as_str(),
            "board": args.setup.board,
            "seconds": args.setup.seconds,
            "seeds": args.seeds,
            "check_seeds": args.check_seeds,
            "max_onset_ms": args.max_onset_ms,
            "configurations": configs.len(),
            "best": best,
            "best_check": best_check,
            "current": current,
            "current_check": current_check,
            "top": ranked.iter().take(usize::from(args.top)).collect::<Vec<_>>(),
        });
        write_json(path, &report)?;
    }
    Ok(())
}

/// One line of the table: the settings and their score.
fn row(c: &DecisionConfig, s: &StreamScore) -> String {
    format!(
        "{:>6} {:>5.2} {:>5.2} {:>7} {:>6.2} | {:>8.1}% {:>5.1}% {:>5.3} {:>8}",
        c.smoothing_windows,
        c.enter_threshold,
        c.exit_threshold,
        c.min_hold_ms,
        c.margin,
        100.0 * s.precision,
        100.0 * s.recall,
        s.f1(),
        s.median_onset_ms.map_or("-".into(), |v| format!("{v:.0}")),
    )
}
