//! Event latency: from the capture of the newest frame of the deciding
//! window to the moment each output has taken the event (written it to its
//! socket, queued it for the serial line or the MQTT client).
//!
//! Figures are kept per output in fixed-size histograms (1 µs to 10 min, 3
//! significant digits), so a run of any length uses the same memory.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles of one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The output's name.
    pub output: String,
    /// Events measured.
    pub events: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Largest, milliseconds.
    pub max_ms: f64,
}

/// Event latencies of every output.
#[derive(Debug, Default)]
pub struct Latencies {
    outputs: Mutex<Vec<(String, Histogram<u64>)>>,
}

impl Latencies {
    /// Records one event's latency on `output`.
    pub fn record(&self, output: &str, latency: Duration) {
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        let at = match outputs.iter().position(|(name, _)| name == output) {
            Some(at) => at,
            None => {
                let h = Histogram::new_with_bounds(1, 600_000_000, 3)
                    .expect("constant histogram bounds are valid");
                outputs.push((output.to_string(), h));
                outputs.len() - 1
            }
        };
        outputs[at]
            .1
            .saturating_record(latency.as_micros().max(1) as u64);
    }

    /// The percentiles of every output that measured an event, in the order
    /// they first did.
    pub fn summaries(&self) -> Vec<Summary> {
        let outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        let ms = |us: u64| us as f64 / 1000.0;
        outputs
            .iter()
            .map(|(output, h)| Summary {
                output: output.clone(),
                events: h.len(),
                p50_ms: ms(h.value_at_quantile(0.5)),
                p90_ms: ms(h.value_at_quantile(0.9)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                max_ms: ms(h.max()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_keeps_its_own_percentiles() {
        let l = Latencies::default();
        for ms in 1..=100 {
            l.record("udp", Duration::from_millis(ms));
        }
        l.record("mqtt", Duration::from_secs(2));
        let s = l.summaries();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].output.as_str(), s[0].events), ("udp", 100));
        assert!((s[0].p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s[0].p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s[0].max_ms - 100.0).abs() < 0.1, "{s:?}");
        assert_eq!((s[1].output.as_str(), s[1].events), ("mqtt", 1));
        assert!((s[1].p50_ms - 2000.0).abs() < 2.0, "{s:?}");
    }
}
