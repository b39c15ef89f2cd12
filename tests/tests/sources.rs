//! Frame sources: spec parsing, frame-folder and clip-set replay, failure and
//! recovery of a replayed camera, and a real V4L2 camera where one is named.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use artrt_calibration::{BACKGROUND, CLASSES, ELEMENTS, NEW_ELEMENTS, StreamOptions, labels};
use artrt_infer::PixelFormat;
use artrt_live::source::frames::{FramesOptions, FramesSource};
use artrt_live::source::synthetic::{GroundTruth, SyntheticSource};
use artrt_live::source::{
    self, CameraFormat, FrameSource, JpegMode, Pacing, SourceError, SourceOptions, SourceSpec,
    SpecError,
};
use image::{ImageFormat, Rgb, RgbImage};

/// A camera to test against, e.g. `ARTRT_TEST_V4L2=/dev/video0`.
const V4L2_ENV: &str = "ARTRT_TEST_V4L2";

fn fast() -> FramesOptions {
    FramesOptions {
        fps: 10.0,
        pacing: Pacing::Fast,
        looping: false,
        jpeg: JpegMode::Lend,
    }
}

/// A `w x h` image whose pixels encode `seed`, so frames can be told apart.
fn image(seed: u8, w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([seed, (x * 255 / w) as u8, (y * 255 / h) as u8])
    })
}

fn write(path: &Path, img: &RgbImage, format: ImageFormat) {
    img.save_with_format(path, format).unwrap();
}

/// A clip set in the README's layout: two clips of 3 and 2 frames.
fn clip_set(root: &Path) -> PathBuf {
    let set = root.join("set");
    fs::create_dir_all(&set).unwrap();
    fs::write(
        set.join("labels.txt"),
        "salto backward tucked\nround-off\nhandspring\n",
    )
    .unwrap();
    fs::write(set.join("annotations.txt"), "clip_a 3 2\n\nclip_b 2 0\n").unwrap();
    fs::write(
        set.join("set.toml"),
        "fps = 25\nwidth = 32\nheight = 24\n\n[provenance]\ngenerator = \"recorded\"\nversion = \"0.1.0\"\nseed = 0\ndescription = \"test\"\n",
    )
    .unwrap();
    for (clip, n, base) in [("clip_a", 3, 10u8), ("clip_b", 2, 20u8)] {
        fs::create_dir_all(set.join(clip)).unwrap();
        for k in 1..=n {
            write(
                &set.join(clip).join(format!("img_{k:05}.jpg")),
                &image(base + k as u8, 32, 24),
                ImageFormat::Jpeg,
            );
        }
    }
    set
}

#[test]
fn specs_parse_and_errors_say_what_is_wrong() {
    assert_eq!(
        "v4l2:/dev/video2".parse(),
        Ok(SourceSpec::V4l2("/dev/video2".into()))
    );
    assert_eq!(
        "synthetic".parse(),
        Ok(SourceSpec::Synthetic {
            seed: None,
            new_elements: false,
        })
    );
    assert_eq!(
        " synthetic:17 ".parse(),
        Ok(SourceSpec::Synthetic {
            seed: Some(17),
            new_elements: false,
        })
    );
    for (text, seed) in [("synthetic:17+new", Some(17)), ("synthetic:+new", None)] {
        let spec: SourceSpec = text.parse().unwrap();
        assert_eq!(
            spec,
            SourceSpec::Synthetic {
                seed,
                new_elements: true,
            }
        );
        assert_eq!(spec.to_string(), text);
    }
    assert_eq!(
        "frames:clips/a:b".parse(),
        Ok(SourceSpec::Frames("clips/a:b".into()))
    );

    assert_eq!("".parse::<SourceSpec>(), Err(SpecError::Empty));
    let err = "webcam:/dev/video0".parse::<SourceSpec>().unwrap_err();
    assert!(
        matches!(&err, SpecError::UnknownKind { kind, .. } if kind == "webcam"),
        "{err}"
    );
    assert!(
        err.to_string().contains(
            "expected v4l2:/dev/videoN, rtsp://HOST/PATH, synthetic[:SEED[+new]], frames:DIR or recording:DIR"
        ),
        "{err}"
    );
    let err = "v4l2:".parse::<SourceSpec>().unwrap_err();
    assert!(
        matches!(err, SpecError::MissingPath { kind: "v4l2", .. }),
        "{err}"
    );
    let err = "frames".parse::<SourceSpec>().unwrap_err();
    assert!(
        matches!(err, SpecError::MissingPath { kind: "frames", .. }),
        "{err}"
    );
    let err = "synthetic:-3".parse::<SourceSpec>().unwrap_err();
    assert!(
        matches!(&err, SpecError::BadSeed { seed, .. } if seed == "-3"),
        "{err}"
    );
    assert!(err.to_string().contains("`-3`"), "{err}");
    let err = "synthetic:4+old".parse::<SourceSpec>().unwrap_err();
    assert!(
        matches!(&err, SpecError::BadSeed { seed, .. } if seed == "4+old"),
        "{err}"
    );
}

#[test]
fn a_frame_folder_replays_in_natural_order_with_stream_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    // Written out of order, with names that sort wrongly as plain text.
    for (name, seed) in [("f10.jpg", 10u8), ("f2.png", 2), ("f1.jpg", 1)] {
        let format = if name.ends_with("png") {
            ImageFormat::Png
        } else {
            ImageFormat::Jpeg
        };
        write(&dir.path().join(name), &image(seed * 20, 16, 8), format);
    }
    fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();

    let mut src = FramesSource::open(dir.path(), fast()).unwrap();
    assert_eq!(src.len(), 3);
    assert!(src.clips().is_empty());
    assert_eq!(src.fps(), 10.0);

    let f = src.next_frame().unwrap();
    assert_eq!((f.format, f.width, f.height), (PixelFormat::Mjpeg, 16, 8));
    assert_eq!(
        f.data,
        fs::read(dir.path().join("f1.jpg")).unwrap().as_slice(),
        "JPEG lent as its file bytes"
    );
    assert_eq!(f.timestamp, Duration::ZERO);

    let f = src.next_frame().unwrap();
    assert_eq!(
        (f.format, f.width, f.height),
        (PixelFormat::Rgb24, 16, 8),
        "PNG is decoded"
    );
    assert_eq!(
        f.data,
        image(40, 16, 8).as_raw().as_slice(),
        "PNG is lossless"
    );
    assert_eq!(f.timestamp, Duration::from_millis(100));

    let f = src.next_frame().unwrap();
    assert_eq!(f.format, PixelFormat::Mjpeg);
    assert_eq!(
        f.data,
        fs::read(dir.path().join("f10.jpg")).unwrap().as_slice()
    );
    assert_eq!(f.timestamp, Duration::from_millis(200));

    assert!(matches!(src.next_frame(), Err(SourceError::Ended(_))));
    assert!(
        matches!(src.next_frame(), Err(SourceError::Ended(_))),
        "stays ended"
    );
}

#[test]
fn a_looping_replay_decodes_jpeg_to_rgb_and_keeps_counting_time() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.jpg"),
        &image(50, 20, 10),
        ImageFormat::Jpeg,
    );
    write(
        &dir.path().join("b.jpg"),
        &image(200, 20, 10),
        ImageFormat::Jpeg,
    );
    let options = FramesOptions {
        looping: true,
        jpeg: JpegMode::Decode,
        ..fast()
    };
    let mut src = FramesSource::open(dir.path(), options).unwrap();

    let mut reds = Vec::new();
    for n in 0..5u64 {
        let f = src.next_frame().unwrap();
        assert_eq!(
            (f.format, f.width, f.height, f.data.len()),
            (PixelFormat::Rgb24, 20, 10, 20 * 10 * 3)
        );
        assert_eq!(f.timestamp, Duration::from_millis(100 * n));
        reds.push(f.data[0]);
    }
    // JPEG is lossy: the red channel stays near what was written.
    for (red, want) in reds.iter().zip([50u8, 200, 50, 200, 50]) {
        assert!(red.abs_diff(want) <= 6, "red {red}, written {want}");
    }
    assert_eq!(src.position(), 5);
}

#[test]
fn a_clip_set_replays_its_clips_in_order_at_its_own_rate() {
    let root = tempfile::tempdir().unwrap();
    let set = clip_set(root.path());
    let spec: SourceSpec = format!("frames:{}", set.display()).parse().unwrap();
    let options = SourceOptions {
        pacing: Pacing::Fast,
        jpeg: JpegMode::Decode,
        fps: 99.0,
        ..SourceOptions::default()
    };
    let mut src = source::open(&spec, &options).unwrap();
    assert_eq!(src.fps(), 25.0, "set.toml's rate wins over the option");
    assert_eq!(src.describe(), format!("frames:{}", set.display()));

    let mut reds = Vec::new();
    let mut stamps = Vec::new();
    loop {
        match src.next_frame() {
            Ok(f) => {
                assert_eq!((f.width, f.height), (32, 24));
                reds.push(f.data[0]);
                stamps.push(f.timestamp);
            }
            Err(SourceError::Ended(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        stamps,
        (0..5)
            .map(|n| Duration::from_millis(40 * n))
            .collect::<Vec<_>>()
    );
    for (red, want) in reds.iter().zip([11u8, 12, 13, 21, 22]) {
        assert!(
            red.abs_diff(want) <= 6,
            "red {red}, written {want}: clips out of order?"
        );
    }

    let src = FramesSource::open(&set, fast()).unwrap();
    let clips: Vec<_> = src
        .clips()
        .iter()
        .map(|c| {
            (
                c.dir.as_str(),
                c.class_id,
                c.label.as_str(),
                c.first_frame,
                c.frames,
            )
        })
        .collect();
    assert_eq!(
        clips,
        [
            ("clip_a", 2, "handspring", 0, 3),
            ("clip_b", 0, "salto backward tucked", 3, 2)
        ]
    );
}

#[test]
fn a_malformed_clip_set_is_refused_with_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let set = clip_set(root.path());
    fs::write(set.join("annotations.txt"), "clip_a 3 2\nclip_b two 0\n").unwrap();
    let err = FramesSource::open(&set, fast())
        .err()
        .expect("malformed annotations");
    let text = err.to_string();
    assert!(matches!(err, SourceError::Unusable { .. }), "{text}");
    assert!(text.contains("annotations.txt:2"), "{text}");
    assert!(text.contains("two"), "{text}");

    fs::write(set.join("annotations.txt"), "clip_a 3 7\n").unwrap();
    let text = FramesSource::open(&set, fast()).err().unwrap().to_string();
    assert!(
        text.contains("annotations.txt:1") && text.contains("class id 7"),
        "{text}"
    );

    let empty = tempfile::tempdir().unwrap();
    let text = FramesSource::open(empty.path(), fast())
        .err()
        .unwrap()
        .to_string();
    assert!(text.contains("no frames"), "{text}");
}

#[test]
fn a_corrupt_frame_is_one_bad_frame_not_the_end() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("1.jpg"),
        &image(1, 8, 8),
        ImageFormat::Jpeg,
    );
    fs::write(dir.path().join("2.jpg"), b"\xff\xd8 this is not a jpeg").unwrap();
    write(
        &dir.path().join("3.jpg"),
        &image(3, 8, 8),
        ImageFormat::Jpeg,
    );
    for jpeg in [JpegMode::Lend, JpegMode::Decode] {
        let mut src = FramesSource::open(dir.path(), FramesOptions { jpeg, ..fast() }).unwrap();
        assert!(src.next_frame().is_ok());
        let err = src.next_frame().expect_err("corrupt JPEG");
        assert!(
            matches!(&err, SourceError::BadFrame { reason, .. } if reason.contains("2.jpg")),
            "{err}"
        );
        let f = src.next_frame().unwrap();
        assert_eq!(
            f.timestamp,
            Duration::from_millis(200),
            "the bad frame kept its slot"
        );
        assert!(matches!(src.next_frame(), Err(SourceError::Ended(_))));
    }
}

#[test]
fn a_replayed_camera_that_vanishes_is_lost_and_resumes_after_reopen() {
    let root = tempfile::tempdir().unwrap();
    let set = clip_set(root.path());
    let away = root.path().join("unplugged");
    let mut src = FramesSource::open(
        &set,
        FramesOptions {
            jpeg: JpegMode::Decode,
            ..fast()
        },
    )
    .unwrap();

    let first = src.next_frame().unwrap().data[0];
    assert!(first.abs_diff(11) <= 6);
    src.next_frame().unwrap();

    // The "cable" is pulled: the folder disappears mid-run.
    fs::rename(&set, &away).unwrap();
    let err = src.next_frame().expect_err("the folder is gone");
    assert!(
        matches!(&err, SourceError::Lost { reason, .. } if reason.contains("img_00003.jpg")),
        "{err}"
    );
    assert!(
        matches!(src.next_frame(), Err(SourceError::Lost { .. })),
        "stays lost until reopened"
    );
    assert!(
        matches!(src.reopen(), Err(SourceError::Lost { .. })),
        "still gone"
    );
    assert!(
        matches!(src.reopen(), Err(SourceError::Lost { .. })),
        "still gone"
    );

    // Plugged back in: the replay resumes at the frame it could not deliver.
    fs::rename(&away, &set).unwrap();
    src.reopen().unwrap();
    let f = src.next_frame().unwrap();
    assert!(
        f.data[0].abs_diff(13) <= 6,
        "resumed at clip_a's third frame, red {}",
        f.data[0]
    );
    assert_eq!(f.timestamp, Duration::from_millis(80));
    assert!(src.next_frame().is_ok());
    assert!(src.next_frame().is_ok());
    assert!(matches!(src.next_frame(), Err(SourceError::Ended(_))));
}

#[test]
fn a_missing_folder_opens_as_lost_and_other_mistakes_as_unusable() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("not-yet");
    let spec = SourceSpec::Frames(missing.clone());
    let err = source::open(&spec, &SourceOptions::default())
        .err()
        .expect("absent folder");
    assert!(
        matches!(&err, SourceError::Lost { source_name, .. } if source_name.contains("not-yet")),
        "{err}"
    );

    let file = root.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let err = source::open(&SourceSpec::Frames(file), &SourceOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(&err, SourceError::Unusable { reason, .. } if reason.contains("not a folder")),
        "{err}"
    );
}

/// Frames of the synthetic stream drawn in the tests: 8 s at 30 fps, long
/// enough for at least two elements with the generator's pauses.
const SYNTH_FRAMES: u64 = 240;

/// A digest of every frame and the segments of `SYNTH_FRAMES` frames of a stream.
fn synthetic_run(mut src: Box<dyn FrameSource>) -> (Vec<u64>, u32, u32) {
    let mut digests = Vec::new();
    let (mut w, mut h) = (0, 0);
    for n in 0..SYNTH_FRAMES {
        let f = src.next_frame().unwrap();
        assert_eq!(f.format, PixelFormat::Rgb24);
        assert_eq!(f.data.len(), (f.width * f.height * 3) as usize);
        assert_eq!(
            f.timestamp,
            Duration::from_secs_f64(n as f64 / 30.0),
            "stream time"
        );
        (w, h) = (f.width, f.height);
        // FNV-1a over the frame's bytes.
        digests.push(f.data.iter().fold(0xcbf2_9ce4_8422_2325u64, |d, &b| {
            (d ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }));
    }
    (digests, w, h)
}

#[test]
fn the_synthetic_stream_is_deterministic_and_tells_its_ground_truth() {
    let options = SourceOptions {
        pacing: Pacing::Fast,
        fps: 30.0,
        ..SourceOptions::default()
    };
    let open = |spec: &str| source::open(&spec.parse().unwrap(), &options).unwrap();
    assert_eq!(open("synthetic:7").describe(), "synthetic:7");
    assert_eq!(open("synthetic:7").fps(), 30.0);

    let (a, w, h) = synthetic_run(open("synthetic:7"));
    let defaults = StreamOptions::default();
    assert_eq!(
        (w, h),
        (defaults.width, defaults.height),
        "the generator's size, that of the clip sets"
    );
    assert_eq!(
        synthetic_run(open("synthetic:7")).0,
        a,
        "same seed, same frames"
    );
    assert_ne!(
        synthetic_run(open("synthetic:8")).0,
        a,
        "another seed, another stream"
    );
    assert_eq!(
        synthetic_run(open("synthetic")).0,
        synthetic_run(open(&format!("synthetic:{}", defaults.seed))).0
    );
    assert!(a.windows(2).any(|p| p[0] != p[1]), "the picture moves");

    // Ground truth: the same for the same seed, read through the shared handle.
    let segments_of = |seed| {
        let mut src = SyntheticSource::with_seed(Some(seed), false, 30, Pacing::Fast);
        let truth = src.ground_truth();
        assert_eq!(truth.fps(), 30);
        for _ in 0..SYNTH_FRAMES {
            src.next_frame().unwrap();
        }
        let own = src.segments().to_vec();
        drop(src);
        assert_eq!(
            truth.segments(),
            own,
            "the handle has every segment once the source is gone"
        );
        own
    };
    let segments = segments_of(7);
    assert_eq!(segments_of(7), segments);
    assert!(segments.len() >= 2, "{segments:?}");
    for (i, s) in segments.iter().enumerate() {
        assert!(s.start < s.end && s.start < SYNTH_FRAMES, "{s:?}");
        assert!(s.class_id < ELEMENTS.len(), "{s:?}");
        if let Some(next) = segments.get(i + 1) {
            assert!(
                s.end <= next.start,
                "elements do not overlap: {s:?} {next:?}"
            );
        }
    }
    // The pauses between elements hold no element: at least one gap.
    assert!(segments[0].start > 0 || segments.windows(2).any(|p| p[0].end < p[1].start));
}

#[test]
fn a_synthetic_stream_with_new_elements_shows_elements_of_no_class() {
    // Two minutes: about 50 elements, of which about 30 % are new.
    let frames = 120 * 30;
    let mut src = SyntheticSource::with_seed(Some(5), true, 30, Pacing::Fast);
    assert!(
        src.describe().starts_with("synthetic:5+new"),
        "{}",
        src.describe()
    );
    for _ in 0..frames {
        src.next_frame().unwrap();
    }
    let segments = src.segments().to_vec();
    let new: Vec<_> = segments.iter().filter(|s| s.class_id >= CLASSES).collect();
    assert!(
        new.len() * 10 >= segments.len() && new.len() * 2 <= segments.len(),
        "{} new of {}",
        new.len(),
        segments.len()
    );
    for s in &new {
        assert_eq!(
            GroundTruth::label(s),
            NEW_ELEMENTS[s.class_id - CLASSES].label
        );
        assert!(!labels().iter().any(|l| l == GroundTruth::label(s)));
    }
    assert!(segments.iter().all(|s| s.class_id != BACKGROUND));
}

#[test]
fn a_v4l2_camera_streams_when_one_is_named() {
    let Some(device) = std::env::var_os(V4L2_ENV) else {
        println!("no camera: set {V4L2_ENV}=/dev/videoN to test V4L2 capture");
        return;
    };
    let spec = SourceSpec::V4l2(PathBuf::from(&device));
    for format in [CameraFormat::Yuyv, CameraFormat::Mjpeg] {
        let options = SourceOptions {
            format,
            width: 640,
            height: 480,
            fps: 30.0,
            ..SourceOptions::default()
        };
        let mut src = match source::open(&spec, &options) {
            Ok(src) => src,
            Err(SourceError::Unusable { reason, .. }) if reason.contains("does not offer") => {
                println!("{}: skips {format}: {reason}", device.to_string_lossy());
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(src.fps() > 0.0);
        let mut last = None;
        for _ in 0..10 {
            let f = src.next_frame().unwrap_or_else(|e| panic!("{e}"));
            assert!(f.width > 0 && f.height > 0);
            match format {
                CameraFormat::Yuyv => {
                    assert_eq!(f.format, PixelFormat::Yuyv);
                    assert_eq!(f.data.len(), (f.width * f.height * 2) as usize);
                }
                CameraFormat::Mjpeg => {
                    assert_eq!(f.format, PixelFormat::Mjpeg);
                    assert_eq!(&f.data[..2], b"\xff\xd8", "a JPEG starts with SOI");
                }
            }
            if let Some(last) = last {
                assert!(f.timestamp > last, "timestamps increase");
            }
            last = Some(f.timestamp);
        }
    }
}
