//! The synthetic gym stream as a camera, with its ground truth.
//!
//! Wraps [`GymStream`]: an endless, seeded performance of gymnastics elements
//! separated by idle standing and walking. Frames are `Rgb24` at the
//! generator's size (by default the size of the synthetic clip sets the model
//! is trained on), paced to the frame rate or as fast as the consumer takes
//! them; timestamps are stream time (`frame / fps`), so results do not depend
//! on the machine's speed. [`GroundTruth`] tells, for evaluation, which frames
//! hold which element, and can be read from another thread while the source
//! runs.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use artrt_calibration::{GymStream, Segment, StreamOptions, element};
use artrt_infer::{FrameRef, PixelFormat};

use super::pacing::Pacer;
use super::{FrameSource, Pacing, SourceError};

/// Ground truth of a synthetic stream: every element started so far.
///
/// Cloning shares it. The source appends an element when it is asked for the
/// frame after the element's first one, and when it is dropped; so once a
/// run is over the ground truth is complete.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    fps: u32,
    segments: Arc<Mutex<Vec<Segment>>>,
}

impl GroundTruth {
    /// Frame rate of the stream (segment bounds are frame indices).
    pub fn fps(&self) -> u32 {
        self.fps
    }

    /// The elements started so far, in order (the last may still be under way).
    pub fn segments(&self) -> Vec<Segment> {
        self.segments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stream time of frame `frame`.
    pub fn time_of(&self, frame: u64) -> Duration {
        Duration::from_secs_f64(frame as f64 / f64::from(self.fps))
    }

    /// The label of a segment's class.
    pub fn label(segment: &Segment) -> &'static str {
        element(segment.class_id).map_or("no element", |e| e.label)
    }
}

/// Share of the elements of `synthetic:SEED+new` that are none of the
/// classes ([`artrt_calibration::NEW_ELEMENTS`]).
pub const NEW_SHARE: f64 = 0.3;

/// The synthetic gym stream, lent frame by frame.
pub struct SyntheticSource {
    stream: GymStream,
    name: String,
    pacer: Pacer,
    truth: GroundTruth,
}

impl SyntheticSource {
    /// A stream with the generator's options (seed, size, rate, pauses).
    pub fn new(options: StreamOptions, pacing: Pacing) -> Self {
        let new = if options.new_share > 0.0 { "+new" } else { "" };
        let name = format!("synthetic:{}{new}", options.seed);
        let stream = GymStream::new(options);
        let fps = stream.options().fps;
        log::info!(
            "{name}: {}x{} at {fps} fps, {}",
            stream.options().width,
            stream.options().height,
            match pacing {
                Pacing::RealTime => "real time",
                Pacing::Fast => "as fast as possible",
            }
        );
        Self {
            pacer: Pacer::new(pacing, fps as f32),
            truth: GroundTruth {
                fps,
                segments: Arc::new(Mutex::new(Vec::new())),
            },
            stream,
            name,
        }
    }

    /// A stream from `seed` (the generator's default seed when `None`) at
    /// `fps`, with the generator's default size and pauses; with
    /// `new_elements`, [`NEW_SHARE`] of its elements are none of the classes.
    pub fn with_seed(seed: Option<u64>, new_elements: bool, fps: u32, pacing: Pacing) -> Self {
        let defaults = StreamOptions::default();
        Self::new(
            StreamOptions {
                seed: seed.unwrap_or(defaults.seed),
                fps,
                new_share: if new_elements { NEW_SHARE } else { 0.0 },
                ..defaults
            },
            pacing,
        )
    }

    /// A shared handle on the stream's ground truth.
    pub fn ground_truth(&self) -> GroundTruth {
        self.truth.clone()
    }

    /// The options the stream runs with.
    pub fn options(&self) -> &StreamOptions {
        self.stream.options()
    }

    /// Every element whose first frame has been lent, in order.
    pub fn segments(&self) -> &[Segment] {
        self.stream.segments()
    }

    /// Copies segments the shared ground truth does not have yet.
    fn publish(&self) {
        let all = self.stream.segments();
        let mut shared = self
            .truth
            .segments
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = shared.len();
        shared.extend_from_slice(&all[known..]);
    }
}

impl Drop for SyntheticSource {
    fn drop(&mut self) {
        self.publish();
    }
}

impl FrameSource for SyntheticSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fps(&self) -> f32 {
        self.stream.options().fps as f32
    }

    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        self.publish();
        self.pacer.wait();
        let timestamp = self.truth.time_of(self.stream.frame_index());
        let frame = self.stream.next_frame();
        Ok(FrameRef {
            format: PixelFormat::Rgb24,
            width: frame.width(),
            height: frame.height(),
            data: frame.as_raw(),
            timestamp,
        })
    }

    /// A generated stream is never lost: reopening does nothing.
    fn reopen(&mut self) -> Result<(), SourceError> {
        self.pacer.restart();
        Ok(())
    }
}
