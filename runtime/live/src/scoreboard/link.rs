//! The device side of ARTS/1 on a serial port.
//!
//! A [`Link`] owns one thread that owns the port: the pipeline hands it
//! events through a channel and never waits on the serial line. The thread
//! opens the port, writes, notices when the line is lost (write or read
//! errors, end of file, hang-up), reopens it with backoff, sends heartbeats,
//! answers `ARTRQ`, and in acknowledged mode re-sends until `ARTAK`.
//!
//! It also keeps the display policy (`LinkConfig::display_ms`): an element
//! stays on the board for at least the display time before a clear replaces
//! it, a clear never replaces an element no board has acknowledged while it
//! is within that time, and an element recognised during an outage is sent
//! when the line is back if still within it. [`ElementCounts`] says what
//! became of every element.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arts::{Backend, Event, Heartbeat, Label, Parser, Sentence};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use log::{debug, info, warn};
use serialport::TTYPort;

use super::config::{LinkConfig, LinkConfigError};
use super::serial::{self, Backoff, Received};
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health};

/// Longest the link thread waits before looking at its timers and channel.
const TICK: Duration = Duration::from_millis(10);
/// A write that cannot finish within this long means the line is lost.
const WRITE_WAIT: Duration = Duration::from_secs(1);
/// First and longest wait between attempts to reopen the port.
const REOPEN_FIRST: Duration = Duration::from_millis(100);
const REOPEN_MAX: Duration = Duration::from_secs(2);

/// Why the link cannot take a message or cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The configuration is invalid.
    #[error("scoreboard link configuration: {0}")]
    Config(#[from] LinkConfigError),
    /// The link thread could not be started.
    #[error("cannot start the scoreboard link thread")]
    Spawn(#[source] io::Error),
    /// The link thread has stopped.
    #[error("the scoreboard link thread has stopped")]
    Stopped,
}

/// Counters of what the link has done, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Whether the port is open now.
    pub connected: bool,
    /// Times the port was opened.
    pub opened: u64,
    /// Failed attempts to open the port.
    pub failed_opens: u64,
    /// Times the line was lost.
    pub lost: u64,
    /// New sentences written.
    pub sent: u64,
    /// Heartbeats among them.
    pub heartbeats: u64,
    /// Sentences written again with their `seq` (acknowledged mode, `ARTNK`, or
    /// after the line came back).
    pub resent: u64,
    /// `ARTEV`/`ARTCL` acknowledged by the board.
    pub acked: u64,
    /// `ARTEV`/`ARTCL` given up after the most re-sends without `ARTAK`.
    pub gave_up: u64,
    /// `ARTRQ` answered.
    pub requests: u64,
    /// Sentences from the board that the parser dropped.
    pub dropped: u64,
    /// Device sentences (`ARTEV`, `ARTHB`, `ARTCL`) that came back from the
    /// board's side: a line that echoes what the device writes (a half-duplex
    /// RS-485 adapter, a loopback) or a misbehaving board. Ignored.
    pub echoed: u64,
    /// Elements offered again as a new sentence after their re-sends ran out
    /// within their display time.
    pub reoffered: u64,
    /// The `seq` still waiting for `ARTAK`, if any.
    pub awaiting_ack: Option<u16>,
    /// The `seq` the next new sentence gets.
    pub next_seq: u16,
    /// What became of the recognised elements.
    pub elements: ElementCounts,
}

/// What became of the elements handed to the link. Every recognised element
/// ends up shown, superseded or lost; the one on its way now is none of these
/// yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ElementCounts {
    /// Elements the link was given.
    pub recognised: u64,
    /// Shown on the board: acknowledged, or written in plain mode.
    pub shown: u64,
    /// Replaced by a newer element before they could be shown.
    pub superseded: u64,
    /// Lost because the line was down for all of their display time.
    pub lost_line_down: u64,
    /// Lost because the board never acknowledged them within their display time.
    pub lost_unacknowledged: u64,
    /// Lost because the link stopped before they were shown.
    pub lost_at_stop: u64,
}

impl ElementCounts {
    /// Elements lost, all reasons together.
    pub fn lost(&self) -> u64 {
        self.lost_line_down + self.lost_unacknowledged + self.lost_at_stop
    }

    /// Elements neither shown, superseded nor lost yet: 0 or 1.
    pub fn pending(&self) -> u64 {
        self.recognised - self.shown - self.superseded - self.lost()
    }
}

impl std::fmt::Display for ElementCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} elements recognised, {} shown, {} superseded, {} lost ({} line down, {} unacknowledged, {} at stop)",
            self.recognised,
            self.shown,
            self.superseded,
            self.lost(),
            self.lost_line_down,
            self.lost_unacknowledged,
            self.lost_at_stop
        )
    }
}

/// A handle on a link's counters that outlives the link, for a summary
/// after the link was handed to a fan-out and dropped.
#[derive(Debug, Clone)]
pub struct LinkCounters(Arc<Mutex<LinkStats>>);

impl LinkCounters {
    /// The counters now (final once the link has stopped).
    pub fn get(&self) -> LinkStats {
        lock(&self.0).clone()
    }
}

/// What the action line shows.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Clear,
    Action {
        class_id: u16,
        label: Label,
        conf: u16,
        t_ms: u32,
    },
}

impl State {
    fn sentence(&self, seq: u16) -> Sentence {
        match self {
            State::Clear => Sentence::Clear { seq },
            State::Action {
                class_id,
                label,
                conf,
                t_ms,
            } => Sentence::Event(Event {
                seq,
                class_id: *class_id,
                label: label.clone(),
                conf: *conf,
                t_ms: *t_ms,
            }),
        }
    }
}

/// The element the action line is given to show, and its progress.
#[derive(Debug, Clone)]
struct Element {
    recognised: Instant,
    /// When the board showed it (acknowledged, or written in plain mode).
    shown: Option<Instant>,
    /// Whether any write of it went out on an open line.
    written: bool,
    /// The `seq`s it was sent as, newest last (a few, for late `ARTAK`s).
    seqs: VecDeque<u16>,
}

/// How many of an element's `seq`s an `ARTAK` is matched against.
const SEQS_KEPT: usize = 8;

impl Element {
    fn new(now: Instant) -> Self {
        Element {
            recognised: now,
            shown: None,
            written: false,
            seqs: VecDeque::new(),
        }
    }
}

/// A heartbeat's content, as last reported.
#[derive(Debug, Clone, Copy)]
struct Beat {
    uptime_s: u32,
    at: Instant,
    fps_x10: u16,
    backend: Backend,
    status: arts::Status,
}

enum Command {
    Show(State),
    Health(Beat),
    Stop,
}

/// The device side of an ARTS/1 scoreboard link, running on its own thread.
///
/// ```no_run
/// use artrt_live::scoreboard::{Link, LinkConfig};
/// use artrt_live::sink::{ActionEvent, EventSink};
///
/// let mut link = Link::spawn(LinkConfig::new("/dev/ttyUSB0")).unwrap();
/// link.action(&ActionEvent {
///     class_id: 3,
///     label: "salto backward tucked".into(),
///     confidence: 0.912,
///     t_ms: 845_210,
///     camera: "cam0".into(),
///     seq: 1,
///     captured: std::time::Instant::now(),
/// })
/// .unwrap();
/// link.close();
/// ```
pub struct Link {
    tx: Sender<Command>,
    stats: Arc<Mutex<LinkStats>>,
    thread: Option<JoinHandle<()>>,
}

impl Link {
    /// Starts the link; the port is opened (and reopened) by the link thread,
    /// so a scoreboard that is not there yet is no error.
    pub fn spawn(config: LinkConfig) -> Result<Link, LinkError> {
        Link::spawn_at(config, 0)
    }

    /// Starts the link with the sentence counter at `first_seq` (a device
    /// that restarts may carry on its numbering).
    pub fn spawn_at(config: LinkConfig, first_seq: u16) -> Result<Link, LinkError> {
        config.validate()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let stats = Arc::new(Mutex::new(LinkStats {
            next_seq: first_seq,
            ..LinkStats::default()
        }));
        let worker = Worker::new(config, first_seq, Arc::clone(&stats));
        let thread = std::thread::Builder::new()
            .name("scoreboard-link".into())
            .spawn(move || worker.run(rx))
            .map_err(LinkError::Spawn)?;
        Ok(Link {
            tx,
            stats,
            thread: Some(thread),
        })
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        lock(&self.stats).clone()
    }

    /// A handle on the counters that stays readable after the link is gone.
    pub fn counters(&self) -> LinkCounters {
        LinkCounters(Arc::clone(&self.stats))
    }

    /// Stops the link thread after it has written the last state, if the
    /// port is open.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn send(&self, command: Command) -> Result<(), LinkError> {
        self.tx.send(command).map_err(|_| LinkError::Stopped)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Confidence in per-mille: `round(confidence * 1000)`, clamped to 0..=1000.
pub fn per_mille(confidence: f32) -> u16 {
    if confidence.is_nan() {
        return 0;
    }
    (confidence * 1000.0).round().clamp(0.0, 1000.0) as u16
}

impl EventSink for Link {
    type Error = LinkError;

    fn action(&mut self, event: &ActionEvent) -> Result<(), LinkError> {
        self.send(Command::Show(State::Action {
            class_id: event.class_id,
            label: Label::sanitize(&event.label),
            conf: per_mille(event.confidence),
            t_ms: event.t_ms,
        }))
    }

    fn clear(&mut self, _event: &ClearEvent) -> Result<(), LinkError> {
        self.send(Command::Show(State::Clear))
    }

    fn health(&mut self, health: &Health) -> Result<(), LinkError> {
        let fps_x10 = if health.fps.is_nan() {
            0.0
        } else {
            (health.fps * 10.0).round().clamp(0.0, 65535.0)
        };
        self.send(Command::Health(Beat {
            uptime_s: health.uptime_s,
            at: Instant::now(),
            fps_x10: fps_x10 as u16,
            backend: health.backend,
            status: health.status,
        }))
    }
}

fn lock(stats: &Mutex<LinkStats>) -> MutexGuard<'_, LinkStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waiting for `ARTAK` of the current state's sentence.
#[derive(Debug, Clone, Copy)]
struct Awaiting {
    seq: u16,
    resends: u32,
    next_at: Instant,
}

/// The link thread's state.
struct Worker {
    config: LinkConfig,
    stats: Arc<Mutex<LinkStats>>,
    port: Option<TTYPort>,
    backoff: Backoff,
    /// Whether the last attempt to open failed (to log a failure once).
    failing: bool,
    parser: Parser,
    seq: u16,
    state: State,
    /// The element `state` shows, while it shows one.
    element: Option<Element>,
    /// A clear has been asked for and waits on the display policy.
    clear_wanted: bool,
    /// The current state has not been written as a new sentence yet.
    dirty: bool,
    /// The `seq` of the current state's latest new sentence.
    state_seq: Option<u16>,
    /// Its last write failed: write it again, same `seq`, once the line is back.
    redo: bool,
    awaiting: Option<Awaiting>,
    beat: Option<Beat>,
    next_beat: Instant,
}

impl Worker {
    fn new(config: LinkConfig, first_seq: u16, stats: Arc<Mutex<LinkStats>>) -> Self {
        Worker {
            config,
            stats,
            port: None,
            backoff: Backoff::new(REOPEN_FIRST, REOPEN_MAX),
            failing: false,
            parser: Parser::new(),
            seq: first_seq,
            state: State::Clear,
            element: None,
            clear_wanted: false,
            dirty: false,
            state_seq: None,
            redo: false,
            awaiting: None,
            beat: None,
            next_beat: Instant::now(),
        }
    }

    fn run(mut self, rx: Receiver<Command>) {
        let mut buf = [0u8; 256];
        loop {
            let now = Instant::now();
            let wait = self
                .next_deadline()
                .map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
            let mut stop = false;
            if let Some(port) = self.port.as_mut() {
                match serial::read(port, &mut buf, wait) {
                    Received::Bytes(n) => {
                        for &b in &buf[..n] {
                            self.incoming(b);
                        }
                    }
                    Received::Nothing => {}
                    Received::Lost(e) => self.lose(&e),
                }
            } else {
                match rx.recv_timeout(wait) {
                    Ok(command) => stop |= self.command(command),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => stop = true,
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(command) => stop |= self.command(command),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stop = true;
                        break;
                    }
                }
            }
            self.service(Instant::now());
            if stop && self.element.as_ref().is_some_and(|e| e.shown.is_none()) {
                self.element = None;
                lock(&self.stats).elements.lost_at_stop += 1;
            }
            self.publish();
            if stop {
                let mut stats = lock(&self.stats);
                stats.connected = false;
                info!(
                    "scoreboard {}: stopped; {}; {} sentences written ({} heartbeats), {} re-sent, {} acknowledged, \
                     {} given up, {} ARTRQ answered, {} dropped and {} echoed from the board, line lost {} times",
                    self.config.port,
                    stats.elements,
                    stats.sent,
                    stats.heartbeats,
                    stats.resent,
                    stats.acked,
                    stats.gave_up,
                    stats.requests,
                    stats.dropped,
                    stats.echoed,
                    stats.lost
                );
                return;
            }
        }
    }

    /// The earliest timer: the end of a display time a clear waits for;
    /// reopening while the line is down; a re-send or a heartbeat while it
    /// is up.
    fn next_deadline(&self) -> Option<Instant> {
        let settle = self.clear_due();
        if self.port.is_none() {
            return [self.backoff.due(), settle].into_iter().flatten().min();
        }
        let beat = self.beat.map(|_| self.next_beat);
        [self.awaiting.map(|a| a.next_at), beat, settle]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the clear asked for may replace the element shown: its display
    /// time after it was shown, or after it was recognised if it never was.
    fn clear_due(&self) -> Option<Instant> {
        let element = self.element.as_ref().filter(|_| self.clear_wanted)?;
        Some(element.shown.unwrap_or(element.recognised) + self.config.display_time())
    }

    /// Whether the element shown is unshown and within its display time.
    fn worth_offering(&self, now: Instant) -> bool {
        self.element
            .as_ref()
            .is_some_and(|e| e.shown.is_none() && now < e.recognised + self.config.display_time())
    }

    /// Makes `state` current, to be written as a new sentence.
    fn show(&mut self, state: State, element: Option<Element>) {
        self.state = state;
        self.element = element;
        self.clear_wanted = false;
        self.dirty = true;
        self.redo = false;
        self.awaiting = None;
    }

    /// Applies a clear asked for once the display policy allows it.
    fn settle(&mut self, now: Instant) {
        if self.clear_due().is_none_or(|due| now < due) {
            return;
        }
        if let Some(element) = &self.element
            && element.shown.is_none()
        {
            if !element.written && self.port.is_some() {
                // The line is up: the element goes out first, whatever its time.
                return;
            }
            let mut stats = lock(&self.stats);
            if element.written {
                stats.elements.lost_unacknowledged += 1;
            } else {
                stats.elements.lost_line_down += 1;
            }
        }
        self.show(State::Clear, None);
    }

    /// The element shown reached the board at `now`.
    fn mark_shown(&mut self, now: Instant) {
        if let Some(element) = self.element.as_mut()
            && element.shown.is_none()
        {
            element.shown = Some(now);
            lock(&self.stats).elements.shown += 1;
        }
    }

    /// A sentence of the current state went out on the line as `seq`.
    fn wrote_state(&mut self, seq: u16, now: Instant) {
        let Some(element) = self.element.as_mut() else {
            return;
        };
        element.written = true;
        if element.seqs.back() != Some(&seq) {
            if element.seqs.len() == SEQS_KEPT {
                element.seqs.pop_front();
            }
            element.seqs.push_back(seq);
        }
        if !self.config.acknowledged {
            self.mark_shown(now);
        }
    }

    /// Handles one command; true when the thread must stop.
    fn command(&mut self, command: Command) -> bool {
        match command {
            Command::Show(State::Clear) => {
                if self.element.is_some() {
                    self.clear_wanted = true;
                }
                false
            }
            Command::Show(action) => {
                {
                    let mut stats = lock(&self.stats);
                    stats.elements.recognised += 1;
                    if self.element.as_ref().is_some_and(|e| e.shown.is_none()) {
                        stats.elements.superseded += 1;
                    }
                }
                self.show(action, Some(Element::new(Instant::now())));
                false
            }
            Command::Health(beat) => {
                if self.beat.is_none() {
                    self.next_beat = Instant::now();
                }
                self.beat = Some(beat);
                false
            }
            Command::Stop => true,
        }
    }

    fn incoming(&mut self, byte: u8) {
        match self.parser.push(byte) {
            None => {}
            Some(Err(reason)) => {
                lock(&self.stats).dropped += 1;
                debug!(
                    "scoreboard {}: dropped a sentence from the board: {reason}",
                    self.config.port
                );
            }
            Some(Ok(Sentence::Ack { seq }))
                if self.awaiting.is_some_and(|a| a.seq == seq)
                    || self.element.as_ref().is_some_and(|e| e.seqs.contains(&seq)) =>
            {
                // An ARTAK of the element's earlier offer shows it as well.
                self.awaiting = None;
                lock(&self.stats).acked += 1;
                self.mark_shown(Instant::now());
            }
            Some(Ok(Sentence::Nak { seq })) if self.state_seq == Some(seq) && !self.dirty => {
                self.resend(Instant::now());
            }
            Some(Ok(Sentence::Request)) => {
                lock(&self.stats).requests += 1;
                self.dirty = true;
                self.redo = false;
                self.awaiting = None;
                self.service(Instant::now());
            }
            Some(Ok(
                echo @ (Sentence::Event(_) | Sentence::Heartbeat(_) | Sentence::Clear { .. }),
            )) => {
                let echoed = {
                    let mut stats = lock(&self.stats);
                    stats.echoed += 1;
                    stats.echoed
                };
                if echoed == 1 {
                    warn!(
                        "scoreboard {}: a device sentence came from the board's side ({echo:?}); \
                         the line echoes what is written, or the board sends device sentences; ignoring them",
                        self.config.port
                    );
                }
            }
            Some(Ok(stale)) => {
                debug!(
                    "scoreboard {}: ignoring an ARTAK or ARTNK for no sentence in flight: {stale:?}",
                    self.config.port
                );
            }
        }
    }

    /// Opens the port when due, applies the display policy, then writes
    /// what is due.
    fn service(&mut self, now: Instant) {
        if self.port.is_none() && self.backoff.ready(now) {
            self.open(now);
        }
        self.settle(now);
        if self.port.is_none() {
            return;
        }
        if let Some(a) = self.awaiting
            && now >= a.next_at
        {
            if a.resends < self.config.max_resends {
                self.resend(now);
            } else if self.worth_offering(now) {
                // Its re-sends ran out within its display time: a new sentence.
                self.dirty = true;
                lock(&self.stats).reoffered += 1;
                debug!(
                    "scoreboard {}: no ARTAK for seq {} after {} re-sends; offering the element again",
                    self.config.port, a.seq, a.resends
                );
            } else {
                self.awaiting = None;
                lock(&self.stats).gave_up += 1;
                warn!(
                    "scoreboard {}: no ARTAK for seq {} after {} re-sends",
                    self.config.port, a.seq, a.resends
                );
            }
        }
        if self.port.is_none() {
            return;
        }
        if self.dirty {
            let seq = self.next_seq();
            self.dirty = false;
            self.redo = false;
            self.state_seq = Some(seq);
            self.awaiting = self.config.acknowledged.then_some(Awaiting {
                seq,
                resends: 0,
                next_at: now + self.config.resend_interval(),
            });
            if self.write(&self.state.sentence(seq)) {
                lock(&self.stats).sent += 1;
                self.wrote_state(seq, now);
            } else {
                self.redo = true;
            }
        } else if self.redo {
            self.redo = false;
            self.resend(now);
        }
        if let Some(beat) = self.beat
            && now >= self.next_beat
        {
            self.next_beat = following_beat(self.next_beat, now, self.config.heartbeat_interval());
            if self.port.is_some() {
                let seq = self.next_seq();
                let elapsed = now.saturating_duration_since(beat.at).as_secs();
                let heartbeat = Sentence::Heartbeat(Heartbeat {
                    seq,
                    uptime_s: beat.uptime_s.wrapping_add(elapsed as u32),
                    fps_x10: beat.fps_x10,
                    backend: beat.backend,
                    status: beat.status,
                });
                if self.write(&heartbeat) {
                    let mut stats = lock(&self.stats);
                    stats.sent += 1;
                    stats.heartbeats += 1;
                }
            }
        }
    }

    /// Writes the current state's sentence again with its `seq`.
    fn resend(&mut self, now: Instant) {
        let Some(seq) = self.state_seq else { return };
        if let Some(a) = self.awaiting.as_mut() {
            a.resends += 1;
            a.next_at = now + self.config.resend_interval();
        }
        if self.write(&self.state.sentence(seq)) {
            lock(&self.stats).resent += 1;
            self.wrote_state(seq, now);
        } else {
            self.redo = true;
        }
    }

    fn next_seq(&mut self) -> u16 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        seq
    }

    /// Writes one sentence; on failure the line is lost and false returned.
    fn write(&mut self, sentence: &Sentence) -> bool {
        let Some(port) = self.port.as_mut() else {
            return false;
        };
        let bytes = match sentence.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                warn!(
                    "scoreboard {}: cannot encode {sentence:?}: {e}",
                    self.config.port
                );
                return true;
            }
        };
        match serial::write(port, &bytes, WRITE_WAIT) {
            Ok(()) => true,
            Err(e) => {
                self.lose(&e);
                false
            }
        }
    }

    fn open(&mut self, now: Instant) {
        match serial::open(&self.config.port, self.config.baud) {
            Ok(port) => {
                info!(
                    "scoreboard {}: open at {} baud",
                    self.config.port, self.config.baud
                );
                self.port = Some(port);
                self.parser = Parser::new();
                self.backoff.reset();
                self.failing = false;
                self.redo |= self.awaiting.is_some();
                let mut stats = lock(&self.stats);
                stats.opened += 1;
                stats.connected = true;
            }
            Err(e) => {
                let wait = self.backoff.failed(now);
                lock(&self.stats).failed_opens += 1;
                if !self.failing {
                    warn!(
                        "scoreboard {}: cannot open ({e}); retrying with backoff",
                        self.config.port
                    );
                } else {
                    debug!(
                        "scoreboard {}: cannot open ({e}); next try in {wait:?}",
                        self.config.port
                    );
                }
                self.failing = true;
            }
        }
    }

    fn lose(&mut self, error: &io::Error) {
        warn!(
            "scoreboard {}: line lost ({error}); reopening",
            self.config.port
        );
        self.port = None;
        self.backoff.failed(Instant::now());
        let mut stats = lock(&self.stats);
        stats.lost += 1;
        stats.connected = false;
    }

    fn publish(&self) {
        let mut stats = lock(&self.stats);
        stats.awaiting_ack = self.awaiting.map(|a| a.seq);
        stats.next_seq = self.seq;
    }
}

/// The heartbeat after one due at `due` and written at `now`: one interval
/// later, so that beats keep to their period however late each is written,
/// or one interval from `now` when that time has passed too (after the line
/// was down), never a burst of beats to catch up.
fn following_beat(due: Instant, now: Instant, interval: Duration) -> Instant {
    let next = due + interval;
    if next > now { next } else { now + interval }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_keep_their_period_and_never_catch_up_in_a_burst() {
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        let late = Duration::from_millis(7);
        assert_eq!(following_beat(t0, t0 + late, second), t0 + second);
        assert_eq!(following_beat(t0, t0 + second, second), t0 + 2 * second);
        assert_eq!(
            following_beat(t0, t0 + 5 * second + late, second),
            t0 + 6 * second + late
        );
    }

    #[test]
    fn per_mille_rounds_and_clamps() {
        assert_eq!(per_mille(0.912), 912);
        assert_eq!(per_mille(0.9125), 913);
        assert_eq!(per_mille(0.0004), 0);
        assert_eq!(per_mille(1.0), 1000);
        assert_eq!(per_mille(1.7), 1000);
        assert_eq!(per_mille(-0.2), 0);
        assert_eq!(per_mille(f32::NAN), 0);
    }
}
