//! `artrt record`: a camera's frames, as captured and with their capture
//! times, into a recording folder (`artrt_live::recording`), for labelling,
//! cutting clip sets and scoring the live path offline.
//!
//! The camera's settings come from the board profile; `--source` overrides
//! its source. The recording stops at `--duration` (of recorded time), at
//! `--max-bytes`, when the disk is full, when a replayed source ends, or on
//! SIGINT, SIGTERM or SIGHUP, and always leaves a readable recording. A
//! camera that goes away is reopened with backoff. With `--propose`, the
//! finished recording runs through the live path, and the actions it sends
//! become proposed labels in `proposals.csv`. Recording
//! `synthetic:SEED` also writes the stream's ground truth as `truth.csv`:
//! every element the recording shows, one cut off by the end included.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use artrt_live::board::Profile;
use artrt_live::labels::{self, Label};
use artrt_live::message::device_name;
use artrt_live::recording::{self, Pushed, Recording, RecordingError, Writer, WriterOptions};
use artrt_live::scoreboard::serial::Backoff;
use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health};
use artrt_live::source::{self, FrameSource, Pacing, SourceError, SourceOptions, SourceSpec};
use artrt_live::supervisor::{self, ServeOptions, Served};

use super::common::{duration, stop_on_signals};

/// Arguments of `artrt record`.
#[derive(clap::Args)]
pub struct Args {
    /// Board profile for the camera's settings: a built-in name or a TOML file.
    /// Default: the profile that fits this machine.
    #[arg(long)]
    board: Option<String>,
    /// Frame source: v4l2:/dev/videoN, synthetic[:SEED[+new]], frames:DIR or recording:DIR
    /// (default: the profile's camera).
    #[arg(long)]
    source: Option<SourceSpec>,
    /// The recording's folder: created, and refused if it holds a recording.
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many seconds of recorded time.
    #[arg(long, value_parser = duration)]
    duration: Option<Duration>,
    /// Most bytes the recording may take on disk: a number, or with K, M or G
    /// (powers of 1000), from 1M.
    #[arg(long, default_value = "4G", value_parser = byte_count)]
    max_bytes: u64,
    /// JPEG quality (1–100) for cameras that do not send JPEG images.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Replay a synthetic or recorded source as fast as it can be written.
    #[arg(long)]
    fast: bool,
    /// Once recorded, run the recording through the live path with the
    /// profile's model and write the events it sends as proposed labels
    /// (`proposals.csv`).
    #[arg(long)]
    propose: bool,
    /// Model bundle for `--propose` (overrides the profile).
    #[arg(long, requires = "propose")]
    bundle: Option<PathBuf>,
}

/// Reads `500M`, `4G`, `2000000`: from 1 MB to 1 PB.
fn byte_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, scale) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1_000),
        Some((i, 'M' | 'm')) => (&t[..i], 1_000_000),
        Some((i, 'G' | 'g')) => (&t[..i], 1_000_000_000),
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count (like 500M or 4G)"))?;
    match n.checked_mul(scale) {
        Some(b) if (1_000_000..=1_000_000_000_000_000).contains(&b) => Ok(b),
        _ => Err(format!("{text} is out of range: from 1M to 1000000G")),
    }
}

/// Runs `artrt record`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut profile = match &args.board {
        Some(name) => {
            Profile::load(name).with_context(|| format!("cannot use board profile {name}"))?
        }
        None => Profile::detect().context("cannot pick a board profile for this machine")?,
    };
    let spec = args.source.clone().unwrap_or(profile.camera.source.clone());
    let options = profile.camera.source_options(if args.fast {
        Pacing::Fast
    } else {
        Pacing::RealTime
    });
    let stop = stop_on_signals()?;
    let (mut source, truth) = open(&spec, &options)?;
    log::info!(
        "recording {} into {}",
        source.describe(),
        args.out.display()
    );
    let mut writer = Writer::create(
        &args.out,
        WriterOptions {
            source: spec.to_string(),
            fps: source.fps(),
            jpeg_quality: args.quality,
            max_bytes: args.max_bytes,
            board: Some(profile.name.clone()),
            device: device_name(),
        },
    )?;

    let mut first = None;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let stopped = loop {
        if stop.load(Ordering::SeqCst) {
            break "stopped by a signal";
        }
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(SourceError::Ended(_)) => break "the source ended",
            Err(SourceError::BadFrame { reason, .. }) => {
                log::warn!("frame {} skipped: {reason}", writer.frames());
                continue;
            }
            Err(e @ SourceError::Lost { .. }) => {
                log::warn!("{e}; reopening");
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(backoff.failed(Instant::now()));
                    match source.reopen() {
                        Ok(()) => break,
                        Err(e) => log::warn!("{e}"),
                    }
                }
                backoff.reset();
                continue;
            }
            Err(e) => return Err(e).context("the frame source cannot be recorded"),
        };
        let t0 = *first.get_or_insert(frame.timestamp);
        if args
            .duration
            .is_some_and(|d| frame.timestamp.saturating_sub(t0) >= d)
        {
            break "the duration was reached";
        }
        match writer.push(&frame) {
            Ok(Pushed::Written) => {}
            Ok(Pushed::Full) => break "the byte limit was reached",
            Err(e @ RecordingError::DiskFull { .. }) => {
                log::error!("{e}; the recording ends with what it holds");
                break "the disk is full";
            }
            Err(e @ RecordingError::Frame { .. }) => log::warn!("{e}; skipped"),
            Err(e) => return Err(e).context("the recording stopped"),
        }
    };
    let frames = writer.frames();
    let bytes = writer.bytes();
    let Some(meta) = writer.finish(stopped)? else {
        bail!("no frame was recorded ({stopped})");
    };
    let seconds = frames as f64 / f64::from(meta.fps);
    if let Some(truth) = truth {
        let end_ms = (seconds * 1000.0).round() as u64;
        let path = args.out.join(recording::TRUTH);
        labels::write(&path, &truth(end_ms))?;
        log::info!("ground truth in {}", path.display());
    }
    log::info!(
        "{frames} frames ({}x{}, {seconds:.1} s, {:.1} MB) in {}: {stopped}",
        meta.width,
        meta.height,
        bytes as f64 / 1e6,
        args.out.display()
    );
    if args.propose {
        if let Some(bundle) = &args.bundle {
            profile.inference.bundle = bundle.clone();
        }
        stop.store(false, Ordering::SeqCst);
        let path = args.out.join(recording::PROPOSALS);
        let proposed = propose(&profile, &args.out, &stop)?;
        labels::write(&path, &proposed)?;
        log::info!("{} proposed labels in {}", proposed.len(), path.display());
    }
    Ok(())
}

/// The actions the live path sends on a recording, each as a proposed
/// element spanning the window that decided it.
fn propose(profile: &Profile, rec: &Path, stop: &AtomicBool) -> anyhow::Result<Vec<Label>> {
    #[derive(Default)]
    struct Actions(Vec<(u64, String)>);
    impl EventSink for Actions {
        type Error = Infallible;
        fn action(&mut self, event: &ActionEvent) -> Result<(), Infallible> {
            self.0.push((u64::from(event.t_ms), event.label.clone()));
            Ok(())
        }
        fn clear(&mut self, _: &ClearEvent) -> Result<(), Infallible> {
            Ok(())
        }
        fn health(&mut self, _: &Health) -> Result<(), Infallible> {
            Ok(())
        }
    }
    let mut profile = profile.clone();
    profile.camera.source = SourceSpec::Recording(rec.to_owned());
    let options = ServeOptions {
        pacing: Pacing::Fast,
        model_required: true,
        ..ServeOptions::default()
    };
    log::info!(
        "proposing labels with {}",
        profile.inference.bundle.display()
    );
    let mut actions = Actions::default();
    if let Served::NoModel = supervisor::serve(&profile, &options, &mut actions, stop)? {
        bail!("no model could serve to propose labels");
    }
    let recording = Recording::open(rec)?;
    let window_ms = (profile.clip.window as f64 * 1000.0 / f64::from(recording.meta.fps)) as u64;
    let mut proposed: Vec<Label> = Vec::new();
    for (t_ms, label) in actions.0 {
        let end_ms = t_ms.min(recording.duration_ms());
        let start_ms = end_ms
            .saturating_sub(window_ms)
            .max(proposed.last().map_or(0, |p| p.end_ms));
        if start_ms < end_ms {
            proposed.push(Label {
                start_ms,
                end_ms,
                label,
            });
        }
    }
    Ok(proposed)
}

/// The elements of a synthetic stream within its first `end_ms`, the last
/// one cut at `end_ms` if it goes on.
type Truth = Box<dyn Fn(u64) -> Vec<Label>>;

/// Opens the source; a synthetic one comes with its ground truth.
fn open(
    spec: &SourceSpec,
    options: &SourceOptions,
) -> anyhow::Result<(Box<dyn FrameSource>, Option<Truth>)> {
    #[cfg(feature = "synthetic")]
    if let SourceSpec::Synthetic { seed, new_elements } = spec {
        use artrt_live::source::synthetic::{GroundTruth, SyntheticSource};
        let fps = options.fps.round().max(1.0) as u32;
        let source = SyntheticSource::with_seed(*seed, *new_elements, fps, options.pacing);
        let truth = source.ground_truth();
        let ms = move |frame: u64| truth.time_of(frame).as_millis() as u64;
        let shared = source.ground_truth();
        let labels: Truth = Box::new(move |end_ms| {
            shared
                .segments()
                .iter()
                .map(|s| Label {
                    start_ms: ms(s.start),
                    end_ms: ms(s.end).min(end_ms),
                    label: GroundTruth::label(s).to_owned(),
                })
                .filter(|l| l.start_ms < l.end_ms)
                .collect()
        });
        return Ok((Box::new(source), Some(labels)));
    }
    let source =
        source::open(spec, options).with_context(|| format!("cannot open frame source {spec}"))?;
    Ok((source, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_take_suffixes_and_are_range_checked() {
        assert_eq!(byte_count("500M"), Ok(500_000_000));
        assert_eq!(byte_count("4G"), Ok(4_000_000_000));
        assert_eq!(byte_count("2000000"), Ok(2_000_000));
        for bad in ["", "G", "12x", "999K", "-1M", "99999999999G"] {
            assert!(byte_count(bad).is_err(), "{bad}");
        }
    }
}
