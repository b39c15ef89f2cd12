//! `artrt doctor` and `artrt prepare` as a user meets them, run from a folder
//! outside the repository: the installed (here: the source tree's) bundle and
//! ONNX Runtime are found, the report says what can run, and the exit code
//! says whether the profile can.

use std::path::Path;
use std::process::Command;

fn artrt(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_artrt"));
    cmd.current_dir(dir).env_remove("ORT_DYLIB_PATH");
    cmd
}

fn checks(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn status<'a>(checks: &'a [(String, String, String)], id: &str) -> (&'a str, &'a str) {
    checks
        .iter()
        .find(|c| c.0 == id)
        .map(|c| (c.1.as_str(), c.2.as_str()))
        .unwrap_or_else(|| panic!("no check {id} in {checks:?}"))
}

#[test]
fn the_cpu_profile_can_run_from_any_folder() {
    let here = tempfile::tempdir().unwrap();
    let out = artrt(here.path())
        .args(["doctor", "--board", "x86-64-cpu", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], 1);
    assert_eq!(report["profile"], "x86-64-cpu");
    assert_eq!(report["can_run"], true);
    let c = checks(&report);
    let ids: Vec<&str> = c.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "board",
            "onnxruntime",
            "tensorrt",
            "cuda-runtime",
            "cuda-driver",
            "gpu",
            "camera",
            "scoreboard",
            "bundle",
            "backend.ort-cpu",
            "backend.tract"
        ]
    );
    assert_eq!(status(&c, "onnxruntime").0, "ok");
    let (s, summary) = status(&c, "backend.ort-cpu");
    assert!(s == "ok" && summary.ends_with("; serves"), "{summary}");
    assert_eq!(status(&c, "backend.tract").0, "ok");
    assert!(
        status(&c, "bundle")
            .1
            .starts_with("art-tiny-gym (13 classes)")
    );
}

#[test]
fn a_missing_camera_adapter_and_model_fail_with_their_reasons() {
    let here = tempfile::tempdir().unwrap();
    let text = artrt_live::board::BUILTIN
        .iter()
        .find(|(n, _)| *n == "jetson-orin-nano")
        .unwrap()
        .1
        .replace("v4l2:/dev/video0", "v4l2:/dev/artrt-no-camera")
        .replace("/dev/artrt-scoreboard", "/dev/artrt-no-adapter")
        .replace("/var/cache/artrt/tensorrt", "/proc/artrt-cache");
    let board = here.path().join("board.toml");
    std::fs::write(&board, &text).unwrap();
    let out = artrt(here.path())
        .args(["doctor", "--json", "--board"])
        .arg(&board)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "cannot run without a camera");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["can_run"], false);
    let c = checks(&report);
    let (s, summary) = status(&c, "camera");
    assert_eq!(s, "fail");
    assert!(summary.contains("/dev/artrt-no-camera"), "{summary}");
    let (s, summary) = status(&c, "scoreboard");
    assert_eq!(s, "fail");
    assert!(
        summary.contains("/dev/artrt-no-adapter is absent"),
        "{summary}"
    );
    let (s, summary) = status(&c, "engine-cache");
    assert_eq!(s, "warn");
    assert!(
        summary.contains("/proc/artrt-cache cannot be written"),
        "{summary}"
    );
    // TensorRT and CUDA are absent here: warnings, and ONNX Runtime's CPU
    // provider serves the profile's INT8 model.
    assert_eq!(status(&c, "backend.trt").0, "warn");
    let (s, summary) = status(&c, "backend.ort-cpu");
    assert!(s == "ok" && summary.contains("int8"), "{summary}");

    let text = std::fs::read_to_string(&board)
        .unwrap()
        .replace("bundle = \"art-tiny-gym\"", "bundle = \"no-such-bundle\"");
    std::fs::write(&board, text).unwrap();
    let out = artrt(here.path())
        .args(["doctor", "--board"])
        .arg(&board)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL  bundle") && l.contains("no bundle `no-such-bundle`")),
        "{text}"
    );
    assert!(
        text.ends_with("cannot run on this machine: see FAIL above\n"),
        "{text}"
    );
}

#[test]
fn an_unreadable_profile_is_one_failed_check() {
    let here = tempfile::tempdir().unwrap();
    let board = here.path().join("board.toml");
    std::fs::write(&board, "name = \"x\"\ncolour = 3\n").unwrap();
    let out = artrt(here.path())
        .args(["doctor", "--json", "--board"])
        .arg(&board)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = checks(&report);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].0, "board");
    assert!(c[0].2.contains("colour: unknown field"), "{}", c[0].2);
}

#[test]
fn prepare_says_why_there_is_nothing_to_prepare() {
    let here = tempfile::tempdir().unwrap();
    let out = artrt(here.path())
        .args(["prepare", "--board", "x86-64-cpu"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "nothing to prepare: profile x86-64-cpu does not use TensorRT\n"
    );
    if artrt_infer::nvidia::tensorrt().is_err() {
        let out = artrt(here.path())
            .args(["prepare", "--board", "jetson-orin-nano"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("nothing to prepare: TensorRT not found")
                && text.ends_with("profile jetson-orin-nano falls back to cuda, ort-cpu, tract\n"),
            "{text}"
        );
    }
}

#[test]
fn commands_find_the_default_bundle_outside_the_repository() {
    let here = tempfile::tempdir().unwrap();
    let out = artrt(here.path())
        .args([
            "eval-stream",
            "--seconds",
            "20",
            "--backend",
            "ort-cpu",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
