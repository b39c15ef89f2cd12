//! `artrt label` in a real browser (Debian's Chromium, driven through its
//! chromedriver): an operator adds, moves, relabels and deletes elements
//! with keys and mouse, accepts a proposal, saves, and reloads; the page's
//! labels must then be `labels.csv`'s, with the replaced file kept. Also the
//! server's answers to requests the page never sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use artrt_infer::Bundle;
use artrt_live::labels::{self, Label};
use artrt_live::recording::{self, Recording};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction,
};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

mod common;
use common::{artrt, repo, succeeded};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long anything the test waits for may take before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A child process killed when the test ends, however it ends.
/// Each runs in a process group of its own, so that the browser chromedriver
/// starts goes with it.
struct Running(Child);

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        Running(cmd.process_group(0).spawn().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: signals the process group of a child this test started.
        unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A 12-second synthetic recording.
fn recording(dir: &Path) -> PathBuf {
    let rec = dir.join("rec");
    let out = artrt()
        .args([
            "record",
            "--board",
            "x86-64-cpu",
            "--fast",
            "--duration",
            "12",
        ])
        .args(["--source", "synthetic:5", "--out"])
        .arg(&rec)
        .output()
        .unwrap();
    succeeded(out);
    rec
}

/// Frame boundaries in whole milliseconds, as the page rounds them: frame
/// `n` starts at `bounds[n]`, the last one ends at `bounds[frames]`.
fn bounds(rec: &Path) -> Vec<u64> {
    let recording = Recording::open(rec).unwrap();
    let mut b: Vec<u64> = recording
        .frames
        .iter()
        .map(|f| ((f.t.as_secs_f64() * 1e6).round() / 1e3).round() as u64)
        .collect();
    b.push(recording.duration_ms());
    b
}

/// Starts `artrt label` on a free port and returns it with its address.
fn serve(rec: &Path) -> (Running, String) {
    let mut server = Running::spawn(
        artrt()
            .args(["label", "--port", "0"])
            .arg(rec)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    (server, url)
}

/// Starts chromedriver and a headless Chromium session through it.
async fn browser(profile: &Path) -> (Running, Client) {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install Debian's chromium and chromium-driver (tests/run.sh does)"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Running::spawn(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1400,860",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let started = Instant::now();
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if started.elapsed() < PATIENCE => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not start a session: {e}"),
        }
    }
}

/// Presses each key in turn; a `(modifier, key)` pair as a chord.
async fn press(c: &Client, keys: &[&str]) {
    let mut actions = KeyActions::new("keyboard".into());
    for key in keys {
        for ch in key.chars() {
            actions = actions
                .then(KeyAction::Down { value: ch })
                .then(KeyAction::Up { value: ch });
        }
    }
    c.perform_actions(actions).await.unwrap();
}

async fn chord(c: &Client, modifier: Key, key: Key) {
    let (m, k) = (char::from(modifier), char::from(key));
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: m })
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k })
        .then(KeyAction::Up { value: m });
    c.perform_actions(actions).await.unwrap();
}

/// Opens the class search with `/`, types `text` and presses Enter.
async fn search(c: &Client, text: &str) {
    press(c, &["/"]).await;
    c.find(Locator::Id("search"))
        .await
        .unwrap()
        .send_keys(&format!("{text}{}", char::from(Key::Enter)))
        .await
        .unwrap();
}

fn key(k: Key, times: usize) -> String {
    std::iter::repeat_n(char::from(k), times).collect()
}

/// The page's labels, from the timeline.
async fn page_labels(c: &Client) -> Vec<Label> {
    let v = c
        .execute(
            "return Array.from(document.querySelectorAll('#lane-labels .seg'))\
             .map(e => ({start_ms: Number(e.dataset.start), end_ms: Number(e.dataset.end), label: e.dataset.label}))",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

async fn wait_for(c: &Client, css: &str) {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
}

async fn status(c: &Client) -> String {
    c.find(Locator::Id("status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn label(start_ms: u64, end_ms: u64, label: &str) -> Label {
    Label {
        start_ms,
        end_ms,
        label: label.into(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_operator_labels_a_recording_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    // The classes the page offers: the bundle's, "no element" aside.
    let classes = Bundle::load(repo().join("runtime/bundles/art-tiny-gym"))
        .unwrap()
        .action_labels();
    let rec = recording(dir.path());
    let b = bounds(&rec);
    let original = vec![
        label(b[30], b[45], &classes[4]),
        label(b[120], b[150], &classes[7]),
        label(b[300], b[330], &classes[1]),
    ];
    let proposal = label(b[200], b[230], &classes[5]);
    labels::write(&rec.join(recording::LABELS), &original).unwrap();
    labels::write(
        &rec.join(recording::PROPOSALS),
        std::slice::from_ref(&proposal),
    )
    .unwrap();
    let (mut server, url) = serve(&rec);
    let (_driver, c) = browser(&dir.path().join("chromium")).await;
    c.goto(&url).await.unwrap();
    wait_for(&c, "body[data-ready='1']").await;
    assert_eq!(page_labels(&c).await, original);

    // Add: the start at frame 60, the end at frame 80, class 3.
    press(
        &c,
        &[
            &key(Key::Home, 1),
            &key(Key::Right, 60),
            "[",
            &key(Key::Right, 20),
            "3",
            "]",
        ],
    )
    .await;
    let added = label(b[60], b[81], &classes[2]);
    // Relabel it by search: the first class that holds the text.
    let query = "forward pi";
    let searched = classes
        .iter()
        .find(|c| c.to_lowercase().contains(query))
        .unwrap()
        .clone();
    search(&c, query).await;
    let added = Label {
        label: searched,
        ..added
    };
    assert!(
        page_labels(&c).await.contains(&added),
        "{:?}",
        page_labels(&c).await
    );

    // Move the first element with the mouse, about ten frames later.
    let first = c
        .find(Locator::Css(&format!(
            "#lane-labels .seg[data-start='{}']",
            b[30]
        )))
        .await
        .unwrap();
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: first,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(200)),
            x: 40.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(mouse).await.unwrap();
    let moved = page_labels(&c).await[0].clone();
    let k = b
        .iter()
        .position(|&t| t == moved.start_ms)
        .expect("moved to a frame")
        - 30;
    assert!((3..=15).contains(&k), "moved {k} frames: {moved:?}");
    assert_eq!(moved, label(b[30 + k], b[45 + k], &classes[4]));

    // Move the second one two frames earlier with keys, then give it a new label.
    press(&c, &[&key(Key::Escape, 1), &key(Key::Tab, 3)]).await;
    let selected = c
        .find(Locator::Css("#lane-labels .seg.selected"))
        .await
        .unwrap();
    assert_eq!(
        selected.attr("data-start").await.unwrap(),
        Some(b[120].to_string())
    );
    chord(&c, Key::Alt, Key::Left).await;
    chord(&c, Key::Alt, Key::Left).await;
    search(&c, "round-off, flic-flac").await;
    let relabelled = label(b[118], b[148], "round-off, flic-flac");

    // Delete the last one: click it, press Delete.
    c.find(Locator::Css(&format!(
        "#lane-labels .seg[data-start='{}']",
        b[300]
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    press(&c, &[&key(Key::Delete, 1)]).await;

    // Accept the proposal.
    press(&c, &[&key(Key::Home, 1), "n", "a"]).await;

    // Save.
    press(&c, &["s"]).await;
    wait_for(&c, "body[data-saved]").await;
    let expected = vec![moved, added, relabelled, proposal.clone()];
    let saved = labels::read(&rec.join(recording::LABELS), None).unwrap();
    assert_eq!(saved, expected, "status: {}", status(&c).await);
    let kept = labels::read(&rec.join("labels.csv.bak"), None).unwrap();
    assert_eq!(kept, original);

    // Reloaded, the page shows what was saved.
    c.refresh().await.unwrap();
    wait_for(&c, "body[data-ready='1']").await;
    assert_eq!(page_labels(&c).await, expected);
    // The picture in the README: the second element selected, its first frame shown.
    press(&c, &[&key(Key::Tab, 2)]).await;
    let started = Instant::now();
    while c
        .execute(
            "return document.getElementById('frame').dataset.frame !== document.body.dataset.frame",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
    {
        assert!(started.elapsed() < PATIENCE, "the frame was never shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("label.png"),
        &png,
    )
    .unwrap();

    // A file changed behind the page's back is never overwritten.
    labels::write(&rec.join(recording::LABELS), &original).unwrap();
    press(&c, &[&key(Key::Delete, 1), "s"]).await;
    let started = Instant::now();
    while !status(&c).await.contains("changed since") {
        assert!(started.elapsed() < PATIENCE, "status: {}", status(&c).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        labels::read(&rec.join(recording::LABELS), None).unwrap(),
        original
    );
    c.close().await.unwrap();

    // SIGTERM stops the server cleanly.
    let pid = server.0.id() as libc::pid_t;
    // SAFETY: signals a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < PATIENCE, "still serving after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// One request on a fresh connection; the status code and body.
fn request(addr: &str, head: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        s,
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply);
    let code = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (code, body)
}

#[test]
fn the_server_refuses_what_the_page_never_sends() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path());
    let (_server, url) = serve(&rec);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let host = format!("Host: {addr}");
    let put = |body: &str| {
        request(
            addr,
            &format!("PUT /api/labels HTTP/1.1\r\n{host}\r\nContent-Type: application/json"),
            body,
        )
    };

    assert_eq!(
        request(addr, &format!("GET /frame/3 HTTP/1.1\r\n{host}"), "").0,
        200
    );
    let (code, body) = request(addr, &format!("GET /frame/360 HTTP/1.1\r\n{host}"), "");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("360 frames"), "{body}");
    assert_eq!(
        request(addr, &format!("POST /api/labels HTTP/1.1\r\n{host}"), "").0,
        405
    );
    assert_eq!(
        request(addr, &format!("DELETE /frame/3 HTTP/1.1\r\n{host}"), "").0,
        405
    );
    assert_eq!(
        request(addr, &format!("GET /etc/passwd HTTP/1.1\r\n{host}"), "").0,
        404
    );
    // Another name for this address, as a rebinding page would use.
    assert_eq!(
        request(addr, "GET /api/recording HTTP/1.1\r\nHost: example.com", "").0,
        403
    );
    // Not JSON, so a form elsewhere cannot post it.
    let (code, _) = request(
        addr,
        &format!("PUT /api/labels HTTP/1.1\r\n{host}\r\nContent-Type: text/plain"),
        r#"{"revision":"","labels":[]}"#,
    );
    assert_eq!(code, 415);

    let (code, body) = put(
        r#"{"revision":"","labels":[{"start_ms":0,"end_ms":500,"label":"a"},{"start_ms":400,"end_ms":900,"label":"b"}]}"#,
    );
    assert_eq!(code, 400);
    assert!(
        body.contains("element 2") && body.contains("before the element"),
        "{body}"
    );
    let (code, body) =
        put(r#"{"revision":"","labels":[{"start_ms":0,"end_ms":99000,"label":"a"}]}"#);
    assert_eq!(code, 400);
    assert!(body.contains("recording's end"), "{body}");
    let (code, body) = put(r#"{"revision":"","labels":[{"start_ms":-5,"end_ms":9,"label":"a"}]}"#);
    assert_eq!(code, 400, "{body}");
    assert!(!rec.join(recording::LABELS).exists());

    let (code, body) =
        put(r#"{"revision":"","labels":[{"start_ms":100,"end_ms":900,"label":"a"}]}"#);
    assert_eq!(code, 200, "{body}");
    let revision: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        labels::read(&rec.join(recording::LABELS), None).unwrap(),
        vec![label(100, 900, "a")]
    );
    // A save from an older revision is refused.
    let (code, body) = put(r#"{"revision":"","labels":[]}"#);
    assert_eq!(code, 409, "{body}");
    let (code, _) = put(&format!(
        r#"{{"revision":{},"labels":[]}}"#,
        revision["revision"]
    ));
    assert_eq!(code, 200);
    assert!(
        labels::read(&rec.join(recording::LABELS), None)
            .unwrap()
            .is_empty()
    );
}
