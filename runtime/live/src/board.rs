//! Board profiles: everything one deployment sets, in one TOML file.
//!
//! A profile names the camera, the scoreboard line, the inference backends
//! and their TensorRT options, the model bundle, the clip window and the
//! decision thresholds. The profiles in the repository's `boards/` folder are
//! compiled into the binary as well ([`Profile::builtin`]), and
//! [`Profile::detect`] picks the one that fits the machine it runs on.
//!
//! Every table refuses unknown keys, every value is range-checked, and a bad
//! profile gives a [`ProfileError`] naming the file, the key and its line.
//! `inference.bundle` is a bundle directory or the name of an installed
//! bundle (`art-tiny-gym`, see [`artrt_infer::install`]); other relative
//! paths (`inference.ort_library`, `inference.tensorrt.cache_dir`) are taken
//! from the current directory.
//!
//! ```
//! use artrt_live::board::Profile;
//!
//! let profile = Profile::builtin("x86-64-cpu")?;
//! assert_eq!(profile.camera.source.to_string(), "synthetic");
//!
//! let err = Profile::parse("name = \"x\"\ncolour = 3\n", "bad.toml").unwrap_err();
//! assert!(err.to_string().starts_with("bad.toml:2:1: colour: unknown field"));
//! # Ok::<(), artrt_live::board::ProfileError>(())
//! ```

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use artrt_infer::{BackendKind, TensorRtOptions};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::decision::DecisionConfig;
use crate::publish::PublishUrl;
use crate::scoreboard::{LinkConfig, MAX_BAUD, MAX_DISPLAY_MS, MIN_BAUD};
use crate::source::{CameraFormat, Pacing, SourceOptions, SourceSpec};
use crate::stage::PreprocessOn;

/// Largest board profile file read.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;
/// The profiles compiled into the binary, by name.
pub const BUILTIN: [(&str, &str); 5] = [
    (
        "jetson-orin-nano",
        include_str!("../../../boards/jetson-orin-nano.toml"),
    ),
    (
        "jetson-orin-nx",
        include_str!("../../../boards/jetson-orin-nx.toml"),
    ),
    (
        "jetson-agx-orin",
        include_str!("../../../boards/jetson-agx-orin.toml"),
    ),
    (
        "jetson-xavier-nx",
        include_str!("../../../boards/jetson-xavier-nx.toml"),
    ),
    (
        "x86-64-cpu",
        include_str!("../../../boards/x86-64-cpu.toml"),
    ),
];

/// Where a Jetson names its module.
pub const DEVICE_TREE_MODEL: &str = "/proc/device-tree/model";

/// The profile of a machine that is not a recognised Jetson.
pub const FALLBACK: &str = "x86-64-cpu";

/// One deployment's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (`jetson-orin-nano`).
    pub name: String,
    /// What board and setup the profile is for.
    pub description: String,
    /// The camera.
    pub camera: CameraConfig,
    /// Further cameras (`[[cameras]]`), each with its own capture, window,
    /// decisions and heartbeat, all sharing the one loaded model.
    #[serde(default)]
    pub cameras: Vec<ExtraCamera>,
    /// The scoreboard line (`port` is a serial device, `emulator` or `none`).
    pub scoreboard: LinkConfig,
    /// Model and backends.
    pub inference: InferenceConfig,
    /// How frames are cut into clips.
    pub clip: ClipConfig,
    /// How window scores become events.
    pub decision: DecisionConfig,
    /// Network event outputs.
    #[serde(default)]
    pub outputs: OutputsConfig,
}

/// Where events go besides the scoreboard and the event log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    /// Output URLs (`udp://`, `tcp://`, `mqtt://`, `http://`), each at most once.
    #[serde(default)]
    pub publish: Vec<PublishUrl>,
    /// Least time between two previews of one camera on an HTTP output's
    /// `/preview.png`, milliseconds (0: no previews; else 100..=60000).
    #[serde(default = "default_preview_ms")]
    pub preview_ms: u32,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            publish: Vec::new(),
            preview_ms: default_preview_ms(),
        }
    }
}

fn default_preview_ms() -> u32 {
    1000
}

/// The camera: which source, and what to ask of a V4L2 device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// The camera's id in events (`cam0` by default): 1 to 32 letters,
    /// digits, `-` or `_`.
    #[serde(default = "default_camera_id")]
    pub id: String,
    /// `v4l2:/dev/videoN`, `synthetic[:SEED[+new]]`, `frames:DIR` or `recording:DIR`.
    pub source: SourceSpec,
    /// Pixel format asked of a V4L2 camera: `yuyv` or `mjpeg`.
    pub format: CameraFormat,
    /// Frame width asked of a V4L2 camera (1..=8192; even for YUYV).
    pub width: u32,
    /// Frame height asked of a V4L2 camera (1..=8192).
    pub height: u32,
    /// Frame rate asked of a V4L2 camera, and the pace of replays (0 < fps <= 1000).
    pub fps: f32,
}

impl CameraConfig {
    /// How to open this camera's source, paced as `pacing` says.
    pub fn source_options(&self, pacing: Pacing) -> SourceOptions {
        SourceOptions {
            format: self.format,
            width: self.width,
            height: self.height,
            fps: self.fps,
            pacing,
            ..SourceOptions::default()
        }
    }
}

fn default_camera_id() -> String {
    "cam0".into()
}

/// A further camera: its id and source; what it asks of a V4L2 device is
/// `[camera]`'s unless set here. Its events go to the device's event log
/// and network outputs, and to its own scoreboard line if it has one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraCamera {
    /// The camera's id in events, unique on the device.
    pub id: String,
    /// Where its frames come from, unique on the device.
    pub source: SourceSpec,
    /// Pixel format (default: `[camera]`'s).
    pub format: Option<CameraFormat>,
    /// Frame width (default: `[camera]`'s).
    pub width: Option<u32>,
    /// Frame height (default: `[camera]`'s).
    pub height: Option<u32>,
    /// Frame rate (default: `[camera]`'s).
    pub fps: Option<f32>,
    /// Its own scoreboard line: a serial device, `emulator` or `none` (the default).
    #[serde(default = "no_scoreboard")]
    pub scoreboard: String,
}

fn no_scoreboard() -> String {
    "none".into()
}

/// One camera of a profile, with the scoreboard line its events go to.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    /// Its settings.
    pub config: CameraConfig,
    /// Its scoreboard line.
    pub scoreboard: ScoreboardPort,
}

/// Whether `id` can name a camera: 1 to 32 ASCII letters, digits, `-` or
/// `_` (safe in MQTT topics, file names and URLs).
pub fn valid_camera_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where the scoreboard sentences go, as `scoreboard.port` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreboardPort {
    /// A serial device (`/dev/artrt-scoreboard`, `/dev/ttyUSB0`).
    Device(PathBuf),
    /// The built-in ARTS/1 emulator on a pseudo-terminal pair (`emulator`).
    Emulator,
    /// No scoreboard (`none`): events go to the event log only.
    None,
}

impl ScoreboardPort {
    /// Reads a port setting: `emulator`, `none`, or a device path.
    pub fn parse(port: &str) -> Self {
        match port {
            "emulator" => Self::Emulator,
            "none" => Self::None,
            _ => Self::Device(PathBuf::from(port)),
        }
    }
}

impl fmt::Display for ScoreboardPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(path) => write!(f, "{}", path.display()),
            Self::Emulator => f.write_str("emulator"),
            Self::None => f.write_str("none"),
        }
    }
}

/// The model bundle and the backends that run it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceConfig {
    /// The model bundle: a directory, or the name of an installed bundle.
    pub bundle: PathBuf,
    /// Backends in the order they are tried (`trt`, `cuda`, `ort-cpu`, `tract`).
    pub backends: Vec<BackendKind>,
    /// CPU threads for inference (1..=256).
    pub threads: usize,
    /// Where frames are preprocessed (`cpu`, `auto`, `gpu`; default `cpu`).
    #[serde(default)]
    pub preprocess: PreprocessOn,
    /// The ONNX Runtime shared library; absent: `ORT_DYLIB_PATH`, the library
    /// installed with `artrt`, or the project's `.venv`.
    #[serde(default)]
    pub ort_library: Option<PathBuf>,
    /// TensorRT execution provider options.
    #[serde(default)]
    pub tensorrt: TensorRtOptions,
}

/// How the frame stream is cut into clips.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipConfig {
    /// Source frames one clip spans (1..=1024).
    pub window: usize,
    /// Source frames between the starts of two clips (1..=window).
    pub hop: usize,
}

/// A value a profile may not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted key (`camera.fps`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// One problem in a profile file, placed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key the problem is about, when it is about one.
    pub key: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Why a board profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read, or is not one a profile may be (not a
    /// regular file, over [`MAX_PROFILE_BYTES`]).
    #[error("cannot read board profile {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        cause: artrt_files::FileError,
    },
    /// The file is not a valid profile.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        /// The file, or `builtin:NAME`.
        file: String,
        /// Each problem found (at least one).
        problems: Vec<Problem>,
    },
    /// No built-in profile has that name.
    #[error("no built-in board profile `{name}` (built in: {})", builtin_names().collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| match &p.key {
            Some(key) => format!("{file}:{}:{}: {key}: {}", p.line, p.column, p.message),
            None => format!("{file}:{}:{}: {}", p.line, p.column, p.message),
        })
        .collect();
    lines.join("\n")
}

/// The names of the built-in profiles.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// The profile name for a machine whose device tree names it `model`
/// (`None`: no device tree, as on a PC).
pub fn profile_for_model(model: Option<&str>) -> &'static str {
    let model = model.unwrap_or_default();
    [
        ("Orin Nano", "jetson-orin-nano"),
        ("Orin NX", "jetson-orin-nx"),
        ("AGX Orin", "jetson-agx-orin"),
        ("Xavier NX", "jetson-xavier-nx"),
    ]
    .into_iter()
    .find(|(needle, _)| model.contains(needle))
    .map_or(FALLBACK, |(_, name)| name)
}

impl Profile {
    /// Reads and checks a profile file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let text = artrt_files::read_named_text(path, MAX_PROFILE_BYTES).map_err(|cause| {
            ProfileError::Read {
                path: path.to_path_buf(),
                cause,
            }
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A profile compiled into the binary.
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let (_, text) =
            BUILTIN
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| ProfileError::Unknown {
                    name: name.to_owned(),
                })?;
        Self::parse(text, &format!("builtin:{name}"))
    }

    /// A profile file if `name_or_path` is one, else the built-in profile of that name.
    pub fn load(name_or_path: &str) -> Result<Self, ProfileError> {
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.contains(['/', '.']) {
            Self::from_file(path)
        } else {
            Self::builtin(name_or_path)
        }
    }

    /// The built-in profile that fits this machine: a Jetson by its
    /// device-tree model, anything else `x86-64-cpu`.
    pub fn detect() -> Result<Self, ProfileError> {
        let model = std::fs::read_to_string(DEVICE_TREE_MODEL).ok();
        let model = model.as_deref().map(|m| m.trim_end_matches('\0').trim());
        let name = profile_for_model(model);
        match model {
            Some(model) => log::info!("board: `{model}` -> profile {name}"),
            None => log::info!("board: no {DEVICE_TREE_MODEL} -> profile {name}"),
        }
        Self::builtin(name)
    }

    /// Parses and checks a profile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ProfileError> {
        let invalid = |problems| ProfileError::Invalid {
            file: file.to_owned(),
            problems,
        };
        let root = DeTable::parse(text)
            .map_err(|e| invalid(vec![problem(text, None, e.span(), e.message())]))?;
        let profile: Profile = toml::from_str(text).map_err(|e| {
            let key = e.span().and_then(|span| key_at(root.get_ref(), span.start));
            invalid(vec![problem(text, key, e.span(), e.message())])
        })?;
        profile.check().map_err(|found| {
            invalid(
                found
                    .into_iter()
                    .map(|Invalid { key, message }| {
                        let span = span_of(root.get_ref(), &key).or(Some(root.span()));
                        problem(text, Some(key), span, &message)
                    })
                    .collect(),
            )
        })?;
        Ok(profile)
    }

    /// Where `scoreboard.port` sends the sentences.
    pub fn scoreboard_port(&self) -> ScoreboardPort {
        ScoreboardPort::parse(&self.scoreboard.port)
    }

    /// Every camera: `[camera]` on `scoreboard.port`, then each of `[[cameras]]`.
    pub fn all_cameras(&self) -> Vec<Camera> {
        let first = Camera {
            config: self.camera.clone(),
            scoreboard: self.scoreboard_port(),
        };
        let rest = self.cameras.iter().map(|c| Camera {
            config: CameraConfig {
                id: c.id.clone(),
                source: c.source.clone(),
                format: c.format.unwrap_or(self.camera.format),
                width: c.width.unwrap_or(self.camera.width),
                height: c.height.unwrap_or(self.camera.height),
                fps: c.fps.unwrap_or(self.camera.fps),
            },
            scoreboard: ScoreboardPort::parse(&c.scoreboard),
        });
        std::iter::once(first).chain(rest).collect()
    }

    /// Takes its cameras' sources from `sources`, in order: the first
    /// replaces `[camera]`'s, the next ones those of `[[cameras]]`; a profile
    /// camera without a source here is left out, and a source beyond the
    /// profile's cameras becomes a camera `camN` (N its place, from 0) with
    /// `[camera]`'s settings and no scoreboard line.
    pub fn set_sources(&mut self, sources: &[SourceSpec]) {
        let Some((first, rest)) = sources.split_first() else {
            return;
        };
        self.camera.source = first.clone();
        self.cameras.truncate(rest.len());
        for (n, source) in rest.iter().enumerate() {
            match self.cameras.get_mut(n) {
                Some(camera) => camera.source = source.clone(),
                None => self.cameras.push(ExtraCamera {
                    id: format!("cam{}", n + 1),
                    source: source.clone(),
                    format: None,
                    width: None,
                    height: None,
                    fps: None,
                    scoreboard: no_scoreboard(),
                }),
            }
        }
    }

    /// Checks every range and relation; used after command-line overrides too.
    pub fn check(&self) -> Result<(), Vec<Invalid>> {
        let mut found = Vec::new();
        let mut bad = |key: &str, ok: bool, message: String| {
            if !ok {
                found.push(Invalid {
                    key: key.to_owned(),
                    message,
                });
            }
        };
        bad(
            "name",
            !self.name.trim().is_empty(),
            "must not be empty".into(),
        );

        for (n, url) in self.outputs.publish.iter().enumerate() {
            bad(
                "outputs.publish",
                !self.outputs.publish[..n].contains(url),
                format!("lists `{url}` twice"),
            );
        }
        let preview_ms = self.outputs.preview_ms;
        bad(
            "outputs.preview_ms",
            preview_ms == 0 || (100..=60_000).contains(&preview_ms),
            format!("must be 0 (no previews) or in 100..=60000, found {preview_ms}"),
        );

        let cameras = self.all_cameras();
        for (n, camera) in cameras.iter().enumerate() {
            let c = &camera.config;
            let key = |field: &str| match n {
                0 => format!("camera.{field}"),
                n => format!("cameras[{}].{field}", n - 1),
            };
            bad(
                &key("id"),
                valid_camera_id(&c.id),
                format!(
                    "must be 1 to 32 letters, digits, `-` or `_`, found {:?}",
                    c.id
                ),
            );
            bad(
                &key("width"),
                (1..=8192).contains(&c.width),
                format!("must be in 1..=8192, found {}", c.width),
            );
            bad(
                &key("height"),
                (1..=8192).contains(&c.height),
                format!("must be in 1..=8192, found {}", c.height),
            );
            if c.format == CameraFormat::Yuyv {
                bad(
                    &key("width"),
                    c.width.is_multiple_of(2),
                    format!("must be even for yuyv, found {}", c.width),
                );
            }
            bad(
                &key("fps"),
                c.fps > 0.0 && c.fps <= 1000.0,
                format!("must be > 0 and <= 1000, found {}", c.fps),
            );
            let before = &cameras[..n];
            if let Some(other) = before.iter().find(|o| o.config.id == c.id) {
                bad(
                    &key("id"),
                    false,
                    format!(
                        "`{}` names two cameras (also {})",
                        c.id, other.config.source
                    ),
                );
            }
            if let Some(other) = before.iter().find(|o| o.config.source == c.source) {
                bad(
                    &key("source"),
                    false,
                    format!("`{}` is already camera {}", c.source, other.config.id),
                );
            }
            if let ScoreboardPort::Device(path) = &camera.scoreboard
                && let Some(other) = before.iter().find(|o| o.scoreboard == camera.scoreboard)
            {
                bad(
                    &match n {
                        0 => "scoreboard.port".to_owned(),
                        n => format!("cameras[{}].scoreboard", n - 1),
                    },
                    false,
                    format!(
                        "{} is already camera {}'s scoreboard line",
                        path.display(),
                        other.config.id
                    ),
                );
            }
        }

        let s = &self.scoreboard;
        bad(
            "scoreboard.port",
            !s.port.trim().is_empty(),
            "must be a serial device, `emulator` or `none`".into(),
        );
        bad(
            "scoreboard.baud",
            (MIN_BAUD..=MAX_BAUD).contains(&s.baud),
            format!("must be in {MIN_BAUD}..={MAX_BAUD}, found {}", s.baud),
        );
        bad(
            "scoreboard.resend_interval_ms",
            (10..=10_000).contains(&s.resend_interval_ms),
            format!("must be in 10..=10000, found {}", s.resend_interval_ms),
        );
        bad(
            "scoreboard.max_resends",
            s.max_resends <= 100,
            format!("must be in 0..=100, found {}", s.max_resends),
        );
        bad(
            "scoreboard.heartbeat_interval_ms",
            (100..=60_000).contains(&s.heartbeat_interval_ms),
            format!("must be in 100..=60000, found {}", s.heartbeat_interval_ms),
        );
        bad(
            "scoreboard.display_ms",
            s.display_ms <= MAX_DISPLAY_MS,
            format!("must be in 0..={MAX_DISPLAY_MS}, found {}", s.display_ms),
        );

        let i = &self.inference;
        bad(
            "inference.bundle",
            !i.bundle.as_os_str().is_empty(),
            "must name the model bundle directory".into(),
        );
        bad(
            "inference.backends",
            !i.backends.is_empty(),
            "must list at least one backend".into(),
        );
        for (n, kind) in i.backends.iter().enumerate() {
            bad(
                "inference.backends",
                !i.backends[..n].contains(kind),
                format!("lists `{kind}` twice"),
            );
        }
        bad(
            "inference.threads",
            (1..=256).contains(&i.threads),
            format!("must be in 1..=256, found {}", i.threads),
        );
        if let Some(lib) = &i.ort_library {
            bad(
                "inference.ort_library",
                !lib.as_os_str().is_empty(),
                "must not be empty (leave it out instead)".into(),
            );
        }
        let t = &i.tensorrt;
        bad(
            "inference.tensorrt.builder_optimization_level",
            t.builder_optimization_level <= 5,
            format!("must be in 0..=5, found {}", t.builder_optimization_level),
        );
        bad(
            "inference.tensorrt.workspace_bytes",
            t.workspace_bytes > 0,
            "must be > 0".into(),
        );
        bad(
            "inference.tensorrt.device_id",
            t.device_id >= 0,
            format!("must be >= 0, found {}", t.device_id),
        );
        if let Some(core) = t.dla_core {
            bad(
                "inference.tensorrt.dla_core",
                core <= 1,
                format!("Jetson DLA cores are 0 and 1, found {core}"),
            );
        }
        bad(
            "inference.tensorrt.cache_dir",
            !t.cache_dir.as_os_str().is_empty(),
            "must not be empty".into(),
        );

        let w = &self.clip;
        bad(
            "clip.window",
            (1..=1024).contains(&w.window),
            format!("must be in 1..=1024, found {}", w.window),
        );
        bad(
            "clip.hop",
            w.hop >= 1 && w.hop <= w.window,
            format!("must be in 1..=window ({}), found {}", w.window, w.hop),
        );

        for problem in self.decision.problems() {
            bad(
                &format!("decision.{}", problem.key()),
                false,
                problem.requirement(),
            );
        }

        if found.is_empty() { Ok(()) } else { Err(found) }
    }
}

/// A problem at `span` of `text` (the whole file's start when unknown).
fn problem(text: &str, key: Option<String>, span: Option<Range<usize>>, message: &str) -> Problem {
    let at = span.map_or(0, |s| s.start).min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Problem {
        key,
        line,
        column,
        message: message.to_owned(),
    }
}

/// The dotted key whose name or value holds byte `at`, as deep as it goes.
fn key_at(table: &DeTable<'_>, at: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        if key.span().contains(&at) {
            return Some(key.get_ref().to_string());
        }
        if !value.span().contains(&at) && !inside_table(value, at) {
            return None;
        }
        let inner =
            match value.get_ref() {
                DeValue::Table(t) => key_at(t, at).map(|k| format!("{}.{k}", key.get_ref())),
                DeValue::Array(items) => items.iter().enumerate().find_map(|(n, item)| match item
                    .get_ref()
                {
                    DeValue::Table(t) => {
                        key_at(t, at).map(|k| format!("{}[{n}].{k}", key.get_ref()))
                    }
                    _ => item
                        .span()
                        .contains(&at)
                        .then(|| format!("{}[{n}]", key.get_ref())),
                }),
                _ => None,
            };
        Some(inner.unwrap_or_else(|| key.get_ref().to_string()))
    })
}

/// Whether `at` falls on one of a table's own keys or values (a `[table]`
/// section's span need not cover its body).
fn inside_table(value: &Spanned<DeValue<'_>>, at: usize) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .any(|(k, v)| k.span().contains(&at) || v.span().contains(&at) || inside_table(v, at)),
        _ => false,
    }
}

/// Where the dotted `key` is written: its name's span, or its nearest
/// written parent's when the key itself is left out.
fn span_of(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    let (head, rest) = match key.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (key, None),
    };
    let (head, index) = match head.split_once('[') {
        Some((head, index)) => (head, index.trim_end_matches(']').parse::<usize>().ok()),
        None => (head, None),
    };
    let (name, mut value) = table.iter().find(|(k, _)| k.get_ref() == head)?;
    if let (Some(n), DeValue::Array(items)) = (index, value.get_ref()) {
        value = items.get(n)?;
    }
    match (rest, value.get_ref()) {
        (Some(rest), DeValue::Table(inner)) => span_of(inner, rest).or_else(|| Some(name.span())),
        _ => Some(name.span()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetson_models_map_to_their_profiles() {
        let cases = [
            (
                Some("NVIDIA Jetson Orin Nano Developer Kit"),
                "jetson-orin-nano",
            ),
            (Some("NVIDIA Jetson Orin NX Engine Board"), "jetson-orin-nx"),
            (Some("Jetson AGX Orin"), "jetson-agx-orin"),
            (
                Some("NVIDIA Jetson Xavier NX Developer Kit"),
                "jetson-xavier-nx",
            ),
            (Some("Raspberry Pi 4 Model B"), FALLBACK),
            (None, FALLBACK),
        ];
        for (model, name) in cases {
            assert_eq!(profile_for_model(model), name, "{model:?}");
        }
    }

    #[test]
    fn keys_are_found_by_position() {
        let text = "a = 1\n[t]\nb = 2\n[t.u]\nc = \"x\"\n";
        let root = DeTable::parse(text).unwrap();
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(key_at(root.get_ref(), at("c =")).as_deref(), Some("t.u.c"));
        assert_eq!(
            key_at(root.get_ref(), at("\"x\"")).as_deref(),
            Some("t.u.c")
        );
        assert_eq!(key_at(root.get_ref(), at("b =")).as_deref(), Some("t.b"));
        assert_eq!(
            span_of(root.get_ref(), "t.u.c").map(|s| s.start),
            Some(at("c ="))
        );
        assert_eq!(
            span_of(root.get_ref(), "t.u.missing").map(|s| &text[s]),
            Some("u")
        );
    }

    fn with_cameras(extra: &str) -> Result<Profile, ProfileError> {
        let text = format!(
            "{}\n{extra}",
            include_str!("../../../boards/x86-64-cpu.toml")
        );
        Profile::parse(&text, "cams.toml")
    }

    #[test]
    fn further_cameras_take_the_first_cameras_settings_unless_they_set_their_own() {
        let p = with_cameras(
            "[[cameras]]\nid = \"side\"\nsource = \"synthetic:2\"\nscoreboard = \"/dev/ttyUSB1\"\n\
             [[cameras]]\nid = \"top\"\nsource = \"v4l2:/dev/video2\"\nformat = \"mjpeg\"\nfps = 60\n",
        )
        .unwrap();
        let cameras = p.all_cameras();
        let ids: Vec<&str> = cameras.iter().map(|c| c.config.id.as_str()).collect();
        assert_eq!(ids, ["cam0", "side", "top"]);
        assert_eq!(cameras[0].scoreboard, ScoreboardPort::Emulator);
        assert_eq!(
            cameras[1].scoreboard,
            ScoreboardPort::Device("/dev/ttyUSB1".into())
        );
        assert_eq!(cameras[2].scoreboard, ScoreboardPort::None);
        assert_eq!(
            (cameras[1].config.width, cameras[1].config.fps),
            (640, 30.0)
        );
        assert_eq!(cameras[2].config.format, CameraFormat::Mjpeg);
        assert_eq!(cameras[2].config.fps, 60.0);
    }

    #[test]
    fn a_duplicate_camera_is_refused_naming_it_and_its_line() {
        let e = with_cameras("[[cameras]]\nid = \"cam0\"\nsource = \"synthetic:2\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cameras[0].id: `cam0` names two cameras"), "{e}");
        let line = include_str!("../../../boards/x86-64-cpu.toml")
            .lines()
            .count()
            + 3;
        assert!(e.starts_with(&format!("cams.toml:{line}:")), "{e}");
        let e = with_cameras("[[cameras]]\nid = \"side\"\nsource = \"synthetic\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cameras[0].source: `synthetic` is already camera cam0"),
            "{e}"
        );
        let e = with_cameras(
            "[[cameras]]\nid = \"a\"\nsource = \"synthetic:1\"\nscoreboard = \"/dev/ttyS1\"\n\
             [[cameras]]\nid = \"b\"\nsource = \"synthetic:2\"\nscoreboard = \"/dev/ttyS1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cameras[1].scoreboard: /dev/ttyS1 is already camera a's scoreboard line"),
            "{e}"
        );
        let e = with_cameras("[[cameras]]\nid = \"x y\"\nsource = \"synthetic:3\"\nfps = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cameras[0].id: must be 1 to 32"), "{e}");
        assert!(e.contains("cameras[0].fps: must be > 0"), "{e}");
    }

    #[test]
    fn command_line_sources_replace_the_cameras_in_order() {
        let mut p =
            with_cameras("[[cameras]]\nid = \"side\"\nsource = \"v4l2:/dev/video1\"\n").unwrap();
        let synthetic = |seed| SourceSpec::Synthetic {
            seed: Some(seed),
            new_elements: false,
        };
        p.set_sources(&[synthetic(1), synthetic(2), synthetic(3)]);
        let cameras = p.all_cameras();
        let got: Vec<(String, String)> = cameras
            .iter()
            .map(|c| (c.config.id.clone(), c.config.source.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("cam0".into(), "synthetic:1".into()),
                ("side".into(), "synthetic:2".into()),
                ("cam2".into(), "synthetic:3".into())
            ]
        );
        assert_eq!(cameras[2].scoreboard, ScoreboardPort::None);
        p.set_sources(&[synthetic(4)]);
        assert_eq!(p.all_cameras().len(), 1);
        p.set_sources(&[]);
        assert_eq!(p.all_cameras().len(), 1);
        assert!(p.check().is_ok());
    }
}
