//! `artrt run`: the live job, camera to scoreboard.
//!
//! Settings come from a board profile (`--board`, or the one that fits this
//! machine); every option given on the command line overrides the profile.
//! Events go to the scoreboard over ARTS/1 and, as JSON lines, to `--events`
//! (standard output by default). SIGINT, SIGTERM and SIGHUP stop the run
//! cleanly (a changed profile takes effect at the next start): the last clip
//! is finished, the scoreboard link flushes what it owes, and a summary is
//! logged. The device itself is `artrt_live::supervisor`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use artrt_infer::{BackendChoice, Precision};
use artrt_live::board::{Camera, Profile, ScoreboardPort};
use artrt_live::jsonl::JsonLines;
use artrt_live::message::device_name;
use artrt_live::publish::{self, PublishUrl};
use artrt_live::scoreboard::{Link, LinkConfig, LinkCounters};
use artrt_live::sink::{Fanout, boxed};
use artrt_live::source::{Pacing, SourceSpec};
use artrt_live::stage::PreprocessOn;
use artrt_live::supervisor::{self, ServeOptions, Served};
use artrt_tools::emulator::{self, Emulator};
use artrt_tools::panel;

use super::common::{duration, stop_on_signals};

/// Arguments of `artrt run`.
#[derive(clap::Args)]
pub struct Args {
    /// Board profile: a built-in name (jetson-orin-nano, jetson-orin-nx, jetson-agx-orin,
    /// jetson-xavier-nx, x86-64-cpu) or a TOML file. Default: the profile that fits this machine.
    #[arg(long)]
    board: Option<String>,
    /// Model bundle: a directory or an installed bundle's name (overrides the profile).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Frame source: v4l2:/dev/videoN, synthetic[:SEED[+new]], frames:DIR or recording:DIR
    /// (overrides the profile). Repeat it for several cameras sharing the model: the first is
    /// `[camera]`, the next ones `[[cameras]]` in order (or new cameras cam1, cam2, ...).
    #[arg(long = "source", value_name = "SOURCE")]
    sources: Vec<SourceSpec>,
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
    /// Also send events to udp://HOST:PORT, tcp://HOST:PORT, mqtt://HOST[:PORT][/PREFIX] or
    /// serve them on http://ADDR:PORT (repeatable; added to the profile's outputs.publish).
    #[arg(long = "publish", value_name = "URL")]
    publish: Vec<PublishUrl>,
    /// Stop after this many seconds (default: run until SIGINT or SIGTERM).
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Backend: auto (the profile's order) or exactly one of trt, cuda, ort-cpu, tract.
    #[arg(long)]
    backend: Option<BackendChoice>,
    /// Model precision (default: int8 when TensorRT is first in line, fp32 otherwise).
    #[arg(long)]
    precision: Option<Precision>,
    /// CPU threads for inference (overrides the profile).
    #[arg(long)]
    threads: Option<usize>,
    /// Where frames are preprocessed: auto (on the GPU when trt or cuda serves), cpu or gpu
    /// (overrides the profile).
    #[arg(long)]
    preprocess: Option<PreprocessOn>,
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

    let stop = stop_on_signals()?;
    if let Some(duration) = args.duration {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            stop.store(true, Ordering::SeqCst);
        });
    }

    let mut sinks = Fanout::default();
    sinks.push(
        "event log",
        boxed(JsonLines::new(event_log(&args.events)?, false)),
    );
    let mut boards = Vec::new();
    for camera in profile.all_cameras() {
        if let Some(board) = scoreboard_for(&camera, &profile, &mut sinks)? {
            boards.push(board);
        }
    }
    let device = device_name();
    for url in &profile.outputs.publish {
        let output = publish::open(url, &device, sinks.latencies())
            .with_context(|| format!("cannot start output {url}"))?;
        log::info!("events also to {url}");
        sinks.push(url.to_string(), output);
    }
    let latencies = sinks.latencies();
    let panel_thread = boards
        .iter()
        .find_map(|b| b.emulator.as_ref())
        .filter(|_| !args.no_panel)
        .map(draw_panel);

    let options = ServeOptions {
        backend: args.backend.unwrap_or_default(),
        precision: args.precision,
        ort_lib: args.ort_lib.clone(),
        pacing: if args.fast {
            Pacing::Fast
        } else {
            Pacing::RealTime
        },
        preprocess: args.preprocess,
        model_required: false,
    };
    let started = Instant::now();
    let outcome = supervisor::serve(&profile, &options, &mut sinks, &stop);
    drop(sinks);
    let elapsed = started.elapsed().as_secs_f64();
    match &outcome {
        Ok(Served::NoModel) => log::info!("stopped after {elapsed:.1} s without a usable model"),
        Ok(Served::Ran { serving, stats }) => {
            log::info!("stopped after {elapsed:.1} s, having started serving {serving}");
            for (camera, stats) in stats {
                log::info!(
                    "{camera}: {} frames, {} clips ({} dropped, {} failed), {} actions, inference p50 {:.1} ms, last on {}",
                    stats.frames,
                    stats.clips,
                    stats.dropped_clips,
                    stats.failed_clips,
                    stats.actions,
                    stats.inference_p50_us as f64 / 1000.0,
                    stats.backend.map_or("no backend", |b| b.as_str())
                );
            }
        }
        Err(_) => {}
    }
    for l in latencies.summaries() {
        log::info!(
            "event latency to {}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} events)",
            l.output,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            l.events
        );
    }
    for board in boards {
        let camera = &board.camera;
        log::info!("{camera}: scoreboard: {}", board.counters.get().elements);
        if let Some(emu) = board.emulator {
            let shown = emu.stats();
            log::info!(
                "{camera}: the scoreboard showed {} actions and {} clears",
                shown.actions,
                shown.shown - shown.actions
            );
            emu.stop();
        }
    }
    if let Some(handle) = panel_thread {
        let _ = handle.join();
    }
    outcome?;
    Ok(())
}

/// A camera's scoreboard line while the device runs.
struct Scoreboard {
    camera: String,
    counters: LinkCounters,
    emulator: Option<Emulator>,
}

/// Starts `camera`'s scoreboard line (and the built-in emulator it may
/// name) and routes the camera's events to it; `None` for no line.
fn scoreboard_for(
    camera: &Camera,
    profile: &Profile,
    sinks: &mut Fanout,
) -> anyhow::Result<Option<Scoreboard>> {
    let id = &camera.config.id;
    let (port, emulator) = match &camera.scoreboard {
        ScoreboardPort::None => return Ok(None),
        ScoreboardPort::Device(path) => (path.display().to_string(), None),
        ScoreboardPort::Emulator => {
            let emu = emulator::spawn_pty(profile.scoreboard.acknowledged)
                .with_context(|| format!("{id}: cannot start the built-in scoreboard emulator"))?;
            log::info!("{id}: built-in scoreboard emulator on {}", emu.path());
            (emu.path().to_string(), Some(emu))
        }
    };
    let config = LinkConfig {
        port,
        ..profile.scoreboard.clone()
    };
    let link = Link::spawn(config.clone())
        .with_context(|| format!("{id}: cannot start the scoreboard link on {}", config.port))?;
    let counters = link.counters();
    let name = if profile.cameras.is_empty() {
        "scoreboard".to_owned()
    } else {
        format!("scoreboard {id}")
    };
    sinks.push_for(id, name, boxed(link));
    Ok(Some(Scoreboard {
        camera: id.clone(),
        counters,
        emulator,
    }))
}

/// The event log `--events` names: standard output for `-`, else a new file.
fn event_log(name: &str) -> anyhow::Result<Box<dyn Write + Send>> {
    if name == "-" {
        return Ok(Box::new(std::io::stdout()));
    }
    let path = Path::new(name);
    let file = File::create(path)
        .with_context(|| format!("cannot create event log {}", path.display()))?;
    Ok(Box::new(BufWriter::new(file)))
}

/// Draws the built-in emulator's panel on standard error at every change.
fn draw_panel(emu: &Emulator) -> JoinHandle<()> {
    let changes = emu.changes().clone();
    let terminal = std::io::stderr().is_terminal();
    std::thread::spawn(move || {
        for state in changes.iter() {
            let text = panel::to_blocks(&state.render());
            let mut err = std::io::stderr().lock();
            if terminal {
                let _ = write!(err, "\x1b[2J\x1b[H");
            }
            let _ = writeln!(err, "{}\n{text}", state.device_line());
        }
    })
}

/// Applies the command line over the profile and validates the result.
fn apply_overrides(profile: &mut Profile, args: &Args) -> anyhow::Result<()> {
    if let Some(bundle) = &args.bundle {
        profile.inference.bundle = bundle.clone();
    }
    profile.set_sources(&args.sources);
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
    profile.outputs.publish.extend(args.publish.iter().cloned());
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
