//! A recording ([`crate::recording`]) replayed as the camera that made it:
//! its JPEG images as `Mjpeg` frames, at their capture times.
//!
//! Real-time pacing keeps the recorded spacing between frames (a dropped
//! frame stays a gap); fast pacing lends them as quickly as they are taken.
//! Timestamps are the recorded capture times, so results on a recording do
//! not depend on the machine's speed. An image that cannot be read is a
//! [`SourceError::BadFrame`]; the replay goes on with the next.

use std::path::Path;
use std::time::{Duration, Instant};

use artrt_infer::{FrameRef, PixelFormat};

use super::{FrameSource, Pacing, SourceError};
use crate::recording::Recording;

/// A recording, lent frame by frame.
pub struct RecordedSource {
    recording: Recording,
    name: String,
    pacing: Pacing,
    next: usize,
    started: Option<(Instant, Duration)>,
    image: Vec<u8>,
}

impl RecordedSource {
    /// Opens the recording in `dir` for replay.
    pub fn open(dir: &Path, pacing: Pacing) -> Result<Self, SourceError> {
        let name = format!("recording:{}", dir.display());
        let recording = Recording::open(dir).map_err(|e| SourceError::Unusable {
            source_name: name.clone(),
            reason: e.to_string(),
        })?;
        if let Some(why) = &recording.cut_short {
            log::warn!("{name}: the recording was interrupted ({why}); replaying what it holds");
        }
        log::info!(
            "{name}: {} frames of {}x{}, {:.1} s",
            recording.frames.len(),
            recording.meta.width,
            recording.meta.height,
            recording.duration_ms() as f64 / 1000.0
        );
        Ok(Self {
            recording,
            name,
            pacing,
            next: 0,
            started: None,
            image: Vec::new(),
        })
    }

    /// The recording replayed.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }
}

impl FrameSource for RecordedSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fps(&self) -> f32 {
        self.recording.meta.fps
    }

    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        let n = self.next;
        let Some(entry) = self.recording.frames.get(n).copied() else {
            return Err(SourceError::Ended(self.name.clone()));
        };
        self.next += 1;
        if self.pacing == Pacing::RealTime {
            let (start, t0) = *self.started.get_or_insert((Instant::now(), entry.t));
            let due = start + entry.t.saturating_sub(t0);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        if let Err(e) = self.recording.read_frame(n, &mut self.image) {
            return Err(SourceError::BadFrame {
                source_name: self.name.clone(),
                reason: e.to_string(),
            });
        }
        Ok(FrameRef {
            format: PixelFormat::Mjpeg,
            width: self.recording.meta.width,
            height: self.recording.meta.height,
            data: &self.image,
            timestamp: entry.t,
        })
    }

    /// A recording is not lost; replay goes on where it stopped, with the
    /// pacing started afresh.
    fn reopen(&mut self) -> Result<(), SourceError> {
        self.started = None;
        Ok(())
    }
}
