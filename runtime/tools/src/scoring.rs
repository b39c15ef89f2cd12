//! Scoring recognised events against ground-truth element segments.
//!
//! An event matches a segment when it names the segment's class and comes
//! no earlier than the segment's start and no later than `tolerance_ms` after
//! its end (a window ends after the element it contains). Each segment and
//! each event match at most once, earliest first. Unmatched events are false
//! positives; unmatched segments are misses. The onset latency of a match is
//! the event's time minus the segment's start, in stream time.

use std::collections::BTreeSet;

use serde::Serialize;

/// One performed element, in stream milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First millisecond of the element.
    pub start_ms: u64,
    /// Millisecond just after the element.
    pub end_ms: u64,
    /// Its class.
    pub class_id: usize,
}

/// One recognised event, in stream milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// When the event was sent.
    pub t_ms: u64,
    /// The class it named.
    pub class_id: usize,
}

/// Precision, recall and onset latency of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamScore {
    /// Events sent.
    pub events: usize,
    /// Elements performed.
    pub segments: usize,
    /// Events that matched an element.
    pub matched: usize,
    /// matched / events (1 when no event was sent).
    pub precision: f64,
    /// matched / segments (1 when no element was performed).
    pub recall: f64,
    /// Median onset latency of the matches, ms.
    pub median_onset_ms: Option<f64>,
    /// 95th percentile onset latency of the matches, ms.
    pub p95_onset_ms: Option<f64>,
}

/// Scores `events` against `segments` (both in any order).
pub fn score(events: &[Detection], segments: &[Segment], tolerance_ms: u64) -> StreamScore {
    pooled(&[(events, segments, tolerance_ms)])
}

/// Scores several runs as one: counts are summed and the onset percentiles
/// are taken over every run's matches. Each run is `(events, segments,
/// tolerance_ms)`.
pub fn pooled(runs: &[(&[Detection], &[Segment], u64)]) -> StreamScore {
    let (mut events, mut segments) = (0, 0);
    let mut onsets = Vec::new();
    for &(e, s, tolerance_ms) in runs {
        events += e.len();
        segments += s.len();
        onsets.extend(onsets_of(e, s, tolerance_ms));
    }
    let matched = onsets.len();
    onsets.sort_by(f64::total_cmp);
    let ratio = |n: usize, d: usize| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    StreamScore {
        events,
        segments,
        matched,
        precision: ratio(matched, events),
        recall: ratio(matched, segments),
        median_onset_ms: percentile(&onsets, 0.5),
        p95_onset_ms: percentile(&onsets, 0.95),
    }
}

/// Precision and recall of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The class.
    pub class_id: usize,
    /// Its label.
    pub label: String,
    /// Events that named it.
    pub events: usize,
    /// Its elements performed.
    pub segments: usize,
    /// Its events that matched one of its elements.
    pub matched: usize,
    /// matched / events (1 when it was never named).
    pub precision: f64,
    /// matched / segments (1 when it was never performed).
    pub recall: f64,
}

/// Scores every class that was performed or named, in class order. An event
/// only ever matches an element of its own class, so a class's figures are
/// those of its events against its elements, and they add up to [`score`]'s.
/// `labels[c]` names class `c` (`class c` where it has no label).
pub fn per_class(
    events: &[Detection],
    segments: &[Segment],
    tolerance_ms: u64,
    labels: &[String],
) -> Vec<ClassScore> {
    let classes: BTreeSet<usize> = events
        .iter()
        .map(|e| e.class_id)
        .chain(segments.iter().map(|s| s.class_id))
        .collect();
    classes
        .into_iter()
        .map(|c| {
            let e: Vec<Detection> = events.iter().filter(|e| e.class_id == c).copied().collect();
            let s: Vec<Segment> = segments
                .iter()
                .filter(|s| s.class_id == c)
                .copied()
                .collect();
            let score = score(&e, &s, tolerance_ms);
            ClassScore {
                class_id: c,
                label: labels
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("class {c}")),
                events: score.events,
                segments: score.segments,
                matched: score.matched,
                precision: score.precision,
                recall: score.recall,
            }
        })
        .collect()
}

impl StreamScore {
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        let sum = self.precision + self.recall;
        if sum == 0.0 {
            0.0
        } else {
            2.0 * self.precision * self.recall / sum
        }
    }
}

/// Onset latencies of the events that match a segment.
fn onsets_of(events: &[Detection], segments: &[Segment], tolerance_ms: u64) -> Vec<f64> {
    let mut events: Vec<Detection> = events.to_vec();
    events.sort_by_key(|e| e.t_ms);
    let mut segments: Vec<Segment> = segments.to_vec();
    segments.sort_by_key(|s| s.start_ms);
    let mut taken = vec![false; segments.len()];
    let mut onsets = Vec::new();
    for e in &events {
        let hit = segments.iter().enumerate().position(|(i, s)| {
            !taken[i]
                && s.class_id == e.class_id
                && e.t_ms >= s.start_ms
                && e.t_ms <= s.end_ms + tolerance_ms
        });
        if let Some(i) = hit {
            taken[i] = true;
            onsets.push((e.t_ms - segments[i].start_ms) as f64);
        }
    }
    onsets
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_ms: u64, end_ms: u64, class_id: usize) -> Segment {
        Segment {
            start_ms,
            end_ms,
            class_id,
        }
    }

    fn det(t_ms: u64, class_id: usize) -> Detection {
        Detection { t_ms, class_id }
    }

    #[test]
    fn perfect_run() {
        let s = score(
            &[det(900, 1), det(3100, 2)],
            &[seg(0, 500, 1), seg(2500, 3000, 2)],
            600,
        );
        assert_eq!((s.matched, s.precision, s.recall), (2, 1.0, 1.0));
        assert_eq!(s.median_onset_ms, Some(600.0));
        assert_eq!(s.p95_onset_ms, Some(900.0));
    }

    #[test]
    fn repeats_wrong_classes_and_late_events_are_false_positives() {
        let segments = [seg(0, 500, 1), seg(2000, 2500, 3)];
        let events = [det(700, 1), det(800, 1), det(2600, 2), det(9000, 3)];
        let s = score(&events, &segments, 600);
        assert_eq!(s.matched, 1);
        assert_eq!(s.precision, 0.25);
        assert_eq!(s.recall, 0.5);
    }

    #[test]
    fn per_class_figures_add_up_to_the_whole() {
        let segments = [seg(0, 500, 1), seg(2000, 2500, 3), seg(4000, 4500, 1)];
        let events = [det(700, 1), det(800, 1), det(2600, 2), det(4100, 1)];
        let labels = ["a", "b", "c"].map(String::from);
        let classes = per_class(&events, &segments, 600, &labels);
        let whole = score(&events, &segments, 600);
        assert_eq!(
            classes.iter().map(|c| c.class_id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(
            classes.iter().map(|c| c.matched).sum::<usize>(),
            whole.matched
        );
        assert_eq!(
            classes.iter().map(|c| c.events).sum::<usize>(),
            whole.events
        );
        assert_eq!(
            classes.iter().map(|c| c.segments).sum::<usize>(),
            whole.segments
        );
        assert_eq!(
            (classes[0].label.as_str(), classes[0].precision),
            ("b", 2.0 / 3.0)
        );
        assert_eq!((classes[0].recall, classes[1].precision), (1.0, 0.0));
        assert_eq!(
            (classes[2].label.as_str(), classes[2].recall),
            ("class 3", 0.0)
        );
    }

    #[test]
    fn events_before_the_element_do_not_count() {
        let s = score(&[det(100, 1)], &[seg(200, 700, 1)], 600);
        assert_eq!(s.matched, 0);
        assert_eq!(s.median_onset_ms, None);
    }

    #[test]
    fn pooled_runs_sum_counts_and_share_onsets() {
        let a = ([det(900, 1)], [seg(0, 500, 1)]);
        let b = (
            [det(300, 2), det(700, 3)],
            [seg(0, 500, 2), seg(100, 600, 1)],
        );
        let runs: [(&[Detection], &[Segment], u64); 2] = [(&a.0, &a.1, 600), (&b.0, &b.1, 600)];
        let s = pooled(&runs);
        assert_eq!((s.events, s.segments, s.matched), (3, 3, 2));
        assert_eq!(s.median_onset_ms, Some(300.0));
        assert_eq!(s.p95_onset_ms, Some(900.0));
        assert!((s.f1() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn empty_runs_are_perfect_not_nan() {
        let s = score(&[], &[], 0);
        assert_eq!((s.precision, s.recall), (1.0, 1.0));
    }
}
