//! Accuracy of a bundle on a clip set: top-1, top-5, mean class accuracy,
//! per-class results, the confusion matrix, INT8/FP32 agreement, per-clip
//! latency and, where the clips have `boxes.json`, the region hit of the
//! tracklets (what `artrt eval` reports).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use artrt_calibration::Annotation;
use artrt_calibration::ClipSet;
use artrt_infer::postprocess::{softmax_into, top_k};
use artrt_infer::preprocess::{PreprocessError, segment_centre};
use artrt_infer::region::{InputGeometry, RegionHit, RegionTally};
use artrt_infer::{Backend, Bundle, Failover, FrameRef, Preprocessor};
use serde::Serialize;

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
    /// Clips that could not be evaluated (a frame missing, unreadable or
    /// not decodable), each with the file and the reason; they count in no
    /// figure.
    pub skipped: Vec<Skipped>,
    /// Clips whose `boxes.json` could not be used, left out of the region
    /// hit only.
    pub boxes_skipped: Vec<Skipped>,
    /// Class labels (bundle and set agree).
    pub labels: Vec<String>,
    /// One entry per precision.
    pub runs: Vec<Run>,
    /// Fraction of clips where INT8 and FP32 give the same top-1 class (`both` only).
    pub int8_fp32_agreement: Option<f64>,
}

/// A clip left out of the evaluation, and why.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The clip's directory, as `annotations.txt` names it.
    pub clip: String,
    /// The frame file at fault, when one is.
    pub file: Option<PathBuf>,
    /// What is wrong.
    pub reason: String,
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
    /// Region hit and overlap of the tracklets, where the clips have boxes.
    pub regions: Option<RegionHit>,
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
pub fn check_labels(bundle: &Bundle, set: &ClipSet) -> anyhow::Result<()> {
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
    regions: RegionTally,
}

/// Classifies every clip of `set` once per chain (one chain per precision,
/// each opened on `bundle`), calling `progress` after each clip.
pub fn evaluate(
    bundle: &Arc<Bundle>,
    set: &ClipSet,
    chains: Vec<Failover>,
    mut progress: impl FnMut(),
) -> anyhow::Result<Report> {
    check_labels(bundle, set)?;
    if set.clips().is_empty() {
        bail!("clip set {} has no clips", set.root().display());
    }
    let mut tallies: Vec<Tally> = chains
        .into_iter()
        .map(|chain| Tally {
            chain,
            predictions: Vec::new(),
            top5_hits: 0,
            inference_ms: Vec::new(),
            clip_ms: Vec::new(),
            regions: RegionTally::default(),
        })
        .collect();
    let mut pre = Preprocessor::new(&bundle.input);
    let mut input = vec![0.0f32; pre.clip_len()];
    let mut probs = vec![0.0f32; bundle.labels().len()];
    let mut truth = Vec::new();
    let mut skipped = Vec::new();
    let mut boxes_skipped = Vec::new();
    let tracklets = bundle.model.tracklets;
    for clip in set.clips() {
        let start = Instant::now();
        if let Err(skip) = prepare_clip(set, clip, &mut pre, &mut input) {
            log::warn!(
                "skipping clip {}: {}{}",
                skip.clip,
                skip.file
                    .as_ref()
                    .map_or(String::new(), |f| format!("{}: ", f.display())),
                skip.reason
            );
            skipped.push(skip);
            progress();
            continue;
        }
        truth.push(clip.class_id);
        let coverage = match performer_cells(bundle, set, clip) {
            Ok(c) => c,
            Err(skip) => {
                log::warn!("region hit leaves out clip {}: {}", skip.clip, skip.reason);
                boxes_skipped.push(skip);
                None
            }
        };
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
            if let Some(coverage) = &coverage {
                t.regions.add(&out.region_attn, tracklets, coverage);
            }
        }
        progress();
    }

    if truth.is_empty() {
        bail!(
            "no clip of {} could be evaluated; the first skipped: {} ({})",
            set.root().display(),
            skipped[0].clip,
            skipped[0].reason
        );
    }
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
    Ok(Report {
        bundle: bundle.dir().to_path_buf(),
        model: bundle.model.name.clone(),
        set: set.root().to_path_buf(),
        clips: truth.len(),
        skipped,
        boxes_skipped,
        labels,
        runs,
        int8_fp32_agreement: agreement,
    })
}

/// Reads and preprocesses the frames of `clip` into `input`; a clip that
/// cannot be used comes back as a [`Skipped`] naming the frame file.
fn prepare_clip(
    set: &ClipSet,
    clip: &Annotation,
    pre: &mut Preprocessor,
    input: &mut [f32],
) -> Result<(), Skipped> {
    let skipped = |file: Option<PathBuf>, reason: String| Skipped {
        clip: clip.clip_dir.clone(),
        file,
        reason,
    };
    let mut jpegs = Vec::with_capacity(clip.num_frames as usize);
    for k in 1..=clip.num_frames {
        let path = set.frame_path(clip, k);
        match set.read_frame(clip, k) {
            Ok(data) => jpegs.push(data),
            Err(e) => {
                let reason = e.to_string();
                let reason = reason.trim_start_matches(&format!("{}: ", path.display()));
                return Err(skipped(Some(path), reason.to_string()));
            }
        }
    }
    let frames: Vec<FrameRef<'_>> = jpegs.iter().map(|j| FrameRef::jpeg(j)).collect();
    match pre.clip_into(&frames, input) {
        Ok(()) => Ok(()),
        Err(PreprocessError::InFrame { index, cause }) => Err(skipped(
            Some(set.frame_path(clip, index as u32 + 1)),
            cause.to_string(),
        )),
        Err(e) => Err(skipped(None, e.to_string())),
    }
}

/// The cells of the model's token grid the performer's box covers, in each
/// model frame of `clip` (`None` for a frame without a box), from its
/// `boxes.json`; `Ok(None)` for a clip without one.
fn performer_cells(
    bundle: &Bundle,
    set: &ClipSet,
    clip: &Annotation,
) -> Result<Option<Vec<Option<Vec<f32>>>>, Skipped> {
    let boxes = set.load_boxes(clip).map_err(|e| Skipped {
        clip: clip.clip_dir.clone(),
        file: Some(
            set.root()
                .join(&clip.clip_dir)
                .join(artrt_calibration::BOXES_FILE),
        ),
        reason: e.to_string(),
    })?;
    let Some(performer) = boxes.as_ref().and_then(|b| b.performer()) else {
        return Ok(None);
    };
    let meta = set.meta();
    let geometry = InputGeometry::new(&bundle.input, bundle.model.grid, meta.width, meta.height);
    let t = bundle.input.frames;
    Ok(Some(
        (0..t)
            .map(|i| performer[segment_centre(performer.len(), t, i)].map(|b| geometry.coverage(b)))
            .collect(),
    ))
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
        model: t.chain.model().to_string(),
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
        regions: t.regions.report(),
    }
}
