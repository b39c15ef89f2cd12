//! tract backend: pure Rust, no native library.
//!
//! The plan is tract's optimised one; the matrix products run on a rayon
//! pool of the configured size, with the calling thread one of its workers
//! (`pool.install`), and the state is spawned once and reused. A replica
//! shares the optimised graph (and its weights) and has a pool of its own:
//! tract's kernels keep per-thread scratch space, so two runs must never
//! share a worker.

use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::backend::{Backend, BackendKind, InferError, Outputs, Precision};
use crate::bundle::{Bundle, ModelEntry};
use crate::chain::OpenError;

type PlanState = TypedSimpleState;

/// A model on tract.
pub struct TractBackend {
    precision: Precision,
    model: String,
    graph: Arc<TypedModel>,
    pool: Arc<rayon::ThreadPool>,
    state: PlanState,
    shape: [usize; 5],
    logits_at: usize,
    attn_at: usize,
    out: Outputs,
}

impl TractBackend {
    /// Loads `entry` of `bundle` with `threads` threads.
    pub fn open(
        bundle: &Bundle,
        entry: &ModelEntry,
        threads: usize,
    ) -> Result<TractBackend, OpenError> {
        let bytes = bundle.model_bytes(entry)?;
        let fail = |e: TractError| OpenError::Runtime(format!("tract on {}: {e:#}", entry.path));
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(fail)?;
        let names: Vec<String> = proto
            .graph
            .as_ref()
            .map(|g| g.output.iter().map(|o| o.name.clone()).collect())
            .unwrap_or_default();
        let position = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| OpenError::Runtime(format!("{} has no output `{name}`", entry.path)))
        };
        let logits_at = position("logits")?;
        let attn_at = position("region_attn")?;
        let shape = bundle.input.clip_shape();
        let model = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
            .and_then(|m| m.into_optimized())
            .map_err(fail)?;
        let graph = Arc::new(model);
        let (pool, state) = runner(&graph, threads).map_err(fail)?;
        Ok(TractBackend {
            precision: entry.precision,
            model: entry.path.clone(),
            graph,
            pool,
            state,
            shape,
            logits_at,
            attn_at,
            out: bundle.outputs(),
        })
    }
}

impl Backend for TractBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Tract
    }

    fn provider(&self) -> &str {
        "tract"
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn run(&mut self, input: &[f32]) -> Result<&Outputs, InferError> {
        InferError::check_input(&self.shape, input)?;
        let fail = |e: TractError| InferError::Run {
            backend: BackendKind::Tract,
            message: format!("{e:#}"),
        };
        let tensor = Tensor::from_shape(&self.shape, input).map_err(fail)?;
        let state = &mut self.state;
        let outputs = self
            .pool
            .install(|| state.run(tvec!(tensor.into_tvalue())))
            .map_err(fail)?;
        let view = |i: usize| {
            outputs
                .get(i)
                .ok_or_else(|| {
                    InferError::Output(format!("tract returned {} outputs", outputs.len()))
                })
                .and_then(|t| {
                    t.try_as_plain_ram()
                        .and_then(|v| v.as_slice::<f32>())
                        .map_err(|e| InferError::Output(format!("output {i}: {e}")))
                })
        };
        self.out.fill(view(self.logits_at)?, view(self.attn_at)?)?;
        Ok(&self.out)
    }

    fn outputs(&self) -> &Outputs {
        &self.out
    }

    /// A replica runs the same optimised graph on a pool of its own.
    fn replicate(&self, threads: usize) -> Result<Option<Box<dyn Backend>>, InferError> {
        let (pool, state) = runner(&self.graph, threads).map_err(|e| InferError::Run {
            backend: BackendKind::Tract,
            message: format!("cannot start a second runner: {e:#}"),
        })?;
        Ok(Some(Box::new(TractBackend {
            precision: self.precision,
            model: self.model.clone(),
            graph: Arc::clone(&self.graph),
            pool,
            state,
            shape: self.shape,
            logits_at: self.logits_at,
            attn_at: self.attn_at,
            out: self.out.clone(),
        })))
    }
}

/// A pool of `threads` workers and a plan of `graph` whose matrix products
/// run on it, with its state.
fn runner(
    graph: &Arc<TypedModel>,
    threads: usize,
) -> TractResult<(Arc<rayon::ThreadPool>, PlanState)> {
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("artrt-tract-{i}"))
            .build()?,
    );
    let options = RunOptions {
        executor: Some(tract_linalg::multithread::Executor::MultiThread(
            pool.clone(),
        )),
        ..Default::default()
    };
    let plan = TypedSimplePlan::new_with_options(Arc::clone(graph), &options)?;
    Ok((pool, plan.spawn()?))
}
