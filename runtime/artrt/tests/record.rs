//! `artrt record` end to end: a synthetic stream recorded with its ground
//! truth and replayed through the live path, the byte limit, a recording
//! killed mid-write, and what is refused.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use artrt_live::labels;
use artrt_live::recording::{self, Encoding, Recording};

mod common;
use common::{artrt, succeeded};

/// Records into `rec` and requires success.
fn record_ok(rec: &Path, extra: &[&str]) {
    succeeded(record(rec, extra));
}

fn record(out: &Path, extra: &[&str]) -> std::process::Output {
    artrt()
        .args(["record", "--board", "x86-64-cpu", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_synthetic_recording_keeps_its_truth_and_replays_through_the_live_path() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let out = record(
        &rec,
        &["--source", "synthetic:11", "--fast", "--duration", "12"],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("360 frames") && log.contains("the duration was reached"),
        "{log}"
    );

    let recording = Recording::open(&rec).unwrap();
    assert_eq!(recording.frames.len(), 360);
    assert_eq!(recording.meta.source, "synthetic:11");
    assert_eq!(recording.meta.encoding, Encoding::Jpeg);
    assert_eq!(recording.meta.frames, Some(360));
    assert_eq!(recording.frames[30].t, Duration::from_secs(1));
    let truth = labels::read(&rec.join(recording::TRUTH), Some(recording.duration_ms())).unwrap();
    assert!(truth.len() >= 3, "{truth:?}");

    // The live path names the recorded elements.
    let events = dir.path().join("events.jsonl");
    let run = artrt()
        .args([
            "run",
            "--board",
            "x86-64-cpu",
            "--scoreboard",
            "none",
            "--fast",
        ])
        .arg("--source")
        .arg(format!("recording:{}", rec.display()))
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let named: BTreeSet<String> = fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "action")
        .map(|v| v["label"].as_str().unwrap().to_owned())
        .collect();
    let shown = truth.iter().filter(|l| named.contains(&l.label)).count();
    assert!(
        2 * shown >= truth.len(),
        "{shown} of {} recorded elements named: {named:?}",
        truth.len()
    );
}

#[test]
fn the_byte_limit_ends_a_recording_cleanly_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let out = record(
        &rec,
        &["--source", "synthetic:2", "--fast", "--max-bytes", "1M"],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && log.contains("the byte limit was reached"),
        "{log}"
    );
    let size: u64 = [recording::FRAMES, recording::INDEX]
        .iter()
        .map(|f| fs::metadata(rec.join(f)).unwrap().len())
        .sum();
    assert!(size <= 1_000_000, "{size}");
    let recording = Recording::open(&rec).unwrap();
    assert!(recording.frames.len() > 10);
    assert_eq!(
        recording.meta.stopped.as_deref(),
        Some("the byte limit was reached")
    );
}

#[test]
fn a_killed_recording_stays_readable_up_to_its_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let mut child = artrt()
        .args([
            "record",
            "--board",
            "x86-64-cpu",
            "--source",
            "synthetic:4",
            "--out",
        ])
        .arg(&rec)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let index = rec.join(recording::INDEX);
    // Real-time pacing: wait for a second of frames, however slow the machine.
    while fs::read_to_string(&index).map_or(0, |t| t.lines().count()) < 31 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the recorder ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut recording = Recording::open(&rec).unwrap();
    assert!(recording.frames.len() >= 30);
    assert_eq!(
        recording.meta.frames, None,
        "a killed recording was never finished"
    );
    let mut image = Vec::new();
    for n in 0..recording.frames.len() {
        recording.read_frame(n, &mut image).unwrap();
    }
    let replay = artrt()
        .args([
            "run",
            "--board",
            "x86-64-cpu",
            "--scoreboard",
            "none",
            "--fast",
            "--events",
            "-",
        ])
        .arg("--source")
        .arg(format!("recording:{}", rec.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{log}");
    assert!(
        log.contains(&format!("{} frames", recording.frames.len())),
        "{log}"
    );
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    record_ok(
        &rec,
        &["--source", "synthetic", "--fast", "--duration", "0.5"],
    );
    let cases: [(&[&str], &str); 4] = [
        (
            &["--source", "synthetic", "--fast", "--duration", "1"],
            "a recording is already there",
        ),
        (&["--quality", "0"], "0 is not in 1..=100"),
        (&["--max-bytes", "10K"], "out of range"),
        (&["--duration=-3"], "out of range"),
    ];
    for (args, reason) in cases {
        let out = record(&rec, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(reason),
            "{args:?}: {err}"
        );
    }
    // Proposing with a bundle that cannot load is an error, not a wait.
    let broken = dir.path().join("no-bundle");
    let out = artrt()
        .args([
            "record",
            "--board",
            "x86-64-cpu",
            "--source",
            "synthetic",
            "--fast",
        ])
        .args(["--duration", "0.5", "--propose", "--bundle"])
        .arg(&broken)
        .arg("--out")
        .arg(dir.path().join("rec3"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no usable model"),
        "{err}"
    );
    // The refused second recording left the first one as it was.
    assert_eq!(Recording::open(&rec).unwrap().frames.len(), 15);
}

#[test]
fn a_recorded_synthetic_stream_scores_as_the_stream_itself() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    record_ok(
        &rec,
        &["--source", "synthetic:6", "--fast", "--duration", "40"],
    );
    let eval = |extra: &[&str], json: &Path| {
        let out = artrt()
            .args(["eval-stream", "--board", "x86-64-cpu", "--json"])
            .arg(json)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
        (report, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (live, _) = eval(
        &["--seed", "6", "--seconds", "40"],
        &dir.path().join("live.json"),
    );
    let recording = format!("{}", rec.display());
    let (replayed, printed) = eval(&["--recording", &recording], &dir.path().join("rec.json"));
    let count = |r: &serde_json::Value, key: &str| r["score"][key].as_i64().unwrap();
    // The recording's truth also holds an element cut off by its end.
    assert!((count(&replayed, "segments") - count(&live, "segments")).abs() <= 1);
    assert!(
        (count(&live, "matched") - count(&replayed, "matched")).abs() <= 1,
        "live {} against recorded {}",
        live["score"],
        replayed["score"]
    );
    assert!(
        replayed["labels_file"]
            .as_str()
            .unwrap()
            .ends_with("truth.csv")
    );
    let per_class = replayed["per_class"].as_array().unwrap();
    let matched: i64 = per_class
        .iter()
        .map(|c| c["matched"].as_i64().unwrap())
        .sum();
    assert_eq!(matched, count(&replayed, "matched"));
    assert!(
        printed.contains("% (") && printed.lines().count() > per_class.len(),
        "{printed}"
    );

    // Labels the bundle does not know count as missed elements, and labels
    // beyond the recording are refused with their line.
    fs::write(
        rec.join(recording::LABELS),
        "start_ms,end_ms,label\n1000,2000,a new element\n",
    )
    .unwrap();
    let (unknown, _) = eval(&["--recording", &recording], &dir.path().join("new.json"));
    assert_eq!(count(&unknown, "segments"), 1);
    assert_eq!(count(&unknown, "matched"), 0);
    fs::write(
        rec.join(recording::LABELS),
        "start_ms,end_ms,label\n1000,2000,x\n39000,99000,y\n",
    )
    .unwrap();
    let out = artrt()
        .args([
            "eval-stream",
            "--board",
            "x86-64-cpu",
            "--recording",
            &recording,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("labels.csv:3:"),
        "{err}"
    );
}

#[test]
fn a_labelled_recording_cuts_into_a_clip_set_the_bundle_classifies() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    record_ok(
        &rec,
        &["--source", "synthetic:8", "--fast", "--duration", "30"],
    );
    let truth = labels::read(&rec.join(recording::TRUTH), None).unwrap();
    let set = dir.path().join("set");
    let cut = artrt()
        .args(["cut", "--background", "4", "--out"])
        .arg(&set)
        .arg(&rec)
        .output()
        .unwrap();
    assert!(
        cut.status.success(),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    let opened = artrt_calibration::ClipSet::open(&set).unwrap();
    opened.verify().unwrap();
    let provenance = &opened.meta().provenance;
    assert_eq!(provenance.generator, "recorded");
    let sha = {
        use std::fmt::Write;
        let digest =
            <sha2::Sha256 as sha2::Digest>::digest(fs::read(rec.join(recording::TRUTH)).unwrap());
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    assert_eq!(provenance.labels_sha256.as_deref(), Some(sha.as_str()));
    let background = opened
        .labels()
        .iter()
        .position(|l| l == "no element")
        .unwrap();
    let counts = opened.class_counts();
    assert_eq!(counts[background], 4);
    assert!(
        counts.iter().sum::<usize>() - 4 >= truth.len() - 1,
        "{counts:?}"
    );
    for clip in opened.clips() {
        assert_eq!(clip.num_frames, 16);
    }

    let report = dir.path().join("eval.json");
    let eval = artrt()
        .args(["eval", "--set"])
        .arg(&set)
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let top1 = report["runs"][0]["top1"].as_f64().unwrap();
    // 16 clips: one or two confusions between twin elements are the model's;
    // clips cut off their elements would fall far lower.
    assert!(top1 >= 0.75, "top-1 {top1} on a cut synthetic recording");

    // A second cut into the same folder is refused and keeps the first.
    let again = artrt()
        .args(["cut", "--out"])
        .arg(&set)
        .arg(&rec)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(
        artrt_calibration::ClipSet::open(&set)
            .unwrap()
            .clips()
            .len(),
        opened.clips().len()
    );
}

#[test]
fn proposed_labels_are_the_events_the_live_path_sends_on_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    record_ok(
        &rec,
        &[
            "--source",
            "synthetic:3",
            "--fast",
            "--duration",
            "15",
            "--propose",
        ],
    );
    let duration = Recording::open(&rec).unwrap().duration_ms();
    let proposed = labels::read(&rec.join(recording::PROPOSALS), Some(duration)).unwrap();
    let truth = labels::read(&rec.join(recording::TRUTH), Some(duration)).unwrap();
    assert!(!proposed.is_empty());
    let agreeing = proposed
        .iter()
        .filter(|p| {
            truth.iter().any(|t| {
                t.label == p.label && p.start_ms < t.end_ms + 1000 && t.start_ms < p.end_ms
            })
        })
        .count();
    assert!(
        2 * agreeing >= truth.len(),
        "{agreeing} proposals agree with {} elements: {proposed:?}",
        truth.len()
    );
}
