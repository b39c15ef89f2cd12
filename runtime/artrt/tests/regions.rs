//! Where the tracklets look, end to end: `artrt synth --boxes` writes the
//! performer's boxes, `artrt eval` scores the region hit against them,
//! `artrt infer` prints the region attention and draws it over the frames.

use std::fs;

use serde_json::Value;

mod common;
use common::{artrt, repo, succeeded};

#[test]
fn eval_scores_the_region_hit_of_every_precision_on_a_set_with_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    succeeded(
        artrt()
            .args(["synth", "--clips", "13", "--seed", "31", "--boxes", "--out"])
            .arg(&set)
            .output()
            .unwrap(),
    );
    let report = dir.path().join("eval.json");
    let out = succeeded(
        artrt()
            .args(["eval", "--backend", "tract", "--precision", "both", "--set"])
            .arg(&set)
            .arg("--json")
            .arg(&report)
            .output()
            .unwrap(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("region hit per tracklet"), "{stdout}");
    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    for run in report["runs"].as_array().unwrap() {
        let g = &run["regions"];
        assert_eq!(g["frames"], 13 * 8, "{g}");
        let hits: Vec<f64> = g["region_hit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(h)), "{g}");
        assert_eq!(g["best_region_hit"].as_f64().unwrap(), hits[0].max(hits[1]));
        assert!((0.0..=1.0).contains(&g["overlap"].as_f64().unwrap()), "{g}");
    }

    // A damaged boxes file leaves that clip out of the region hit only, by name.
    let clip = set.join("clip_00003");
    fs::write(clip.join("boxes.json"), r#"{"performer": [[1, 2, 3]]}"#).unwrap();
    let out = succeeded(
        artrt()
            .args(["eval", "--backend", "tract", "--set"])
            .arg(&set)
            .arg("--json")
            .arg(report_path(dir.path()))
            .output()
            .unwrap(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("region hit leaves out clip_00003"),
        "{stdout}"
    );
    let report: Value =
        serde_json::from_slice(&fs::read(report_path(dir.path())).unwrap()).unwrap();
    assert_eq!(report["clips"], 13);
    assert_eq!(report["runs"][0]["regions"]["frames"], 12 * 8);
    assert!(
        report["boxes_skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("boxes.json")
    );
}

fn report_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("eval-damaged.json")
}

#[test]
fn infer_prints_the_region_attention_and_draws_it_over_the_frames() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    succeeded(
        artrt()
            .args(["synth", "--clips", "1", "--seed", "5", "--out"])
            .arg(&set)
            .output()
            .unwrap(),
    );
    let png = dir.path().join("overlay.png");
    let out = succeeded(
        artrt()
            .args([
                "infer",
                "--backend",
                "tract",
                "--overlay-scale",
                "2",
                "--clip",
            ])
            .arg(set.join("clip_00000"))
            .arg("--overlay")
            .arg(&png)
            .output()
            .unwrap(),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let grid: Vec<u64> = report["region_grid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let cells = (grid[0] * grid[1]) as usize;
    let attn = report["region_attn"].as_array().unwrap();
    assert_eq!(attn.len(), 8);
    for frame in attn {
        let maps = frame.as_array().unwrap();
        assert_eq!(maps.len(), 2);
        for map in maps {
            let sum: f64 = map
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .sum();
            assert_eq!(map.as_array().unwrap().len(), cells);
            assert!((sum - 1.0).abs() < 1e-3, "a map sums to {sum}");
        }
    }
    // Eight frames of 160x120 at scale 2, four to a row, under a caption.
    let img = image::open(&png).unwrap().into_rgb8();
    assert_eq!(img.width(), 4 * 320 + 5 * 4);
    assert!(img.height() > 2 * 240);
    let label = report["top5"][0]["label"].as_str().unwrap();
    assert!(!label.is_empty());
    // Kept for the README's picture.
    let keep = repo().join("target/tmp");
    if fs::create_dir_all(&keep).is_ok() {
        let _ = fs::copy(&png, keep.join("overlay.png"));
    }
    // Something unreadable is refused before anything is written.
    let bad = dir.path().join("bad.png");
    let out = artrt()
        .args(["infer", "--backend", "tract", "--clip"])
        .arg(dir.path())
        .arg("--overlay")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no img_*.jpg frames"));
    assert!(!bad.exists());
}
