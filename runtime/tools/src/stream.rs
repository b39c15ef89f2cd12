//! The whole live path (clips, inference, decisions) on the synthetic gym
//! stream or on a recording, every window classified and recorded, for
//! `artrt eval-stream` and `artrt tune-decision`.
//!
//! Frames are generated or replayed as fast as the model takes them and
//! nothing is dropped, so a run depends only on the bundle, the stream (seed
//! or recording) and the decision settings, not on the machine's speed.
//! Times are stream times: a recording's capture times.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::bail;
use artrt_calibration::{ELEMENTS, StreamOptions};
use artrt_infer::postprocess::softmax_into;
use artrt_infer::{Backend, BackendKind, Bundle, InferError, Outputs, Precision};
use artrt_live::board::Profile;
use artrt_live::labels;
use artrt_live::pipeline::{self, Feed, PipelineConfig, RunStats};
use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health};
use artrt_live::source::recorded::RecordedSource;
use artrt_live::source::synthetic::SyntheticSource;
use artrt_live::source::{FrameSource, Pacing};
use artrt_live::stage::HostStage;

use crate::scoring::{Detection, Segment};
use crate::tuning::{Recording, Window};

/// A backend that keeps each window's class probabilities, one after the
/// other in one buffer reserved for the whole stream: a decorator that is
/// itself a [`Backend`].
///
/// Nothing is allocated per window: with a small allocation kept after each
/// inference, glibc's heap grew on some runs by one of the 5 MB blocks that
/// ONNX Runtime allocated and freed on every run, a window after another
/// (gigabytes a minute), instead of reusing the freed ones.
pub struct Traced<B> {
    inner: B,
    probs: Vec<f32>,
}

impl<B: Backend> Traced<B> {
    /// Traces `inner`, with room for `windows` windows of `classes` classes.
    pub fn new(inner: B, windows: usize, classes: usize) -> Traced<B> {
        Traced {
            inner,
            probs: Vec::with_capacity(windows * classes),
        }
    }

    /// The probabilities of every window run so far, one after the other.
    pub fn probabilities(&self) -> &[f32] {
        &self.probs
    }
}

impl<B: Backend> Backend for Traced<B> {
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
pub struct Recorder {
    /// The actions, in order.
    pub events: Vec<ActionEvent>,
}

impl EventSink for Recorder {
    type Error = Infallible;
    fn action(&mut self, event: &ActionEvent) -> Result<(), Infallible> {
        self.events.push(event.clone());
        Ok(())
    }
    fn clear(&mut self, _event: &ClearEvent) -> Result<(), Infallible> {
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
pub fn check_stream_labels(bundle: &Bundle, path: &Path) -> anyhow::Result<()> {
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

/// Runs `seconds` of the synthetic stream with `seed` through `backend`,
/// every window classified; `tolerance_ms` defaults to the window's duration.
pub fn record(
    bundle: &Bundle,
    profile: &Profile,
    backend: &mut dyn Backend,
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
    let classified = classify(bundle, profile, backend, &mut source, frames)?;
    drop(source);

    let ms = |frame: u64| truth.time_of(frame).as_millis() as u64;
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
    Ok(classified.into_run(
        profile,
        bundle,
        segments,
        ms,
        tolerance_ms.unwrap_or(ms(profile.clip.window as u64)),
    ))
}

/// A recording scored against its labels.
pub struct Replay {
    /// The run, its elements from the labels.
    pub run: StreamRun,
    /// The labels file scored against: `labels.csv`, else `truth.csv`.
    pub labels_file: PathBuf,
    /// Class names: the bundle's, then labels it does not know (their
    /// elements can only be missed).
    pub classes: Vec<String>,
    /// Frames in the recording.
    pub frames: u64,
    /// Its length in milliseconds.
    pub duration_ms: u64,
}

/// Runs a recording (`artrt record`) through `backend` at its capture
/// times, every window classified, and takes its elements from the
/// operator's `labels.csv` or, without one, a synthetic recording's
/// `truth.csv`; `tolerance_ms` defaults to the window's duration at the
/// recording's frame rate.
pub fn replay(
    bundle: &Bundle,
    profile: &Profile,
    backend: &mut dyn Backend,
    dir: &Path,
    tolerance_ms: Option<u64>,
) -> anyhow::Result<Replay> {
    let mut source = RecordedSource::open(dir, Pacing::Fast)?;
    let recording = source.recording();
    let duration_ms = recording.duration_ms();
    let times: Vec<u64> = recording
        .frames
        .iter()
        .map(|f| f.t.as_millis() as u64)
        .collect();
    let fps = f64::from(recording.meta.fps);
    let labels_file = recording.labels_file()?;
    let elements = labels::read(&labels_file, Some(duration_ms))?;
    let mut classes = bundle.labels().to_vec();
    let segments = elements
        .iter()
        .map(|l| {
            let class_id = classes
                .iter()
                .position(|c| *c == l.label)
                .unwrap_or_else(|| {
                    classes.push(l.label.clone());
                    classes.len() - 1
                });
            Segment {
                start_ms: l.start_ms,
                end_ms: l.end_ms,
                class_id,
            }
        })
        .collect();
    if classes.len() > bundle.labels().len() {
        log::warn!(
            "{}: labels the bundle does not know, whose elements can only be missed: {:?}",
            labels_file.display(),
            &classes[bundle.labels().len()..]
        );
    }
    let frames = times.len() as u64;
    let classified = classify(bundle, profile, backend, &mut source, frames)?;
    let last = times.last().copied().unwrap_or(0);
    let run = classified.into_run(
        profile,
        bundle,
        segments,
        |frame| times.get(frame as usize).copied().unwrap_or(last),
        tolerance_ms.unwrap_or((profile.clip.window as f64 * 1000.0 / fps).round() as u64),
    );
    Ok(Replay {
        run,
        labels_file,
        classes,
        frames,
        duration_ms,
    })
}

/// What the live path made of a source: each window's probabilities and the
/// events sent.
struct Classified {
    probs: Vec<f32>,
    events: Vec<ActionEvent>,
    frames: u64,
    stats: RunStats,
    wall: Duration,
}

/// Runs the first `frames` frames of `source` through the live path, every
/// window classified.
fn classify(
    bundle: &Bundle,
    profile: &Profile,
    backend: &mut dyn Backend,
    source: &mut dyn FrameSource,
    frames: u64,
) -> anyhow::Result<Classified> {
    let pipeline_config = PipelineConfig {
        heartbeat: Duration::from_secs(3600),
        max_frames: Some(frames),
        ..PipelineConfig::new(profile, bundle, backend.kind(), Instant::now(), false)?
    };
    let mut recorder = Recorder::default();
    let (window, hop) = (profile.clip.window as u64, profile.clip.hop as u64);
    let expected = frames.saturating_sub(window - 1).div_ceil(hop);
    let mut traced = Traced::new(backend, expected as usize, bundle.labels().len());
    let started = Instant::now();
    let feed = Feed {
        camera: profile.camera.id.as_str().into(),
        source,
        stage: HostStage::new(&bundle.input),
    };
    let stats = pipeline::run(
        vec![feed],
        &mut traced,
        &mut recorder,
        bundle.labels(),
        &pipeline_config,
        &AtomicBool::new(false),
    )?
    .remove(0);
    Ok(Classified {
        probs: traced.probs,
        events: recorder.events,
        frames,
        stats,
        wall: started.elapsed(),
    })
}

impl Classified {
    /// The run, with window `k` timed at its last frame by `ms(frame)`.
    fn into_run(
        self,
        profile: &Profile,
        bundle: &Bundle,
        segments: Vec<Segment>,
        ms: impl Fn(u64) -> u64,
        tolerance_ms: u64,
    ) -> StreamRun {
        let (window, hop) = (profile.clip.window as u64, profile.clip.hop as u64);
        let windows = self
            .probs
            .chunks_exact(bundle.labels().len())
            .enumerate()
            .map(|(k, probs)| Window {
                t_ms: ms(window - 1 + k as u64 * hop),
                probs: probs.to_vec(),
            })
            .collect();
        let detections = self
            .events
            .iter()
            .map(|e| Detection {
                t_ms: u64::from(e.t_ms),
                class_id: usize::from(e.class_id),
            })
            .collect();
        StreamRun {
            recording: Recording {
                windows,
                segments,
                tolerance_ms,
            },
            detections,
            frames: self.frames,
            stats: self.stats,
            wall: self.wall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers logits `[0, ln 3]` for a clip of zeros, `[ln 3, 0]` otherwise.
    struct Flip(Outputs);

    impl Backend for Flip {
        fn kind(&self) -> BackendKind {
            BackendKind::Tract
        }
        fn provider(&self) -> &str {
            "flip"
        }
        fn precision(&self) -> Precision {
            Precision::Fp32
        }
        fn model(&self) -> &str {
            "flip"
        }
        fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
            let l = 3f32.ln();
            self.0.logits = if input.iter().all(|&v| v == 0.0) {
                vec![0.0, l]
            } else {
                vec![l, 0.0]
            };
            Ok(&self.0)
        }
        fn outputs(&self) -> &Outputs {
            &self.0
        }
    }

    #[test]
    fn traced_keeps_every_windows_probabilities_and_passes_the_outputs_on() {
        let mut inner = Flip(Outputs::default());
        let mut traced = Traced::new(&mut inner, 3, 2);
        assert_eq!(traced.kind(), BackendKind::Tract);
        assert_eq!(traced.run(&[0.0]).unwrap().logits[0], 0.0);
        traced.run(&[1.0]).unwrap();
        traced.run(&[0.0]).unwrap();
        let p: Vec<f32> = traced
            .probabilities()
            .iter()
            .map(|v| (v * 100.0).round())
            .collect();
        assert_eq!(p, [25.0, 75.0, 75.0, 25.0, 25.0, 75.0]);
        assert_eq!(traced.outputs().logits[1], 3f32.ln());
    }
}
