//! The board side of ARTS/1: a reference scoreboard that accepts exactly what
//! the spec allows, acknowledges when asked, and keeps the panel state.
//!
//! [`Board`] is the protocol alone (bytes in, replies out); [`serve`] runs it
//! on a serial port; [`spawn_pty`] runs it on its own thread behind a new
//! pseudo-terminal pair, so the runtime's [`Link`](artrt_live::scoreboard::Link) can open the
//! other end as if a scoreboard were plugged in.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use artrt_live::scoreboard::serial::{self, Backoff, Received};
use arts::{DropReason, Parser, Sentence};
use crossbeam_channel::{Receiver, Sender};
use log::{debug, warn};
use serde_json::{Value, json};
use serialport::{SerialPort, TTYPort};

use crate::panel::{DeviceState, PanelState, ShownAction};

/// A heartbeat older than this marks the device line stale.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(3);
/// How many shown sentences [`Board::history`] keeps: a board that runs for
/// days keeps a bounded memory; [`BoardStats`] counts them all.
pub const HISTORY_LEN: usize = 256;

/// One `ARTEV` or `ARTCL` that changed the action line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The sentence's `seq`.
    pub seq: u16,
    /// The action shown; `None` for `ARTCL`.
    pub action: Option<ShownAction>,
}

/// Counters of what the board received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardStats {
    /// Sentences accepted.
    pub accepted: u64,
    /// Sentences dropped, all reasons together.
    pub dropped: u64,
    /// `ARTEV`/`ARTCL` shown.
    pub shown: u64,
    /// Of those, actions (`ARTEV`).
    pub actions: u64,
    /// `ARTEV`/`ARTCL` received again with the same `seq` (not shown again).
    pub repeats: u64,
    /// Heartbeats received.
    pub heartbeats: u64,
}

/// What one complete sentence did at the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The sentence, or why it was dropped.
    pub received: Result<Sentence, DropReason>,
    /// What the board sends back, if anything.
    pub reply: Option<Sentence>,
    /// Whether the panel changed.
    pub changed: bool,
}

/// A reference scoreboard's protocol state: the parser, de-duplication of
/// re-sent sentences, acknowledgements and the panel.
#[derive(Debug, Clone)]
pub struct Board {
    parser: Parser,
    ack: bool,
    panel: PanelState,
    /// The `seq` of the last `ARTEV`/`ARTCL` shown; a sentence repeating
    /// it is the same event and is not shown again. Forgotten when a
    /// heartbeat's uptime goes back (the device restarted).
    last_seq: Option<u16>,
    last_heartbeat: Option<Instant>,
    stats: BoardStats,
    history: VecDeque<Shown>,
}

impl Board {
    /// A board with a blank panel; `ack` turns on acknowledged mode.
    pub fn new(ack: bool) -> Self {
        Board {
            parser: Parser::new(),
            ack,
            panel: PanelState::default(),
            last_seq: None,
            last_heartbeat: None,
            stats: BoardStats::default(),
            history: VecDeque::new(),
        }
    }

    /// Whether the board acknowledges.
    pub fn ack(&self) -> bool {
        self.ack
    }

    /// What the panel shows.
    pub fn panel(&self) -> &PanelState {
        &self.panel
    }

    /// Counters so far.
    pub fn stats(&self) -> &BoardStats {
        &self.stats
    }

    /// The latest `ARTEV`/`ARTCL` that changed the action line, oldest first
    /// (at most [`HISTORY_LEN`]).
    pub fn history(&self) -> impl Iterator<Item = &Shown> {
        self.history.iter()
    }

    /// Feeds one byte received at `now`.
    pub fn push(&mut self, byte: u8, now: Instant) -> Option<Outcome> {
        let parsed = self.parser.push(byte)?;
        let applied = parsed.and_then(|sentence| {
            let effect = self.apply(&sentence, now)?;
            Ok((sentence, effect))
        });
        let (received, reply, changed) = match applied {
            Ok((sentence, (reply, changed))) => {
                self.stats.accepted += 1;
                (Ok(sentence), reply, changed)
            }
            Err(reason) => {
                self.stats.dropped += 1;
                (Err(reason), None, false)
            }
        };
        Some(Outcome {
            received,
            reply,
            changed,
        })
    }

    /// Shows `sentence`; what the board sends back and whether the panel
    /// changed. A sentence that travels from board to device is dropped.
    fn apply(
        &mut self,
        sentence: &Sentence,
        now: Instant,
    ) -> Result<(Option<Sentence>, bool), DropReason> {
        match sentence {
            Sentence::Event(_) | Sentence::Clear { .. } => {
                let seq = sentence.seq().unwrap_or_default();
                let reply = self.ack.then_some(Sentence::Ack { seq });
                if self.last_seq == Some(seq) {
                    self.stats.repeats += 1;
                    return Ok((reply, false));
                }
                let action = match sentence {
                    Sentence::Event(e) => Some(ShownAction {
                        class_id: e.class_id,
                        label: e.label.as_str().to_string(),
                        conf: e.conf,
                    }),
                    _ => None,
                };
                self.last_seq = Some(seq);
                self.stats.shown += 1;
                self.stats.actions += u64::from(action.is_some());
                if self.history.len() == HISTORY_LEN {
                    self.history.pop_front();
                }
                self.history.push_back(Shown {
                    seq,
                    action: action.clone(),
                });
                let changed = self.panel.action != action;
                self.panel.action = action;
                Ok((reply, changed))
            }
            Sentence::Heartbeat(h) => {
                self.stats.heartbeats += 1;
                // A device that restarts counts its uptime and its seq from
                // the start again: its next state is a new event even if it
                // reuses the seq shown last.
                if self.panel.device.is_some_and(|d| h.uptime_s < d.uptime_s) {
                    debug!(
                        "device restarted (uptime {} s); forgetting seq {:?}",
                        h.uptime_s, self.last_seq
                    );
                    self.last_seq = None;
                }
                self.last_heartbeat = Some(now);
                let device = Some(DeviceState {
                    status: h.status,
                    backend: h.backend,
                    fps_x10: h.fps_x10,
                    uptime_s: h.uptime_s,
                    stale: false,
                });
                // The panel does not show the uptime: a new uptime alone is no change.
                let shown =
                    |d: &Option<DeviceState>| d.map(|d| (d.status, d.backend, d.fps_x10, d.stale));
                let changed = shown(&self.panel.device) != shown(&device);
                self.panel.device = device;
                Ok((None, changed))
            }
            Sentence::Ack { .. } | Sentence::Nak { .. } | Sentence::Request => {
                Err(DropReason::WrongDirection {
                    kind: sentence.kind(),
                })
            }
        }
    }

    /// Marks the device line stale when no heartbeat came for
    /// [`HEARTBEAT_STALE`]; true when the panel changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        let overdue = self
            .last_heartbeat
            .is_some_and(|t| now.saturating_duration_since(t) > HEARTBEAT_STALE);
        match self.panel.device.as_mut() {
            Some(d) if overdue && !d.stale => {
                d.stale = true;
                true
            }
            _ => false,
        }
    }
}

/// What [`serve`] reports as it goes.
pub trait Observer {
    /// A sentence was accepted or dropped.
    fn outcome(&mut self, board: &Board, outcome: &Outcome);
    /// The panel changed.
    fn panel_changed(&mut self, board: &Board);
}

/// Runs `board` on `port` until `stop` is set or the line is lost: reads,
/// parses, answers (`ARTAK` in acknowledged mode), and reports to `observer`.
/// In acknowledged mode it sends `ARTRQ` as soon as the line is up, as a
/// board that (re)starts.
pub fn serve(
    port: &mut TTYPort,
    board: &Mutex<Board>,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> io::Result<()> {
    let wait = Duration::from_millis(50);
    let mut greet = lock(board).ack();
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        let received = serial::read(port, &mut buf, wait);
        let now = Instant::now();
        if greet && !matches!(received, Received::Lost(_)) {
            write(port, &Sentence::Request)?;
            greet = false;
        }
        let mut board = lock(board);
        match received {
            Received::Bytes(n) => {
                for &b in &buf[..n] {
                    let Some(outcome) = board.push(b, now) else {
                        continue;
                    };
                    observer.outcome(&board, &outcome);
                    if outcome.changed {
                        observer.panel_changed(&board);
                    }
                    if let Some(reply) = &outcome.reply {
                        write(port, reply)?;
                    }
                }
            }
            Received::Nothing => {}
            Received::Lost(e) => return Err(e),
        }
        if board.tick(now) {
            observer.panel_changed(&board);
        }
    }
    Ok(())
}

fn write(port: &mut TTYPort, sentence: &Sentence) -> io::Result<()> {
    let bytes = sentence
        .encode()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    serial::write(port, &bytes, Duration::from_secs(1))
}

fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    board.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the built-in emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No pseudo-terminal pair could be made.
    #[error("cannot create a pseudo-terminal pair for the scoreboard emulator")]
    Pty(#[source] serialport::Error),
    /// The pair's device end has no path.
    #[error("the emulator's pseudo-terminal has no device path")]
    NoPath,
    /// The emulator thread could not be started.
    #[error("cannot start the scoreboard emulator thread")]
    Spawn(#[source] io::Error),
}

/// The built-in emulator, running on its own thread.
pub struct Emulator {
    path: String,
    board: Arc<Mutex<Board>>,
    stop: Arc<AtomicBool>,
    changes: Receiver<PanelState>,
    thread: Option<JoinHandle<()>>,
}

/// Sends panel changes to the handle's channel, dropping them when nobody
/// reads it.
struct Forward(Sender<PanelState>);

impl Observer for Forward {
    fn outcome(&mut self, _board: &Board, outcome: &Outcome) {
        if let Err(reason) = &outcome.received {
            debug!("scoreboard emulator: dropped a sentence: {reason}");
        }
    }

    fn panel_changed(&mut self, board: &Board) {
        let _ = self.0.try_send(board.panel().clone());
    }
}

/// Starts the built-in emulator behind a new pseudo-terminal pair; the
/// runtime opens [`Emulator::path`] as its scoreboard port.
///
/// The emulator holds the pair's controlling end. While no one has the
/// device end open the line reads as hung up; the emulator waits and carries
/// on when the device end is opened (again), sending `ARTRQ` each time in
/// acknowledged mode.
pub fn spawn_pty(ack: bool) -> Result<Emulator, EmulatorError> {
    let (master, device_end) = TTYPort::pair().map_err(EmulatorError::Pty)?;
    let path = device_end.name().ok_or(EmulatorError::NoPath)?;
    drop(device_end);
    spawn_on(master, path, ack)
}

/// Starts the emulator on the controlling end `master` of a pseudo-terminal
/// pair whose device end is at `path`.
pub fn spawn_on(mut master: TTYPort, path: String, ack: bool) -> Result<Emulator, EmulatorError> {
    let board = Arc::new(Mutex::new(Board::new(ack)));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, changes) = crossbeam_channel::bounded(64);
    let thread = {
        let (board, stop) = (Arc::clone(&board), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("scoreboard-emulator".into())
            .spawn(move || {
                let mut observer = Forward(tx);
                while !stop.load(Ordering::Relaxed) {
                    match serve(&mut master, &board, &stop, &mut observer) {
                        Ok(()) => break,
                        // Nobody has the device end open (yet, or any more).
                        Err(e) => {
                            debug!("scoreboard emulator: line down ({e}); waiting");
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
            .map_err(EmulatorError::Spawn)?
    };
    Ok(Emulator {
        path,
        board,
        stop,
        changes,
        thread: Some(thread),
    })
}

impl Emulator {
    /// The device end of the pseudo-terminal pair, for the runtime to open.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What the panel shows now.
    pub fn panel(&self) -> PanelState {
        lock(&self.board).panel().clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> BoardStats {
        lock(&self.board).stats().clone()
    }

    /// The `ARTEV`/`ARTCL` sentences shown so far, oldest first.
    pub fn history(&self) -> Vec<Shown> {
        lock(&self.board).history().cloned().collect()
    }

    /// Every change of the panel, as it happens (the latest 64 if unread).
    pub fn changes(&self) -> &Receiver<PanelState> {
        &self.changes
    }

    /// Stops the emulator and closes its end of the line.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!("scoreboard emulator thread panicked");
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves the board on the port, reopening it with backoff whenever the line
/// is lost, until `stop` is set.
pub fn serve_reconnecting(
    name: &str,
    baud: u32,
    mut port: TTYPort,
    board: &Mutex<Board>,
    stop: &AtomicBool,
    observer: &mut impl Observer,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        match serve(&mut port, board, stop, observer) {
            Ok(()) => return,
            Err(e) => warn!("scoreboard port {}: line lost ({e}); reopening", name),
        }
        port = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            if backoff.ready(now) {
                match serial::open(name, baud) {
                    Ok(port) => {
                        log::info!("scoreboard port {}: open again", name);
                        backoff.reset();
                        break port;
                    }
                    Err(e) => {
                        let wait = backoff.failed(now);
                        debug!(
                            "scoreboard port {}: cannot open ({e}); next try in {wait:?}",
                            name
                        );
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        };
    }
}

/// One sentence as a JSON object: `type` and the spec's field names.
pub fn to_json(sentence: &Sentence) -> Value {
    let kind = sentence.kind().tag();
    match sentence {
        Sentence::Event(e) => json!({
            "type": kind, "seq": e.seq, "class_id": e.class_id, "label": e.label.as_str(),
            "conf": e.conf, "t_ms": e.t_ms,
        }),
        Sentence::Heartbeat(h) => json!({
            "type": kind, "seq": h.seq, "uptime_s": h.uptime_s, "fps_x10": h.fps_x10,
            "backend": h.backend.as_str(), "status": h.status.as_str(),
        }),
        Sentence::Clear { seq } | Sentence::Ack { seq } | Sentence::Nak { seq } => {
            json!({ "type": kind, "seq": seq })
        }
        Sentence::Request => json!({ "type": kind }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arts::{Event, Label};

    fn feed(board: &mut Board, sentence: &Sentence) -> Outcome {
        let now = Instant::now();
        let bytes = sentence.encode().unwrap();
        let mut outcomes: Vec<_> = bytes.iter().filter_map(|&b| board.push(b, now)).collect();
        assert_eq!(outcomes.len(), 1);
        outcomes.pop().unwrap()
    }

    fn event(seq: u16, label: &str) -> Sentence {
        Sentence::Event(Event {
            seq,
            class_id: 1,
            label: Label::new(label).unwrap(),
            conf: 800,
            t_ms: 5,
        })
    }

    #[test]
    fn repeats_are_acknowledged_but_shown_once() {
        let mut board = Board::new(true);
        let first = feed(&mut board, &event(7, "vault"));
        assert_eq!(first.reply, Some(Sentence::Ack { seq: 7 }));
        assert!(first.changed);
        let again = feed(&mut board, &event(7, "vault"));
        assert_eq!(again.reply, Some(Sentence::Ack { seq: 7 }));
        assert!(!again.changed);
        assert_eq!(board.stats().repeats, 1);
        assert_eq!(board.history().count(), 1);
        let same_seq = feed(&mut board, &event(7, "beam"));
        assert!(!same_seq.changed, "a repeated seq is the same event");
        assert_eq!(board.panel().action.as_ref().unwrap().label, "vault");
        assert_eq!(board.stats().repeats, 2);
        let clear = feed(&mut board, &Sentence::Clear { seq: 9 });
        assert!(clear.changed);
        assert_eq!(board.panel().action, None);
        assert_eq!(board.history().map(|s| s.seq).collect::<Vec<_>>(), [7, 9]);
        assert_eq!((board.stats().shown, board.stats().actions), (2, 1));
    }

    #[test]
    fn the_history_is_bounded_and_the_counts_are_not() {
        let mut board = Board::new(false);
        let n = HISTORY_LEN as u16 * 2 + 3;
        for seq in 0..n {
            feed(&mut board, &event(seq, "vault"));
        }
        assert_eq!(board.history().count(), HISTORY_LEN);
        assert_eq!(board.history().last().unwrap().seq, n - 1);
        assert_eq!(board.stats().actions, u64::from(n));
    }

    #[test]
    fn sentences_the_board_sends_are_dropped_when_they_reach_it() {
        let mut board = Board::new(true);
        feed(&mut board, &event(3, "vault"));
        for sentence in [
            Sentence::Ack { seq: 3 },
            Sentence::Nak { seq: 3 },
            Sentence::Request,
        ] {
            let outcome = feed(&mut board, &sentence);
            assert_eq!(
                outcome.received,
                Err(DropReason::WrongDirection {
                    kind: sentence.kind()
                })
            );
            assert_eq!(outcome.reply, None);
            assert!(!outcome.changed);
        }
        assert_eq!(board.stats().accepted, 1);
        assert_eq!(board.stats().dropped, 3);
        assert_eq!(board.panel().action.as_ref().unwrap().label, "vault");
        assert_eq!(
            DropReason::WrongDirection {
                kind: arts::Kind::Ack
            }
            .to_string(),
            "ARTAK travels from board to device, not this way"
        );
    }

    #[test]
    fn without_ack_mode_nothing_is_sent_back() {
        let mut board = Board::new(false);
        assert_eq!(feed(&mut board, &event(1, "x")).reply, None);
    }

    #[test]
    fn heartbeats_fill_the_device_line_and_go_stale() {
        let mut board = Board::new(false);
        let hb = Sentence::Heartbeat(arts::Heartbeat {
            seq: 1,
            uptime_s: 5,
            fps_x10: 250,
            backend: arts::Backend::Tract,
            status: arts::Status::Degraded,
        });
        let t0 = Instant::now();
        for &b in hb.encode().unwrap().iter() {
            board.push(b, t0);
        }
        assert_eq!(board.panel().device_line(), "DEGRADED tract 25.0 fps");
        let Sentence::Heartbeat(first) = hb else {
            unreachable!()
        };
        let later = Sentence::Heartbeat(arts::Heartbeat {
            seq: 2,
            uptime_s: 6,
            ..first
        });
        let outcome = feed(&mut board, &later);
        assert!(!outcome.changed, "only the uptime moved");
        assert_eq!(board.panel().device.unwrap().uptime_s, 6);
        assert!(!board.tick(t0 + HEARTBEAT_STALE));
        assert!(board.tick(t0 + HEARTBEAT_STALE + Duration::from_millis(1)));
        assert!(board.panel().device.unwrap().stale);
        assert!(!board.tick(t0 + HEARTBEAT_STALE * 2));
    }

    fn heartbeat(seq: u16, uptime_s: u32) -> Sentence {
        Sentence::Heartbeat(arts::Heartbeat {
            seq,
            uptime_s,
            fps_x10: 300,
            backend: arts::Backend::OrtCpu,
            status: arts::Status::Ok,
        })
    }

    #[test]
    fn a_restarted_device_may_reuse_the_seq_shown_last() {
        let mut board = Board::new(true);
        feed(&mut board, &heartbeat(4, 100));
        assert!(feed(&mut board, &event(5, "vault")).changed);
        feed(&mut board, &heartbeat(6, 101));
        assert!(
            !feed(&mut board, &event(5, "beam")).changed,
            "same device, same seq: a re-send"
        );
        // The uptime goes back: the device started again, its numbering too.
        feed(&mut board, &heartbeat(0, 0));
        let after = feed(&mut board, &event(5, "beam"));
        assert!(after.changed, "the restarted device's event is shown");
        assert_eq!(after.reply, Some(Sentence::Ack { seq: 5 }));
        assert_eq!(board.panel().action.as_ref().unwrap().label, "beam");
        assert!(
            !feed(&mut board, &event(5, "beam")).changed,
            "and then de-duplicated again"
        );
    }

    #[test]
    fn drops_are_counted_and_never_shown() {
        let mut board = Board::new(true);
        let now = Instant::now();
        let outcomes: Vec<_> = b"$ARTEV,1,2,x,3,4*0000\r\n"
            .iter()
            .filter_map(|&b| board.push(b, now))
            .collect();
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].received.is_err());
        assert_eq!(outcomes[0].reply, None);
        assert_eq!(board.stats().dropped, 1);
        assert_eq!(board.panel().action, None);
    }

    #[test]
    fn json_lines_carry_the_spec_fields() {
        let ev = arts::parse(b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n").unwrap();
        assert_eq!(
            to_json(&ev),
            json!({"type": "ARTEV", "seq": 17, "class_id": 3, "label": "salto backward tucked", "conf": 912, "t_ms": 845210})
        );
        let hb = arts::parse(b"$ARTHB,18,3600,300,trt,OK*4EFA\r\n").unwrap();
        assert_eq!(
            to_json(&hb),
            json!({"type": "ARTHB", "seq": 18, "uptime_s": 3600, "fps_x10": 300, "backend": "trt", "status": "OK"})
        );
        assert_eq!(
            to_json(&Sentence::Ack { seq: 17 }),
            json!({"type": "ARTAK", "seq": 17})
        );
        assert_eq!(to_json(&Sentence::Request), json!({"type": "ARTRQ"}));
    }
}
