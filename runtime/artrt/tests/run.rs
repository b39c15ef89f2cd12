//! `artrt run` end to end: the committed bundle, the synthetic stream, the
//! built-in scoreboard emulator, stopped by a signal; what the heartbeats
//! report while the model loads and on a fallback backend.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{artrt, repo};

/// `artrt run` on the synthetic stream, as fast as it goes, to the built-in emulator.
fn synthetic_run() -> Command {
    let mut cmd = artrt();
    cmd.args([
        "run",
        "--board",
        "x86-64-cpu",
        "--source",
        "synthetic:5",
        "--scoreboard",
        "emulator",
        "--fast",
    ]);
    cmd
}

#[test]
fn sigterm_stops_a_run_cleanly_and_flushes_the_event_log() {
    stops_cleanly_on("TERM");
}

/// A service manager's SIGHUP stops the run as SIGTERM does, summary included.
#[test]
fn sighup_stops_a_run_cleanly_too() {
    stops_cleanly_on("HUP");
}

/// A closed standard output ends a command quietly: no panic.
#[test]
fn a_closed_pipe_ends_infer_quietly() {
    let bundle = repo().join("runtime/bundles/art-tiny-gym");
    let dir = tempfile::tempdir().unwrap();
    // Any folder of JPEG frames is a clip: here sixteen plain ones.
    let frames = dir.path().join("clip");
    std::fs::create_dir(&frames).unwrap();
    let jpeg = image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 200]));
    for k in 1..=16 {
        jpeg.save(frames.join(format!("img_{k:05}.jpg"))).unwrap();
    }
    let mut child = artrt()
        .args(["infer", "--backend", "tract", "--clip"])
        .arg(&frames)
        .arg("--bundle")
        .arg(&bundle)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.success() || out.status.signal() == Some(13),
        "{:?}: {stderr}",
        out.status
    );
}

/// Runs the synthetic stream, sends `signal` once frames flow, and checks
/// the clean stop: exit 0, a summary with clips, a complete event log.
fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut child = synthetic_run()
        .arg("--no-panel")
        .arg("--events")
        .arg(&events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    // Wait until frames flow, then let it classify a while.
    let started = rx.iter().any(|line| line.contains("frames from"));
    assert!(started, "artrt run never started its source");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "artrt run exited on its own"
    );
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert!(exit.success(), "artrt run failed after SIG{signal}: {log}");
    assert!(
        log.contains("stopped after"),
        "no summary in the log: {log}"
    );
    let summary = log
        .lines()
        .find(|l| l.contains("cam0: ") && l.contains(" clips ("))
        .unwrap_or_else(|| panic!("no camera summary in the log: {log}"));
    assert!(
        !summary.contains(" 0 clips"),
        "no clip was classified: {summary}"
    );
    assert!(summary.ends_with("last on ort-cpu"), "{summary}");
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the event log ends mid-line: {text:?}"
    );
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            matches!(value["type"].as_str(), Some("action" | "clear")),
            "{line}"
        );
    }
}

#[test]
fn a_bad_board_profile_is_refused_with_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("bad.toml");
    let good = std::fs::read_to_string(repo().join("boards/x86-64-cpu.toml")).unwrap();
    let bad = good.replace("[clip]\n", "[clip]\nwindoww = 3\n");
    let line = bad.lines().position(|l| l.starts_with("windoww")).unwrap() + 1;
    std::fs::write(&profile, bad).unwrap();
    let out = artrt()
        .args(["run", "--board"])
        .arg(&profile)
        .args(["--duration", "1"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        log.contains(&format!("bad.toml:{line}:")),
        "no line {line} in: {log}"
    );
    assert!(log.contains("windoww"), "{log}");
}

#[test]
fn an_output_named_twice_or_on_a_busy_address_is_refused_at_start() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    for (args, expected) in [
        (
            vec![
                "--publish",
                "udp://127.0.0.1:5005",
                "--publish",
                "udp://127.0.0.1:5005/",
            ],
            "outputs.publish: lists `udp://127.0.0.1:5005` twice".to_string(),
        ),
        (
            vec!["--publish", &format!("http://127.0.0.1:{port}")],
            format!("cannot start output http://127.0.0.1:{port}"),
        ),
    ] {
        let out = synthetic_run()
            .args(&args)
            .args(["--duration", "30"])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(log.contains(&expected), "{args:?}: {log}");
    }
}

#[test]
fn two_sources_are_two_cameras_on_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out = synthetic_run()
        .args([
            "--source",
            "synthetic:6",
            "--duration",
            "20",
            "--no-panel",
            "--events",
        ])
        .arg(&events)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for camera in ["cam0", "cam1"] {
        let actions = lines
            .iter()
            .filter(|v| v["camera"] == camera && v["type"] == "action")
            .count();
        assert!(actions > 0, "no action from {camera}: {log}");
        assert!(
            log.contains(&format!("{camera}: frames from synthetic")),
            "{log}"
        );
    }
    // cam0 keeps the built-in scoreboard; cam1 has none.
    assert!(log.contains("cam0: scoreboard:"), "{log}");
    assert!(!log.contains("cam1: scoreboard:"), "{log}");
    let seqs: Vec<u64> = lines.iter().filter_map(|v| v["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let out = synthetic_run()
        .args(["--source", "synthetic:5", "--duration", "30"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        log.contains("cameras[0].source: `synthetic:5` is already camera cam0"),
        "{log}"
    );
}

/// With one CPU thread the two cameras share one inference thread, and the
/// bundle's ONNX Runtime file takes both their clips in one call; each
/// camera's events are those it gets on replicas of the model.
#[test]
fn cameras_on_one_inference_thread_share_each_call_of_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let events = dir.path().join(format!("events-{threads}.jsonl"));
        let out = synthetic_run()
            .args(["--source", "synthetic:6", "--backend", "ort-cpu"])
            .args([
                "--threads",
                threads,
                "--duration",
                "15",
                "--no-panel",
                "--events",
            ])
            .arg(&events)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        let actions = |camera: &str| -> Vec<(String, u64)> {
            std::fs::read_to_string(&events)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["camera"] == camera && v["type"] == "action")
                .map(|v| {
                    (
                        v["label"].as_str().unwrap().to_string(),
                        v["t_ms"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        (log, actions("cam0"), actions("cam1"))
    };
    let (batched, b0, b1) = run("1");
    assert!(
        batched.contains(
            "2 cameras on one inference thread, up to 2 clips in each call of the ort-cpu model"
        ),
        "{batched}"
    );
    let (replicas, r0, r1) = run("2");
    assert!(
        replicas.contains("2 cameras on 2 inference threads"),
        "{replicas}"
    );
    // The runs last as long in time, not in stream: the shorter one's
    // actions begin the longer one's.
    for (a, b) in [(&b0, &r0), (&b1, &r1)] {
        let n = a.len().min(b.len());
        assert!(n > 0, "{batched}\n{replicas}");
        assert_eq!(a[..n], b[..n]);
    }
}

#[test]
fn a_missing_model_keeps_the_runtime_up_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let out = artrt()
        .args([
            "run",
            "--board",
            "x86-64-cpu",
            "--scoreboard",
            "none",
            "--duration",
            "2",
            "--bundle",
        ])
        .arg(dir.path().join("no-such-bundle"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "artrt run went down without a model: {log}"
    );
    assert!(log.contains("no usable model"), "{log}");
    assert!(
        log.contains("no-such-bundle"),
        "the error does not name the bundle: {log}"
    );
    assert!(log.contains("without a usable model"), "{log}");
}

#[test]
fn heartbeats_say_nomodel_while_loading_then_degraded_on_a_fallback_backend() {
    let out = synthetic_run()
        .args([
            "--duration",
            "10",
            "--events",
            "/dev/null",
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("ort-cpu refused"), "{log}");
    let device_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("NOMODEL") || l.starts_with("DEGRADED") || l.starts_with("OK"))
        .collect();
    assert!(
        device_lines
            .first()
            .is_some_and(|l| l.starts_with("NOMODEL ort-cpu")),
        "the board heard nothing while the model loaded: {device_lines:?}"
    );
    assert!(
        device_lines.iter().any(|l| l.starts_with("DEGRADED tract")),
        "tract serving in place of ort-cpu is not reported as DEGRADED: {device_lines:?}"
    );
    assert!(
        !device_lines.iter().any(|l| l.starts_with("OK")),
        "a fallback backend reported OK: {device_lines:?}"
    );
}

/// With an HTTP output, an operator sees each camera's newest clip with
/// where the tracklets look at `/preview.png`.
#[test]
fn the_http_output_serves_each_cameras_preview() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut child = synthetic_run()
        .args([
            "--source",
            "synthetic:6",
            "--no-panel",
            "--events",
            "/dev/null",
        ])
        .args(["--duration", "120"])
        .args(["--publish", &format!("http://127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let status = String::from_utf8_lossy(&raw[..split])
            .split(' ')
            .nth(1)?
            .parse()
            .ok()?;
        Some((status, raw[split + 4..].to_vec()))
    };
    // The model loads, then each camera's first clip is previewed.
    let mut previews = Vec::new();
    for _ in 0..1200 {
        previews = ["cam0", "cam1"]
            .iter()
            .filter_map(|camera| get(&format!("/preview.png?camera={camera}")))
            .filter(|(status, _)| *status == 200)
            .collect();
        if previews.len() == 2 || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(previews.len(), 2, "both cameras previewed");
    for (_, png) in previews {
        let img = image::load_from_memory(&png).expect("a PNG").into_rgb8();
        // T = 8 frames of 112 x 112 at twice their size, 4 to a row.
        assert!(
            img.width() > 4 * 224 && img.height() > 2 * 224,
            "{:?}",
            img.dimensions()
        );
    }
}
