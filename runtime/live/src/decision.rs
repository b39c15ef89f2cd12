//! Turning per-window class probabilities into stable action events.
//!
//! Each window's probabilities are averaged over the last
//! [`DecisionConfig::smoothing_windows`] windows. From the smoothed
//! probabilities comes the window's *activity*: the probability that some
//! element is under way (1 minus the background class's probability, or the
//! top class's probability for a model without a background class).
//!
//! An *episode* opens when the activity reaches `enter_threshold` and closes
//! when it falls below `exit_threshold` (hysteresis). While it is open, every
//! window adds its smoothed element probabilities to the episode's evidence.
//! Once the episode is `min_hold_ms` old, the class with the most evidence is
//! sent as soon as it leads the runner-up by `margin` of all the evidence; an
//! episode sends at most one event, and its close clears the action line. So a
//! performed element gives one event, named from every window that saw it,
//! including the first windows of a take-off that look alike for many
//! elements.

use serde::{Deserialize, Serialize};

/// How window scores become events: smoothing, episode hysteresis, hold time and margin.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionConfig {
    /// Number of most recent windows averaged before deciding.
    pub smoothing_windows: usize,
    /// Smoothed activity that opens an episode.
    #[serde(serialize_with = "shortest")]
    pub enter_threshold: f32,
    /// Smoothed activity below which an episode closes.
    #[serde(serialize_with = "shortest")]
    pub exit_threshold: f32,
    /// Milliseconds an episode must be open before its event may be sent.
    pub min_hold_ms: u32,
    /// Lead of the top class over the runner-up, as a share of the episode's
    /// evidence, needed to send the event.
    #[serde(serialize_with = "shortest")]
    pub margin: f32,
}

/// Writes an `f32` as the `f64` of its shortest decimal form, so that 0.9
/// reads 0.9 in JSON and TOML rather than 0.8999999761581421.
fn shortest<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(v.to_string().parse().unwrap_or(f64::from(*v)))
}

/// Longest `min_hold_ms` accepted: a minute.
pub const MAX_HOLD_MS: u32 = 60_000;

/// Why a decision configuration cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionConfigError {
    /// `smoothing_windows` is 0.
    NoSmoothing,
    /// A threshold or the margin is outside 0..=1.
    ThresholdRange {
        /// The key.
        name: &'static str,
        /// Its value.
        value: f32,
    },
    /// `exit_threshold` is not below `enter_threshold`: no hysteresis.
    Hysteresis {
        /// The entry threshold.
        enter: f32,
        /// The exit threshold.
        exit: f32,
    },
    /// `min_hold_ms` is above [`MAX_HOLD_MS`].
    HoldTooLong(u32),
}

impl DecisionConfigError {
    /// The key of [`DecisionConfig`] that is wrong.
    pub fn key(&self) -> &'static str {
        match self {
            Self::NoSmoothing => "smoothing_windows",
            Self::ThresholdRange { name, .. } => name,
            Self::Hysteresis { .. } => "exit_threshold",
            Self::HoldTooLong(_) => "min_hold_ms",
        }
    }

    /// What the key's value must be, and what it is.
    pub fn requirement(&self) -> String {
        match self {
            Self::NoSmoothing => "must be at least 1".into(),
            Self::ThresholdRange { value, .. } => format!("must be in 0..=1, found {value}"),
            Self::Hysteresis { enter, exit } => {
                format!("must be below enter_threshold ({enter}), found {exit}")
            }
            Self::HoldTooLong(ms) => format!("must be in 0..={MAX_HOLD_MS}, found {ms}"),
        }
    }
}

impl std::fmt::Display for DecisionConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.key(), self.requirement())
    }
}

impl std::error::Error for DecisionConfigError {}

impl DecisionConfig {
    /// Every range or order the configuration breaks, in key order.
    pub fn problems(&self) -> Vec<DecisionConfigError> {
        let mut found = Vec::new();
        if self.smoothing_windows == 0 {
            found.push(DecisionConfigError::NoSmoothing);
        }
        for (name, value) in [
            ("enter_threshold", self.enter_threshold),
            ("exit_threshold", self.exit_threshold),
            ("margin", self.margin),
        ] {
            if !(0.0..=1.0).contains(&value) {
                found.push(DecisionConfigError::ThresholdRange { name, value });
            }
        }
        if self.exit_threshold >= self.enter_threshold {
            found.push(DecisionConfigError::Hysteresis {
                enter: self.enter_threshold,
                exit: self.exit_threshold,
            });
        }
        if self.min_hold_ms > MAX_HOLD_MS {
            found.push(DecisionConfigError::HoldTooLong(self.min_hold_ms));
        }
        found
    }

    /// Checks ranges and the hysteresis order; the first problem is the error.
    pub fn validate(&self) -> Result<(), DecisionConfigError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
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
        /// Its share of the episode's evidence so far.
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
    evidence: Vec<f32>,
    /// When the open episode opened; `None` between episodes.
    opened_ms: Option<u64>,
    /// The class the open episode sent, if it has.
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
            evidence: vec![0.0; classes],
            opened_ms: None,
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
        self.opened_ms = None;
        self.smoothed.iter_mut().for_each(|p| *p = 0.0);
        if self.shown.take().is_some() {
            Decision::Clear
        } else {
            Decision::Hold
        }
    }

    /// Feeds one window's probabilities (length = classes), ending at `t_ms`.
    pub fn push(&mut self, probs: &[f32], t_ms: u64) -> Decision {
        self.smooth(probs);
        let activity = self.activity();
        let opened_ms = match self.opened_ms {
            None if activity >= self.config.enter_threshold => {
                self.evidence.iter_mut().for_each(|e| *e = 0.0);
                *self.opened_ms.insert(t_ms)
            }
            None => return Decision::Hold,
            Some(_) if activity < self.config.exit_threshold => {
                self.opened_ms = None;
                return match self.shown.take() {
                    Some(_) => Decision::Clear,
                    None => Decision::Hold,
                };
            }
            Some(opened_ms) => opened_ms,
        };
        for (c, (e, p)) in self.evidence.iter_mut().zip(&self.smoothed).enumerate() {
            if Some(c) != self.background {
                *e += p;
            }
        }
        if self.shown.is_some()
            || t_ms.saturating_sub(opened_ms) < u64::from(self.config.min_hold_ms)
        {
            return Decision::Hold;
        }
        let (leader, runner_up, total) = ranked(&self.evidence);
        if total <= 0.0 || self.evidence[leader] - runner_up < self.config.margin * total {
            return Decision::Hold;
        }
        self.shown = Some(leader);
        Decision::Show {
            class_id: leader,
            confidence: self.evidence[leader] / total,
        }
    }

    /// Appends `probs` to the history and averages the last windows into `smoothed`.
    fn smooth(&mut self, probs: &[f32]) {
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
    }

    /// The smoothed probability that an element is under way.
    fn activity(&self) -> f32 {
        match self.background {
            Some(bg) => 1.0 - self.smoothed[bg],
            None => self.smoothed.iter().copied().fold(0.0, f32::max),
        }
    }
}

/// Index of the largest value, the second largest value, and the sum.
fn ranked(values: &[f32]) -> (usize, f32, f32) {
    let mut leader = 0;
    let (mut first, mut second, mut total) = (f32::MIN, 0.0f32, 0.0);
    for (i, &v) in values.iter().enumerate() {
        total += v;
        if v > first {
            second = first.max(0.0);
            first = v;
            leader = i;
        } else if v > second {
            second = v;
        }
    }
    (leader, second, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probability `p` on class `c`, the rest spread evenly over the other classes.
    fn one_hot(classes: usize, c: usize, p: f32) -> Vec<f32> {
        let rest = (1.0 - p) / (classes - 1) as f32;
        (0..classes)
            .map(|i| if i == c { p } else { rest })
            .collect()
    }

    fn config(k: usize, hold: u32, margin: f32) -> DecisionConfig {
        DecisionConfig {
            smoothing_windows: k,
            enter_threshold: 0.6,
            exit_threshold: 0.4,
            min_hold_ms: hold,
            margin,
        }
    }

    /// Feeds (class, probability) windows 100 ms apart; the decisions that changed something.
    fn run(d: &mut Decider, seq: &[(usize, f32)]) -> Vec<(u64, Decision)> {
        seq.iter()
            .enumerate()
            .map(|(i, &(c, p))| {
                let t = i as u64 * 100;
                (t, d.push(&one_hot(4, c, p), t))
            })
            .filter(|(_, d)| *d != Decision::Hold)
            .collect()
    }

    #[test]
    fn one_element_gives_one_show_and_one_clear() {
        let mut d = Decider::new(config(2, 100, 0.1), 4, Some(0)).unwrap();
        let mut seq = vec![(0, 0.9); 4];
        seq.extend(vec![(2, 0.95); 10]);
        seq.extend(vec![(0, 0.9); 6]);
        let out = run(&mut d, &seq);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(out[0].1, Decision::Show { class_id: 2, .. }));
        assert_eq!(out[1].1, Decision::Clear);
    }

    #[test]
    fn hold_time_delays_the_event_and_a_blip_gives_none() {
        let mut d = Decider::new(config(1, 300, 0.1), 4, Some(0)).unwrap();
        let out = run(
            &mut d,
            &[
                (1, 0.9),
                (1, 0.9),
                (0, 0.9),
                (1, 0.9),
                (1, 0.9),
                (1, 0.9),
                (1, 0.9),
            ],
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            out[0].0, 600,
            "sent 300 ms after the episode opened at t=300"
        );
    }

    #[test]
    fn the_class_with_the_most_evidence_is_named_not_the_first() {
        let mut d = Decider::new(config(1, 400, 0.1), 4, Some(0)).unwrap();
        let mut seq = vec![(1, 0.9); 2];
        seq.extend(vec![(2, 0.9); 6]);
        let out = run(&mut d, &seq);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].0, 400);
        assert!(
            matches!(out[0].1, Decision::Show { class_id: 2, .. }),
            "{out:?}"
        );
    }

    #[test]
    fn no_event_until_one_class_leads_by_the_margin() {
        let seq = [(1, 0.9), (2, 0.9), (2, 0.9), (1, 0.9), (2, 0.9), (2, 0.9)];
        // At t=200 class 2 leads class 1 by 30 % of the evidence, later by less.
        let mut d = Decider::new(config(1, 100, 0.25), 4, Some(0)).unwrap();
        let out = run(&mut d, &seq);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            matches!(out[0], (200, Decision::Show { class_id: 2, .. })),
            "{out:?}"
        );
        let mut d = Decider::new(config(1, 100, 0.35), 4, Some(0)).unwrap();
        assert_eq!(run(&mut d, &seq), vec![]);
    }

    #[test]
    fn hysteresis_keeps_the_episode_open_between_thresholds() {
        let mut d = Decider::new(config(1, 0, 0.1), 4, Some(0)).unwrap();
        // Activity 0.97, 0.5, 0.45, 0.9 stays above the exit threshold: one episode, one event.
        let out = run(
            &mut d,
            &[(3, 0.9), (0, 0.5), (0, 0.55), (1, 0.7), (0, 0.65)],
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(out[0].1, Decision::Show { class_id: 3, .. }));
        assert_eq!(out[1], (400, Decision::Clear));
    }

    #[test]
    fn background_class_is_never_shown() {
        let mut d = Decider::new(config(1, 0, 0.1), 4, Some(0)).unwrap();
        let out = run(&mut d, &[(0, 0.99), (0, 0.99), (1, 0.9)]);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].1, Decision::Show { class_id: 1, .. }));
    }

    #[test]
    fn without_a_background_class_the_top_probability_is_the_activity() {
        let mut d = Decider::new(config(1, 0, 0.1), 4, None).unwrap();
        let out = run(&mut d, &[(1, 0.3), (1, 0.9), (1, 0.9), (2, 0.35), (2, 0.9)]);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(matches!(out[0], (100, Decision::Show { class_id: 1, .. })));
        assert_eq!(out[1], (300, Decision::Clear));
        assert!(matches!(out[2], (400, Decision::Show { class_id: 2, .. })));
    }

    #[test]
    fn bad_configs_are_refused() {
        assert_eq!(
            Decider::new(config(0, 0, 0.1), 4, None).unwrap_err(),
            DecisionConfigError::NoSmoothing
        );
        for exit_threshold in [0.8, 0.6] {
            let c = DecisionConfig {
                exit_threshold,
                ..config(1, 0, 0.1)
            };
            assert!(matches!(
                Decider::new(c, 4, None).unwrap_err(),
                DecisionConfigError::Hysteresis { .. }
            ));
        }
        assert_eq!(
            Decider::new(config(1, MAX_HOLD_MS + 1, 0.1), 4, None).unwrap_err(),
            DecisionConfigError::HoldTooLong(MAX_HOLD_MS + 1)
        );
        for c in [
            DecisionConfig {
                enter_threshold: 1.5,
                ..config(1, 0, 0.1)
            },
            config(1, 0, -0.1),
        ] {
            assert!(matches!(
                Decider::new(c, 4, None).unwrap_err(),
                DecisionConfigError::ThresholdRange { .. }
            ));
        }
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let c = DecisionConfig {
            smoothing_windows: 0,
            enter_threshold: 0.3,
            exit_threshold: 0.5,
            min_hold_ms: MAX_HOLD_MS,
            margin: 2.0,
        };
        let keys: Vec<&str> = c.problems().iter().map(|p| p.key()).collect();
        assert_eq!(keys, ["smoothing_windows", "margin", "exit_threshold"]);
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "smoothing_windows must be at least 1"
        );
        assert_eq!(
            c.problems()[2].to_string(),
            "exit_threshold must be below enter_threshold (0.3), found 0.5"
        );
        assert!(config(1, MAX_HOLD_MS, 1.0).problems().is_empty());
    }

    #[test]
    fn thresholds_serialise_in_their_shortest_form() {
        let v = serde_json::to_value(config(3, 400, 0.1)).unwrap();
        assert_eq!(v["enter_threshold"], serde_json::json!(0.6));
        assert_eq!(v["margin"], serde_json::json!(0.1));
        assert_eq!(v["min_hold_ms"], serde_json::json!(400));
    }

    #[test]
    fn reset_clears_a_shown_event() {
        let mut d = Decider::new(config(1, 0, 0.1), 4, None).unwrap();
        d.push(&one_hot(4, 1, 0.9), 0);
        assert_eq!(d.reset(), Decision::Clear);
        assert_eq!(d.reset(), Decision::Hold);
    }
}
