//! Where frames come from: the boundary between capture and the clip pipeline.
//!
//! Every camera, and everything that stands in for one, implements
//! [`FrameSource`]: a V4L2 device (module `v4l2`, Cargo feature `v4l2`), an
//! IP camera's RTSP stream (module `rtsp`, Cargo feature `rtsp`), the
//! synthetic gym stream (module `synthetic`, Cargo feature `synthetic`) and a
//! clip set or frame folder replayed as a camera ([`frames`]). [`SourceSpec`] names one of them in a string
//! (`v4l2:/dev/video0`, `rtsp://cam.local/stream1`, `synthetic:7`, `frames:DIR`,
//! `recording:DIR`) and [`open`] opens it.
//!
//! ```no_run
//! use artrt_live::source::{self, FrameSource, SourceOptions, SourceSpec};
//!
//! let spec: SourceSpec = "frames:demo-set".parse()?;
//! let mut source = source::open(&spec, &SourceOptions::default())?;
//! let name = source.describe();
//! let frame = source.next_frame()?;
//! println!("{name} {}x{} at {:?}", frame.width, frame.height, frame.timestamp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use artrt_infer::FrameRef;

pub mod frames;
mod pacing;
pub mod recorded;
#[cfg(feature = "rtsp")]
pub mod rtsp;
mod spec;
#[cfg(feature = "synthetic")]
pub mod synthetic;
#[cfg(feature = "v4l2")]
pub mod v4l2;

pub use pacing::Pacing;
pub use spec::{CameraFormat, JpegMode, SourceOptions, SourceSpec, SpecError, open, redacted};

/// What the V4L2 device at `path` is and offers ([`v4l2::describe`]), or why
/// it cannot say (no device, no permission, a build without V4L2).
pub fn describe_camera(path: &std::path::Path) -> Result<Vec<String>, String> {
    #[cfg(feature = "v4l2")]
    return v4l2::describe(path);
    #[cfg(not(feature = "v4l2"))]
    return Err(format!(
        "{}: this build of artrt has no V4L2 support (Cargo feature `v4l2`)",
        path.display()
    ));
}

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
    /// The source exists but cannot work as asked (unsupported format, no
    /// permission, malformed clip set); reopening will not help.
    #[error("frame source {source_name} unusable: {reason}")]
    Unusable {
        /// The source, as `describe()` names it.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

/// A camera or anything that stands in for one.
///
/// `next_frame` lends the source's own buffer (no copy on the hot path); the
/// frame is valid until the next call. After [`SourceError::Lost`], the
/// caller calls `reopen` until it succeeds, backing off between attempts;
/// each call makes one attempt at once and does not block for long.
///
/// A minimal implementation, a grey camera:
///
/// ```
/// use artrt_infer::{FrameRef, PixelFormat};
/// use artrt_live::source::{FrameSource, SourceError};
/// use std::time::Duration;
///
/// struct Grey { pixels: Vec<u8>, n: u32 }
///
/// impl FrameSource for Grey {
///     fn describe(&self) -> String { "grey".into() }
///     fn fps(&self) -> f32 { 30.0 }
///     fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
///         self.n += 1;
///         Ok(FrameRef {
///             format: PixelFormat::Rgb24, width: 4, height: 2, data: &self.pixels,
///             timestamp: Duration::from_secs(u64::from(self.n)) / 30,
///         })
///     }
///     fn reopen(&mut self) -> Result<(), SourceError> { Ok(()) }
/// }
///
/// let mut grey = Grey { pixels: vec![128; 4 * 2 * 3], n: 0 };
/// assert_eq!(grey.next_frame().unwrap().data.len(), 24);
/// ```
pub trait FrameSource: Send {
    /// A human-readable name for logs and errors (`v4l2:/dev/video0`, ...).
    fn describe(&self) -> String;
    /// Nominal frames per second.
    fn fps(&self) -> f32;
    /// Blocks until the next frame.
    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError>;
    /// Tries once to reopen a lost source.
    fn reopen(&mut self) -> Result<(), SourceError>;
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn fps(&self) -> f32 {
        (**self).fps()
    }
    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        (**self).next_frame()
    }
    fn reopen(&mut self) -> Result<(), SourceError> {
        (**self).reopen()
    }
}
