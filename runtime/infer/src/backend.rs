//! The inference boundary: one trait, implemented by ONNX Runtime and tract.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An inference backend, in the order `auto` tries them: the ARTS/1 wire
/// type itself, so the name in a profile, a bundle, a report and a heartbeat
/// is one value that never needs converting.
pub use arts::Backend as BackendKind;

/// A name that is not a backend choice.
#[derive(Debug, thiserror::Error)]
#[error("unknown backend `{0}` (expected auto, trt, cuda, ort-cpu or tract)")]
pub struct UnknownBackend(pub String);

/// Which backends may serve: `auto` walks the chain, a name is strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum BackendChoice {
    /// Every backend in turn: a board profile's order, or TensorRT, CUDA,
    /// ONNX Runtime CPU and tract.
    #[default]
    Auto,
    /// Exactly this backend; no fallback.
    Only(BackendKind),
}

impl BackendChoice {
    /// The backends tried, in order: `auto` for `Auto` (a board profile's
    /// order, or [`BackendKind::ALL`]), the one named otherwise.
    pub fn order(self, auto: &[BackendKind]) -> Vec<BackendKind> {
        match self {
            BackendChoice::Auto => auto.to_vec(),
            BackendChoice::Only(k) => vec![k],
        }
    }
}

impl FromStr for BackendChoice {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            Ok(BackendChoice::Auto)
        } else {
            s.parse()
                .map(BackendChoice::Only)
                .map_err(|_| UnknownBackend(s.to_string()))
        }
    }
}

impl TryFrom<String> for BackendChoice {
    type Error = UnknownBackend;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendChoice::Auto => f.write_str("auto"),
            BackendChoice::Only(k) => f.write_str(k.as_str()),
        }
    }
}

/// Numeric precision of a model file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize, Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floating point.
    #[default]
    Fp32,
    /// 8-bit integer (Q/DQ).
    Int8,
}

impl Precision {
    /// `fp32` or `int8`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "int8" => Ok(Precision::Int8),
            _ => Err(format!("unknown precision `{s}` (expected fp32 or int8)")),
        }
    }
}

/// A model's outputs for one clip, in buffers a backend reuses from run to run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// `[C]` class logits.
    pub logits: Vec<f32>,
    /// `[T, tracklets, h*w]` region attention, row-major.
    pub region_attn: Vec<f32>,
}

impl Outputs {
    /// Copies the `i`-th of a batch's outputs in: `logits` `[N, C]` and
    /// `region_attn` `[N, ...]`, each split into `n` equal rows.
    pub(crate) fn fill_row(
        &mut self,
        logits: &[f32],
        region_attn: &[f32],
        n: usize,
        i: usize,
    ) -> Result<(), InferError> {
        let (c, a) = (logits.len() / n, region_attn.len() / n);
        if c * n != logits.len() || a * n != region_attn.len() {
            return Err(InferError::Output(format!(
                "{} logits and {} attention values do not split into {n} clips",
                logits.len(),
                region_attn.len()
            )));
        }
        self.logits.clear();
        self.logits.extend_from_slice(&logits[i * c..][..c]);
        self.region_attn.clear();
        self.region_attn
            .extend_from_slice(&region_attn[i * a..][..a]);
        Ok(())
    }

    /// Buffers sized for `classes` logits and `attn_len` attention values.
    pub fn with_sizes(classes: usize, attn_len: usize) -> Outputs {
        Outputs {
            logits: vec![0.0; classes],
            region_attn: vec![0.0; attn_len],
        }
    }

    /// Copies `logits` and `region_attn` in, checking their lengths.
    pub(crate) fn fill(&mut self, logits: &[f32], region_attn: &[f32]) -> Result<(), InferError> {
        if logits.len() != self.logits.len() || region_attn.len() != self.region_attn.len() {
            return Err(InferError::Output(format!(
                "expected {} logits and {} attention values, got {} and {}",
                self.logits.len(),
                self.region_attn.len(),
                logits.len(),
                region_attn.len()
            )));
        }
        self.logits.copy_from_slice(logits);
        self.region_attn.copy_from_slice(region_attn);
        Ok(())
    }
}

/// Why one inference run failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The input has the wrong number of elements.
    #[error("input has {found} values, the model takes {expected}")]
    InputSize {
        /// `T * 3 * H * W`.
        expected: usize,
        /// What was passed.
        found: usize,
    },
    /// The runtime reported an error.
    #[error("{backend} run failed: {message}")]
    Run {
        /// The backend that failed.
        backend: BackendKind,
        /// The runtime's message.
        message: String,
    },
    /// The outputs were missing or of the wrong size.
    #[error("unexpected model outputs: {0}")]
    Output(String),
    /// A device run was asked of a backend whose input is in host memory.
    #[error("{0} reads its clip from host memory: it has no device input to run on")]
    NoDeviceInput(BackendKind),
    /// Every backend of the chain failed on this clip.
    #[error("no backend left after {backend} failed: {cause}")]
    Exhausted {
        /// The last backend that failed.
        backend: BackendKind,
        /// Its error.
        cause: Box<InferError>,
    },
}

impl InferError {
    /// Checks that `input` holds exactly the elements of a tensor of `shape`.
    pub(crate) fn check_input(shape: &[usize], input: &[f32]) -> Result<(), InferError> {
        let expected: usize = shape.iter().product();
        if input.len() == expected {
            Ok(())
        } else {
            Err(InferError::InputSize {
                expected,
                found: input.len(),
            })
        }
    }

    /// Checks that a batch has one output buffer per clip.
    pub(crate) fn check_batch(inputs: &[&[f32]], outputs: &[Outputs]) -> Result<(), InferError> {
        if inputs.len() == outputs.len() {
            Ok(())
        } else {
            Err(InferError::Output(format!(
                "{} clips but {} output buffers",
                inputs.len(),
                outputs.len()
            )))
        }
    }
}

/// Where a backend reads its clip from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClipMemory {
    /// Host memory: the clip is passed to [`Backend::run`].
    #[default]
    Host,
    /// Memory of CUDA device `0`: a GPU preprocessor writes the clip into
    /// [`Backend::device_input`] and calls [`Backend::run_device`].
    Cuda(i32),
}

/// The clip tensor `[1, T, 3, H, W]` (float32, row-major) that a backend
/// keeps bound in device memory across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceClip {
    /// The CUDA device.
    pub device: i32,
    /// Device address of the first element (a `CUdeviceptr`).
    pub ptr: u64,
    /// Elements in the clip.
    pub len: usize,
}

/// A loaded model on one backend, ready to run clips.
///
/// `run` writes into buffers the backend owns and reuses, and lends them back.
/// A backend reads its clip from host memory by default; one whose session
/// reads device memory overrides [`Backend::input_memory`],
/// [`Backend::device_input`] and [`Backend::run_device`], the way
/// `embedded-graphics` hardware overrides `fill_solid`, and its host
/// [`Backend::run`] stays a working fallback.
///
/// ```
/// use artrt_infer::{Backend, BackendKind, InferError, Outputs, Precision};
///
/// /// Always answers class 0 (a shape for tests of code above the boundary).
/// struct Constant(Outputs);
///
/// impl Backend for Constant {
///     fn kind(&self) -> BackendKind { BackendKind::Tract }
///     fn provider(&self) -> &str { "constant" }
///     fn precision(&self) -> Precision { Precision::Fp32 }
///     fn model(&self) -> &str { "none" }
///     fn run(&mut self, _input: &[f32]) -> Result<&Outputs, InferError> { Ok(&self.0) }
///     fn outputs(&self) -> &Outputs { &self.0 }
/// }
/// let mut b = Constant(Outputs { logits: vec![1.0, 0.0], region_attn: vec![] });
/// assert_eq!(b.run(&[]).unwrap().logits[0], 1.0);
/// ```
pub trait Backend: Send {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// The provider that actually executes the graph (for example
    /// `CPUExecutionProvider` or `tract`).
    fn provider(&self) -> &str;
    /// Precision of the loaded model file.
    fn precision(&self) -> Precision;
    /// The loaded model file's name inside the bundle.
    fn model(&self) -> &str;
    /// Runs one clip, `[1, T, 3, H, W]` row-major.
    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError>;
    /// Clips [`Backend::run_batch`] gives the model in one call: more than
    /// one where the model file has a batch dimension and the backend uses it.
    fn max_batch(&self) -> usize {
        1
    }
    /// Runs several clips, each `[1, T, 3, H, W]` row-major, and writes the
    /// outputs of `inputs[i]` into `outputs[i]` (reusing its buffers): up to
    /// [`Backend::max_batch`] clips in each call of the model, by default one
    /// at a time. An error leaves `outputs` unspecified.
    fn run_batch(&mut self, inputs: &[&[f32]], outputs: &mut [Outputs]) -> Result<(), InferError> {
        InferError::check_batch(inputs, outputs)?;
        for (input, out) in inputs.iter().zip(outputs) {
            out.clone_from(self.run(input)?);
        }
        Ok(())
    }
    /// The outputs of the last successful run.
    fn outputs(&self) -> &Outputs;
    /// Where the clip is best written for this backend.
    fn input_memory(&self) -> ClipMemory {
        ClipMemory::Host
    }
    /// The input tensor bound in device memory, for a GPU preprocessor to
    /// write the clip into; `None` for a host backend.
    fn device_input(&mut self) -> Option<DeviceClip> {
        None
    }
    /// Runs the clip written into [`Backend::device_input`].
    fn run_device(&mut self) -> Result<&Outputs, InferError> {
        Err(InferError::NoDeviceInput(self.kind()))
    }
    /// The input of a batch of `clips` clips (2 to [`Backend::max_batch`])
    /// bound in device memory, clip `i` from element `i * len / clips`, for
    /// a GPU preprocessor to write the clips into; `None` for a host backend
    /// or a model file that takes one clip.
    fn device_batch_input(&mut self, _clips: usize) -> Option<DeviceClip> {
        None
    }
    /// Runs the batch of `outputs.len()` clips written into
    /// [`Backend::device_batch_input`], each clip's outputs into `outputs`.
    fn run_device_batch(&mut self, _outputs: &mut [Outputs]) -> Result<(), InferError> {
        Err(InferError::NoDeviceInput(self.kind()))
    }
    /// Another runner of the same loaded model with `threads` CPU threads,
    /// so that two threads can classify clips at once; `None` where clips
    /// run one at a time (a backend bound to device memory).
    fn replicate(&self, _threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
        Ok(None)
    }
}

/// A borrowed backend serves as the backend itself, so a decorator can wrap
/// either an owned backend or one it borrows.
impl<B: Backend + ?Sized> Backend for &mut B {
    fn kind(&self) -> BackendKind {
        (**self).kind()
    }
    fn provider(&self) -> &str {
        (**self).provider()
    }
    fn precision(&self) -> Precision {
        (**self).precision()
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        (**self).run(input)
    }
    fn max_batch(&self) -> usize {
        (**self).max_batch()
    }
    fn run_batch(&mut self, inputs: &[&[f32]], outputs: &mut [Outputs]) -> Result<(), InferError> {
        (**self).run_batch(inputs, outputs)
    }
    fn outputs(&self) -> &Outputs {
        (**self).outputs()
    }
    fn input_memory(&self) -> ClipMemory {
        (**self).input_memory()
    }
    fn device_input(&mut self) -> Option<DeviceClip> {
        (**self).device_input()
    }
    fn run_device(&mut self) -> Result<&Outputs, InferError> {
        (**self).run_device()
    }
    fn device_batch_input(&mut self, clips: usize) -> Option<DeviceClip> {
        (**self).device_batch_input(clips)
    }
    fn run_device_batch(&mut self, outputs: &mut [Outputs]) -> Result<(), InferError> {
        (**self).run_device_batch(outputs)
    }
    fn replicate(&self, threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
        (**self).replicate(threads)
    }
}
