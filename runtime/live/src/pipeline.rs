//! The clip pipeline: frames in, decisions out, for one camera or several
//! sharing one model.
//!
//! One capture thread per camera pulls frames from its [`FrameSource`],
//! preprocesses each frame a clip will sample into the camera's window (the
//! others are never decoded) and, every hop, cuts a clip into the camera's
//! hand-off slot. The windows and the clips live where the [`FrameStage`]
//! keeps them: host memory, or the GPU the model runs on. An inference
//! thread takes the waiting clips of its cameras, one per camera in turn,
//! classifies them, feeds each camera's [`Decider`] and tells the sink,
//! each event with its camera and the capture instant of its window's
//! newest frame; it also sends its cameras' heartbeats every
//! [`PipelineConfig::heartbeat`].
//!
//! All cameras share the one loaded model. One camera has one inference
//! thread, the caller's. With several cameras and a backend that can run
//! two clips at once ([`Backend::replicate`]: the CPU backends), the
//! cameras are dealt out to up to [`PipelineConfig::threads`] inference
//! threads, each with a replica of the backend and its share of the CPU
//! threads, so that one camera's clip runs while another's does: on a
//! small model a clip keeps fewer cores busy than it is given. A GPU
//! backend keeps one inference thread.
//!
//! Live, a clip that is still waiting when the camera's next one is cut is
//! replaced by the newer one and counted as dropped: the scoreboard never
//! lags behind a backlog, and memory stays fixed (three clip buffers per
//! camera). Offline
//! (`realtime = false`), capture waits for inference instead, so that every
//! window is classified and results do not depend on speed.
//!
//! A lost source is reopened with backoff; that camera's window and
//! decision state start afresh after the gap, and its shown action is
//! cleared. A source that fails for good stops its camera only. Nothing on the
//! hot path allocates after start-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use artrt_infer::bundle::Sampling;
use artrt_infer::postprocess::{argmax, softmax_into};
use artrt_infer::{Backend, BackendKind, Bundle, FrameRef, InferError, InputSpec, Outputs};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::board::Profile;
use crate::decision::{Decider, Decision, DecisionConfig, DecisionConfigError};
use crate::health::{self, Health, Observed};
use crate::publish::PublishUrl;
use crate::scoreboard::serial::Backoff;
use crate::sink::{ActionEvent, ClearEvent, EventSink, Preview};
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
    /// Stop each camera after this many source frames (None: until stopped
    /// or the source ends).
    pub max_frames: Option<u64>,
    /// The device's event count, shared by all its cameras.
    pub sequence: Arc<AtomicU64>,
    /// CPU threads for inference in all, split among the inference threads
    /// when several cameras classify at once (the profile's
    /// `inference.threads`).
    pub threads: usize,
    /// Whether and how often each camera's newest clip goes to the sink as
    /// a [`Preview`] (with an HTTP output, which serves it, every
    /// `outputs.preview_ms`).
    pub preview: Option<PreviewConfig>,
}

/// How often a camera's clip becomes a [`Preview`], and the model's
/// geometry that comes with it.
#[derive(Debug, Clone)]
pub struct PreviewConfig {
    /// Least time between two previews of one camera.
    pub every: Duration,
    /// The model's input.
    pub input: InputSpec,
    /// Tracklets in the model's region attention.
    pub tracklets: usize,
    /// The model's token grid.
    pub grid: [usize; 2],
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
            sequence: Arc::default(),
            threads: profile.inference.threads,
            preview: profile
                .outputs
                .publish
                .iter()
                .any(|url| matches!(url, PublishUrl::Http { .. }))
                .then_some(profile.outputs.preview_ms)
                .filter(|&ms| ms > 0)
                .map(|ms| PreviewConfig {
                    every: Duration::from_millis(u64::from(ms)),
                    input: bundle.input.clone(),
                    tracklets: bundle.model.tracklets,
                    grid: bundle.model.grid,
                }),
        })
    }

    /// The next event sequence number (the first is 1).
    fn next_seq(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// How many inference threads `cameras` cameras get, at most: one per
    /// camera, no more than the CPU threads.
    pub fn inference_threads(&self, cameras: usize) -> usize {
        cameras.min(self.threads).max(1)
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
    /// The backend serving the camera's inference thread at the end (after
    /// any fail-over); `None` for a run that never opened its model.
    pub backend: Option<BackendKind>,
}

/// One camera of a run: where its frames come from and where they are staged.
pub struct Feed<'a, F> {
    /// The camera's id, carried by its events and heartbeats.
    pub camera: Arc<str>,
    /// Its frames.
    pub source: &'a mut dyn FrameSource,
    /// Its window and clips.
    pub stage: F,
}

/// A clip on its way from capture to inference.
struct Clip<C> {
    data: C,
    end: Duration,
    captured: Instant,
    full: bool,
}

/// The hand-off slots, one per camera, and the one signal every thread waits on.
struct Slots<C> {
    clips: Mutex<Vec<Clip<C>>>,
    changed: Condvar,
}

impl<C> Slots<C> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Clip<C>>> {
        self.clips.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One camera's counters, written by its capture thread.
#[derive(Default)]
struct Counters {
    done: AtomicBool,
    frames: AtomicU64,
    bad_frames: AtomicU64,
    losses: AtomicU64,
    dropped: AtomicU64,
    source_down: AtomicBool,
    gap: AtomicU64,
    failed_cuts: AtomicU64,
}

/// An inference thread's backend and cameras.
type Runner<'b, C> = (&'b mut dyn Backend, Vec<Lane<C>>);

/// What an inference thread keeps per camera.
struct Lane<C> {
    /// The camera's place in the run: its slot and counters.
    index: usize,
    camera: Arc<str>,
    work: C,
    /// The window of the clip in `work`, until it is classified.
    ready: Option<(Duration, Instant)>,
    decider: Decider,
    times_us: Histogram<u64>,
    gap_seen: u64,
    last_t_ms: u64,
    last_preview: Option<Instant>,
    beat: Beat,
    stats: RunStats,
}

/// Runs until `stop` is set, every source has ended or taken `max_frames`
/// frames. Each camera has its own capture thread, window and decisions;
/// all share `backend`: the calling thread drives it, or, with several
/// cameras, inference threads drive its replicas. A camera whose source
/// fails for good stops alone; the others go on. Returns each camera's
/// counters, in the order of `feeds`.
pub fn run<F, K>(
    feeds: Vec<Feed<'_, F>>,
    backend: &mut dyn Backend,
    sink: &mut K,
    labels: &[String],
    config: &PipelineConfig,
    stop: &AtomicBool,
) -> Result<Vec<RunStats>, PipelineError>
where
    F: FrameStage,
    K: EventSink + Send,
{
    let mut captures = Vec::with_capacity(feeds.len());
    let mut slots = Vec::with_capacity(feeds.len());
    let mut lanes = Vec::with_capacity(feeds.len());
    for mut feed in feeds {
        let ring = WindowRing::new(config.window, config.hop, config.frames, config.sampling)?;
        feed.stage.reserve(ring.slots())?;
        let spare = feed.stage.clip()?;
        slots.push(Clip {
            data: feed.stage.clip()?,
            end: Duration::ZERO,
            captured: Instant::now(),
            full: false,
        });
        lanes.push(Lane {
            index: lanes.len(),
            camera: Arc::clone(&feed.camera),
            work: feed.stage.clip()?,
            ready: None,
            decider: Decider::new(config.decision.clone(), labels.len(), config.background)?,
            // Fixed memory however long the run: 1 µs to 10 min at 3 significant digits.
            times_us: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("constant histogram bounds are valid"),
            gap_seen: 0,
            last_t_ms: 0,
            last_preview: None,
            beat: Beat::default(),
            stats: RunStats::default(),
        });
        captures.push((feed, ring, spare));
    }
    let slots = Slots {
        clips: Mutex::new(slots),
        changed: Condvar::new(),
    };
    let counters: Vec<Counters> = lanes.iter().map(|_| Counters::default()).collect();
    let mut replicas = replicas(backend, lanes.len(), config);
    let per_call = clips_per_call(backend, lanes.len());
    if replicas.is_empty() && per_call > 1 {
        log::info!(
            "{} cameras on one inference thread, up to {per_call} clips in each call of the {} model",
            lanes.len(),
            backend.kind()
        );
    }
    let mut runners: Vec<Runner<'_, F::Clip>> = if replicas.is_empty() {
        vec![(backend, lanes)]
    } else {
        let mut runners: Vec<_> = replicas
            .iter_mut()
            .map(|b| (b.as_mut() as &mut dyn Backend, Vec::new()))
            .collect();
        let n = runners.len();
        for lane in lanes {
            runners[lane.index % n].1.push(lane);
        }
        runners
    };
    let sink = Mutex::new(sink);

    std::thread::scope(|scope| {
        let threads: Vec<_> = captures
            .into_iter()
            .enumerate()
            .map(|(i, (mut feed, mut ring, spare))| {
                let (slots, counters) = (&slots, &counters);
                scope.spawn(move || {
                    let camera = Capture {
                        index: i,
                        slots,
                        counters: &counters[i],
                        config,
                        stop,
                    };
                    camera.run(feed.source, &mut feed.stage, &mut ring, spare);
                    counters[i].done.store(true, Ordering::SeqCst);
                    // Under the lock, so that the inference thread cannot miss it between its check and its wait.
                    drop(slots.lock());
                    slots.changed.notify_all();
                })
            })
            .collect();
        let (slots, counters, sink) = (&slots, &counters, &sink);
        let (first, others) = runners
            .split_first_mut()
            .expect("a run has at least one inference thread");
        let others: Vec<_> = others
            .iter_mut()
            .map(|(backend, lanes)| {
                scope.spawn(move || {
                    infer_loop(
                        &mut **backend,
                        lanes,
                        &mut Shared(sink),
                        labels,
                        slots,
                        counters,
                        config,
                    );
                })
            })
            .collect();
        infer_loop(
            &mut *first.0,
            &mut first.1,
            &mut Shared(sink),
            labels,
            slots,
            counters,
            config,
        );
        for thread in others {
            if thread.join().is_err() {
                log::error!("an inference thread panicked");
            }
        }
        for thread in threads {
            if thread.join().is_err() {
                log::error!("a capture thread panicked");
            }
        }
    });

    let mut lanes: Vec<_> = runners
        .into_iter()
        .flat_map(|(backend, lanes)| {
            let kind = backend.kind();
            lanes.into_iter().map(move |lane| (lane, kind))
        })
        .collect();
    lanes.sort_by_key(|(lane, _)| lane.index);
    Ok(lanes
        .into_iter()
        .zip(&counters)
        .map(|((lane, kind), c)| RunStats {
            frames: c.frames.load(Ordering::SeqCst),
            bad_frames: c.bad_frames.load(Ordering::SeqCst),
            source_losses: c.losses.load(Ordering::SeqCst),
            dropped_clips: c.dropped.load(Ordering::SeqCst),
            failed_clips: lane.stats.failed_clips + c.failed_cuts.load(Ordering::SeqCst),
            inference_p50_us: lane.times_us.value_at_quantile(0.5),
            backend: Some(kind),
            ..lane.stats
        })
        .collect())
}

/// One camera's capture thread.
struct Capture<'s, C> {
    index: usize,
    slots: &'s Slots<C>,
    counters: &'s Counters,
    config: &'s PipelineConfig,
    stop: &'s AtomicBool,
}

impl<C> Capture<'_, C> {
    fn run<F: FrameStage<Clip = C>>(
        &self,
        source: &mut dyn FrameSource,
        stage: &mut F,
        ring: &mut WindowRing,
        mut spare: C,
    ) {
        let (counters, config, stop) = (self.counters, self.config, self.stop);
        let mut taken = 0u64;
        while !stop.load(Ordering::SeqCst) && config.max_frames.is_none_or(|m| taken < m) {
            let next = source.next_frame();
            let captured = Instant::now();
            let due = match next {
                Ok(frame) => {
                    taken += 1;
                    counters.frames.fetch_add(1, Ordering::Relaxed);
                    counters.source_down.store(false, Ordering::Relaxed);
                    match take_frame(stage, ring, &frame) {
                        Ok(due) => due,
                        Err(e) => {
                            log::warn!("{}: frame skipped: {e}", source.describe());
                            counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                Err(SourceError::BadFrame {
                    source_name,
                    reason,
                }) => {
                    log::warn!("{source_name}: frame skipped: {reason}");
                    counters.bad_frames.fetch_add(1, Ordering::Relaxed);
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
                    counters.losses.fetch_add(1, Ordering::Relaxed);
                    counters.source_down.store(true, Ordering::Relaxed);
                    counters.gap.fetch_add(1, Ordering::SeqCst);
                    ring.reset();
                    reopen(source, stop);
                    continue;
                }
            };
            if due {
                match stage.gather(ring.clip_slots(), &mut spare) {
                    Ok(()) => self.hand_off(&mut spare, (ring.newest(), captured)),
                    Err(e) => {
                        log::error!("clip not cut: {e}");
                        counters.failed_cuts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Puts a cut clip into this camera's slot: live, replacing a clip still
    /// waiting; offline, waiting until inference has taken the previous one.
    fn hand_off(&self, spare: &mut C, (end, captured): (Duration, Instant)) {
        let mut clips = self.slots.lock();
        if !self.config.realtime {
            while clips[self.index].full && !self.stop.load(Ordering::SeqCst) {
                clips = self
                    .slots
                    .changed
                    .wait_timeout(clips, Duration::from_millis(50))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        let slot = &mut clips[self.index];
        if slot.full {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        std::mem::swap(&mut slot.data, spare);
        slot.end = end;
        slot.captured = captured;
        slot.full = true;
        drop(clips);
        self.slots.changed.notify_all();
    }
}

/// How many clips one call of `backend` takes when it serves `cameras` cameras.
fn clips_per_call(backend: &dyn Backend, cameras: usize) -> usize {
    if cameras > 1 {
        backend.max_batch().min(cameras)
    } else {
        1
    }
}

/// One inference thread: classifies the clips of `lanes`' cameras on
/// `backend` until all of them are done. A backend that takes several clips
/// at once gets the host clips waiting, together; offline, the thread first
/// waits for a clip of every camera still delivering, so batches fill.
fn infer_loop<C: StagedClip, K: EventSink>(
    backend: &mut dyn Backend,
    lanes: &mut [Lane<C>],
    sink: &mut K,
    labels: &[String],
    slots: &Slots<C>,
    counters: &[Counters],
    config: &PipelineConfig,
) {
    let mut probs = vec![0.0f32; labels.len()];
    let mine: Vec<usize> = lanes.iter().map(|lane| lane.index).collect();
    let all_done = || {
        mine.iter()
            .all(|&i| counters[i].done.load(Ordering::SeqCst))
    };
    let max_batch = clips_per_call(backend, lanes.len());
    let gather = max_batch > 1 && !config.realtime;
    let delivering = |i: usize| {
        !counters[i].done.load(Ordering::SeqCst) && !counters[i].source_down.load(Ordering::SeqCst)
    };
    let waiting = |clips: &[Clip<C>]| {
        if gather {
            mine.iter().any(|&i| !clips[i].full && delivering(i))
        } else {
            !mine.iter().any(|&i| clips[i].full)
        }
    };
    let mut batch_out = vec![backend.outputs().clone(); max_batch];
    let mut batched: Vec<usize> = Vec::with_capacity(max_batch);
    let mut last_beat = Instant::now();
    for lane in lanes.iter_mut() {
        send_health(
            sink,
            lane,
            &counters[lane.index],
            config,
            backend,
            Duration::ZERO,
        );
    }

    loop {
        // Every clip waiting, one per camera, so that no camera starves another.
        let done = {
            let mut clips = slots.lock();
            while waiting(&clips) && !all_done() && last_beat.elapsed() < config.heartbeat {
                let wait = config
                    .heartbeat
                    .saturating_sub(last_beat.elapsed())
                    .max(Duration::from_millis(1));
                clips = slots
                    .changed
                    .wait_timeout(clips, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            // Read under the lock: a camera marked done has handed off its last clip.
            let done = all_done();
            for lane in lanes.iter_mut() {
                let clip = &mut clips[lane.index];
                if clip.full {
                    std::mem::swap(&mut clip.data, &mut lane.work);
                    clip.full = false;
                    lane.ready = Some((clip.end, clip.captured));
                }
            }
            done
        };
        slots.changed.notify_all();

        for lane in lanes.iter_mut() {
            let gap = counters[lane.index].gap.load(Ordering::SeqCst);
            if gap != lane.gap_seen {
                lane.gap_seen = gap;
                if lane.decider.reset() == Decision::Clear {
                    let _ = sink.clear(&ClearEvent {
                        t_ms: lane.last_t_ms as u32,
                        camera: Arc::clone(&lane.camera),
                        seq: config.next_seq(),
                        captured: Instant::now(),
                    });
                }
            }
        }

        if last_beat.elapsed() >= config.heartbeat {
            let elapsed = last_beat.elapsed();
            last_beat = Instant::now();
            for lane in lanes.iter_mut() {
                send_health(sink, lane, &counters[lane.index], config, backend, elapsed);
            }
        }

        let mut classified = false;
        if max_batch > 1 {
            batched.clear();
            batched.extend((0..lanes.len()).filter(|&i| lanes[i].ready.is_some()));
            for group in batched.chunks(max_batch).filter(|group| group.len() > 1) {
                let outputs = &mut batch_out[..group.len()];
                let t0 = Instant::now();
                let Some(result) = run_together(backend, lanes, group, outputs) else {
                    break;
                };
                let took = t0.elapsed();
                classified = true;
                for (&i, out) in group.iter().zip(outputs.iter()) {
                    let lane = &mut lanes[i];
                    let Some(window) = lane.ready.take() else {
                        continue;
                    };
                    match &result {
                        Ok(()) => {
                            lane.record(took);
                            lane.decide(out, sink, labels, &mut probs, config, window);
                        }
                        Err(e) => lane.failed(e),
                    }
                }
            }
        }
        for lane in lanes.iter_mut() {
            if let Some(window) = lane.ready.take() {
                classified = true;
                lane.classify(backend, sink, labels, &mut probs, config, window);
            }
        }
        if done && !classified {
            break;
        }
    }
}

/// Runs the clips of `group`'s lanes in one call of the model: host clips
/// through [`Backend::run_batch`], clips in device memory copied into the
/// backend's batch input. `None` where the backend has no batch input for
/// them: they run one at a time.
fn run_together<C: StagedClip>(
    backend: &mut dyn Backend,
    lanes: &mut [Lane<C>],
    group: &[usize],
    outputs: &mut [Outputs],
) -> Option<Result<(), InferError>> {
    if group.iter().all(|&i| lanes[i].work.host().is_some()) {
        let inputs: Vec<&[f32]> = group.iter().filter_map(|&i| lanes[i].work.host()).collect();
        return Some(backend.run_batch(&inputs, outputs));
    }
    let input = backend.device_batch_input(group.len())?;
    for (k, &i) in group.iter().enumerate() {
        match lanes[i].work.to_device_batch(input, k) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                return Some(Err(InferError::Run {
                    backend: backend.kind(),
                    message: format!("{}: {e}", lanes[i].camera),
                }));
            }
        }
    }
    Some(backend.run_device_batch(outputs))
}

/// Replicas of `backend` for the inference threads of `cameras` cameras,
/// each with its share of the CPU threads; none (the caller's thread drives
/// `backend` alone) for one camera, a backend that cannot replicate, or a
/// replica that fails to open.
fn replicas(
    backend: &dyn Backend,
    cameras: usize,
    config: &PipelineConfig,
) -> Vec<Box<dyn Backend>> {
    let workers = config.inference_threads(cameras);
    if workers < 2 {
        return Vec::new();
    }
    let threads = (config.threads / workers).max(1);
    let mut replicas = Vec::with_capacity(workers);
    for _ in 0..workers {
        match backend.replicate(threads) {
            Ok(Some(replica)) => replicas.push(replica),
            Ok(None) => return Vec::new(),
            Err(e) => {
                log::warn!("{e}; the cameras share one inference thread");
                return Vec::new();
            }
        }
    }
    log::info!(
        "{cameras} cameras on {workers} inference threads of {threads} CPU thread(s) each, one {} model",
        backend.kind()
    );
    replicas
}

/// The run's one sink, shared by its inference threads.
struct Shared<'a, K>(&'a Mutex<&'a mut K>);

impl<K: EventSink> EventSink for Shared<'_, K> {
    type Error = K::Error;

    fn action(&mut self, event: &ActionEvent) -> Result<(), K::Error> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .action(event)
    }

    fn clear(&mut self, event: &ClearEvent) -> Result<(), K::Error> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear(event)
    }

    fn health(&mut self, health: &Health) -> Result<(), K::Error> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .health(health)
    }

    fn preview(&mut self, preview: &Preview<'_>) -> Result<(), K::Error> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .preview(preview)
    }
}

impl<C: StagedClip> Lane<C> {
    /// Classifies the clip in `work` and tells the sink what the decider
    /// makes of it; `window` is when its newest frame is in the stream and
    /// when it was captured.
    fn classify<K: EventSink>(
        &mut self,
        backend: &mut dyn Backend,
        sink: &mut K,
        labels: &[String],
        probs: &mut [f32],
        config: &PipelineConfig,
        window: (Duration, Instant),
    ) {
        let t0 = Instant::now();
        match self.work.run(backend) {
            Ok(outputs) => {
                self.record(t0.elapsed());
                self.decide(outputs, sink, labels, probs, config, window);
            }
            Err(e) => self.failed(&e),
        }
    }

    /// Counts a clip that could not be classified.
    fn failed(&mut self, e: &InferError) {
        log::error!("{}: clip not classified: {e}", self.camera);
        self.stats.failed_clips += 1;
    }

    /// Counts a classified clip whose inference took `took`.
    fn record(&mut self, took: Duration) {
        self.times_us.saturating_record(took.as_micros() as u64);
        self.stats.clips += 1;
    }

    /// Tells the sink what the decider makes of the clip in `work`, given
    /// the model's `outputs` for it.
    fn decide<K: EventSink>(
        &mut self,
        outputs: &Outputs,
        sink: &mut K,
        labels: &[String],
        probs: &mut [f32],
        config: &PipelineConfig,
        (end, captured): (Duration, Instant),
    ) {
        softmax_into(&outputs.logits, probs);
        let t_ms = end.as_millis() as u64;
        self.last_t_ms = t_ms;
        if let Some(preview) = &config.preview
            && self
                .last_preview
                .is_none_or(|at| at.elapsed() >= preview.every)
            && let Some(clip) = self.work.preview()
        {
            self.last_preview = Some(Instant::now());
            let best = argmax(probs).unwrap_or(0);
            let _ = sink.preview(&Preview {
                camera: &self.camera,
                clip,
                input: &preview.input,
                region_attn: &outputs.region_attn,
                tracklets: preview.tracklets,
                grid: preview.grid,
                label: &labels[best],
                confidence: probs[best],
                t_ms: t_ms as u32,
            });
        }
        match self.decider.push(probs, t_ms) {
            Decision::Show {
                class_id,
                confidence,
            } => {
                self.stats.actions += 1;
                let event = ActionEvent {
                    class_id: class_id as u16,
                    label: labels[class_id].clone(),
                    confidence,
                    t_ms: t_ms as u32,
                    camera: Arc::clone(&self.camera),
                    seq: config.next_seq(),
                    captured,
                };
                let _ = sink.action(&event);
            }
            Decision::Clear => {
                let _ = sink.clear(&ClearEvent {
                    t_ms: t_ms as u32,
                    camera: Arc::clone(&self.camera),
                    seq: config.next_seq(),
                    captured,
                });
            }
            Decision::Hold => {}
        }
    }
}

/// Counters at the previous heartbeat.
#[derive(Default)]
struct Beat {
    frames: u64,
    dropped: u64,
}

fn send_health<C, K: EventSink>(
    sink: &mut K,
    lane: &mut Lane<C>,
    counters: &Counters,
    config: &PipelineConfig,
    backend: &dyn Backend,
    elapsed: Duration,
) {
    let frames = counters.frames.load(Ordering::Relaxed);
    let dropped = counters.dropped.load(Ordering::Relaxed);
    let beat = &mut lane.beat;
    let fps = if elapsed.is_zero() {
        0.0
    } else {
        (frames - beat.frames) as f32 / elapsed.as_secs_f32()
    };
    let status = health::status(Observed::Serving {
        serving: backend.kind(),
        preferred: config.preferred,
        source_down: counters.source_down.load(Ordering::Relaxed),
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
        camera: Some(Arc::clone(&lane.camera)),
    };
    let _ = sink.health(&health);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use artrt_infer::bundle::{Crop, Resize, Sampling};
    use artrt_infer::{InferError, InputSpec, Outputs, PixelFormat};

    use super::*;
    use crate::sink::BoxError;
    use crate::stage::{HostClip, HostStage};
    use artrt_infer::DeviceClip;

    /// Frames whose colour encodes the class being "performed"; scripted losses and bad frames.
    struct Script {
        frame: Vec<u8>,
        n: u64,
        len: u64,
        lose_at: Option<u64>,
        fail_at: Option<u64>,
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
            if self.fail_at == Some(self.n) {
                return Err(SourceError::Unusable {
                    source_name: "script".into(),
                    reason: "format no longer offered".into(),
                });
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

    /// Reads the class back from the clip's brightest value; optionally
    /// slow; optionally replicable, its replicas counting into the same runs.
    struct ColourModel {
        out: Outputs,
        delay: Duration,
        runs: Arc<AtomicUsize>,
        /// Where replicas meet: set, the model replicates.
        meeting: Option<Arc<Meeting>>,
        /// A replica that has not yet met the others.
        to_meet: bool,
        /// Clips it takes at once.
        batch: usize,
        /// The size of each batch of more than one clip it ran.
        batches: Arc<Mutex<Vec<usize>>>,
        /// Its batch input "in device memory": set, it takes device clips.
        device_batch: Option<Vec<f32>>,
        /// Runs after which it reports another backend, as after a fail-over.
        fallback_after: Option<usize>,
    }

    impl ColourModel {
        /// Class `c` is the brightest value over 60/255ths.
        fn classify(input: &[f32], out: &mut Outputs) {
            let max = input.iter().copied().fold(0.0, f32::max);
            let class = (max * 255.0 / 60.0).round() as usize;
            out.logits
                .iter_mut()
                .enumerate()
                .for_each(|(c, l)| *l = if c == class { 8.0 } else { 0.0 });
        }
    }

    /// Each replica's first run waits here until every replica is running.
    struct Meeting {
        arrived: Mutex<usize>,
        all_in: Condvar,
        replicas: usize,
        /// Replicas that saw all the others arrive.
        met: AtomicUsize,
    }

    impl Meeting {
        fn new(replicas: usize) -> Arc<Meeting> {
            Arc::new(Meeting {
                arrived: Mutex::new(0),
                all_in: Condvar::new(),
                replicas,
                met: AtomicUsize::new(0),
            })
        }

        fn meet(&self) {
            let mut arrived = self.arrived.lock().unwrap();
            *arrived += 1;
            self.all_in.notify_all();
            let (arrived, _) = self
                .all_in
                .wait_timeout_while(arrived, Duration::from_secs(60), |n| *n < self.replicas)
                .unwrap();
            if *arrived >= self.replicas {
                self.met.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    impl Backend for ColourModel {
        fn kind(&self) -> BackendKind {
            match self.fallback_after {
                Some(n) if self.runs.load(Ordering::Relaxed) >= n => BackendKind::OrtCpu,
                _ => BackendKind::Tract,
            }
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
            if std::mem::take(&mut self.to_meet) {
                self.meeting.as_ref().unwrap().meet();
            }
            std::thread::sleep(self.delay);
            self.runs.fetch_add(1, Ordering::Relaxed);
            ColourModel::classify(input, &mut self.out);
            Ok(&self.out)
        }
        fn max_batch(&self) -> usize {
            self.batch
        }
        fn device_batch_input(&mut self, clips: usize) -> Option<DeviceClip> {
            let input = self.device_batch.as_mut()?;
            input.clear();
            input.resize(clips * spec().clip_len(), f32::NAN);
            Some(DeviceClip {
                device: 0,
                ptr: input.as_mut_ptr() as u64,
                len: input.len(),
            })
        }
        fn run_device_batch(&mut self, outputs: &mut [Outputs]) -> Result<(), InferError> {
            let input = self.device_batch.as_ref().unwrap();
            assert!(
                input.iter().all(|v| v.is_finite()),
                "every clip was written"
            );
            self.batches.lock().unwrap().push(outputs.len());
            self.runs.fetch_add(outputs.len(), Ordering::Relaxed);
            for (clip, out) in input.chunks_exact(spec().clip_len()).zip(outputs) {
                ColourModel::classify(clip, out);
            }
            Ok(())
        }
        fn run_batch(
            &mut self,
            inputs: &[&[f32]],
            outputs: &mut [Outputs],
        ) -> Result<(), InferError> {
            assert!(inputs.len() <= self.batch && inputs.len() == outputs.len());
            self.batches.lock().unwrap().push(inputs.len());
            self.runs.fetch_add(inputs.len(), Ordering::Relaxed);
            for (input, out) in inputs.iter().zip(outputs) {
                ColourModel::classify(input, out);
            }
            Ok(())
        }
        fn outputs(&self) -> &Outputs {
            &self.out
        }
        fn replicate(&self, _threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
            Ok(self.meeting.as_ref().map(|meeting| {
                Box::new(ColourModel {
                    out: self.out.clone(),
                    delay: self.delay,
                    runs: Arc::clone(&self.runs),
                    meeting: Some(Arc::clone(meeting)),
                    to_meet: true,
                    batch: self.batch,
                    batches: Arc::clone(&self.batches),
                    device_batch: self.device_batch.clone(),
                    fallback_after: self.fallback_after,
                }) as Box<dyn Backend>
            }))
        }
    }

    /// Host frames whose clips act as clips in device memory: not readable
    /// from the host, copied by address into a backend's batch input (the
    /// test model's host buffer).
    struct DeviceLike(HostStage);

    /// A clip of [`DeviceLike`].
    struct DeviceLikeClip(HostClip);

    impl StagedClip for DeviceLikeClip {
        fn run<'b>(&mut self, backend: &'b mut dyn Backend) -> Result<&'b Outputs, InferError> {
            self.0.run(backend)
        }
        fn to_device_batch(&mut self, batch: DeviceClip, index: usize) -> Result<bool, StageError> {
            let clip = &self.0.0;
            assert!((index + 1) * clip.len() <= batch.len);
            // SAFETY: the test model's batch input is a live buffer of
            // `batch.len` floats that nothing reads while this writes.
            let input = unsafe { std::slice::from_raw_parts_mut(batch.ptr as *mut f32, batch.len) };
            input[index * clip.len()..][..clip.len()].copy_from_slice(clip);
            Ok(true)
        }
    }

    impl FrameStage for DeviceLike {
        type Clip = DeviceLikeClip;
        fn describe(&self) -> String {
            "device-like".into()
        }
        fn reserve(&mut self, slots: usize) -> Result<(), StageError> {
            self.0.reserve(slots)
        }
        fn clip(&self) -> Result<DeviceLikeClip, StageError> {
            self.0.clip().map(DeviceLikeClip)
        }
        fn frame_into(&mut self, frame: &FrameRef<'_>, slot: usize) -> Result<(), StageError> {
            self.0.frame_into(frame, slot)
        }
        fn validate(&mut self, frame: &FrameRef<'_>) -> Result<(), StageError> {
            self.0.validate(frame)
        }
        fn gather(
            &mut self,
            slots: impl Iterator<Item = usize>,
            clip: &mut DeviceLikeClip,
        ) -> Result<(), StageError> {
            self.0.gather(slots, &mut clip.0)
        }
    }

    /// What each camera was told, in order: `(camera, line)`.
    #[derive(Default)]
    struct Log(Vec<(String, String)>);

    impl Log {
        fn of(&self, camera: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(c, _)| c == camera)
                .map(|(_, l)| l.clone())
                .collect()
        }
    }

    impl EventSink for Log {
        type Error = BoxError;
        fn action(&mut self, e: &ActionEvent) -> Result<(), BoxError> {
            self.0
                .push((e.camera.to_string(), format!("show {}", e.class_id)));
            Ok(())
        }
        fn clear(&mut self, e: &ClearEvent) -> Result<(), BoxError> {
            self.0.push((e.camera.to_string(), "clear".into()));
            Ok(())
        }
        fn health(&mut self, h: &Health) -> Result<(), BoxError> {
            let camera = h.camera.as_deref().unwrap_or("device").to_owned();
            let line = format!("health {} {:?} {}", h.backend, h.status, h.uptime_s);
            self.0.push((camera, line));
            Ok(())
        }
        fn preview(&mut self, p: &Preview<'_>) -> Result<(), BoxError> {
            let line = format!("preview {} {} values", p.label, p.clip.len());
            self.0.push((p.camera.to_owned(), line));
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
            sequence: Arc::default(),
            threads: 2,
            preview: None,
        }
    }

    fn script(len: u64) -> Script {
        Script {
            frame: vec![0; 8 * 8 * 3],
            n: 0,
            len,
            lose_at: None,
            fail_at: None,
            bad_every: None,
            reopens: 0,
        }
    }

    fn model(delay_ms: u64) -> ColourModel {
        ColourModel {
            out: Outputs::with_sizes(4, 0),
            delay: Duration::from_millis(delay_ms),
            runs: Arc::default(),
            meeting: None,
            to_meet: false,
            batch: 1,
            batches: Arc::default(),
            device_batch: None,
            fallback_after: None,
        }
    }

    /// A [`model`] that takes `batch` clips at once.
    fn batching(batch: usize) -> ColourModel {
        ColourModel { batch, ..model(0) }
    }

    /// A [`model`] whose replicas, `replicas` of them, first meet.
    fn replicable(replicas: usize) -> ColourModel {
        ColourModel {
            meeting: Some(Meeting::new(replicas)),
            ..model(0)
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
            vec![feed("cam0", source)],
            backend,
            log,
            &labels(),
            &config(realtime),
            stop,
        )
        .unwrap()
        .remove(0)
    }

    fn feed<'a>(camera: &str, source: &'a mut Script) -> Feed<'a, HostStage> {
        Feed {
            camera: camera.into(),
            source,
            stage: HostStage::new(&spec()),
        }
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
        let lines = log.of("cam0");
        let shows: Vec<&String> = lines.iter().filter(|l| l.starts_with("show")).collect();
        assert_eq!(shows, ["show 1", "show 2", "show 3", "show 1", "show 2"]);
        assert_eq!(
            lines.iter().filter(|l| *l == "clear").count(),
            4,
            "{lines:?}"
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
                vec![feed("cam0", &mut source)],
                &mut backend,
                &mut log,
                &labels(),
                &config,
                &AtomicBool::new(false),
            )
            .unwrap();
            log.of("cam0").into_iter().find(|l| l.starts_with("health"))
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

    #[test]
    fn each_cameras_counters_name_the_backend_that_served_last() {
        for backend in [model(0), replicable(2)] {
            let (mut left, mut right) = (script(100), script(100));
            let mut backend = ColourModel {
                fallback_after: Some(10),
                ..backend
            };
            let (stats, _) = run_two(&mut left, &mut right, &mut backend);
            for s in &stats {
                assert_eq!(s.backend, Some(BackendKind::OrtCpu), "{stats:?}");
            }
        }
        let (mut source, mut backend, mut log) = (script(40), model(0), Log::default());
        let stats = run_on(
            &mut source,
            &mut backend,
            &mut log,
            false,
            &AtomicBool::new(false),
        );
        assert_eq!(stats.backend, Some(BackendKind::Tract));
    }

    /// Runs two cameras on one model, offline, into one log.
    fn run_two(a: &mut Script, b: &mut Script, backend: &mut ColourModel) -> (Vec<RunStats>, Log) {
        run_two_on(a, b, backend, config(false))
    }

    /// [`run_two`] with `config`.
    fn run_two_on(
        a: &mut Script,
        b: &mut Script,
        backend: &mut ColourModel,
        config: PipelineConfig,
    ) -> (Vec<RunStats>, Log) {
        let mut log = Log::default();
        let stats = run(
            vec![feed("left", a), feed("right", b)],
            backend,
            &mut log,
            &labels(),
            &config,
            &AtomicBool::new(false),
        )
        .unwrap();
        let events = log
            .0
            .iter()
            .filter(|(_, l)| l.starts_with("show") || l == "clear");
        assert_eq!(
            config.sequence.load(Ordering::SeqCst),
            events.count() as u64,
            "one sequence over both cameras' events"
        );
        (stats, log)
    }

    #[test]
    fn two_cameras_share_one_model_and_keep_their_own_decisions() {
        // One inference thread, then two on replicas of the model.
        two_cameras_keep_their_own_decisions(model(0));
        let backend = two_cameras_keep_their_own_decisions(replicable(2));
        let meeting = backend.meeting.unwrap();
        assert_eq!(
            meeting.met.load(Ordering::SeqCst),
            2,
            "both replicas were running clips at once"
        );
    }

    #[test]
    fn cameras_on_a_batching_model_share_each_call_and_keep_their_own_decisions() {
        // Offline, every call waits for a clip of each camera: the two
        // cameras' 197 clips go in 197 batches of two.
        let backend = two_cameras_keep_their_own_decisions(batching(4));
        assert_eq!(*backend.batches.lock().unwrap(), vec![2; 197]);
        // A camera that stops leaves the other to run alone.
        let mut backend = batching(2);
        a_camera_fails_for_good(&mut backend);
        let batches = backend.batches.lock().unwrap();
        assert_eq!(
            *batches,
            vec![2; (50 - 8) / 2 + 1],
            "no batch after the left camera stopped"
        );
        assert_eq!(backend.runs.load(Ordering::SeqCst), 22 + 197);
    }

    #[test]
    fn clips_in_device_memory_go_together_into_the_models_batch_input() {
        let (mut left, mut right) = (script(400), script(480));
        right.n = 80;
        let mut backend = ColourModel {
            device_batch: Some(Vec::new()),
            ..batching(2)
        };
        let feeds = [("left", &mut left), ("right", &mut right)]
            .into_iter()
            .map(|(camera, source)| Feed {
                camera: camera.into(),
                source: source as &mut dyn FrameSource,
                stage: DeviceLike(HostStage::new(&spec())),
            })
            .collect();
        let mut log = Log::default();
        let stop = AtomicBool::new(false);
        let stats = run(
            feeds,
            &mut backend,
            &mut log,
            &labels(),
            &config(false),
            &stop,
        )
        .unwrap();
        assert_eq!(stats[0].clips + stats[1].clips, 2 * 197);
        assert_eq!(*backend.batches.lock().unwrap(), vec![2; 197]);
        each_camera_showed_its_own_elements(&log);
    }

    #[test]
    fn each_camera_previews_its_newest_clip_at_most_as_often_as_asked() {
        let previews = |every: Duration, backend: ColourModel| {
            let (mut left, mut right, mut backend) = (script(100), script(100), backend);
            let config = PipelineConfig {
                preview: Some(PreviewConfig {
                    every,
                    input: spec(),
                    tracklets: 0,
                    grid: [1, 1],
                }),
                ..config(false)
            };
            let (stats, log) = run_two_on(&mut left, &mut right, &mut backend, config);
            let of = |camera| -> Vec<String> {
                log.of(camera)
                    .into_iter()
                    .filter(|l| l.starts_with("preview"))
                    .collect()
            };
            (stats, of("left"), of("right"))
        };
        let clip_values = spec().frames * 3 * 4 * 4;
        for backend in [model(0), replicable(2)] {
            let (stats, left, right) = previews(Duration::ZERO, backend);
            assert_eq!(left.len() as u64, stats[0].clips);
            assert_eq!(right.len() as u64, stats[1].clips);
            assert!(
                left.contains(&format!("preview class 1 {clip_values} values")),
                "{left:?}"
            );
        }
        let (_, left, right) = previews(Duration::from_secs(3600), model(0));
        assert_eq!((left.len(), right.len()), (1, 1), "{left:?} {right:?}");
        assert_eq!(left[0], format!("preview class 0 {clip_values} values"));
    }

    #[test]
    fn one_cpu_thread_keeps_one_inference_thread() {
        let (mut left, mut right, mut backend) = (script(100), script(100), replicable(2));
        let config = PipelineConfig {
            threads: 1,
            ..config(false)
        };
        let (stats, _) = run_two_on(&mut left, &mut right, &mut backend, config);
        assert_eq!(stats[0].clips + stats[1].clips, 2 * ((100 - 8) / 2 + 1));
        assert_eq!(
            *backend.meeting.unwrap().arrived.lock().unwrap(),
            0,
            "no replica ran"
        );
    }

    /// Two cameras, the second seeing the first's stream 80 frames late,
    /// each with its own elements in order; returns the model.
    fn two_cameras_keep_their_own_decisions(mut backend: ColourModel) -> ColourModel {
        // The right camera sees the left one's stream 80 frames late: its
        // elements come in another order and at other times.
        let (mut left, mut right) = (script(400), script(480));
        right.n = 80;
        let (stats, log) = run_two(&mut left, &mut right, &mut backend);
        assert_eq!(stats[0].clips, (400 - 8) / 2 + 1);
        assert_eq!(stats[1].clips, (400 - 8) / 2 + 1);
        assert_eq!(
            backend.runs.load(Ordering::SeqCst) as u64,
            stats[0].clips + stats[1].clips,
            "one model ran every clip of both cameras"
        );
        each_camera_showed_its_own_elements(&log);
        backend
    }

    /// The left camera showed the elements of frames 0..400, the right one
    /// those of frames 80..480, each after a first heartbeat.
    fn each_camera_showed_its_own_elements(log: &Log) {
        let shows = |camera| -> Vec<String> {
            log.of(camera)
                .into_iter()
                .filter(|l| l.starts_with("show"))
                .collect()
        };
        assert_eq!(
            shows("left"),
            ["show 1", "show 2", "show 3", "show 1", "show 2"]
        );
        // Frames 80..480: elements at 120..160 (2), 200..240 (3), 280..320 (1), 360..400 (2), 440..480 (3).
        assert_eq!(
            shows("right"),
            ["show 2", "show 3", "show 1", "show 2", "show 3"]
        );
        assert!(log.of("left")[0].starts_with("health"), "{:?}", log.0);
        assert!(log.of("right")[0].starts_with("health"), "{:?}", log.0);
    }

    #[test]
    fn a_camera_that_fails_for_good_stops_alone() {
        for mut backend in [model(0), replicable(2)] {
            a_camera_fails_for_good(&mut backend);
        }
    }

    fn a_camera_fails_for_good(backend: &mut ColourModel) {
        let mut broken = Script {
            fail_at: Some(50),
            ..script(400)
        };
        let mut good = script(400);
        let (stats, log) = run_two(&mut broken, &mut good, backend);
        assert_eq!(stats[0].frames, 50);
        assert_eq!(stats[0].clips, (50 - 8) / 2 + 1);
        assert_eq!(stats[1].frames, 400);
        assert_eq!(stats[1].clips, (400 - 8) / 2 + 1);
        let shows = log
            .of("right")
            .into_iter()
            .filter(|l| l.starts_with("show"))
            .count();
        assert_eq!(shows, 5, "{:?}", log.0);
    }
}
