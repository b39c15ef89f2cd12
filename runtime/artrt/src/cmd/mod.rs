//! One module per subcommand: its arguments and its entry point.

pub mod bench;
pub mod eval;
pub mod eval_stream;
pub mod infer;
pub mod run;
pub mod scoreboard_sim;
pub mod synth;
pub mod tune_decision;
