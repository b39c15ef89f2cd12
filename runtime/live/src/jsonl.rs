//! Events as JSON lines, one object a line, for logs and other programs.

use std::io::{self, Write};

use serde::Serialize;

use crate::sink::{ActionEvent, EventSink, Health};

/// One line of the event log.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    /// An action was recognised.
    Action {
        class_id: u16,
        label: &'a str,
        confidence: f32,
        t_ms: u32,
    },
    /// The action line was cleared.
    Clear { t_ms: u32 },
    /// Device health.
    Health {
        uptime_s: u32,
        fps: f32,
        backend: &'a str,
        status: &'a str,
    },
}

/// Writes every decision as a JSON line to `W`; heartbeats only when asked.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
    with_health: bool,
}

impl<W: Write> JsonLines<W> {
    /// A log of actions and clears; `with_health` adds the heartbeats.
    pub fn new(out: W, with_health: bool) -> Self {
        Self { out, with_health }
    }

    fn write(&mut self, line: &Line<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    type Error = io::Error;

    fn action(&mut self, e: &ActionEvent) -> io::Result<()> {
        self.write(&Line::Action {
            class_id: e.class_id,
            label: &e.label,
            confidence: e.confidence,
            t_ms: e.t_ms,
        })
    }

    fn clear(&mut self, t_ms: u32) -> io::Result<()> {
        self.write(&Line::Clear { t_ms })
    }

    fn health(&mut self, h: &Health) -> io::Result<()> {
        if !self.with_health {
            return Ok(());
        }
        self.write(&Line::Health {
            uptime_s: h.uptime_s,
            fps: h.fps,
            backend: h.backend.as_str(),
            status: h.status.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_objects_with_a_type() {
        let mut log = JsonLines::new(Vec::new(), false);
        log.action(&ActionEvent {
            class_id: 3,
            label: "salto \"x\"".into(),
            confidence: 0.5,
            t_ms: 10,
        })
        .unwrap();
        log.health(&Health {
            uptime_s: 1,
            fps: 30.0,
            backend: artrt_infer::BackendKind::Tract,
            status: crate::health::Status::Ok,
        })
        .unwrap();
        log.clear(20).unwrap();
        let text = String::from_utf8(log.out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "health is off: {text}");
        assert_eq!(lines[0]["type"], "action");
        assert_eq!(lines[0]["label"], "salto \"x\"");
        assert_eq!(lines[1], serde_json::json!({"type": "clear", "t_ms": 20}));
    }
}
