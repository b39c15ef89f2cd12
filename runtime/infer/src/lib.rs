//! ART model bundles, preprocessing and inference backends.
//!
//! - [`Bundle::load`] reads and validates a model bundle.
//! - [`Preprocessor`] turns camera frames ([`FrameRef`]) into the model's
//!   normalised clip tensor without allocating per frame.
//! - [`Backend`] is the inference boundary, implemented by ONNX Runtime
//!   ([`OrtBackend`]: TensorRT, CUDA, CPU) and tract ([`TractBackend`]);
//!   [`Failover`] picks one (`auto`: TensorRT, CUDA, ONNX Runtime CPU,
//!   tract), refuses a backend that fails the golden self-test, and moves on
//!   when a run fails.
//!
//! ```no_run
//! use std::sync::Arc;
//! use artrt_infer::{Backend, BackendConfig, BackendKind, Bundle, Failover, Precision, Preprocessor};
//!
//! let bundle = Arc::new(Bundle::load("art-tiny-gym")?);
//! let mut pre = Preprocessor::new(&bundle.input);
//! let mut backend = Failover::open(bundle.clone(), &BackendKind::ALL, Precision::Fp32, BackendConfig::default())?;
//! let mut clip = vec![0.0; pre.clip_len()];
//! # let frames: Vec<artrt_infer::FrameRef> = Vec::new();
//! pre.clip_into(&frames, &mut clip)?;
//! let logits = backend.run(&clip)?.logits.clone();
//! println!("{} via {}: {:?}", backend.kind(), backend.provider(), logits);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backend;
pub mod bundle;
pub mod chain;
pub mod color;
pub mod engine_cache;
pub mod frame;
pub mod gpu;
pub mod install;
pub mod nvidia;
pub mod onnx_io;
pub mod ort_backend;
pub mod postprocess;
pub mod preprocess;
pub mod region;
mod resample;
pub mod tract_backend;

pub use ndarray;

pub use backend::{
    Backend, BackendChoice, BackendKind, ClipMemory, DeviceClip, InferError, Outputs, Precision,
    UnknownBackend,
};
pub use bundle::{Bundle, BundleError, InputSpec};
pub use chain::{
    BackendConfig, ChainError, Failover, OpenError, Refusal, SelfTest, open_backend,
    open_unchecked, self_test,
};
pub use frame::{FrameRef, PixelFormat};
pub use ort_backend::{
    OrtBackend, OrtConfig, OrtInfo, OrtLibError, TensorRtOptions, find_library, library_info,
};
pub use preprocess::{PreprocessError, Preprocessor};
pub use tract_backend::TractBackend;
