//! Camera frames as they arrive, before preprocessing.

use std::time::Duration;

/// Pixel layout of a frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed 8-bit RGB, 3 bytes a pixel, rows without padding.
    Rgb24,
    /// YUYV 4:2:2 (V4L2 `YUYV`): 2 bytes a pixel, `Y0 U Y1 V` per pixel pair.
    Yuyv,
    /// NV12 (V4L2 `NV12`): a full-size Y plane, then a half-size interleaved UV plane.
    Nv12,
    /// Motion JPEG: one JPEG image per frame.
    Mjpeg,
}

/// A frame lent by a frame source: valid until the source's next call.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    /// Layout of `data`.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The frame's bytes.
    pub data: &'a [u8],
    /// Capture time on the source's monotonic clock.
    pub timestamp: Duration,
}

impl<'a> FrameRef<'a> {
    /// A JPEG image as a frame; its size comes from the JPEG header.
    pub fn jpeg(data: &'a [u8]) -> FrameRef<'a> {
        FrameRef {
            format: PixelFormat::Mjpeg,
            width: 0,
            height: 0,
            data,
            timestamp: Duration::ZERO,
        }
    }
}
