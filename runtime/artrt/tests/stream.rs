//! `artrt eval-stream` and `artrt tune-decision` end to end on the committed
//! bundle and a short synthetic stream.

use std::process::Command;

use serde_json::Value;

mod common;
use common::repo;

fn artrt(args: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_artrt"))
        .current_dir(repo())
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "artrt {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, report)
}

fn f1(score: &Value) -> f64 {
    let (p, r) = (
        score["precision"].as_f64().unwrap(),
        score["recall"].as_f64().unwrap(),
    );
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

#[test]
fn eval_stream_scores_its_own_events_against_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let (stdout, report) = artrt(&[
        "eval-stream",
        "--seconds",
        "20",
        "--seed",
        "3",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let score = &report["score"];
    let events = report["events"].as_array().unwrap();
    let segments = report["segments"].as_array().unwrap();
    assert_eq!(score["events"].as_u64().unwrap() as usize, events.len());
    assert_eq!(score["segments"].as_u64().unwrap() as usize, segments.len());
    assert!(!segments.is_empty(), "20 s of stream perform some element");
    let matched = score["matched"].as_u64().unwrap();
    assert!(matched > 0, "nothing recognised: {stdout}");
    assert!(matched as usize <= events.len().min(segments.len()));
    assert!(stdout.contains(&format!("{matched} matched")), "{stdout}");

    let lines: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, report["run"]["clips"].as_u64().unwrap());
    let classes = lines[0]["probs"].as_array().unwrap().len();
    assert_eq!(classes, 13);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["t_ms"].as_u64() < w[1]["t_ms"].as_u64())
    );
    for e in events {
        let t = &e["t_ms"];
        assert!(
            lines.iter().any(|l| &l["t_ms"] == t),
            "event at {t} ms is not at a window's end"
        );
    }
}

#[test]
fn tune_decision_finds_settings_at_least_as_good_as_the_profile() {
    let (stdout, report) = artrt(&[
        "tune-decision",
        "--seconds",
        "20",
        "--seeds",
        "1,2",
        "--check-seeds",
        "3",
        "--top",
        "3",
    ]);
    let best = &report["best"];
    let current = &report["current"];
    assert!(
        f1(&best["score"]) >= f1(&current["score"]),
        "best {} below current {}",
        best["score"],
        current["score"]
    );
    assert_eq!(best["per_recording"].as_array().unwrap().len(), 2);
    assert!(best["score"]["median_onset_ms"].as_f64().unwrap_or(0.0) <= 1000.0);
    assert_eq!(report["top"].as_array().unwrap().len(), 3);
    assert_eq!(report["top"][0], *best);
    assert!(report["best_check"]["score"]["segments"].as_u64().unwrap() > 0);

    // The printed table is a valid `[decision]` section for a board profile.
    let table = &stdout[stdout.find("[decision]").expect("no [decision] table")..];
    let parsed: toml::Table = toml::from_str(table).unwrap();
    let printed = parsed["decision"].as_table().unwrap();
    let config = best["config"].as_object().unwrap();
    assert_eq!(printed.len(), config.len());
    for (key, value) in config {
        let p = &printed[key];
        let p = p.as_float().or(p.as_integer().map(|i| i as f64)).unwrap();
        assert!(
            (p - value.as_f64().unwrap()).abs() < 1e-6,
            "{key}: {p} vs {value}"
        );
    }
}
