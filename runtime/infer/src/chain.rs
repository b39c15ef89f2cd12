//! Choosing a backend: an order of backends, the golden self-test at load,
//! and failover while running.
//!
//! [`Failover::open`] tries the backends of an order (a board profile's,
//! `auto`'s TensorRT, CUDA, ONNX Runtime CPU and tract, or one named
//! backend) in turn; each refusal is logged with its reason and kept for the
//! error. An order of one never falls back. Before a backend serves, it runs
//! the bundle's golden clips and must match the golden logits within the
//! bundle's tolerance for the model's precision.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::backend::{
    Backend, BackendKind, ClipMemory, DeviceClip, InferError, Outputs, Precision,
};
use crate::bundle::{Bundle, BundleError};
use crate::ort_backend::{OrtBackend, OrtConfig, OrtLibError};
use crate::tract_backend::TractBackend;

/// Settings shared by every backend.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// CPU threads for inference (ONNX Runtime intra-op threads, tract's pool).
    pub threads: usize,
    /// ONNX Runtime library and provider settings.
    pub ort: OrtConfig,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ort: OrtConfig::default(),
        }
    }
}

/// Why a backend refused to serve.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// This build does not include the provider.
    #[error("this build has no {feature} support (Cargo feature `{feature}`)")]
    NotBuilt {
        /// The Cargo feature that adds it.
        feature: &'static str,
    },
    /// The ONNX Runtime library is missing or unusable.
    #[error(transparent)]
    OrtLibrary(#[from] OrtLibError),
    /// The bundle has no model file for this backend and precision.
    #[error("the bundle has no {precision} model for {kind}")]
    NoModel {
        /// The backend.
        kind: BackendKind,
        /// The precision asked for.
        precision: Precision,
    },
    /// A model file could not be read or failed its checksum.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The runtime could not load the model.
    #[error("{0}")]
    Runtime(String),
    /// The golden self-test failed.
    #[error(
        "golden self-test failed for {model} on {kind}: max |logits - golden| = {max_diff:.6} \
         (clip {clip}, class {class}: {value} vs golden {golden}), tolerance {atol}"
    )]
    SelfTest {
        /// The backend.
        kind: BackendKind,
        /// The model file.
        model: String,
        /// Largest absolute difference over every golden clip and class.
        max_diff: f32,
        /// Golden clip where it occurred.
        clip: usize,
        /// Class where it occurred.
        class: usize,
        /// The backend's logit.
        value: f32,
        /// The golden logit.
        golden: f32,
        /// The bundle's tolerance for this precision.
        atol: f32,
    },
    /// The backend failed while running a golden clip.
    #[error("golden self-test could not run: {0}")]
    SelfTestRun(InferError),
}

/// Result of a passed golden self-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfTest {
    /// Largest absolute logit difference against the golden outputs.
    pub max_logit_diff: f32,
    /// Largest absolute region-attention difference.
    pub max_attn_diff: f32,
    /// The tolerance applied to logits.
    pub atol: f32,
}

/// Opens `kind` on `bundle`'s model file for `precision`, without the self-test.
pub fn open_unchecked(
    bundle: &Bundle,
    kind: BackendKind,
    precision: Precision,
    config: &BackendConfig,
) -> Result<Box<dyn Backend>, OpenError> {
    let entry = bundle
        .model_for(kind, precision)
        .ok_or(OpenError::NoModel { kind, precision })?;
    Ok(match kind {
        BackendKind::Tract => Box::new(TractBackend::open(bundle, entry, config.threads)?),
        _ => Box::new(OrtBackend::open(
            bundle,
            entry,
            kind,
            config.threads,
            &config.ort,
        )?),
    })
}

/// Opens `kind` and runs the golden self-test; refuses it when it disagrees.
pub fn open_backend(
    bundle: &Bundle,
    kind: BackendKind,
    precision: Precision,
    config: &BackendConfig,
) -> Result<(Box<dyn Backend>, SelfTest), OpenError> {
    let mut backend = open_unchecked(bundle, kind, precision, config)?;
    let report = self_test(backend.as_mut(), bundle)?;
    Ok((backend, report))
}

/// Runs every golden clip through `backend` and compares with the golden
/// outputs of its model file.
pub fn self_test(backend: &mut dyn Backend, bundle: &Bundle) -> Result<SelfTest, OpenError> {
    let model = backend.model().to_string();
    let golden = bundle.golden.outputs.get(&model).ok_or_else(|| {
        OpenError::Runtime(format!("the bundle has no golden outputs for {model}"))
    })?;
    let atol = bundle.golden.atol(backend.precision());
    let mut worst: Option<(f32, usize, usize, f32, f32)> = None;
    let mut max_attn = 0.0f32;
    for (clip, input) in bundle.golden.input.outer_iter().enumerate() {
        let input = input.as_standard_layout();
        let flat = input.as_slice().expect("standard layout is contiguous");
        let out = backend.run(flat).map_err(OpenError::SelfTestRun)?;
        for (class, (&v, &g)) in out.logits.iter().zip(golden.logits.row(clip)).enumerate() {
            let d = abs_diff(v, g);
            if worst.is_none_or(|w| d > w.0) {
                worst = Some((d, clip, class, v, g));
            }
        }
        let attn = golden.region_attn.index_axis(ndarray::Axis(0), clip);
        for (&v, &g) in out.region_attn.iter().zip(attn.iter()) {
            max_attn = max_attn.max(abs_diff(v, g));
        }
    }
    let (max_diff, clip, class, value, g) =
        worst.unwrap_or((f32::INFINITY, 0, 0, f32::NAN, f32::NAN));
    if max_diff.is_nan() || max_diff > atol {
        return Err(OpenError::SelfTest {
            kind: backend.kind(),
            model,
            max_diff,
            clip,
            class,
            value,
            golden: g,
            atol,
        });
    }
    Ok(SelfTest {
        max_logit_diff: max_diff,
        max_attn_diff: max_attn,
        atol,
    })
}

/// `|a - b|`, infinite when either is not finite.
fn abs_diff(a: f32, b: f32) -> f32 {
    if a.is_finite() && b.is_finite() {
        (a - b).abs()
    } else {
        f32::INFINITY
    }
}

/// One backend that did not serve, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The backend.
    pub kind: BackendKind,
    /// Why it refused or failed.
    pub reason: String,
}

/// No backend of the order could serve.
#[derive(Debug, thiserror::Error)]
pub struct ChainError {
    /// The backends tried, in order.
    pub order: Vec<BackendKind>,
    /// The precision asked for.
    pub precision: Precision,
    /// Every refusal, in order.
    pub refusals: Vec<Refusal>,
    /// The last refusal.
    pub last: Box<OpenError>,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order: Vec<&str> = self.order.iter().map(|k| k.as_str()).collect();
        write!(
            f,
            "no backend could serve {} (tried {})",
            self.precision,
            order.join(", ")
        )?;
        for r in &self.refusals {
            write!(f, "; {}: {}", r.kind, r.reason)?;
        }
        Ok(())
    }
}

/// The serving backend, with the rest of the order behind it; itself a
/// [`Backend`], so callers never see the chain.
///
/// When a run fails, the failure is logged, the next backend of the order
/// is opened (with its self-test) and the same clip runs again, so no clip
/// is lost. An order of one backend has nothing to fall back on.
pub struct Failover {
    bundle: Arc<Bundle>,
    precision: Precision,
    config: BackendConfig,
    pending: VecDeque<BackendKind>,
    current: Box<dyn Backend>,
    self_test: SelfTest,
    refusals: Vec<Refusal>,
}

impl Failover {
    /// Opens the first backend of `order` that loads and passes its
    /// self-test, keeping the rest of `order` for failover.
    pub fn open(
        bundle: Arc<Bundle>,
        order: &[BackendKind],
        precision: Precision,
        config: BackendConfig,
    ) -> Result<Failover, ChainError> {
        let mut pending: VecDeque<BackendKind> = order.iter().copied().collect();
        let mut refusals = Vec::new();
        let (current, self_test) =
            next_backend(&bundle, &mut pending, precision, &config, &mut refusals).map_err(
                |last| ChainError {
                    order: order.to_vec(),
                    precision,
                    refusals: refusals.clone(),
                    last: Box::new(last),
                },
            )?;
        Ok(Failover {
            bundle,
            precision,
            config,
            pending,
            current,
            self_test,
            refusals,
        })
    }

    /// Serves on `first`, opened and self-tested by the caller (a backend
    /// that [`open_backend`] gave, or a stand-in for hardware in a test),
    /// with the backends of `rest` behind it.
    pub fn with_first(
        bundle: Arc<Bundle>,
        first: (Box<dyn Backend>, SelfTest),
        rest: &[BackendKind],
        config: BackendConfig,
    ) -> Failover {
        let (current, self_test) = first;
        Failover {
            bundle,
            precision: current.precision(),
            config,
            pending: rest.iter().copied().collect(),
            current,
            self_test,
            refusals: Vec::new(),
        }
    }

    /// The serving backend's self-test result.
    pub fn self_test(&self) -> SelfTest {
        self.self_test
    }

    /// Every backend that refused or failed so far, in order.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// The bundle being served.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Runs `attempt` on the serving backend, failing over after each
    /// failure and running it again on the next backend, until one serves
    /// or none is left. Input of the wrong size is returned as it is: no
    /// backend would take it.
    fn until_served(
        &mut self,
        mut attempt: impl FnMut(&mut dyn Backend) -> Result<(), InferError>,
    ) -> Result<(), InferError> {
        loop {
            let err = match attempt(self.current.as_mut()) {
                Ok(()) => return Ok(()),
                Err(e @ InferError::InputSize { .. }) => return Err(e),
                Err(e) => e,
            };
            if !self.fail_over(&err) {
                return Err(InferError::Exhausted {
                    backend: self.current.kind(),
                    cause: Box::new(err),
                });
            }
        }
    }

    /// Fails over after a device run's error `err`: the clips in device
    /// memory went with the failed backend, so the error is returned as it
    /// is when another backend took over, as `Exhausted` when none is left.
    fn replace_after(&mut self, err: InferError) -> InferError {
        let backend = self.current.kind();
        if self.fail_over(&err) {
            err
        } else {
            InferError::Exhausted {
                backend,
                cause: Box::new(err),
            }
        }
    }

    /// Replaces the failed serving backend with the next of the order that
    /// serves; false when none is left.
    fn fail_over(&mut self, err: &InferError) -> bool {
        let failed = self.current.kind();
        log::warn!("backend {failed} failed while running: {err}; trying the next backend");
        self.refusals.push(Refusal {
            kind: failed,
            reason: err.to_string(),
        });
        match next_backend(
            &self.bundle,
            &mut self.pending,
            self.precision,
            &self.config,
            &mut self.refusals,
        ) {
            Ok((backend, test)) => {
                log::warn!("now serving on {} ({})", backend.kind(), backend.provider());
                self.current = backend;
                self.self_test = test;
                true
            }
            Err(_) => false,
        }
    }
}

impl Backend for Failover {
    fn kind(&self) -> BackendKind {
        self.current.kind()
    }
    fn provider(&self) -> &str {
        self.current.provider()
    }
    fn precision(&self) -> Precision {
        self.current.precision()
    }
    fn model(&self) -> &str {
        self.current.model()
    }
    fn input_memory(&self) -> ClipMemory {
        self.current.input_memory()
    }
    fn device_input(&mut self) -> Option<DeviceClip> {
        self.current.device_input()
    }

    /// Runs one clip on the serving backend, failing over to the next one
    /// (and running the clip again there) when it fails.
    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        self.until_served(|backend| backend.run(input).map(drop))?;
        Ok(self.current.outputs())
    }

    fn max_batch(&self) -> usize {
        self.current.max_batch()
    }

    /// Runs the clips on the serving backend, failing over to the next one
    /// (and running them again there, as many at once as it takes) when it
    /// fails.
    fn run_batch(&mut self, inputs: &[&[f32]], outputs: &mut [Outputs]) -> Result<(), InferError> {
        InferError::check_batch(inputs, outputs)?;
        self.until_served(|backend| backend.run_batch(inputs, outputs))
    }

    /// Runs the clip already in the serving backend's device input. A
    /// backend that fails is replaced, but the clip it held is gone with it:
    /// the error is returned and the next clip goes to the new backend.
    fn run_device(&mut self) -> Result<&Outputs, InferError> {
        match self.current.run_device() {
            Ok(_) => Ok(self.current.outputs()),
            Err(e @ InferError::NoDeviceInput(_)) => Err(e),
            Err(e) => Err(self.replace_after(e)),
        }
    }

    fn device_batch_input(&mut self, clips: usize) -> Option<DeviceClip> {
        self.current.device_batch_input(clips)
    }

    /// Runs the batch already in the serving backend's device input; as
    /// with [`Backend::run_device`], a failing backend is replaced and the
    /// error returned.
    fn run_device_batch(&mut self, outputs: &mut [Outputs]) -> Result<(), InferError> {
        match self.current.run_device_batch(outputs) {
            Ok(()) => Ok(()),
            Err(e @ InferError::NoDeviceInput(_)) => Err(e),
            Err(e) => Err(self.replace_after(e)),
        }
    }

    fn outputs(&self) -> &Outputs {
        self.current.outputs()
    }

    /// A replica of the serving backend, with the same order behind it.
    fn replicate(&self, threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
        let Some(current) = self.current.replicate(threads)? else {
            return Ok(None);
        };
        Ok(Some(Box::new(Failover {
            bundle: Arc::clone(&self.bundle),
            precision: self.precision,
            config: BackendConfig {
                threads,
                ..self.config.clone()
            },
            pending: self.pending.clone(),
            current,
            self_test: self.self_test,
            refusals: self.refusals.clone(),
        })))
    }
}

/// Opens the first of `pending` that serves, recording each refusal.
fn next_backend(
    bundle: &Bundle,
    pending: &mut VecDeque<BackendKind>,
    precision: Precision,
    config: &BackendConfig,
    refusals: &mut Vec<Refusal>,
) -> Result<(Box<dyn Backend>, SelfTest), OpenError> {
    let mut last = None;
    while let Some(kind) = pending.pop_front() {
        match open_backend(bundle, kind, precision, config) {
            Ok((backend, test)) => {
                log::info!(
                    "serving {} on {kind} ({}, {precision}); golden self-test max logit diff {:.2e} (tolerance {})",
                    backend.model(),
                    backend.provider(),
                    test.max_logit_diff,
                    test.atol
                );
                return Ok((backend, test));
            }
            Err(e) => {
                match e {
                    OpenError::NotBuilt { .. } | OpenError::NoModel { .. } => {
                        log::info!("backend {kind} refused: {e}")
                    }
                    _ => log::warn!("backend {kind} refused: {e}"),
                }
                refusals.push(Refusal {
                    kind,
                    reason: e.to_string(),
                });
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| OpenError::Runtime("no backend left to try".into())))
}
