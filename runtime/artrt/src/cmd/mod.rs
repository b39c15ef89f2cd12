//! One module per subcommand: its arguments and its entry point. No
//! subcommand imports another; what several share is in [`common`], the
//! work itself in the library crates.

pub mod bench;
pub mod common;
pub mod cut;
pub mod doctor;
pub mod eval;
#[cfg(feature = "synthetic")]
pub mod eval_stream;
pub mod infer;
pub mod label;
pub mod prepare;
pub mod record;
pub mod run;
pub mod scoreboard_sim;
#[cfg(feature = "synthetic")]
pub mod synth;
#[cfg(feature = "synthetic")]
pub mod tune_decision;
