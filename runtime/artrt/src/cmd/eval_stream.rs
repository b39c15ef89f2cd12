//! `artrt eval-stream`: event precision, recall and onset latency of the
//! whole live path (clips, inference, decisions) on the synthetic gym
//! stream, or on a recording against its labels (see `artrt_tools::stream`).

use std::path::PathBuf;

use anyhow::Context;
use artrt_infer::Backend;
use artrt_tools::scoring;
use artrt_tools::stream::{record, replay};
use serde_json::json;

use super::common::{Opened, StreamSetup, write_json};

/// Arguments of `artrt eval-stream`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    setup: StreamSetup,
    /// Seed of the synthetic stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Score a recording (`artrt record`) instead of the synthetic stream,
    /// against its `labels.csv` (or, without one, its `truth.csv`), with
    /// precision and recall per class.
    #[arg(long, conflicts_with_all = ["seed", "seconds"])]
    recording: Option<PathBuf>,
    /// Milliseconds after an element's end within which its event still counts
    /// (default: the window's duration).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    tolerance_ms: Option<u64>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write every window's class probabilities as JSON lines to this file
    /// (`{"t_ms": .., "probs": [..]}`, t_ms the stream time of the window's
    /// last frame), for tuning the decision settings offline against the
    /// report's ground-truth segments.
    #[arg(long)]
    trace: Option<PathBuf>,
}

/// Runs `artrt eval-stream`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let Opened {
        profile,
        bundle,
        mut chain,
    } = args.setup.open(args.recording.is_none())?;
    let (run, stream, stream_seconds, classes) = match &args.recording {
        None => {
            let run = record(
                &bundle,
                &profile,
                &mut chain,
                args.seed,
                args.setup.seconds,
                args.tolerance_ms,
            )?;
            let fps = f64::from(bundle.input.fps.round().max(1.0));
            let seconds = run.frames as f64 / fps;
            (
                run,
                json!({"seed": args.seed}),
                seconds,
                bundle.labels().to_vec(),
            )
        }
        Some(dir) => {
            let replayed = replay(&bundle, &profile, &mut chain, dir, args.tolerance_ms)
                .with_context(|| format!("cannot score recording {}", dir.display()))?;
            let stream = json!({
                "recording": dir.display().to_string(),
                "labels_file": replayed.labels_file.display().to_string(),
                "frames": replayed.frames,
            });
            let seconds = replayed.duration_ms as f64 / 1000.0;
            (replayed.run, stream, seconds, replayed.classes)
        }
    };
    let rec = &run.recording;
    let score = scoring::score(&run.detections, &rec.segments, rec.tolerance_ms);
    let per_class = scoring::per_class(&run.detections, &rec.segments, rec.tolerance_ms, &classes);

    let mut report = json!({
        "bundle": args.setup.bundle.display().to_string(),
        "backend": chain.kind().as_str(),
        "provider": chain.provider(),
        "precision": chain.precision().as_str(),
        "stream_seconds": stream_seconds,
        "wall_seconds": run.wall.as_secs_f64(),
        "window": profile.clip.window,
        "hop": profile.clip.hop,
        "decision": profile.decision,
        "tolerance_ms": rec.tolerance_ms,
        "score": score,
        "per_class": per_class,
        "segments": rec.segments
            .iter()
            .map(|s| json!({"start_ms": s.start_ms, "end_ms": s.end_ms, "class_id": s.class_id}))
            .collect::<Vec<_>>(),
        "events": run.detections
            .iter()
            .map(|d| json!({"t_ms": d.t_ms, "class_id": d.class_id}))
            .collect::<Vec<_>>(),
        "run": run.stats,
    });
    if let (Some(report), Some(stream)) = (report.as_object_mut(), stream.as_object()) {
        report.extend(stream.clone());
    }
    println!(
        "{} elements, {} events, {} matched: precision {:.1} %, recall {:.1} %, onset latency median {} ms, p95 {} ms ({} clips on {} in {:.1} s)",
        score.segments,
        score.events,
        score.matched,
        100.0 * score.precision,
        100.0 * score.recall,
        score
            .median_onset_ms
            .map_or("-".into(), |v| format!("{v:.0}")),
        score.p95_onset_ms.map_or("-".into(), |v| format!("{v:.0}")),
        run.stats.clips,
        chain.kind(),
        run.wall.as_secs_f64()
    );
    if args.recording.is_some() {
        for c in &per_class {
            println!(
                "  {}: precision {:.1} %, recall {:.1} % ({} of {} elements, {} events)",
                c.label,
                100.0 * c.precision,
                100.0 * c.recall,
                c.matched,
                c.segments,
                c.events
            );
        }
    }
    if let Some(path) = &args.trace {
        let lines: String = rec
            .windows
            .iter()
            .map(|w| format!("{}\n", json!({"t_ms": w.t_ms, "probs": w.probs})))
            .collect();
        std::fs::write(path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(())
}
