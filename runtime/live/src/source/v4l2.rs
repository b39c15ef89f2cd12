//! V4L2 cameras: YUYV or MJPEG, memory-mapped streaming, driver timestamps.
//!
//! Opening asks the driver for a pixel format, size and frame rate, reads back
//! what it chose and logs both. Frames are lent straight from the driver's
//! mapped buffers (a YUYV frame with padded rows is packed first). When the
//! device vanishes (unplugged cable, reset hub) the source gives
//! [`SourceError::Lost`]; each [`FrameSource::reopen`] then tries to open the
//! device again with the same request.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use artrt_infer::{FrameRef, PixelFormat};
use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapabilityFlags;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::parameters::Capabilities as ParameterCapabilities;
use v4l::video::Capture;
use v4l::video::capture::Parameters;
use v4l::{Device, Format, FourCC, Fraction};

use super::{CameraFormat, FrameSource, SourceError};

/// Mapped buffers the driver cycles through.
const BUFFERS: u32 = 4;

/// Linux `ENOTTY`: the file takes no V4L2 ioctls.
const ENOTTY: i32 = 25;

/// What to ask of the camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraRequest {
    /// Pixel format.
    pub format: CameraFormat,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f32,
}

/// What the driver chose for a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Negotiated {
    /// Pixel format (always the one asked for; a driver that picks another is refused).
    pub format: CameraFormat,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Bytes per row of a YUYV frame in the driver's buffer.
    pub stride: u32,
    /// Frames per second the driver reports.
    pub fps: f32,
}

/// An open, streaming device. The stream is dropped before the device.
struct Streaming {
    stream: Stream<'static>,
    _device: Device,
    /// Set when the device failed; the capture is closed on the next reopen.
    failed: bool,
}

/// A V4L2 capture device.
pub struct V4l2Source {
    path: PathBuf,
    name: String,
    request: CameraRequest,
    negotiated: Negotiated,
    capture: Option<Streaming>,
    /// A YUYV frame with its row padding removed, when the driver pads rows.
    packed: Vec<u8>,
}

impl V4l2Source {
    /// Opens the device at `path` and starts streaming as `request` asks.
    ///
    /// A device that is absent or busy gives [`SourceError::Lost`]; one that
    /// cannot capture, refuses the pixel format or denies access gives
    /// [`SourceError::Unusable`].
    pub fn open(path: impl AsRef<Path>, request: CameraRequest) -> Result<Self, SourceError> {
        let path = path.as_ref().to_path_buf();
        let name = format!("v4l2:{}", path.display());
        let (capture, negotiated) = start(&path, &name, &request)?;
        Ok(Self {
            path,
            name,
            request,
            negotiated,
            capture: Some(capture),
            packed: Vec::new(),
        })
    }

    /// Like [`V4l2Source::open`], but a device that is absent or busy gives
    /// a closed source instead of an error: its first `next_frame` reports
    /// it lost, and `reopen` brings it up once the camera is plugged in.
    /// Other errors are returned as they are.
    pub fn open_or_wait(
        path: impl AsRef<Path>,
        request: CameraRequest,
    ) -> Result<Self, SourceError> {
        match Self::open(path.as_ref(), request) {
            Err(SourceError::Lost {
                source_name,
                reason,
            }) => {
                log::warn!("{source_name}: {reason}; waiting for the camera");
                let negotiated = Negotiated {
                    format: request.format,
                    width: request.width,
                    height: request.height,
                    stride: request.width * 2,
                    fps: request.fps,
                };
                Ok(Self {
                    path: path.as_ref().to_path_buf(),
                    name: source_name,
                    request,
                    negotiated,
                    capture: None,
                    packed: Vec::new(),
                })
            }
            other => other,
        }
    }

    /// What the driver chose at the last (re)open (the request itself before the first).
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    fn close(&mut self) {
        if let Some(capture) = self.capture.take() {
            // v4l panics when stopping or unmapping fails on a vanished
            // device in ways other than ENODEV; a lost camera must not take
            // the runtime down with it.
            if catch_unwind(AssertUnwindSafe(move || drop(capture))).is_err() {
                log::error!(
                    "{}: closing the lost device failed; its buffers are abandoned",
                    self.name
                );
            }
        }
    }
}

impl Drop for V4l2Source {
    fn drop(&mut self) {
        self.close();
    }
}

impl FrameSource for V4l2Source {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fps(&self) -> f32 {
        self.negotiated.fps
    }

    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        let lost = |name: &str, reason: String| SourceError::Lost {
            source_name: name.to_owned(),
            reason,
        };
        let Some(capture) = self.capture.as_mut().filter(|c| !c.failed) else {
            return Err(lost(&self.name, "device not open; reopen it".into()));
        };
        let (buf, meta) = match capture.stream.next() {
            Ok(next) => next,
            Err(e) => {
                capture.failed = true;
                let reason = match e.kind() {
                    io::ErrorKind::TimedOut => "no frame within the timeout".to_owned(),
                    _ => e.to_string(),
                };
                log::warn!("{}: lost: {reason}", self.name);
                return Err(lost(&self.name, reason));
            }
        };
        let bad = |reason: String| SourceError::BadFrame {
            source_name: self.name.clone(),
            reason,
        };
        if meta.flags.contains(BufferFlags::ERROR) {
            return Err(bad(format!(
                "driver flagged frame {} as corrupted",
                meta.sequence
            )));
        }
        let used = match meta.bytesused as usize {
            0 => buf.len(),
            n => n.min(buf.len()),
        };
        let n = self.negotiated;
        let timestamp = Duration::from(meta.timestamp);
        let (format, data) = match n.format {
            CameraFormat::Mjpeg => (PixelFormat::Mjpeg, &buf[..used]),
            CameraFormat::Yuyv => {
                let row = n.width as usize * 2;
                let stride = (n.stride as usize).max(row);
                let need = stride * (n.height as usize - 1) + row;
                if used < need {
                    return Err(bad(format!(
                        "YUYV frame {} has {used} bytes, expected {need}",
                        meta.sequence
                    )));
                }
                if stride == row {
                    (PixelFormat::Yuyv, &buf[..row * n.height as usize])
                } else {
                    self.packed.clear();
                    for r in buf[..need].chunks(stride) {
                        self.packed.extend_from_slice(&r[..row]);
                    }
                    (PixelFormat::Yuyv, &self.packed[..])
                }
            }
        };
        Ok(FrameRef {
            format,
            width: n.width,
            height: n.height,
            data,
            timestamp,
        })
    }

    fn reopen(&mut self) -> Result<(), SourceError> {
        self.close();
        let (capture, negotiated) = start(&self.path, &self.name, &self.request)?;
        log::info!("{}: reopened", self.name);
        self.capture = Some(capture);
        self.negotiated = negotiated;
        Ok(())
    }
}

/// What a V4L2 device is and offers: its card and driver, then one line per
/// pixel format with its frame sizes and rates (`MJPG 640x480@30,15 ...`).
pub fn describe(path: &Path) -> Result<Vec<String>, String> {
    let device = Device::with_path(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => {
            format!(
                "cannot open {}: {e} (is the user in the `video` group?)",
                path.display()
            )
        }
        _ => format!("cannot open {}: {e}", path.display()),
    })?;
    let caps = device.query_caps().map_err(|e| match e.raw_os_error() {
        Some(ENOTTY) => format!("{} is not a V4L2 device ({e})", path.display()),
        _ => format!("querying {}: {e}", path.display()),
    })?;
    let mut lines = vec![format!("{} ({})", caps.card, caps.driver)];
    if !caps.capabilities.contains(CapabilityFlags::VIDEO_CAPTURE) {
        lines[0].push_str(", not a capture device");
        return Ok(lines);
    }
    let formats = device
        .enum_formats()
        .map_err(|e| format!("listing the formats of {}: {e}", path.display()))?;
    for format in formats {
        let sizes = device.enum_framesizes(format.fourcc).unwrap_or_default();
        let sizes: Vec<String> = sizes
            .into_iter()
            .map(|s| match s.size {
                FrameSizeEnum::Discrete(d) => {
                    let rates: Vec<String> = device
                        .enum_frameintervals(format.fourcc, d.width, d.height)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|i| match &i.interval {
                            FrameIntervalEnum::Discrete(f) if f.numerator > 0 => Some(format!(
                                "{}",
                                f64::from(f.denominator) / f64::from(f.numerator)
                            )),
                            _ => None,
                        })
                        .collect();
                    format!("{}x{}@{}", d.width, d.height, rates.join(","))
                }
                FrameSizeEnum::Stepwise(w) => format!(
                    "{}x{}..{}x{}",
                    w.min_width, w.min_height, w.max_width, w.max_height
                ),
            })
            .collect();
        lines.push(format!("{} {}", format.fourcc, sizes.join(" ")));
    }
    Ok(lines)
}

fn fourcc(format: CameraFormat) -> FourCC {
    match format {
        CameraFormat::Yuyv => FourCC::new(b"YUYV"),
        CameraFormat::Mjpeg => FourCC::new(b"MJPG"),
    }
}

/// Opens the device, negotiates and starts streaming.
fn start(
    path: &Path,
    name: &str,
    request: &CameraRequest,
) -> Result<(Streaming, Negotiated), SourceError> {
    let lost = |reason: String| SourceError::Lost {
        source_name: name.to_owned(),
        reason,
    };
    let unusable = |reason: String| SourceError::Unusable {
        source_name: name.to_owned(),
        reason,
    };
    let device = Device::with_path(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => unusable(format!(
            "cannot open {}: {e} (is the user in the `video` group?)",
            path.display()
        )),
        _ => lost(format!("cannot open {}: {e}", path.display())),
    })?;
    let caps = device.query_caps().map_err(|e| match e.raw_os_error() {
        Some(ENOTTY) => unusable(format!("{} is not a V4L2 device ({e})", path.display())),
        _ => lost(format!("querying capabilities: {e}")),
    })?;
    if !caps
        .capabilities
        .contains(CapabilityFlags::VIDEO_CAPTURE | CapabilityFlags::STREAMING)
    {
        return Err(unusable(format!(
            "{} ({}) is not a streaming capture device (capabilities: {})",
            caps.card, caps.driver, caps.capabilities
        )));
    }

    let wanted = fourcc(request.format);
    let chosen = device
        .set_format(&Format::new(request.width, request.height, wanted))
        .map_err(|e| lost(format!("setting format: {e}")))?;
    log::info!(
        "{name}: asked {}x{} {wanted}, driver chose {}x{} {} (stride {}, card {})",
        request.width,
        request.height,
        chosen.width,
        chosen.height,
        chosen.fourcc,
        chosen.stride,
        caps.card
    );
    if chosen.fourcc != wanted {
        let offered = device
            .enum_formats()
            .map(|formats| {
                formats
                    .iter()
                    .map(|f| f.fourcc.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|e| format!("unknown ({e})"));
        return Err(unusable(format!(
            "the camera does not offer {wanted} (it offers: {offered}); set the camera format to one of yuyv, mjpeg it supports"
        )));
    }
    if chosen.width == 0 || chosen.height == 0 {
        return Err(unusable(format!(
            "the driver chose an empty frame size {}x{}",
            chosen.width, chosen.height
        )));
    }

    let denominator = (f64::from(request.fps) * 1000.0).round().max(1.0) as u32;
    let params = device
        .set_params(&Parameters::new(Fraction::new(1000, denominator)))
        .map_err(|e| lost(format!("setting frame rate: {e}")))?;
    let fps = match params.interval {
        Fraction {
            numerator,
            denominator,
        } if numerator > 0 && denominator > 0 => {
            (f64::from(denominator) / f64::from(numerator)) as f32
        }
        _ => request.fps,
    };
    if params
        .capabilities
        .contains(ParameterCapabilities::TIME_PER_FRAME)
    {
        log::info!("{name}: asked {} fps, driver chose {fps} fps", request.fps);
    } else {
        log::warn!(
            "{name}: the driver cannot set the frame rate; it reports {fps} fps (asked {})",
            request.fps
        );
    }

    let mut stream = Stream::with_buffers(&device, Type::VideoCapture, BUFFERS)
        .map_err(|e| lost(format!("mapping capture buffers: {e}")))?;
    // A camera that stops sending for this long is treated as gone.
    let timeout = Duration::from_secs_f32((10.0 / fps.max(1.0)).max(2.0));
    stream.set_timeout(timeout);
    let negotiated = Negotiated {
        format: request.format,
        width: chosen.width,
        height: chosen.height,
        stride: chosen.stride,
        fps,
    };
    Ok((
        Streaming {
            stream,
            _device: device,
            failed: false,
        },
        negotiated,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_device_is_lost_not_a_panic() {
        let request = CameraRequest {
            format: CameraFormat::Yuyv,
            width: 640,
            height: 480,
            fps: 30.0,
        };
        match V4l2Source::open("/nonexistent/video-device", request) {
            Err(SourceError::Lost {
                source_name,
                reason,
            }) => {
                assert_eq!(source_name, "v4l2:/nonexistent/video-device");
                assert!(reason.contains("/nonexistent/video-device"), "{reason}");
            }
            Err(other) => panic!("expected Lost, got {other}"),
            Ok(_) => panic!("opened a device that does not exist"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_camera_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let request = CameraRequest {
            format: CameraFormat::Mjpeg,
            width: 640,
            height: 480,
            fps: 30.0,
        };
        let err = V4l2Source::open(file.path(), request)
            .err()
            .expect("a plain file is no camera");
        assert!(matches!(err, SourceError::Unusable { .. }), "{err}");
        assert!(err.to_string().contains("is not a V4L2 device"), "{err}");
    }

    #[test]
    fn an_absent_device_can_be_waited_for() {
        let request = CameraRequest {
            format: CameraFormat::Yuyv,
            width: 320,
            height: 240,
            fps: 15.0,
        };
        let mut source = V4l2Source::open_or_wait("/nonexistent/video-device", request).unwrap();
        assert_eq!(source.fps(), 15.0);
        assert!(matches!(source.next_frame(), Err(SourceError::Lost { .. })));
        assert!(matches!(source.reopen(), Err(SourceError::Lost { .. })));
    }
}
