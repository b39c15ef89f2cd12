//! Events as JSON lines, one object a line, for logs and other programs.

use std::io::{self, Write};

use crate::message::{Message, device_name};
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health};

/// Writes every decision as a JSON line ([`Message`], schema 1) to `W`;
/// heartbeats only when asked.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
    with_health: bool,
    device: String,
}

impl<W: Write> JsonLines<W> {
    /// A log of actions and clears; `with_health` adds the heartbeats.
    pub fn new(out: W, with_health: bool) -> Self {
        Self {
            out,
            with_health,
            device: device_name(),
        }
    }

    fn write(out: &mut W, message: &Message<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut *out, message)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    type Error = io::Error;

    fn action(&mut self, e: &ActionEvent) -> io::Result<()> {
        Self::write(&mut self.out, &Message::action(&self.device, e))
    }

    fn clear(&mut self, e: &ClearEvent) -> io::Result<()> {
        Self::write(&mut self.out, &Message::clear(&self.device, e))
    }

    fn health(&mut self, h: &Health) -> io::Result<()> {
        if !self.with_health {
            return Ok(());
        }
        Self::write(&mut self.out, &Message::health(&self.device, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_objects_with_a_type() {
        let mut log = JsonLines::new(Vec::new(), false);
        let captured = std::time::Instant::now();
        log.action(&ActionEvent {
            class_id: 3,
            label: "salto \"x\"".into(),
            confidence: 0.5,
            t_ms: 10,
            camera: "cam0".into(),
            seq: 1,
            captured,
        })
        .unwrap();
        log.health(&Health {
            uptime_s: 1,
            fps: 30.0,
            backend: artrt_infer::BackendKind::Tract,
            status: crate::health::Status::Ok,
            camera: None,
        })
        .unwrap();
        log.clear(&ClearEvent {
            t_ms: 20,
            camera: "cam0".into(),
            seq: 2,
            captured,
        })
        .unwrap();
        let text = String::from_utf8(log.out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "health is off: {text}");
        assert_eq!(lines[0]["type"], "action");
        assert_eq!(lines[0]["label"], "salto \"x\"");
        assert_eq!(lines[1]["type"], "clear");
        assert_eq!(
            (lines[1]["t_ms"].as_u64(), lines[1]["seq"].as_u64()),
            (Some(20), Some(2))
        );
    }
}
