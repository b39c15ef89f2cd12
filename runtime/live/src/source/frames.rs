//! A clip set or a plain folder of frames, replayed as a camera.
//!
//! A folder with an `annotations.txt` is a clip set (README, "Clip-set
//! format", read with [`ClipSet`]): its clips play one after another in
//! annotation order, at the rate in `set.toml`, and [`FramesSource::clips`] says which frames belong to
//! which labelled clip. Any other folder plays its `.jpg`, `.jpeg` and `.png`
//! files in natural name order (`frame_2` before `frame_10`).
//!
//! Files are read one at a time as they are replayed, so a folder removed
//! mid-run makes the source [`SourceError::Lost`], and once the folder is back
//! [`FrameSource::reopen`] resumes where the replay stopped. Timestamps are
//! stream time: frame `n` of the replay (counting loops) is at `n / fps`.

use std::cmp::Ordering;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use artrt_calibration::ClipSet;
use artrt_infer::{FrameRef, PixelFormat};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::pacing::Pacer;
use super::{FrameSource, JpegMode, Pacing, SourceError};

/// How to replay a folder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FramesOptions {
    /// Frame rate of a plain folder (a clip set's `set.toml` takes precedence).
    pub fps: f32,
    /// Real time or as fast as possible.
    pub pacing: Pacing,
    /// Starts over at the end instead of ending.
    pub looping: bool,
    /// Lend JPEG files as `Mjpeg` frames or decode them to `Rgb24`.
    pub jpeg: JpegMode,
}

impl Default for FramesOptions {
    fn default() -> Self {
        Self {
            fps: 30.0,
            pacing: Pacing::RealTime,
            looping: false,
            jpeg: JpegMode::Lend,
        }
    }
}

/// One labelled clip of a replayed clip set, placed on the replay's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayClip {
    /// The clip's folder, as `annotations.txt` names it.
    pub dir: String,
    /// Its class id.
    pub class_id: usize,
    /// Its label from `labels.txt`.
    pub label: String,
    /// Index of its first frame in one pass of the replay.
    pub first_frame: u64,
    /// Number of frames.
    pub frames: u64,
}

/// What a scan of the folder found.
struct Listing {
    fps: Option<f32>,
    files: Vec<PathBuf>,
    clips: Vec<ReplayClip>,
}

/// A folder of frames replayed as a camera.
pub struct FramesSource {
    dir: PathBuf,
    name: String,
    options: FramesOptions,
    fps: f32,
    files: Vec<PathBuf>,
    clips: Vec<ReplayClip>,
    /// Index of the next frame in the looped timeline (pass * files + file).
    position: u64,
    lost: Option<String>,
    pacer: Pacer,
    bytes: Vec<u8>,
    rgb: Vec<u8>,
}

impl FramesSource {
    /// Opens a clip set or frame folder.
    ///
    /// A folder that does not exist gives [`SourceError::Lost`]; a malformed
    /// clip set or a folder without frames gives [`SourceError::Unusable`].
    pub fn open(dir: impl Into<PathBuf>, options: FramesOptions) -> Result<Self, SourceError> {
        let dir = dir.into();
        let name = format!("frames:{}", dir.display());
        let listing = scan(&dir, &name)?;
        let fps = listing.fps.unwrap_or(options.fps);
        if !(fps.is_finite() && fps > 0.0) {
            return Err(SourceError::Unusable {
                source_name: name,
                reason: format!("frame rate {fps} is not positive"),
            });
        }
        log::info!(
            "{name}: {} frames{} at {fps} fps",
            listing.files.len(),
            if listing.clips.is_empty() {
                String::new()
            } else {
                format!(" in {} clips", listing.clips.len())
            }
        );
        Ok(Self {
            dir,
            name,
            options,
            fps,
            files: listing.files,
            clips: listing.clips,
            position: 0,
            lost: None,
            pacer: Pacer::new(options.pacing, fps),
            bytes: Vec::new(),
            rgb: Vec::new(),
        })
    }

    /// The labelled clips of a clip set, in replay order (empty for a plain folder).
    pub fn clips(&self) -> &[ReplayClip] {
        &self.clips
    }

    /// Frames in one pass of the replay.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether one pass has no frames (never true for an opened source).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Index of the next frame in the replay's timeline (passes included).
    pub fn position(&self) -> u64 {
        self.position
    }

    fn lost(&mut self, reason: String) -> SourceError {
        log::warn!("{}: lost: {reason}", self.name);
        self.lost = Some(reason.clone());
        SourceError::Lost {
            source_name: self.name.clone(),
            reason,
        }
    }

    fn bad(&self, path: &Path, reason: impl std::fmt::Display) -> SourceError {
        SourceError::BadFrame {
            source_name: self.name.clone(),
            reason: format!("{}: {reason}", path.display()),
        }
    }
}

impl FrameSource for FramesSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fps(&self) -> f32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        if let Some(reason) = &self.lost {
            return Err(SourceError::Lost {
                source_name: self.name.clone(),
                reason: reason.clone(),
            });
        }
        let pass_len = self.files.len() as u64;
        if self.position >= pass_len && !self.options.looping {
            return Err(SourceError::Ended(self.name.clone()));
        }
        let index = (self.position % pass_len) as usize;
        self.pacer.wait();
        let path = self.files[index].clone();
        if let Err(e) = read_into(&path, &mut self.bytes) {
            // A missing file in a folder that is still there is one bad frame;
            // a missing folder or a failing disk is a lost source.
            if e.kind() == io::ErrorKind::NotFound && self.dir.is_dir() {
                self.position += 1;
                return Err(self.bad(&path, "missing"));
            }
            return Err(self.lost(format!("{}: {e}", path.display())));
        }
        let timestamp = Duration::from_secs_f64(self.position as f64 / f64::from(self.fps));
        self.position += 1;
        let (format, width, height) = match (image_kind(&path), self.options.jpeg) {
            (Some(ImageKind::Jpeg), JpegMode::Lend) => {
                let (w, h) = jpeg_size(&self.bytes).map_err(|e| self.bad(&path, e))?;
                (PixelFormat::Mjpeg, w, h)
            }
            (Some(ImageKind::Jpeg), JpegMode::Decode) => {
                let (w, h) =
                    decode_jpeg(&self.bytes, &mut self.rgb).map_err(|e| self.bad(&path, e))?;
                (PixelFormat::Rgb24, w, h)
            }
            (Some(ImageKind::Png), _) => {
                let (w, h) =
                    decode_png(&self.bytes, &mut self.rgb).map_err(|e| self.bad(&path, e))?;
                (PixelFormat::Rgb24, w, h)
            }
            (None, _) => return Err(self.bad(&path, "not a .jpg, .jpeg or .png file")),
        };
        let data = if format == PixelFormat::Mjpeg {
            &self.bytes
        } else {
            &self.rgb
        };
        Ok(FrameRef {
            format,
            width,
            height,
            data,
            timestamp,
        })
    }

    fn reopen(&mut self) -> Result<(), SourceError> {
        let listing = scan(&self.dir, &self.name)?;
        log::info!("{}: back, resuming at frame {}", self.name, self.position);
        if let Some(fps) = listing.fps {
            self.fps = fps;
        }
        self.files = listing.files;
        self.clips = listing.clips;
        self.lost = None;
        self.pacer.restart();
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImageKind {
    Jpeg,
    Png,
}

fn image_kind(path: &Path) -> Option<ImageKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => Some(ImageKind::Jpeg),
        "png" => Some(ImageKind::Png),
        _ => None,
    }
}

fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    fs::File::open(path)?.read_to_end(buf).map(drop)
}

fn jpeg_size(bytes: &[u8]) -> Result<(u32, u32), String> {
    let mut decoder = JpegDecoder::new(bytes);
    decoder
        .decode_headers()
        .map_err(|e| format!("bad JPEG: {e:?}"))?;
    let (w, h) = decoder.dimensions().ok_or("bad JPEG: no size")?;
    Ok((w as u32, h as u32))
}

fn decode_jpeg(bytes: &[u8], rgb: &mut Vec<u8>) -> Result<(u32, u32), String> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(bytes, options);
    decoder
        .decode_headers()
        .map_err(|e| format!("bad JPEG: {e:?}"))?;
    let (w, h) = decoder.dimensions().ok_or("bad JPEG: no size")?;
    let size = decoder
        .output_buffer_size()
        .ok_or("bad JPEG: size overflows")?;
    rgb.resize(size, 0);
    decoder
        .decode_into(rgb)
        .map_err(|e| format!("bad JPEG: {e:?}"))?;
    Ok((w as u32, h as u32))
}

fn decode_png(bytes: &[u8], rgb: &mut Vec<u8>) -> Result<(u32, u32), String> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| format!("bad PNG: {e}"))?
        .into_rgb8();
    let (w, h) = image.dimensions();
    rgb.clear();
    rgb.extend_from_slice(image.as_raw());
    Ok((w, h))
}

/// Lists what a folder replays; a missing folder is `Lost`, a malformed one `Unusable`.
fn scan(dir: &Path, name: &str) -> Result<Listing, SourceError> {
    let unusable = |reason: String| SourceError::Unusable {
        source_name: name.to_owned(),
        reason,
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(unusable(format!("{} is not a folder", dir.display()))),
        Err(e) => {
            return Err(SourceError::Lost {
                source_name: name.to_owned(),
                reason: format!("{}: {e}", dir.display()),
            });
        }
    }
    let listing = if dir.join("annotations.txt").is_file() {
        scan_clip_set(dir)
    } else {
        scan_folder(dir)
    };
    let listing = listing.map_err(unusable)?;
    if listing.files.is_empty() {
        return Err(unusable(format!(
            "no frames (.jpg, .jpeg, .png) in {}",
            dir.display()
        )));
    }
    Ok(listing)
}

fn scan_folder(dir: &Path) -> Result<Listing, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if image_kind(&path).is_some() && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| {
        natural_cmp(
            &a.file_name().unwrap().to_string_lossy(),
            &b.file_name().unwrap().to_string_lossy(),
        )
    });
    Ok(Listing {
        fps: None,
        files,
        clips: Vec::new(),
    })
}

fn scan_clip_set(dir: &Path) -> Result<Listing, String> {
    let set = ClipSet::open(dir).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let mut clips = Vec::new();
    for clip in set.clips() {
        clips.push(ReplayClip {
            dir: clip.clip_dir.clone(),
            class_id: clip.class_id,
            label: set.labels()[clip.class_id].clone(),
            first_frame: files.len() as u64,
            frames: u64::from(clip.num_frames),
        });
        files.extend((1..=clip.num_frames).map(|k| set.frame_path(clip, k)));
    }
    Ok(Listing {
        fps: Some(set.meta().fps as f32),
        files,
        clips,
    })
}

/// Orders names as people do: digit runs by value, so `f2` sorts before `f10`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let by_value = na
                    .len()
                    .cmp(&nb.len())
                    .then_with(|| na.cmp(nb))
                    .then_with(|| da.cmp(&db));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut names = vec!["f10.jpg", "f2.jpg", "f1.jpg", "g0.jpg", "f02.jpg", "f.jpg"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["f.jpg", "f1.jpg", "f2.jpg", "f02.jpg", "f10.jpg", "g0.jpg"]
        );
    }
}
