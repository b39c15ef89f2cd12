//! Where frames come from: the boundary between capture and the clip pipeline.

use artrt_infer::FrameRef;

/// Why a frame source gave no frame.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The device or stream is gone (unplugged, closed); reopening may bring it back.
    #[error("frame source {source_name} lost: {reason}")]
    Lost {
        /// The source, as `describe()` names it.
        source_name: String,
        /// What happened.
        reason: String,
    },
    /// The source has no more frames and never will (a finished replay).
    #[error("frame source {0} ended")]
    Ended(String),
    /// One frame was unusable; the next one may be fine.
    #[error("bad frame from {source_name}: {reason}")]
    BadFrame {
        /// The source, as `describe()` names it.
        source_name: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// A camera or anything that stands in for one.
///
/// `next_frame` lends the source's own buffer (no copy on the hot path); the
/// frame is valid until the next call.
pub trait FrameSource: Send {
    /// A human-readable name for logs and errors (`v4l2:/dev/video0`, ...).
    fn describe(&self) -> String;
    /// Nominal frames per second.
    fn fps(&self) -> f32;
    /// Blocks until the next frame.
    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError>;
    /// Tries to reopen a lost source.
    fn reopen(&mut self) -> Result<(), SourceError>;
}
