//! The JSON event schema, version 1: what the event log and every network
//! output (UDP, TCP, MQTT, HTTP) carry, one JSON object per message.
//!
//! ```json
//! {"schema":1,"device":"gym-nano-1","camera":"cam0","seq":17,"unix_ms":1796000000123,
//!  "type":"action","class_id":3,"label":"back tuck","confidence":0.93,"t_ms":41230,"latency_ms":84.2}
//! ```
//!
//! Every message has `schema` (this version, 1), `device` (the host name),
//! `unix_ms` (wall clock when it was sent) and `type`. Events (`action`,
//! `clear`) also carry `camera`, `seq` (one count per device over all its
//! events and cameras, so a consumer of several outputs can drop
//! duplicates and see gaps), `t_ms` (stream time of the newest frame of the
//! deciding window) and `latency_ms` (from that frame's capture to this
//! message). Heartbeats (`health`) carry a camera's state instead, with
//! its `camera` (none before a model serves: then the device's). A
//! later version only adds fields; a change of meaning gets a new `schema`.
//! The full table is in `docs/events.md`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::sink::{ActionEvent, ClearEvent, Health};

/// The schema version messages carry.
pub const SCHEMA: u32 = 1;

/// What a message says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body<'a> {
    /// An action was recognised.
    Action {
        /// Index in the bundle's label list.
        class_id: u16,
        /// The bundle's label.
        label: &'a str,
        /// Smoothed confidence, 0..=1.
        confidence: f32,
        /// Stream milliseconds of the newest frame of the deciding window.
        t_ms: u32,
        /// Capture to this message, milliseconds.
        latency_ms: f64,
    },
    /// The action shown is over.
    Clear {
        /// Stream milliseconds of the newest frame of the deciding window.
        t_ms: u32,
        /// Capture to this message, milliseconds.
        latency_ms: f64,
    },
    /// Device health.
    Health {
        /// Seconds since the runtime started.
        uptime_s: u32,
        /// Camera frames per second.
        fps: f32,
        /// The backend serving (or meant to serve).
        backend: &'a str,
        /// `OK`, `DEGRADED`, `NOCAM` or `NOMODEL`, as on the scoreboard line.
        status: &'a str,
    },
}

/// One message of the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message<'a> {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The device's host name.
    pub device: &'a str,
    /// The camera, for events and a camera's heartbeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera: Option<&'a str>,
    /// The device's event sequence number, for events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Wall clock when the message was made, Unix milliseconds.
    pub unix_ms: u64,
    /// What it says.
    #[serde(flatten)]
    pub body: Body<'a>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn latency_ms(captured: Instant) -> f64 {
    (captured.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

impl<'a> Message<'a> {
    /// An event's message: the envelope of `camera`'s event `seq`.
    fn event(device: &'a str, camera: &'a str, seq: u64, body: Body<'a>) -> Message<'a> {
        Message {
            schema: SCHEMA,
            device,
            camera: Some(camera),
            seq: Some(seq),
            unix_ms: unix_ms(),
            body,
        }
    }

    /// The message of an action.
    pub fn action(device: &'a str, e: &'a ActionEvent) -> Message<'a> {
        let body = Body::Action {
            class_id: e.class_id,
            label: &e.label,
            confidence: e.confidence,
            t_ms: e.t_ms,
            latency_ms: latency_ms(e.captured),
        };
        Self::event(device, &e.camera, e.seq, body)
    }

    /// The message of a clear.
    pub fn clear(device: &'a str, e: &'a ClearEvent) -> Message<'a> {
        let body = Body::Clear {
            t_ms: e.t_ms,
            latency_ms: latency_ms(e.captured),
        };
        Self::event(device, &e.camera, e.seq, body)
    }

    /// The message of a heartbeat: a camera's, or the device's before a
    /// model serves.
    pub fn health(device: &'a str, h: &'a Health) -> Message<'a> {
        Message {
            schema: SCHEMA,
            device,
            camera: h.camera.as_deref(),
            seq: None,
            unix_ms: unix_ms(),
            body: Body::Health {
                uptime_s: h.uptime_s,
                fps: h.fps,
                backend: h.backend.as_str(),
                status: h.status.as_str(),
            },
        }
    }

    /// The message as one line of JSON, without the newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages always serialise")
    }
}

/// This machine's host name (`artrt` when it cannot be read).
pub fn device_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "artrt".into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_action_carries_the_envelope_and_its_latency() {
        let e = ActionEvent {
            class_id: 3,
            label: "back tuck".into(),
            confidence: 0.5,
            t_ms: 41230,
            camera: "cam0".into(),
            seq: 17,
            captured: Instant::now() - Duration::from_millis(80),
        };
        let v: serde_json::Value =
            serde_json::from_str(&Message::action("gym", &e).to_json()).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["type"], "action");
        assert_eq!(v["device"], "gym");
        assert_eq!(v["camera"], "cam0");
        assert_eq!(v["seq"], 17);
        assert_eq!(v["label"], "back tuck");
        assert_eq!(v["t_ms"], 41230);
        assert!(v["latency_ms"].as_f64().unwrap() >= 80.0, "{v}");
        assert!(v["unix_ms"].as_u64().unwrap() > 1_700_000_000_000, "{v}");
    }

    #[test]
    fn a_heartbeat_has_its_camera_if_any_and_no_sequence_number() {
        let mut h = Health {
            uptime_s: 5,
            fps: 30.0,
            backend: artrt_infer::BackendKind::OrtCpu,
            status: crate::health::Status::Degraded,
            camera: None,
        };
        let v: serde_json::Value =
            serde_json::from_str(&Message::health("gym", &h).to_json()).unwrap();
        assert_eq!(v["type"], "health");
        assert_eq!(v["status"], "DEGRADED");
        assert_eq!(v["backend"], "ort-cpu");
        assert!(v.get("seq").is_none() && v.get("camera").is_none(), "{v}");
        h.camera = Some("cam1".into());
        let v: serde_json::Value =
            serde_json::from_str(&Message::health("gym", &h).to_json()).unwrap();
        assert_eq!(v["camera"], "cam1");
        assert!(v.get("seq").is_none(), "{v}");
    }
}
