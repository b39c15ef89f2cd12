//! `artrt scoreboard-sim`: the reference ARTS/1 scoreboard on a serial port.
//!
//! Every accepted sentence goes to stdout as one JSON line, for example
//! `{"type":"ARTEV","seq":17,"class_id":3,"label":"salto backward tucked","conf":912,"t_ms":845210}`;
//! dropped sentences are counted and logged with the reason; the panel is
//! drawn to the terminal (stderr) and, with `--png`, to a PNG file on every
//! change. SIGINT, SIGTERM and SIGHUP stop it with its summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use artrt_live::scoreboard::serial;
use artrt_live::scoreboard::{MAX_BAUD, MIN_BAUD};
use artrt_tools::emulator::{self, Board, Observer, Outcome, to_json};
use artrt_tools::panel::{self, PANEL_HEIGHT};
use log::{info, warn};

use super::common::{duration, stop_on_signals};

/// Arguments of `artrt scoreboard-sim`.
#[derive(clap::Args)]
pub struct Args {
    /// Serial port to read ARTS/1 from (a USB adapter, or one end of a pseudo-terminal pair).
    #[arg(long)]
    port: String,
    /// Baud rate (8N1, no flow control).
    #[arg(long, default_value_t = 115_200, value_parser = clap::value_parser!(u32).range(MIN_BAUD as i64..=MAX_BAUD as i64))]
    baud: u32,
    /// Acknowledged mode: answer ARTEV/ARTCL with ARTAK, and send ARTRQ on start.
    #[arg(long)]
    ack: bool,
    /// Write the panel as PNG to this file on every change.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Do not draw the panel on the terminal.
    #[arg(long)]
    no_panel: bool,
}

/// Runs `artrt scoreboard-sim`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let deadline = args.duration.map(|d| Instant::now() + d);
    let port = serial::open(&args.port, args.baud).with_context(|| {
        format!(
            "cannot open scoreboard port {} at {} baud",
            args.port, args.baud
        )
    })?;
    info!(
        "scoreboard-sim on {} at {} baud{}",
        args.port,
        args.baud,
        if args.ack { ", acknowledged mode" } else { "" }
    );
    let board = Mutex::new(Board::new(args.ack));
    let mut view = View {
        png: args.png.clone(),
        terminal: !args.no_panel,
        drawn: false,
        drops: 0,
    };
    view.show(&board.lock().unwrap_or_else(|e| e.into_inner()))?;
    let stop = stop_on_signals()?;
    std::thread::scope(|scope| {
        if let Some(deadline) = deadline {
            let stop = &stop;
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if Instant::now() >= deadline {
                        stop.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        emulator::serve_reconnecting(&args.port, args.baud, port, &board, &stop, &mut view);
        stop.store(true, Ordering::Relaxed);
    });
    let board = board.lock().unwrap_or_else(|e| e.into_inner());
    let s = board.stats();
    info!(
        "scoreboard-sim: {} accepted, {} dropped, {} shown, {} repeats, {} heartbeats",
        s.accepted, s.dropped, s.shown, s.repeats, s.heartbeats
    );
    Ok(())
}

/// Prints sentences and draws the panel.
struct View {
    png: Option<PathBuf>,
    terminal: bool,
    drawn: bool,
    drops: u64,
}

impl View {
    fn show(&mut self, board: &Board) -> anyhow::Result<()> {
        let frame = board.panel().render();
        if self.terminal {
            let mut err = std::io::stderr().lock();
            // Redraw in place on a terminal; a log file gets every frame.
            if self.drawn && err.is_terminal() {
                write!(err, "\x1b[{}A", PANEL_HEIGHT / 2 + 2)?;
            }
            writeln!(err, "{}", panel::to_blocks(&frame))?;
            self.drawn = true;
        }
        if let Some(path) = &self.png {
            panel::save_png(&frame, path)?;
        }
        Ok(())
    }
}

impl Observer for View {
    fn outcome(&mut self, board: &Board, outcome: &Outcome) {
        match &outcome.received {
            Ok(sentence) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", to_json(sentence)).and_then(|()| out.flush());
            }
            Err(reason) => {
                self.drops += 1;
                warn!(
                    "dropped sentence ({} so far, {} accepted): {reason}",
                    self.drops,
                    board.stats().accepted
                );
            }
        }
    }

    fn panel_changed(&mut self, board: &Board) {
        if let Err(e) = self.show(board) {
            warn!("{e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_a_pty_acknowledges_and_writes_the_panel() {
        use artrt_live::scoreboard::serial::{SerialPort, TTYPort};
        use std::io::Read;

        let (mut master, device_end) = TTYPort::pair().unwrap();
        let path = device_end.name().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("panel.png");
        let args = Args {
            port: path,
            baud: 9600,
            ack: true,
            png: Some(png.clone()),
            duration: Some(Duration::from_millis(1500)),
            no_panel: true,
        };
        let sim = std::thread::spawn(move || run(args));
        // The board greets with ARTRQ, then acknowledges the event.
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let start = Instant::now();
        while !got.ends_with(b"$ARTRQ*9261\r\n") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no ARTRQ: {got:?}"
            );
            if let Ok(n) = master.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        let mut wire = b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n".to_vec();
        wire.extend_from_slice(b"$ARTEV,17,3,damaged*0000\r\n");
        master.write_all(&wire).unwrap();
        got.clear();
        while !got.ends_with(b"$ARTAK,17*3471\r\n") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no ARTAK: {got:?}"
            );
            if let Ok(n) = master.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        sim.join().unwrap().unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        // IHDR: width and height, big-endian, right after the signature and chunk header.
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(width, panel::PANEL_WIDTH as u32 * panel::PNG_SCALE);
        drop(device_end);
    }

    #[test]
    fn a_missing_port_is_an_error_naming_it() {
        let args = Args {
            port: "/nonexistent/tty".into(),
            baud: 9600,
            ack: false,
            png: None,
            duration: Some(Duration::from_millis(100)),
            no_panel: true,
        };
        let err = run(args).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/tty"), "{err:#}");
    }
}
