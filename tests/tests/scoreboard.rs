//! The ARTS/1 scoreboard link against real pseudo-terminal pairs: the exact
//! bytes on the wire, `ARTRQ`, acknowledged mode with re-sends, `ARTNK` and
//! supersession, `seq` wrapping, echoed device sentences, the board vanishing
//! and coming back, and a line that corrupts bytes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use artrt_infer::BackendKind;
use artrt_live::scoreboard::{Link, LinkConfig, LinkStats};
use artrt_live::sink::{ActionEvent, EventSink, Health, Status};
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
    })
    .unwrap();
    assert_eq!(peer.next_raw(), b"$ARTHB,18,3600,300,trt,OK*4EFA\r\n");
    link.clear(900_000).unwrap();
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
        })
        .unwrap();
        show_and_wait(&mut link, &first, 1);
        show_and_wait(&mut link, &first, 2);

        // The board goes away: its pseudo-terminal is closed.
        first.stop();
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

#[test]
fn a_corrupting_line_still_delivers_every_event_exactly_once_in_acknowledged_mode() {
    // Link <-> pair A <-> relay (flips bits both ways) <-> pair B <-> emulator.
    let (master_a, device_a) = TTYPort::pair().unwrap();
    let path_a = device_a.name().unwrap();
    drop(device_a);
    let (master_b, device_b) = TTYPort::pair().unwrap();
    let path_b = device_b.name().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipped = Arc::new(AtomicU64::new(0));
    let seed = seed();
    let rate = 0.01;
    let relays = [
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

    let mut c = config(&path_a);
    c.acknowledged = true;
    c.resend_interval_ms = 40;
    c.max_resends = 50;
    c.heartbeat_interval_ms = 30;
    let mut link = Link::spawn(c).unwrap();
    link.health(&Health {
        uptime_s: 0,
        fps: 30.0,
        backend: BackendKind::Cuda,
        status: Status::Ok,
    })
    .unwrap();
    wait_until("heartbeats through the relay", || {
        board.stats().heartbeats >= 3
    });
    wait_until("the link to settle", || link.stats().awaiting_ack.is_none());
    let before = board.history().len();
    let acked_before = link.stats().acked;

    let mut expected = Vec::new();
    for i in 0..24u16 {
        if i % 4 == 3 {
            link.clear(u32::from(i)).unwrap();
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
    assert!(flipped.load(Ordering::Relaxed) > 0);
    assert!(board_stats.dropped > 0, "seed {seed}: {board_stats:?}");
    assert!(link_stats.resent > 0, "seed {seed}: {link_stats:?}");
    link.close();
    board.stop();
    stop.store(true, Ordering::Relaxed);
    for r in relays {
        r.join().unwrap();
    }
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
