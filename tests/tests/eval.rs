//! `artrt eval`'s library over a clip set with damaged clips: a truncated
//! frame, a missing one, a FIFO and a link to a device in place of frames.
//! The evaluation goes on past each, names the frame file, and gives the
//! other clips the predictions a clean set gives them.

use std::ffi::CString;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use artrt_calibration::{ClipSet, SynthOptions, frame_file_name, generate_set};
use artrt_infer::{BackendConfig, BackendKind, Bundle, Failover, Precision};
use artrt_tests::bundle_fixtures::bundle_dir;
use artrt_tools::eval::evaluate;

fn chain(bundle: &Arc<Bundle>) -> Failover {
    let config = BackendConfig {
        threads: 2,
        ..BackendConfig::default()
    };
    Failover::open(
        bundle.clone(),
        &[BackendKind::OrtCpu, BackendKind::Tract],
        Precision::Fp32,
        config,
    )
    .unwrap()
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn evaluation_goes_on_past_bad_clips_and_names_each_frame_file() {
    let bundle = Arc::new(Bundle::load(bundle_dir()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions {
        clips: 8,
        seed: 31,
        ..SynthOptions::default()
    };
    let set = generate_set(dir.path(), &opts, || {}).unwrap();
    let clean = evaluate(&bundle, &set, vec![chain(&bundle)], || {}).unwrap();
    assert!(clean.skipped.is_empty());

    let clips = set.clips().to_vec();
    let frame = |i: usize, k: u32| dir.path().join(&clips[i].clip_dir).join(frame_file_name(k));
    let truncated = frame(1, 2);
    let bytes = fs::read(&truncated).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let missing = frame(3, 1);
    fs::remove_file(&missing).unwrap();
    let fifo = frame(4, clips[4].num_frames);
    fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let device = frame(6, 5);
    fs::remove_file(&device).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();

    let damaged = ClipSet::open(dir.path()).unwrap();
    let mut seen = 0;
    let report = evaluate(&bundle, &damaged, vec![chain(&bundle)], || seen += 1).unwrap();
    assert_eq!(
        seen,
        clips.len(),
        "progress is called for skipped clips too"
    );
    assert_eq!(report.clips, clips.len() - 4);
    let skipped: Vec<(&str, &Path, &str)> = report
        .skipped
        .iter()
        .map(|s| {
            (
                s.clip.as_str(),
                s.file.as_deref().unwrap(),
                s.reason.as_str(),
            )
        })
        .collect();
    let expect = [
        (1, &truncated, "truncated"),
        (3, &missing, "missing"),
        (4, &fifo, "not a regular file"),
        (6, &device, "symbolic link"),
    ];
    assert_eq!(skipped.len(), expect.len(), "{skipped:?}");
    for ((clip, file, reason), (i, want_file, want_reason)) in skipped.iter().zip(expect) {
        assert_eq!(*clip, clips[i].clip_dir);
        assert_eq!(*file, want_file.as_path());
        assert!(reason.contains(want_reason), "{clip}: {reason}");
        assert!(
            !reason.contains(&want_file.display().to_string()),
            "{reason}"
        );
    }
    let kept: Vec<usize> = [0, 2, 5, 7]
        .iter()
        .map(|&i| clean.runs[0].predictions[i])
        .collect();
    assert_eq!(report.runs[0].predictions, kept);
    let per_class: usize = report.runs[0].per_class.iter().map(|r| r.clips).sum();
    assert_eq!(per_class, report.clips);
}

#[test]
fn a_set_with_no_usable_clip_is_an_error_naming_one() {
    let bundle = Arc::new(Bundle::load(bundle_dir()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions {
        clips: 2,
        seed: 32,
        ..SynthOptions::default()
    };
    let set = generate_set(dir.path(), &opts, || {}).unwrap();
    for clip in set.clips() {
        fs::remove_file(dir.path().join(&clip.clip_dir).join(frame_file_name(1))).unwrap();
    }
    let Err(err) = evaluate(&bundle, &set, vec![chain(&bundle)], || {}) else {
        panic!("a set without a usable clip was evaluated");
    };
    assert!(
        err.to_string().contains("no clip") && err.to_string().contains(&set.clips()[0].clip_dir),
        "{err}"
    );
}
