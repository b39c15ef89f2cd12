//! Where preprocessed frames are kept and clips are cut: host memory, or the
//! memory of the GPU the model runs on.
//!
//! A [`FrameStage`] preprocesses each frame a clip will sample into a slot of
//! the window (the [`WindowRing`](crate::window::WindowRing) says which) and
//! gathers a clip's frames into a [`StagedClip`], which the inference thread
//! runs on the backend. [`HostStage`] preprocesses on the CPU and hands the
//! backend a host clip. `GpuStage` (feature `cuda`) runs the preprocessing
//! kernels on the GPU, keeps the window in device memory and copies the clip
//! into the backend's device input, so no clip crosses the bus; when the
//! serving backend reads host memory (after a fail-over to the CPU), the clip
//! is brought back to the host and still classified.

use std::fmt;
use std::str::FromStr;

use artrt_infer::{
    Backend, ClipMemory, DeviceClip, FrameRef, InferError, InputSpec, Outputs, Preprocessor,
};
use serde::{Deserialize, Serialize};

/// Why a frame or a clip could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The CPU preprocessor refused the frame.
    #[error(transparent)]
    Frame(#[from] artrt_infer::PreprocessError),
    /// The GPU preprocessor failed.
    #[error(transparent)]
    Gpu(#[from] artrt_infer::gpu::GpuError),
}

/// Where frames are preprocessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreprocessOn {
    /// On the GPU when the serving backend reads device memory and the GPU
    /// preprocessor starts; on the CPU otherwise.
    Auto,
    /// On the CPU (the default).
    #[default]
    Cpu,
    /// On the GPU, or not at all: a run that cannot is refused.
    Gpu,
}

impl PreprocessOn {
    /// Spelled as in profiles and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PreprocessOn::Auto => "auto",
            PreprocessOn::Cpu => "cpu",
            PreprocessOn::Gpu => "gpu",
        }
    }
}

impl fmt::Display for PreprocessOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PreprocessOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(PreprocessOn::Auto),
            "cpu" => Ok(PreprocessOn::Cpu),
            "gpu" => Ok(PreprocessOn::Gpu),
            _ => Err(format!(
                "unknown preprocessing place `{s}` (expected auto, cpu or gpu)"
            )),
        }
    }
}

/// What [`PreprocessOn`] comes to for a backend: the CUDA device to
/// preprocess on, or `None` for the CPU. `Gpu` with a host backend is an error.
pub fn device_for(on: PreprocessOn, memory: ClipMemory) -> Result<Option<usize>, String> {
    match (on, memory) {
        (PreprocessOn::Cpu, _) | (PreprocessOn::Auto, ClipMemory::Host) => Ok(None),
        (_, ClipMemory::Cuda(device)) => Ok(Some(device.max(0) as usize)),
        (PreprocessOn::Gpu, ClipMemory::Host) => Err(
            "GPU preprocessing needs a backend that reads device memory (trt or cuda), \
             but the serving backend reads host memory"
                .into(),
        ),
    }
}

/// The window's frames, in host or device memory.
pub trait FrameStage: Send {
    /// A cut clip, on its way to the inference thread.
    type Clip: StagedClip;
    /// Where the stage runs (`cpu`, `gpu 0`), for logs.
    fn describe(&self) -> String;
    /// Makes room for a window of `slots` frames; called once before frames come.
    fn reserve(&mut self, slots: usize) -> Result<(), StageError>;
    /// One clip buffer (the pipeline makes three).
    fn clip(&self) -> Result<Self::Clip, StageError>;
    /// Preprocesses `frame` into window slot `slot`.
    fn frame_into(&mut self, frame: &FrameRef<'_>, slot: usize) -> Result<(), StageError>;
    /// Checks a frame no clip will sample, without preprocessing it.
    fn validate(&mut self, frame: &FrameRef<'_>) -> Result<(), StageError>;
    /// Copies the frames in `slots`, in order, into `clip`; the clip is
    /// complete when this returns.
    fn gather(
        &mut self,
        slots: impl Iterator<Item = usize>,
        clip: &mut Self::Clip,
    ) -> Result<(), StageError>;
}

/// A clip a [`FrameStage`] cut, that knows how to reach a backend.
pub trait StagedClip: Send {
    /// Classifies the clip on `backend`.
    fn run<'b>(&mut self, backend: &'b mut dyn Backend) -> Result<&'b Outputs, InferError>;
    /// The clip in host memory, where it is kept there.
    fn host(&self) -> Option<&[f32]> {
        None
    }
    /// The clip in host memory for a preview: [`StagedClip::host`], or a
    /// copy brought from the device; `None` where it cannot be had.
    fn preview(&mut self) -> Option<&[f32]> {
        self.host()
    }
    /// Copies the clip into clip `index` of `batch`, a backend's batch input
    /// in device memory; `Ok(false)` where the clip is not in device memory.
    fn to_device_batch(&mut self, _batch: DeviceClip, _index: usize) -> Result<bool, StageError> {
        Ok(false)
    }
}

/// Frames preprocessed on the CPU into host memory.
pub struct HostStage {
    preprocessor: Preprocessor,
    frame_len: usize,
    frames: usize,
    slots: Vec<f32>,
}

impl HostStage {
    /// A stage for the bundle's input.
    pub fn new(spec: &InputSpec) -> HostStage {
        HostStage {
            preprocessor: Preprocessor::new(spec),
            frame_len: spec.frame_len(),
            frames: spec.frames,
            slots: Vec::new(),
        }
    }

    /// The preprocessed frame in window slot `slot`.
    fn slot(&self, slot: usize) -> &[f32] {
        &self.slots[slot * self.frame_len..(slot + 1) * self.frame_len]
    }
}

/// A clip in host memory.
pub struct HostClip(pub Vec<f32>);

impl StagedClip for HostClip {
    fn run<'b>(&mut self, backend: &'b mut dyn Backend) -> Result<&'b Outputs, InferError> {
        backend.run(&self.0)
    }
    fn host(&self) -> Option<&[f32]> {
        Some(&self.0)
    }
}

impl FrameStage for HostStage {
    type Clip = HostClip;

    fn describe(&self) -> String {
        "cpu".into()
    }

    fn reserve(&mut self, slots: usize) -> Result<(), StageError> {
        self.slots = vec![0.0; slots * self.frame_len];
        Ok(())
    }

    fn clip(&self) -> Result<HostClip, StageError> {
        Ok(HostClip(vec![0.0; self.frames * self.frame_len]))
    }

    fn frame_into(&mut self, frame: &FrameRef<'_>, slot: usize) -> Result<(), StageError> {
        let out = &mut self.slots[slot * self.frame_len..(slot + 1) * self.frame_len];
        Ok(self.preprocessor.frame_into(frame, out)?)
    }

    fn validate(&mut self, frame: &FrameRef<'_>) -> Result<(), StageError> {
        Ok(self.preprocessor.validate(frame)?)
    }

    fn gather(
        &mut self,
        slots: impl Iterator<Item = usize>,
        clip: &mut HostClip,
    ) -> Result<(), StageError> {
        let len = self.frame_len;
        for (out, slot) in clip.0.chunks_exact_mut(len).zip(slots) {
            out.copy_from_slice(self.slot(slot));
        }
        Ok(())
    }
}

#[cfg(feature = "cuda")]
pub use gpu::{GpuClip, GpuStage};

#[cfg(feature = "cuda")]
mod gpu {
    use std::sync::Arc;

    use artrt_infer::gpu::{GpuError, GpuPreprocessor};
    use artrt_infer::{
        Backend, DeviceClip, FrameRef, InferError, InputSpec, Outputs, Preprocessor,
    };
    use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DriverError, result};

    use super::{FrameStage, StageError, StagedClip};

    fn cuda(what: &'static str) -> impl Fn(DriverError) -> StageError {
        move |e| StageError::Gpu(GpuError::Cuda(format!("{what}: {e}")))
    }

    /// Frames preprocessed by the GPU kernels into device memory.
    pub struct GpuStage {
        gpu: GpuPreprocessor,
        host: Preprocessor,
        device: usize,
        frames: usize,
        slots: Option<CudaSlice<f32>>,
    }

    impl GpuStage {
        /// Compiles the kernels and opens CUDA device `device`.
        pub fn new(spec: &InputSpec, device: usize) -> Result<GpuStage, StageError> {
            Ok(GpuStage {
                gpu: GpuPreprocessor::new(spec, device)?,
                host: Preprocessor::new(spec),
                device,
                frames: spec.frames,
                slots: None,
            })
        }
    }

    fn no_window() -> StageError {
        StageError::Gpu(GpuError::Frame("no window reserved on the GPU".into()))
    }

    /// A clip in device memory.
    pub struct GpuClip {
        data: CudaSlice<f32>,
        stream: Arc<CudaStream>,
        host: Vec<f32>,
    }

    impl StagedClip for GpuClip {
        /// Copies the clip into the backend's device input and runs it there;
        /// a backend that reads host memory gets the clip downloaded.
        fn run<'b>(&mut self, backend: &'b mut dyn Backend) -> Result<&'b Outputs, InferError> {
            let kind = backend.kind();
            let failed = |message: String| InferError::Run {
                backend: kind,
                message,
            };
            match backend.device_input() {
                Some(input) if input.len == self.data.len() => {
                    // SAFETY: the backend's device input holds `len` floats.
                    unsafe { self.copy_to(input.ptr) }.map_err(|e| {
                        failed(format!("cannot copy the clip into the device input: {e}"))
                    })?;
                    backend.run_device()
                }
                Some(input) => Err(InferError::InputSize {
                    expected: input.len,
                    found: self.data.len(),
                }),
                None => {
                    self.host.resize(self.data.len(), 0.0);
                    self.stream
                        .memcpy_dtoh(&self.data, &mut self.host)
                        .and_then(|()| self.stream.synchronize())
                        .map_err(|e| failed(format!("cannot bring the clip to the host: {e}")))?;
                    backend.run(&self.host)
                }
            }
        }

        /// Brings the clip to the host (a preview is taken at most every
        /// `outputs.preview_ms`, so the copy is rare).
        fn preview(&mut self) -> Option<&[f32]> {
            self.host.resize(self.data.len(), 0.0);
            match self
                .stream
                .memcpy_dtoh(&self.data, &mut self.host)
                .and_then(|()| self.stream.synchronize())
            {
                Ok(()) => Some(&self.host),
                Err(e) => {
                    log::warn!("no preview: cannot bring the clip to the host: {e}");
                    None
                }
            }
        }

        fn to_device_batch(&mut self, batch: DeviceClip, index: usize) -> Result<bool, StageError> {
            let len = self.data.len();
            if (index + 1) * len > batch.len {
                return Err(StageError::Gpu(GpuError::Frame(format!(
                    "clip {index} of {len} values does not fit a batch input of {} values",
                    batch.len
                ))));
            }
            let at = batch.ptr + (index * len * std::mem::size_of::<f32>()) as u64;
            // SAFETY: clip `index` of the batch input holds `len` floats from `at`.
            unsafe { self.copy_to(at) }.map_err(cuda("copy into the batch input"))?;
            Ok(true)
        }
    }

    impl GpuClip {
        /// Copies the clip to device address `dst` and waits for the copy.
        ///
        /// # Safety
        /// `dst` must hold the clip's `len` floats on the clip's device.
        unsafe fn copy_to(&self, dst: u64) -> Result<(), DriverError> {
            self.stream.context().bind_to_thread()?;
            let (src, _read) = self.data.device_ptr(&self.stream);
            let bytes = self.data.len() * std::mem::size_of::<f32>();
            // SAFETY: the caller's promise for `dst`; the stream is
            // synchronised before the backend reads it.
            unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream()) }?;
            self.stream.synchronize()
        }
    }

    impl FrameStage for GpuStage {
        type Clip = GpuClip;

        fn describe(&self) -> String {
            format!("gpu {}", self.device)
        }

        fn reserve(&mut self, slots: usize) -> Result<(), StageError> {
            let len = slots * self.gpu.frame_len();
            self.slots = Some(
                self.gpu
                    .stream()
                    .alloc_zeros::<f32>(len)
                    .map_err(cuda("allocating the window"))?,
            );
            Ok(())
        }

        fn clip(&self) -> Result<GpuClip, StageError> {
            let stream = Arc::clone(self.gpu.stream());
            Ok(GpuClip {
                data: stream
                    .alloc_zeros::<f32>(self.frames * self.gpu.frame_len())
                    .map_err(cuda("allocating a clip"))?,
                stream,
                host: Vec::new(),
            })
        }

        fn frame_into(&mut self, frame: &FrameRef<'_>, slot: usize) -> Result<(), StageError> {
            let offset = slot * self.gpu.frame_len();
            let slots = self.slots.as_mut().ok_or_else(no_window)?;
            Ok(self.gpu.frame_into(frame, slots, offset)?)
        }

        fn validate(&mut self, frame: &FrameRef<'_>) -> Result<(), StageError> {
            Ok(self.host.validate(frame)?)
        }

        fn gather(
            &mut self,
            slots: impl Iterator<Item = usize>,
            clip: &mut GpuClip,
        ) -> Result<(), StageError> {
            let len = self.gpu.frame_len();
            let stream = Arc::clone(self.gpu.stream());
            let window = self.slots.as_ref().ok_or_else(no_window)?;
            for (i, slot) in slots.enumerate() {
                let src = window.slice(slot * len..(slot + 1) * len);
                let mut dst = clip.data.slice_mut(i * len..(i + 1) * len);
                stream
                    .memcpy_dtod(&src, &mut dst)
                    .map_err(cuda("gathering the clip"))?;
            }
            stream.synchronize().map_err(cuda("gathering the clip"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_preprocesses_where_the_backend_reads_its_clip() {
        assert_eq!(device_for(PreprocessOn::Auto, ClipMemory::Host), Ok(None));
        assert_eq!(
            device_for(PreprocessOn::Auto, ClipMemory::Cuda(1)),
            Ok(Some(1))
        );
        assert_eq!(device_for(PreprocessOn::Cpu, ClipMemory::Cuda(0)), Ok(None));
        assert_eq!(
            device_for(PreprocessOn::Gpu, ClipMemory::Cuda(0)),
            Ok(Some(0))
        );
        let err = device_for(PreprocessOn::Gpu, ClipMemory::Host).unwrap_err();
        assert!(err.contains("reads host memory"), "{err}");
    }

    #[test]
    fn places_parse_as_they_are_written() {
        for on in [PreprocessOn::Auto, PreprocessOn::Cpu, PreprocessOn::Gpu] {
            assert_eq!(on.to_string().parse::<PreprocessOn>(), Ok(on));
        }
        assert!(
            "GPU0"
                .parse::<PreprocessOn>()
                .unwrap_err()
                .contains("expected auto, cpu or gpu")
        );
    }

    /// Recognises nothing; keeps the clip it was given.
    #[cfg(feature = "cuda")]
    struct Keep(Outputs, Vec<f32>);

    #[cfg(feature = "cuda")]
    impl Backend for Keep {
        fn kind(&self) -> artrt_infer::BackendKind {
            artrt_infer::BackendKind::OrtCpu
        }
        fn provider(&self) -> &str {
            "keep"
        }
        fn precision(&self) -> artrt_infer::Precision {
            artrt_infer::Precision::Fp32
        }
        fn model(&self) -> &str {
            "keep"
        }
        fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
            self.1 = input.to_vec();
            Ok(&self.0)
        }
        fn outputs(&self) -> &Outputs {
            &self.0
        }
    }

    /// The GPU stage cuts the host stage's clips, and previews them, on a machine with a GPU
    /// (tests/gpu.sh sets ARTRT_REQUIRE_GPU=1, which makes a missing GPU a
    /// failure; elsewhere the test says it had no GPU and passes).
    #[cfg(feature = "cuda")]
    #[test]
    fn on_a_gpu_the_device_stage_cuts_the_host_stages_clips() {
        use crate::window::WindowRing;
        let spec = artrt_infer::Bundle::load(artrt_infer::install::DEFAULT_BUNDLE)
            .unwrap()
            .input
            .clone();
        let mut gpu = match GpuStage::new(&spec, 0) {
            Ok(gpu) => gpu,
            Err(e) if std::env::var_os("ARTRT_REQUIRE_GPU").is_none() => {
                eprintln!("no GPU here ({e}): the device stage is checked by tests/gpu.sh");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let mut host = HostStage::new(&spec);
        let mut ring = WindowRing::new(spec.window, 3, spec.frames, spec.sampling).unwrap();
        gpu.reserve(ring.slots()).unwrap();
        host.reserve(ring.slots()).unwrap();
        let (mut gpu_clip, mut host_clip) = (gpu.clip().unwrap(), host.clip().unwrap());
        let mut keep = Keep(Outputs::with_sizes(2, 0), Vec::new());
        let (w, h) = (320usize, 240usize);
        let mut cuts = 0;
        for n in 0..3 * spec.window {
            let data: Vec<u8> = (0..w * h * 3)
                .map(|i| ((i * 31 + n * 17) % 253) as u8)
                .collect();
            let frame = FrameRef {
                format: artrt_infer::PixelFormat::Rgb24,
                width: w as u32,
                height: h as u32,
                data: &data,
                timestamp: std::time::Duration::from_millis(n as u64 * 33),
            };
            if ring.wants_next() {
                gpu.frame_into(&frame, ring.next_slot()).unwrap();
                host.frame_into(&frame, ring.next_slot()).unwrap();
            }
            if ring.commit(frame.timestamp) {
                gpu.gather(ring.clip_slots(), &mut gpu_clip).unwrap();
                host.gather(ring.clip_slots(), &mut host_clip).unwrap();
                // A host backend gets the device clip downloaded.
                gpu_clip.run(&mut keep).unwrap();
                assert_eq!(keep.1, host_clip.0, "clip {cuts}");
                // So does a preview.
                assert_eq!(gpu_clip.preview(), Some(&host_clip.0[..]), "clip {cuts}");
                cuts += 1;
            }
        }
        assert!(cuts >= 2);
    }
}
