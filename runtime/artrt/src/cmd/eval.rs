//! `artrt eval`: the offline accuracy check of a bundle on a clip set.
//!
//! Prints top-1, top-5, mean class accuracy, a per-class table, INT8/FP32
//! agreement (with `--precision both`) and per-clip latency percentiles;
//! writes the JSON report (schema in `runtime/README.md`) and the confusion
//! matrix as a PNG.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use artrt_calibration::ClipSet;
use artrt_infer::postprocess::{softmax_into, top_k};
use artrt_infer::{Bundle, Failover, Precision, Preprocessor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::infer::{BackendArgs, DEFAULT_BUNDLE, jpeg_frames, load_bundle, open_chain};

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
    /// Model bundle directory.
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

/// The JSON report of `artrt eval`.
#[derive(Serialize)]
pub struct Report {
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Model name.
    pub model: String,
    /// Clip set directory.
    pub set: PathBuf,
    /// Clips evaluated.
    pub clips: usize,
    /// Class labels (bundle and set agree).
    pub labels: Vec<String>,
    /// One entry per precision.
    pub runs: Vec<Run>,
    /// Fraction of clips where INT8 and FP32 give the same top-1 class (`both` only).
    pub int8_fp32_agreement: Option<f64>,
}

/// Results of one precision.
#[derive(Serialize)]
pub struct Run {
    /// `fp32` or `int8`.
    pub precision: String,
    /// Backend that served (after any failover).
    pub backend: String,
    /// Execution provider that served.
    pub provider: String,
    /// Model file.
    pub model: String,
    /// Backends that refused or failed, with reasons.
    pub refusals: Vec<String>,
    /// Top-1 accuracy.
    pub top1: f64,
    /// Top-5 accuracy.
    pub top5: f64,
    /// Mean over classes of per-class top-1 accuracy (classes with clips).
    pub mean_class_accuracy: f64,
    /// Per-class results.
    pub per_class: Vec<ClassRow>,
    /// `confusion[true][predicted]` clip counts.
    pub confusion: Vec<Vec<usize>>,
    /// Inference time per clip, milliseconds.
    pub inference_ms: Percentiles,
    /// Decode, preprocessing, inference and postprocessing per clip, milliseconds.
    pub clip_ms: Percentiles,
    /// Predicted class of every clip, in set order.
    pub predictions: Vec<usize>,
}

/// One row of the per-class table.
#[derive(Serialize)]
pub struct ClassRow {
    /// Class id.
    pub class: usize,
    /// Label.
    pub label: String,
    /// Clips of this class.
    pub clips: usize,
    /// Of those, predicted correctly.
    pub correct: usize,
    /// `correct / clips` (null without clips).
    pub accuracy: Option<f64>,
}

/// Latency percentiles.
#[derive(Serialize, Clone, Copy, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    pub fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[(((q * v.len() as f64).ceil() as usize).max(1) - 1).min(v.len() - 1)];
        Percentiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// Refuses a set whose labels are not the bundle's, saying how they differ.
fn check_labels(bundle: &Bundle, set: &ClipSet) -> anyhow::Result<()> {
    let (b, s) = (bundle.labels(), set.labels());
    if b == s {
        return Ok(());
    }
    let mut how = Vec::new();
    if b.len() != s.len() {
        how.push(format!(
            "the bundle has {} classes, the set {}",
            b.len(),
            s.len()
        ));
    }
    if let Some(i) = b.iter().zip(s).position(|(x, y)| x != y) {
        how.push(format!(
            "class {i} is \"{}\" in the bundle but \"{}\" in the set",
            b[i], s[i]
        ));
    }
    let missing: Vec<&String> = s.iter().filter(|l| !b.contains(l)).collect();
    if !missing.is_empty() {
        how.push(format!("labels the bundle lacks: {missing:?}"));
    }
    bail!(
        "the labels of {} differ from the bundle's ({}): {}",
        set.root().join("labels.txt").display(),
        bundle.dir().display(),
        how.join("; ")
    )
}

/// Per-clip outcome collected while evaluating one precision.
struct Tally {
    chain: Failover,
    predictions: Vec<usize>,
    top5_hits: usize,
    inference_ms: Vec<f64>,
    clip_ms: Vec<f64>,
}

/// Runs `artrt eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let set = ClipSet::open(&args.set)
        .with_context(|| format!("cannot open clip set {}", args.set.display()))?;
    check_labels(&bundle, &set)?;
    if set.clips().is_empty() {
        bail!("clip set {} has no clips", args.set.display());
    }
    let precisions: &[Precision] = match args.precision {
        PrecisionArg::Fp32 => &[Precision::Fp32],
        PrecisionArg::Int8 => &[Precision::Int8],
        PrecisionArg::Both => &[Precision::Fp32, Precision::Int8],
    };
    let mut tallies = Vec::new();
    for &p in precisions {
        let chain = open_chain(&bundle, &args.backend, p)?;
        eprintln!(
            "{p}: {} on {} ({})",
            chain.backend().model(),
            chain.kind(),
            chain.provider()
        );
        tallies.push(Tally {
            chain,
            predictions: Vec::new(),
            top5_hits: 0,
            inference_ms: Vec::new(),
            clip_ms: Vec::new(),
        });
    }

    let mut pre = Preprocessor::new(&bundle.input);
    let mut input = vec![0.0f32; pre.clip_len()];
    let mut probs = vec![0.0f32; bundle.labels().len()];
    let bar = ProgressBar::new(set.clips().len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} clips, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for clip in set.clips() {
        let start = Instant::now();
        let jpegs = (1..=clip.num_frames)
            .map(|k| {
                let path = set.frame_path(clip, k);
                std::fs::read(&path)
                    .with_context(|| format!("cannot read frame {}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        pre.clip_into(&jpeg_frames(&jpegs), &mut input)
            .with_context(|| {
                format!(
                    "cannot preprocess clip {}",
                    set.root().join(&clip.clip_dir).display()
                )
            })?;
        let prepared = start.elapsed();
        for t in &mut tallies {
            let t0 = Instant::now();
            let out = t
                .chain
                .run(&input)
                .with_context(|| format!("inference failed on clip {}", clip.clip_dir))?;
            let inference = t0.elapsed();
            softmax_into(&out.logits, &mut probs);
            let best = top_k::<5>(&probs);
            t.predictions.push(best[0].0);
            t.top5_hits += usize::from(best.iter().any(|b| b.0 == clip.class_id));
            t.inference_ms.push(inference.as_secs_f64() * 1e3);
            t.clip_ms
                .push((prepared + t0.elapsed()).as_secs_f64() * 1e3);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let truth: Vec<usize> = set.clips().iter().map(|c| c.class_id).collect();
    let labels = bundle.labels().to_vec();
    let runs: Vec<Run> = tallies
        .into_iter()
        .map(|t| summarise(t, &truth, &labels))
        .collect();
    let agreement = (runs.len() == 2).then(|| {
        let same = runs[0]
            .predictions
            .iter()
            .zip(&runs[1].predictions)
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / truth.len() as f64
    });
    let report = Report {
        bundle: bundle.dir().to_path_buf(),
        model: bundle.model.name.clone(),
        set: args.set.clone(),
        clips: truth.len(),
        labels,
        runs,
        int8_fp32_agreement: agreement,
    };
    print_report(&report);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        plot_confusion(&report.runs[0], &report.labels, path)
            .with_context(|| format!("cannot draw the confusion matrix into {}", path.display()))?;
    }
    Ok(())
}

/// Accuracy figures of one precision.
fn summarise(t: Tally, truth: &[usize], labels: &[String]) -> Run {
    let c = labels.len();
    let mut confusion = vec![vec![0usize; c]; c];
    for (&y, &p) in truth.iter().zip(&t.predictions) {
        if p < c {
            confusion[y][p] += 1;
        }
    }
    let per_class: Vec<ClassRow> = (0..c)
        .map(|k| {
            let clips = confusion[k].iter().sum::<usize>();
            let correct = confusion[k][k];
            ClassRow {
                class: k,
                label: labels[k].clone(),
                clips,
                correct,
                accuracy: (clips > 0).then(|| correct as f64 / clips as f64),
            }
        })
        .collect();
    let present: Vec<f64> = per_class.iter().filter_map(|r| r.accuracy).collect();
    let n = truth.len() as f64;
    let correct = truth
        .iter()
        .zip(&t.predictions)
        .filter(|(y, p)| y == p)
        .count();
    Run {
        precision: t.chain.precision().as_str().to_string(),
        backend: t.chain.kind().as_str().to_string(),
        provider: t.chain.provider().to_string(),
        model: t.chain.backend().model().to_string(),
        refusals: t
            .chain
            .refusals()
            .iter()
            .map(|r| format!("{}: {}", r.kind, r.reason))
            .collect(),
        top1: correct as f64 / n,
        top5: t.top5_hits as f64 / n,
        mean_class_accuracy: if present.is_empty() {
            0.0
        } else {
            present.iter().sum::<f64>() / present.len() as f64
        },
        per_class,
        confusion,
        inference_ms: Percentiles::of(&t.inference_ms),
        clip_ms: Percentiles::of(&t.clip_ms),
        predictions: t.predictions,
    }
}

fn print_report(r: &Report) {
    println!("{} on {} ({} clips)", r.model, r.set.display(), r.clips);
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
    if let Some(a) = r.int8_fp32_agreement {
        println!("\nINT8/FP32 top-1 agreement: {:.2} %", a * 100.0);
    }
}

/// Font files tried for the plot's text, in order.
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Draws `run`'s confusion matrix, rows normalised per true class.
fn plot_confusion(run: &Run, labels: &[String], path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;

    let font = FONTS.iter().find_map(|p| std::fs::read(p).ok());
    let with_text = match font {
        Some(bytes) => {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| anyhow::anyhow!("cannot load the plot font"))?;
            true
        }
        None => {
            log::warn!(
                "no DejaVu Sans font found ({FONTS:?}); the confusion matrix is drawn without text"
            );
            false
        }
    };
    let c = labels.len();
    let cell = 40u32;
    let margin = if with_text { 220 } else { 10 };
    let size = (margin + cell * c as u32 + 20, margin + cell * c as u32 + 20);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let x0 = margin as i32;
    let y0 = if with_text { 60 } else { 10 };
    for (y, row) in run.confusion.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (x, &n) in row.iter().enumerate() {
            let v = n as f64 / total;
            let shade = (255.0 * (1.0 - v)) as u8;
            let colour = RGBColor(shade, shade, 255);
            let (px, py) = (x0 + x as i32 * cell as i32, y0 + y as i32 * cell as i32);
            root.draw(&Rectangle::new(
                [(px, py), (px + cell as i32, py + cell as i32)],
                colour.filled(),
            ))?;
            if with_text && n > 0 {
                let ink = if v > 0.5 { &WHITE } else { &BLACK };
                root.draw(&Text::new(
                    n.to_string(),
                    (px + 8, py + 12),
                    ("sans-serif", 14).into_font().color(ink),
                ))?;
            }
        }
    }
    if with_text {
        let title = format!(
            "{} {} on {}: top-1 {:.1} % (rows: true class, columns: predicted)",
            run.model,
            run.precision,
            run.backend,
            run.top1 * 100.0
        );
        root.draw(&Text::new(title, (10, 10), ("sans-serif", 16).into_font()))?;
        for (i, l) in labels.iter().enumerate() {
            let short: String = l.chars().take(30).collect();
            let y = y0 + i as i32 * cell as i32 + 12;
            root.draw(&Text::new(
                format!("{i} {short}"),
                (5, y),
                ("sans-serif", 12).into_font(),
            ))?;
            let x = x0 + i as i32 * cell as i32 + 12;
            root.draw(&Text::new(
                i.to_string(),
                (x, y0 - 18),
                ("sans-serif", 12).into_font(),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}
