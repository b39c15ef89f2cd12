//! Turning per-window class probabilities into stable action events.
//!
//! Each window's probabilities are averaged over the last
//! [`DecisionConfig::smoothing_windows`] windows. An element starts when the
//! smoothed top class reaches `enter_threshold` and has held that position for
//! `min_hold_ms`; it ends when the shown class falls below `exit_threshold`
//! (hysteresis), or when another class takes over by the same entry rule. So a
//! performed element gives one event, not a stream of repeats.

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
        Self {
            smoothing_windows: 3,
            enter_threshold: 0.6,
            exit_threshold: 0.4,
            min_hold_ms: 150,
        }
    }
}

/// Why a decision configuration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecisionConfigError {
    /// `smoothing_windows` is 0.
    #[error("smoothing_windows must be at least 1")]
    NoSmoothing,
    /// A threshold is outside 0..=1.
    #[error("{name} = {value} is outside 0..=1")]
    ThresholdRange {
        /// The key.
        name: &'static str,
        /// Its value.
        value: f32,
    },
    /// `exit_threshold` is above `enter_threshold`, which would flap.
    #[error("exit_threshold ({exit}) must not exceed enter_threshold ({enter})")]
    Hysteresis {
        /// The entry threshold.
        enter: f32,
        /// The exit threshold.
        exit: f32,
    },
}

impl DecisionConfig {
    /// Checks ranges and the hysteresis order.
    pub fn validate(&self) -> Result<(), DecisionConfigError> {
        if self.smoothing_windows == 0 {
            return Err(DecisionConfigError::NoSmoothing);
        }
        for (name, value) in [
            ("enter_threshold", self.enter_threshold),
            ("exit_threshold", self.exit_threshold),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(DecisionConfigError::ThresholdRange { name, value });
            }
        }
        if self.exit_threshold > self.enter_threshold {
            return Err(DecisionConfigError::Hysteresis {
                enter: self.enter_threshold,
                exit: self.exit_threshold,
            });
        }
        Ok(())
    }
}

/// What a window changed on the action line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Nothing changed.
    Hold,
    /// Show this class: a new element was recognised.
    Show {
        /// The class.
        class_id: usize,
        /// Its smoothed probability.
        confidence: f32,
    },
    /// The shown element is over: clear the action line.
    Clear,
}

/// The decision state machine. Allocates only in [`Decider::new`].
#[derive(Debug, Clone)]
pub struct Decider {
    config: DecisionConfig,
    background: Option<usize>,
    history: Vec<f32>,
    classes: usize,
    filled: usize,
    next: usize,
    smoothed: Vec<f32>,
    candidate: Option<(usize, u64)>,
    shown: Option<usize>,
}

impl Decider {
    /// A decider for `classes` classes. `background` names a class that means
    /// "no element" (never shown); `None` when the model has none.
    pub fn new(
        config: DecisionConfig,
        classes: usize,
        background: Option<usize>,
    ) -> Result<Self, DecisionConfigError> {
        config.validate()?;
        let history = vec![0.0; config.smoothing_windows * classes];
        Ok(Self {
            config,
            background,
            history,
            classes,
            filled: 0,
            next: 0,
            smoothed: vec![0.0; classes],
            candidate: None,
            shown: None,
        })
    }

    /// The class being shown, if any.
    pub fn shown(&self) -> Option<usize> {
        self.shown
    }

    /// The smoothed probabilities after the last window.
    pub fn smoothed(&self) -> &[f32] {
        &self.smoothed
    }

    /// Forgets everything (after a gap in the frames, for example); the caller
    /// clears the action line if something was shown.
    pub fn reset(&mut self) -> Decision {
        self.filled = 0;
        self.next = 0;
        self.candidate = None;
        self.smoothed.iter_mut().for_each(|p| *p = 0.0);
        if self.shown.take().is_some() {
            Decision::Clear
        } else {
            Decision::Hold
        }
    }

    /// Feeds one window's probabilities (length = classes), ending at `t_ms`.
    pub fn push(&mut self, probs: &[f32], t_ms: u64) -> Decision {
        let n = self.classes;
        let k = self.config.smoothing_windows;
        let m = probs.len().min(n);
        let slot = &mut self.history[self.next * n..(self.next + 1) * n];
        slot[..m].copy_from_slice(&probs[..m]);
        slot[m..].iter_mut().for_each(|p| *p = 0.0);
        self.next = (self.next + 1) % k;
        self.filled = (self.filled + 1).min(k);
        for (c, s) in self.smoothed.iter_mut().enumerate() {
            *s = (0..self.filled)
                .map(|w| self.history[w * n + c])
                .sum::<f32>()
                / self.filled as f32;
        }

        let (top, top_p) =
            self.smoothed
                .iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f32::MIN),
                    |best, (c, p)| if p > best.1 { (c, p) } else { best },
                );
        let top_is_element = Some(top) != self.background;

        if top_is_element && top_p >= self.config.enter_threshold && self.shown != Some(top) {
            let since = match self.candidate {
                Some((c, since)) if c == top => since,
                _ => {
                    self.candidate = Some((top, t_ms));
                    t_ms
                }
            };
            if t_ms.saturating_sub(since) >= u64::from(self.config.min_hold_ms) {
                self.candidate = None;
                self.shown = Some(top);
                return Decision::Show {
                    class_id: top,
                    confidence: top_p,
                };
            }
        } else {
            self.candidate = None;
        }

        if let Some(shown) = self.shown {
            if self.smoothed[shown] < self.config.exit_threshold {
                self.shown = None;
                return Decision::Clear;
            }
        }
        Decision::Hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(classes: usize, c: usize, p: f32) -> Vec<f32> {
        let rest = (1.0 - p) / (classes - 1) as f32;
        (0..classes)
            .map(|i| if i == c { p } else { rest })
            .collect()
    }

    fn config(k: usize, hold: u32) -> DecisionConfig {
        DecisionConfig {
            smoothing_windows: k,
            enter_threshold: 0.6,
            exit_threshold: 0.4,
            min_hold_ms: hold,
        }
    }

    fn run(d: &mut Decider, seq: &[(usize, f32)], step_ms: u64) -> Vec<(u64, Decision)> {
        seq.iter()
            .enumerate()
            .map(|(i, &(c, p))| {
                let t = i as u64 * step_ms;
                (t, d.push(&one_hot(4, c, p), t))
            })
            .filter(|(_, d)| *d != Decision::Hold)
            .collect()
    }

    #[test]
    fn one_element_gives_one_show_and_one_clear() {
        let mut d = Decider::new(config(2, 100), 4, None).unwrap();
        let mut seq = vec![(0, 0.3); 4];
        seq.extend(vec![(2, 0.95); 10]);
        seq.extend(vec![(0, 0.3); 6]);
        let out = run(&mut d, &seq, 100);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(out[0].1, Decision::Show { class_id: 2, .. }));
        assert_eq!(out[1].1, Decision::Clear);
    }

    #[test]
    fn hold_time_delays_the_event_and_a_blip_gives_none() {
        let mut d = Decider::new(config(1, 300), 4, None).unwrap();
        let out = run(
            &mut d,
            &[
                (1, 0.9),
                (1, 0.9),
                (0, 0.3),
                (1, 0.9),
                (1, 0.9),
                (1, 0.9),
                (1, 0.9),
            ],
            100,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].0, 600, "shown after 300 ms of hold from t=300");
    }

    #[test]
    fn hysteresis_keeps_the_event_between_thresholds() {
        let mut d = Decider::new(config(1, 0), 4, None).unwrap();
        let out = run(
            &mut d,
            &[(3, 0.9), (3, 0.5), (3, 0.45), (3, 0.7), (3, 0.35)],
            100,
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[1], (400, Decision::Clear));
    }

    #[test]
    fn background_class_is_never_shown() {
        let mut d = Decider::new(config(1, 0), 4, Some(0)).unwrap();
        let out = run(&mut d, &[(0, 0.99), (0, 0.99), (1, 0.9)], 100);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].1, Decision::Show { class_id: 1, .. }));
    }

    #[test]
    fn a_new_class_supersedes_the_shown_one() {
        let mut d = Decider::new(config(1, 0), 4, None).unwrap();
        let out = run(&mut d, &[(1, 0.9), (2, 0.9)], 100);
        assert!(matches!(out[0].1, Decision::Show { class_id: 1, .. }));
        assert!(matches!(out[1].1, Decision::Show { class_id: 2, .. }));
    }

    #[test]
    fn bad_configs_are_refused() {
        assert_eq!(
            Decider::new(config(0, 0), 4, None).unwrap_err(),
            DecisionConfigError::NoSmoothing
        );
        let c = DecisionConfig {
            exit_threshold: 0.8,
            ..config(1, 0)
        };
        assert!(matches!(
            Decider::new(c, 4, None).unwrap_err(),
            DecisionConfigError::Hysteresis { .. }
        ));
        let c = DecisionConfig {
            enter_threshold: 1.5,
            ..config(1, 0)
        };
        assert!(matches!(
            Decider::new(c, 4, None).unwrap_err(),
            DecisionConfigError::ThresholdRange { .. }
        ));
    }

    #[test]
    fn reset_clears_a_shown_event() {
        let mut d = Decider::new(config(1, 0), 4, None).unwrap();
        d.push(&one_hot(4, 1, 0.9), 0);
        assert_eq!(d.reset(), Decision::Clear);
        assert_eq!(d.reset(), Decision::Hold);
    }
}
