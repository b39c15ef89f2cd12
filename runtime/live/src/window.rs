//! The sliding window that clips are cut from.
//!
//! Every camera frame is preprocessed once into a slot of a fixed ring of
//! `window` slots, kept by a [`FrameStage`](crate::stage::FrameStage) in host
//! or device memory; the ring says which slot. Every `hop` frames, once the
//! ring is full, a clip of `T` frames is gathered from it with the bundle's
//! sampling rule (segment centres: frame `i` of `T` is window frame
//! `floor((i + 0.5) * window / T)`), oldest first.
//! A frame that no clip will sample need not be preprocessed at all
//! ([`WindowRing::wants_next`]). Nothing allocates after [`WindowRing::new`].

use std::time::Duration;

use artrt_infer::bundle::Sampling;

/// Why a window shape cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A size is zero, or the clip needs more frames than the window holds.
    #[error(
        "bad window: window {window} frames, hop {hop}, clip {frames} frames (need window >= clip >= 1, hop >= 1)"
    )]
    Shape {
        /// Source frames a window spans.
        window: usize,
        /// Frames between two windows.
        hop: usize,
        /// Frames a clip holds.
        frames: usize,
    },
}

/// The slots of a ring of preprocessed frames, and the clip cutter.
#[derive(Debug)]
pub struct WindowRing {
    window: usize,
    hop: usize,
    frames: usize,
    sampling: Sampling,
    stamps: Vec<Duration>,
    head: usize,
    filled: usize,
    since_clip: usize,
    /// Frames committed since the last reset.
    count: usize,
}

impl WindowRing {
    /// A ring `window` frames long, cutting a clip of `frames` frames by
    /// `sampling` every `hop` frames.
    pub fn new(
        window: usize,
        hop: usize,
        frames: usize,
        sampling: Sampling,
    ) -> Result<Self, WindowError> {
        if frames == 0 || hop == 0 || window < frames {
            return Err(WindowError::Shape {
                window,
                hop,
                frames,
            });
        }
        Ok(Self {
            window,
            hop,
            frames,
            sampling,
            stamps: vec![Duration::ZERO; window],
            head: 0,
            filled: 0,
            since_clip: 0,
            count: 0,
        })
    }

    /// Slots in the ring (the window's length).
    pub fn slots(&self) -> usize {
        self.window
    }

    /// Whether any clip will sample the next frame; when not, the caller may
    /// commit it without preprocessing it into [`WindowRing::next_slot`].
    pub fn wants_next(&self) -> bool {
        // Clips are cut after max(window, hop) frames, then every hop; the
        // clip cut after `c` frames samples frames `c - window + offset(i)`.
        let first = self.window.max(self.hop) - self.window;
        let f = self.count;
        (0..self.frames)
            .map(|i| first + self.offset(i))
            .any(|k| f >= k && (f - k).is_multiple_of(self.hop))
    }

    /// Window frame that clip frame `i` is taken from.
    fn offset(&self, i: usize) -> usize {
        self.sampling.pick(self.window, self.frames, i)
    }

    /// The slot the next frame is preprocessed into.
    pub fn next_slot(&self) -> usize {
        self.head
    }

    /// Accepts the frame written into [`WindowRing::next_slot`], captured at
    /// `timestamp`. Returns true when a clip is due.
    pub fn commit(&mut self, timestamp: Duration) -> bool {
        self.stamps[self.head] = timestamp;
        self.head = (self.head + 1) % self.window;
        self.filled = (self.filled + 1).min(self.window);
        self.since_clip += 1;
        self.count += 1;
        if self.filled == self.window && self.since_clip >= self.hop {
            self.since_clip = 0;
            true
        } else {
            false
        }
    }

    /// The slots of the current clip's `T` frames, oldest first.
    pub fn clip_slots(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.window;
        let oldest = (self.head + n - self.filled) % n;
        (0..self.frames).map(move |i| (oldest + self.offset(i)) % n)
    }

    /// The capture time of the window's newest frame.
    pub fn newest(&self) -> Duration {
        self.stamps[(self.head + self.window - 1) % self.window]
    }

    /// Forgets the frames (after a gap in the source): no clip until the ring is full again.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.since_clip = 0;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring with one float a slot, as a stage would keep it.
    struct Frames {
        ring: WindowRing,
        slots: Vec<f32>,
    }

    impl Frames {
        fn new(window: usize, hop: usize, frames: usize) -> Frames {
            Frames {
                ring: WindowRing::new(window, hop, frames, Sampling::SegmentCentre).unwrap(),
                slots: vec![f32::NAN; window],
            }
        }

        fn push(&mut self, value: f32) -> bool {
            self.slots[self.ring.next_slot()] = value;
            self.ring.commit(Duration::from_millis(value as u64))
        }

        fn cut(&self) -> Vec<f32> {
            self.ring.clip_slots().map(|s| self.slots[s]).collect()
        }
    }

    #[test]
    fn first_clip_waits_for_a_full_window_then_every_hop() {
        let mut ring = Frames::new(4, 2, 2);
        let due: Vec<bool> = (0..9).map(|i| ring.push(i as f32)).collect();
        assert_eq!(
            due,
            [false, false, false, true, false, true, false, true, false]
        );
    }

    #[test]
    fn clip_samples_segment_centres_oldest_first() {
        let mut ring = Frames::new(16, 1, 8);
        for i in 0..20 {
            ring.push(i as f32);
        }
        // Window holds frames 4..=19; segment centres are 1, 3, 5, ..., 15.
        assert_eq!(ring.cut(), [5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0]);
        assert_eq!(ring.ring.newest(), Duration::from_millis(19));
    }

    #[test]
    fn clips_sample_exactly_the_frames_the_ring_wants() {
        for window in 1..=20 {
            for frames in 1..=window {
                for hop in 1..=window + 2 {
                    let mut ring = Frames::new(window, hop, frames);
                    let (mut wanted, mut used, mut last_cut) = (Vec::new(), Vec::new(), 0);
                    for f in 0..6 * window {
                        let wants = ring.ring.wants_next();
                        if wants {
                            wanted.push(f as f32);
                        }
                        if ring.push(if wants { f as f32 } else { f32::NAN }) {
                            last_cut = f + 1;
                            let out = ring.cut();
                            assert!(
                                out.iter().all(|v| !v.is_nan()),
                                "window {window} hop {hop} T {frames}: a skipped frame was sampled"
                            );
                            used.extend_from_slice(&out);
                        }
                    }
                    used.sort_by(f32::total_cmp);
                    used.dedup();
                    // Frames from here on may still be sampled by clips to come.
                    let open = (last_cut + hop).saturating_sub(window) as f32;
                    wanted.retain(|&f| f < open);
                    used.retain(|&f| f < open);
                    assert_eq!(wanted, used, "window {window} hop {hop} T {frames}");
                }
            }
        }
    }

    #[test]
    fn reset_requires_a_full_window_again() {
        let mut ring = Frames::new(3, 1, 3);
        assert!((0..3).map(|i| ring.push(i as f32)).last().unwrap());
        ring.ring.reset();
        assert!(!ring.push(9.0));
        assert!(!ring.push(9.0));
        assert!(ring.push(9.0));
    }

    #[test]
    fn impossible_shapes_are_refused() {
        assert!(WindowRing::new(4, 0, 2, Sampling::SegmentCentre).is_err());
        assert!(WindowRing::new(4, 1, 5, Sampling::SegmentCentre).is_err());
        assert!(WindowRing::new(4, 1, 0, Sampling::SegmentCentre).is_err());
    }
}
