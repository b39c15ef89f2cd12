//! `artrt`: the command line of the ART edge runtime.

mod cmd;

use clap::{Parser, Subcommand};

/// Edge runtime for fine-grained action recognition with ART.
#[derive(Parser)]
#[command(name = "artrt", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic fine-grained gym clip set.
    #[cfg(feature = "synthetic")]
    Synth(cmd::synth::Args),
    /// Classify one clip and print JSON.
    Infer(cmd::infer::Args),
    /// Measure a bundle's accuracy on a clip set.
    Eval(cmd::eval::Args),
    /// Time every stage and backend in one run.
    Bench(cmd::bench::Args),
    /// The live job: camera to scoreboard.
    Run(cmd::run::Args),
    /// Record a camera's frames, as captured, for labelling and offline checks.
    Record(cmd::record::Args),
    /// Label a recording in the browser, on a page served on 127.0.0.1.
    Label(cmd::label::Args),
    /// Cut a clip set from a labelled recording.
    Cut(cmd::cut::Args),
    /// Measure event precision, recall and latency on the synthetic stream.
    #[cfg(feature = "synthetic")]
    EvalStream(cmd::eval_stream::Args),
    /// Choose decision settings for a bundle on the synthetic stream.
    #[cfg(feature = "synthetic")]
    TuneDecision(cmd::tune_decision::Args),
    /// Reference scoreboard emulator for ARTS/1.
    ScoreboardSim(cmd::scoreboard_sim::Args),
    /// Check what this machine can run with a board profile.
    Doctor(cmd::doctor::Args),
    /// Build the TensorRT engines of a board profile ahead of the first run.
    Prepare(cmd::prepare::Args),
}

fn main() -> anyhow::Result<()> {
    // Rust ignores SIGPIPE, so printing into a closed pipe would panic; with
    // the default action restored, `artrt infer ... | head -c 100` ends
    // quietly, as any command-line tool does.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match Cli::parse().command {
        #[cfg(feature = "synthetic")]
        Command::Synth(a) => cmd::synth::run(a),
        Command::Infer(a) => cmd::infer::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Record(a) => cmd::record::run(a),
        Command::Label(a) => cmd::label::run(a),
        Command::Cut(a) => cmd::cut::run(a),
        #[cfg(feature = "synthetic")]
        Command::EvalStream(a) => cmd::eval_stream::run(a),
        #[cfg(feature = "synthetic")]
        Command::TuneDecision(a) => cmd::tune_decision::run(a),
        Command::ScoreboardSim(a) => cmd::scoreboard_sim::run(a),
        Command::Doctor(a) => cmd::doctor::run(a),
        Command::Prepare(a) => cmd::prepare::run(a),
    }
}
