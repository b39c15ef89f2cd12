//! The clip-set format: reading and writing.
//!
//! ```text
//! <set>/labels.txt        one class label per line; the line index is the class id
//! <set>/annotations.txt   one clip per line: <clip_dir> <num_frames> <class_id>
//! <set>/<clip_dir>/img_00001.jpg, img_00002.jpg, ...   RGB JPEG frames, all of one size
//! <set>/set.toml          fps, frame size, provenance
//! <set>/<clip_dir>/boxes.json   optional: where the people are in each frame (see [`crate::boxes`])
//! ```
//!
//! Every file is read under the rules of [`artrt_files`]: inside the set's
//! directory, no symbolic links, regular files only, of bounded size
//! ([`MAX_LIST_BYTES`] for the three lists, [`MAX_FRAME_BYTES`] a frame).

use crate::annotation::{Annotation, check_clip_dir, frame_file_name};
use crate::boxes::{BOXES_FILE, ClipBoxes, MAX_BOXES_BYTES};
use crate::error::Error;
use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where a set came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `"artrt-synth"` for generated sets, `"recorded"` for a venue's recordings.
    pub generator: String,
    /// Version of the generator (or of the recording procedure).
    pub version: String,
    /// Seed of a generated set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Free text: venue, camera, date; or the generator's options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How a generated set's clips frame their action: `centred` or `live`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<String>,
    /// Class pairs of a set of contrast pairs, `A:B,C:D...`: lines `2k + 1`
    /// and `2k + 2` of `annotations.txt` show one scene as the two classes
    /// of a pair, the pairs in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twins: Option<String>,
    /// The recording a cut set was cut from (`artrt cut`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// SHA-256 of the labels file a cut set was cut by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_sha256: Option<String>,
    /// `"venue"` for generated sets of the venue view (`artrt synth --view venue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
}

/// The contents of `set.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMeta {
    /// Frame rate of the clips.
    pub fps: u32,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Where the set came from.
    pub provenance: Provenance,
}

impl SetMeta {
    fn check(&self, path: &Path) -> Result<(), Error> {
        let bad = |reason: &str| {
            Err(Error::SetValue {
                path: path.to_path_buf(),
                reason: reason.to_string(),
            })
        };
        if self.fps == 0 {
            return bad("fps must be positive");
        }
        if self.width == 0 || self.height == 0 {
            return bad("width and height must be positive");
        }
        Ok(())
    }
}

/// Largest `set.toml`, `labels.txt` or `annotations.txt` read.
pub const MAX_LIST_BYTES: u64 = 64 << 20;
/// Largest frame file read.
pub const MAX_FRAME_BYTES: u64 = 64 << 20;

fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = artrt_files::read_file(path, MAX_LIST_BYTES).map_err(|e| match e {
        artrt_files::FileError::Io { path, cause } => Error::Io { path, cause },
        refused => refused.into(),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        Error::io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// A reader over a frame file's bytes.
type FrameReader = image::ImageReader<std::io::Cursor<Vec<u8>>>;

/// An opened clip set: labels, metadata and the clip list.
#[derive(Clone, Debug)]
pub struct ClipSet {
    root: PathBuf,
    labels: Vec<String>,
    meta: SetMeta,
    clips: Vec<Annotation>,
}

/// Reads `labels.txt`.
fn read_labels(path: &Path) -> Result<Vec<String>, Error> {
    let text = read_text(path)?;
    let mut labels: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let label = line.trim();
        let err = |reason: String| Error::Label {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        if label.is_empty() {
            return Err(err("empty label".into()));
        }
        if let Some(j) = labels.iter().position(|l| l == label) {
            return Err(err(format!("label {label:?} repeats line {}", j + 1)));
        }
        labels.push(label.to_string());
    }
    if labels.is_empty() {
        return Err(Error::NoLabels {
            path: path.to_path_buf(),
        });
    }
    Ok(labels)
}

/// Reads `annotations.txt`, checking class ids against `num_classes`.
fn read_annotations(path: &Path, num_classes: usize) -> Result<Vec<Annotation>, Error> {
    let text = read_text(path)?;
    let mut clips = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let a = Annotation::parse(line).map_err(|cause| Error::Annotation {
            path: path.to_path_buf(),
            line: i + 1,
            cause,
        })?;
        if a.class_id >= num_classes {
            return Err(Error::ClassOutOfRange {
                path: path.to_path_buf(),
                line: i + 1,
                class_id: a.class_id,
                num_classes,
            });
        }
        clips.push(a);
    }
    if clips.is_empty() {
        return Err(Error::EmptySet {
            path: path.to_path_buf(),
        });
    }
    Ok(clips)
}

impl ClipSet {
    /// Opens the set in `root`: reads and checks `set.toml`, `labels.txt`
    /// and `annotations.txt` (frames are read by [`ClipSet::load_clip`] and
    /// checked by [`ClipSet::verify`]).
    pub fn open(root: impl AsRef<Path>) -> Result<ClipSet, Error> {
        let root = root.as_ref().to_path_buf();
        let meta_path = root.join("set.toml");
        let meta: SetMeta =
            toml::from_str(&read_text(&meta_path)?).map_err(|e| Error::SetToml {
                path: meta_path.clone(),
                cause: Box::new(e),
            })?;
        meta.check(&meta_path)?;
        let labels = read_labels(&root.join("labels.txt"))?;
        let clips = read_annotations(&root.join("annotations.txt"), labels.len())?;
        Ok(ClipSet {
            root,
            labels,
            meta,
            clips,
        })
    }

    /// The set's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class labels; the index is the class id.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Contents of `set.toml`.
    pub fn meta(&self) -> &SetMeta {
        &self.meta
    }

    /// The clips, in file order.
    pub fn clips(&self) -> &[Annotation] {
        &self.clips
    }

    /// Path of frame `k` (1-based) of `clip`.
    pub fn frame_path(&self, clip: &Annotation, k: u32) -> PathBuf {
        self.root.join(&clip.clip_dir).join(frame_file_name(k))
    }

    /// The bytes of frame `k` (1-based) of `clip`, as stored.
    pub fn read_frame(&self, clip: &Annotation, k: u32) -> Result<Vec<u8>, Error> {
        let name = Path::new(&clip.clip_dir).join(frame_file_name(k));
        artrt_files::read_inside(&self.root, &name, MAX_FRAME_BYTES).map_err(|e| match e {
            artrt_files::FileError::Io { path, cause }
                if cause.kind() == std::io::ErrorKind::NotFound =>
            {
                Error::MissingFrame { path }
            }
            other => other.into(),
        })
    }

    /// Frame `k` of `clip`: its path and a reader over its bytes, its format
    /// guessed from them.
    fn frame_reader(&self, clip: &Annotation, k: u32) -> Result<(PathBuf, FrameReader), Error> {
        let path = self.frame_path(clip, k);
        let bytes = self.read_frame(clip, k)?;
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(Error::io(&path))?;
        Ok((path, reader))
    }

    /// Loads one frame (1-based `k`) as 8-bit RGB, checking its size.
    pub fn load_frame(&self, clip: &Annotation, k: u32) -> Result<RgbImage, Error> {
        let (path, reader) = self.frame_reader(clip, k)?;
        let img = reader
            .decode()
            .map_err(|cause| Error::Decode {
                path: path.clone(),
                cause,
            })?
            .into_rgb8();
        self.check_size(&path, img.width(), img.height())?;
        Ok(img)
    }

    /// The clip's `boxes.json`, checked against its frames and size;
    /// `None` where the clip has none.
    pub fn load_boxes(&self, clip: &Annotation) -> Result<Option<ClipBoxes>, Error> {
        let name = Path::new(&clip.clip_dir).join(BOXES_FILE);
        let path = self.root.join(&name);
        let bytes = match artrt_files::read_inside(&self.root, &name, MAX_BOXES_BYTES) {
            Ok(bytes) => bytes,
            Err(artrt_files::FileError::Io { cause, .. })
                if cause.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(other) => return Err(other.into()),
        };
        ClipBoxes::parse(
            &path,
            &bytes,
            clip.num_frames,
            self.meta.width,
            self.meta.height,
        )
        .map(Some)
    }

    /// Loads every frame of a clip as 8-bit RGB.
    pub fn load_clip(&self, clip: &Annotation) -> Result<Vec<RgbImage>, Error> {
        (1..=clip.num_frames)
            .map(|k| self.load_frame(clip, k))
            .collect()
    }

    fn check_size(&self, path: &Path, w: u32, h: u32) -> Result<(), Error> {
        if (w, h) != (self.meta.width, self.meta.height) {
            return Err(Error::FrameSize {
                path: path.to_path_buf(),
                found_w: w,
                found_h: h,
                width: self.meta.width,
                height: self.meta.height,
            });
        }
        Ok(())
    }

    /// Checks that every frame file exists and has the set's size (reads
    /// only the image headers).
    pub fn verify(&self) -> Result<(), Error> {
        for clip in &self.clips {
            for k in 1..=clip.num_frames {
                let (path, reader) = self.frame_reader(clip, k)?;
                let (w, h) = reader.into_dimensions().map_err(|cause| Error::Decode {
                    path: path.clone(),
                    cause,
                })?;
                self.check_size(&path, w, h)?;
            }
        }
        Ok(())
    }

    /// Number of clips of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.labels.len()];
        for c in &self.clips {
            counts[c.class_id] += 1;
        }
        counts
    }
}

/// Writes a clip set. Clips may be written from several threads at once;
/// [`ClipSetWriter::finish`] writes the annotations last, so a set whose
/// writing was cut short has none and is not mistaken for a whole one.
#[derive(Debug)]
pub struct ClipSetWriter {
    root: PathBuf,
    meta: SetMeta,
    num_classes: usize,
}

impl ClipSetWriter {
    /// Creates the set in `root` (created if missing; it must hold no
    /// files) and writes `labels.txt` and `set.toml`.
    pub fn create(
        root: impl AsRef<Path>,
        labels: &[String],
        meta: SetMeta,
    ) -> Result<ClipSetWriter, Error> {
        let root = root.as_ref().to_path_buf();
        let set_toml = root.join("set.toml");
        meta.check(&set_toml)?;
        let labels_path = root.join("labels.txt");
        if labels.is_empty() {
            return Err(Error::NoLabels { path: labels_path });
        }
        for (i, l) in labels.iter().enumerate() {
            if l.trim().is_empty() || l.trim() != l || l.contains(['\n', '\r']) {
                let reason =
                    format!("label {l:?} is empty or has surrounding blanks or line breaks");
                return Err(Error::Label {
                    path: labels_path,
                    line: i + 1,
                    reason,
                });
            }
        }
        fs::create_dir_all(&root).map_err(Error::io(&root))?;
        if fs::read_dir(&root)
            .map_err(Error::io(&root))?
            .next()
            .is_some()
        {
            return Err(Error::NotEmpty { path: root });
        }
        let mut text = labels.join("\n");
        text.push('\n');
        fs::write(&labels_path, text).map_err(Error::io(&labels_path))?;
        let toml_text = toml::to_string(&meta).map_err(|e| Error::SetValue {
            path: set_toml.clone(),
            reason: e.to_string(),
        })?;
        fs::write(&set_toml, toml_text).map_err(Error::io(&set_toml))?;
        Ok(ClipSetWriter {
            root,
            meta,
            num_classes: labels.len(),
        })
    }

    /// Checks a clip before it is written and creates its directory.
    fn clip_dir(&self, clip_dir: &str, class_id: usize, frames: usize) -> Result<PathBuf, Error> {
        let dir = self.root.join(clip_dir);
        let invalid = |reason: String| Error::InvalidClip {
            path: dir.clone(),
            reason,
        };
        check_clip_dir(clip_dir).map_err(|e| invalid(e.to_string()))?;
        if class_id >= self.num_classes {
            return Err(invalid(format!(
                "class id {class_id} is out of range ({} classes)",
                self.num_classes
            )));
        }
        if frames == 0 {
            return Err(invalid("a clip needs at least one frame".into()));
        }
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        Ok(dir)
    }

    /// Writes one clip's frames as JPEG of `quality` (1 to 100) into
    /// `clip_dir` and returns its annotation.
    pub fn write_clip(
        &self,
        clip_dir: &str,
        class_id: usize,
        frames: &[RgbImage],
        quality: u8,
    ) -> Result<Annotation, Error> {
        let dir = self.clip_dir(clip_dir, class_id, frames.len())?;
        for (i, frame) in frames.iter().enumerate() {
            let path = dir.join(frame_file_name(i as u32 + 1));
            if (frame.width(), frame.height()) != (self.meta.width, self.meta.height) {
                return Err(Error::FrameSize {
                    path,
                    found_w: frame.width(),
                    found_h: frame.height(),
                    width: self.meta.width,
                    height: self.meta.height,
                });
            }
            let file = fs::File::create(&path).map_err(Error::io(&path))?;
            let mut out = BufWriter::new(file);
            JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .encode_image(frame)
                .map_err(|cause| Error::Encode {
                    path: path.clone(),
                    cause,
                })?;
            out.flush().map_err(Error::io(&path))?;
        }
        Ok(Annotation {
            clip_dir: clip_dir.to_string(),
            num_frames: frames.len() as u32,
            class_id,
        })
    }

    /// Writes `boxes.json` into the directory of a clip already written.
    pub fn write_boxes(&self, clip_dir: &str, boxes: &ClipBoxes) -> Result<(), Error> {
        let path = self.root.join(clip_dir).join(BOXES_FILE);
        fs::write(&path, boxes.to_json()).map_err(Error::io(&path))
    }

    /// Writes one clip's frames, already JPEG images of the set's size, as
    /// they are (no second encoding) into `clip_dir`; returns its annotation.
    pub fn write_clip_jpeg(
        &self,
        clip_dir: &str,
        class_id: usize,
        images: &[Vec<u8>],
    ) -> Result<Annotation, Error> {
        let dir = self.clip_dir(clip_dir, class_id, images.len())?;
        for (i, jpeg) in images.iter().enumerate() {
            let path = dir.join(frame_file_name(i as u32 + 1));
            let (w, h) = image::ImageReader::with_format(
                std::io::Cursor::new(jpeg),
                image::ImageFormat::Jpeg,
            )
            .into_dimensions()
            .map_err(|e| Error::InvalidClip {
                path: path.clone(),
                reason: format!("not a JPEG image: {e}"),
            })?;
            if (w, h) != (self.meta.width, self.meta.height) {
                return Err(Error::FrameSize {
                    path,
                    found_w: w,
                    found_h: h,
                    width: self.meta.width,
                    height: self.meta.height,
                });
            }
            fs::write(&path, jpeg).map_err(Error::io(&path))?;
        }
        Ok(Annotation {
            clip_dir: clip_dir.to_string(),
            num_frames: images.len() as u32,
            class_id,
        })
    }

    /// Writes `annotations.txt` and opens the finished set.
    pub fn finish(self, clips: &[Annotation]) -> Result<ClipSet, Error> {
        let path = self.root.join("annotations.txt");
        if clips.is_empty() {
            return Err(Error::EmptySet { path });
        }
        let mut text = String::new();
        for c in clips {
            text.push_str(&c.to_line());
            text.push('\n');
        }
        fs::write(&path, text).map_err(Error::io(&path))?;
        ClipSet::open(&self.root)
    }
}
