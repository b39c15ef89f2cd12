//! ONNX Runtime backends (TensorRT, CUDA, CPU), with the library loaded at
//! run time (`ort`'s `load-dynamic`).
//!
//! Execution providers are registered with `error_on_failure`, so a provider
//! that cannot start is an error here instead of a silent CPU fallback, and
//! [`Backend::provider`] names the provider that was registered and runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use crate::backend::{Backend, BackendKind, InferError, Outputs, Precision};
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
    /// Nothing configured and no project virtual environment found.
    #[error(
        "no ONNX Runtime library found: pass --ort-lib, set ORT_DYLIB_PATH, name one in the board profile, \
         or run `bash runtime/setup.sh` to create .venv with the onnxruntime wheel (searched: {searched})"
    )]
    NotFound {
        /// The virtual environments looked at.
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
/// then the board profile's path, then the onnxruntime wheel in the nearest
/// `.venv` above the executable, then above the current directory.
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

/// A model on ONNX Runtime with one execution provider.
pub struct OrtBackend {
    kind: BackendKind,
    provider: &'static str,
    precision: Precision,
    model: String,
    session: Session,
    shape: [usize; 5],
    out: Outputs,
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
        let bytes = bundle.model_bytes(entry)?;
        let ort_err = |e: String| {
            OpenError::Runtime(format!("ONNX Runtime ({provider}) on {}: {e}", entry.path))
        };
        let session = Session::builder(&env)
            .map_err(|e| ort_err(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| ort_err(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| ort_err(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| ort_err(e.to_string()))?
            .with_execution_providers(eps)
            .map_err(|e| ort_err(format!("cannot register {provider}: {e}")))?
            .commit_from_memory(&bytes)
            .map_err(|e| ort_err(e.to_string()))?;
        let spec = &bundle.input;
        let attn =
            spec.frames * bundle.model.tracklets * bundle.model.grid[0] * bundle.model.grid[1];
        Ok(OrtBackend {
            kind,
            provider,
            precision: entry.precision,
            model: entry.path.clone(),
            session,
            shape: spec.clip_shape(),
            out: Outputs::with_sizes(bundle.labels().len(), attn),
        })
    }
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
        BackendKind::OrtCpu => Ok((
            vec![ort::ep::CPU::default().build().error_on_failure()],
            "CPUExecutionProvider",
        )),
        BackendKind::Trt => tensorrt(bundle, entry, &config.tensorrt),
        BackendKind::Cuda => {
            cuda(config.tensorrt.device_id).map(|ep| (vec![ep], "CUDAExecutionProvider"))
        }
        BackendKind::Tract => Err(OpenError::Runtime(
            "tract is not an ONNX Runtime provider".into(),
        )),
    }
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
fn tensorrt(
    bundle: &Bundle,
    entry: &ModelEntry,
    o: &TensorRtOptions,
) -> Result<(Vec<ExecutionProviderDispatch>, &'static str), OpenError> {
    std::fs::create_dir_all(&o.cache_dir).map_err(|e| {
        OpenError::Runtime(format!(
            "cannot create the TensorRT cache directory {}: {e}",
            o.cache_dir.display()
        ))
    })?;
    let dir = o.cache_dir.display().to_string();
    // Engines depend on the exact model: a new file gets a new cache prefix.
    let digest = bundle
        .sha256
        .get(&entry.path)
        .map_or("", |d| &d[..d.len().min(16)]);
    let stem = entry
        .path
        .trim_end_matches(".onnx")
        .replace(['.', '/'], "-");
    let mut trt = ort::ep::TensorRT::default()
        .with_device_id(o.device_id)
        .with_int8(o.int8)
        .with_fp16(o.fp16)
        .with_max_workspace_size(o.workspace_bytes)
        .with_builder_optimization_level(o.builder_optimization_level)
        .with_engine_cache(true)
        .with_engine_cache_path(&dir)
        .with_engine_cache_prefix(format!("{stem}-{digest}"))
        .with_timing_cache(true)
        .with_timing_cache_path(&dir);
    if let Some(core) = o.dla_core {
        trt = trt.with_dla(true).with_dla_core(core);
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
        self.precision
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        InferError::check_input(&self.shape, input)?;
        let kind = self.kind;
        let fail = |e: ort::Error| InferError::Run {
            backend: kind,
            message: e.to_string(),
        };
        let tensor = TensorRef::from_array_view((self.shape, input)).map_err(fail)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(fail)?;
        let get = |name: &str| {
            outputs
                .get(name)
                .ok_or_else(|| InferError::Output(format!("no output `{name}`")))
                .and_then(|v| {
                    v.try_extract_tensor::<f32>()
                        .map(|(_, d)| d)
                        .map_err(|e| InferError::Output(format!("`{name}`: {e}")))
                })
        };
        let logits = get("logits")?;
        let attn = get("region_attn")?;
        self.out.fill(logits, attn)?;
        Ok(&self.out)
    }

    fn outputs(&self) -> &Outputs {
        &self.out
    }
}
