//! Choosing decision settings from recorded runs.
//!
//! A [`Recording`] keeps what the model said about every window of a stream
//! (the window's end and its class probabilities) and what was really
//! performed. [`replay`] feeds a recording through the real [`Decider`], so a
//! [`DecisionConfig`] can be scored without running the model again, and
//! [`search`] scores a list of them (a [`Grid`]'s, for example) on several recordings
//! pooled, best first.

use serde::Serialize;

use crate::scoring::{self, Detection, Segment, StreamScore};
use artrt_live::decision::{Decider, Decision, DecisionConfig, DecisionConfigError};

/// One window's end (stream milliseconds) and its class probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Stream time of the window's newest frame, ms.
    pub t_ms: u64,
    /// Class probabilities.
    pub probs: Vec<f32>,
}

/// What a model said about one stream, and what was performed in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Every window, oldest first.
    pub windows: Vec<Window>,
    /// The elements performed.
    pub segments: Vec<Segment>,
    /// Milliseconds after an element's end within which its event still counts.
    pub tolerance_ms: u64,
}

/// The events a decider with `config` sends on `windows`.
pub fn replay(
    config: &DecisionConfig,
    classes: usize,
    background: Option<usize>,
    windows: &[Window],
) -> Result<Vec<Detection>, DecisionConfigError> {
    let mut decider = Decider::new(config.clone(), classes, background)?;
    Ok(windows
        .iter()
        .filter_map(|w| match decider.push(&w.probs, w.t_ms) {
            Decision::Show { class_id, .. } => Some(Detection {
                t_ms: w.t_ms,
                class_id,
            }),
            Decision::Hold | Decision::Clear => None,
        })
        .collect())
}

/// The values tried for each decision setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Values of [`DecisionConfig::smoothing_windows`].
    pub smoothing_windows: Vec<usize>,
    /// Values of [`DecisionConfig::enter_threshold`].
    pub enter_threshold: Vec<f32>,
    /// Values of [`DecisionConfig::exit_threshold`].
    pub exit_threshold: Vec<f32>,
    /// Values of [`DecisionConfig::min_hold_ms`].
    pub min_hold_ms: Vec<u32>,
    /// Values of [`DecisionConfig::margin`].
    pub margin: Vec<f32>,
}

impl Default for Grid {
    fn default() -> Self {
        Self {
            smoothing_windows: (1..=8).collect(),
            enter_threshold: vec![0.5, 0.6, 0.7, 0.8, 0.9],
            exit_threshold: vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            min_hold_ms: (0..=8).map(|k| k * 100).collect(),
            margin: vec![0.0, 0.05, 0.1, 0.2],
        }
    }
}

impl Grid {
    /// Every combination that is a valid configuration, simplest first
    /// (the order of each list, smoothing outermost).
    pub fn configs(&self) -> Vec<DecisionConfig> {
        let mut out = Vec::new();
        for &smoothing_windows in &self.smoothing_windows {
            for &enter_threshold in &self.enter_threshold {
                for &exit_threshold in &self.exit_threshold {
                    for &min_hold_ms in &self.min_hold_ms {
                        for &margin in &self.margin {
                            let c = DecisionConfig {
                                smoothing_windows,
                                enter_threshold,
                                exit_threshold,
                                min_hold_ms,
                                margin,
                            };
                            if c.validate().is_ok() {
                                out.push(c);
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// A configuration and how it scored.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The settings.
    pub config: DecisionConfig,
    /// Score on all recordings pooled.
    pub score: StreamScore,
    /// Score on each recording.
    pub per_recording: Vec<StreamScore>,
}

/// Scores `config` on each recording and on all of them pooled.
pub fn evaluate(
    config: &DecisionConfig,
    classes: usize,
    background: Option<usize>,
    recordings: &[Recording],
) -> Result<Candidate, DecisionConfigError> {
    let events = recordings
        .iter()
        .map(|r| replay(config, classes, background, &r.windows))
        .collect::<Result<Vec<_>, _>>()?;
    let runs: Vec<(&[Detection], &[Segment], u64)> = recordings
        .iter()
        .zip(&events)
        .map(|(r, e)| (e.as_slice(), r.segments.as_slice(), r.tolerance_ms))
        .collect();
    Ok(Candidate {
        config: config.clone(),
        score: scoring::pooled(&runs),
        per_recording: runs.iter().map(|r| scoring::pooled(&[*r])).collect(),
    })
}

/// Scores every configuration of `configs` on `recordings` and returns those
/// whose pooled median onset latency is at most `max_onset_ms`, best first:
/// highest F1 of event precision and recall, then lowest median onset, then
/// the simplest (earliest in `configs`).
pub fn search(
    configs: &[DecisionConfig],
    classes: usize,
    background: Option<usize>,
    recordings: &[Recording],
    max_onset_ms: f64,
) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = configs
        .iter()
        .filter_map(|c| evaluate(c, classes, background, recordings).ok())
        .filter(|c| c.score.median_onset_ms.is_none_or(|m| m <= max_onset_ms))
        .collect();
    found.sort_by(|a, b| {
        b.score.f1().total_cmp(&a.score.f1()).then_with(|| {
            let onset = |c: &Candidate| c.score.median_onset_ms.unwrap_or(f64::INFINITY);
            onset(a).total_cmp(&onset(b))
        })
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: usize = 3;
    const BACKGROUND: Option<usize> = Some(0);

    /// Windows 100 ms apart, each with probability `p` on its class and the
    /// rest on the others evenly.
    fn windows(seq: &[(usize, f32)]) -> Vec<Window> {
        seq.iter()
            .enumerate()
            .map(|(i, &(c, p))| Window {
                t_ms: i as u64 * 100,
                probs: (0..CLASSES)
                    .map(|k| if k == c { p } else { (1.0 - p) / 2.0 })
                    .collect(),
            })
            .collect()
    }

    fn config(smoothing_windows: usize, min_hold_ms: u32) -> DecisionConfig {
        DecisionConfig {
            smoothing_windows,
            enter_threshold: 0.6,
            exit_threshold: 0.3,
            min_hold_ms,
            margin: 0.0,
        }
    }

    /// Background, one window that looks like class 2, background, then
    /// class 1 performed from 1000 to 1800 ms.
    fn blip_then_element() -> Recording {
        let mut seq = vec![(0, 0.9); 5];
        seq.push((2, 0.9));
        seq.extend(vec![(0, 0.9); 4]);
        seq.extend(vec![(1, 0.9); 8]);
        seq.extend(vec![(0, 0.9); 6]);
        Recording {
            windows: windows(&seq),
            segments: vec![Segment {
                start_ms: 1000,
                end_ms: 1800,
                class_id: 1,
            }],
            tolerance_ms: 500,
        }
    }

    #[test]
    fn replay_sends_what_the_decider_sends() {
        let rec = blip_then_element();
        let events = replay(&config(1, 0), CLASSES, BACKGROUND, &rec.windows).unwrap();
        assert_eq!(
            events,
            [
                Detection {
                    t_ms: 500,
                    class_id: 2
                },
                Detection {
                    t_ms: 1000,
                    class_id: 1
                }
            ]
        );
        let held = replay(&config(1, 200), CLASSES, BACKGROUND, &rec.windows).unwrap();
        assert_eq!(
            held,
            [Detection {
                t_ms: 1200,
                class_id: 1
            }]
        );
        let bad = DecisionConfig {
            exit_threshold: 0.9,
            ..config(1, 0)
        };
        assert!(replay(&bad, CLASSES, BACKGROUND, &rec.windows).is_err());
    }

    #[test]
    fn grid_keeps_only_valid_configs_in_order() {
        let grid = Grid {
            smoothing_windows: vec![1, 2],
            enter_threshold: vec![0.5, 0.7],
            exit_threshold: vec![0.5, 0.6],
            min_hold_ms: vec![0],
            margin: vec![0.0],
        };
        let configs = grid.configs();
        let pairs: Vec<(usize, f32, f32)> = configs
            .iter()
            .map(|c| (c.smoothing_windows, c.enter_threshold, c.exit_threshold))
            .collect();
        assert_eq!(
            pairs,
            [(1, 0.7, 0.5), (1, 0.7, 0.6), (2, 0.7, 0.5), (2, 0.7, 0.6)]
        );
        assert!(Grid::default().configs().len() > 1000);
    }

    #[test]
    fn search_prefers_a_config_that_ignores_the_blip() {
        let rec = blip_then_element();
        let naive = evaluate(
            &config(1, 0),
            CLASSES,
            BACKGROUND,
            std::slice::from_ref(&rec),
        )
        .unwrap();
        assert_eq!((naive.score.matched, naive.score.events), (1, 2));
        let grid = Grid {
            smoothing_windows: vec![1],
            min_hold_ms: vec![0, 100, 200, 300],
            ..Grid::default()
        };
        let ranked = search(
            &grid.configs(),
            CLASSES,
            BACKGROUND,
            &[rec.clone(), rec],
            10_000.0,
        );
        let best = &ranked[0];
        assert_eq!((best.score.precision, best.score.recall), (1.0, 1.0));
        assert_eq!(best.per_recording.len(), 2);
        assert_eq!(best.config.min_hold_ms, 100, "the shortest hold that works");
        assert!(
            ranked
                .windows(2)
                .all(|w| w[0].score.f1() >= w[1].score.f1())
        );
    }

    #[test]
    fn search_drops_configs_slower_than_the_onset_limit() {
        let rec = blip_then_element();
        let grid = Grid {
            smoothing_windows: vec![1],
            enter_threshold: vec![0.6],
            exit_threshold: vec![0.3],
            min_hold_ms: vec![100, 400],
            margin: vec![0.0],
        };
        let all = search(
            &grid.configs(),
            CLASSES,
            BACKGROUND,
            std::slice::from_ref(&rec),
            10_000.0,
        );
        assert_eq!(all.len(), 2);
        let fast = search(&grid.configs(), CLASSES, BACKGROUND, &[rec], 300.0);
        assert_eq!(fast.len(), 1);
        assert_eq!(fast[0].config.min_hold_ms, 100);
        assert_eq!(fast[0].score.median_onset_ms, Some(100.0));
    }
}
