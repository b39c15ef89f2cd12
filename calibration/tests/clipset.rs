//! The clip-set format: round trip and one error per kind of bad input.

use artrt_calibration::{
    AnnotationError, ClipSet, ClipSetWriter, Error, Provenance, SetMeta, frame_file_name,
};
use image::{Rgb, RgbImage};
use std::fs;
use std::path::Path;

fn meta() -> SetMeta {
    SetMeta {
        fps: 25,
        width: 32,
        height: 24,
        provenance: Provenance {
            generator: "recorded".into(),
            version: "1".into(),
            seed: None,
            description: Some("hall 3, camera B".into()),
            framing: None,
            twins: None,
            recording: None,
            labels_sha256: None,
            view: None,
        },
    }
}

fn frames(n: usize, shade: u8) -> Vec<RgbImage> {
    (0..n)
        .map(|i| {
            RgbImage::from_fn(32, 24, |x, y| {
                Rgb([shade, (x * 8) as u8, (y * 10 + i as u32 * 20) as u8])
            })
        })
        .collect()
}

/// A valid set with three clips of two classes in `dir`.
fn write_set(dir: &Path) -> ClipSet {
    let labels = vec![
        "salto backward tucked".to_string(),
        "salto forward piked".to_string(),
    ];
    let w = ClipSetWriter::create(dir, &labels, meta()).unwrap();
    let a = vec![
        w.write_clip("a", 0, &frames(3, 10), 95).unwrap(),
        w.write_clip("b", 1, &frames(2, 200), 95).unwrap(),
        w.write_clip("nested/c", 1, &frames(4, 90), 95).unwrap(),
    ];
    w.finish(&a).unwrap()
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let set = write_set(dir.path());
    let again = ClipSet::open(dir.path()).unwrap();
    assert_eq!(again.meta(), &meta());
    assert_eq!(
        again.labels(),
        ["salto backward tucked", "salto forward piked"]
    );
    let listed: Vec<_> = again
        .clips()
        .iter()
        .map(|c| (c.clip_dir.as_str(), c.num_frames, c.class_id))
        .collect();
    assert_eq!(listed, [("a", 3, 0), ("b", 2, 1), ("nested/c", 4, 1)]);
    assert_eq!(again.class_counts(), [1, 2]);
    again.verify().unwrap();
    let loaded = set.load_clip(&set.clips()[2]).unwrap();
    let original = frames(4, 90);
    assert_eq!(loaded.len(), 4);
    for (l, o) in loaded.iter().zip(&original) {
        let err: u64 = l
            .as_raw()
            .iter()
            .zip(o.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = err as f64 / l.as_raw().len() as f64;
        assert!(mean < 4.0, "JPEG round trip off by {mean} on average");
    }
    let toml = fs::read_to_string(dir.path().join("set.toml")).unwrap();
    assert!(
        toml.contains("fps = 25") && toml.contains("[provenance]"),
        "{toml}"
    );
    let ann = fs::read_to_string(dir.path().join("annotations.txt")).unwrap();
    assert_eq!(ann, "a 3 0\nb 2 1\nnested/c 4 1\n");
}

#[test]
fn missing_frame_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let set = write_set(dir.path());
    let gone = dir.path().join("b").join(frame_file_name(2));
    fs::remove_file(&gone).unwrap();
    match set.verify() {
        Err(Error::MissingFrame { path }) => assert_eq!(path, gone),
        other => panic!("expected MissingFrame, got {other:?}"),
    }
    match set.load_clip(&set.clips()[1]) {
        Err(Error::MissingFrame { path }) => assert_eq!(path, gone),
        other => panic!("expected MissingFrame, got {other:?}"),
    }
}

#[test]
fn malformed_annotation_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    let ann = dir.path().join("annotations.txt");
    fs::write(&ann, "a 3 0\nb two 1\n").unwrap();
    match ClipSet::open(dir.path()) {
        Err(e @ Error::Annotation { .. }) => {
            let Error::Annotation {
                ref path,
                line,
                ref cause,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((path.as_path(), line), (ann.as_path(), 2));
            assert_eq!(cause, &AnnotationError::NumFrames("two".into()));
            assert!(e.to_string().contains("annotations.txt:2"), "{e}");
        }
        other => panic!("expected Annotation, got {other:?}"),
    }
}

#[test]
fn class_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    fs::write(dir.path().join("annotations.txt"), "a 3 0\n\nb 2 2\n").unwrap();
    match ClipSet::open(dir.path()) {
        Err(Error::ClassOutOfRange {
            line,
            class_id,
            num_classes,
            ..
        }) => {
            assert_eq!((line, class_id, num_classes), (3, 2, 2))
        }
        other => panic!("expected ClassOutOfRange, got {other:?}"),
    }
}

#[test]
fn frame_of_another_size() {
    let dir = tempfile::tempdir().unwrap();
    let set = write_set(dir.path());
    let odd = dir.path().join("a").join(frame_file_name(2));
    RgbImage::new(40, 24).save(&odd).unwrap();
    let expect_size = |r: Result<(), Error>| match r {
        Err(Error::FrameSize {
            path,
            found_w,
            found_h,
            width,
            height,
        }) => {
            assert_eq!(path, odd);
            assert_eq!((found_w, found_h, width, height), (40, 24, 32, 24));
        }
        other => panic!("expected FrameSize, got {other:?}"),
    };
    expect_size(set.verify());
    expect_size(set.load_clip(&set.clips()[0]).map(|_| ()));
}

#[test]
fn empty_set() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    fs::write(dir.path().join("annotations.txt"), "\n").unwrap();
    assert!(matches!(
        ClipSet::open(dir.path()),
        Err(Error::EmptySet { .. })
    ));
    let other = tempfile::tempdir().unwrap();
    let w = ClipSetWriter::create(other.path(), &["x".to_string()], meta()).unwrap();
    assert!(matches!(w.finish(&[]), Err(Error::EmptySet { .. })));
}

#[test]
fn other_bad_inputs_get_their_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path());
    // A frame that is not an image.
    let broken = dir.path().join("a").join(frame_file_name(1));
    fs::write(&broken, b"not a jpeg").unwrap();
    let set = ClipSet::open(dir.path()).unwrap();
    assert!(
        matches!(set.load_frame(&set.clips()[0], 1), Err(Error::Decode { ref path, .. }) if *path == broken)
    );
    // Labels.
    fs::write(dir.path().join("labels.txt"), "x\n\ny\n").unwrap();
    assert!(matches!(
        ClipSet::open(dir.path()),
        Err(Error::Label { line: 2, .. })
    ));
    fs::write(dir.path().join("labels.txt"), "x\ny\nx\n").unwrap();
    assert!(matches!(
        ClipSet::open(dir.path()),
        Err(Error::Label { line: 3, .. })
    ));
    fs::write(dir.path().join("labels.txt"), "").unwrap();
    assert!(matches!(
        ClipSet::open(dir.path()),
        Err(Error::NoLabels { .. })
    ));
    fs::write(dir.path().join("labels.txt"), "x\ny\n").unwrap();
    // set.toml.
    let toml = dir.path().join("set.toml");
    fs::write(&toml, "fps = 30\nwidth = 32\n").unwrap();
    assert!(
        matches!(ClipSet::open(dir.path()), Err(Error::SetToml { ref path, .. }) if *path == toml)
    );
    fs::write(
        &toml,
        "fps = 0\nwidth = 32\nheight = 24\n[provenance]\ngenerator = \"g\"\nversion = \"1\"\n",
    )
    .unwrap();
    assert!(matches!(
        ClipSet::open(dir.path()),
        Err(Error::SetValue { .. })
    ));
    fs::remove_file(&toml).unwrap();
    assert!(matches!(ClipSet::open(dir.path()), Err(Error::Io { ref path, .. }) if *path == toml));
    // Writing over an existing set.
    assert!(matches!(
        ClipSetWriter::create(dir.path(), &["x".to_string()], meta()),
        Err(Error::NotEmpty { .. })
    ));
}

#[test]
fn writer_refuses_bad_clips() {
    let dir = tempfile::tempdir().unwrap();
    let w = ClipSetWriter::create(dir.path(), &["x".to_string()], meta()).unwrap();
    assert!(matches!(
        w.write_clip("c", 1, &frames(1, 0), 90),
        Err(Error::InvalidClip { .. })
    ));
    assert!(matches!(
        w.write_clip("../c", 0, &frames(1, 0), 90),
        Err(Error::InvalidClip { .. })
    ));
    assert!(matches!(
        w.write_clip("c", 0, &[], 90),
        Err(Error::InvalidClip { .. })
    ));
    assert!(matches!(
        w.write_clip("c", 0, &[RgbImage::new(8, 8)], 90),
        Err(Error::FrameSize { .. })
    ));
}

#[test]
fn files_a_set_may_not_hold_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let set = write_set(dir.path());
    let frame = dir.path().join("a").join(frame_file_name(1));
    fs::remove_file(&frame).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &frame).unwrap();
    let err = set.load_frame(&set.clips()[0], 1).unwrap_err();
    assert!(matches!(err, Error::File(_)), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(set.verify().is_err());

    // A list that is a link out of the set.
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("annotations.txt");
    fs::write(&elsewhere, "a 3 0\n").unwrap();
    fs::remove_file(dir.path().join("annotations.txt")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("annotations.txt")).unwrap();
    let err = ClipSet::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");

    // A clip directory that is a link out of the set.
    let dir = tempfile::tempdir().unwrap();
    let set = write_set(dir.path());
    let moved = outside.path().join("b");
    fs::rename(dir.path().join("b"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, dir.path().join("b")).unwrap();
    let err = set.load_clip(&set.clips()[1]).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}
