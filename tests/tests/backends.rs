//! Backend conformance: every available backend and precision against the
//! bundle's golden outputs, tract against ONNX Runtime on generated clips,
//! damaged bundles, a missing ONNX Runtime, the golden self-test and
//! failover while running.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use artrt_calibration::{SynthOptions, render_clip};
use artrt_infer::ndarray::Axis;
use artrt_infer::postprocess::argmax;
use artrt_infer::{
    Backend, BackendChoice, BackendConfig, BackendKind, Bundle, BundleError, ClipMemory, FrameRef,
    InferError, OpenError, OrtBackend, OrtConfig, OrtLibError, Outputs, PixelFormat, Precision,
    Preprocessor, open_backend,
};
use artrt_infer::{Failover, SelfTest, open_unchecked};
use artrt_tests::bundle_fixtures::{bundle_copy, bundle_dir, edit_manifest, reseal};

fn bundle() -> Arc<Bundle> {
    Arc::new(Bundle::load(bundle_dir()).expect("the bundle under test loads"))
}

fn config() -> BackendConfig {
    BackendConfig {
        threads: 2,
        ..BackendConfig::default()
    }
}

/// A configuration whose ONNX Runtime library does not exist.
fn config_without_ort() -> BackendConfig {
    BackendConfig {
        threads: 2,
        ort: OrtConfig {
            lib: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1")),
            ..OrtConfig::default()
        },
    }
}

#[test]
fn backend_names_are_the_wire_names() {
    let names: Vec<&str> = BackendKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, ["trt", "cuda", "ort-cpu", "tract"]);
    for k in BackendKind::ALL {
        assert_eq!(k.as_str().parse::<BackendKind>().unwrap(), k);
    }
    assert_eq!(
        "auto".parse::<BackendChoice>().unwrap(),
        BackendChoice::Auto
    );
    assert!("gpu".parse::<BackendChoice>().is_err());
}

/// Every backend and precision this build and machine can run matches the
/// golden logits within the bundle's tolerance; the others refuse with a reason.
#[test]
fn every_available_backend_matches_golden_outputs() {
    let b = bundle();
    let mut served = Vec::new();
    for precision in [Precision::Fp32, Precision::Int8] {
        for kind in BackendKind::ALL {
            match open_backend(&b, kind, precision, &config()) {
                Ok((mut backend, test)) => {
                    let golden = &b.golden.outputs[backend.model()];
                    let atol = b.golden.atol(precision);
                    for (k, input) in b.golden.input.outer_iter().enumerate() {
                        let input = input.as_standard_layout();
                        let out = backend
                            .run(input.as_slice().unwrap())
                            .expect("golden clip runs");
                        let diff = out
                            .logits
                            .iter()
                            .zip(golden.logits.index_axis(Axis(0), k))
                            .map(|(a, g)| (a - g).abs())
                            .fold(0.0f32, f32::max);
                        assert!(
                            diff <= atol,
                            "{kind} {precision} clip {k}: logits {diff} off (tolerance {atol})"
                        );
                        assert_eq!(
                            out.region_attn.len(),
                            golden.region_attn.index_axis(Axis(0), k).len()
                        );
                    }
                    eprintln!(
                        "{kind} {precision} ({}, {}): max logit diff {:.2e}, max attention diff {:.2e}",
                        backend.provider(),
                        backend.model(),
                        test.max_logit_diff,
                        test.max_attn_diff
                    );
                    served.push((kind, precision));
                }
                Err(e) => {
                    eprintln!("{kind} {precision}: {e}");
                    assert!(
                        matches!(kind, BackendKind::Trt | BackendKind::Cuda),
                        "{kind} {precision} must run on any machine: {e}"
                    );
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
    for p in [Precision::Fp32, Precision::Int8] {
        assert!(
            served.contains(&(BackendKind::OrtCpu, p)),
            "ort-cpu {p} did not serve"
        );
        assert!(
            served.contains(&(BackendKind::Tract, p)),
            "tract {p} did not serve"
        );
    }
}

/// Clips of the synthetic gym, preprocessed as the bundle says.
fn generated_inputs(b: &Bundle, clips: usize) -> Vec<Vec<f32>> {
    let opts = SynthOptions {
        clips,
        frames: b.input.window as u32,
        seed: 4242,
        ..SynthOptions::default()
    };
    let mut pre = Preprocessor::new(&b.input);
    (0..clips)
        .map(|i| {
            let clip = render_clip(&opts, i);
            let frames: Vec<FrameRef> = clip
                .frames
                .iter()
                .map(|f| FrameRef {
                    format: PixelFormat::Rgb24,
                    width: f.width(),
                    height: f.height(),
                    data: f.as_raw(),
                    timestamp: Default::default(),
                })
                .collect();
            let mut input = vec![0.0; pre.clip_len()];
            pre.clip_into(&frames, &mut input)
                .expect("preprocess generated clip");
            input
        })
        .collect()
}

fn top1(backend: &mut dyn Backend, inputs: &[Vec<f32>]) -> Vec<usize> {
    inputs
        .iter()
        .map(|x| argmax(&backend.run(x).expect("run").logits).expect("logits"))
        .collect()
}

fn agreement(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// On 200 generated clips, tract agrees with ONNX Runtime CPU on the top-1
/// class of at least 99 % at FP32. At INT8 the two runtimes round
/// requantisation differently, so tract's INT8 must agree with ONNX Runtime's
/// INT8 at least as often as ONNX Runtime's INT8 agrees with its own FP32 (a
/// wrong quantised kernel agrees with neither).
#[test]
fn tract_agrees_with_ort_cpu_on_generated_clips() {
    let b = bundle();
    let inputs = generated_inputs(&b, 200);
    let config = config();
    let ort_top1 = |kind: BackendKind, precision: Precision| {
        let entry = b.model_for(kind, precision).expect("a model file");
        let mut ort = OrtBackend::open(&b, entry, BackendKind::OrtCpu, 2, &config.ort)
            .expect("ONNX Runtime loads");
        top1(&mut ort, &inputs)
    };
    let ort_fp32 = ort_top1(BackendKind::OrtCpu, Precision::Fp32);
    for precision in [Precision::Fp32, Precision::Int8] {
        let entry = b
            .model_for(BackendKind::Tract, precision)
            .expect("a model for tract");
        let mut tract =
            open_unchecked(&b, BackendKind::Tract, precision, &config).expect("tract loads");
        let t = top1(tract.as_mut(), &inputs);
        let o = ort_top1(BackendKind::Tract, precision);
        let a = agreement(&t, &o);
        let floor = match precision {
            Precision::Fp32 => 0.99,
            Precision::Int8 => agreement(&o, &ort_fp32),
        };
        eprintln!(
            "{} on tract vs ONNX Runtime CPU: top-1 agreement {:.1} % (at least {:.1} %)",
            entry.path,
            a * 100.0,
            floor * 100.0
        );
        assert!(
            a >= floor,
            "{}: tract and ONNX Runtime agree on {:.1} % of clips, below {:.1} %",
            entry.path,
            a * 100.0,
            floor * 100.0
        );
    }
}

/// Loads a damaged copy of the bundle and returns the error.
fn load_damaged(damage: impl FnOnce(&Path)) -> BundleError {
    let (_tmp, dir) = bundle_copy();
    damage(&dir);
    Bundle::load(&dir).expect_err("a damaged bundle must not load")
}

#[test]
fn truncated_model_is_reported_as_damaged() {
    let e = load_damaged(|d| {
        let p = d.join("model.fp32.onnx");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Corrupt { kind: "ONNX", path, .. } if path.ends_with("model.fp32.onnx")),
        "{e}"
    );
}

/// A FIFO, a link out of the bundle and a path with `..` are refused before
/// anything is opened, so none of them can block or flood the loader.
#[test]
fn files_that_are_not_the_bundles_own_are_refused_unread() {
    let e = load_damaged(|d| {
        let p = d.join("model.fp32.onnx");
        std::fs::remove_file(&p).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(made.success());
    });
    assert!(
        matches!(&e, BundleError::Unsafe { path, reason } if path.ends_with("model.fp32.onnx") && reason.contains("regular file")),
        "{e}"
    );
    let e = load_damaged(|d| {
        let p = d.join("model.fp32.onnx");
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Unsafe { reason, .. } if reason.contains("symbolic link")),
        "{e}"
    );
    let e = load_damaged(|d| {
        let golden = d.join("golden");
        let moved = d.parent().unwrap().join("golden-elsewhere");
        std::fs::rename(&golden, &moved).unwrap();
        std::os::unix::fs::symlink(&moved, &golden).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Unsafe { reason, .. } if reason.contains("symbolic link")),
        "{e}"
    );
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            t.replace("\"report.json\" =", "\"../report.json\" =")
        })
    });
    assert!(
        matches!(&e, BundleError::Unsafe { path, .. } if path.ends_with("../report.json")),
        "{e}"
    );
}

/// Every digest names a file that is there and matches: the report too.
#[test]
fn every_digest_names_a_matching_file() {
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            t.replace(
                "\n[provenance]",
                "\"golden/gone.npy\" = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\n[provenance]",
            )
        })
    });
    assert!(
        matches!(&e, BundleError::Io { path, .. } if path.ends_with("golden/gone.npy")),
        "{e}"
    );
    let e = load_damaged(|d| {
        let p = d.join("report.json");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[10] ^= 0x20;
        std::fs::write(&p, bytes).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Checksum { path, .. } if path.ends_with("report.json")),
        "{e}"
    );
}

/// Tolerances that would let a self-test pass whatever the model computes
/// are refused, naming the key.
#[test]
fn a_self_test_that_cannot_fail_is_refused() {
    for (from, to) in [
        ("atol_logits = 0.001", "atol_logits = inf"),
        ("atol_logits = 0.001", "atol_logits = nan"),
        ("atol_logits_int8 = 1.0", "atol_logits_int8 = 100.0"),
    ] {
        let e = load_damaged(|d| edit_manifest(d, |t| t.replace(from, to)));
        let key = to.split(' ').next().unwrap();
        assert!(
            matches!(&e, BundleError::Invalid { key: k, .. } if k.ends_with(key) || k == "golden.atol_logits"),
            "{to}: {e}"
        );
    }
}

#[test]
fn truncated_golden_array_is_reported_as_damaged() {
    let e = load_damaged(|d| {
        let p = d.join("golden/input.npy");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1000]).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Corrupt { kind: "NumPy", path, .. } if path.ends_with("golden/input.npy")),
        "{e}"
    );
}

#[test]
fn one_flipped_byte_fails_the_checksum() {
    let e = load_damaged(|d| {
        let p = d.join("model.int8.onnx");
        let mut bytes = std::fs::read(&p).unwrap();
        // A byte inside the last initializer's raw data keeps the protobuf valid.
        let at = bytes.len() - 64;
        bytes[at] ^= 0x01;
        std::fs::write(&p, bytes).unwrap();
    });
    match &e {
        BundleError::Checksum {
            path,
            expected,
            actual,
            ..
        } => {
            assert!(path.ends_with("model.int8.onnx"));
            assert_ne!(expected, actual);
        }
        BundleError::Corrupt { path, .. } => assert!(path.ends_with("model.int8.onnx"), "{e}"),
        other => panic!("expected a checksum error, got {other}"),
    }
    let e = load_damaged(|d| {
        let p = d.join("golden/input.npy");
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x80;
        std::fs::write(&p, bytes).unwrap();
    });
    assert!(
        matches!(&e, BundleError::Checksum { path, .. } if path.ends_with("golden/input.npy")),
        "{e}"
    );
    assert!(e.to_string().contains("SHA-256 mismatch"), "{e}");
}

#[test]
fn shapes_that_disagree_with_the_model_are_refused() {
    // The manifest claims 16 frames; the ONNX input has 8.
    let e = load_damaged(|d| edit_manifest(d, |t| t.replacen("frames = 8", "frames = 16", 1)));
    match &e {
        BundleError::Shape { what, path, .. } => {
            assert!(what.contains("video"), "{e}");
            assert!(path.extension().is_some_and(|x| x == "onnx"), "{e}");
        }
        other => panic!("expected a shape error, got {other}"),
    }
    // Golden logits of the wrong shape.
    let e = load_damaged(|d| {
        let name = "golden/model.fp32.logits.npy";
        artrt_infer::preprocess::write_npy(&d.join(name), &[1, 3], &[0.0, 1.0, 2.0]).unwrap();
        reseal(d, name);
    });
    assert!(
        matches!(&e, BundleError::Shape { path, .. } if path.ends_with("golden/model.fp32.logits.npy")),
        "{e}"
    );
}

#[test]
fn missing_labels_are_refused() {
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            let start = t.find("labels = [").unwrap();
            let end = start + t[start..].find(']').unwrap() + 1;
            format!("{}{}", &t[..start], &t[end..])
        })
    });
    assert!(matches!(e, BundleError::Manifest { .. }), "{e}");
    assert!(e.to_string().contains("labels"), "{e}");
    // One label fewer than the model's classes.
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            let start = t.find("labels = [").unwrap();
            let end = start + t[start..].find(']').unwrap();
            let list = &t[start..end];
            let last = list.trim_end().trim_end_matches(',').rfind(',').unwrap();
            let t = format!("{}{}", &t[..start + last], &t[end..]);
            // Without its background line: the dropped label may be the background.
            let kept: Vec<&str> = t
                .lines()
                .filter(|l| !l.starts_with("background ="))
                .collect();
            kept.join("\n")
        })
    });
    assert!(
        matches!(&e, BundleError::Invalid { key, .. } if key == "text.bank_shape"),
        "{e}"
    );
}

#[test]
fn the_background_class_must_be_a_label() {
    let bundle = Bundle::load(bundle_dir()).unwrap();
    if let Some(bg) = bundle.background() {
        assert_eq!(
            bundle.model.background.as_deref(),
            Some(bundle.labels()[bg].as_str())
        );
        let actions = bundle.action_labels();
        assert_eq!(actions.len(), bundle.labels().len() - 1);
        assert!(!actions.contains(&bundle.labels()[bg]));
    }
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            let kept: Vec<&str> = t
                .lines()
                .filter(|l| !l.starts_with("background ="))
                .collect();
            kept.join("\n")
                .replacen("[model]\n", "[model]\nbackground = \"warm-up\"\n", 1)
        })
    });
    assert!(
        matches!(&e, BundleError::Invalid { key, .. } if key == "model.background"),
        "{e}"
    );
    assert!(e.to_string().contains("warm-up"), "{e}");
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = load_damaged(|d| {
        edit_manifest(d, |t| t.replacen("[input]\n", "[input]\ngamma = 2.2\n", 1))
    });
    assert!(matches!(e, BundleError::Manifest { .. }), "{e}");
    assert!(e.to_string().contains("gamma"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let e = load_damaged(|d| std::fs::remove_file(d.join("model.int8-conv.onnx")).unwrap());
    assert!(
        matches!(&e, BundleError::Io { path, .. } if path.ends_with("model.int8-conv.onnx")),
        "{e}"
    );
    // The system's reason is in the message, and only there: a report of the
    // whole chain names it once.
    let report = format!("{:?}", anyhow::Error::from(e));
    assert_eq!(report.matches("No such file").count(), 1, "{report}");
}

/// Without an ONNX Runtime library, the ONNX Runtime backends refuse with
/// a message naming the library, and `auto` serves on tract.
#[test]
fn without_onnx_runtime_auto_runs_tract() {
    let b = bundle();
    let e = open_backend(
        &b,
        BackendKind::OrtCpu,
        Precision::Fp32,
        &config_without_ort(),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(e, OpenError::OrtLibrary(OrtLibError::Missing { .. })),
        "{e}"
    );
    assert!(
        e.to_string().contains("/nonexistent/libonnxruntime.so.1"),
        "{e}"
    );

    let mut chain = Failover::open(
        b.clone(),
        &BackendKind::ALL,
        Precision::Fp32,
        config_without_ort(),
    )
    .expect("auto serves");
    assert_eq!(chain.kind(), BackendKind::Tract);
    assert_eq!(chain.provider(), "tract");
    let ort_refusal = chain
        .refusals()
        .iter()
        .find(|r| r.kind == BackendKind::OrtCpu)
        .expect("ort-cpu refused");
    assert!(
        ort_refusal.reason.contains("ONNX Runtime library"),
        "{}",
        ort_refusal.reason
    );
    let input = b
        .golden
        .input
        .index_axis(Axis(0), 0)
        .as_standard_layout()
        .into_owned();
    let out = chain.run(input.as_slice().unwrap()).expect("tract runs");
    assert_eq!(out.logits.len(), b.labels().len());

    // An order of one never falls back.
    let e = Failover::open(
        b,
        &BackendChoice::Only(BackendKind::OrtCpu).order(&BackendKind::ALL),
        Precision::Fp32,
        config_without_ort(),
    )
    .err()
    .expect("strict ort-cpu refuses");
    assert_eq!(e.refusals.len(), 1);
    assert!(e.to_string().contains("ort-cpu"), "{e}");
}

/// A backend whose outputs disagree with the golden ones is refused with
/// the numbers, and `auto` moves on to the next backend.
#[test]
fn golden_self_test_refuses_a_disagreeing_backend() {
    let (_tmp, dir) = bundle_copy();
    // Shift the golden logits of the full-Q/DQ INT8 file (ort-cpu's) by
    // four times the INT8 tolerance.
    let name = "golden/model.int8.logits.npy";
    let b = Bundle::load(&dir).unwrap();
    let shift = 4.0 * b.golden.atol_logits_int8;
    let shifted: Vec<f32> = b.golden.outputs["model.int8.onnx"]
        .logits
        .iter()
        .map(|v| v + shift)
        .collect();
    let shape = b.golden.outputs["model.int8.onnx"].logits.shape().to_vec();
    artrt_infer::preprocess::write_npy(&dir.join(name), &shape, &shifted).unwrap();
    reseal(&dir, name);
    let b = Arc::new(Bundle::load(&dir).unwrap());

    let e = open_backend(&b, BackendKind::OrtCpu, Precision::Int8, &config())
        .err()
        .expect("refused");
    match &e {
        OpenError::SelfTest { max_diff, atol, .. } => {
            assert!((*max_diff - shift).abs() < 0.1 * shift, "{e}");
            assert_eq!(*atol, b.golden.atol_logits_int8);
        }
        other => panic!("expected a self-test refusal, got {other}"),
    }
    assert!(e.to_string().contains("tolerance"), "{e}");

    let chain =
        Failover::open(b, &BackendKind::ALL, Precision::Int8, config()).expect("auto serves");
    assert_eq!(chain.kind(), BackendKind::Tract);
    assert!(
        chain
            .refusals()
            .iter()
            .any(|r| r.kind == BackendKind::OrtCpu && r.reason.contains("self-test"))
    );
}

/// A backend that fails while running: a test double standing in for a GPU
/// that disappears mid-run (the real backends are tested above).
struct Vanishing {
    out: Outputs,
}

impl Backend for Vanishing {
    fn kind(&self) -> BackendKind {
        BackendKind::Cuda
    }
    fn provider(&self) -> &str {
        "CUDAExecutionProvider"
    }
    fn precision(&self) -> Precision {
        Precision::Fp32
    }
    fn model(&self) -> &str {
        "model.fp32.onnx"
    }
    fn run(&mut self, _input: &[f32]) -> Result<&Outputs, InferError> {
        Err(InferError::Run {
            backend: BackendKind::Cuda,
            message: "device lost".into(),
        })
    }
    fn outputs(&self) -> &Outputs {
        &self.out
    }
}

/// A [`Vanishing`] backend as if it had passed its self-test.
fn vanishing() -> (Box<dyn Backend>, SelfTest) {
    let backend = Box::new(Vanishing {
        out: Outputs::default(),
    });
    let test = SelfTest {
        max_logit_diff: 0.0,
        max_attn_diff: 0.0,
        atol: 1e-4,
    };
    (backend, test)
}

/// When a run fails, the failover wrapper moves to the next backend and the
/// same clip gets the next backend's real answer.
#[test]
fn failover_reruns_the_clip_on_the_next_backend() {
    let b = bundle();
    let input = b
        .golden
        .input
        .index_axis(Axis(0), 1)
        .as_standard_layout()
        .into_owned();
    let input = input.as_slice().unwrap();
    let (mut reference, _) =
        open_backend(&b, BackendKind::OrtCpu, Precision::Fp32, &config()).unwrap();
    let expected = reference.run(input).unwrap().logits.clone();

    let mut chain = Failover::with_first(
        b,
        vanishing(),
        &[BackendKind::OrtCpu, BackendKind::Tract],
        config(),
    );
    assert_eq!(chain.kind(), BackendKind::Cuda);
    let out = chain
        .run(input)
        .expect("the clip is served by the next backend");
    assert_eq!(out.logits, expected);
    assert_eq!(chain.kind(), BackendKind::OrtCpu);
    assert_eq!(chain.provider(), "CPUExecutionProvider");
    assert_eq!(chain.refusals().len(), 1);
    assert!(chain.refusals()[0].reason.contains("device lost"));
}

/// With nothing behind it, a failing backend's error reaches the caller.
#[test]
fn failover_with_nothing_left_reports_the_failure() {
    let b = bundle();
    let mut chain = Failover::with_first(b.clone(), vanishing(), &[], config());
    let input = vec![0.0; b.input.clip_len()];
    let e = chain.run(&input).expect_err("no backend left");
    assert!(
        matches!(
            e,
            InferError::Exhausted {
                backend: BackendKind::Cuda,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("device lost") || format!("{:?}", e).contains("device lost"));
}

/// Wrong input sizes are errors, not panics, on the real backends.
#[test]
fn wrong_input_size_is_an_error() {
    let b = bundle();
    for kind in [BackendKind::OrtCpu, BackendKind::Tract] {
        let mut backend = open_unchecked(&b, kind, Precision::Fp32, &config()).unwrap();
        let e = backend.run(&[0.0; 10]).expect_err("refused");
        assert!(
            matches!(e, InferError::InputSize { found: 10, .. }),
            "{kind}: {e}"
        );
    }
}

/// ONNX Runtime keeps its input bound across runs: each run reads the clip
/// it is given, never the one bound before (golden clips in turn, then the
/// first again, each matching its golden logits).
#[test]
fn bound_ort_input_is_read_again_on_every_run() {
    let b = bundle();
    let (mut ort, test) =
        open_backend(&b, BackendKind::OrtCpu, Precision::Fp32, &config()).unwrap();
    let golden = &b.golden.outputs[ort.model()].logits;
    let n = b.golden.input.shape()[0];
    assert!(n >= 2, "the bundle has {n} golden clips");
    for clip in (0..n).chain([0]) {
        let input = b
            .golden
            .input
            .index_axis(Axis(0), clip)
            .as_standard_layout()
            .into_owned();
        let out = ort.run(input.as_slice().unwrap()).unwrap();
        for (v, g) in out.logits.iter().zip(golden.row(clip)) {
            assert!((v - g).abs() <= test.atol, "clip {clip}: {v} vs golden {g}");
        }
    }
}

/// A host backend says so at the device seam: no device input, single or
/// batched, and a device run is an error naming it, through the failover
/// chain as well.
#[test]
fn host_backends_have_no_device_input() {
    let b = bundle();
    for kind in [BackendKind::OrtCpu, BackendKind::Tract] {
        let (mut backend, _) = open_backend(&b, kind, Precision::Fp32, &config()).unwrap();
        assert_eq!(backend.input_memory(), ClipMemory::Host, "{kind}");
        assert_eq!(backend.device_input(), None, "{kind}");
        let e = backend.run_device().expect_err("no device input");
        assert!(
            matches!(e, InferError::NoDeviceInput(k) if k == kind),
            "{e}"
        );
        assert_eq!(backend.device_batch_input(2), None, "{kind}");
        let e = backend
            .run_device_batch(&mut [Outputs::default(), Outputs::default()])
            .expect_err("no device batch input");
        assert!(
            matches!(e, InferError::NoDeviceInput(k) if k == kind),
            "{e}"
        );
    }
    let mut chain = Failover::open(b, &[BackendKind::OrtCpu], Precision::Fp32, config()).unwrap();
    assert_eq!(chain.input_memory(), ClipMemory::Host);
    assert_eq!(chain.device_input(), None);
    let e = chain.run_device().expect_err("no device input");
    assert!(e.to_string().contains("host memory"), "{e}");
    assert_eq!(chain.device_batch_input(2), None);
    let e = chain
        .run_device_batch(&mut [Outputs::default(), Outputs::default()])
        .expect_err("no device batch input");
    assert!(e.to_string().contains("host memory"), "{e}");
    assert_eq!(
        chain.kind(),
        BackendKind::OrtCpu,
        "a host run does not fail over"
    );
}

/// A CPU backend's replicas (the inference threads of several cameras) run
/// clips at the same time, each with the original's outputs; through the
/// failover chain as well.
#[test]
fn replicas_run_clips_at_once_with_the_originals_outputs() {
    let b = bundle();
    let inputs = generated_inputs(&b, 6);
    for kind in [BackendKind::OrtCpu, BackendKind::Tract] {
        let chain = Failover::open(Arc::clone(&b), &[kind], Precision::Fp32, config())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut original: Box<dyn Backend> = Box::new(chain);
        let expected: Vec<Vec<f32>> = inputs
            .iter()
            .map(|x| original.run(x).expect("run").logits.clone())
            .collect();
        let mut replicas: Vec<Box<dyn Backend>> = (0..2)
            .map(|_| {
                original
                    .replicate(1)
                    .expect("a replica opens")
                    .unwrap_or_else(|| panic!("{kind} replicates"))
            })
            .collect();
        let got: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
            let runs: Vec<_> = replicas
                .iter_mut()
                .map(|replica| {
                    let inputs = &inputs;
                    s.spawn(move || {
                        assert_eq!(replica.kind(), kind);
                        inputs
                            .iter()
                            .map(|x| replica.run(x).expect("replica run").logits.clone())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("replica thread"))
                .collect()
        });
        for logits in got {
            for (clip, (a, e)) in logits.iter().zip(&expected).enumerate() {
                let diff = a
                    .iter()
                    .zip(e)
                    .map(|(a, e)| (a - e).abs())
                    .fold(0.0, f32::max);
                assert!(
                    diff < 1e-4,
                    "{kind}, clip {clip}: replica's logits differ by {diff}"
                );
            }
        }
    }
}

/// Largest absolute difference between two runs' outputs, logits and attention.
fn outputs_diff(a: &Outputs, b: &Outputs) -> f32 {
    assert_eq!(
        (a.logits.len(), a.region_attn.len()),
        (b.logits.len(), b.region_attn.len())
    );
    a.logits
        .iter()
        .zip(&b.logits)
        .chain(a.region_attn.iter().zip(&b.region_attn))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The bundle's ONNX Runtime files take up to 4 clips at once: a batch,
/// split into calls of at most 4, gives each clip the outputs it has alone,
/// at both precisions and through the failover chain. tract runs the same
/// batch one clip at a time.
#[test]
fn a_batch_gives_each_clip_the_outputs_it_has_alone() {
    let b = bundle();
    let inputs = generated_inputs(&b, 7);
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    for (kind, precision, max_batch) in [
        (BackendKind::OrtCpu, Precision::Fp32, 4),
        (BackendKind::OrtCpu, Precision::Int8, 4),
        (BackendKind::Tract, Precision::Fp32, 1),
    ] {
        let (mut backend, _) = open_backend(&b, kind, precision, &config())
            .unwrap_or_else(|e| panic!("{kind} {precision}: {e}"));
        assert_eq!(backend.max_batch(), max_batch, "{kind} {precision}");
        let alone: Vec<Outputs> = inputs
            .iter()
            .map(|x| backend.run(x).expect("run").clone())
            .collect();
        for n in [2, 4, 7] {
            let mut outputs = vec![Outputs::default(); n];
            backend
                .run_batch(&refs[..n], &mut outputs)
                .unwrap_or_else(|e| panic!("{kind} {precision}, {n} clips: {e}"));
            for (clip, (got, want)) in outputs.iter().zip(&alone).enumerate() {
                let diff = outputs_diff(got, want);
                assert!(
                    diff <= 1e-5,
                    "{kind} {precision}, {n} clips: clip {clip} differs by {diff}"
                );
            }
        }
        let mut two = vec![Outputs::default(); 2];
        let e = backend
            .run_batch(&refs[..3], &mut two)
            .expect_err("one output buffer per clip");
        assert!(
            e.to_string().contains("3 clips but 2 output buffers"),
            "{e}"
        );
        let wrong = [&inputs[0][..], &inputs[1][..10]];
        let e = backend
            .run_batch(&wrong, &mut two)
            .expect_err("a clip of the wrong size");
        assert!(matches!(e, InferError::InputSize { found: 10, .. }), "{e}");
    }
    // A batch the serving backend fails runs again on the next one.
    let mut chain = Failover::with_first(
        Arc::clone(&b),
        vanishing(),
        &[BackendKind::OrtCpu],
        config(),
    );
    assert_eq!(chain.max_batch(), 1);
    let mut outputs = vec![Outputs::default(); 3];
    chain
        .run_batch(&refs[..3], &mut outputs)
        .expect("the batch is served by the next backend");
    assert_eq!(chain.kind(), BackendKind::OrtCpu);
    assert_eq!(chain.max_batch(), 4);
    let (mut reference, _) =
        open_backend(&b, BackendKind::OrtCpu, Precision::Fp32, &config()).unwrap();
    for (x, got) in inputs.iter().zip(&outputs) {
        assert!(outputs_diff(got, reference.run(x).unwrap()) <= 1e-5);
    }
}

/// A `max_batch` out of range, or one that disagrees with the file's batch
/// dimension, is refused with the key or the file.
#[test]
fn a_batch_size_the_file_does_not_take_is_refused() {
    for bad in ["0", "65"] {
        let e = load_damaged(|d| {
            edit_manifest(d, |t| {
                t.replacen("max_batch = 4", &format!("max_batch = {bad}"), 1)
            })
        });
        assert!(
            matches!(&e, BundleError::Invalid { key, .. } if key == "models[0].max_batch"),
            "{bad}: {e}"
        );
        assert!(
            e.to_string().contains(&format!("{bad} is not in 1..=64")),
            "{e}"
        );
    }
    // Batch 1 claimed for a file whose batch dimension is symbolic.
    let e = load_damaged(|d| edit_manifest(d, |t| t.replacen("max_batch = 4", "max_batch = 1", 1)));
    match &e {
        BundleError::Shape { path, found, .. } => {
            assert!(path.ends_with("model.fp32.onnx"), "{e}");
            assert!(found.starts_with("float32 [symbolic, 8, 3,"), "{e}");
        }
        other => panic!("expected a shape error, got {other}"),
    }
    // Several clips claimed for the per-frame file, which takes one.
    let e = load_damaged(|d| {
        edit_manifest(d, |t| {
            t.replacen(
                "backends = [\n    \"tract\",\n]\n",
                "backends = [\n    \"tract\",\n]\nmax_batch = 2\n",
                1,
            )
        })
    });
    assert!(
        matches!(&e, BundleError::Shape { path, expected, .. }
            if path.ends_with("model.fp32-frames.onnx") && expected.starts_with("float32 [symbolic,")),
        "{e}"
    );
}
