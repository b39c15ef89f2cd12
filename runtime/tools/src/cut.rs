//! A clip set cut from a labelled recording, for `artrt cut`: one clip per
//! labelled element and "no element" clips from the stretches between them,
//! each `window` recorded frames copied as they were recorded (no second
//! JPEG encoding).
//!
//! Centred framing puts each element's middle frame at the clip's middle,
//! and "no element" clips hold no frame of an element. Live framing takes
//! the windows the live pipeline meets (starts on the hop grid): an
//! element's clip is the first window holding
//! [`LIVE_ELEMENT_SHARE`](artrt_calibration::LIVE_ELEMENT_SHARE) of its
//! frames, and a "no element" clip may hold up to
//! [`LIVE_BACKGROUND_SHARE`](artrt_calibration::LIVE_BACKGROUND_SHARE) of an
//! element's.

use std::path::Path;

use anyhow::{Context, bail};
use artrt_calibration::{ClipSetWriter, Framing, Provenance, SetMeta, live_window_starts};
use artrt_live::labels::{self, Label};
use artrt_live::recording::Recording;
use sha2::{Digest, Sha256};

/// How to cut a set.
#[derive(Debug, Clone)]
pub struct CutOptions {
    /// Frames in a clip (the bundle's window).
    pub window: usize,
    /// Frames between two live windows (live framing).
    pub hop: usize,
    /// Centred or live.
    pub framing: Framing,
    /// "No element" clips to cut (default: as many as the average class has
    /// elements).
    pub background: Option<usize>,
    /// The classes to number labels by; labels not among them are added
    /// after them.
    pub classes: Vec<String>,
    /// The "no element" class, added if `classes` has no such label.
    pub background_label: String,
}

/// What was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Element clips written.
    pub elements: usize,
    /// "No element" clips written.
    pub background: usize,
    /// Elements too close to the recording's ends for a whole clip.
    pub skipped: Vec<Label>,
    /// The labels file cut by.
    pub labels_file: String,
}

/// An element's frames: the first, and one past the last.
type Span = (usize, usize);

/// The frames of `label` in a recording whose frame `k` was captured at
/// `times[k]` ms: those captured within it.
fn span_of(times: &[u64], label: &Label) -> Span {
    let first = times.partition_point(|&t| t < label.start_ms);
    let end = times.partition_point(|&t| t < label.end_ms);
    (first, end)
}

/// First frame of the element's clip, if a whole clip fits in `frames`.
fn element_start(span: Span, frames: usize, options: &CutOptions) -> Option<usize> {
    let len = options.window;
    if frames < len || span.1 <= span.0 {
        return None;
    }
    match options.framing {
        Framing::Centred => {
            let middle = (span.0 + span.1 - 1) / 2;
            let start = middle.checked_sub(len / 2)?;
            (start + len <= frames).then_some(start)
        }
        Framing::Live => {
            let (lo, hi) = live_window_starts(span.0 as u64, (span.1 - span.0) as u64, len as u64);
            let hop = options.hop.max(1) as u64;
            let first = lo.div_ceil(hop) * hop;
            (first <= hi && first as usize + len <= frames).then_some(first as usize)
        }
    }
}

/// First frames of `count` "no element" clips, spread evenly over the
/// windows that hold no more of any element than the framing allows.
fn background_starts(
    spans: &[Span],
    frames: usize,
    count: usize,
    options: &CutOptions,
) -> Vec<usize> {
    let len = options.window;
    let step = match options.framing {
        Framing::Centred => 1,
        Framing::Live => options.hop.max(1),
    };
    let spill = options.framing.background_spill();
    let fits = |start: usize| {
        spans.iter().all(|&(a, b)| {
            let overlap = (start + len).min(b).saturating_sub(start.max(a));
            overlap as f32 <= spill * (b - a) as f32
        })
    };
    let valid: Vec<usize> = (0..=frames.saturating_sub(len))
        .step_by(step)
        .filter(|&s| frames >= len && fits(s))
        .collect();
    let count = count.min(valid.len());
    let mut starts: Vec<usize> = (0..count).map(|i| valid[i * valid.len() / count]).collect();
    starts.dedup();
    starts
}

/// Cuts the recording in `rec` into a new clip set in `out`, by its
/// `labels.csv` or, without one, its `truth.csv`.
pub fn cut(rec: &Path, out: &Path, options: &CutOptions) -> anyhow::Result<Cut> {
    if options.window == 0 {
        bail!("a clip needs at least one frame");
    }
    let mut recording = Recording::open(rec)?;
    if let Some(why) = &recording.cut_short {
        log::warn!(
            "{}: interrupted recording ({why}); cutting what it holds",
            rec.display()
        );
    }
    let labels_file = recording.labels_file()?;
    let elements = labels::read(&labels_file, Some(recording.duration_ms()))?;
    let sha = Sha256::digest(
        std::fs::read(&labels_file)
            .with_context(|| format!("cannot read {}", labels_file.display()))?,
    );
    let times: Vec<u64> = recording
        .frames
        .iter()
        .map(|f| f.t.as_millis() as u64)
        .collect();
    let frames = times.len();

    let mut classes = options.classes.clone();
    let mut class_of = |label: &str| match classes.iter().position(|c| c == label) {
        Some(i) => i,
        None => {
            classes.push(label.to_owned());
            classes.len() - 1
        }
    };
    let spans: Vec<Span> = elements.iter().map(|l| span_of(&times, l)).collect();
    let mut clips: Vec<(usize, usize)> = Vec::new();
    let mut skipped = Vec::new();
    for (label, &span) in elements.iter().zip(&spans) {
        match element_start(span, frames, options) {
            Some(start) => clips.push((start, class_of(&label.label))),
            None => skipped.push(label.clone()),
        }
    }
    let element_clips = clips.len();
    let distinct: std::collections::BTreeSet<&str> =
        elements.iter().map(|l| l.label.as_str()).collect();
    let count = options
        .background
        .unwrap_or_else(|| elements.len().div_ceil(distinct.len().max(1)));
    let starts = background_starts(&spans, frames, count, options);
    if !starts.is_empty() {
        let background = class_of(&options.background_label);
        clips.extend(starts.iter().map(|&s| (s, background)));
    }
    if clips.is_empty() {
        bail!(
            "{} frames of {} hold no whole {}-frame clip of an element or of a stretch without one",
            frames,
            rec.display(),
            options.window
        );
    }

    let meta = SetMeta {
        fps: recording.meta.fps.round().max(1.0) as u32,
        width: recording.meta.width,
        height: recording.meta.height,
        provenance: Provenance {
            generator: "recorded".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            seed: None,
            description: Some(format!(
                "cut from {} ({}, {} on {})",
                rec.display(),
                recording.meta.source,
                recording.meta.started_unix_ms,
                recording.meta.device
            )),
            framing: Some(options.framing.to_string()),
            twins: None,
            recording: Some(rec.display().to_string()),
            labels_sha256: Some(format!("{sha:x}")),
            view: None,
        },
    };
    let writer = ClipSetWriter::create(out, &classes, meta)?;
    let mut annotations = Vec::with_capacity(clips.len());
    let mut images = vec![Vec::new(); options.window];
    for (n, &(start, class_id)) in clips.iter().enumerate() {
        for (k, image) in images.iter_mut().enumerate() {
            recording.read_frame(start + k, image)?;
        }
        let dir = format!("clip_{:05}_f{start}", n + 1);
        annotations.push(writer.write_clip_jpeg(&dir, class_id, &images)?);
    }
    writer.finish(&annotations)?;
    Ok(Cut {
        elements: element_clips,
        background: clips.len() - element_clips,
        skipped,
        labels_file: labels_file.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(framing: Framing) -> CutOptions {
        CutOptions {
            window: 8,
            hop: 4,
            framing,
            background: Some(3),
            classes: vec!["a".into()],
            background_label: "no element".into(),
        }
    }

    #[test]
    fn centred_clips_hold_the_element_in_their_middle() {
        let o = options(Framing::Centred);
        assert_eq!(element_start((20, 30), 100, &o), Some(20));
        assert_eq!(element_start((0, 4), 100, &o), None);
        assert_eq!(element_start((96, 100), 100, &o), None);
        assert_eq!(element_start((20, 30), 6, &o), None);
    }

    #[test]
    fn live_clips_start_on_the_hop_grid_and_hold_most_of_the_element() {
        let o = options(Framing::Live);
        let start = element_start((21, 31), 100, &o).unwrap();
        assert_eq!(start % 4, 0);
        let overlap = (start + 8).min(31).saturating_sub(start.max(21));
        assert!(overlap as f32 >= 0.6 * 8.0, "{start}");
    }

    #[test]
    fn background_clips_keep_away_from_elements() {
        let spans = [(20, 30), (60, 70)];
        let o = options(Framing::Centred);
        let starts = background_starts(&spans, 100, 5, &o);
        assert_eq!(starts.len(), 5);
        for s in starts {
            assert!(spans.iter().all(|&(a, b)| s + 8 <= a || s >= b), "{s}");
        }
        assert!(background_starts(&[(0, 100)], 100, 3, &o).is_empty());
    }

    #[test]
    fn spans_are_the_frames_captured_within_an_element() {
        let times: Vec<u64> = (0..10).map(|k| k * 100).collect();
        let label = Label {
            start_ms: 250,
            end_ms: 600,
            label: "a".into(),
        };
        assert_eq!(span_of(&times, &label), (3, 6));
    }
}
