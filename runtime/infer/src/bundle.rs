//! Model bundles: `bundle.toml`, the model files and the golden data, validated.
//!
//! [`Bundle::load`] reads the manifest (every key required, unknown keys
//! refused), checks the SHA-256 of every listed file, checks each ONNX file's
//! input and outputs against the manifest and loads the golden arrays.

use artrt_files::FileError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Array4, Array5};
use ndarray_npy::ReadNpyExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::backend::{BackendKind, Outputs, Precision};
use crate::onnx_io;

/// The manifest's file name inside a bundle directory.
pub const MANIFEST: &str = "bundle.toml";

/// Largest model, array or report file a bundle may hold.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// Largest `bundle.toml`.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The manifest schema this runtime reads.
pub const SCHEMA: u32 = 1;

/// The most clips a model file may take at once (`[[models]] max_batch`).
pub const MAX_BATCH: usize = 64;

/// Why a bundle could not be loaded. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A bare name that is neither a directory nor an installed bundle.
    #[error(transparent)]
    NotInstalled(#[from] crate::install::NotInstalled),
    /// A file could not be read (missing, unreadable).
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// `bundle.toml` is not valid TOML or does not match the schema (a
    /// missing key, an unknown key, a wrong type); the message names the key.
    #[error("{}: {cause}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The parser's message, with line and column.
        cause: toml::de::Error,
    },
    /// A key of `bundle.toml` has a value the runtime cannot accept.
    #[error("{}: key `{key}`: {reason}", path.display())]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file is not one the bundle may hold: outside the bundle directory
    /// (an absolute path, `..`, a symbolic link), not a regular file (a FIFO,
    /// a device, a directory) or larger than a bundle file may be.
    #[error("{}: {reason}", path.display())]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file's SHA-256 differs from the manifest's (a changed or damaged file).
    #[error("{}: SHA-256 mismatch: bundle.toml says {expected}, the file has {actual} ({size} bytes)", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The digest in `[sha256]`.
        expected: String,
        /// The digest of the file on disk.
        actual: String,
        /// The file's size in bytes.
        size: u64,
    },
    /// A file does not decode as what it should be (a truncated or garbled
    /// ONNX or NumPy file).
    #[error("{}: damaged {kind} file ({size} bytes): {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// `ONNX` or `NumPy`.
        kind: &'static str,
        /// The file's size in bytes.
        size: u64,
        /// The decoder's message.
        reason: String,
    },
    /// A tensor or array has a shape, name or type other than the manifest implies.
    #[error("{}: {what}: expected {expected}, found {found}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// Which tensor or array.
        what: String,
        /// What the manifest implies.
        expected: String,
        /// What the file holds.
        found: String,
    },
}

/// `[model]`: what the network is and which classes it names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Backbone (`tiny`, `resnet50-tsm`).
    pub backbone: String,
    /// Number of tracked regions.
    pub tracklets: usize,
    /// `[h, w]` of the token grid behind `region_attn`.
    pub grid: [usize; 2],
    /// Class labels; the index is the class id.
    pub labels: Vec<String>,
    /// Label of the class that is no action (the performer between
    /// elements): never reported as an event. Absent when every class is
    /// an action.
    #[serde(default)]
    pub background: Option<String>,
}

impl ModelInfo {
    /// `[T, tracklets, h*w]`: the shape of one clip's region attention for a
    /// model of `frames` frames.
    pub fn region_attn_shape(&self, frames: usize) -> [usize; 3] {
        [frames, self.tracklets, self.grid[0] * self.grid[1]]
    }
}

/// How source frames are sampled into the model's clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Sampling {
    /// Frame `i` of `T` is source frame `floor((i + 0.5) * N / T)`.
    #[serde(rename = "segment-centre")]
    SegmentCentre,
}

impl Sampling {
    /// The source frame, of `n`, that clip frame `i` of `t` is taken from.
    pub fn pick(self, n: usize, t: usize, i: usize) -> usize {
        match self {
            Sampling::SegmentCentre => crate::preprocess::segment_centre(n, t, i),
        }
    }
}

/// How a frame is resized before the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Resize {
    /// Shorter side to `resize_to`, bilinear with antialiasing (Pillow's
    /// convention); the longer side keeps the aspect ratio, rounded to the
    /// nearest pixel.
    #[serde(rename = "shorter-side-bilinear")]
    ShorterSideBilinear,
}

/// Which part of the resized frame is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Crop {
    /// A centred `width x height` window; offsets `(resized - crop) / 2`,
    /// rounded down.
    #[serde(rename = "centre")]
    Centre,
}

/// `[input]`: the preprocessing rule, shared with the Python export.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `T`: frames in the model's clip.
    pub frames: usize,
    /// Source frames one clip spans.
    pub window: usize,
    /// Frame rate the model was trained at.
    pub fps: f32,
    /// Frame sampling rule.
    pub sampling: Sampling,
    /// Resize rule.
    pub resize: Resize,
    /// Target of the shorter side.
    pub resize_to: u32,
    /// Crop rule.
    pub crop: Crop,
    /// Model input width.
    pub width: u32,
    /// Model input height.
    pub height: u32,
    /// RGB means, in units of the 0..1 range.
    pub mean: [f32; 3],
    /// RGB standard deviations.
    pub std: [f32; 3],
}

impl InputSpec {
    /// Elements in one preprocessed frame, `3 * H * W`.
    pub fn frame_len(&self) -> usize {
        3 * self.width as usize * self.height as usize
    }

    /// Elements in one clip tensor, `T * 3 * H * W`.
    pub fn clip_len(&self) -> usize {
        self.frames * self.frame_len()
    }

    /// The model input shape `[1, T, 3, H, W]`.
    pub fn clip_shape(&self) -> [usize; 5] {
        [1, self.frames, 3, self.height as usize, self.width as usize]
    }
}

/// `[text]`: the text encoder behind the constant label bank.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextInfo {
    /// Encoder model name.
    pub encoder: String,
    /// Python package that provides it.
    pub package: String,
    /// Prompt templates.
    pub templates: Vec<String>,
    /// `[classes, embedding size]` of the bank inside the graph.
    pub bank_shape: [usize; 2],
}

/// How a model file is quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantization {
    /// Not quantized.
    None,
    /// Q/DQ around every quantizable operator.
    QdqFull,
    /// Q/DQ around convolutions only.
    QdqConv,
}

/// One `[[models]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// File name inside the bundle.
    pub path: String,
    /// Numeric precision.
    pub precision: Precision,
    /// Quantization scheme.
    pub quantization: Quantization,
    /// Backends this file is meant for.
    pub backends: Vec<BackendKind>,
    /// Clips the file takes at once: 1 for a batch-1 graph, more for one
    /// whose batch dimension is symbolic (at most [`MAX_BATCH`]).
    #[serde(default = "one")]
    pub max_batch: usize,
}

fn one() -> usize {
    1
}

/// One `[[golden.outputs]]` entry as written in the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenOutputsEntry {
    model: String,
    logits: String,
    region_attn: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldenSection {
    clips: Vec<String>,
    classes: Vec<usize>,
    input: String,
    atol_logits: f32,
    atol_logits_int8: f32,
    outputs: Vec<GoldenOutputsEntry>,
}

/// `[provenance]`: how the bundle was made.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The commands that produced it.
    pub commands: Vec<String>,
    /// Creation date.
    pub created: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    schema: u32,
    model: ModelInfo,
    input: InputSpec,
    text: TextInfo,
    models: Vec<ModelEntry>,
    golden: GoldenSection,
    sha256: BTreeMap<String, String>,
    provenance: Provenance,
}

/// Reference outputs of one model file on the golden clips (onnxruntime CPU).
#[derive(Debug, Clone)]
pub struct GoldenOutputs {
    /// `[N, C]` logits.
    pub logits: Array2<f32>,
    /// `[N, T, tracklets, h*w]` region attention.
    pub region_attn: Array4<f32>,
}

/// The golden data: raw clips, their preprocessed tensors and reference outputs.
#[derive(Debug, Clone)]
pub struct Golden {
    /// Raw RGB frames of each golden clip, `[F, H0, W0, 3]`.
    pub clips: Vec<Array4<u8>>,
    /// True class of each golden clip.
    pub classes: Vec<usize>,
    /// Preprocessed clips, `[N, T, 3, H, W]`.
    pub input: Array5<f32>,
    /// Tolerance on logits for FP32 models.
    pub atol_logits: f32,
    /// Tolerance on logits for INT8 models.
    pub atol_logits_int8: f32,
    /// Reference outputs per model file name.
    pub outputs: BTreeMap<String, GoldenOutputs>,
}

impl Golden {
    /// The logits tolerance for a model of `precision`.
    pub fn atol(&self, precision: Precision) -> f32 {
        match precision {
            Precision::Fp32 => self.atol_logits,
            Precision::Int8 => self.atol_logits_int8,
        }
    }
}

/// A loaded, validated model bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    /// Network description and labels.
    pub model: ModelInfo,
    /// Preprocessing rule.
    pub input: InputSpec,
    /// Text encoder behind the label bank.
    pub text: TextInfo,
    /// Model files.
    pub models: Vec<ModelEntry>,
    /// Golden data.
    pub golden: Golden,
    /// SHA-256 of every file, by file name.
    pub sha256: BTreeMap<String, String>,
    /// How the bundle was made.
    pub provenance: Provenance,
}

impl fmt::Display for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.model.name, self.dir.display())
    }
}

impl Bundle {
    /// Loads and validates the bundle in `dir`, a directory or the name of
    /// an installed bundle ([`install::locate_bundle`](crate::install::locate_bundle)).
    pub fn load(dir: impl AsRef<Path>) -> Result<Bundle, BundleError> {
        let dir = crate::install::locate_bundle(dir.as_ref())?;
        let manifest_path = dir.join(MANIFEST);
        let bytes = read_regular(&dir, MANIFEST, MAX_MANIFEST_BYTES)?;
        let m = parse_manifest(&dir, &bytes)?;
        let check = Checker {
            dir: &dir,
            manifest: &manifest_path,
            sha256: &m.sha256,
        };

        let classes = m.model.labels.len();
        let spec = &m.input;
        let [frames, tracklets, tokens] = m.model.region_attn_shape(spec.frames);
        let attn_shape = [1, frames, tracklets, tokens];
        for entry in &m.models {
            let bytes = check.file(&entry.path)?;
            let io = onnx_io::read(&bytes).map_err(|reason| BundleError::Corrupt {
                path: dir.join(&entry.path),
                kind: "ONNX",
                size: bytes.len() as u64,
                reason,
            })?;
            let path = dir.join(&entry.path);
            let batch = (entry.max_batch == 1).then_some(1);
            let [_, t, c, h, w] = spec.clip_shape();
            let dims = |rest: &[usize]| {
                std::iter::once(batch)
                    .chain(rest.iter().map(|&d| Some(d)))
                    .collect::<Vec<_>>()
            };
            onnx_io::expect(&path, &io.inputs, "video", &dims(&[t, c, h, w]))?;
            onnx_io::expect(&path, &io.outputs, "logits", &dims(&[classes]))?;
            onnx_io::expect(&path, &io.outputs, "region_attn", &dims(&attn_shape[1..]))?;
        }

        let n = m.golden.clips.len();
        let mut clips = Vec::with_capacity(n);
        for name in &m.golden.clips {
            let a: Array4<u8> = check.npy(name)?;
            if a.shape()[3] != 3 || a.shape()[0] == 0 {
                return Err(check.shape(name, "frames", "[F >= 1, H0, W0, 3]", a.shape()));
            }
            clips.push(a);
        }
        let input: Array5<f32> = check.npy(&m.golden.input)?;
        let s = spec.clip_shape();
        let want = [n, s[1], s[2], s[3], s[4]];
        if input.shape() != want {
            return Err(check.shape(
                &m.golden.input,
                "golden input",
                &format!("{want:?}"),
                input.shape(),
            ));
        }
        let mut outputs = BTreeMap::new();
        for o in &m.golden.outputs {
            let logits: Array2<f32> = check.npy(&o.logits)?;
            if logits.shape() != [n, classes] {
                return Err(check.shape(
                    &o.logits,
                    "golden logits",
                    &format!("{:?}", [n, classes]),
                    logits.shape(),
                ));
            }
            check.tolerance(&m, &o.model, &logits)?;
            let attn: Array4<f32> = check.npy(&o.region_attn)?;
            let want = [n, frames, tracklets, tokens];
            if attn.shape() != want {
                return Err(check.shape(
                    &o.region_attn,
                    "golden region_attn",
                    &format!("{want:?}"),
                    attn.shape(),
                ));
            }
            outputs.insert(
                o.model.clone(),
                GoldenOutputs {
                    logits,
                    region_attn: attn,
                },
            );
        }

        // Every digest names a file of the bundle, each checked: the report
        // and anything else the export wrote among them.
        let used: BTreeSet<&str> = m
            .models
            .iter()
            .map(|e| e.path.as_str())
            .chain(m.golden.clips.iter().map(String::as_str))
            .chain([m.golden.input.as_str()])
            .chain(
                m.golden
                    .outputs
                    .iter()
                    .flat_map(|o| [o.logits.as_str(), o.region_attn.as_str()]),
            )
            .collect();
        for name in m.sha256.keys() {
            if !used.contains(name.as_str()) {
                check.file(name)?;
            }
        }

        Ok(Bundle {
            dir,
            model: m.model,
            input: m.input,
            text: m.text,
            models: m.models,
            golden: Golden {
                clips,
                classes: m.golden.classes,
                input,
                atol_logits: m.golden.atol_logits,
                atol_logits_int8: m.golden.atol_logits_int8,
                outputs,
            },
            sha256: m.sha256,
            provenance: m.provenance,
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Class labels; the index is the class id.
    pub fn labels(&self) -> &[String] {
        &self.model.labels
    }

    /// Output buffers sized for this bundle's model: its logits and one
    /// clip's region attention.
    pub fn outputs(&self) -> Outputs {
        let attn: usize = self
            .model
            .region_attn_shape(self.input.frames)
            .iter()
            .product();
        Outputs::with_sizes(self.labels().len(), attn)
    }

    /// The labels of the classes that are actions: all but the background.
    pub fn action_labels(&self) -> Vec<String> {
        let background = self.background();
        self.labels()
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != background)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Class id of the background class (`model.background`), if any.
    pub fn background(&self) -> Option<usize> {
        let name = self.model.background.as_ref()?;
        self.model.labels.iter().position(|l| l == name)
    }

    /// The model file for `kind` at `precision`: the first `[[models]]` entry
    /// of that precision that lists the backend.
    pub fn model_for(&self, kind: BackendKind, precision: Precision) -> Option<&ModelEntry> {
        self.models
            .iter()
            .find(|m| m.precision == precision && m.backends.contains(&kind))
    }

    /// Reads a model file, checking its SHA-256 again (the file may have
    /// changed since [`Bundle::load`]).
    pub fn model_bytes(&self, entry: &ModelEntry) -> Result<Vec<u8>, BundleError> {
        let manifest = self.dir.join(MANIFEST);
        Checker {
            dir: &self.dir,
            manifest: &manifest,
            sha256: &self.sha256,
        }
        .file(&entry.path)
    }

    /// Path of a file inside the bundle.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Validation helpers bound to one bundle directory.
struct Checker<'a> {
    dir: &'a Path,
    manifest: &'a Path,
    sha256: &'a BTreeMap<String, String>,
}

impl Checker<'_> {
    fn invalid(&self, key: &str, reason: impl Into<String>) -> BundleError {
        BundleError::Invalid {
            path: self.manifest.to_path_buf(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    fn shape(&self, name: &str, what: &str, expected: &str, found: &[usize]) -> BundleError {
        BundleError::Shape {
            path: self.dir.join(name),
            what: what.to_string(),
            expected: expected.to_string(),
            found: format!("{found:?}"),
        }
    }

    /// Checks the manifest's values against each other.
    fn manifest(&self, m: &Manifest) -> Result<(), BundleError> {
        if m.schema != SCHEMA {
            return Err(self.invalid(
                "schema",
                format!(
                    "this runtime reads schema {SCHEMA}, the bundle has {}",
                    m.schema
                ),
            ));
        }
        let classes = m.model.labels.len();
        if classes == 0 {
            return Err(self.invalid("model.labels", "no labels"));
        }
        if let Some((i, _)) = m
            .model
            .labels
            .iter()
            .enumerate()
            .find(|(_, l)| l.trim().is_empty())
        {
            return Err(self.invalid("model.labels", format!("label {i} is empty")));
        }
        if let Some(bg) = &m.model.background
            && !m.model.labels.contains(bg)
        {
            return Err(self.invalid(
                "model.background",
                format!("{bg:?} is not one of model.labels"),
            ));
        }
        if m.text.bank_shape[0] != classes {
            return Err(self.invalid(
                "text.bank_shape",
                format!(
                    "{} classes in the bank but {classes} labels in model.labels",
                    m.text.bank_shape[0]
                ),
            ));
        }
        if m.model.tracklets == 0 || m.model.grid.contains(&0) {
            return Err(self.invalid("model.grid", "tracklets and grid must be positive"));
        }
        let s = &m.input;
        if s.frames == 0 || s.window == 0 || s.width == 0 || s.height == 0 || s.resize_to == 0 {
            return Err(self.invalid(
                "input",
                "frames, window, width, height and resize_to must be positive",
            ));
        }
        if s.resize_to < s.width.max(s.height) {
            return Err(self.invalid(
                "input.resize_to",
                format!(
                    "{} is smaller than the {}x{} crop",
                    s.resize_to, s.width, s.height
                ),
            ));
        }
        if s.std.iter().any(|v| v.is_nan() || *v <= 0.0) {
            return Err(self.invalid("input.std", "every value must be positive"));
        }
        if m.models.is_empty() {
            return Err(self.invalid("models", "no model files"));
        }
        for (i, e) in m.models.iter().enumerate() {
            if e.backends.is_empty() {
                return Err(self.invalid(&format!("models[{i}].backends"), "empty"));
            }
            if !(1..=MAX_BATCH).contains(&e.max_batch) {
                return Err(self.invalid(
                    &format!("models[{i}].max_batch"),
                    format!("{} is not in 1..={MAX_BATCH}", e.max_batch),
                ));
            }
            if !m.golden.outputs.iter().any(|o| o.model == e.path) {
                return Err(self.invalid(
                    "golden.outputs",
                    format!("no golden outputs for {}", e.path),
                ));
            }
        }
        for (i, o) in m.golden.outputs.iter().enumerate() {
            if !m.models.iter().any(|e| e.path == o.model) {
                return Err(self.invalid(
                    &format!("golden.outputs[{i}].model"),
                    format!("{} is not in [[models]]", o.model),
                ));
            }
        }
        let g = &m.golden;
        if g.clips.is_empty() {
            return Err(self.invalid("golden.clips", "no golden clips"));
        }
        if g.classes.len() != g.clips.len() {
            return Err(self.invalid(
                "golden.classes",
                format!(
                    "{} classes for {} golden clips",
                    g.classes.len(),
                    g.clips.len()
                ),
            ));
        }
        if let Some(c) = g.classes.iter().find(|c| **c >= classes) {
            return Err(self.invalid(
                "golden.classes",
                format!("class {c} is out of range for {classes} labels"),
            ));
        }
        if [g.atol_logits, g.atol_logits_int8]
            .iter()
            .any(|t| !(t.is_finite() && *t > 0.0))
        {
            return Err(self.invalid(
                "golden.atol_logits",
                "tolerances must be positive and finite",
            ));
        }
        for (name, digest) in &m.sha256 {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(
                    self.invalid(&format!("sha256.\"{name}\""), "not 64 hexadecimal digits")
                );
            }
        }
        Ok(())
    }

    /// Refuses a tolerance that lets the golden self-test of `model` pass
    /// whatever the backend computes: one of a tenth or more of the golden
    /// logits' range.
    fn tolerance(
        &self,
        m: &Manifest,
        model: &str,
        logits: &Array2<f32>,
    ) -> Result<(), BundleError> {
        let precision = m
            .models
            .iter()
            .find(|e| e.path == model)
            .map_or(Precision::Fp32, |e| e.precision);
        let (key, atol) = match precision {
            Precision::Fp32 => ("golden.atol_logits", m.golden.atol_logits),
            Precision::Int8 => ("golden.atol_logits_int8", m.golden.atol_logits_int8),
        };
        let (lo, hi) = logits
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let range = hi - lo;
        if !(range.is_finite() && atol < range / 10.0) {
            return Err(self.invalid(
                key,
                format!(
                    "{atol} is not below a tenth of the range of {model}'s golden logits \
                     ({range}): a self-test with it could not fail"
                ),
            ));
        }
        Ok(())
    }

    /// Reads `name` and checks it against `[sha256]`.
    fn file(&self, name: &str) -> Result<Vec<u8>, BundleError> {
        let path = self.dir.join(name);
        let expected = self
            .sha256
            .get(name)
            .ok_or_else(|| self.invalid("sha256", format!("no digest for {name}")))?;
        let bytes = read_regular(self.dir, name, MAX_FILE_BYTES)?;
        let actual = hex(&Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(expected) {
            let size = bytes.len() as u64;
            // Tell a file that no longer decodes from one whose content changed.
            let decodes = if name.ends_with(".onnx") {
                onnx_io::read(&bytes).map(|_| ()).map_err(|e| ("ONNX", e))
            } else if name.ends_with(".npy") {
                check_npy(&bytes).map_err(|e| ("NumPy", e))
            } else {
                Ok(())
            };
            return Err(match decodes {
                Err((kind, reason)) => BundleError::Corrupt {
                    path,
                    kind,
                    size,
                    reason,
                },
                Ok(()) => BundleError::Checksum {
                    path,
                    expected: expected.clone(),
                    actual,
                    size,
                },
            });
        }
        Ok(bytes)
    }

    /// Reads a checked `.npy` file as an array of the requested type and rank.
    fn npy<A: ReadNpyExt>(&self, name: &str) -> Result<A, BundleError> {
        let bytes = self.file(name)?;
        A::read_npy(&bytes[..]).map_err(|e| BundleError::Corrupt {
            path: self.dir.join(name),
            kind: "NumPy",
            size: bytes.len() as u64,
            reason: e.to_string(),
        })
    }
}

/// Parses and checks the manifest of the bundle in `dir`: its values only,
/// no other file.
fn parse_manifest(dir: &Path, bytes: &[u8]) -> Result<Manifest, BundleError> {
    let path = dir.join(MANIFEST);
    let text = std::str::from_utf8(bytes).map_err(|e| BundleError::Io {
        path: path.clone(),
        cause: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let m: Manifest = toml::from_str(text).map_err(|cause| BundleError::Manifest {
        path: path.clone(),
        cause,
    })?;
    Checker {
        dir,
        manifest: &path,
        sha256: &m.sha256,
    }
    .manifest(&m)?;
    Ok(m)
}

/// Checks a manifest's bytes as [`Bundle::load`] does before it reads any
/// other file of the bundle: UTF-8, the schema, every value in range.
pub fn check_manifest(bytes: &[u8]) -> Result<(), BundleError> {
    parse_manifest(Path::new("."), bytes).map(|_| ())
}

/// Reads the file `name` of the bundle in `dir` under the rules of
/// [`artrt_files`]: inside the bundle, no symbolic link, a regular file of at
/// most `limit` bytes, checked before reading.
fn read_regular(dir: &Path, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
    artrt_files::read_inside(dir, name, limit).map_err(|e| match e {
        FileError::Io { path, cause } => BundleError::Io { path, cause },
        refused => BundleError::Unsafe {
            path: refused.path().to_path_buf(),
            reason: refused.reason(),
        },
    })
}

/// Checks that a `.npy` file (float32 or uint8, as a bundle's golden arrays
/// are) has a header that parses and data as long as its shape says.
pub fn check_npy(bytes: &[u8]) -> Result<(), String> {
    ndarray::ArrayD::<f32>::read_npy(bytes)
        .map(|_| ())
        .or_else(|e| match e {
            ndarray_npy::ReadNpyError::WrongDescriptor(_) => {
                ndarray::ArrayD::<u8>::read_npy(bytes).map(|_| ())
            }
            other => Err(other),
        })
        .map_err(|e| e.to_string())
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
