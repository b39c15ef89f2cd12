//! Turning per-window class probabilities into stable action events.

use serde::Deserialize;

/// How window scores become events: smoothing, hysteresis and hold time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionConfig {
    /// Number of most recent windows averaged before deciding.
    pub smoothing_windows: usize,
    /// Smoothed probability the top class must reach to start an event.
    pub enter_threshold: f32,
    /// Smoothed probability below which a shown event ends.
    pub exit_threshold: f32,
    /// Milliseconds the top class must hold above `enter_threshold` before the event is sent.
    pub min_hold_ms: u32,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        Self { smoothing_windows: 3, enter_threshold: 0.6, exit_threshold: 0.4, min_hold_ms: 150 }
    }
}
