//! Pacing a generated or replayed stream to its frame rate.

use std::time::{Duration, Instant};

/// How fast a synthetic or replayed source hands out frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// One frame per frame period of wall-clock time, like a camera.
    #[default]
    RealTime,
    /// As fast as the consumer takes them (offline evaluation, tests).
    Fast,
}

/// Keeps a source on its frame clock; re-anchors after a stall instead of
/// bursting to catch up.
#[derive(Debug)]
pub(crate) struct Pacer {
    pacing: Pacing,
    period: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer for `fps` frames a second.
    pub(crate) fn new(pacing: Pacing, fps: f32) -> Self {
        let period = Duration::from_secs_f64(1.0 / f64::from(fps.max(1e-3)));
        Self {
            pacing,
            period,
            next: None,
        }
    }

    /// Waits until the next frame is due.
    pub(crate) fn wait(&mut self) {
        if self.pacing == Pacing::Fast {
            return;
        }
        let now = Instant::now();
        let due = match self.next {
            Some(due) if due + 4 * self.period >= now => due,
            _ => now,
        };
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next = Some(due + self.period);
    }

    /// Forgets the schedule (after a loss): the next frame is due at once.
    pub(crate) fn restart(&mut self) {
        self.next = None;
    }
}
