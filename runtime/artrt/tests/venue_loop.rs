//! The venue's loop closed, end to end through `artrt` and `art-export`:
//! a stream with an element the default bundle does not know is recorded,
//! labelled from its truth, cut into a clip set, the default bundle's own
//! model is fine-tuned on it with the new class list and exported, and the
//! new bundle names the new element on clips of another stream.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
use common::{artrt, repo, succeeded};

/// The export environment (`export/setup.sh`, created once and cached).
fn art_export() -> Command {
    let out = succeeded(
        Command::new("bash")
            .arg(repo().join("export/setup.sh"))
            .output()
            .unwrap(),
    );
    let venv = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut cmd = Command::new(venv.join("bin/art-export"));
    cmd.current_dir(repo());
    cmd
}

/// Records `seconds` of `synthetic:SEED+new`, labels it from its truth and
/// cuts it into the clip set `set`.
fn venue_set(dir: &Path, name: &str, seed: u64, seconds: u32) -> PathBuf {
    let rec = dir.join(format!("{name}-rec"));
    let source = format!("synthetic:{seed}+new");
    succeeded(
        artrt()
            .args([
                "record",
                "--board",
                "x86-64-cpu",
                "--fast",
                "--source",
                &source,
            ])
            .args(["--duration", &seconds.to_string(), "--out"])
            .arg(&rec)
            .output()
            .unwrap(),
    );
    // The operator's labels: here the stream's own truth.
    fs::copy(rec.join("truth.csv"), rec.join("labels.csv")).unwrap();
    let set = dir.join(name);
    succeeded(
        artrt()
            .arg("cut")
            .arg(&rec)
            .arg("--out")
            .arg(&set)
            .output()
            .unwrap(),
    );
    set
}

#[test]
fn a_bundle_fine_tuned_on_a_recorded_new_element_names_it() {
    const NEW: &str = "salto forward stretched";
    let dir = tempfile::tempdir().unwrap();
    let train = venue_set(dir.path(), "train", 41, 240);
    let test = venue_set(dir.path(), "test", 42, 120);
    let labels = fs::read_to_string(train.join("labels.txt")).unwrap();
    let labels: Vec<&str> = labels.lines().collect();
    assert_eq!(labels.len(), 14, "{labels:?}");
    assert_eq!(labels[13], NEW);

    // The default bundle cannot score this set: it does not know the class.
    let refused = artrt()
        .args(["eval", "--backend", "tract", "--set"])
        .arg(&test)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains(NEW));

    let ckpt = dir.path().join("tuned.pt");
    let bundle = dir.path().join("tuned");
    succeeded(
        art_export()
            .args(["train", "--init", "runtime/bundles/art-tiny-gym", "--set"])
            .arg(&train)
            .arg("--out")
            .arg(&ckpt)
            .args([
                "--epochs",
                "12",
                "--lr",
                "1e-3",
                "--batch-size",
                "16",
                "--seed",
                "1",
            ])
            .args(["--threads", "2", "--no-augment", "--quiet"])
            .output()
            .unwrap(),
    );
    succeeded(
        art_export()
            .args(["onnx", "--ckpt"])
            .arg(&ckpt)
            .arg("--calib")
            .arg(&train)
            .arg("--out")
            .arg(&bundle)
            .args([
                "--name",
                "art-tiny-gym-venue",
                "--background",
                "no element",
                "--quiet",
            ])
            .output()
            .unwrap(),
    );

    let report = dir.path().join("eval.json");
    succeeded(
        artrt()
            .args([
                "eval",
                "--backend",
                "tract",
                "--precision",
                "int8",
                "--bundle",
            ])
            .arg(&bundle)
            .arg("--set")
            .arg(&test)
            .arg("--json")
            .arg(&report)
            .output()
            .unwrap(),
    );
    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let run = &report["runs"][0];
    let new = &run["per_class"][13];
    assert_eq!(new["label"], NEW);
    let (clips, correct) = (
        new["clips"].as_u64().unwrap(),
        new["correct"].as_u64().unwrap(),
    );
    eprintln!(
        "tuned bundle: the new element on {correct} of {clips} clips, top-1 {} over {} clips",
        run["top1"], report["clips"]
    );
    assert!(
        clips >= 5,
        "only {clips} clips of the new element to test on"
    );
    assert!(
        correct * 10 >= clips * 6,
        "the tuned bundle named the new element on {correct} of {clips} clips; per class: {}",
        run["per_class"]
    );
    let top1 = run["top1"].as_f64().unwrap();
    assert!(top1 >= 0.7, "top-1 {top1} over the venue's clips");
}
