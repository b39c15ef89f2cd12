//! `artrt run`: the live job, camera to scoreboard.
//!
//! Settings come from a board profile (`--board`, or the one that fits this
//! machine); every option given on the command line overrides the profile.
//! Events go to the scoreboard over ARTS/1 and, as JSON lines, to `--events`
//! (standard output by default). SIGINT and SIGTERM stop the run cleanly: the
//! last clip is finished, the scoreboard link flushes what it owes, and a
//! summary is logged.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use artrt_infer::{
    Backend, BackendChoice, BackendConfig, BackendKind, Bundle, Failover, OrtConfig, Precision,
    Preprocessor, open_backend,
};
use artrt_live::board::{Profile, ScoreboardPort};
use artrt_live::jsonl::JsonLines;
use artrt_live::pipeline::{self, PipelineConfig};
use artrt_live::scoreboard::{Link, LinkConfig, emulator, panel};
use artrt_live::sink::{EventSink, Fanout, Health, Status, boxed};
use artrt_live::source::{self, Pacing, SourceOptions, SourceSpec};

use super::infer::load_bundle;

/// Arguments of `artrt run`.
#[derive(clap::Args)]
pub struct Args {
    /// Board profile: a built-in name (jetson-orin-nano, jetson-orin-nx, jetson-agx-orin,
    /// jetson-xavier-nx, x86-64-cpu) or a TOML file. Default: the profile that fits this machine.
    #[arg(long)]
    board: Option<String>,
    /// Model bundle directory (overrides the profile).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Frame source: v4l2:/dev/videoN, synthetic[:SEED] or frames:DIR (overrides the profile).
    #[arg(long)]
    source: Option<SourceSpec>,
    /// Scoreboard: a serial device path, `emulator` (built in, on a pseudo-terminal pair) or `none`.
    #[arg(long)]
    scoreboard: Option<String>,
    /// Scoreboard baud rate (overrides the profile).
    #[arg(long)]
    baud: Option<u32>,
    /// Acknowledged mode on the scoreboard line: true or false (overrides the profile).
    #[arg(long)]
    ack: Option<bool>,
    /// Write events as JSON lines to this file (`-`: standard output, the default).
    #[arg(long, default_value = "-")]
    events: String,
    /// Stop after this many seconds (default: run until SIGINT or SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Backend: auto (the profile's order) or exactly one of trt, cuda, ort-cpu, tract.
    #[arg(long)]
    backend: Option<BackendChoice>,
    /// Model precision (default: int8 when TensorRT is first in line, fp32 otherwise).
    #[arg(long)]
    precision: Option<Precision>,
    /// CPU threads for inference (overrides the profile).
    #[arg(long)]
    threads: Option<usize>,
    /// ONNX Runtime shared library (overrides ORT_DYLIB_PATH and the profile).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
    /// Source frames a clip spans (overrides the profile).
    #[arg(long)]
    window: Option<usize>,
    /// Source frames between two clips (overrides the profile).
    #[arg(long)]
    hop: Option<usize>,
    /// Replay synthetic or recorded frames as fast as possible instead of in real time.
    #[arg(long)]
    fast: bool,
    /// Do not draw the built-in emulator's panel on the terminal.
    #[arg(long)]
    no_panel: bool,
}

/// Runs `artrt run`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut profile = match &args.board {
        Some(name) => {
            Profile::load(name).with_context(|| format!("cannot use board profile {name}"))?
        }
        None => Profile::detect().context("cannot pick a board profile for this machine")?,
    };
    apply_overrides(&mut profile, &args)?;
    log::info!("board profile {}: {}", profile.name, profile.description);

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    if let Some(seconds) = args.duration {
        if !(seconds.is_finite() && seconds >= 0.0) {
            bail!("--duration {seconds} is not a number of seconds");
        }
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(seconds));
            stop.store(true, Ordering::SeqCst);
        });
    }

    let mut sinks = Fanout::default();
    let events: Box<dyn Write + Send> = if args.events == "-" {
        Box::new(std::io::stdout())
    } else {
        let path = Path::new(&args.events);
        Box::new(BufWriter::new(File::create(path).with_context(|| {
            format!("cannot create event log {}", path.display())
        })?))
    };
    sinks.push("event log", boxed(JsonLines::new(events, false)));

    let emulator = match profile.scoreboard_port() {
        ScoreboardPort::Emulator => {
            let emu = emulator::spawn_pty(profile.scoreboard.acknowledged)
                .context("cannot start the built-in scoreboard emulator")?;
            log::info!("built-in scoreboard emulator on {}", emu.path());
            Some(emu)
        }
        _ => None,
    };
    let link_port = match (profile.scoreboard_port(), &emulator) {
        (ScoreboardPort::Device(path), _) => Some(path.display().to_string()),
        (ScoreboardPort::Emulator, Some(emu)) => Some(emu.path().to_string()),
        _ => None,
    };
    let link =
        match link_port {
            Some(port) => {
                let config = LinkConfig {
                    port,
                    ..profile.scoreboard.clone()
                };
                Some(Link::spawn(config.clone()).with_context(|| {
                    format!("cannot start the scoreboard link on {}", config.port)
                })?)
            }
            None => None,
        };
    let panel_thread = match (&emulator, args.no_panel) {
        (Some(emu), false) => {
            let changes = emu.changes().clone();
            let terminal = std::io::stderr().is_terminal();
            Some(std::thread::spawn(move || {
                for state in changes.iter() {
                    let text = panel::to_blocks(&state.render());
                    let mut err = std::io::stderr().lock();
                    if terminal {
                        let _ = write!(err, "\x1b[2J\x1b[H");
                    }
                    let _ = writeln!(err, "{}\n{text}", state.device_line());
                }
            }))
        }
        _ => None,
    };
    if let Some(link) = link {
        sinks.push("scoreboard", boxed(link));
    }

    let outcome = serve(&profile, &args, &mut sinks, &stop);
    drop(sinks);
    if let Some(emu) = emulator {
        let shown = emu.history();
        let actions = shown.iter().filter(|s| s.action.is_some()).count();
        log::info!(
            "the scoreboard showed {actions} actions and {} clears",
            shown.len() - actions
        );
        emu.stop();
    }
    if let Some(handle) = panel_thread {
        let _ = handle.join();
    }
    outcome
}

/// Loads the model and runs the pipeline. Without a usable model (a missing
/// or damaged bundle, no backend that passes its self-test) the runtime stays
/// up: it reports NOMODEL on every heartbeat and tries again every 10 s, so a
/// repaired bundle is picked up without a restart.
fn serve(
    profile: &Profile,
    args: &Args,
    sinks: &mut Fanout,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let inference = &profile.inference;
    let choice = args.backend.unwrap_or(BackendChoice::Auto);
    let order: Vec<BackendKind> = match choice {
        BackendChoice::Auto => inference.backends.clone(),
        BackendChoice::Only(kind) => vec![kind],
    };
    let precision = args
        .precision
        .unwrap_or(if order.first() == Some(&BackendKind::Trt) {
            Precision::Int8
        } else {
            Precision::Fp32
        });
    let config = BackendConfig {
        threads: inference.threads,
        ort: OrtConfig {
            lib: args.ort_lib.clone(),
            profile_lib: inference.ort_library.clone(),
            tensorrt: inference.tensorrt.clone(),
        },
    };
    let started = Instant::now();
    let preferred = order.first().copied().unwrap_or(BackendKind::Tract);
    let heartbeat = Duration::from_millis(profile.scoreboard.heartbeat_interval_ms);
    let mut next_try = Instant::now();
    let (bundle, mut chain) = loop {
        if stop.load(Ordering::SeqCst) {
            log::info!(
                "stopped after {:.1} s without a usable model",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        // Before each attempt, so that the scoreboard hears from the device
        // while a model loads (a TensorRT engine build can take minutes).
        let health = Health {
            uptime_s: started.elapsed().as_secs() as u32,
            fps: 0.0,
            backend: preferred.as_str(),
            status: Status::NoModel,
        };
        let _ = sinks.health(&health);
        if Instant::now() >= next_try {
            match load_bundle(&inference.bundle)
                .and_then(|b| open_chain(&b, &order, precision, &config).map(|c| (b, c)))
            {
                Ok(ready) => break ready,
                Err(e) => log::error!("no usable model, retrying in 10 s: {e:#}"),
            }
            next_try = Instant::now() + Duration::from_secs(10);
        }
        let wait = Instant::now() + heartbeat;
        while Instant::now() < wait && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    log::info!(
        "serving {} on {} ({}), {}",
        bundle.model.name,
        chain.kind(),
        chain.provider(),
        chain.precision()
    );

    let options = SourceOptions {
        format: profile.camera.format,
        width: profile.camera.width,
        height: profile.camera.height,
        fps: profile.camera.fps,
        pacing: if args.fast {
            Pacing::Fast
        } else {
            Pacing::RealTime
        },
        ..SourceOptions::default()
    };
    let mut source = source::open(&profile.camera.source, &options)
        .with_context(|| format!("cannot open frame source {}", profile.camera.source))?;
    log::info!("frames from {}", source.describe());

    let mut preprocessor = Preprocessor::new(&bundle.input);
    let config = PipelineConfig {
        window: profile.clip.window,
        hop: profile.clip.hop,
        frames: bundle.input.frames,
        decision: profile.decision.clone(),
        background: bundle.background(),
        heartbeat,
        preferred,
        started,
        realtime: !args.fast,
        max_frames: None,
    };
    let mut serving = Serving(&mut chain);
    let stats = pipeline::run(
        source.as_mut(),
        &mut preprocessor,
        &mut serving,
        sinks,
        bundle.labels(),
        &config,
        stop,
    )?;
    log::info!(
        "stopped after {:.1} s: {} frames, {} clips ({} dropped, {} failed), {} actions, inference p50 {:.1} ms",
        started.elapsed().as_secs_f64(),
        stats.frames,
        stats.clips,
        stats.dropped_clips,
        stats.failed_clips,
        stats.actions,
        stats.inference_p50_us as f64 / 1000.0
    );
    Ok(())
}

/// Opens the first backend of `order` that loads and passes its golden
/// self-test, with the rest of `order` behind it for failover.
pub fn open_chain(
    bundle: &Arc<Bundle>,
    order: &[BackendKind],
    precision: Precision,
    config: &BackendConfig,
) -> anyhow::Result<Failover> {
    let mut refusals = Vec::new();
    for (i, &kind) in order.iter().enumerate() {
        match open_backend(bundle, kind, precision, config) {
            Ok((backend, test)) => {
                log::info!(
                    "{kind}: golden self-test passed (max |logit diff| {:.2e}, tolerance {:.0e})",
                    test.max_logit_diff,
                    test.atol
                );
                return Ok(Failover::with_first(
                    Arc::clone(bundle),
                    backend,
                    &order[i + 1..],
                    config.clone(),
                ));
            }
            Err(e) => {
                log::warn!("{kind} refused: {e}");
                refusals.push(format!("{kind}: {e}"));
            }
        }
    }
    bail!(
        "no backend could serve {precision}: {}",
        refusals.join("; ")
    )
}

/// The failover chain seen through the inference boundary.
pub struct Serving<'a>(pub &'a mut Failover);

impl Backend for Serving<'_> {
    fn kind(&self) -> BackendKind {
        self.0.kind()
    }
    fn provider(&self) -> &str {
        self.0.provider()
    }
    fn precision(&self) -> Precision {
        self.0.precision()
    }
    fn model(&self) -> &str {
        self.0.backend().model()
    }
    fn run(&mut self, input: &[f32]) -> Result<&artrt_infer::Outputs, artrt_infer::InferError> {
        self.0.run(input)
    }
    fn outputs(&self) -> &artrt_infer::Outputs {
        self.0.backend().outputs()
    }
}

/// Applies the command line over the profile and validates the result.
fn apply_overrides(profile: &mut Profile, args: &Args) -> anyhow::Result<()> {
    if let Some(bundle) = &args.bundle {
        profile.inference.bundle = bundle.clone();
    }
    if let Some(spec) = &args.source {
        profile.camera.source = spec.clone();
    }
    if let Some(port) = &args.scoreboard {
        profile.scoreboard.port = port.clone();
    }
    if let Some(baud) = args.baud {
        profile.scoreboard.baud = baud;
    }
    if let Some(ack) = args.ack {
        profile.scoreboard.acknowledged = ack;
    }
    if let Some(threads) = args.threads {
        profile.inference.threads = threads;
    }
    if let Some(window) = args.window {
        profile.clip.window = window;
    }
    if let Some(hop) = args.hop {
        profile.clip.hop = hop;
    }
    if let Err(problems) = profile.check() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        bail!(
            "the command line makes board profile {} invalid: {}",
            profile.name,
            list.join("; ")
        );
    }
    Ok(())
}
