//! Recordings: a camera's frames as captured, with their capture times, in a
//! folder that an interrupted recording leaves readable.
//!
//! - `recording.toml`: what was recorded ([`Meta`]).
//! - `frames.mjpeg`: the frames' JPEG images one after another (what an
//!   MJPEG camera sent, byte for byte; other formats encoded here at
//!   `jpeg_quality`). Players read it as a raw MJPEG stream.
//! - `frames.csv`: `frame,offset,bytes,t_us`, one line per frame, appended
//!   once its image is written: where the image lies in `frames.mjpeg` and
//!   its capture time in microseconds from the first frame's.
//! - `truth.csv`: the ground truth of a synthetic source, and `labels.csv`:
//!   an operator's labels, and `proposals.csv`: labels a model proposed,
//!   all in the [`labels`](crate::labels) format.
//!
//! A recording killed or cut off by a power loss keeps every frame up to the
//! last one whose index line and image are both complete: [`Recording::open`]
//! drops a partial last line and trailing images that are missing or not
//! whole JPEG images (both files are synced every second while recording).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use artrt_infer::color::{nv12_to_rgb, yuyv_to_rgb};
use artrt_infer::{FrameRef, PixelFormat};
use image::ImageEncoder;
use image::codecs::jpeg::JpegEncoder;
use serde::{Deserialize, Serialize};

/// The recording's description.
pub const META: &str = "recording.toml";
/// The frames' images.
pub const FRAMES: &str = "frames.mjpeg";
/// Where each frame lies, and when it was captured.
pub const INDEX: &str = "frames.csv";
/// The ground truth of a synthetic source.
pub const TRUTH: &str = "truth.csv";
/// The operator's labels.
pub const LABELS: &str = "labels.csv";
/// Labels proposed by a model (`artrt record --propose`).
pub const PROPOSALS: &str = "proposals.csv";

const INDEX_HEADER: &str = "frame,offset,bytes,t_us";
/// Largest frame image accepted.
pub const MAX_FRAME_BYTES: usize = 32 << 20;
const MAX_META_BYTES: u64 = 64 << 10;
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// How the frames' images were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// As the camera sent them (MJPEG).
    Camera,
    /// Encoded to JPEG by the recorder.
    Jpeg,
}

/// `recording.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The source spec recorded.
    pub source: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The source's nominal frame rate (capture times are in `frames.csv`).
    pub fps: f32,
    /// How the images were made.
    pub encoding: Encoding,
    /// JPEG quality of images encoded by the recorder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpeg_quality: Option<u8>,
    /// Wall-clock time of the first frame, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// The recording machine's name.
    pub device: String,
    /// The board profile in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<String>,
    /// The recorder's version.
    pub artrt: String,
    /// Frames written, once the recording is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    /// Why the recording ended, once it is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Why a recording cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// A file of the recording cannot be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The disk is full: the recording stops with what it holds.
    #[error("{path}: the disk is full")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// A file of the recording is malformed.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its line, from 1 (0: the file as a whole).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A frame cannot be recorded.
    #[error("frame {frame}: {reason}")]
    Frame {
        /// Its number, from 0.
        frame: u64,
        /// What is wrong with it.
        reason: String,
    },
}

fn io_error(path: &Path, e: &io::Error) -> RecordingError {
    if e.kind() == io::ErrorKind::StorageFull {
        RecordingError::DiskFull {
            path: path.to_owned(),
        }
    } else {
        RecordingError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// What a recording is made of, besides its frames.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// The source spec.
    pub source: String,
    /// The source's nominal frame rate.
    pub fps: f32,
    /// Quality of images the recorder encodes (1–100).
    pub jpeg_quality: u8,
    /// Most bytes the recording may take on disk (frames and index).
    pub max_bytes: u64,
    /// The board profile in use.
    pub board: Option<String>,
    /// The machine's name.
    pub device: String,
}

/// What [`Writer::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The frame is recorded.
    Written,
    /// The frame would pass `max_bytes`: it is not recorded, and the
    /// recording is full.
    Full,
}

/// Records frames into a new recording folder.
pub struct Writer {
    dir: PathBuf,
    options: WriterOptions,
    data: File,
    index: File,
    bytes: u64,
    image_bytes: u64,
    frames: u64,
    first: Option<Duration>,
    meta: Option<Meta>,
    rgb: Vec<u8>,
    jpeg: Vec<u8>,
    line: String,
    last_sync: Instant,
}

impl Writer {
    /// Starts a recording in `dir`, which must not hold one already.
    pub fn create(dir: &Path, options: WriterOptions) -> Result<Self, RecordingError> {
        if !(1..=100).contains(&options.jpeg_quality) {
            return Err(RecordingError::Io {
                path: dir.to_owned(),
                reason: format!("JPEG quality {} is not within 1–100", options.jpeg_quality),
            });
        }
        fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        for name in [META, FRAMES, INDEX] {
            if dir.join(name).exists() {
                return Err(RecordingError::Io {
                    path: dir.join(name),
                    reason: "a recording is already there; choose another folder".into(),
                });
            }
        }
        let open = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| io_error(&path, &e))
        };
        let data = open(FRAMES)?;
        let mut index = open(INDEX)?;
        let header = format!("{INDEX_HEADER}\n");
        index
            .write_all(header.as_bytes())
            .map_err(|e| io_error(&dir.join(INDEX), &e))?;
        Ok(Self {
            dir: dir.to_owned(),
            options,
            data,
            index,
            bytes: header.len() as u64,
            image_bytes: 0,
            frames: 0,
            first: None,
            meta: None,
            rgb: Vec::new(),
            jpeg: Vec::new(),
            line: String::new(),
            last_sync: Instant::now(),
        })
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes the recording takes so far (images and index).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records one frame, unless it would pass `max_bytes`.
    pub fn push(&mut self, frame: &FrameRef<'_>) -> Result<Pushed, RecordingError> {
        let number = self.frames;
        let bad = |reason: String| RecordingError::Frame {
            frame: number,
            reason,
        };
        let (image, width, height, encoding) = match frame.format {
            PixelFormat::Mjpeg => {
                let (w, h) = jpeg_size(frame.data).map_err(bad)?;
                (frame.data, w, h, Encoding::Camera)
            }
            format => {
                let (w, h) = (frame.width as usize, frame.height as usize);
                let rgb = match format {
                    PixelFormat::Rgb24 => {
                        check_len(frame.data, w * h * 3).map_err(bad)?;
                        frame.data
                    }
                    PixelFormat::Yuyv => {
                        check_len(frame.data, w * h * 2).map_err(bad)?;
                        self.rgb.resize(w * h * 3, 0);
                        yuyv_to_rgb(frame.data, w, h, &mut self.rgb);
                        &self.rgb
                    }
                    PixelFormat::Nv12 => {
                        check_len(frame.data, w * h * 3 / 2).map_err(bad)?;
                        self.rgb.resize(w * h * 3, 0);
                        nv12_to_rgb(frame.data, w, h, &mut self.rgb);
                        &self.rgb
                    }
                    PixelFormat::Mjpeg => unreachable!("handled above"),
                };
                self.jpeg.clear();
                JpegEncoder::new_with_quality(&mut self.jpeg, self.options.jpeg_quality)
                    .write_image(
                        rgb,
                        frame.width,
                        frame.height,
                        image::ExtendedColorType::Rgb8,
                    )
                    .map_err(|e| bad(format!("cannot encode it as JPEG: {e}")))?;
                (&self.jpeg[..], frame.width, frame.height, Encoding::Jpeg)
            }
        };
        if image.len() > MAX_FRAME_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_FRAME_BYTES} a frame may take",
                image.len()
            )));
        }
        if let Some(meta) = &self.meta
            && (meta.width, meta.height, meta.encoding) != (width, height, encoding)
        {
            return Err(bad(format!(
                "{width}x{height} {encoding:?}, but the recording is {}x{} {:?}",
                meta.width, meta.height, meta.encoding
            )));
        }
        let first = *self.first.get_or_insert(frame.timestamp);
        let t_us = frame.timestamp.saturating_sub(first).as_micros();
        let offset = self.image_bytes;
        self.line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(self.line, "{number},{offset},{},{t_us}", image.len());
        if self.bytes + (image.len() + self.line.len()) as u64 > self.options.max_bytes {
            return Ok(Pushed::Full);
        }
        if self.meta.is_none() {
            let started_unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let meta = Meta {
                source: self.options.source.clone(),
                width,
                height,
                fps: self.options.fps,
                encoding,
                jpeg_quality: (encoding == Encoding::Jpeg).then_some(self.options.jpeg_quality),
                started_unix_ms,
                device: self.options.device.clone(),
                board: self.options.board.clone(),
                artrt: env!("CARGO_PKG_VERSION").into(),
                frames: None,
                stopped: None,
            };
            write_meta(&self.dir, &meta)?;
            self.meta = Some(meta);
        }
        let data_path = || self.dir.join(FRAMES);
        if let Err(e) = self.data.write_all(image) {
            // Whatever part of the image was written is not indexed; take it
            // back so that the next recording step starts clean.
            let _ = self.data.set_len(offset);
            let _ = self.data.seek(SeekFrom::Start(offset));
            return Err(io_error(&data_path(), &e));
        }
        self.index
            .write_all(self.line.as_bytes())
            .map_err(|e| io_error(&self.dir.join(INDEX), &e))?;
        self.bytes += (image.len() + self.line.len()) as u64;
        self.image_bytes += image.len() as u64;
        self.frames += 1;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(Pushed::Written)
    }

    /// Makes what was written durable (done every second while recording).
    pub fn sync(&mut self) -> Result<(), RecordingError> {
        self.data
            .sync_data()
            .map_err(|e| io_error(&self.dir.join(FRAMES), &e))?;
        self.index
            .sync_data()
            .map_err(|e| io_error(&self.dir.join(INDEX), &e))?;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Ends the recording, saying why in `recording.toml`; returns its
    /// description (`None` when no frame was recorded).
    pub fn finish(mut self, stopped: &str) -> Result<Option<Meta>, RecordingError> {
        self.sync()?;
        let Some(mut meta) = self.meta.take() else {
            return Ok(None);
        };
        meta.frames = Some(self.frames);
        meta.stopped = Some(stopped.into());
        write_meta(&self.dir, &meta)?;
        Ok(Some(meta))
    }
}

fn check_len(data: &[u8], expected: usize) -> Result<(), String> {
    if data.len() < expected || expected == 0 {
        return Err(format!(
            "{} bytes where the frame's size needs {expected}",
            data.len()
        ));
    }
    Ok(())
}

/// The size in a JPEG image's header, if the bytes are a whole JPEG image.
fn jpeg_size(data: &[u8]) -> Result<(u32, u32), String> {
    if !is_whole_jpeg(data) {
        return Err("not a whole JPEG image (no start or end marker)".into());
    }
    let mut decoder = zune_jpeg::JpegDecoder::new(data);
    decoder
        .decode_headers()
        .map_err(|e| format!("bad JPEG header: {e}"))?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| "a JPEG header without a size".to_string())?;
    Ok((w as u32, h as u32))
}

fn is_whole_jpeg(data: &[u8]) -> bool {
    data.len() >= 4 && data.starts_with(&[0xFF, 0xD8]) && data.ends_with(&[0xFF, 0xD9])
}

fn write_meta(dir: &Path, meta: &Meta) -> Result<(), RecordingError> {
    let path = dir.join(META);
    let text = toml::to_string(meta).map_err(|e| RecordingError::Io {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    crate::labels::replace(&path, text.as_bytes(), false).map_err(|e| io_error(&path, &e))
}

/// Where one frame lies and when it was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Offset of its image in `frames.mjpeg`.
    pub offset: u64,
    /// Length of its image.
    pub bytes: u32,
    /// Capture time from the first frame's.
    pub t: Duration,
}

/// A recording, opened for reading.
pub struct Recording {
    dir: PathBuf,
    /// Its description.
    pub meta: Meta,
    /// Its frames.
    pub frames: Vec<Entry>,
    /// Why frames at the end were dropped (an interrupted recording).
    pub cut_short: Option<String>,
    data: File,
}

impl Recording {
    /// Opens the recording in `dir`: its description and index, up to its
    /// last complete frame.
    pub fn open(dir: &Path) -> Result<Self, RecordingError> {
        let meta_path = dir.join(META);
        let text = artrt_files::read_named_text(&meta_path, MAX_META_BYTES).map_err(|e| {
            RecordingError::Io {
                path: meta_path.clone(),
                reason: e.reason(),
            }
        })?;
        let meta: Meta = toml::from_str(&text).map_err(|e| RecordingError::Malformed {
            path: meta_path.clone(),
            line: e
                .span()
                .map_or(0, |s| text[..s.start].lines().count().max(1) as u64),
            reason: e.message().to_owned(),
        })?;
        if meta.width == 0 || meta.height == 0 || !(meta.fps > 0.0 && meta.fps <= 1000.0) {
            return Err(RecordingError::Malformed {
                path: meta_path,
                line: 0,
                reason: format!(
                    "size {}x{} at {} fps is not a camera's",
                    meta.width, meta.height, meta.fps
                ),
            });
        }
        let data_path = dir.join(FRAMES);
        let data = File::open(&data_path).map_err(|e| io_error(&data_path, &e))?;
        let data_len = data.metadata().map_err(|e| io_error(&data_path, &e))?.len();
        let index_path = dir.join(INDEX);
        let index = fs::read(&index_path).map_err(|e| io_error(&index_path, &e))?;
        let (mut frames, mut cut_short) = parse_index(&index, &index_path)?;
        if let Some(n) = frames
            .iter()
            .position(|f| f.offset + u64::from(f.bytes) > data_len)
        {
            cut_short = Some(format!(
                "{} frames listed in {INDEX} are missing from {FRAMES}",
                frames.len() - n
            ));
            frames.truncate(n);
        }
        let mut recording = Self {
            dir: dir.to_owned(),
            meta,
            frames,
            cut_short,
            data,
        };
        // After a power loss, the last images listed may not have reached
        // the disk: drop those that are not whole JPEG images.
        let mut image = Vec::new();
        let listed = recording.frames.len();
        while let Some(last) = recording.frames.len().checked_sub(1) {
            if recording.read_frame(last, &mut image).is_ok() {
                break;
            }
            recording.frames.pop();
        }
        if recording.frames.len() < listed {
            recording.cut_short = Some(format!(
                "the last {} images in {FRAMES} are not whole",
                listed - recording.frames.len()
            ));
        }
        Ok(recording)
    }

    /// The recording's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The labels its elements are taken from: the operator's `labels.csv`,
    /// else a synthetic recording's `truth.csv`.
    pub fn labels_file(&self) -> Result<PathBuf, RecordingError> {
        [LABELS, TRUTH]
            .iter()
            .map(|name| self.dir.join(name))
            .find(|path| path.exists())
            .ok_or_else(|| RecordingError::Io {
                path: self.dir.join(LABELS),
                reason: format!("missing, and so is {TRUTH}: label the recording first"),
            })
    }

    /// Time from the first frame to the end of the last one, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        let period = Duration::from_secs_f64(1.0 / f64::from(self.meta.fps));
        self.frames.last().map_or(0, |f| {
            ((f.t + period).as_secs_f64() * 1000.0).round() as u64
        })
    }

    /// Reads frame `n`'s image into `image`, checking it is a whole JPEG image.
    pub fn read_frame(&mut self, n: usize, image: &mut Vec<u8>) -> Result<(), RecordingError> {
        let path = self.dir.join(FRAMES);
        let entry = *self.frames.get(n).ok_or_else(|| RecordingError::Frame {
            frame: n as u64,
            reason: format!("the recording has {} frames", self.frames.len()),
        })?;
        image.resize(entry.bytes as usize, 0);
        self.data
            .seek(SeekFrom::Start(entry.offset))
            .and_then(|_| self.data.read_exact(image))
            .map_err(|e| io_error(&path, &e))?;
        if !is_whole_jpeg(image) {
            return Err(RecordingError::Frame {
                frame: n as u64,
                reason: format!("{}: not a whole JPEG image", path.display()),
            });
        }
        Ok(())
    }
}

/// The index's entries, and why the last line was dropped if it was.
fn parse_index(bytes: &[u8], path: &Path) -> Result<(Vec<Entry>, Option<String>), RecordingError> {
    let malformed = |line: usize, reason: String| RecordingError::Malformed {
        path: path.to_owned(),
        line: line as u64 + 1,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        malformed(line, "not text".into())
    })?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let cut_short = (complete < text.len()).then(|| format!("the last line of {INDEX} is partial"));
    let mut lines = text[..complete].lines();
    if lines.next() != Some(INDEX_HEADER) {
        return Err(malformed(0, format!("the header must be `{INDEX_HEADER}`")));
    }
    let mut frames: Vec<Entry> = Vec::new();
    let mut next_offset = 0u64;
    for (i, line) in lines.enumerate() {
        let n = i + 1;
        let fields: Vec<&str> = line.split(',').collect();
        let numbers: Option<Vec<u64>> = (fields.len() == 4)
            .then(|| fields.iter().map(|f| f.parse().ok()).collect())
            .flatten();
        let Some([frame, offset, len, t_us]) = numbers.as_deref().map(|v| [v[0], v[1], v[2], v[3]])
        else {
            return Err(malformed(
                n,
                format!("expected `{INDEX_HEADER}` as four whole numbers"),
            ));
        };
        if frame != i as u64 {
            return Err(malformed(
                n,
                format!("frame {frame} where frame {i} was due"),
            ));
        }
        if offset != next_offset {
            return Err(malformed(
                n,
                format!("offset {offset} where the previous image ends at {next_offset}"),
            ));
        }
        if len == 0 || len > MAX_FRAME_BYTES as u64 {
            return Err(malformed(n, format!("an image of {len} bytes")));
        }
        let t = Duration::from_micros(t_us);
        if frames.last().is_some_and(|p| t < p.t) {
            return Err(malformed(
                n,
                "a capture time before the previous frame's".into(),
            ));
        }
        frames.push(Entry {
            offset,
            bytes: len as u32,
            t,
        });
        next_offset = offset + len;
    }
    Ok((frames, cut_short))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(max_bytes: u64) -> WriterOptions {
        WriterOptions {
            source: "test".into(),
            fps: 30.0,
            jpeg_quality: 90,
            max_bytes,
            board: None,
            device: "bench".into(),
        }
    }

    fn rgb_frame(n: u8) -> Vec<u8> {
        (0..32 * 24 * 3)
            .map(|i| (i as u8).wrapping_mul(n))
            .collect()
    }

    fn record(dir: &Path, frames: u8, max_bytes: u64) -> (u64, Pushed) {
        let mut writer = Writer::create(dir, options(max_bytes)).unwrap();
        let mut last = Pushed::Written;
        for n in 0..frames {
            let data = rgb_frame(n);
            let frame = FrameRef {
                format: PixelFormat::Rgb24,
                width: 32,
                height: 24,
                data: &data,
                timestamp: Duration::from_millis(5000 + 33 * u64::from(n)),
            };
            last = writer.push(&frame).unwrap();
            if last == Pushed::Full {
                break;
            }
        }
        let frames = writer.frames();
        writer.finish("test").unwrap();
        (frames, last)
    }

    #[test]
    fn frames_come_back_with_their_capture_times() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), 10, u64::MAX);
        let mut rec = Recording::open(dir.path()).unwrap();
        assert_eq!(rec.frames.len(), 10);
        assert_eq!((rec.meta.width, rec.meta.height), (32, 24));
        assert_eq!(rec.meta.encoding, Encoding::Jpeg);
        assert_eq!(rec.meta.frames, Some(10));
        assert_eq!(rec.frames[3].t, Duration::from_millis(99));
        assert!(rec.cut_short.is_none());
        let mut image = Vec::new();
        rec.read_frame(9, &mut image).unwrap();
        let decoded = image::load_from_memory(&image).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (32, 24));
        // An MJPEG camera's image is kept byte for byte.
        let again = tempfile::tempdir().unwrap();
        let mut writer = Writer::create(again.path(), options(u64::MAX)).unwrap();
        writer.push(&FrameRef::jpeg(&image)).unwrap();
        writer.finish("test").unwrap();
        let mut copy = Recording::open(again.path()).unwrap();
        let mut read = Vec::new();
        copy.read_frame(0, &mut read).unwrap();
        assert_eq!(read, image);
        assert_eq!(copy.meta.encoding, Encoding::Camera);
        assert!(Writer::create(again.path(), options(u64::MAX)).is_err());
    }

    #[test]
    fn the_byte_limit_stops_the_recording_within_it() {
        let dir = tempfile::tempdir().unwrap();
        let (frames, last) = record(dir.path(), 200, 8000);
        assert_eq!(last, Pushed::Full);
        assert!(frames > 0 && frames < 200);
        let size = fs::metadata(dir.path().join(FRAMES)).unwrap().len()
            + fs::metadata(dir.path().join(INDEX)).unwrap().len();
        assert!(size <= 8000, "{size}");
        assert_eq!(
            Recording::open(dir.path()).unwrap().frames.len() as u64,
            frames
        );
    }

    #[test]
    fn an_interrupted_recording_reads_up_to_its_last_whole_frame() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), 10, u64::MAX);
        let index = dir.path().join(INDEX);
        let data = dir.path().join(FRAMES);
        // A partial index line.
        let mut text = fs::read_to_string(&index).unwrap();
        text.truncate(text.len() - 3);
        fs::write(&index, &text).unwrap();
        let rec = Recording::open(dir.path()).unwrap();
        assert_eq!(rec.frames.len(), 9);
        assert!(rec.cut_short.as_deref().unwrap().contains("partial"));
        // Images cut off, and an image that never reached the disk.
        let last = rec.frames[8];
        let file = OpenOptions::new().write(true).open(&data).unwrap();
        file.set_len(last.offset + u64::from(last.bytes) - 10)
            .unwrap();
        assert_eq!(Recording::open(dir.path()).unwrap().frames.len(), 8);
        let mut bytes = fs::read(&data).unwrap();
        let at = Recording::open(dir.path()).unwrap().frames[7].offset as usize;
        bytes[at..].fill(0);
        fs::write(&data, &bytes).unwrap();
        let rec = Recording::open(dir.path()).unwrap();
        assert_eq!(rec.frames.len(), 7);
        assert!(rec.cut_short.unwrap().contains("not whole"));
    }

    #[test]
    fn a_damaged_index_is_placed_by_line() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), 4, u64::MAX);
        let index = dir.path().join(INDEX);
        let good = fs::read_to_string(&index).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let cases = [
            (lines[2].replace(',', ";"), "four whole numbers"),
            (lines[2].replacen("1,", "7,", 1), "where frame 1 was due"),
            (format!("1,{},{}", 999, "10,1"), "offset 999"),
        ];
        for (bad, reason) in cases {
            let text = format!("{}\n{}\n{bad}\n{}\n", lines[0], lines[1], lines[3]);
            fs::write(&index, text).unwrap();
            let err = Recording::open(dir.path()).err().unwrap().to_string();
            assert!(
                err.contains("frames.csv:3:") && err.contains(reason),
                "{err}"
            );
        }
    }
}
