//! The synthetic gym: determinism, balance, framing and near twins.

use artrt_calibration::classes::near_twins;
use artrt_calibration::figure::Part;
use artrt_calibration::{
    BACKGROUND_LABEL, BBox, CLASSES, ClipBoxes, ClipSet, ELEMENTS, Framing, SynthOptions,
    generate_set, render_clip, render_clip_as,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_on_any_thread_count_other_seed_other_bytes() {
    let opts = SynthOptions {
        clips: 14,
        frames: 5,
        seed: 11,
        ..SynthOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    generate_set(&a, &opts, || {}).unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one.install(|| generate_set(&b, &opts, || {})).unwrap();
    generate_set(
        &c,
        &SynthOptions {
            seed: 12,
            ..opts.clone()
        },
        || {},
    )
    .unwrap();
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    assert_eq!(fa.len(), 3 + 14 * 5);
    assert!(fa == fb, "same seed gave different files");
    let differing = fa
        .iter()
        .filter(|(k, v)| k.ends_with(".jpg") && fc.get(*k) != Some(*v))
        .count();
    assert!(
        differing >= 14 * 5 - 2,
        "only {differing} frames changed with the seed"
    );
    assert_eq!(fa["labels.txt"], fc["labels.txt"]);
}

#[test]
fn set_is_valid_and_balanced() {
    let opts = SynthOptions {
        clips: 30,
        frames: 3,
        width: 96,
        height: 72,
        fps: 25,
        seed: 5,
        framing: Framing::Live,
        twins: Vec::new(),
        boxes: false,
        view: artrt_calibration::View::Gym,
    };
    let dir = tempfile::tempdir().unwrap();
    let ticks = std::sync::atomic::AtomicUsize::new(0);
    let set = generate_set(dir.path(), &opts, || {
        ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(ticks.into_inner(), 30);
    let set = ClipSet::open(set.root()).unwrap();
    set.verify().unwrap();
    assert_eq!(set.labels().len(), CLASSES);
    assert_eq!(
        set.labels()[..ELEMENTS.len()],
        artrt_calibration::labels()[..ELEMENTS.len()]
    );
    assert_eq!(set.labels()[CLASSES - 1], BACKGROUND_LABEL);
    let counts = set.class_counts();
    assert_eq!(counts.iter().sum::<usize>(), 30);
    assert!(counts.iter().all(|&c| c == 2 || c == 3), "{counts:?}");
    let m = set.meta();
    assert_eq!((m.fps, m.width, m.height), (25, 96, 72));
    assert_eq!(m.provenance.generator, "artrt-synth");
    assert_eq!(m.provenance.seed, Some(5));
    assert_eq!(
        set.load_clip(&set.clips()[7]).unwrap()[2].dimensions(),
        (96, 72)
    );
    assert!(
        generate_set(dir.path(), &opts, || {}).is_err(),
        "wrote over an existing set"
    );
}

#[test]
fn twin_sets_pair_two_classes_per_scene_in_turn() {
    let opts = SynthOptions {
        clips: 8,
        frames: 6,
        seed: 3,
        twins: vec![(0, 9), (4, 10)],
        ..SynthOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let set = generate_set(dir.path(), &opts, || {}).unwrap();
    let classes: Vec<usize> = set.clips().iter().map(|c| c.class_id).collect();
    assert_eq!(classes, [0, 9, 4, 10, 0, 9, 4, 10]);
    assert_eq!(set.meta().provenance.twins.as_deref(), Some("0:9,4:10"));
    let reopened = ClipSet::open(dir.path()).unwrap();
    assert_eq!(reopened.meta().provenance, set.meta().provenance);
    for (k, pair) in set.clips().chunks(2).enumerate() {
        let a = render_clip_as(&opts, k, pair[0].class_id);
        let b = render_clip_as(&opts, k, pair[1].class_id);
        assert_eq!(render_clip(&opts, 2 * k).frames, a.frames, "pair {k}");
        assert_eq!(render_clip(&opts, 2 * k + 1).frames, b.frames, "pair {k}");
        assert_ne!(a.frames, b.frames, "pair {k}: both clips render alike");
    }
    assert_ne!(
        render_clip(&opts, 0).frames,
        render_clip(&opts, 4).frames,
        "two pairs of the same classes show one scene"
    );
    let plain = SynthOptions {
        twins: Vec::new(),
        ..opts.clone()
    };
    let other = tempfile::tempdir().unwrap();
    let unpaired = generate_set(other.path(), &plain, || {}).unwrap();
    assert_eq!(unpaired.meta().provenance.twins, None);
    for (bad, expect) in [
        (
            SynthOptions {
                clips: 7,
                ..opts.clone()
            },
            "--clips must be even",
        ),
        (
            SynthOptions {
                twins: vec![(0, CLASSES)],
                ..opts.clone()
            },
            "class ids go from 0",
        ),
        (
            SynthOptions {
                twins: vec![(2, 2)],
                ..opts.clone()
            },
            "needs two classes",
        ),
    ] {
        let err = bad.check().unwrap_err();
        assert!(err.contains(expect), "{err}");
    }
}

fn union(boxes: &[Option<BBox>]) -> Option<BBox> {
    boxes.iter().flatten().copied().reduce(BBox::union)
}

#[test]
fn performer_stays_in_the_central_part_and_varies_in_size() {
    let opts = SynthOptions {
        clips: CLASSES * 40,
        ..SynthOptions::default()
    };
    let (w, h) = (opts.width as f32, opts.height as f32);
    let (lo, hi) = (0.5 * w * (1.0 - 0.65) - 0.5, 0.5 * w * (1.0 + 0.65) + 0.5);
    let mut heights = Vec::new();
    for i in (0..opts.clips).step_by(5) {
        let clip = render_clip(&opts, i);
        let mut tallest = 0.0f32;
        for (f, parts) in clip.parts.iter().enumerate() {
            let b = union(parts).expect("performer drawn");
            assert!(
                b.x0 >= lo && b.x1 <= hi,
                "clip {i} frame {f}: x {:.1}..{:.1} leaves {lo}..{hi}",
                b.x0,
                b.x1
            );
            assert!(
                b.y0 >= -0.5 && b.y1 <= h + 0.5,
                "clip {i} frame {f}: y {:.1}..{:.1}",
                b.y0,
                b.y1
            );
            tallest = tallest.max(b.y1 - b.y0);
        }
        if clip.class_id == 0 {
            heights.push(tallest);
        }
    }
    let (min, max) = heights
        .iter()
        .fold((f32::MAX, 0.0f32), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(
        max / min > 1.3,
        "figure size ranges only {min:.1}..{max:.1} px"
    );
}

/// Per pixel: sum of absolute channel differences.
fn diff(a: &image::RgbImage, b: &image::RgbImage) -> Vec<u32> {
    a.as_raw()
        .chunks(3)
        .zip(b.as_raw().chunks(3))
        .map(|(p, q)| {
            p.iter()
                .zip(q)
                .map(|(x, y)| u32::from(x.abs_diff(*y)))
                .sum()
        })
        .collect()
}

#[test]
fn near_twins_differ_only_in_their_detail_for_much_of_the_clip() {
    let opts = SynthOptions {
        clips: 200,
        ..SynthOptions::default()
    };
    let w = opts.width;
    for twin in near_twins() {
        let parts: Vec<usize> = twin
            .detail
            .parts()
            .iter()
            .map(|p| Part::index(*p))
            .collect();
        for index in [3, 50, 101, 160] {
            let a = render_clip_as(&opts, index, twin.a);
            let b = render_clip_as(&opts, index, twin.b);
            let (mut inside, mut total, mut showing) = (0u64, 0u64, 0usize);
            for f in 0..a.frames.len() {
                let region: Vec<BBox> = parts
                    .iter()
                    .flat_map(|&p| [a.parts[f][p], b.parts[f][p]])
                    .flatten()
                    .collect();
                let d = diff(&a.frames[f], &b.frames[f]);
                let mut changed = 0;
                for (i, &v) in d.iter().enumerate() {
                    let (x, y) = (i as u32 % w, i as u32 / w);
                    total += u64::from(v);
                    if region.iter().any(|r| r.contains(x, y, 1.0)) {
                        inside += u64::from(v);
                    }
                    if v > 60 {
                        changed += 1;
                    }
                }
                if changed >= 6 {
                    showing += 1;
                }
            }
            let (la, lb) = (ELEMENTS[twin.a].label, ELEMENTS[twin.b].label);
            assert!(total > 0, "{la} and {lb} render the same (clip {index})");
            let share = inside as f64 / total as f64;
            assert!(
                share > 0.97,
                "{la} vs {lb}, clip {index}: only {share:.3} of the difference lies in {:?}",
                twin.detail
            );
            let frac = showing as f64 / a.frames.len() as f64;
            assert!(
                frac >= 0.35,
                "{la} vs {lb}, clip {index}: the detail shows in only {showing} of {} frames",
                a.frames.len()
            );
        }
    }
}

#[test]
fn every_near_twin_detail_covers_a_visible_area() {
    let opts = SynthOptions {
        clips: 200,
        ..SynthOptions::default()
    };
    for twin in near_twins() {
        let mut changed: Vec<usize> = (0..40)
            .map(|k| {
                let a = render_clip_as(&opts, 5 * k, twin.a);
                let b = render_clip_as(&opts, 5 * k, twin.b);
                a.frames
                    .iter()
                    .zip(&b.frames)
                    .map(|(x, y)| diff(x, y).into_iter().filter(|&v| v > 60).count())
                    .sum()
            })
            .collect();
        changed.sort_unstable();
        let p10 = changed[4];
        let (la, lb) = (ELEMENTS[twin.a].label, ELEMENTS[twin.b].label);
        assert!(
            p10 >= 300,
            "{la} vs {lb}: in a tenth of the clips the {:?} changes only {p10} pixels",
            twin.detail
        );
    }
}

#[test]
fn boxes_hold_the_performer_in_every_frame_and_read_back() {
    let opts = SynthOptions {
        clips: CLASSES * 2,
        frames: 6,
        seed: 21,
        boxes: true,
        ..SynthOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let set = generate_set(dir.path(), &opts, || {}).unwrap();
    let mut walkers = 0;
    for (i, a) in set.clips().iter().enumerate() {
        let boxes = set.load_boxes(a).unwrap().expect("boxes.json written");
        let clip = render_clip(&opts, i);
        assert_eq!(boxes, clip.boxes(), "clip {i}");
        let performer = boxes.performer().unwrap();
        assert_eq!(performer.len(), 6);
        for (f, (b, parts)) in performer.iter().zip(&clip.parts).enumerate() {
            let [x0, y0, x1, y1] = b.expect("performer in frame");
            let all = union(parts).unwrap();
            assert!(
                (x0 - all.x0.max(0.0)).abs() < 1e-3 && (y1 - all.y1.min(120.0)).abs() < 1e-3,
                "clip {i} frame {f}: {b:?} is not the union of the parts {all:?}"
            );
            let area = (x1 - x0) * (y1 - y0);
            assert!(
                area > 100.0 && area < 0.8 * 160.0 * 120.0,
                "clip {i} frame {f}: area {area}"
            );
        }
        if let Some(w) = boxes.0.get("walker") {
            walkers += 1;
            assert!(w.iter().any(Option::is_some));
        }
    }
    assert!(walkers > 0, "no clip of {} has a walker", set.clips().len());
    let plain = tempfile::tempdir().unwrap();
    let set = generate_set(
        plain.path(),
        &SynthOptions {
            boxes: false,
            ..opts
        },
        || {},
    )
    .unwrap();
    assert_eq!(set.load_boxes(&set.clips()[0]).unwrap(), None);
}

#[test]
fn malformed_boxes_are_refused_naming_the_file_and_what_is_wrong() {
    let path = std::path::Path::new("set/clip_00000/boxes.json");
    let ok = r#"{"performer": [[1, 2, 30, 40], null]}"#;
    assert!(ClipBoxes::parse(path, ok.as_bytes(), 2, 160, 120).is_ok());
    for (text, says) in [
        ("[1, 2]", "not boxes JSON"),
        (r#"{"walker": [null, null]}"#, "no `performer` key"),
        (r#"{"performer": [[1, 2, 30, 40]]}"#, "1 boxes for 2 frames"),
        (r#"{"performer": [[30, 2, 1, 40], null]}"#, "frame 1"),
        (r#"{"performer": [null, [0, 0, 161, 40]]}"#, "frame 2"),
        (
            r#"{"performer": [null, [0, 0, 1, 1e999]]}"#,
            "not boxes JSON",
        ),
    ] {
        let err = ClipBoxes::parse(path, text.as_bytes(), 2, 160, 120)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("boxes.json") && err.contains(says),
            "{text}: {err}"
        );
    }
}

#[test]
fn venue_view_shows_a_small_performer_among_other_people() {
    use artrt_calibration::View;
    let opts = SynthOptions {
        clips: CLASSES * 2,
        frames: 4,
        seed: 8,
        boxes: true,
        ..SynthOptions::default()
    };
    let venue = SynthOptions {
        view: View::Venue,
        ..opts.clone()
    };
    let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    let mean_area = |o: &SynthOptions| {
        let areas: Vec<f32> = (0..o.clips)
            .flat_map(|i| render_clip(o, i).boxes().performer().unwrap().to_vec())
            .flatten()
            .map(|b| area(&b))
            .collect();
        areas.iter().sum::<f32>() / areas.len() as f32
    };
    let (gym, wide) = (mean_area(&opts), mean_area(&venue));
    assert!(
        wide < 0.5 * gym,
        "venue performer {wide} px² against the gym's {gym} px²"
    );
    for i in 0..venue.clips {
        let boxes = render_clip(&venue, i).boxes();
        let people = boxes.0.keys().filter(|k| *k != "performer").count();
        assert!(
            people >= 3,
            "clip {i}: only {people} other people: {:?}",
            boxes.0.keys()
        );
        assert!(boxes.0.contains_key("coach") || boxes.0.contains_key("judge_1"));
    }
    let dir = tempfile::tempdir().unwrap();
    let set = generate_set(&dir.path().join("venue"), &venue, || {}).unwrap();
    assert_eq!(set.meta().provenance.view.as_deref(), Some("venue"));
    let set = generate_set(&dir.path().join("gym"), &opts, || {}).unwrap();
    assert_eq!(set.meta().provenance.view, None);
}
