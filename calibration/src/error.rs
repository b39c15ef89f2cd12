//! Errors of reading and writing clip sets.

use std::path::PathBuf;

/// What is wrong with one line of `annotations.txt`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// Not exactly three fields.
    #[error("expected `<clip_dir> <num_frames> <class_id>`, found {0} field(s)")]
    FieldCount(usize),
    /// The clip directory is absolute, climbs out of the set or is not plain text.
    #[error("clip directory {0:?} must be a relative path inside the set")]
    ClipDir(String),
    /// The frame count is not a positive integer.
    #[error("frame count {0:?} is not a positive integer")]
    NumFrames(String),
    /// The class id is not a non-negative integer.
    #[error("class id {0:?} is not a non-negative integer")]
    ClassId(String),
}

/// An error reading or writing a clip set; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the set may not hold (outside it, a link, not a regular file,
    /// too large), or one that cannot be read.
    #[error(transparent)]
    File(#[from] artrt_files::FileError),
    /// A file or directory could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// `set.toml` is not valid.
    #[error("{path}: {cause}")]
    SetToml {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: Box<toml::de::Error>,
    },
    /// `set.toml` parsed but a value is unusable.
    #[error("{path}: {reason}")]
    SetValue {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A line of `labels.txt` is empty or repeats an earlier label.
    #[error("{path}:{line}: {reason}")]
    Label {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `labels.txt` has no labels.
    #[error("{path}: no class labels")]
    NoLabels {
        /// The file.
        path: PathBuf,
    },
    /// A line of `annotations.txt` is malformed.
    #[error("{path}:{line}: {cause}")]
    Annotation {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        cause: AnnotationError,
    },
    /// An annotation names a class that `labels.txt` does not have.
    #[error(
        "{path}:{line}: class id {class_id} is out of range (the set has {num_classes} classes)"
    )]
    ClassOutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The class id found.
        class_id: usize,
        /// Number of labels.
        num_classes: usize,
    },
    /// `annotations.txt` lists no clips.
    #[error("{path}: the set has no clips")]
    EmptySet {
        /// The file.
        path: PathBuf,
    },
    /// A frame file the annotations promise does not exist.
    #[error("{path}: missing frame file")]
    MissingFrame {
        /// The missing file.
        path: PathBuf,
    },
    /// A frame file cannot be decoded.
    #[error("{path}: cannot decode frame: {cause}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: image::ImageError,
    },
    /// A frame's size differs from the set's.
    #[error("{path}: frame is {found_w}x{found_h}, the set's frames are {width}x{height}")]
    FrameSize {
        /// The file.
        path: PathBuf,
        /// Size found.
        found_w: u32,
        /// Size found.
        found_h: u32,
        /// The set's size.
        width: u32,
        /// The set's size.
        height: u32,
    },
    /// A frame could not be encoded or written.
    #[error("{path}: cannot encode frame: {cause}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: image::ImageError,
    },
    /// The writer was handed something that does not fit the set.
    #[error("{path}: {reason}")]
    InvalidClip {
        /// The clip directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The output directory already holds files.
    #[error("{path}: directory is not empty; refusing to write a clip set over existing files")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |cause| Error::Io { path, cause }
    }
}
