//! Naming a frame source in a string, and opening it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;
use url::Url;

use super::frames::{FramesOptions, FramesSource};
use super::{FrameSource, Pacing, SourceError};

/// A frame source named by a string: `v4l2:/dev/videoN`, `rtsp://HOST[:PORT]/PATH`,
/// `synthetic`, `synthetic:SEED`, `frames:DIR` or `recording:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A V4L2 capture device, by path (`/dev/video0`, `/dev/v4l/by-id/...`).
    V4l2(PathBuf),
    /// The synthetic gym stream; `None` takes the generator's default seed.
    Synthetic {
        /// Seed of the generator.
        seed: Option<u64>,
        /// With elements that are none of the classes (`synthetic:SEED+new`).
        new_elements: bool,
    },
    /// A clip set or a folder of frames, replayed as a camera.
    Frames(PathBuf),
    /// A recording made by `artrt record`, replayed at its capture times.
    Recording(PathBuf),
    /// An IP camera's RTSP stream (`rtsp://` or `rtsps://`, credentials allowed).
    Rtsp(Url),
}

/// Why a source spec could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Nothing was given.
    #[error(
        "empty frame source spec; expected v4l2:/dev/videoN, rtsp://HOST/PATH, synthetic[:SEED[+new]], frames:DIR or recording:DIR"
    )]
    Empty,
    /// The part before `:` names no kind of source.
    #[error(
        "unknown frame source kind `{kind}` in `{spec}`; expected v4l2:/dev/videoN, rtsp://HOST/PATH, synthetic[:SEED[+new]], frames:DIR or recording:DIR"
    )]
    UnknownKind {
        /// The kind as written.
        kind: String,
        /// The whole spec.
        spec: String,
    },
    /// `v4l2:` or `frames:` without a path.
    #[error("frame source `{spec}` needs a path after `{kind}:` (e.g. {example})")]
    MissingPath {
        /// `v4l2` or `frames`.
        kind: &'static str,
        /// The whole spec.
        spec: String,
        /// What a correct spec looks like.
        example: &'static str,
    },
    /// An `rtsp://` URL that does not parse or names no host.
    #[error("bad RTSP URL `{spec}`: {reason} (e.g. rtsp://192.168.1.64:554/stream1)")]
    BadUrl {
        /// The URL as written, its password hidden.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The seed of `synthetic:SEED` is not an unsigned integer.
    #[error(
        "bad seed `{seed}` in `{spec}`: expected an unsigned integer (0..=18446744073709551615)"
    )]
    BadSeed {
        /// The seed as written.
        seed: String,
        /// The whole spec.
        spec: String,
    },
}

impl FromStr for SourceSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let spec = s.trim();
        if spec.is_empty() {
            return Err(SpecError::Empty);
        }
        let (kind, rest) = match spec.split_once(':') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (spec, None),
        };
        let path = |kind: &'static str, example: &'static str| match rest {
            Some(p) if !p.trim().is_empty() => Ok(PathBuf::from(p.trim())),
            _ => Err(SpecError::MissingPath {
                kind,
                spec: spec.to_owned(),
                example,
            }),
        };
        match kind {
            "rtsp" | "rtsps" => rtsp_url(spec).map(Self::Rtsp),
            "v4l2" => Ok(Self::V4l2(path("v4l2", "v4l2:/dev/video0")?)),
            "frames" => Ok(Self::Frames(path("frames", "frames:/data/clips")?)),
            "recording" => Ok(Self::Recording(path("recording", "recording:/data/rec")?)),
            "synthetic" => {
                let rest = rest.map_or("", str::trim);
                let (seed, new_elements) = match rest.strip_suffix("+new") {
                    Some(seed) => (seed.trim(), true),
                    None => (rest, false),
                };
                let seed = match seed {
                    "" => None,
                    seed => Some(seed.parse().map_err(|_| SpecError::BadSeed {
                        seed: seed.to_owned(),
                        spec: spec.to_owned(),
                    })?),
                };
                Ok(Self::Synthetic { seed, new_elements })
            }
            _ => Err(SpecError::UnknownKind {
                kind: kind.to_owned(),
                spec: spec.to_owned(),
            }),
        }
    }
}

/// Parses and checks an RTSP URL.
fn rtsp_url(spec: &str) -> Result<Url, SpecError> {
    let bad = |reason: &str| SpecError::BadUrl {
        spec: hide_password(spec),
        reason: reason.into(),
    };
    let url = Url::parse(spec).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.port() == Some(0) {
        return Err(bad("port 0"));
    }
    Ok(url)
}

/// `spec` with the password of a `scheme://user:password@host` URL hidden,
/// for errors about a URL that may not parse.
fn hide_password(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => spec.to_owned(),
    }
}

/// The URL with its password, if any, shown as `***`: how logs and errors
/// name an RTSP camera.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4l2(path) => write!(f, "v4l2:{}", path.display()),
            Self::Synthetic { seed, new_elements } => {
                f.write_str("synthetic")?;
                match (seed, new_elements) {
                    (None, false) => Ok(()),
                    (Some(seed), false) => write!(f, ":{seed}"),
                    (None, true) => f.write_str(":+new"),
                    (Some(seed), true) => write!(f, ":{seed}+new"),
                }
            }
            Self::Frames(path) => write!(f, "frames:{}", path.display()),
            Self::Recording(path) => write!(f, "recording:{}", path.display()),
            Self::Rtsp(url) => f.write_str(&redacted(url)),
        }
    }
}

impl<'de> Deserialize<'de> for SourceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Pixel format asked of a V4L2 camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraFormat {
    /// YUYV 4:2:2, uncompressed.
    Yuyv,
    /// Motion JPEG.
    Mjpeg,
}

impl fmt::Display for CameraFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yuyv => "yuyv",
            Self::Mjpeg => "mjpeg",
        })
    }
}

/// What a replayed source does with JPEG files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JpegMode {
    /// Lends the file's bytes as an `Mjpeg` frame, as an MJPEG camera would.
    #[default]
    Lend,
    /// Decodes to `Rgb24` in the source.
    Decode,
}

/// How to open a source: what to ask of a camera and how to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// Pixel format asked of a V4L2 camera.
    pub format: CameraFormat,
    /// Frame width asked of a V4L2 camera (the synthetic stream keeps the
    /// generator's size, that of the synthetic clip sets).
    pub width: u32,
    /// Frame height asked of a V4L2 camera.
    pub height: u32,
    /// Frame rate asked of a V4L2 camera; the rate of the synthetic stream
    /// (rounded) and of a frame folder without `set.toml`.
    pub fps: f32,
    /// Real time or as fast as possible (synthetic and replayed sources).
    pub pacing: Pacing,
    /// Starts a replay over when it ends instead of ending.
    pub looping: bool,
    /// What a replay does with JPEG files.
    pub jpeg: JpegMode,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            format: CameraFormat::Mjpeg,
            width: 640,
            height: 480,
            fps: 30.0,
            pacing: Pacing::RealTime,
            looping: false,
            jpeg: JpegMode::Lend,
        }
    }
}

/// Opens the source a spec names.
///
/// A V4L2 camera that is absent opens closed: its first frame is
/// [`SourceError::Lost`] and [`FrameSource::reopen`] brings it up once it is
/// plugged in. A V4L2 spec in a build without the `v4l2` feature gives
/// [`SourceError::Unusable`], and so does a synthetic spec without the
/// `synthetic` feature.
pub fn open(
    spec: &SourceSpec,
    options: &SourceOptions,
) -> Result<Box<dyn FrameSource>, SourceError> {
    match spec {
        #[cfg(feature = "v4l2")]
        SourceSpec::V4l2(path) => {
            let request = super::v4l2::CameraRequest {
                format: options.format,
                width: options.width,
                height: options.height,
                fps: options.fps,
            };
            Ok(Box::new(super::v4l2::V4l2Source::open_or_wait(
                path, request,
            )?))
        }
        #[cfg(not(feature = "v4l2"))]
        SourceSpec::V4l2(_) => Err(SourceError::Unusable {
            source_name: spec.to_string(),
            reason: "this build has no V4L2 support (build with the `v4l2` feature)".into(),
        }),
        #[cfg(feature = "rtsp")]
        SourceSpec::Rtsp(url) => Ok(Box::new(super::rtsp::RtspSource::new(
            url.clone(),
            options.fps,
        )?)),
        #[cfg(not(feature = "rtsp"))]
        SourceSpec::Rtsp(_) => Err(SourceError::Unusable {
            source_name: spec.to_string(),
            reason: "this build has no RTSP support (build with the `rtsp` feature)".into(),
        }),
        #[cfg(feature = "synthetic")]
        SourceSpec::Synthetic { seed, new_elements } => {
            let fps = options.fps.round().max(1.0) as u32;
            Ok(Box::new(super::synthetic::SyntheticSource::with_seed(
                *seed,
                *new_elements,
                fps,
                options.pacing,
            )))
        }
        #[cfg(not(feature = "synthetic"))]
        SourceSpec::Synthetic { .. } => Err(SourceError::Unusable {
            source_name: spec.to_string(),
            reason: "this build has no synthetic gym (build with the `synthetic` feature)".into(),
        }),
        SourceSpec::Frames(dir) => {
            let frames = FramesOptions {
                fps: options.fps,
                pacing: options.pacing,
                looping: options.looping,
                jpeg: options.jpeg,
            };
            Ok(Box::new(FramesSource::open(dir, frames)?))
        }
        SourceSpec::Recording(dir) => Ok(Box::new(super::recorded::RecordedSource::open(
            dir,
            options.pacing,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_display() {
        for text in [
            "v4l2:/dev/video0",
            "synthetic",
            "synthetic:42",
            "frames:/data/set one",
            "recording:/data/rec",
            "rtsp://192.168.1.64:554/Streaming/Channels/101",
            "rtsps://cam.local/stream1",
        ] {
            let spec: SourceSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn rtsp_urls_are_checked_and_their_passwords_never_shown() {
        let spec: SourceSpec = "rtsp://admin:s3cret@10.0.0.9/live".parse().unwrap();
        let SourceSpec::Rtsp(url) = &spec else {
            panic!("{spec:?}");
        };
        assert_eq!(url.password(), Some("s3cret"), "kept for connecting");
        assert_eq!(spec.to_string(), "rtsp://admin:***@10.0.0.9/live");
        for (text, reason) in [
            ("rtsp://", "no host"),
            ("rtsp:///stream", "no host"),
            ("rtsp://cam:0/x", "port 0"),
            ("rtsp://cam:99999/x", "invalid port number"),
        ] {
            let e = text.parse::<SourceSpec>().unwrap_err().to_string();
            assert!(e.contains(reason), "{text}: {e}");
            assert!(e.starts_with("bad RTSP URL"), "{text}: {e}");
        }
        let e = "rtsp://admin:s3cret@cam:99999/x"
            .parse::<SourceSpec>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("rtsp://admin:***@cam:99999/x"), "{e}");
    }
}
