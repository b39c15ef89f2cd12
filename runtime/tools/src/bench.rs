//! `artrt bench`'s measurements: per-stage and per-backend timings in one
//! run, as ratios against ONNX Runtime CPU FP32 measured in the same run,
//! and steady-state heap allocations counted on the measuring thread by
//! `allocation-counter`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use artrt_infer::postprocess::{softmax_into, top_k};
use artrt_infer::{
    Backend, BackendConfig, BackendKind, Bundle, FrameRef, PixelFormat, Precision, Preprocessor,
    open_backend,
};
use artrt_live::board::Profile;
use artrt_live::pipeline::take_frame;
use artrt_live::stage::{FrameStage, HostStage};
use artrt_live::window::WindowRing;
use serde::Serialize;

/// Runs `f` and counts the heap allocations it makes on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    (out.expect("measure runs its closure"), info.count_total)
}

/// One timed stage, per clip.
#[derive(Serialize, Clone)]
pub struct Stage {
    /// What was timed.
    pub name: String,
    /// Median milliseconds per clip.
    pub median_ms: f64,
    /// Mean milliseconds per clip.
    pub mean_ms: f64,
    /// Against ONNX Runtime CPU FP32 inference: for a frame stage, `median_ms`
    /// over the baseline's median; for a backend, the median over the timed
    /// rounds of its time over the baseline's time in the same round.
    pub ratio_to_baseline: Option<f64>,
    /// Heap allocations per clip in steady state (Rust side).
    pub allocations: f64,
}

/// Inference on one backend and precision.
#[derive(Serialize, Clone)]
pub struct BackendTiming {
    /// Backend.
    pub backend: BackendKind,
    /// Provider that ran.
    pub provider: String,
    /// Precision.
    pub precision: Precision,
    /// Model file.
    pub model: String,
    /// Inference timing.
    pub inference: Stage,
    /// Clips per second including preprocessing and postprocessing.
    pub clips_per_s: f64,
}

/// The whole `artrt bench` report.
#[derive(Serialize)]
pub struct Report {
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Inference threads.
    pub threads: usize,
    /// Frames per clip (`T`) and source frames per window.
    pub frames: usize,
    /// Source frames in the benchmark window.
    pub window: usize,
    /// Source frame size.
    pub source_size: [usize; 2],
    /// Frame stages (decode, preprocess per pixel format, postprocess).
    pub stages: Vec<Stage>,
    /// Inference per available backend and precision.
    pub backends: Vec<BackendTiming>,
    /// Backends or precisions that could not run here, with reasons.
    pub unavailable: Vec<String>,
    /// Steady-state heap allocations per frame, per pixel format.
    pub allocations_per_frame: Vec<(String, f64)>,
    /// Event latency on the live path, when measured.
    pub live: Option<LiveLatency>,
    /// Two cameras against one on the shared model, when measured.
    pub cameras: Option<CameraScaling>,
    /// The targets, as measured.
    pub targets: Targets,
}

/// Event latency on the live path: the synthetic stream in real time
/// through the pipeline on ONNX Runtime CPU FP32, from the capture of the
/// deciding window's newest frame to the event sink.
#[derive(Serialize, Clone)]
pub struct LiveLatency {
    /// Seconds of stream.
    pub seconds: f64,
    /// Clips classified.
    pub clips: u64,
    /// Events (actions and clears) measured.
    pub events: u64,
    /// Event latency, median, milliseconds.
    pub latency_p50_ms: f64,
    /// Event latency, 90th percentile, milliseconds.
    pub latency_p90_ms: f64,
    /// Inference per clip during the run, median, milliseconds.
    pub inference_p50_ms: f64,
    /// One hop of frames at the stream's rate, milliseconds.
    pub hop_ms: f64,
}

/// Two synthetic cameras sharing one model against one camera alone: the
/// live pipeline offline (`--fast`: every clip classified, as fast as it
/// goes) on ONNX Runtime CPU FP32, alternating rounds of each: two cameras
/// on replicas of the model, and two on one inference thread that gives the
/// model both cameras' clips in one call (where the bundle's file takes
/// several).
#[derive(Serialize, Clone)]
pub struct CameraScaling {
    /// Source frames each camera runs per round.
    pub frames_per_camera: u64,
    /// Rounds of each setting.
    pub rounds: usize,
    /// Clips per second over all cameras, one camera, median over the rounds.
    pub one_camera_clips_per_s: f64,
    /// Clips per second over all cameras, two cameras, median over the rounds.
    pub two_cameras_clips_per_s: f64,
    /// Median over the rounds of two cameras' clips per second over one
    /// camera's in the same round.
    pub two_over_one: f64,
    /// Clips the model file takes in one call (`max_batch`).
    pub max_batch: usize,
    /// Clips per second over both cameras on one inference thread (with
    /// all the CPU threads), their clips batched, median over the rounds.
    pub two_cameras_batched_clips_per_s: f64,
    /// The same over one camera's in the same round.
    pub batched_over_one: f64,
}

/// The runtime's speed targets as measured in this run.
#[derive(Serialize)]
pub struct Targets {
    /// Fastest CPU backend.
    pub fastest_cpu: String,
    /// (live RGB preprocessing per window + postprocessing) / fastest CPU
    /// inference, what the live pipeline spends per inference; target <= 0.05.
    pub pre_post_over_inference: Option<f64>,
    /// The same with a whole clip preprocessed from scratch (T frames), as
    /// `eval` does for each clip of a set.
    pub clip_pre_post_over_inference: Option<f64>,
    /// tract FP32 / ONNX Runtime CPU FP32 at the same threads (median of the
    /// per-round ratios); target <= 3.
    pub tract_over_ort_fp32: Option<f64>,
    /// Largest steady-state allocations per frame over RGB, YUYV and NV12; target 0.
    pub max_allocations_per_frame: f64,
    /// Share of one core that recording 640x480 MJPEG at 30 fps takes
    /// (`artrt record`, beyond capture: a second of frames written, index,
    /// sync); target <= 0.05.
    pub record_share_of_core: Option<f64>,
    /// Event latency p50 over (inference p50 + one hop of frames) on the
    /// live path; target <= 1.
    pub latency_over_inference_and_hop: Option<f64>,
    /// Two cameras' clips per second over one camera's on one shared model;
    /// target >= 1.6.
    pub two_cameras_over_one: Option<f64>,
}

/// Times `f` `iters` times after `warmup` calls; returns (median ms, mean ms, allocations per call).
fn time<F: FnMut() -> anyhow::Result<()>>(
    warmup: usize,
    iters: usize,
    mut f: F,
) -> anyhow::Result<(f64, f64, f64)> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ms = Vec::with_capacity(iters);
    let (result, allocations) = counted(|| {
        for _ in 0..iters {
            let t = Instant::now();
            f()?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        anyhow::Ok(())
    });
    result?;
    Ok(summarise(&ms, allocations))
}

/// (median ms, mean ms, allocations per call) of timed calls and their total allocations.
fn summarise(ms: &[f64], allocations: u64) -> (f64, f64, f64) {
    let n = ms.len().max(1) as f64;
    (
        median(ms),
        ms.iter().sum::<f64>() / n,
        allocations as f64 / n,
    )
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median over rounds of `a[r] / b[r]`: a ratio of two backends timed in the
/// same rounds, which a change of machine load during the run affects little.
fn median_ratio(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&ratios)
}

/// Inference times of several backends, one run of each per round.
struct Rounds {
    /// Milliseconds per backend, one per round.
    ms: Vec<Vec<f64>>,
    /// Heap allocations per backend over all rounds.
    allocations: Vec<u64>,
}

/// Runs every backend on `input` `warmup` times, then `iters` rounds of one
/// timed run per backend in turn, so that every backend meets the same load.
fn time_interleaved(
    backends: &mut [Box<dyn Backend>],
    input: &[f32],
    warmup: usize,
    iters: usize,
) -> anyhow::Result<Rounds> {
    let fail = |kind: BackendKind| format!("{kind} failed during the benchmark");
    for b in backends.iter_mut() {
        let kind = b.kind();
        for _ in 0..warmup {
            b.run(input).with_context(|| fail(kind))?;
        }
    }
    let mut rounds = Rounds {
        ms: vec![Vec::with_capacity(iters); backends.len()],
        allocations: vec![0; backends.len()],
    };
    for _ in 0..iters {
        for (i, b) in backends.iter_mut().enumerate() {
            let kind = b.kind();
            let t = Instant::now();
            let (result, allocations) = counted(|| b.run(input).map(drop));
            let ms = t.elapsed().as_secs_f64() * 1e3;
            result.with_context(|| fail(kind))?;
            rounds.ms[i].push(ms);
            rounds.allocations[i] += allocations;
        }
    }
    Ok(rounds)
}

/// The frames of a window in every pixel format the preprocessor reads.
struct Formats {
    rgb: Vec<Vec<u8>>,
    yuyv: Vec<Vec<u8>>,
    nv12: Vec<Vec<u8>>,
    mjpeg: Vec<Vec<u8>>,
}

impl Formats {
    fn new(clip: &artrt_infer::ndarray::Array4<u8>) -> anyhow::Result<Formats> {
        let (h, w) = (clip.shape()[1], clip.shape()[2]);
        let rgb: Vec<Vec<u8>> = clip
            .outer_iter()
            .map(|f| f.iter().copied().collect())
            .collect();
        let yuyv = rgb
            .iter()
            .map(|f| {
                let mut out = vec![0; w * h * 2];
                artrt_infer::color::rgb_to_yuyv(f, w, h, &mut out);
                out
            })
            .collect();
        let nv12 = rgb
            .iter()
            .map(|f| {
                let mut out = vec![0; w * h * 3 / 2];
                artrt_infer::color::rgb_to_nv12(f, w, h, &mut out);
                out
            })
            .collect();
        let mjpeg = rgb
            .iter()
            .map(|f| {
                let mut out = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                    .encode(f, w as u32, h as u32, image::ExtendedColorType::Rgb8)
                    .map(|_| out)
            })
            .collect::<Result<_, _>>()
            .context("cannot encode the benchmark frames as JPEG")?;
        Ok(Formats {
            rgb,
            yuyv,
            nv12,
            mjpeg,
        })
    }

    fn frames(&self, format: PixelFormat, w: usize, h: usize) -> Vec<FrameRef<'_>> {
        let data = match format {
            PixelFormat::Rgb24 => &self.rgb,
            PixelFormat::Yuyv => &self.yuyv,
            PixelFormat::Nv12 => &self.nv12,
            PixelFormat::Mjpeg => &self.mjpeg,
        };
        data.iter()
            .map(|d| FrameRef {
                format,
                width: w as u32,
                height: h as u32,
                data: d,
                timestamp: Default::default(),
            })
            .collect()
    }
}

/// Times every stage, and inference on every backend and precision that
/// opens here, `iters` times each (at least 3) after warm-up runs; the live
/// preprocessing stage cuts windows with `profile`'s hop. With
/// `live_seconds` > 0, also event latency on that much real-time stream;
/// with `camera_frames` > 0, two cameras against one, each camera running
/// that many frames per round.
pub fn measure(
    bundle: &Bundle,
    config: &BackendConfig,
    profile: &Profile,
    iters: usize,
    live_seconds: f64,
    camera_frames: u64,
) -> anyhow::Result<Report> {
    let iters = iters.max(3);
    let clip = &bundle.golden.clips[0];
    let (window, h, w) = (clip.shape()[0], clip.shape()[1], clip.shape()[2]);
    let formats = Formats::new(clip)?;
    let mut pre = Preprocessor::new(&bundle.input);
    let mut input = vec![0.0f32; pre.clip_len()];
    let t = bundle.input.frames;
    let sampled: Vec<usize> = (0..t)
        .map(|i| bundle.input.sampling.pick(window, t, i))
        .collect();

    let mut stages = Vec::new();
    let (m, mean, a) = time(3, iters, || {
        for &i in &sampled {
            pre.decode_jpeg(&formats.mjpeg[i])?;
        }
        Ok(())
    })?;
    stages.push(stage("decode (MJPEG, T frames)", m, mean, a));
    let mut allocations_per_frame = Vec::new();
    for (format, name) in [
        (PixelFormat::Rgb24, "rgb24"),
        (PixelFormat::Yuyv, "yuyv"),
        (PixelFormat::Nv12, "nv12"),
        (PixelFormat::Mjpeg, "mjpeg"),
    ] {
        let frames = formats.frames(format, w, h);
        let (m, mean, a) = time(3, iters, || Ok(pre.clip_into(&frames, &mut input)?))?;
        stages.push(stage(&format!("preprocess {name} (T frames)"), m, mean, a));
        allocations_per_frame.push((name.to_string(), a / t as f64));
    }
    let rgb_pre = stages[1].median_ms;
    let rgb = formats.frames(PixelFormat::Rgb24, w, h);
    let hop = profile.clip.hop;
    let mut ring = WindowRing::new(bundle.input.window, hop, t, bundle.input.sampling)
        .with_context(|| format!("board profile {}", profile.name))?;
    let mut live = HostStage::new(&bundle.input);
    live.reserve(ring.slots())?;
    let mut clip = live.clip()?;
    let mut next = 0;
    let (m, mean, a) = time(3, iters, || {
        loop {
            let frame = &rgb[next % rgb.len()];
            next += 1;
            if take_frame(&mut live, &mut ring, frame)? {
                live.gather(ring.clip_slots(), &mut clip)?;
                return Ok(());
            }
        }
    })?;
    stages.push(stage(
        &format!("preprocess rgb24 live (hop {hop})"),
        m,
        mean,
        a,
    ));
    let live_pre = m;
    pre.clip_into(&rgb, &mut input)?;
    let record_ms = record_second(&bundle.golden.clips[0], iters)?;
    stages.push(stage(
        "record mjpeg 640x480 (30 frames)",
        record_ms.0,
        record_ms.1,
        record_ms.2,
    ));

    let mut backends = Vec::new();
    let mut unavailable = Vec::new();
    let mut opened: Vec<Box<dyn Backend>> = Vec::new();
    for precision in [Precision::Fp32, Precision::Int8] {
        for kind in BackendKind::ALL {
            match open_backend(bundle, kind, precision, config) {
                Ok((b, _)) => opened.push(b),
                Err(e) => unavailable.push(format!("{kind} {precision}: {e}")),
            }
        }
    }
    let rounds = time_interleaved(&mut opened, &input, 3, iters)?;
    let baseline_at = opened
        .iter()
        .position(|b| b.kind() == BackendKind::OrtCpu && b.precision() == Precision::Fp32);
    let mut logits = Vec::new();
    for (i, b) in opened.iter().enumerate() {
        let (m, mean, a) = summarise(&rounds.ms[i], rounds.allocations[i]);
        let mut inference = stage("inference", m, mean, a);
        inference.ratio_to_baseline =
            baseline_at.map(|j| median_ratio(&rounds.ms[i], &rounds.ms[j]));
        logits = b.outputs().logits.clone();
        backends.push(BackendTiming {
            backend: b.kind(),
            provider: b.provider().to_string(),
            precision: b.precision(),
            model: b.model().to_string(),
            inference,
            clips_per_s: 0.0,
        });
    }
    drop(opened);

    let mut probs = vec![0.0f32; logits.len()];
    let reps = 1000;
    let (m, mean, a) = time(10, iters, || {
        for _ in 0..reps {
            softmax_into(&logits, &mut probs);
            std::hint::black_box(top_k::<5>(&probs));
        }
        Ok(())
    })?;
    stages.push(stage(
        "postprocess (softmax, top 5)",
        m / reps as f64,
        mean / reps as f64,
        a / reps as f64,
    ));
    let post = m / reps as f64;

    let baseline = backends
        .iter()
        .find(|b| b.backend == BackendKind::OrtCpu && b.precision == Precision::Fp32)
        .map(|b| b.inference.median_ms);
    for s in &mut stages {
        s.ratio_to_baseline = baseline.map(|b| s.median_ms / b);
    }
    for b in &mut backends {
        b.clips_per_s = 1e3 / (rgb_pre + b.inference.median_ms + post);
    }
    let fastest = backends
        .iter()
        .filter(|b| b.backend.is_cpu())
        .min_by(|a, b| a.inference.median_ms.total_cmp(&b.inference.median_ms));
    let tract = backends
        .iter()
        .find(|b| b.backend == BackendKind::Tract && b.precision == Precision::Fp32)
        .and_then(|b| b.inference.ratio_to_baseline);
    let live = if live_seconds > 0.0 {
        match live_latency(bundle, config, profile, live_seconds) {
            Ok(live) => Some(live),
            Err(e) => {
                unavailable.push(format!("live latency: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let cameras = if camera_frames > 0 {
        match camera_scaling(bundle, config, profile, camera_frames, 3) {
            Ok(scaling) => Some(scaling),
            Err(e) => {
                unavailable.push(format!("camera scaling: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let targets = Targets {
        fastest_cpu: fastest.map_or("none".into(), |b| format!("{} {}", b.backend, b.precision)),
        pre_post_over_inference: fastest.map(|b| (live_pre + post) / b.inference.median_ms),
        clip_pre_post_over_inference: fastest.map(|b| (rgb_pre + post) / b.inference.median_ms),
        tract_over_ort_fp32: tract,
        max_allocations_per_frame: allocations_per_frame
            .iter()
            .filter(|(n, _)| n != "mjpeg")
            .map(|(_, a)| *a)
            .fold(0.0, f64::max),
        record_share_of_core: Some(record_ms.0 / 1e3),
        latency_over_inference_and_hop: live
            .as_ref()
            .filter(|l| l.events > 0)
            .map(|l| l.latency_p50_ms / (l.inference_p50_ms + l.hop_ms)),
        two_cameras_over_one: cameras.as_ref().map(|c| c.two_over_one),
    };
    Ok(Report {
        bundle: bundle.dir().to_path_buf(),
        threads: config.threads,
        frames: t,
        window,
        source_size: [w, h],
        stages,
        backends,
        unavailable,
        allocations_per_frame,
        live,
        cameras,
        targets,
    })
}

/// Takes events and forgets them: what the live measurements time is the
/// path to the sink.
#[cfg(feature = "synthetic")]
struct Discard;

#[cfg(feature = "synthetic")]
impl artrt_live::sink::EventSink for Discard {
    type Error = std::convert::Infallible;
    fn action(&mut self, _: &artrt_live::sink::ActionEvent) -> Result<(), Self::Error> {
        Ok(())
    }
    fn clear(&mut self, _: &artrt_live::sink::ClearEvent) -> Result<(), Self::Error> {
        Ok(())
    }
    fn health(&mut self, _: &artrt_live::sink::Health) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs the synthetic stream (seed 1) in real time for `seconds` through the
/// live pipeline on ONNX Runtime CPU FP32 and measures event latency.
#[cfg(feature = "synthetic")]
pub fn live_latency(
    bundle: &Bundle,
    config: &BackendConfig,
    profile: &Profile,
    seconds: f64,
) -> anyhow::Result<LiveLatency> {
    use std::sync::atomic::AtomicBool;

    use artrt_calibration::StreamOptions;
    use artrt_live::pipeline::{self, Feed, PipelineConfig};
    use artrt_live::sink::{Fanout, boxed};
    use artrt_live::source::Pacing;
    use artrt_live::source::synthetic::SyntheticSource;

    let (mut backend, _) = open_backend(bundle, BackendKind::OrtCpu, Precision::Fp32, config)
        .context("ort-cpu fp32")?;
    let options = StreamOptions {
        seed: 1,
        ..StreamOptions::default()
    };
    let fps = f64::from(options.fps);
    let mut source = SyntheticSource::new(options, Pacing::RealTime);
    let pipeline = PipelineConfig {
        heartbeat: std::time::Duration::from_secs(3600),
        max_frames: Some((seconds * fps).ceil() as u64),
        ..PipelineConfig::new(profile, bundle, BackendKind::OrtCpu, Instant::now(), true)?
    };
    let mut sinks = Fanout::default();
    sinks.push("events", boxed(Discard));
    let latencies = sinks.latencies();
    let feed = Feed {
        camera: profile.camera.id.as_str().into(),
        source: &mut source,
        stage: HostStage::new(&bundle.input),
    };
    let stats = pipeline::run(
        vec![feed],
        backend.as_mut(),
        &mut sinks,
        bundle.labels(),
        &pipeline,
        &AtomicBool::new(false),
    )?
    .remove(0);
    let latency = latencies.summaries().into_iter().next();
    Ok(LiveLatency {
        seconds,
        clips: stats.clips,
        events: latency.as_ref().map_or(0, |l| l.events),
        latency_p50_ms: latency.as_ref().map_or(f64::NAN, |l| l.p50_ms),
        latency_p90_ms: latency.as_ref().map_or(f64::NAN, |l| l.p90_ms),
        inference_p50_ms: stats.inference_p50_us as f64 / 1000.0,
        hop_ms: profile.clip.hop as f64 * 1000.0 / fps,
    })
}

/// Without the synthetic stream there is nothing to run in real time.
#[cfg(not(feature = "synthetic"))]
pub fn live_latency(
    _bundle: &Bundle,
    _config: &BackendConfig,
    _profile: &Profile,
    _seconds: f64,
) -> anyhow::Result<LiveLatency> {
    anyhow::bail!("needs the synthetic stream (feature `synthetic`)")
}

/// Runs one camera, then two, `rounds` times each on one ONNX Runtime CPU
/// FP32 model, every camera on its own synthetic stream for `frames` frames
/// per round, offline; compares clips per second.
#[cfg(feature = "synthetic")]
pub fn camera_scaling(
    bundle: &Bundle,
    config: &BackendConfig,
    profile: &Profile,
    frames: u64,
    rounds: usize,
) -> anyhow::Result<CameraScaling> {
    use std::sync::atomic::AtomicBool;

    use artrt_calibration::StreamOptions;
    use artrt_live::pipeline::{self, Feed, PipelineConfig};
    use artrt_live::source::Pacing;
    use artrt_live::source::synthetic::SyntheticSource;

    let (mut backend, _) = open_backend(bundle, BackendKind::OrtCpu, Precision::Fp32, config)
        .context("ort-cpu fp32")?;
    let pipeline = PipelineConfig {
        heartbeat: std::time::Duration::from_secs(3600),
        max_frames: Some(frames),
        threads: config.threads,
        ..PipelineConfig::new(profile, bundle, BackendKind::OrtCpu, Instant::now(), false)?
    };
    let batched = PipelineConfig {
        threads: 1,
        ..pipeline.clone()
    };
    let mut clips_per_s = |cameras: u64, pipeline: &PipelineConfig| -> anyhow::Result<f64> {
        let mut sources: Vec<SyntheticSource> = (1..=cameras)
            .map(|seed| {
                let options = StreamOptions {
                    seed,
                    ..StreamOptions::default()
                };
                SyntheticSource::new(options, Pacing::Fast)
            })
            .collect();
        let feeds = sources
            .iter_mut()
            .enumerate()
            .map(|(n, source)| Feed {
                camera: format!("cam{n}").into(),
                source: source as &mut dyn artrt_live::source::FrameSource,
                stage: HostStage::new(&bundle.input),
            })
            .collect();
        let started = Instant::now();
        let stats = pipeline::run(
            feeds,
            backend.as_mut(),
            &mut Discard,
            bundle.labels(),
            pipeline,
            &AtomicBool::new(false),
        )?;
        let clips: u64 = stats.iter().map(|s| s.clips).sum();
        Ok(clips as f64 / started.elapsed().as_secs_f64())
    };
    clips_per_s(1, &pipeline)?;
    let (mut one, mut two, mut together) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        one.push(clips_per_s(1, &pipeline)?);
        two.push(clips_per_s(2, &pipeline)?);
        together.push(clips_per_s(2, &batched)?);
    }
    Ok(CameraScaling {
        frames_per_camera: frames,
        rounds: rounds.max(1),
        one_camera_clips_per_s: median(&one),
        two_cameras_clips_per_s: median(&two),
        two_over_one: median_ratio(&two, &one),
        max_batch: backend.max_batch(),
        two_cameras_batched_clips_per_s: median(&together),
        batched_over_one: median_ratio(&together, &one),
    })
}

/// Without the synthetic stream there are no cameras to compare.
#[cfg(not(feature = "synthetic"))]
pub fn camera_scaling(
    _bundle: &Bundle,
    _config: &BackendConfig,
    _profile: &Profile,
    _frames: u64,
    _rounds: usize,
) -> anyhow::Result<CameraScaling> {
    anyhow::bail!("needs the synthetic stream (feature `synthetic`)")
}

/// Times recording a second of 640x480 MJPEG at 30 fps (the golden clip's
/// frames, in turn, scaled up and encoded as a camera would send them) into a
/// recording in a scratch folder, synced as every second of a recording is:
/// (median ms, mean ms, allocations) per second.
fn record_second(
    clip: &artrt_infer::ndarray::Array4<u8>,
    iters: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let (h, w) = (clip.shape()[1], clip.shape()[2]);
    let mut jpegs = Vec::new();
    for frame in clip.outer_iter() {
        let rgb: Vec<u8> = frame.iter().copied().collect();
        let small = image::RgbImage::from_raw(w as u32, h as u32, rgb)
            .context("a golden frame that is not RGB")?;
        let big = image::imageops::resize(&small, 640, 480, image::imageops::FilterType::Triangle);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&big)?;
        jpegs.push(jpeg);
    }
    let dir = std::env::temp_dir().join(format!("artrt-bench-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut writer = artrt_live::recording::Writer::create(
        &dir,
        artrt_live::recording::WriterOptions {
            source: "bench".into(),
            fps: 30.0,
            jpeg_quality: 85,
            max_bytes: u64::MAX,
            board: None,
            device: "bench".into(),
        },
    )?;
    let mut n = 0u64;
    let timed = time(1, iters, || {
        for k in 0..30 {
            let mut frame = FrameRef::jpeg(&jpegs[k % jpegs.len()]);
            frame.timestamp = std::time::Duration::from_millis(n * 33);
            n += 1;
            writer.push(&frame)?;
        }
        writer.sync()?;
        Ok(())
    });
    drop(writer);
    let _ = std::fs::remove_dir_all(&dir);
    timed
}

fn stage(name: &str, median_ms: f64, mean_ms: f64, allocations: f64) -> Stage {
    Stage {
        name: name.to_string(),
        median_ms,
        mean_ms,
        ratio_to_baseline: None,
        allocations,
    }
}
