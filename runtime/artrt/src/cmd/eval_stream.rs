//! `artrt eval-stream`: event precision, recall and onset latency of the
//! whole live path (clips, inference, decisions) on the synthetic gym stream.
//!
//! The stream is generated as fast as the model takes it, and every window
//! is classified (nothing is dropped), so the result depends only on the
//! bundle, the seed and the decision settings, not on the machine's speed.
//! Times are stream times.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use artrt_calibration::{ELEMENTS, StreamOptions};
use artrt_infer::postprocess::softmax_into;
use artrt_infer::{
    Backend, BackendKind, Bundle, Failover, InferError, Outputs, Precision, Preprocessor,
};
use artrt_live::board::Profile;
use artrt_live::pipeline::{self, PipelineConfig, RunStats};
use artrt_live::scoring::{self, Detection, Segment};
use artrt_live::sink::{ActionEvent, EventSink, Health};
use artrt_live::source::Pacing;
use artrt_live::source::synthetic::SyntheticSource;
use artrt_live::tuning::{Recording, Window};
use serde_json::json;

use super::infer::{BackendArgs, DEFAULT_BUNDLE, load_bundle};
use super::run::{Serving, open_chain};

/// What a synthetic-stream command runs: the bundle, the stream's length,
/// the board profile and the backend.
#[derive(clap::Args)]
pub struct StreamSetup {
    /// Model bundle directory.
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    pub bundle: PathBuf,
    /// Seconds of each stream.
    #[arg(long, default_value_t = 120.0)]
    pub seconds: f64,
    /// Board profile whose clip and decision settings are used.
    #[arg(long, default_value = "x86-64-cpu")]
    pub board: String,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Model precision.
    #[arg(long, default_value = "fp32")]
    pub precision: Precision,
}

/// A loaded [`StreamSetup`]: the profile, the bundle and the serving backend chain.
pub struct Opened {
    /// The board profile.
    pub profile: Profile,
    /// The bundle, checked to name the stream's elements.
    pub bundle: Arc<Bundle>,
    /// The backends, the first that passed its self-test serving.
    pub chain: Failover,
}

impl StreamSetup {
    /// Loads the profile and the bundle, checks the bundle's classes against
    /// the stream's, and opens the backends.
    pub fn open(&self) -> anyhow::Result<Opened> {
        if !(self.seconds.is_finite() && self.seconds > 0.0) {
            bail!(
                "--seconds {} is not a positive number of seconds",
                self.seconds
            );
        }
        let profile = Profile::load(&self.board)
            .with_context(|| format!("cannot use board profile {}", self.board))?;
        let bundle = load_bundle(&self.bundle)?;
        check_stream_labels(&bundle, &self.bundle)?;
        let order: Vec<BackendKind> = self.backend.backend.candidates();
        let chain = open_chain(&bundle, &order, self.precision, &self.backend.config())?;
        Ok(Opened {
            profile,
            bundle,
            chain,
        })
    }
}

/// Arguments of `artrt eval-stream`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    setup: StreamSetup,
    /// Seed of the synthetic stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds after an element's end within which its event still counts
    /// (default: the window's duration).
    #[arg(long)]
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

/// A backend that keeps each window's class probabilities, one after the
/// other in one buffer reserved for the whole stream.
///
/// Nothing is allocated per window: with a small allocation kept after each
/// inference, glibc's heap grew on some runs by one of the 5 MB blocks that
/// ONNX Runtime allocates and frees on every run, a window after another
/// (gigabytes a minute), instead of reusing the freed ones.
struct Traced<'a> {
    inner: Serving<'a>,
    probs: Vec<f32>,
}

impl Backend for Traced<'_> {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn precision(&self) -> Precision {
        self.inner.precision()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        let out = self.inner.run(input)?;
        let start = self.probs.len();
        self.probs.resize(start + out.logits.len(), 0.0);
        softmax_into(&out.logits, &mut self.probs[start..]);
        Ok(out)
    }
    fn outputs(&self) -> &Outputs {
        self.inner.outputs()
    }
}

/// Records the events of a run.
#[derive(Default)]
struct Recorder {
    events: Vec<ActionEvent>,
}

impl EventSink for Recorder {
    type Error = Infallible;
    fn action(&mut self, event: &ActionEvent) -> Result<(), Infallible> {
        self.events.push(event.clone());
        Ok(())
    }
    fn clear(&mut self, _t_ms: u32) -> Result<(), Infallible> {
        Ok(())
    }
    fn health(&mut self, _health: &Health) -> Result<(), Infallible> {
        Ok(())
    }
}

/// One seeded synthetic stream run through a bundle with a profile's clip
/// and decision settings: what the model said about every window, what
/// the decider sent, and what was performed.
pub struct StreamRun {
    /// Every window and the elements performed.
    pub recording: Recording,
    /// The events the pipeline sent.
    pub detections: Vec<Detection>,
    /// Frames of stream generated.
    pub frames: u64,
    /// The pipeline's counters.
    pub stats: RunStats,
    /// Wall-clock time of the run.
    pub wall: Duration,
}

/// Refuses a bundle whose classes are not the synthetic stream's elements in
/// order (optionally followed by its background class).
fn check_stream_labels(bundle: &Bundle, path: &Path) -> anyhow::Result<()> {
    let stream_labels: Vec<&str> = ELEMENTS.iter().map(|e| e.label).collect();
    let labels = bundle.labels();
    let (elements, rest) = labels.split_at(stream_labels.len().min(labels.len()));
    let background = bundle.background().map(|i| labels[i].as_str());
    if elements != stream_labels.as_slice() || !rest.iter().all(|l| Some(l.as_str()) == background)
    {
        bail!(
            "bundle {} names the classes {:?} (background {:?}); the synthetic stream performs {:?}: \
             the bundle must name them in the same order, followed by nothing or its background class",
            path.display(),
            labels,
            background,
            stream_labels
        );
    }
    Ok(())
}

/// Runs `seconds` of the synthetic stream with `seed` through `chain`, every
/// window classified; `tolerance_ms` defaults to the window's duration.
pub fn record(
    bundle: &Bundle,
    profile: &Profile,
    chain: &mut Failover,
    seed: u64,
    seconds: f64,
    tolerance_ms: Option<u64>,
) -> anyhow::Result<StreamRun> {
    let fps = bundle.input.fps.round().max(1.0) as u32;
    let options = StreamOptions {
        seed,
        fps,
        ..StreamOptions::default()
    };
    let mut source = SyntheticSource::new(options, Pacing::Fast);
    let truth = source.ground_truth();
    let frames = (seconds * f64::from(fps)).ceil() as u64;
    let pipeline_config = PipelineConfig {
        window: profile.clip.window,
        hop: profile.clip.hop,
        frames: bundle.input.frames,
        decision: profile.decision.clone(),
        background: bundle.background(),
        heartbeat: Duration::from_secs(3600),
        preferred: chain.kind(),
        started: Instant::now(),
        realtime: false,
        max_frames: Some(frames),
    };
    let mut preprocessor = Preprocessor::new(&bundle.input);
    let mut recorder = Recorder::default();
    let (window, hop) = (profile.clip.window as u64, profile.clip.hop as u64);
    let expected = frames.saturating_sub(window - 1).div_ceil(hop);
    let mut traced = Traced {
        inner: Serving(chain),
        probs: Vec::with_capacity(expected as usize * bundle.labels().len()),
    };
    let started = Instant::now();
    let stats = pipeline::run(
        &mut source,
        &mut preprocessor,
        &mut traced,
        &mut recorder,
        bundle.labels(),
        &pipeline_config,
        &AtomicBool::new(false),
    )?;
    let wall = started.elapsed();
    drop(source);

    let ms = |frame: u64| truth.time_of(frame).as_millis() as u64;
    let windows = traced
        .probs
        .chunks_exact(bundle.labels().len())
        .enumerate()
        .map(|(k, probs)| Window {
            t_ms: ms(window - 1 + k as u64 * hop),
            probs: probs.to_vec(),
        })
        .collect();
    let segments = truth
        .segments()
        .iter()
        .filter(|s| s.end <= frames)
        .map(|s| Segment {
            start_ms: ms(s.start),
            end_ms: ms(s.end),
            class_id: s.class_id,
        })
        .collect();
    let detections = recorder
        .events
        .iter()
        .map(|e| Detection {
            t_ms: u64::from(e.t_ms),
            class_id: usize::from(e.class_id),
        })
        .collect();
    Ok(StreamRun {
        recording: Recording {
            windows,
            segments,
            tolerance_ms: tolerance_ms.unwrap_or(ms(window)),
        },
        detections,
        frames,
        stats,
        wall,
    })
}

/// Runs `artrt eval-stream`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let Opened {
        profile,
        bundle,
        mut chain,
    } = args.setup.open()?;
    let run = record(
        &bundle,
        &profile,
        &mut chain,
        args.seed,
        args.setup.seconds,
        args.tolerance_ms,
    )?;
    let rec = &run.recording;
    let fps = f64::from(bundle.input.fps.round().max(1.0));
    let score = scoring::score(&run.detections, &rec.segments, rec.tolerance_ms);

    let report = json!({
        "bundle": args.setup.bundle.display().to_string(),
        "backend": chain.kind().as_str(),
        "provider": chain.provider(),
        "precision": chain.precision().as_str(),
        "seed": args.seed,
        "stream_seconds": run.frames as f64 / fps,
        "wall_seconds": run.wall.as_secs_f64(),
        "window": profile.clip.window,
        "hop": profile.clip.hop,
        "decision": profile.decision,
        "tolerance_ms": rec.tolerance_ms,
        "score": score,
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
    if let Some(path) = &args.trace {
        let lines: String = rec
            .windows
            .iter()
            .map(|w| format!("{}\n", json!({"t_ms": w.t_ms, "probs": w.probs})))
            .collect();
        std::fs::write(path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
