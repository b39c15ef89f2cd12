//! The ARTS/1 scoreboard link against real pseudo-terminal pairs: the exact
//! bytes on the wire, `ARTRQ`, acknowledged mode with re-sends, `ARTNK` and
//! supersession, `seq` wrapping, echoed device sentences, the board vanishing
//! and coming back, a line that corrupts bytes, and the display policy with
//! its counts of what became of every element.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use artrt_infer::BackendKind;
use artrt_live::scoreboard::{Link, LinkConfig, LinkStats};
use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health, Status};
use artrt_tools::emulator::{self, Emulator, Shown};
use artrt_tools::panel::ShownAction;
use arts::{Parser, Sentence};
use rand::{Rng, SeedableRng};
use serialport::{SerialPort, TTYPort};

/// Longest a test waits for something that should happen at once; only a
/// guard against hanging, never a measured time.
const PATIENCE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn action(class_id: u16, label: &str, confidence: f32, t_ms: u32) -> ActionEvent {
    ActionEvent {
        class_id,
        label: label.to_string(),
        confidence,
        t_ms,
        camera: "cam0".into(),
        seq: u64::from(t_ms),
        captured: Instant::now(),
    }
}

fn clear(t_ms: u32) -> ClearEvent {
    ClearEvent {
        t_ms,
        camera: "cam0".into(),
        seq: u64::from(t_ms),
        captured: Instant::now(),
    }
}

/// The board end of a pseudo-terminal pair, read sentence by sentence.
struct Peer {
    master: TTYPort,
    parser: Parser,
}

impl Peer {
    /// A pair whose device end the link opens at the returned path.
    fn new() -> (Peer, String) {
        let (master, device_end) = TTYPort::pair().unwrap();
        let path = device_end.name().unwrap();
        drop(device_end);
        (
            Peer {
                master,
                parser: Parser::new(),
            },
            path,
        )
    }

    /// The next complete sentence's raw bytes, `$` through `\n`.
    fn next_raw(&mut self) -> Vec<u8> {
        let start = Instant::now();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            assert!(
                start.elapsed() < PATIENCE,
                "no sentence arrived; got {:?}",
                String::from_utf8_lossy(&line)
            );
            match self.master.read(&mut byte) {
                Ok(1) => {
                    if byte[0] == b'$' {
                        line.clear();
                    }
                    line.push(byte[0]);
                    if byte[0] == b'\n' && line[0] == b'$' {
                        return line;
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                // Nobody has the device end open yet.
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// The next sentence, parsed; the test fails on anything dropped.
    fn next(&mut self) -> Sentence {
        let raw = self.next_raw();
        let mut out = None;
        for &b in &raw {
            if let Some(r) = self.parser.push(b) {
                out = Some(r.unwrap_or_else(|e| {
                    panic!("{:?} dropped: {e}", String::from_utf8_lossy(&raw))
                }));
            }
        }
        out.unwrap()
    }

    /// The next sentence that is not a heartbeat.
    fn next_state(&mut self) -> Sentence {
        loop {
            match self.next() {
                Sentence::Heartbeat(_) => continue,
                other => return other,
            }
        }
    }

    fn send(&mut self, sentence: &Sentence) {
        self.master.write_all(&sentence.encode().unwrap()).unwrap();
    }

    /// Whether any sentence arrives within `window` (a bound for "nothing
    /// more comes", not a timing assertion).
    fn quiet_for(&mut self, window: Duration) -> Vec<u8> {
        let start = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while start.elapsed() < window {
            if let Ok(n) = self.master.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    }
}

fn config(path: &str) -> LinkConfig {
    let mut c = LinkConfig::new(path);
    // No heartbeat unless a test asks for one.
    c.heartbeat_interval_ms = 3_600_000;
    // No display policy unless a test asks for one: a clear goes at once.
    c.display_ms = 0;
    c
}

#[test]
fn golden_bytes_on_the_wire() {
    let (mut peer, path) = Peer::new();
    let mut link = Link::spawn_at(config(&path), 17).unwrap();
    link.action(&action(3, "salto backward tucked", 0.912, 845_210))
        .unwrap();
    assert_eq!(
        peer.next_raw(),
        b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n"
    );
    link.health(&Health {
        uptime_s: 3600,
        fps: 30.0,
        backend: BackendKind::Trt,
        status: Status::Ok,
        camera: None,
    })
    .unwrap();
    assert_eq!(peer.next_raw(), b"$ARTHB,18,3600,300,trt,OK*4EFA\r\n");
    link.clear(&clear(900_000)).unwrap();
    let clear = Sentence::Clear { seq: 19 }.encode().unwrap();
    assert_eq!(peer.next_raw(), &clear[..]);
    // Labels are sanitised and cut, confidences rounded and clamped.
    link.action(&action(
        65535,
        "Écart, ½ tour — sauté très long texte",
        1.2,
        u32::MAX,
    ))
    .unwrap();
    assert_eq!(
        peer.next_raw(),
        Sentence::Event(arts::Event {
            seq: 20,
            class_id: 65535,
            label: arts::Label::new("Ecart- - tour - saute tres long ").unwrap(),
            conf: 1000,
            t_ms: u32::MAX,
        })
        .encode()
        .unwrap()
        .as_slice()
    );
    // The link counts a sentence after writing it: wait for the count.
    wait_until("the fourth sentence to be counted", || {
        link.stats().sent >= 4
    });
    assert_eq!(link.stats().sent, 4);
    link.close();
}

#[test]
fn heartbeats_once_per_interval_with_fresh_seq_and_never_resent() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.heartbeat_interval_ms = 20;
    let mut link = Link::spawn(c).unwrap();
    link.health(&Health {
        uptime_s: 7,
        fps: 24.96,
        backend: BackendKind::Tract,
        status: Status::Degraded,
        camera: None,
    })
    .unwrap();
    let mut seqs = Vec::new();
    for _ in 0..5 {
        match peer.next() {
            Sentence::Heartbeat(h) => {
                assert_eq!(
                    (h.fps_x10, h.backend, h.status),
                    (250, arts::Backend::Tract, arts::Status::Degraded)
                );
                assert!(h.uptime_s >= 7);
                seqs.push(h.seq);
            }
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    assert_eq!(link.stats().awaiting_ack, None);
    assert_eq!(link.stats().resent, 0);
}

#[test]
fn artrq_is_answered_at_once_with_the_current_state() {
    let (mut peer, path) = Peer::new();
    let mut link = Link::spawn(config(&path)).unwrap();
    // Let the link open the port before asking.
    wait_until("the link to open", || link.stats().connected);
    peer.send(&Sentence::Request);
    assert_eq!(peer.next_state(), Sentence::Clear { seq: 0 });
    link.action(&action(4, "round-off", 0.5, 10)).unwrap();
    let Sentence::Event(first) = peer.next_state() else {
        panic!("expected ARTEV")
    };
    assert_eq!(first.seq, 1);
    peer.send(&Sentence::Request);
    let Sentence::Event(again) = peer.next_state() else {
        panic!("expected ARTEV")
    };
    assert_eq!(again, arts::Event { seq: 2, ..first });
    wait_until("the second ARTRQ to be counted", || {
        link.stats().requests >= 2
    });
    assert_eq!(link.stats().requests, 2);
}

#[test]
fn unacknowledged_sentences_are_resent_with_their_seq_then_given_up() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.resend_interval_ms = 30;
    c.max_resends = 3;
    let mut link = Link::spawn_at(c, 500).unwrap();
    link.action(&action(2, "kip", 0.7, 1)).unwrap();
    let sent: Vec<Sentence> = (0..4).map(|_| peer.next_state()).collect();
    assert!(
        sent.iter().all(|s| s.seq() == Some(500) && s == &sent[0]),
        "{sent:?}"
    );
    wait_until("the link to give up", || link.stats().gave_up == 1);
    assert!(peer.quiet_for(Duration::from_millis(150)).is_empty());
    // ARTNK asks for it again, same seq.
    peer.send(&Sentence::Nak { seq: 500 });
    assert_eq!(peer.next_state(), sent[0]);
    // ARTNK for a seq that is not the current state is ignored.
    peer.send(&Sentence::Nak { seq: 499 });
    assert!(peer.quiet_for(Duration::from_millis(100)).is_empty());
    wait_until("the re-send to be counted", || link.stats().resent >= 4);
    let stats = link.stats();
    assert_eq!((stats.sent, stats.resent, stats.acked), (1, 4, 0));
}

#[test]
fn an_acknowledged_sentence_is_not_resent() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.resend_interval_ms = 30;
    let mut link = Link::spawn(c).unwrap();
    link.action(&action(2, "kip", 0.7, 1)).unwrap();
    let first = peer.next_state();
    peer.send(&Sentence::Ack {
        seq: first.seq().unwrap(),
    });
    wait_until("the acknowledgement", || link.stats().acked == 1);
    // An ARTAK for another seq changes nothing.
    peer.send(&Sentence::Ack { seq: 77 });
    assert!(peer.quiet_for(Duration::from_millis(150)).is_empty());
    assert_eq!(link.stats().resent, 0);
}

#[test]
fn device_sentences_echoed_by_the_line_are_counted_and_change_nothing() {
    let (mut peer, path) = Peer::new();
    let mut link = Link::spawn(config(&path)).unwrap();
    wait_until("the link to open", || link.stats().connected);
    // What a half-duplex adapter hands back: the device's own kinds of sentence.
    peer.send(&Sentence::Clear { seq: 40 });
    peer.send(&Sentence::Event(arts::Event {
        seq: 41,
        class_id: 3,
        label: arts::Label::sanitize("kip"),
        conf: 900,
        t_ms: 5,
    }));
    wait_until("both echoes", || link.stats().echoed == 2);
    assert_eq!(link.stats().dropped, 0);
    // Nothing was sent for them: the first state the board sees has seq 0.
    link.action(&action(2, "kip", 0.7, 1)).unwrap();
    assert_eq!(peer.next_state().seq(), Some(0));
    wait_until("the event to be counted", || link.stats().sent >= 1);
    assert_eq!(link.stats().sent, 1);
}

#[test]
fn a_newer_event_supersedes_one_still_waiting() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.resend_interval_ms = 20;
    c.max_resends = 10_000;
    let mut link = Link::spawn(c).unwrap();
    link.action(&action(1, "old", 0.6, 1)).unwrap();
    let old = peer.next_state();
    assert_eq!(old.seq(), Some(0));
    // Let it be re-sent at least once, unacknowledged.
    assert_eq!(peer.next_state(), old);
    link.action(&action(2, "new", 0.9, 2)).unwrap();
    // Whatever of `old` was already on its way, once `new` arrives only `new` follows.
    let mut new = peer.next_state();
    while new == old {
        new = peer.next_state();
    }
    let Sentence::Event(ev) = &new else {
        panic!("expected ARTEV, got {new:?}")
    };
    assert_eq!((ev.class_id, ev.label.as_str()), (2, "new"));
    assert_ne!(new.seq(), old.seq());
    for _ in 0..5 {
        assert_eq!(peer.next_state(), new);
    }
    // An acknowledgement of `old` no longer counts; one of `new` ends the re-sends.
    peer.send(&Sentence::Ack {
        seq: old.seq().unwrap(),
    });
    peer.send(&Sentence::Ack {
        seq: new.seq().unwrap(),
    });
    wait_until("the acknowledgement of `new`", || link.stats().acked == 1);
    let stats = link.stats();
    assert_eq!(
        (stats.acked, stats.gave_up, stats.awaiting_ack),
        (1, 0, None)
    );
}

#[test]
fn seq_wraps_after_65535() {
    let (mut peer, path) = Peer::new();
    let mut link = Link::spawn_at(config(&path), 65534).unwrap();
    let mut seqs = Vec::new();
    for i in 0..4 {
        link.action(&action(i, "x", 0.5, u32::from(i))).unwrap();
        seqs.push(peer.next_state().seq().unwrap());
    }
    assert_eq!(seqs, [65534, 65535, 0, 1]);
}

/// Points the symbolic link `link` at `target`, replacing it in one step.
fn repoint(link: &Path, target: &str) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

/// Takes the board behind the name `port` away. The name is pointed
/// nowhere first: a pseudo-terminal's number is reused by the next one
/// opened, which may be another test's board.
fn unplug(port: &Path, board: Emulator) {
    repoint(port, "/nonexistent/scoreboard");
    board.stop();
}

fn shown(emulator: &Emulator) -> Vec<Option<(u16, String)>> {
    emulator
        .history()
        .into_iter()
        .map(|s| s.action.map(|a| (a.class_id, a.label)))
        .collect()
}

fn show_and_wait(link: &mut Link, emulator: &Emulator, class_id: u16) {
    link.action(&action(
        class_id,
        &format!("element {class_id}"),
        0.8,
        u32::from(class_id),
    ))
    .unwrap();
    let want = Some(ShownAction {
        class_id,
        label: format!("element {class_id}"),
        conf: 800,
    });
    wait_until(&format!("element {class_id} on the panel"), || {
        emulator.panel().action == want
    });
}

#[test]
fn the_board_vanishing_and_coming_back_loses_nothing_after_its_return() {
    for ack in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let port = dir.path().join("scoreboard");
        let first = emulator::spawn_pty(ack).unwrap();
        repoint(&port, first.path());
        let mut c = config(port.to_str().unwrap());
        c.acknowledged = ack;
        c.heartbeat_interval_ms = 50;
        let mut link = Link::spawn(c).unwrap();
        link.health(&Health {
            uptime_s: 0,
            fps: 30.0,
            backend: BackendKind::OrtCpu,
            status: Status::Ok,
            camera: None,
        })
        .unwrap();
        show_and_wait(&mut link, &first, 1);
        show_and_wait(&mut link, &first, 2);

        // The board goes away: its pseudo-terminal is closed.
        unplug(&port, first);
        wait_until("the link to notice the loss", || link.stats().lost >= 1);
        // An element recognised while it is away.
        link.action(&action(3, "element 3", 0.8, 3)).unwrap();

        // It comes back on a new pseudo-terminal under the same name.
        let second = emulator::spawn_pty(ack).unwrap();
        repoint(&port, second.path());
        wait_until("the link to reopen", || link.stats().opened >= 2);
        for class_id in 4..10 {
            show_and_wait(&mut link, &second, class_id);
        }
        let got = shown(&second);
        let after: Vec<_> = (4..10).map(|i| Some((i, format!("element {i}")))).collect();
        assert!(got.ends_with(&after), "ack={ack}: {got:?}");
        // What was shown while it was away is the first thing it shows.
        assert_eq!(
            got.iter().find(|s| s.is_some()),
            Some(&Some((3, "element 3".to_string()))),
            "ack={ack}: {got:?}"
        );
        wait_until("a heartbeat at the new board", || {
            second.panel().device.is_some()
        });
        link.close();
    }
}

/// Copies bytes from `from` to `to`, flipping one random bit of a byte with
/// probability `rate`, until `stop` is set.
fn corrupting_relay(
    mut from: TTYPort,
    mut to: TTYPort,
    seed: u64,
    rate: f64,
    stop: Arc<AtomicBool>,
    flipped: Arc<AtomicU64>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut buf = [0u8; 64];
        from.set_timeout(Duration::from_millis(20)).unwrap();
        while !stop.load(Ordering::Relaxed) {
            let n = match from.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                // The link has the far end closed for a moment.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            for b in &mut buf[..n] {
                if rng.random_bool(rate) {
                    *b ^= 1 << rng.random_range(0..8);
                    flipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = to.write_all(&buf[..n]);
        }
    })
}

fn seed() -> u64 {
    std::env::var("ARTRT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5C04E)
}

/// A board emulator behind a relay that flips bits both ways.
struct NoisyLine {
    board: Emulator,
    /// The path the link opens.
    path: String,
    stop: Arc<AtomicBool>,
    flipped: Arc<AtomicU64>,
    relays: Vec<JoinHandle<()>>,
}

impl NoisyLine {
    /// Link <-> pair A <-> relay (flips bits both ways) <-> pair B <-> emulator.
    fn new(seed: u64, rate: f64) -> NoisyLine {
        let (master_a, device_a) = TTYPort::pair().unwrap();
        let path = device_a.name().unwrap();
        drop(device_a);
        let (master_b, device_b) = TTYPort::pair().unwrap();
        let path_b = device_b.name().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flipped = Arc::new(AtomicU64::new(0));
        let relays = vec![
            corrupting_relay(
                master_a.try_clone_native().unwrap(),
                device_b.try_clone_native().unwrap(),
                seed,
                rate,
                stop.clone(),
                flipped.clone(),
            ),
            corrupting_relay(
                device_b,
                master_a,
                seed ^ 1,
                rate,
                stop.clone(),
                flipped.clone(),
            ),
        ];
        let board = emulator::spawn_on(master_b, path_b, true).unwrap();
        NoisyLine {
            board,
            path,
            stop,
            flipped,
            relays,
        }
    }

    /// A link to the board in acknowledged mode, re-sending after 40 ms,
    /// with heartbeats every 30 ms, once heartbeats come through and
    /// nothing waits for an acknowledgement; `tweak` adjusts the config.
    fn link(&self, tweak: impl FnOnce(&mut LinkConfig)) -> Link {
        let mut c = config(&self.path);
        c.acknowledged = true;
        c.resend_interval_ms = 40;
        c.heartbeat_interval_ms = 30;
        tweak(&mut c);
        let mut link = Link::spawn(c).unwrap();
        link.health(&Health {
            uptime_s: 0,
            fps: 30.0,
            backend: BackendKind::Cuda,
            status: Status::Ok,
            camera: None,
        })
        .unwrap();
        wait_until("heartbeats through the relay", || {
            self.board.stats().heartbeats >= 3
        });
        wait_until("the link to settle", || link.stats().awaiting_ack.is_none());
        link
    }

    fn close(self) {
        self.board.stop();
        self.stop.store(true, Ordering::Relaxed);
        for r in self.relays {
            r.join().unwrap();
        }
    }
}

/// Whether the link has taken `recognised` elements and each is shown,
/// superseded or lost.
fn settled(link: &Link, recognised: u64) -> bool {
    let e = link.stats().elements;
    e.recognised == recognised && e.pending() == 0
}

/// The actions in a board's history, each run of repeats (an element offered
/// again as a new sentence) counted once.
fn actions_shown(history: &[Shown]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    let mut last = None;
    for s in history {
        let now = s.action.as_ref().map(|a| a.class_id);
        if now != last
            && let Some(id) = now
        {
            out.push(id);
        }
        last = now;
    }
    out
}

#[test]
fn a_corrupting_line_shows_every_element_under_the_display_policy() {
    let seed = seed();
    let line = NoisyLine::new(seed ^ 0xD15, 0.01);
    let mut link = line.link(|c| c.display_ms = 2000);
    let elements = 30u16;
    for i in 0..elements {
        let label = format!("element {i} with a longer label");
        link.action(&action(i, &label, 0.75, u32::from(i) * 1000))
            .unwrap();
        // As the decision does: the clear follows at once; the policy holds it.
        link.clear(&clear(u32::from(i) * 1000 + 200)).unwrap();
        wait_until(&format!("element {i} to be shown or given up"), || {
            settled(&link, u64::from(i) + 1)
        });
    }
    let counts = link.stats().elements;
    link.close();
    let history = line.board.history();
    assert_eq!(
        actions_shown(&history),
        (0..elements).collect::<Vec<_>>(),
        "seed {seed}"
    );
    assert_eq!(
        (
            counts.recognised,
            counts.shown,
            counts.superseded,
            counts.lost()
        ),
        (u64::from(elements), u64::from(elements), 0, 0),
        "seed {seed}: {counts}"
    );
    assert!(line.flipped.load(Ordering::Relaxed) > 0);
    assert!(line.board.stats().dropped > 0, "seed {seed}");
    line.close();
}

#[test]
fn a_corrupting_line_still_delivers_every_event_exactly_once_in_acknowledged_mode() {
    let seed = seed();
    let line = NoisyLine::new(seed, 0.01);
    let mut link = line.link(|c| c.max_resends = 50);
    let board = &line.board;
    let before = board.history().len();
    let acked_before = link.stats().acked;

    let mut expected = Vec::new();
    for i in 0..24u16 {
        if i % 4 == 3 {
            link.clear(&clear(u32::from(i))).unwrap();
            expected.push(None);
        } else {
            let label = format!("element {i} with a longer label");
            link.action(&action(i, &label, 0.75, u32::from(i) * 1000))
                .unwrap();
            expected.push(Some((
                i,
                arts::Label::sanitize(&label).as_str().to_string(),
            )));
        }
        // Each one acknowledged before the next, so nothing is superseded.
        wait_until(&format!("ARTAK for sentence {i}"), || {
            let s: LinkStats = link.stats();
            s.awaiting_ack.is_none() && s.acked > acked_before + u64::from(i)
        });
    }
    let history: Vec<Shown> = board.history().into_iter().skip(before).collect();
    let got: Vec<_> = history
        .iter()
        .map(|s| s.action.clone().map(|a| (a.class_id, a.label)))
        .collect();
    assert_eq!(got, expected, "seed {seed}");
    let (link_stats, board_stats) = (link.stats(), board.stats());
    assert_eq!(link_stats.gave_up, 0);
    // The line really was damaged, and re-sends made up for it.
    assert!(line.flipped.load(Ordering::Relaxed) > 0);
    assert!(board_stats.dropped > 0, "seed {seed}: {board_stats:?}");
    assert!(link_stats.resent > 0, "seed {seed}: {link_stats:?}");
    link.close();
    line.close();
}

#[test]
fn a_port_that_does_not_exist_yet_is_opened_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let port: PathBuf = dir.path().join("scoreboard");
    let mut link = Link::spawn(config(port.to_str().unwrap())).unwrap();
    link.action(&action(9, "late", 0.9, 9)).unwrap();
    wait_until("a failed open", || link.stats().failed_opens >= 1);
    let board = emulator::spawn_pty(false).unwrap();
    repoint(&port, board.path());
    wait_until("the state on the panel", || {
        board.panel().action.as_ref().map(|a| a.label.as_str()) == Some("late")
    });
    assert_eq!(link.stats().opened, 1);
}

#[test]
fn a_clear_waits_for_the_display_time_after_the_acknowledgement() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.resend_interval_ms = 20;
    c.max_resends = 1;
    c.display_ms = 2000;
    let display = Duration::from_millis(c.display_ms);
    let mut link = Link::spawn(c).unwrap();
    link.action(&action(4, "kip", 0.9, 10)).unwrap();
    link.clear(&clear(210)).unwrap();
    let first = peer.next_state();
    // No ARTAK: re-sent once with its seq, then offered again as a new sentence.
    assert_eq!(peer.next_state(), first);
    let again = peer.next_state();
    let (Sentence::Event(a), Sentence::Event(b)) = (&first, &again) else {
        panic!("expected ARTEV twice, got {first:?} and {again:?}")
    };
    assert_ne!(a.seq, b.seq);
    assert_eq!(
        arts::Event {
            seq: a.seq,
            ..b.clone()
        },
        *a
    );
    let acked_at = Instant::now();
    peer.send(&Sentence::Ack { seq: b.seq });
    // Then only this element's re-sends, until the clear.
    let clear = loop {
        match peer.next_state() {
            Sentence::Event(e) => assert_eq!(e.class_id, 4),
            other => break other,
        }
    };
    assert!(matches!(clear, Sentence::Clear { .. }), "{clear:?}");
    assert!(acked_at.elapsed() >= display);
    peer.send(&Sentence::Ack {
        seq: clear.seq().unwrap(),
    });
    wait_until("the clear's acknowledgement", || {
        link.stats().awaiting_ack.is_none()
    });
    let stats = link.stats();
    assert!(stats.reoffered >= 1, "{stats:?}");
    assert_eq!(
        (
            stats.elements.recognised,
            stats.elements.shown,
            stats.elements.lost()
        ),
        (1, 1, 0)
    );
}

#[test]
fn a_clear_never_replaces_an_element_no_board_acknowledged_within_its_display_time() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.acknowledged = true;
    c.resend_interval_ms = 20;
    c.max_resends = 2;
    c.display_ms = 600;
    let display = Duration::from_millis(c.display_ms);
    let mut link = Link::spawn(c).unwrap();
    let handed = Instant::now();
    link.action(&action(5, "kip", 0.9, 10)).unwrap();
    link.clear(&clear(210)).unwrap();
    let clear = loop {
        match peer.next_state() {
            Sentence::Event(e) => assert_eq!(e.class_id, 5),
            other => break other,
        }
    };
    assert!(matches!(clear, Sentence::Clear { .. }), "{clear:?}");
    assert!(handed.elapsed() >= display);
    wait_until("the element to be counted lost", || {
        link.stats().elements.lost() == 1
    });
    let e = link.stats().elements;
    assert_eq!(
        (
            e.recognised,
            e.shown,
            e.lost_unacknowledged,
            e.lost_line_down
        ),
        (1, 0, 1, 0),
        "{e}"
    );
}

#[test]
fn in_plain_mode_an_element_is_held_for_its_display_time() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.display_ms = 300;
    let display = Duration::from_millis(c.display_ms);
    let mut link = Link::spawn(c).unwrap();
    let handed = Instant::now();
    link.action(&action(1, "one", 0.9, 10)).unwrap();
    link.clear(&clear(200)).unwrap();
    assert!(matches!(peer.next_state(), Sentence::Event(e) if e.class_id == 1));
    assert!(matches!(peer.next_state(), Sentence::Clear { .. }));
    assert!(handed.elapsed() >= display);
    let e = link.stats().elements;
    assert_eq!((e.recognised, e.shown, e.lost()), (1, 1, 0), "{e}");
}

#[test]
fn without_a_display_time_an_element_still_goes_out_before_its_clear() {
    for ack in [false, true] {
        let (mut peer, path) = Peer::new();
        let mut c = config(&path);
        c.acknowledged = ack;
        c.resend_interval_ms = 10_000;
        let mut link = Link::spawn(c).unwrap();
        wait_until("the link to open", || link.stats().connected);
        link.action(&action(6, "kip", 0.9, 10)).unwrap();
        link.clear(&clear(11)).unwrap();
        assert!(matches!(peer.next_state(), Sentence::Event(e) if e.class_id == 6));
        if ack {
            // Acknowledged late: the clear still waited for the event to go out.
            let clear = peer.next_state();
            assert!(matches!(clear, Sentence::Clear { .. }), "{clear:?}");
        } else {
            assert!(matches!(peer.next_state(), Sentence::Clear { .. }));
        }
        wait_until("the element counted", || {
            link.stats().elements.pending() == 0 && link.stats().elements.recognised == 1
        });
        let e = link.stats().elements;
        let want = if ack { (0, 0, 1) } else { (1, 0, 0) };
        assert_eq!(
            (e.shown, e.lost_line_down, e.lost_unacknowledged),
            want,
            "ack={ack}: {e}"
        );
    }
}

#[test]
fn a_newer_element_replaces_one_whose_clear_is_waiting_at_once() {
    let (mut peer, path) = Peer::new();
    let mut c = config(&path);
    c.display_ms = 600_000;
    let mut link = Link::spawn(c).unwrap();
    link.action(&action(2, "two", 0.9, 1000)).unwrap();
    wait_until("element 2 shown", || link.stats().elements.shown == 1);
    link.clear(&clear(1200)).unwrap();
    link.action(&action(3, "three", 0.9, 1300)).unwrap();
    assert!(matches!(peer.next_state(), Sentence::Event(e) if e.class_id == 2));
    assert!(matches!(peer.next_state(), Sentence::Event(e) if e.class_id == 3));
    wait_until("element 3 shown", || link.stats().elements.shown == 2);
    let e = link.stats().elements;
    assert_eq!((e.recognised, e.superseded, e.lost()), (2, 0, 0), "{e}");
}

/// Runs `cycles` outages of the board: during each, an element is recognised
/// and cleared; the board comes back on a new pseudo-terminal under the same
/// name. Returns the link's counts and every board's actions.
fn unplug_cycles(
    ack: bool,
    cycles: u16,
    display_ms: u64,
    outage: Duration,
) -> (LinkStats, Vec<u16>) {
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("scoreboard");
    let mut board = emulator::spawn_pty(ack).unwrap();
    repoint(&port, board.path());
    let mut c = config(port.to_str().unwrap());
    c.acknowledged = ack;
    c.display_ms = display_ms;
    let mut link = Link::spawn(c).unwrap();
    wait_until("the link to open", || link.stats().connected);
    let mut shown = Vec::new();
    for i in 0..cycles {
        let lost_before = link.stats().lost;
        unplug(&port, board);
        wait_until("the link to notice the loss", || {
            link.stats().lost > lost_before
        });
        link.action(&action(i, &format!("element {i}"), 0.8, u32::from(i) * 100))
            .unwrap();
        link.clear(&clear(u32::from(i) * 100 + 50)).unwrap();
        std::thread::sleep(outage);
        board = emulator::spawn_pty(ack).unwrap();
        repoint(&port, board.path());
        wait_until(&format!("element {i} to be settled"), || {
            settled(&link, u64::from(i) + 1)
        });
        wait_until("the board to be given the state", || {
            let s = link.stats();
            s.connected && s.awaiting_ack.is_none() && !board.history().is_empty()
        });
        shown.extend(actions_shown(&board.history()));
    }
    let stats = link.stats();
    link.close();
    board.stop();
    (stats, shown)
}

#[test]
fn elements_recognised_during_outages_are_shown_when_the_line_is_back() {
    for (ack, cycles) in [(true, 30u16), (false, 10)] {
        let (stats, shown) = unplug_cycles(ack, cycles, 600_000, Duration::ZERO);
        assert_eq!(shown, (0..cycles).collect::<Vec<_>>(), "ack={ack}");
        let e = stats.elements;
        assert_eq!(
            (e.recognised, e.shown, e.superseded, e.lost()),
            (u64::from(cycles), u64::from(cycles), 0, 0),
            "ack={ack}: {e}"
        );
        assert!(stats.lost >= u64::from(cycles), "{stats:?}");
    }
}

#[test]
fn an_element_whose_display_time_passed_during_an_outage_is_counted_lost() {
    let (stats, shown) = unplug_cycles(true, 3, 50, Duration::from_millis(100));
    assert!(shown.is_empty(), "{shown:?}");
    let e = stats.elements;
    assert_eq!(
        (
            e.recognised,
            e.shown,
            e.lost_line_down,
            e.lost_unacknowledged
        ),
        (3, 0, 3, 0),
        "{e}"
    );
}

#[test]
fn an_element_not_yet_shown_when_the_link_stops_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let link = {
        let mut link = Link::spawn(config(dir.path().join("absent").to_str().unwrap())).unwrap();
        link.action(&action(1, "kip", 0.9, 1)).unwrap();
        link.action(&action(2, "kip", 0.9, 2)).unwrap();
        link
    };
    let counters = link.counters();
    link.close();
    let e = counters.get().elements;
    assert_eq!(
        (e.recognised, e.superseded, e.lost_at_stop, e.pending()),
        (2, 1, 1, 0),
        "{e}"
    );
}
