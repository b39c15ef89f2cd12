//! `artrt eval`: the offline accuracy check of a bundle on a clip set.
//!
//! Prints top-1, top-5, mean class accuracy, a per-class table, INT8/FP32
//! agreement (with `--precision both`), per-clip latency percentiles and,
//! for clips with boxes (`artrt synth --boxes`), the region hit;
//! writes the JSON report (schema in `runtime/README.md`) and the confusion
//! matrix as a PNG.

use std::path::PathBuf;

use anyhow::Context;
use artrt_calibration::ClipSet;
use artrt_infer::{Backend, Precision};
use artrt_tools::eval::{self, Report};
use artrt_tools::plot::plot_confusion;
use indicatif::{ProgressBar, ProgressStyle};

use super::common::{BackendArgs, DEFAULT_BUNDLE, load_bundle, write_json};

/// Which precisions to evaluate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrecisionArg {
    /// FP32 only.
    Fp32,
    /// INT8 only.
    Int8,
    /// Both, with their top-1 agreement.
    Both,
}

/// Arguments of `artrt eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Model bundle: a directory, or the name of an installed bundle.
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    bundle: PathBuf,
    /// Clip set directory (labels.txt, annotations.txt, frames).
    #[arg(long)]
    set: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
    /// Precision(s) to evaluate.
    #[arg(long, value_enum, default_value = "fp32")]
    precision: PrecisionArg,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw the confusion matrix (of the first precision) into this PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Runs `artrt eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let set = ClipSet::open(&args.set)
        .with_context(|| format!("cannot open clip set {}", args.set.display()))?;
    eval::check_labels(&bundle, &set)?;
    let precisions: &[Precision] = match args.precision {
        PrecisionArg::Fp32 => &[Precision::Fp32],
        PrecisionArg::Int8 => &[Precision::Int8],
        PrecisionArg::Both => &[Precision::Fp32, Precision::Int8],
    };
    let mut chains = Vec::new();
    for &p in precisions {
        let chain = args.backend.open(&bundle, p)?;
        eprintln!(
            "{p}: {} on {} ({})",
            chain.model(),
            chain.kind(),
            chain.provider()
        );
        chains.push(chain);
    }
    let bar = ProgressBar::new(set.clips().len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} clips, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = eval::evaluate(&bundle, &set, chains, || bar.inc(1))?;
    bar.finish_and_clear();
    print_report(&report);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if let Some(path) = &args.plot {
        plot_confusion(&report.runs[0], &report.labels, path)
            .with_context(|| format!("cannot draw the confusion matrix into {}", path.display()))?;
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!("{} on {} ({} clips)", r.model, r.set.display(), r.clips);
    if !r.skipped.is_empty() {
        println!("{} clips skipped:", r.skipped.len());
        for s in &r.skipped {
            match &s.file {
                Some(file) => println!("  {}: {}: {}", s.clip, file.display(), s.reason),
                None => println!("  {}: {}", s.clip, s.reason),
            }
        }
    }
    for run in &r.runs {
        println!(
            "\n{} on {} ({}): top-1 {:.2} %, top-5 {:.2} %, mean class accuracy {:.2} %",
            run.precision,
            run.backend,
            run.provider,
            run.top1 * 100.0,
            run.top5 * 100.0,
            run.mean_class_accuracy * 100.0
        );
        println!(
            "latency per clip (ms): inference p50 {:.2} p95 {:.2} p99 {:.2}; whole clip p50 {:.2} p95 {:.2} p99 {:.2}",
            run.inference_ms.p50,
            run.inference_ms.p95,
            run.inference_ms.p99,
            run.clip_ms.p50,
            run.clip_ms.p95,
            run.clip_ms.p99
        );
        if let Some(g) = &run.regions {
            let hits: Vec<String> = g.region_hit.iter().map(|h| format!("{h:.3}")).collect();
            println!(
                "region hit per tracklet {} (best {:.3}), overlap of the two {:.3}, over {} frames",
                hits.join(" / "),
                g.best_region_hit,
                g.overlap,
                g.frames
            );
        }
        let width = r.labels.iter().map(|l| l.len()).max().unwrap_or(5).max(5);
        println!(
            "{:>5}  {:<width$}  {:>5}  {:>7}  {:>8}",
            "class", "label", "clips", "correct", "accuracy"
        );
        for row in &run.per_class {
            let acc = row
                .accuracy
                .map_or("-".to_string(), |a| format!("{:.1} %", a * 100.0));
            println!(
                "{:>5}  {:<width$}  {:>5}  {:>7}  {:>8}",
                row.class, row.label, row.clips, row.correct, acc
            );
        }
    }
    for s in &r.boxes_skipped {
        println!("region hit leaves out {}: {}", s.clip, s.reason);
    }
    if let Some(a) = r.int8_fp32_agreement {
        println!("\nINT8/FP32 top-1 agreement: {:.2} %", a * 100.0);
    }
}
