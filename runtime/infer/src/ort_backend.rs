//! ONNX Runtime backends (TensorRT, CUDA, CPU), with the library loaded at
//! run time (`ort`'s `load-dynamic`).
//!
//! Execution providers are registered with `error_on_failure`, so a provider
//! that cannot start is an error here instead of a silent CPU fallback, and
//! [`Backend::provider`] names the provider that was registered and runs.
//!
//! A session keeps its input and outputs bound (ONNX Runtime's `IoBinding`)
//! from run to run, in tensors allocated once, and the CPU provider uses
//! ONNX Runtime's memory arena: a run allocates no tensor memory. Built with
//! the `cuda` feature, a CUDA or TensorRT session's input lives in device
//! memory ([`Backend::device_input`]), where a GPU preprocessor writes the
//! clip; a host clip given to [`Backend::run`] is copied there.
//!
//! A model file with a batch dimension (`[[models]] max_batch` above 1) also
//! runs several clips in one call, in tensors allocated the first time a
//! batch of that size runs: host clips ([`Backend::run_batch`]) bound from
//! host memory, and, for a CUDA or TensorRT session built with `cuda`,
//! clips a GPU preprocessor writes into a batch input in device memory
//! ([`Backend::device_batch_input`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
use ort::memory::Allocator;
use ort::session::builder::PrepackedWeights;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;
use serde::Deserialize;

use crate::backend::{
    Backend, BackendKind, ClipMemory, DeviceClip, InferError, Outputs, Precision,
};
use crate::bundle::{Bundle, ModelEntry};
use crate::chain::OpenError;

/// Environment variable naming the ONNX Runtime library (as `ort` reads it).
pub const ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";

/// TensorRT execution provider settings; board profiles embed this table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TensorRtOptions {
    /// CUDA device index.
    pub device_id: i32,
    /// Let TensorRT use INT8 kernels (Q/DQ models are explicitly quantized).
    pub int8: bool,
    /// Let TensorRT use FP16 kernels.
    pub fp16: bool,
    /// Directory of the engine cache and the timing cache.
    pub cache_dir: PathBuf,
    /// Deep Learning Accelerator core to use (Jetson Xavier and Orin), if any.
    pub dla_core: Option<u32>,
    /// Builder workspace limit in bytes.
    pub workspace_bytes: usize,
    /// TensorRT builder optimisation level (0 to 5).
    pub builder_optimization_level: u8,
}

impl Default for TensorRtOptions {
    fn default() -> Self {
        TensorRtOptions {
            device_id: 0,
            int8: true,
            fp16: true,
            cache_dir: std::env::temp_dir().join("artrt-tensorrt"),
            dla_core: None,
            workspace_bytes: 1 << 30,
            builder_optimization_level: 3,
        }
    }
}

/// Where to find ONNX Runtime and how to set up its providers.
#[derive(Debug, Clone, Default)]
pub struct OrtConfig {
    /// The library given on the command line (`--ort-lib`); tried first.
    pub lib: Option<PathBuf>,
    /// The library named by the board profile; tried after `ORT_DYLIB_PATH`.
    pub profile_lib: Option<PathBuf>,
    /// TensorRT settings.
    pub tensorrt: TensorRtOptions,
}

/// Why no ONNX Runtime library could be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrtLibError {
    /// A configured library path does not exist.
    #[error("ONNX Runtime library {} (from {origin}) does not exist", path.display())]
    Missing {
        /// The configured path.
        path: PathBuf,
        /// Where it was configured.
        origin: &'static str,
    },
    /// Nothing configured, nothing installed and no project virtual environment found.
    #[error(
        "no ONNX Runtime library found: pass --ort-lib, set ORT_DYLIB_PATH, name one in the board profile, \
         or run `bash runtime/setup.sh` to create .venv with the onnxruntime wheel (searched: {searched})"
    )]
    NotFound {
        /// The folders looked at.
        searched: String,
    },
    /// The library exists but could not be loaded or initialised.
    #[error("cannot load ONNX Runtime from {}: {message}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
}

/// Finds the ONNX Runtime shared library: `--ort-lib`, then `ORT_DYLIB_PATH`,
/// then the board profile's path, then the library installed with `artrt`
/// (`<prefix>/lib/artrt/libonnxruntime.so`), then the onnxruntime wheel in
/// the nearest `.venv` above the executable, then above the current directory.
///
/// A configured path that does not exist is an error (no silent substitute).
pub fn find_library(config: &OrtConfig) -> Result<(PathBuf, &'static str), OrtLibError> {
    let env = std::env::var_os(ORT_DYLIB_PATH)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let configured = [
        (config.lib.clone(), "--ort-lib"),
        (env, ORT_DYLIB_PATH),
        (config.profile_lib.clone(), "the board profile"),
    ];
    for (path, origin) in configured {
        if let Some(path) = path {
            return if path.is_file() {
                Ok((path, origin))
            } else {
                Err(OrtLibError::Missing { path, origin })
            };
        }
    }
    let mut searched = Vec::new();
    for dir in crate::install::library_dirs() {
        let lib = dir.join("libonnxruntime.so");
        if lib.is_file() {
            return Ok((lib, "the library installed with artrt"));
        }
        searched.push(dir.display().to_string());
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    for (start, origin) in [
        (exe_dir, "the project .venv"),
        (cwd, "the .venv above the current directory"),
    ] {
        let Some(start) = start else { continue };
        for dir in start.ancestors().take(5) {
            let venv = dir.join(".venv");
            if !venv.is_dir() {
                continue;
            }
            searched.push(venv.display().to_string());
            if let Some(lib) = wheel_library(&venv) {
                return Ok((lib, origin));
            }
        }
    }
    Err(OrtLibError::NotFound {
        searched: if searched.is_empty() {
            "no .venv above the executable or the current directory".to_string()
        } else {
            searched.join(", ")
        },
    })
}

/// `<venv>/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`.
fn wheel_library(venv: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .flat_map(|e| {
            std::fs::read_dir(e.path().join("site-packages/onnxruntime/capi"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The process's one ONNX Runtime environment and the library behind it.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime (once per process) and returns its environment.
pub fn environment(config: &OrtConfig) -> Result<(PathBuf, Environment), OrtLibError> {
    let (path, origin) = find_library(config)?;
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((loaded, env)) = slot.as_ref() {
        if *loaded != path {
            log::warn!(
                "ONNX Runtime is already loaded from {}; {} (from {origin}) is not loaded again",
                loaded.display(),
                path.display()
            );
        }
        return Ok((loaded.clone(), env.clone()));
    }
    let load = |message: String| OrtLibError::Load {
        path: path.clone(),
        message,
    };
    let env = ort::init_from(&path)
        .map_err(|e| load(e.to_string()))?
        .with_name("artrt")
        .with_telemetry(false)
        .build()
        .map_err(|e| load(e.to_string()))?;
    log::info!(
        "ONNX Runtime loaded from {} (from {origin})",
        path.display()
    );
    *slot = Some((path.clone(), env.clone()));
    Ok((path, env))
}

/// An ONNX Runtime library as loaded: where it came from, its build and the
/// execution providers it was built with.
#[derive(Debug, Clone)]
pub struct OrtInfo {
    /// The library file.
    pub path: PathBuf,
    /// Where the path came from (`--ort-lib`, the board profile...).
    pub origin: &'static str,
    /// ONNX Runtime's version (`1.31.1`).
    pub version: String,
    /// ONNX Runtime's build string (commit, flags).
    pub build: String,
    /// Execution providers compiled into the library
    /// (`TensorrtExecutionProvider`, `CUDAExecutionProvider`, `CPUExecutionProvider`).
    pub providers: Vec<String>,
}

/// Loads ONNX Runtime as [`environment`] does and describes it.
pub fn library_info(config: &OrtConfig) -> Result<OrtInfo, OrtLibError> {
    let (_, origin) = find_library(config)?;
    let (path, _env) = environment(config)?;
    let api = ort::api();
    let mut names: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut count: std::ffi::c_int = 0;
    // SAFETY: the API table is initialised by `environment`; the list it
    // returns is read, then released with its own call.
    let providers = unsafe {
        let status = (api.GetAvailableProviders)(&mut names, &mut count);
        if !status.0.is_null() {
            (api.ReleaseStatus)(status.0);
            Vec::new()
        } else {
            let list = (0..usize::try_from(count).unwrap_or(0))
                .map(|i| {
                    std::ffi::CStr::from_ptr(*names.add(i))
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            let status = (api.ReleaseAvailableProviders)(names, count);
            if !status.0.is_null() {
                (api.ReleaseStatus)(status.0);
            }
            list
        }
    };
    // SAFETY: the library is loaded already (this only takes a reference);
    // `OrtGetApiBase` and `GetVersionString` take nothing and return static data.
    let version = unsafe {
        libloading::Library::new(&path).ok().and_then(|lib| {
            let base = lib
                .get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase\0")
                .ok()?();
            let text = base.as_ref().map(|b| (b.GetVersionString)())?;
            (!text.is_null()).then(|| {
                std::ffi::CStr::from_ptr(text)
                    .to_string_lossy()
                    .into_owned()
            })
        })
    }
    .unwrap_or_else(|| "unknown".to_string());
    Ok(OrtInfo {
        path,
        origin,
        version,
        build: ort::info().to_string(),
        providers,
    })
}

/// A model on ONNX Runtime with one execution provider.
pub struct OrtBackend {
    kind: BackendKind,
    provider: &'static str,
    loaded: Arc<Loaded>,
    session: Session,
    binding: IoBinding,
    input: Tensor<f32>,
    memory: ClipMemory,
    logits: Tensor<f32>,
    region_attn: Tensor<f32>,
    out: Outputs,
    /// The bindings of the batch sizes run so far, host and device inputs.
    batches: Vec<Batch>,
}

/// The input and outputs of one batch size; the outputs in host memory.
struct Batch {
    clips: usize,
    memory: ClipMemory,
    binding: IoBinding,
    input: Tensor<f32>,
    logits: Tensor<f32>,
    region_attn: Tensor<f32>,
}

impl Batch {
    /// Tensors for `clips` clips of `loaded`'s model, bound to `session`;
    /// the input in the session's device memory when `device`.
    fn new(
        session: &Session,
        kind: BackendKind,
        loaded: &Loaded,
        clips: usize,
        device: bool,
    ) -> Result<Batch, ort::Error> {
        let host = Allocator::default();
        let [_, t, c, h, w] = loaded.shape;
        let [_, tracklets, tokens] = loaded.attn;
        let shape = [clips, t, c, h, w];
        let (input, memory) = if device {
            input_tensor(session, kind, &loaded.tensorrt, shape)?
        } else {
            (Tensor::<f32>::new(&host, shape)?, ClipMemory::Host)
        };
        let mut logits = Tensor::<f32>::new(&host, [clips, loaded.out.logits.len()])?;
        let mut region_attn = Tensor::<f32>::new(&host, [clips, t, tracklets, tokens])?;
        let mut binding = session.create_binding()?;
        binding.bind_input("video", &input)?;
        binding.bind_output("logits", &mut logits)?;
        binding.bind_output("region_attn", &mut region_attn)?;
        Ok(Batch {
            clips,
            memory,
            binding,
            input,
            logits,
            region_attn,
        })
    }
}

/// The model as loaded once, shared by a backend and its replicas: its
/// bytes, checked against the bundle's digest, and the container in which
/// ONNX Runtime keeps the prepacked weights all their sessions share.
struct Loaded {
    env: Environment,
    bytes: Vec<u8>,
    prepacked: PrepackedWeights,
    precision: Precision,
    model: String,
    tensorrt: TensorRtOptions,
    shape: [usize; 5],
    attn: [usize; 3],
    out: Outputs,
    max_batch: usize,
}

impl OrtBackend {
    /// Loads `entry` of `bundle` with the provider of `kind` and `threads` CPU
    /// threads, which sleep between runs rather than spin.
    pub fn open(
        bundle: &Bundle,
        entry: &ModelEntry,
        kind: BackendKind,
        threads: usize,
        config: &OrtConfig,
    ) -> Result<OrtBackend, OpenError> {
        let (eps, provider) = providers(kind, bundle, entry, config)?;
        let (_, env) = environment(config).map_err(OpenError::OrtLibrary)?;
        let loaded = Loaded {
            env,
            bytes: bundle.model_bytes(entry)?,
            prepacked: PrepackedWeights::new(),
            precision: entry.precision,
            model: entry.path.clone(),
            tensorrt: config.tensorrt.clone(),
            shape: bundle.input.clip_shape(),
            attn: bundle.model.region_attn_shape(bundle.input.frames),
            out: bundle.outputs(),
            max_batch: entry.max_batch,
        };
        OrtBackend::session(Arc::new(loaded), kind, provider, eps, threads).map_err(|e| {
            OpenError::Runtime(format!("ONNX Runtime ({provider}) on {}: {e}", entry.path))
        })
    }

    /// A session of `loaded` on `eps`, with its input and outputs bound.
    fn session(
        loaded: Arc<Loaded>,
        kind: BackendKind,
        provider: &'static str,
        eps: Vec<ExecutionProviderDispatch>,
        threads: usize,
    ) -> Result<OrtBackend, String> {
        let session = Session::builder(&loaded.env)
            .map_err(text)?
            .with_intra_threads(threads.max(1))
            .map_err(text)?
            .with_inter_threads(1)
            .map_err(text)?
            .with_intra_op_spinning(false)
            .map_err(text)?
            .with_memory_pattern(true)
            .map_err(text)?
            .with_prepacked_weights(&loaded.prepacked)
            .map_err(text)?
            .with_execution_providers(eps)
            .map_err(|e| format!("cannot register {provider}: {e}"))?
            .commit_from_memory(&loaded.bytes)
            .map_err(text)?;
        let [t, tracklets, tokens] = loaded.attn;
        let host = Allocator::default();
        let (input, memory) = input_tensor(&session, kind, &loaded.tensorrt, loaded.shape)
            .map_err(|e| format!("cannot allocate the input: {e}"))?;
        let mut logits = Tensor::<f32>::new(&host, [1, loaded.out.logits.len()]).map_err(text)?;
        let mut region_attn = Tensor::<f32>::new(&host, [1, t, tracklets, tokens]).map_err(text)?;
        let mut binding = session.create_binding().map_err(text)?;
        binding
            .bind_input("video", &input)
            .and_then(|()| binding.bind_output("logits", &mut logits))
            .and_then(|()| binding.bind_output("region_attn", &mut region_attn))
            .map_err(|e| format!("cannot bind the model's input and outputs: {e}"))?;
        Ok(OrtBackend {
            kind,
            provider,
            out: loaded.out.clone(),
            loaded,
            session,
            binding,
            input,
            memory,
            logits,
            region_attn,
            batches: Vec::new(),
        })
    }

    /// Runs 2 to `max_batch` host clips in one call of the model.
    fn run_together(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [Outputs],
    ) -> Result<(), InferError> {
        for input in inputs {
            InferError::check_input(&self.loaded.shape, input)?;
        }
        let n = inputs.len();
        let at = self.batch(n, false)?;
        let batch = &mut self.batches[at];
        let (_, data) = batch.input.extract_tensor_mut();
        let clip = data.len() / n;
        for (dst, src) in data.chunks_exact_mut(clip).zip(inputs) {
            dst.copy_from_slice(src);
        }
        // A GPU session copies a host input to its device when it is bound.
        if self.kind != BackendKind::OrtCpu {
            let kind = self.kind;
            batch
                .binding
                .bind_input("video", &batch.input)
                .map_err(|e| InferError::Run {
                    backend: kind,
                    message: e.to_string(),
                })?;
        }
        self.run_batch_at(at, outputs)
    }

    /// The index in `batches` of the batch of `clips` clips with its input
    /// in the session's device memory (`device`) or in host memory, bound
    /// on first use.
    fn batch(&mut self, clips: usize, device: bool) -> Result<usize, InferError> {
        let memory = if device {
            self.memory
        } else {
            ClipMemory::Host
        };
        if let Some(at) = self
            .batches
            .iter()
            .position(|b| b.clips == clips && b.memory == memory)
        {
            return Ok(at);
        }
        let batch =
            Batch::new(&self.session, self.kind, &self.loaded, clips, device).map_err(|e| {
                InferError::Run {
                    backend: self.kind,
                    message: format!("cannot bind a batch of {clips} clips: {e}"),
                }
            })?;
        self.batches.push(batch);
        Ok(self.batches.len() - 1)
    }

    /// Runs the bound batch `at` and copies each clip's outputs out.
    fn run_batch_at(&mut self, at: usize, outputs: &mut [Outputs]) -> Result<(), InferError> {
        let kind = self.kind;
        let batch = &mut self.batches[at];
        self.session
            .run_binding(&batch.binding)
            .map(drop)
            .map_err(|e| InferError::Run {
                backend: kind,
                message: e.to_string(),
            })?;
        let (_, logits) = batch.logits.extract_tensor();
        let (_, attn) = batch.region_attn.extract_tensor();
        for (i, out) in outputs.iter_mut().enumerate() {
            out.fill_row(logits, attn, batch.clips, i)?;
        }
        Ok(())
    }

    /// Runs the bound input and copies the bound outputs out. An input on
    /// the session's own device (host for the CPU provider, CUDA memory for
    /// CUDA and TensorRT) is bound once: ONNX Runtime reads the tensor itself
    /// on every run. A host input of a GPU session (a build without `cuda`)
    /// is copied to the device when bound, so it is bound again every run.
    fn run_bound(&mut self) -> Result<&Outputs, InferError> {
        let kind = self.kind;
        let fail = |e: ort::Error| InferError::Run {
            backend: kind,
            message: e.to_string(),
        };
        if self.memory == ClipMemory::Host && kind != BackendKind::OrtCpu {
            self.binding
                .bind_input("video", &self.input)
                .map_err(fail)?;
        }
        drop(self.session.run_binding(&self.binding).map_err(fail)?);
        let (_, logits) = self.logits.extract_tensor();
        let (_, attn) = self.region_attn.extract_tensor();
        self.out.fill(logits, attn)?;
        Ok(&self.out)
    }
}

/// An ONNX Runtime error's message.
fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The clip tensor, allocated once: in the CUDA device's memory for a CUDA
/// or TensorRT session when built with `cuda`, in host memory otherwise.
fn input_tensor(
    session: &Session,
    kind: BackendKind,
    trt: &TensorRtOptions,
    shape: [usize; 5],
) -> Result<(Tensor<f32>, ClipMemory), ort::Error> {
    #[cfg(feature = "cuda")]
    if matches!(kind, BackendKind::Cuda | BackendKind::Trt) {
        use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
        let info = MemoryInfo::new(
            AllocationDevice::CUDA,
            trt.device_id,
            AllocatorType::Device,
            MemoryType::Default,
        )?;
        let device = Allocator::new(session, info)?;
        return Ok((
            Tensor::<f32>::new(&device, shape)?,
            ClipMemory::Cuda(trt.device_id),
        ));
    }
    let _ = (session, kind, trt);
    Ok((
        Tensor::<f32>::new(&Allocator::default(), shape)?,
        ClipMemory::Host,
    ))
}

/// The execution providers for `kind`, each registered so that a failure is
/// an error, and the name of the provider that runs.
fn providers(
    kind: BackendKind,
    bundle: &Bundle,
    entry: &ModelEntry,
    config: &OrtConfig,
) -> Result<(Vec<ExecutionProviderDispatch>, &'static str), OpenError> {
    match kind {
        BackendKind::OrtCpu => Ok((vec![cpu()], CPU)),
        BackendKind::Trt => tensorrt(bundle, entry, &config.tensorrt),
        BackendKind::Cuda => {
            cuda(config.tensorrt.device_id).map(|ep| (vec![ep], "CUDAExecutionProvider"))
        }
        BackendKind::Tract => Err(OpenError::Runtime(
            "tract is not an ONNX Runtime provider".into(),
        )),
    }
}

/// The CPU provider's name.
const CPU: &str = "CPUExecutionProvider";

/// The CPU provider, with ONNX Runtime's memory arena.
fn cpu() -> ExecutionProviderDispatch {
    ort::ep::CPU::default()
        .with_arena_allocator(true)
        .build()
        .error_on_failure()
}

#[cfg(feature = "cuda")]
fn cuda(device_id: i32) -> Result<ExecutionProviderDispatch, OpenError> {
    Ok(ort::ep::CUDA::default()
        .with_device_id(device_id)
        .build()
        .error_on_failure())
}

#[cfg(not(feature = "cuda"))]
fn cuda(_device_id: i32) -> Result<ExecutionProviderDispatch, OpenError> {
    Err(OpenError::NotBuilt { feature: "cuda" })
}

#[cfg(feature = "tensorrt")]
use crate::engine_cache::EngineKey;

#[cfg(feature = "tensorrt")]
fn tensorrt(
    bundle: &Bundle,
    entry: &ModelEntry,
    o: &TensorRtOptions,
) -> Result<(Vec<ExecutionProviderDispatch>, &'static str), OpenError> {
    let digest = bundle.sha256.get(&entry.path).map_or("", String::as_str);
    let key = EngineKey::for_machine(digest, o).map_err(OpenError::Runtime)?;
    let dir = key.prepare_dir(&o.cache_dir).map_err(OpenError::Runtime)?;
    log::info!(
        "TensorRT engine cache for {}: {}",
        entry.path,
        dir.display()
    );
    let dir = dir.display().to_string();
    let mut trt = ort::ep::TensorRT::default()
        .with_device_id(o.device_id)
        .with_int8(o.int8)
        .with_fp16(o.fp16)
        .with_max_workspace_size(o.workspace_bytes)
        .with_builder_optimization_level(o.builder_optimization_level)
        .with_engine_cache(true)
        .with_engine_cache_path(&dir)
        .with_engine_cache_prefix("artrt")
        .with_timing_cache(true)
        .with_timing_cache_path(&dir);
    if let Some(core) = o.dla_core {
        trt = trt.with_dla(true).with_dla_core(core);
    }
    if entry.max_batch > 1 {
        // One engine for every batch size the file takes, tuned for the largest.
        let [_, t, c, h, w] = bundle.input.clip_shape();
        let shape = |n: usize| format!("video:{n}x{t}x{c}x{h}x{w}");
        trt = trt
            .with_profile_min_shapes(shape(1))
            .with_profile_opt_shapes(shape(entry.max_batch))
            .with_profile_max_shapes(shape(entry.max_batch));
    }
    let mut eps = vec![trt.build().error_on_failure()];
    // Layers TensorRT does not take run on CUDA, not on the CPU.
    if let Ok(cuda) = cuda(o.device_id) {
        eps.push(cuda);
    }
    Ok((eps, "TensorrtExecutionProvider"))
}

#[cfg(not(feature = "tensorrt"))]
fn tensorrt(
    _bundle: &Bundle,
    _entry: &ModelEntry,
    _o: &TensorRtOptions,
) -> Result<(Vec<ExecutionProviderDispatch>, &'static str), OpenError> {
    Err(OpenError::NotBuilt {
        feature: "tensorrt",
    })
}

impl Backend for OrtBackend {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn provider(&self) -> &str {
        self.provider
    }

    fn precision(&self) -> Precision {
        self.loaded.precision
    }

    fn model(&self) -> &str {
        &self.loaded.model
    }

    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        InferError::check_input(&self.loaded.shape, input)?;
        match self.memory {
            ClipMemory::Host => self.input.extract_tensor_mut().1.copy_from_slice(input),
            ClipMemory::Cuda(_) => self.copy_to_device(input)?,
        }
        self.run_bound()
    }

    fn input_memory(&self) -> ClipMemory {
        self.memory
    }

    fn device_input(&mut self) -> Option<DeviceClip> {
        match self.memory {
            ClipMemory::Host => None,
            ClipMemory::Cuda(device) => Some(DeviceClip {
                device,
                ptr: self.input.data_ptr_mut() as u64,
                len: self.loaded.shape.iter().product(),
            }),
        }
    }

    fn run_device(&mut self) -> Result<&Outputs, InferError> {
        match self.memory {
            ClipMemory::Host => Err(InferError::NoDeviceInput(self.kind)),
            ClipMemory::Cuda(_) => self.run_bound(),
        }
    }

    fn outputs(&self) -> &Outputs {
        &self.out
    }

    fn max_batch(&self) -> usize {
        self.loaded.max_batch
    }

    fn device_batch_input(&mut self, clips: usize) -> Option<DeviceClip> {
        let ClipMemory::Cuda(device) = self.memory else {
            return None;
        };
        if !(2..=self.loaded.max_batch).contains(&clips) {
            return None;
        }
        match self.batch(clips, true) {
            Ok(at) => Some(DeviceClip {
                device,
                ptr: self.batches[at].input.data_ptr_mut() as u64,
                len: clips * self.loaded.shape.iter().product::<usize>(),
            }),
            Err(e) => {
                log::warn!("{e}; the clips run one at a time");
                None
            }
        }
    }

    fn run_device_batch(&mut self, outputs: &mut [Outputs]) -> Result<(), InferError> {
        let memory = self.memory;
        let at = self
            .batches
            .iter()
            .position(|b| b.clips == outputs.len() && b.memory == memory)
            .filter(|_| memory != ClipMemory::Host)
            .ok_or(InferError::NoDeviceInput(self.kind))?;
        self.run_batch_at(at, outputs)
    }

    /// Runs the clips `max_batch` at a time, a lone clip as [`Backend::run`] does.
    fn run_batch(&mut self, inputs: &[&[f32]], outputs: &mut [Outputs]) -> Result<(), InferError> {
        InferError::check_batch(inputs, outputs)?;
        let max = self.loaded.max_batch.max(1);
        for (inputs, outputs) in inputs.chunks(max).zip(outputs.chunks_mut(max)) {
            if let [input] = inputs {
                outputs[0].clone_from(self.run(input)?);
            } else {
                self.run_together(inputs, outputs)?;
            }
        }
        Ok(())
    }

    /// A CPU session replicates: a second session of the same bytes whose
    /// prepacked weights are this one's. A GPU session runs one clip at a
    /// time on its device input.
    fn replicate(&self, threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
        if self.kind != BackendKind::OrtCpu {
            return Ok(None);
        }
        let replica = OrtBackend::session(
            Arc::clone(&self.loaded),
            self.kind,
            CPU,
            vec![cpu()],
            threads,
        )
        .map_err(|message| InferError::Run {
            backend: self.kind,
            message: format!("cannot open a second session: {message}"),
        })?;
        Ok(Some(Box::new(replica)))
    }
}

impl OrtBackend {
    /// Copies a host clip into the device input.
    #[cfg(feature = "cuda")]
    fn copy_to_device(&mut self, input: &[f32]) -> Result<(), InferError> {
        let kind = self.kind;
        ort::value::TensorRef::from_array_view((self.loaded.shape, input))
            .and_then(|host| host.copy_into(&mut self.input))
            .map_err(|e| InferError::Run {
                backend: kind,
                message: format!("cannot copy the clip to the device: {e}"),
            })
    }

    /// Without `cuda` the input is always in host memory.
    #[cfg(not(feature = "cuda"))]
    fn copy_to_device(&mut self, _input: &[f32]) -> Result<(), InferError> {
        Err(InferError::NoDeviceInput(self.kind))
    }
}
