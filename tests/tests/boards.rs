//! Board profiles: every committed profile parses and validates, bad ones are
//! refused with the key and its line, and the deployment files say what the
//! README says they do.

use std::fs;
use std::path::{Path, PathBuf};

use artrt_infer::BackendKind;
use artrt_live::board::{self, Problem, Profile, ProfileError, ScoreboardPort};
use artrt_live::source::SourceSpec;
use artrt_live::stage::PreprocessOn;

fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards")
}

fn x86_text() -> String {
    fs::read_to_string(boards_dir().join("x86-64-cpu.toml")).unwrap()
}

/// The problems of a profile that must not parse.
fn problems(text: &str) -> Vec<Problem> {
    match Profile::parse(text, "site.toml") {
        Err(ProfileError::Invalid { file, problems }) => {
            assert_eq!(file, "site.toml");
            assert!(!problems.is_empty());
            problems
        }
        Err(other) => panic!("expected an invalid profile, got {other}"),
        Ok(_) => panic!("accepted a bad profile:\n{text}"),
    }
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix}"))
        + 1
}

/// `text` with the line starting with `prefix` replaced by `line`.
fn with_line(text: &str, prefix: &str, line: &str) -> String {
    let n = line_of(text, prefix) - 1;
    text.lines()
        .enumerate()
        .map(|(i, l)| if i == n { line } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn every_committed_profile_parses_validates_and_is_built_in() {
    let mut on_disk: Vec<String> = fs::read_dir(boards_dir())
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "toml")
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let mut built_in: Vec<String> = board::builtin_names().map(str::to_owned).collect();
    built_in.sort();
    assert_eq!(
        on_disk, built_in,
        "boards/*.toml and the built-in profiles differ"
    );
    assert_eq!(built_in.len(), 5);

    for name in &on_disk {
        let from_file = Profile::from_file(boards_dir().join(format!("{name}.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&from_file.name, name, "a profile's name is its file name");
        assert_eq!(
            from_file,
            Profile::builtin(name).unwrap(),
            "{name}: the built-in copy is stale"
        );
        assert_eq!(from_file.check(), Ok(()));
        assert!(from_file.clip.hop <= from_file.clip.window);
    }
}

#[test]
fn jetson_profiles_use_the_camera_the_adapter_and_tensorrt_first() {
    for name in [
        "jetson-orin-nano",
        "jetson-orin-nx",
        "jetson-agx-orin",
        "jetson-xavier-nx",
    ] {
        let p = Profile::builtin(name).unwrap();
        assert!(matches!(p.camera.source, SourceSpec::V4l2(_)), "{name}");
        assert_eq!(
            p.scoreboard_port(),
            ScoreboardPort::Device("/dev/artrt-scoreboard".into()),
            "{name}"
        );
        assert_eq!(
            p.inference.backends.first(),
            Some(&BackendKind::Trt),
            "{name}"
        );
        assert!(
            p.inference.tensorrt.int8 && p.inference.tensorrt.fp16,
            "{name}"
        );
        // ONNX Runtime: the CPU library installed with artrt, unless the
        // operator names a build with TensorRT.
        assert_eq!(p.inference.ort_library, None, "{name}");
        assert_eq!(p.inference.bundle, Path::new("art-tiny-gym"), "{name}");
        // The host path stays the default until a profile asks for the GPU.
        assert_eq!(p.inference.preprocess, PreprocessOn::Cpu, "{name}");
        assert!(
            p.inference
                .tensorrt
                .cache_dir
                .starts_with("/var/cache/artrt"),
            "{name}"
        );
    }
    assert_eq!(
        Profile::builtin("jetson-orin-nano")
            .unwrap()
            .inference
            .tensorrt
            .dla_core,
        None,
        "no DLA on Orin Nano"
    );
}

#[test]
fn the_pc_profile_needs_no_hardware() {
    let p = Profile::builtin("x86-64-cpu").unwrap();
    assert_eq!(
        p.camera.source,
        SourceSpec::Synthetic {
            seed: None,
            new_elements: false,
        }
    );
    assert_eq!(p.scoreboard_port(), ScoreboardPort::Emulator);
    assert!(
        p.inference.backends.iter().all(|b| b.is_cpu()),
        "{:?}",
        p.inference.backends
    );
    assert_eq!(
        p.inference.bundle,
        Path::new("art-tiny-gym"),
        "the installed bundle, by name"
    );
    let bundle = artrt_infer::Bundle::load(&p.inference.bundle).unwrap();
    assert!(bundle.dir().ends_with("bundles/art-tiny-gym"));
    assert_eq!(
        p.inference.ort_library, None,
        "found in ORT_DYLIB_PATH or .venv"
    );
}

#[test]
fn detection_picks_the_profile_of_this_machine() {
    let model = fs::read_to_string(board::DEVICE_TREE_MODEL).ok();
    let expected = board::profile_for_model(model.as_deref());
    assert_eq!(Profile::detect().unwrap().name, expected);
    if model.is_none() {
        assert_eq!(expected, "x86-64-cpu");
    }
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = x86_text().replace("fps = 30\n", "fps = 30\nfsp = 30\n");
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("camera.fsp"));
    assert_eq!(p[0].line, line_of(&text, "fsp ="));
    assert!(
        p[0].message.contains("unknown field `fsp`"),
        "{}",
        p[0].message
    );

    let text = x86_text() + "\n[extras]\nx = 1\n";
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("extras"));
    assert_eq!(p[0].line, line_of(&text, "[extras]"));

    let text = x86_text().replace("[clip]\n", "[inference.tensorrt]\nint4 = true\n\n[clip]\n");
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("inference.tensorrt.int4"));
    assert_eq!(p[0].line, line_of(&text, "int4 ="));
    assert!(
        p[0].message.contains("unknown field `int4`"),
        "{}",
        p[0].message
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named_with_its_line() {
    let text = with_line(&x86_text(), "fps =", "fps = \"fast\"");
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("camera.fps"));
    assert_eq!(p[0].line, line_of(&text, "fps ="));
    assert!(p[0].message.contains("invalid type"), "{}", p[0].message);

    let text = with_line(&x86_text(), "acknowledged =", "acknowledged = \"yes\"");
    let p = problems(&text);
    assert_eq!(
        (p[0].key.as_deref(), p[0].line),
        (
            Some("scoreboard.acknowledged"),
            line_of(&text, "acknowledged =")
        )
    );

    let text = with_line(
        &x86_text(),
        "backends =",
        "backends = [\"ort-cpu\", \"gpu\"]",
    );
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("inference.backends[1]"));
    assert_eq!(p[0].line, line_of(&text, "backends ="));
    assert!(p[0].message.contains("gpu"), "{}", p[0].message);

    let text = with_line(
        &x86_text(),
        "threads =",
        "threads = 2\npreprocess = \"fpga\"",
    );
    let p = problems(&text);
    assert_eq!(
        (p[0].key.as_deref(), p[0].line),
        (Some("inference.preprocess"), line_of(&text, "preprocess ="))
    );
    assert!(
        p[0].message
            .contains("expected one of `auto`, `cpu`, `gpu`"),
        "{}",
        p[0].message
    );

    let text = format!(
        "{}\n[outputs]\npublish = [\"udp://venue:1\", \"mqtt://b/+\"]\n",
        x86_text()
    );
    let p = problems(&text);
    assert_eq!(
        (p[0].key.as_deref(), p[0].line),
        (Some("outputs.publish"), line_of(&text, "publish ="))
    );
    assert!(
        p[0].message.contains("output URL `mqtt://b/+`"),
        "{}",
        p[0].message
    );

    let text = with_line(
        &x86_text(),
        "source =",
        "source = \"synthetic\"\nid = \"hall a\"",
    );
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("camera.id"));
    assert!(p[0].message.contains("letters, digits"), "{}", p[0].message);

    let text = with_line(&x86_text(), "source =", "source = \"webcam0\"");
    let p = problems(&text);
    assert_eq!(
        (p[0].key.as_deref(), p[0].line),
        (Some("camera.source"), line_of(&text, "source ="))
    );
    assert!(
        p[0].message.contains("unknown frame source kind `webcam0`"),
        "{}",
        p[0].message
    );
}

#[test]
fn out_of_range_values_are_all_named_with_their_lines() {
    let mut text = x86_text();
    for (prefix, line) in [
        ("baud =", "baud = 4800"),
        ("fps =", "fps = 0"),
        ("exit_threshold =", "exit_threshold = -0.1"),
        ("enter_threshold =", "enter_threshold = 1.5"),
        ("hop =", "hop = 17"),
        ("threads =", "threads = 0"),
        ("display_ms =", "display_ms = 600001"),
    ] {
        text = with_line(&text, prefix, line);
    }
    let p = problems(&text);
    let found: Vec<(&str, usize)> = p
        .iter()
        .map(|p| (p.key.as_deref().unwrap(), p.line))
        .collect();
    for (key, prefix) in [
        ("scoreboard.baud", "baud ="),
        ("camera.fps", "fps ="),
        ("decision.exit_threshold", "exit_threshold ="),
        ("decision.enter_threshold", "enter_threshold ="),
        ("clip.hop", "hop ="),
        ("inference.threads", "threads ="),
        ("scoreboard.display_ms", "display_ms ="),
    ] {
        assert!(
            found.contains(&(key, line_of(&text, prefix))),
            "{key} not reported at its line: {found:?}"
        );
    }
    let rendered = Profile::parse(&text, "site.toml").unwrap_err().to_string();
    let baud_line = line_of(&text, "baud =");
    assert!(
        rendered.contains(&format!(
            "site.toml:{baud_line}:1: scoreboard.baud: must be in 9600..=921600, found 4800"
        )),
        "{rendered}"
    );

    // The edges of the ranges are accepted.
    let text = with_line(
        &with_line(&x86_text(), "baud =", "baud = 921600"),
        "hop =",
        "hop = 16",
    );
    Profile::parse(&text, "site.toml").unwrap();
    let text = with_line(&x86_text(), "baud =", "baud = 9600");
    Profile::parse(&text, "site.toml").unwrap();
    for display in ["display_ms = 0", "display_ms = 600000"] {
        Profile::parse(
            &with_line(&x86_text(), "display_ms =", display),
            "site.toml",
        )
        .unwrap();
    }
    let text = with_line(
        &with_line(&x86_text(), "enter_threshold =", "enter_threshold = 0.5"),
        "exit_threshold =",
        "exit_threshold = 0.6",
    );
    assert_eq!(
        problems(&text)[0].key.as_deref(),
        Some("decision.exit_threshold"),
        "exit must be below enter"
    );
}

#[test]
fn a_missing_key_and_a_syntax_error_are_placed() {
    let text = x86_text().replace("width = 640\n", "");
    let p = problems(&text);
    assert_eq!(p[0].key.as_deref(), Some("camera"));
    assert!(
        p[0].message.contains("missing field `width`"),
        "{}",
        p[0].message
    );

    let text = with_line(&x86_text(), "width =", "width = = 3");
    let p = problems(&text);
    assert_eq!(p[0].line, line_of(&text, "width ="));
}

#[test]
fn missing_files_and_unknown_names_are_clear() {
    let err = Profile::from_file("/nonexistent/board.toml").unwrap_err();
    assert!(matches!(err, ProfileError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/board.toml"), "{err}");
    let report = format!("{:?}", anyhow::Error::from(err));
    assert_eq!(report.matches("No such file").count(), 1, "{report}");

    // Only a regular file is read: a link to a device or a FIFO is refused unread.
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("fifo.toml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for path in [&zero, &fifo] {
        let err = Profile::from_file(path).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let big = dir.path().join("big.toml");
    fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let err = Profile::from_file(&big).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");

    let err = Profile::load("jetson-nano-classic").unwrap_err();
    assert!(matches!(err, ProfileError::Unknown { .. }));
    assert!(
        err.to_string().contains("jetson-orin-nano, jetson-orin-nx"),
        "{err}"
    );

    assert_eq!(Profile::load("x86-64-cpu").unwrap().name, "x86-64-cpu");
    let path = boards_dir().join("jetson-agx-orin.toml");
    assert_eq!(
        Profile::load(path.to_str().unwrap()).unwrap().name,
        "jetson-agx-orin"
    );
}

#[test]
fn overrides_are_checked_like_the_file() {
    let mut p = Profile::builtin("x86-64-cpu").unwrap();
    p.scoreboard.baud = 1_000_000;
    p.decision.exit_threshold = p.decision.enter_threshold;
    let found = p.check().unwrap_err();
    let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["scoreboard.baud", "decision.exit_threshold"]);
}

#[test]
fn the_unit_and_the_udev_rule_do_what_the_readme_says() {
    let unit = fs::read_to_string(boards_dir().join("artrt.service")).unwrap();
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert!(
        exec.starts_with("ExecStart=/usr/bin/artrt run --board /etc/artrt/board.toml"),
        "{exec}"
    );
    let prepare = fs::read_to_string(boards_dir().join("artrt-prepare.service")).unwrap();
    assert!(
        prepare
            .lines()
            .any(|l| l == "ExecStart=/usr/bin/artrt prepare --board /etc/artrt/board.toml"),
        "artrt-prepare.service runs artrt prepare on the same profile"
    );
    assert!(prepare.lines().any(|l| l == "Before=artrt.service"));
    assert!(
        unit.lines()
            .any(|l| l == "After=local-fs.target artrt-prepare.service")
    );
    for line in [
        "Restart=on-failure",
        "StandardOutput=journal",
        "StandardError=journal",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "artrt.service lacks {line}"
        );
    }

    let rules = fs::read_to_string(boards_dir().join("99-artrt-scoreboard.rules")).unwrap();
    let active: Vec<&str> = rules
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!active.is_empty());
    for rule in active {
        assert!(rule.contains("SUBSYSTEM==\"tty\""), "{rule}");
        assert!(rule.contains("SYMLINK+=\"artrt-scoreboard\""), "{rule}");
        for attr in ["ATTRS{idVendor}==\"", "ATTRS{idProduct}==\""] {
            let id = &rule[rule
                .find(attr)
                .unwrap_or_else(|| panic!("{rule} lacks {attr}"))
                + attr.len()..][..5];
            assert!(
                id[..4].chars().all(|c| c.is_ascii_hexdigit()) && id.ends_with('"'),
                "{rule}"
            );
        }
    }

    let readme = fs::read_to_string(boards_dir().join("README.md")).unwrap();
    for name in board::builtin_names() {
        assert!(
            readme.contains(&format!("`{name}.toml`")),
            "boards/README.md does not list {name}"
        );
    }
    for needle in [
        "bash runtime/scripts/package.sh arm64",
        "artrt doctor",
        "artrt prepare",
        "artrt.service",
        "99-artrt-scoreboard.rules",
    ] {
        assert!(readme.contains(needle), "boards/README.md lacks {needle}");
    }
}

#[test]
fn the_preview_interval_is_off_or_within_its_range() {
    let with = |ms: &str| format!("{}\n[outputs]\npreview_ms = {ms}\n", x86_text());
    for ms in ["0", "100", "60000"] {
        let p = Profile::parse(&with(ms), "site.toml").unwrap_or_else(|e| panic!("{ms}: {e}"));
        assert_eq!(p.outputs.preview_ms.to_string(), ms);
    }
    for ms in ["50", "60001"] {
        let text = with(ms);
        let p = problems(&text);
        assert_eq!(p[0].key.as_deref(), Some("outputs.preview_ms"), "{ms}");
        assert_eq!(p[0].line, line_of(&text, "preview_ms ="));
        assert!(
            p[0].message.contains(&format!("found {ms}")),
            "{}",
            p[0].message
        );
    }
    assert_eq!(
        Profile::parse(&x86_text(), "site.toml")
            .unwrap()
            .outputs
            .preview_ms,
        1000
    );
}
