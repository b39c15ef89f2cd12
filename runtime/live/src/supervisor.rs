//! The device supervisor: from a board profile to a serving pipeline, and
//! the device's state until it stops.
//!
//! [`serve`] loads the profile's bundle and opens its backends in the
//! profile's order. Without a usable model (a missing or damaged bundle, no
//! backend that passes its self-test) the device stays up: every heartbeat
//! period it reports `NOMODEL`, and it tries again every
//! [`MODEL_RETRY`], so a repaired bundle is picked up without a restart
//! (offline runs set [`ServeOptions::model_required`] and fail at once).
//! Once a model serves, the pipeline runs every camera of the profile on it
//! until their sources end or `stop` is set.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use artrt_infer::{
    Backend, BackendChoice, BackendConfig, BackendKind, Bundle, Failover, OrtConfig, Precision,
};

use crate::board::Profile;
use crate::health::{self, Health, Observed};
use crate::pipeline::{self, Feed, PipelineConfig, PipelineError, RunStats};
use crate::sink::EventSink;
use crate::source::{self, Pacing, SourceError};
use crate::stage::{self, FrameStage, HostStage, PreprocessOn};

/// Time between two attempts to load a model.
pub const MODEL_RETRY: Duration = Duration::from_secs(10);

/// What the command line asks of the supervisor beyond the profile.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `auto` (the profile's order) or one backend.
    pub backend: BackendChoice,
    /// Model precision; `None`: [`precision_for`] the order.
    pub precision: Option<Precision>,
    /// ONNX Runtime library, before `ORT_DYLIB_PATH` and the profile's.
    pub ort_lib: Option<PathBuf>,
    /// Real time, or a replay as fast as the model takes it.
    pub pacing: Pacing,
    /// Where frames are preprocessed, over the profile's `inference.preprocess`.
    pub preprocess: Option<PreprocessOn>,
    /// Fail at once when no model can serve, instead of reporting `NOMODEL`
    /// and trying again: for offline runs, which have no one to wait for.
    pub model_required: bool,
}

/// Why the device stopped before serving out its source.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A camera's source cannot be opened.
    #[error("camera {camera}: cannot open frame source {spec}")]
    Source {
        /// The camera's id.
        camera: String,
        /// The source spec.
        spec: String,
        /// Why.
        #[source]
        cause: SourceError,
    },
    /// The profile does not fit the bundle.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Preprocessing cannot run where it was asked to.
    #[error("preprocess = gpu: {0}")]
    Preprocess(String),
    /// No model can serve, and [`ServeOptions::model_required`] was set.
    #[error("no usable model: {0}")]
    NoModel(String),
}

/// How a run ended.
#[derive(Debug)]
pub enum Served {
    /// Stopped before any model could serve.
    NoModel,
    /// A model served; what the pipeline did.
    Ran {
        /// `model on backend (provider), precision`.
        serving: String,
        /// Each camera's id and counters.
        stats: Vec<(Arc<str>, RunStats)>,
    },
}

/// The precision policy: what was asked, else INT8 when TensorRT is first
/// in line (its INT8 kernels pay off), FP32 otherwise.
pub fn precision_for(order: &[BackendKind], asked: Option<Precision>) -> Precision {
    asked.unwrap_or(if order.first() == Some(&BackendKind::Trt) {
        Precision::Int8
    } else {
        Precision::Fp32
    })
}

/// The backend settings of a profile, with `ort_lib` from the command line.
pub fn backend_config(profile: &Profile, ort_lib: Option<PathBuf>) -> BackendConfig {
    let inference = &profile.inference;
    BackendConfig {
        threads: inference.threads,
        ort: OrtConfig {
            lib: ort_lib,
            profile_lib: inference.ort_library.clone(),
            tensorrt: inference.tensorrt.clone(),
        },
    }
}

/// Loads the profile's bundle and opens the backend chain for `order`.
pub fn open_model(
    profile: &Profile,
    order: &[BackendKind],
    precision: Precision,
    config: &BackendConfig,
) -> Result<(Arc<Bundle>, Failover), String> {
    let dir = &profile.inference.bundle;
    let bundle = Bundle::load(dir)
        .map(Arc::new)
        .map_err(|e| format!("cannot load the model bundle {}: {e}", dir.display()))?;
    let chain = Failover::open(Arc::clone(&bundle), order, precision, config.clone())
        .map_err(|e| format!("bundle {}: {e}", dir.display()))?;
    Ok((bundle, chain))
}

/// Runs the device on `profile` until the source ends or `stop` is set.
pub fn serve<K: EventSink + Send>(
    profile: &Profile,
    options: &ServeOptions,
    sink: &mut K,
    stop: &AtomicBool,
) -> Result<Served, ServeError> {
    let started = Instant::now();
    let on = options.preprocess.unwrap_or(profile.inference.preprocess);
    if on == PreprocessOn::Gpu && !cfg!(feature = "cuda") {
        return Err(ServeError::Preprocess(
            "this artrt was built without the `cuda` feature".into(),
        ));
    }
    let order = options.backend.order(&profile.inference.backends);
    let precision = precision_for(&order, options.precision);
    let config = backend_config(profile, options.ort_lib.clone());
    let preferred = order.first().copied().unwrap_or(BackendKind::Tract);
    let heartbeat = Duration::from_millis(profile.scoreboard.heartbeat_interval_ms);

    let mut next_try = Instant::now();
    let (bundle, mut chain) = loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Served::NoModel);
        }
        // Before each attempt, so that the scoreboard hears from the device
        // while a model loads (a TensorRT engine build can take minutes).
        let _ = sink.health(&Health {
            uptime_s: started.elapsed().as_secs() as u32,
            fps: 0.0,
            backend: preferred,
            status: health::status(Observed::NoModel),
            camera: None,
        });
        if Instant::now() >= next_try {
            match open_model(profile, &order, precision, &config) {
                Ok(ready) => break ready,
                Err(e) if options.model_required => return Err(ServeError::NoModel(e)),
                Err(e) => log::error!(
                    "no usable model, retrying in {} s: {e}",
                    MODEL_RETRY.as_secs()
                ),
            }
            next_try = Instant::now() + MODEL_RETRY;
        }
        let wait = Instant::now() + heartbeat;
        while Instant::now() < wait && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let serving = format!(
        "{} on {} ({}), {}",
        bundle.model.name,
        chain.kind(),
        chain.provider(),
        chain.precision()
    );
    log::info!("serving {serving}");

    let realtime = options.pacing == Pacing::RealTime;
    let pipeline = PipelineConfig::new(profile, &bundle, preferred, started, realtime)?;
    let mut sources = Vec::new();
    for camera in profile.all_cameras() {
        let camera = camera.config;
        let source = source::open(&camera.source, &camera.source_options(options.pacing)).map_err(
            |cause| ServeError::Source {
                camera: camera.id.clone(),
                spec: camera.source.to_string(),
                cause,
            },
        )?;
        log::info!("{}: frames from {}", camera.id, source.describe());
        sources.push((Arc::<str>::from(camera.id), source));
    }
    let device = stage::device_for(on, chain.input_memory()).map_err(ServeError::Preprocess)?;
    let run = Run {
        sources: &mut sources,
        chain: &mut chain,
        labels: bundle.labels(),
        config: &pipeline,
        stop,
    };
    #[cfg(feature = "cuda")]
    if let Some(device) = device {
        let stages: Result<Vec<_>, _> = (0..run.sources.len())
            .map(|_| stage::GpuStage::new(&bundle.input, device))
            .collect();
        match stages {
            Ok(gpu) => {
                return Ok(Served::Ran {
                    serving,
                    stats: run.on(gpu, sink)?,
                });
            }
            Err(e) if on == PreprocessOn::Gpu => return Err(ServeError::Preprocess(e.to_string())),
            Err(e) => log::warn!("frames preprocessed on the CPU: {e}"),
        }
    }
    #[cfg(not(feature = "cuda"))]
    let _ = device;
    let host = (0..run.sources.len())
        .map(|_| HostStage::new(&bundle.input))
        .collect();
    let stats = run.on(host, sink)?;
    Ok(Served::Ran { serving, stats })
}

/// A pipeline run waiting for its frame stages, one per camera.
struct Run<'a> {
    sources: &'a mut [(Arc<str>, Box<dyn source::FrameSource>)],
    chain: &'a mut Failover,
    labels: &'a [String],
    config: &'a PipelineConfig,
    stop: &'a AtomicBool,
}

impl Run<'_> {
    fn on<F: FrameStage, K: EventSink + Send>(
        self,
        stages: Vec<F>,
        sink: &mut K,
    ) -> Result<Vec<(Arc<str>, RunStats)>, PipelineError> {
        if let Some(stage) = stages.first() {
            log::info!("frames preprocessed on {}", stage.describe());
        }
        let cameras: Vec<Arc<str>> = self.sources.iter().map(|(id, _)| Arc::clone(id)).collect();
        let feeds = self
            .sources
            .iter_mut()
            .zip(stages)
            .map(|((camera, source), stage)| Feed {
                camera: Arc::clone(camera),
                source: source.as_mut(),
                stage,
            })
            .collect();
        let stats = pipeline::run(feeds, self.chain, sink, self.labels, self.config, self.stop)?;
        Ok(cameras.into_iter().zip(stats).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorrt_first_serves_int8_unless_asked_otherwise() {
        let trt = [BackendKind::Trt, BackendKind::OrtCpu];
        let cpu = [BackendKind::OrtCpu, BackendKind::Tract];
        assert_eq!(precision_for(&trt, None), Precision::Int8);
        assert_eq!(precision_for(&cpu, None), Precision::Fp32);
        assert_eq!(precision_for(&trt, Some(Precision::Fp32)), Precision::Fp32);
        assert_eq!(precision_for(&[], None), Precision::Fp32);
    }
}
