//! The offline tools of `artrt`: what checks, tunes and measures the device
//! path of `artrt-live` without being part of it.
//!
//! - [`emulator`] and [`panel`]: the reference ARTS/1 scoreboard and what it
//!   shows, run by `artrt scoreboard-sim` or built in behind a
//!   pseudo-terminal pair for `artrt run --scoreboard emulator`.
//! - [`eval`] and [`plot`]: a bundle's accuracy on a clip set.
//! - [`cut`] and [`label`]: clip sets from a recording, and the page on
//!   which an operator labels it.
//! - [`bench`]: per-stage and per-backend timings as ratios in one run.
//! - [`scoring`] and [`tuning`]: events against ground truth, and decision
//!   settings chosen on recorded window probabilities.
//! - `stream` (feature `synthetic`): the live path on the synthetic gym
//!   stream, recorded window by window.
//!
//! Errors are `anyhow` errors with context: they are reports for the person
//! running a tool, never matched by a caller.
//!
//! ```no_run
//! use std::sync::Arc;
//! use artrt_calibration::ClipSet;
//! use artrt_infer::{BackendConfig, BackendKind, Bundle, Failover, Precision};
//!
//! let bundle = Arc::new(Bundle::load("art-tiny-gym")?);
//! let set = ClipSet::open(std::path::Path::new("out/gym/test"))?;
//! let chain = Failover::open(bundle.clone(), &BackendKind::ALL, Precision::Fp32, BackendConfig::default())?;
//! let report = artrt_tools::eval::evaluate(&bundle, &set, vec![chain], || {})?;
//! println!("top-1 {:.3}", report.runs[0].top1);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod bench;
pub mod cut;
pub mod doctor;
pub mod emulator;
pub mod eval;
pub mod label;
pub mod panel;
pub mod plot;
pub mod scoring;
#[cfg(feature = "synthetic")]
pub mod stream;
pub mod tuning;
