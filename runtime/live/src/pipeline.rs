//! The clip pipeline: frames in, decisions out.
//!
//! Two threads. The capture thread pulls frames from the [`FrameSource`],
//! preprocesses each frame a clip will sample into the window's slots (the
//! others are never decoded) and, every hop, cuts a clip into a hand-off
//! slot. The window and the clips live where the [`FrameStage`] keeps them:
//! host memory, or the GPU the model runs on. The inference thread (the
//! caller's) takes clips from the slot, classifies them, feeds the
//! [`Decider`] and tells the sinks, each event with the capture instant of
//! its window's newest frame; it also sends a heartbeat every
//! [`PipelineConfig::heartbeat`].
//!
//! Live, a clip that is still waiting when the next one is cut is replaced by
//! the newer one and counted as dropped: the scoreboard never lags behind a
//! backlog, and memory stays fixed (three clip buffers in all). Offline
//! (`realtime = false`), capture waits for inference instead, so that every
//! window is classified and results do not depend on speed.
//!
//! A lost source is reopened with backoff; the window and the decision state
//! start afresh after the gap, and a shown action is cleared. Nothing on the
//! hot path allocates after start-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use artrt_infer::bundle::Sampling;
use artrt_infer::postprocess::softmax_into;
use artrt_infer::{Backend, BackendKind, Bundle, FrameRef};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::board::Profile;
use crate::decision::{Decider, Decision, DecisionConfig, DecisionConfigError};
use crate::health::{self, Health, Observed};
use crate::scoreboard::serial::Backoff;
use crate::sink::{ActionEvent, ClearEvent, EventSink};
use crate::source::{FrameSource, SourceError};
use crate::stage::{FrameStage, StageError, StagedClip};
use crate::window::{WindowError, WindowRing};

/// How the pipeline cuts clips and decides.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Source frames one clip spans.
    pub window: usize,
    /// Source frames between two clips.
    pub hop: usize,
    /// Frames in a clip (the model's T).
    pub frames: usize,
    /// How the clip's frames are picked from the window (the bundle's rule).
    pub sampling: Sampling,
    /// Smoothing and thresholds.
    pub decision: DecisionConfig,
    /// The class that means "no element", if the model has one.
    pub background: Option<usize>,
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// The backend the device is meant to serve on: heartbeats report
    /// `DEGRADED` while any other one serves.
    pub preferred: BackendKind,
    /// When the device started: heartbeats count their uptime from it.
    pub started: Instant,
    /// Drop stale clips to stay live (true), or classify every clip (false).
    pub realtime: bool,
    /// Stop after this many source frames (None: until stopped or the source ends).
    pub max_frames: Option<u64>,
    /// The camera's id, carried by its events.
    pub camera: Arc<str>,
    /// The device's event count, shared by all its cameras.
    pub sequence: Arc<AtomicU64>,
}

impl PipelineConfig {
    /// How a board profile runs a bundle: the bundle's clip (window, `T`,
    /// sampling, background class), the profile's hop, decisions and
    /// heartbeat. Refuses a profile whose window is not the bundle's.
    pub fn new(
        profile: &Profile,
        bundle: &Bundle,
        preferred: BackendKind,
        started: Instant,
        realtime: bool,
    ) -> Result<PipelineConfig, PipelineError> {
        if profile.clip.window != bundle.input.window {
            return Err(PipelineError::WindowMismatch {
                profile: profile.name.clone(),
                profile_window: profile.clip.window,
                bundle: bundle.dir().display().to_string(),
                bundle_window: bundle.input.window,
            });
        }
        Ok(PipelineConfig {
            window: bundle.input.window,
            hop: profile.clip.hop,
            frames: bundle.input.frames,
            sampling: bundle.input.sampling,
            decision: profile.decision.clone(),
            background: bundle.background(),
            heartbeat: Duration::from_millis(profile.scoreboard.heartbeat_interval_ms),
            preferred,
            started,
            realtime,
            max_frames: None,
            camera: profile.camera.id.as_str().into(),
            sequence: Arc::default(),
        })
    }

    /// The next event sequence number (the first is 1).
    fn next_seq(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The profile cuts windows of another length than the model was trained on.
    #[error(
        "board profile {profile} cuts windows of {profile_window} frames, but bundle {bundle} \
         was trained on windows of {bundle_window}: set clip.window = {bundle_window}"
    )]
    WindowMismatch {
        /// The profile's name.
        profile: String,
        /// Its `clip.window`.
        profile_window: usize,
        /// The bundle's directory.
        bundle: String,
        /// The bundle's `input.window`.
        bundle_window: usize,
    },
    /// The window shape does not fit the model.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// The decision thresholds are unusable.
    #[error(transparent)]
    Decision(#[from] DecisionConfigError),
    /// The window or the clip buffers could not be allocated.
    #[error("cannot set up the frame window: {0}")]
    Stage(#[from] StageError),
}

/// What happened during a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunStats {
    /// Frames taken from the source.
    pub frames: u64,
    /// Frames the source could not deliver or the preprocessor refused.
    pub bad_frames: u64,
    /// Times the source was lost and reopened.
    pub source_losses: u64,
    /// Clips classified.
    pub clips: u64,
    /// Clips replaced by a newer one before inference took them.
    pub dropped_clips: u64,
    /// Clips that could not be cut or that no backend could classify.
    pub failed_clips: u64,
    /// Actions sent.
    pub actions: u64,
    /// Inference time per clip, microseconds, median.
    pub inference_p50_us: u64,
}

/// A clip on its way from capture to inference.
struct Clip<C> {
    data: C,
    end: Duration,
    captured: Instant,
    full: bool,
}

/// State shared by the two threads.
struct Shared<C> {
    slot: Mutex<Clip<C>>,
    changed: Condvar,
    done: AtomicBool,
    frames: AtomicU64,
    bad_frames: AtomicU64,
    losses: AtomicU64,
    dropped: AtomicU64,
    source_down: AtomicBool,
    gap: AtomicU64,
    failed_cuts: AtomicU64,
}

/// Runs until `stop` is set, the source ends or `max_frames` frames were taken.
pub fn run<S, F, K>(
    source: &mut S,
    stage: &mut F,
    backend: &mut dyn Backend,
    sink: &mut K,
    labels: &[String],
    config: &PipelineConfig,
    stop: &AtomicBool,
) -> Result<RunStats, PipelineError>
where
    S: FrameSource + ?Sized,
    F: FrameStage,
    K: EventSink,
{
    let mut ring = WindowRing::new(config.window, config.hop, config.frames, config.sampling)?;
    let mut decider = Decider::new(config.decision.clone(), labels.len(), config.background)?;
    stage.reserve(ring.slots())?;
    let (spare, work) = (stage.clip()?, stage.clip()?);
    let shared = Shared {
        slot: Mutex::new(Clip {
            data: stage.clip()?,
            end: Duration::ZERO,
            captured: Instant::now(),
            full: false,
        }),
        changed: Condvar::new(),
        done: AtomicBool::new(false),
        frames: AtomicU64::new(0),
        bad_frames: AtomicU64::new(0),
        losses: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        source_down: AtomicBool::new(false),
        gap: AtomicU64::new(0),
        failed_cuts: AtomicU64::new(0),
    };
    let mut stats = RunStats::default();

    std::thread::scope(|scope| {
        let capture = scope.spawn(|| {
            capture_loop(source, stage, &mut ring, spare, &shared, config, stop);
            shared.done.store(true, Ordering::SeqCst);
            shared.changed.notify_all();
        });
        infer_loop(
            backend,
            work,
            &mut decider,
            sink,
            labels,
            &shared,
            config,
            &mut stats,
        );
        if capture.join().is_err() {
            log::error!("the capture thread panicked");
        }
    });

    stats.frames = shared.frames.load(Ordering::SeqCst);
    stats.bad_frames = shared.bad_frames.load(Ordering::SeqCst);
    stats.source_losses = shared.losses.load(Ordering::SeqCst);
    stats.dropped_clips = shared.dropped.load(Ordering::SeqCst);
    stats.failed_clips += shared.failed_cuts.load(Ordering::SeqCst);
    Ok(stats)
}

fn capture_loop<S: FrameSource + ?Sized, F: FrameStage>(
    source: &mut S,
    stage: &mut F,
    ring: &mut WindowRing,
    mut spare: F::Clip,
    shared: &Shared<F::Clip>,
    config: &PipelineConfig,
    stop: &AtomicBool,
) {
    let mut taken = 0u64;
    while !stop.load(Ordering::SeqCst) && config.max_frames.is_none_or(|m| taken < m) {
        let next = source.next_frame();
        let captured = Instant::now();
        let due = match next {
            Ok(frame) => {
                taken += 1;
                shared.frames.fetch_add(1, Ordering::Relaxed);
                shared.source_down.store(false, Ordering::Relaxed);
                match take_frame(stage, ring, &frame) {
                    Ok(due) => due,
                    Err(e) => {
                        log::warn!("{}: frame skipped: {e}", source.describe());
                        shared.bad_frames.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            Err(SourceError::BadFrame {
                source_name,
                reason,
            }) => {
                log::warn!("{source_name}: frame skipped: {reason}");
                shared.bad_frames.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(SourceError::Ended(name)) => {
                log::info!("{name}: no more frames");
                break;
            }
            Err(e @ SourceError::Unusable { .. }) => {
                log::error!("{e}");
                break;
            }
            Err(e @ SourceError::Lost { .. }) => {
                log::warn!("{e}; reopening");
                shared.losses.fetch_add(1, Ordering::Relaxed);
                shared.source_down.store(true, Ordering::Relaxed);
                shared.gap.fetch_add(1, Ordering::SeqCst);
                ring.reset();
                reopen(source, stop);
                continue;
            }
        };
        if due {
            match stage.gather(ring.clip_slots(), &mut spare) {
                Ok(()) => hand_off(
                    &mut spare,
                    (ring.newest(), captured),
                    shared,
                    config.realtime,
                    stop,
                ),
                Err(e) => {
                    log::error!("clip not cut: {e}");
                    shared.failed_cuts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Takes one frame into the ring: preprocesses it into the ring's next slot
/// when a clip will sample it (only checks it otherwise) and commits it.
/// Returns whether a clip is due; a refused frame is not committed.
pub fn take_frame<F: FrameStage>(
    stage: &mut F,
    ring: &mut WindowRing,
    frame: &FrameRef<'_>,
) -> Result<bool, StageError> {
    if ring.wants_next() {
        stage.frame_into(frame, ring.next_slot())?;
    } else {
        stage.validate(frame)?;
    }
    Ok(ring.commit(frame.timestamp))
}

/// Reopens a lost source with exponential backoff (0.1 s up to 2 s) until it
/// comes back or the run is stopped.
fn reopen<S: FrameSource + ?Sized>(source: &mut S, stop: &AtomicBool) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    while !stop.load(Ordering::SeqCst) {
        match source.reopen() {
            Ok(()) => {
                log::info!("{}: reopened", source.describe());
                return;
            }
            Err(e) => {
                let wait = backoff.failed(Instant::now());
                log::debug!("{e}; retrying in {wait:?}");
                std::thread::sleep(wait);
            }
        }
    }
}

/// Puts a cut clip into the slot: live, replacing a clip still waiting;
/// offline, waiting until inference has taken the previous one.
fn hand_off<C>(
    spare: &mut C,
    (end, captured): (Duration, Instant),
    shared: &Shared<C>,
    realtime: bool,
    stop: &AtomicBool,
) {
    let mut slot = shared.slot.lock().unwrap_or_else(|p| p.into_inner());
    if !realtime {
        while slot.full && !stop.load(Ordering::SeqCst) {
            slot = shared
                .changed
                .wait_timeout(slot, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
    if slot.full {
        shared.dropped.fetch_add(1, Ordering::Relaxed);
    }
    std::mem::swap(&mut slot.data, spare);
    slot.end = end;
    slot.captured = captured;
    slot.full = true;
    drop(slot);
    shared.changed.notify_all();
}

#[allow(clippy::too_many_arguments)]
fn infer_loop<C: StagedClip, K: EventSink>(
    backend: &mut dyn Backend,
    mut work: C,
    decider: &mut Decider,
    sink: &mut K,
    labels: &[String],
    shared: &Shared<C>,
    config: &PipelineConfig,
    stats: &mut RunStats,
) {
    let mut probs = vec![0.0f32; labels.len()];
    // Fixed memory however long the run: 1 µs to 10 min at 3 significant digits.
    let mut times_us = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
        .expect("constant histogram bounds are valid");
    let mut gap_seen = 0u64;
    let mut last_t_ms = 0u64;
    let mut last_beat = Instant::now();
    let mut beat = Beat {
        frames: 0,
        dropped: 0,
    };
    send_health(sink, shared, config, &mut beat, backend, Duration::ZERO);

    loop {
        let end = {
            let mut slot = shared.slot.lock().unwrap_or_else(|p| p.into_inner());
            while !slot.full
                && !shared.done.load(Ordering::SeqCst)
                && last_beat.elapsed() < config.heartbeat
            {
                let wait = config
                    .heartbeat
                    .saturating_sub(last_beat.elapsed())
                    .max(Duration::from_millis(1));
                slot = shared
                    .changed
                    .wait_timeout(slot, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            if slot.full {
                std::mem::swap(&mut slot.data, &mut work);
                slot.full = false;
                shared.changed.notify_all();
                Some((slot.end, slot.captured))
            } else {
                None
            }
        };

        let gap = shared.gap.load(Ordering::SeqCst);
        if gap != gap_seen {
            gap_seen = gap;
            if decider.reset() == Decision::Clear {
                let _ = sink.clear(&ClearEvent {
                    t_ms: last_t_ms as u32,
                    camera: Arc::clone(&config.camera),
                    seq: config.next_seq(),
                    captured: Instant::now(),
                });
            }
        }

        if last_beat.elapsed() >= config.heartbeat {
            let elapsed = last_beat.elapsed();
            last_beat = Instant::now();
            send_health(sink, shared, config, &mut beat, backend, elapsed);
        }

        let Some((end, captured)) = end else {
            if shared.done.load(Ordering::SeqCst) {
                break;
            }
            continue;
        };

        let t0 = Instant::now();
        let outputs = match work.run(&mut *backend) {
            Ok(outputs) => outputs,
            Err(e) => {
                log::error!("clip not classified: {e}");
                stats.failed_clips += 1;
                continue;
            }
        };
        times_us.saturating_record(t0.elapsed().as_micros() as u64);
        stats.clips += 1;
        softmax_into(&outputs.logits, &mut probs);
        let t_ms = end.as_millis() as u64;
        last_t_ms = t_ms;
        match decider.push(&probs, t_ms) {
            Decision::Show {
                class_id,
                confidence,
            } => {
                stats.actions += 1;
                let event = ActionEvent {
                    class_id: class_id as u16,
                    label: labels[class_id].clone(),
                    confidence,
                    t_ms: t_ms as u32,
                    camera: Arc::clone(&config.camera),
                    seq: config.next_seq(),
                    captured,
                };
                let _ = sink.action(&event);
            }
            Decision::Clear => {
                let _ = sink.clear(&ClearEvent {
                    t_ms: t_ms as u32,
                    camera: Arc::clone(&config.camera),
                    seq: config.next_seq(),
                    captured,
                });
            }
            Decision::Hold => {}
        }
    }
    stats.inference_p50_us = times_us.value_at_quantile(0.5);
}

/// Counters at the previous heartbeat.
struct Beat {
    frames: u64,
    dropped: u64,
}

fn send_health<C, K: EventSink>(
    sink: &mut K,
    shared: &Shared<C>,
    config: &PipelineConfig,
    beat: &mut Beat,
    backend: &dyn Backend,
    elapsed: Duration,
) {
    let frames = shared.frames.load(Ordering::Relaxed);
    let dropped = shared.dropped.load(Ordering::Relaxed);
    let fps = if elapsed.is_zero() {
        0.0
    } else {
        (frames - beat.frames) as f32 / elapsed.as_secs_f32()
    };
    let status = health::status(Observed::Serving {
        serving: backend.kind(),
        preferred: config.preferred,
        source_down: shared.source_down.load(Ordering::Relaxed),
        frames: (!elapsed.is_zero()).then(|| frames - beat.frames),
        dropped: dropped - beat.dropped,
    });
    beat.frames = frames;
    beat.dropped = dropped;
    let health = Health {
        uptime_s: config.started.elapsed().as_secs() as u32,
        fps,
        backend: backend.kind(),
        status,
    };
    let _ = sink.health(&health);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use artrt_infer::bundle::{Crop, Resize, Sampling};
    use artrt_infer::{InferError, InputSpec, Outputs, PixelFormat};

    use super::*;
    use crate::sink::BoxError;
    use crate::stage::HostStage;

    /// Frames whose colour encodes the class being "performed"; scripted losses and bad frames.
    struct Script {
        frame: Vec<u8>,
        n: u64,
        len: u64,
        lose_at: Option<u64>,
        bad_every: Option<u64>,
        reopens: usize,
    }

    impl Script {
        fn class_at(n: u64) -> u8 {
            if (n / 40) % 2 == 1 {
                ((n / 80) % 3 + 1) as u8
            } else {
                0
            }
        }
    }

    impl FrameSource for Script {
        fn describe(&self) -> String {
            "script".into()
        }
        fn fps(&self) -> f32 {
            30.0
        }
        fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
            if self.n >= self.len {
                return Err(SourceError::Ended("script".into()));
            }
            if self.lose_at == Some(self.n) {
                self.lose_at = None;
                return Err(SourceError::Lost {
                    source_name: "script".into(),
                    reason: "unplugged".into(),
                });
            }
            let n = self.n;
            self.n += 1;
            if self.bad_every.is_some_and(|k| n % k == k - 1) {
                return Ok(FrameRef {
                    format: PixelFormat::Rgb24,
                    width: 8,
                    height: 8,
                    data: &self.frame[..5],
                    timestamp: Duration::ZERO,
                });
            }
            self.frame
                .iter_mut()
                .for_each(|v| *v = Self::class_at(n) * 60);
            Ok(FrameRef {
                format: PixelFormat::Rgb24,
                width: 8,
                height: 8,
                data: &self.frame,
                timestamp: Duration::from_millis(n * 1000 / 30),
            })
        }
        fn reopen(&mut self) -> Result<(), SourceError> {
            self.reopens += 1;
            Ok(())
        }
    }

    /// Reads the class back from the clip's brightest value; optionally slow.
    struct ColourModel {
        out: Outputs,
        delay: Duration,
        runs: AtomicUsize,
    }

    impl Backend for ColourModel {
        fn kind(&self) -> BackendKind {
            BackendKind::Tract
        }
        fn provider(&self) -> &str {
            "colour"
        }
        fn precision(&self) -> artrt_infer::Precision {
            artrt_infer::Precision::Fp32
        }
        fn model(&self) -> &str {
            "colour"
        }
        fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
            std::thread::sleep(self.delay);
            self.runs.fetch_add(1, Ordering::Relaxed);
            let max = input.iter().copied().fold(0.0, f32::max);
            let class = (max * 255.0 / 60.0).round() as usize;
            self.out
                .logits
                .iter_mut()
                .enumerate()
                .for_each(|(c, l)| *l = if c == class { 8.0 } else { 0.0 });
            Ok(&self.out)
        }
        fn outputs(&self) -> &Outputs {
            &self.out
        }
    }

    #[derive(Default)]
    struct Log(Vec<String>);

    impl EventSink for Log {
        type Error = BoxError;
        fn action(&mut self, e: &ActionEvent) -> Result<(), BoxError> {
            self.0.push(format!("show {}", e.class_id));
            Ok(())
        }
        fn clear(&mut self, _e: &ClearEvent) -> Result<(), BoxError> {
            self.0.push("clear".into());
            Ok(())
        }
        fn health(&mut self, h: &Health) -> Result<(), BoxError> {
            self.0.push(format!(
                "health {} {:?} {}",
                h.backend, h.status, h.uptime_s
            ));
            Ok(())
        }
    }

    fn spec() -> InputSpec {
        InputSpec {
            frames: 4,
            window: 8,
            fps: 30.0,
            sampling: Sampling::SegmentCentre,
            resize: Resize::ShorterSideBilinear,
            resize_to: 4,
            crop: Crop::Centre,
            width: 4,
            height: 4,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    fn config(realtime: bool) -> PipelineConfig {
        PipelineConfig {
            window: 8,
            hop: 2,
            frames: 4,
            sampling: Sampling::SegmentCentre,
            decision: DecisionConfig {
                smoothing_windows: 2,
                enter_threshold: 0.6,
                exit_threshold: 0.4,
                min_hold_ms: 0,
                margin: 0.1,
            },
            background: Some(0),
            heartbeat: Duration::from_secs(3600),
            preferred: BackendKind::Tract,
            started: Instant::now(),
            realtime,
            max_frames: None,
            camera: "cam0".into(),
            sequence: Arc::default(),
        }
    }

    fn script(len: u64) -> Script {
        Script {
            frame: vec![0; 8 * 8 * 3],
            n: 0,
            len,
            lose_at: None,
            bad_every: None,
            reopens: 0,
        }
    }

    fn model(delay_ms: u64) -> ColourModel {
        ColourModel {
            out: Outputs::with_sizes(4, 0),
            delay: Duration::from_millis(delay_ms),
            runs: AtomicUsize::new(0),
        }
    }

    /// Runs the pipeline on `source` into `log` with the test preprocessor,
    /// labels and [`config`].
    fn run_on(
        source: &mut Script,
        backend: &mut ColourModel,
        log: &mut Log,
        realtime: bool,
        stop: &AtomicBool,
    ) -> RunStats {
        run(
            source,
            &mut HostStage::new(&spec()),
            backend,
            log,
            &labels(),
            &config(realtime),
            stop,
        )
        .unwrap()
    }

    fn labels() -> Vec<String> {
        (0..4).map(|c| format!("class {c}")).collect()
    }

    #[test]
    fn offline_run_classifies_every_window_and_shows_each_element_once() {
        let (mut source, mut backend, mut log) = (script(400), model(0), Log::default());
        let stats = run_on(
            &mut source,
            &mut backend,
            &mut log,
            false,
            &AtomicBool::new(false),
        );
        assert_eq!(stats.frames, 400);
        assert_eq!(stats.clips, (400 - 8) / 2 + 1);
        assert_eq!(stats.dropped_clips, 0);
        // Elements at frames 40..80 (class 1), 120..160 (class 2), 200..240 (class 3), 280..320 (class 1), 360..400 (class 2).
        let shows: Vec<&String> = log.0.iter().filter(|l| l.starts_with("show")).collect();
        assert_eq!(shows, ["show 1", "show 2", "show 3", "show 1", "show 2"]);
        assert_eq!(
            log.0.iter().filter(|l| *l == "clear").count(),
            4,
            "{:?}",
            log.0
        );
    }

    #[test]
    fn live_run_drops_stale_windows_when_inference_is_slow() {
        let (mut source, mut backend, mut log) = (script(300), model(15), Log::default());
        let stats = run_on(
            &mut source,
            &mut backend,
            &mut log,
            true,
            &AtomicBool::new(false),
        );
        assert_eq!(stats.frames, 300);
        assert!(stats.dropped_clips > 0, "{stats:?}");
        assert_eq!(
            stats.clips + stats.dropped_clips,
            (300 - 8) / 2 + 1,
            "every cut window is either classified or dropped: {stats:?}"
        );
    }

    #[test]
    fn a_lost_source_is_reopened_and_bad_frames_are_skipped() {
        let mut source = Script {
            lose_at: Some(100),
            bad_every: Some(50),
            ..script(300)
        };
        let (mut backend, mut log) = (model(0), Log::default());
        let stats = run_on(
            &mut source,
            &mut backend,
            &mut log,
            false,
            &AtomicBool::new(false),
        );
        assert_eq!(source.reopens, 1);
        assert_eq!(stats.source_losses, 1);
        assert_eq!(stats.bad_frames, 6);
        assert_eq!(stats.frames, 300);
        assert!(stats.clips > 100, "{stats:?}");
    }

    #[test]
    fn the_median_inference_time_covers_the_whole_run() {
        let (mut source, mut backend, mut log) = (script(60), model(2), Log::default());
        let stats = run_on(
            &mut source,
            &mut backend,
            &mut log,
            false,
            &AtomicBool::new(false),
        );
        assert!(stats.clips > 10, "{stats:?}");
        // Each run sleeps 2 ms: the median cannot be less.
        assert!(stats.inference_p50_us >= 2000, "{stats:?}");
    }

    #[test]
    fn a_stop_request_ends_the_run() {
        let (mut source, mut backend, mut log) = (script(u64::MAX), model(1), Log::default());
        let stop = AtomicBool::new(false);
        let stats = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                stop.store(true, Ordering::SeqCst);
            });
            run_on(&mut source, &mut backend, &mut log, true, &stop)
        });
        assert!(stats.frames > 0);
    }

    #[test]
    fn heartbeats_report_a_fallback_backend_and_the_device_uptime() {
        let first_health = |preferred| {
            let (mut source, mut backend, mut log) = (script(40), model(0), Log::default());
            let config = PipelineConfig {
                preferred,
                started: Instant::now() - Duration::from_secs(90),
                ..config(false)
            };
            run(
                &mut source,
                &mut HostStage::new(&spec()),
                &mut backend,
                &mut log,
                &labels(),
                &config,
                &AtomicBool::new(false),
            )
            .unwrap();
            log.0.into_iter().find(|l| l.starts_with("health"))
        };
        assert_eq!(
            first_health(BackendKind::Tract).as_deref(),
            Some("health tract Ok 90")
        );
        assert_eq!(
            first_health(BackendKind::OrtCpu).as_deref(),
            Some("health tract Degraded 90")
        );
    }
}
