//! Preprocessing: camera frames to the model's normalised `[1, T, 3, H, W]`
//! clip, following a bundle's `[input]` rule exactly.
//!
//! Per frame: convert to packed RGB (YUYV and NV12 by BT.601 limited range,
//! MJPEG by `zune-jpeg`), resize the shorter side to `resize_to` with
//! Pillow's antialiased bilinear filter (the longer side keeps the aspect
//! ratio, rounded to the nearest pixel), crop the centred `width x height`
//! window (offsets rounded down), and normalise each channel,
//! `(v / 255 - mean) / std`. Only the pixels inside the crop are computed.
//!
//! Buffers and coefficient tables are kept between frames and rebuilt only
//! when the frame size changes, so the steady state allocates nothing
//! (MJPEG decoding excepted: the JPEG decoder allocates its own tables).

use std::path::Path;

use ndarray_npy::WriteNpyExt;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::bundle::InputSpec;
use crate::color;
use crate::frame::{FrameRef, PixelFormat};
use crate::resample::{self, Axis};

/// Why a frame or clip could not be preprocessed.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The frame's byte count does not match its format and size.
    #[error("{format:?} frame of {width}x{height} needs {expected} bytes, got {found}")]
    FrameSize {
        /// Pixel format.
        format: PixelFormat,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Bytes the format needs.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A dimension is zero, or odd where the format subsamples chroma.
    #[error("{format:?} frame of {width}x{height}: {reason}")]
    Geometry {
        /// Pixel format.
        format: PixelFormat,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// What is wrong.
        reason: &'static str,
    },
    /// The JPEG data does not decode.
    #[error("MJPEG frame does not decode: {0}")]
    Jpeg(String),
    /// The output slice has the wrong length.
    #[error("output buffer has {found} values, expected {expected}")]
    Output {
        /// Values needed.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A clip with no frames.
    #[error("a clip needs at least one frame")]
    NoFrames,
    /// One frame of a clip is bad.
    #[error("frame {index} of the clip: {cause}")]
    InFrame {
        /// 0-based index of the frame among those given.
        index: usize,
        /// What is wrong with it.
        cause: Box<PreprocessError>,
    },
}

/// Checks that JPEG data starts with the start-of-image marker and ends
/// with the end-of-image marker (after any zero padding, as some cameras
/// pad their buffers): a truncated frame would otherwise decode silently,
/// its missing rows filled in.
fn check_jpeg_markers(data: &[u8]) -> Result<(), PreprocessError> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(PreprocessError::Jpeg("no start-of-image marker".into()));
    }
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end < 4 || data[end - 2..end] != [0xFF, 0xD9] {
        return Err(PreprocessError::Jpeg(format!(
            "truncated: no end-of-image marker after {} bytes",
            data.len()
        )));
    }
    Ok(())
}

/// Source frame `floor((i + 0.5) * n / t)` of `n`: frame `i` of a `t`-frame
/// clip under segment-centre sampling.
pub fn segment_centre(n: usize, t: usize, i: usize) -> usize {
    ((2 * i + 1) * n) / (2 * t)
}

/// Size after resizing the shorter side of `width x height` to `target`.
pub fn resized_size(width: u32, height: u32, target: u32) -> (u32, u32) {
    let scaled = |long: u32, short: u32| {
        ((long as u64 * target as u64 * 2 + short as u64) / (2 * short as u64)) as u32
    };
    if width <= height {
        (target, scaled(height, width))
    } else {
        (scaled(width, height), target)
    }
}

/// Writes `data` as a float32 `.npy` array of `shape` (for example a dumped model input).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    let array = ndarray::ArrayViewD::from_shape(shape, data).map_err(std::io::Error::other)?;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    array.write_npy(file).map_err(std::io::Error::other)
}

/// Coefficients and buffer sizes for one source frame size.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub width: usize,
    pub height: usize,
    pub cols: Axis,
    pub rows: Axis,
    pub first_row: usize,
    pub last_row: usize,
}

impl Geometry {
    pub(crate) fn new(spec: &InputSpec, width: usize, height: usize) -> Geometry {
        let (rw, rh) = resized_size(width as u32, height as u32, spec.resize_to);
        let (cw, ch) = (spec.width as usize, spec.height as usize);
        let left = (rw as usize).saturating_sub(cw) / 2;
        let top = (rh as usize).saturating_sub(ch) / 2;
        let cols = Axis::new(width, rw as usize, left, cw);
        let rows = Axis::new(height, rh as usize, top, ch);
        let (first_row, last_row) = rows.span();
        Geometry {
            width,
            height,
            cols,
            rows,
            first_row,
            last_row,
        }
    }
}

/// The normalised value of every 8-bit level, per channel.
pub(crate) fn normalisation(spec: &InputSpec) -> [[f32; 256]; 3] {
    let mut lut = [[0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (v, x) in table.iter_mut().enumerate() {
            *x = (v as f32 / 255.0 - spec.mean[c]) / spec.std[c];
        }
    }
    lut
}

/// Turns frames into normalised model input, reusing its buffers.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    spec: InputSpec,
    lut: [[f32; 256]; 3],
    geometry: Option<Geometry>,
    rgb: Vec<u8>,
    planes: Vec<u8>,
    acc: Vec<i32>,
}

impl Preprocessor {
    /// A preprocessor for a bundle's input rule.
    pub fn new(spec: &InputSpec) -> Preprocessor {
        Preprocessor {
            spec: spec.clone(),
            lut: normalisation(spec),
            geometry: None,
            rgb: Vec::new(),
            planes: Vec::new(),
            acc: vec![0; spec.width as usize],
        }
    }

    /// The input rule.
    pub fn spec(&self) -> &InputSpec {
        &self.spec
    }

    /// Values in one preprocessed frame, `3 * H * W`.
    pub fn frame_len(&self) -> usize {
        self.spec.frame_len()
    }

    /// Values in one clip, `T * 3 * H * W`.
    pub fn clip_len(&self) -> usize {
        self.spec.clip_len()
    }

    /// Checks a frame's geometry and data size (and that an MJPEG frame
    /// starts like a JPEG) without decoding it: the checks [`Self::frame_into`]
    /// makes before any work, for frames a caller skips.
    pub fn validate(&self, frame: &FrameRef<'_>) -> Result<(), PreprocessError> {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let geometry_err = |reason| PreprocessError::Geometry {
            format: frame.format,
            width: frame.width,
            height: frame.height,
            reason,
        };
        let expected = match frame.format {
            PixelFormat::Mjpeg => return check_jpeg_markers(frame.data),
            _ if w == 0 || h == 0 => return Err(geometry_err("empty frame")),
            PixelFormat::Rgb24 => w * h * 3,
            PixelFormat::Yuyv if w % 2 != 0 => {
                return Err(geometry_err("YUYV needs an even width"));
            }
            PixelFormat::Yuyv => w * h * 2,
            PixelFormat::Nv12 if w % 2 != 0 || h % 2 != 0 => {
                return Err(geometry_err("NV12 needs an even width and height"));
            }
            PixelFormat::Nv12 => w * h * 3 / 2,
        };
        if frame.data.len() != expected {
            return Err(PreprocessError::FrameSize {
                format: frame.format,
                width: frame.width,
                height: frame.height,
                expected,
                found: frame.data.len(),
            });
        }
        Ok(())
    }

    /// Writes one frame as a normalised `[3, H, W]` tensor into `out`.
    ///
    /// An MJPEG frame's size is read from its JPEG header; its `width` and
    /// `height` are not used.
    pub fn frame_into(
        &mut self,
        frame: &FrameRef<'_>,
        out: &mut [f32],
    ) -> Result<(), PreprocessError> {
        if out.len() != self.frame_len() {
            return Err(PreprocessError::Output {
                expected: self.frame_len(),
                found: out.len(),
            });
        }
        self.validate(frame)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let (w, h) = match frame.format {
            PixelFormat::Rgb24 => {
                self.prepare(w, h);
                self.resample(frame.data, out);
                return Ok(());
            }
            PixelFormat::Yuyv => {
                self.prepare(w, h);
                color::yuyv_to_rgb(frame.data, w, h, &mut self.rgb);
                (w, h)
            }
            PixelFormat::Nv12 => {
                self.prepare(w, h);
                color::nv12_to_rgb(frame.data, w, h, &mut self.rgb);
                (w, h)
            }
            PixelFormat::Mjpeg => self.decode_jpeg(frame.data)?,
        };
        debug_assert_eq!(self.rgb.len(), w * h * 3);
        let rgb = std::mem::take(&mut self.rgb);
        self.resample(&rgb, out);
        self.rgb = rgb;
        Ok(())
    }

    /// Writes a clip of `frames` (the window's `N` source frames) as the
    /// model's `[1, T, 3, H, W]` input, sampling `T` of them.
    pub fn clip_into(
        &mut self,
        frames: &[FrameRef<'_>],
        out: &mut [f32],
    ) -> Result<(), PreprocessError> {
        if frames.is_empty() {
            return Err(PreprocessError::NoFrames);
        }
        if out.len() != self.clip_len() {
            return Err(PreprocessError::Output {
                expected: self.clip_len(),
                found: out.len(),
            });
        }
        let (n, t, len) = (frames.len(), self.spec.frames, self.frame_len());
        for (i, chunk) in out.chunks_exact_mut(len).enumerate() {
            let index = self.spec.sampling.pick(n, t, i);
            self.frame_into(&frames[index], chunk)
                .map_err(|cause| PreprocessError::InFrame {
                    index,
                    cause: Box::new(cause),
                })?;
        }
        Ok(())
    }

    /// Builds tables and buffers for `w x h` frames unless they are current.
    fn prepare(&mut self, w: usize, h: usize) {
        if self
            .geometry
            .as_ref()
            .is_some_and(|g| g.width == w && g.height == h)
        {
            return;
        }
        let g = Geometry::new(&self.spec, w, h);
        self.rgb.resize(w * h * 3, 0);
        self.planes
            .resize(3 * self.spec.width as usize * (g.last_row - g.first_row), 0);
        self.geometry = Some(g);
    }

    /// The packed RGB of the last frame [`decode_jpeg`](Self::decode_jpeg) decoded.
    #[cfg(feature = "cuda")]
    pub(crate) fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Decodes a JPEG into the preprocessor's RGB buffer (the decode stage
    /// of an MJPEG frame) and returns its width and height.
    pub fn decode_jpeg(&mut self, data: &[u8]) -> Result<(usize, usize), PreprocessError> {
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(data, options);
        decoder
            .decode_headers()
            .map_err(|e| PreprocessError::Jpeg(format!("{e:?}")))?;
        let info = decoder
            .info()
            .ok_or_else(|| PreprocessError::Jpeg("no image header".into()))?;
        let (w, h) = (info.width as usize, info.height as usize);
        if w == 0 || h == 0 {
            return Err(PreprocessError::Jpeg("empty image".into()));
        }
        self.prepare(w, h);
        decoder
            .decode_into(&mut self.rgb)
            .map_err(|e| PreprocessError::Jpeg(format!("{e:?}")))?;
        Ok((w, h))
    }

    /// Resize, crop and normalise packed RGB of the current geometry.
    fn resample(&mut self, rgb: &[u8], out: &mut [f32]) {
        let g = self.geometry.as_ref().expect("prepare() ran");
        let cw = self.spec.width as usize;
        let plane_len = cw * (g.last_row - g.first_row);
        resample::horizontal_rgb(
            rgb,
            g.width * 3,
            g.first_row..g.last_row,
            &g.cols,
            &mut self.planes,
            plane_len,
        );
        let hw = cw * self.spec.height as usize;
        for (c, out_plane) in out.chunks_exact_mut(hw).enumerate() {
            let rows = resample::Rows {
                data: &self.planes[c * plane_len..(c + 1) * plane_len],
                width: cw,
                row0: g.first_row,
            };
            for ((bound, k), row) in g
                .rows
                .bounds
                .iter()
                .zip(g.rows.coeffs.chunks_exact(g.rows.ksize))
                .zip(out_plane.chunks_exact_mut(cw))
            {
                resample::vertical_row(rows, *bound, k, &mut self.acc, &self.lut[c], row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_centre_picks_middles() {
        let picks: Vec<usize> = (0..8).map(|i| segment_centre(16, 8, i)).collect();
        assert_eq!(picks, [1, 3, 5, 7, 9, 11, 13, 15]);
        let picks: Vec<usize> = (0..8).map(|i| segment_centre(4, 8, i)).collect();
        assert_eq!(picks, [0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(segment_centre(1, 8, 7), 0);
    }

    #[test]
    fn truncated_or_foreign_jpeg_data_is_refused_before_decoding() {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode(&[128u8; 16 * 8 * 3], 16, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        check_jpeg_markers(&jpeg).unwrap();
        // Padding after the end marker is allowed.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0; 64]);
        check_jpeg_markers(&padded).unwrap();
        for cut in [jpeg.len() / 2, jpeg.len() - 1, 3, 0] {
            let err = check_jpeg_markers(&jpeg[..cut]).unwrap_err();
            assert!(
                err.to_string().contains(if cut < 2 {
                    "start-of-image"
                } else {
                    "truncated"
                }),
                "{err}"
            );
        }
        assert!(check_jpeg_markers(b"\x89PNG\r\n").is_err());
    }

    #[test]
    fn resized_keeps_aspect() {
        assert_eq!(resized_size(160, 120, 112), (149, 112));
        assert_eq!(resized_size(120, 160, 112), (112, 149));
        assert_eq!(resized_size(1920, 1080, 112), (199, 112));
        assert_eq!(resized_size(112, 112, 112), (112, 112));
    }
}
