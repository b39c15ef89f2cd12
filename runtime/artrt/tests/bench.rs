//! `artrt bench` end to end on the committed bundle: the report's ratios and
//! steady-state allocation counts (never its wall-clock times).

use std::process::Command;

use serde_json::Value;

mod common;
use common::repo;

#[test]
fn the_report_has_per_round_ratios_and_no_allocations_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_artrt"))
        .current_dir(repo())
        .args([
            "bench",
            "--threads",
            "1",
            "--iters",
            "5",
            "--live-seconds",
            "10",
            "--camera-frames",
            "100",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let backends = report["backends"].as_array().unwrap();
    let find = |backend: &str, precision: &str| {
        backends
            .iter()
            .find(|b| b["backend"] == backend && b["precision"] == precision)
            .unwrap_or_else(|| panic!("no {backend} {precision} in {backends:?}"))
    };
    let ratio = |b: &Value| b["inference"]["ratio_to_baseline"].as_f64().unwrap();
    assert_eq!(ratio(find("ort-cpu", "fp32")), 1.0);
    for b in backends {
        let r = ratio(b);
        assert!(r.is_finite() && r > 0.0, "{b}");
    }
    let tract = ratio(find("tract", "fp32"));
    assert_eq!(
        report["targets"]["tract_over_ort_fp32"].as_f64(),
        Some(tract)
    );
    find("tract", "int8");
    find("ort-cpu", "int8");

    let per_frame: Vec<(String, f64)> =
        serde_json::from_value(report["allocations_per_frame"].clone()).unwrap();
    for format in ["rgb24", "yuyv", "nv12"] {
        let (_, a) = per_frame.iter().find(|(n, _)| n == format).unwrap();
        assert_eq!(*a, 0.0, "{format}: {a} allocations per frame");
    }
    assert_eq!(report["targets"]["max_allocations_per_frame"], 0.0);
    let pre_post = report["targets"]["pre_post_over_inference"]
        .as_f64()
        .unwrap();
    assert!(pre_post > 0.0, "{pre_post}");
    let record = report["targets"]["record_share_of_core"].as_f64().unwrap();
    assert!(record > 0.0 && record.is_finite(), "{record}");
    assert!(
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "record mjpeg 640x480 (30 frames)"),
        "{}",
        report["stages"]
    );

    // Ten seconds of stream in real time hold events; their latency is
    // reported against inference and one hop (its size is not asserted).
    let live = &report["live"];
    assert!(live["clips"].as_u64().unwrap() > 0, "{live}");
    assert!(live["events"].as_u64().unwrap() > 0, "{live}");
    let p50 = live["latency_p50_ms"].as_f64().unwrap();
    assert!(
        p50 > 0.0 && p50 <= live["latency_p90_ms"].as_f64().unwrap(),
        "{live}"
    );
    assert!(
        (live["hop_ms"].as_f64().unwrap() - 2.0 * 1000.0 / 30.0).abs() < 1e-6,
        "{live}"
    );
    let ratio = report["targets"]["latency_over_inference_and_hop"]
        .as_f64()
        .unwrap();
    assert!(ratio.is_finite() && ratio > 0.0, "{ratio}");

    // Two cameras against one on the shared model, on replicas and batched
    // on one thread: all measured, the ratios reported (their sizes are not
    // asserted).
    let cameras = &report["cameras"];
    assert_eq!(cameras["frames_per_camera"], 100, "{cameras}");
    assert_eq!(cameras["max_batch"], 4, "{cameras}");
    for key in [
        "one_camera_clips_per_s",
        "two_cameras_clips_per_s",
        "two_cameras_batched_clips_per_s",
        "batched_over_one",
    ] {
        let v = cameras[key].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "{key}: {cameras}");
    }
    let scaling = report["targets"]["two_cameras_over_one"].as_f64().unwrap();
    assert_eq!(Some(scaling), cameras["two_over_one"].as_f64());
}
