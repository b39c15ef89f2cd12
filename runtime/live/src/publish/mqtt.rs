//! `mqtt://HOST[:PORT][/PREFIX]`: events and state through an MQTT broker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;

use rumqttc::{Client, ClientError, Connection, Event, LastWill, MqttOptions, Packet, QoS};

use crate::message::Message;
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health};

/// Messages the client holds for the broker while it is away; beyond, new
/// messages are refused (and logged), never queued without bound.
pub const QUEUE: usize = 256;

/// Publishes to a broker through `rumqttc`:
///
/// - `PREFIX/events`: actions and clears, QoS 1 (re-sent after a broker
///   restart until acknowledged);
/// - `PREFIX/state`: the current state (the last action or clear of any
///   camera), QoS 1, retained, so a subscriber that comes late learns it at
///   once; `PREFIX/state/CAMERA` the same per camera;
/// - `PREFIX/health`: heartbeats, QoS 0;
/// - `PREFIX/status`: `online`, retained; the broker publishes the last will
///   `offline` (retained) when the device vanishes.
///
/// A background thread drives the connection and reconnects by itself.
pub struct MqttOutput {
    client: Client,
    prefix: String,
    device: String,
    stopping: Arc<AtomicBool>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

/// Longest a stop waits for the client to say goodbye to the broker.
pub const STOP_WAIT: Duration = Duration::from_secs(2);

impl MqttOutput {
    /// Starts the client for the broker at `host:port`.
    pub fn spawn(host: &str, port: u16, prefix: &str, device: &str) -> MqttOutput {
        let status = format!("{prefix}/status");
        let id: String = format!("artrt-{device}-{prefix}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        let mut options = MqttOptions::new(id, host, port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_last_will(LastWill::new(&status, "offline", QoS::AtLeastOnce, true));
        let (client, connection) = Client::new(options, QUEUE);
        let name = format!("mqtt://{host}:{port}");
        let stopping = Arc::new(AtomicBool::new(false));
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let thread = {
            let (client, stopping) = (client.clone(), Arc::clone(&stopping));
            std::thread::Builder::new()
                .name("artrt-mqtt".into())
                .spawn(move || {
                    drive(connection, &client, &status, &name, &stopping);
                    let _ = done_tx.send(());
                })
                .ok()
        };
        MqttOutput {
            client,
            prefix: prefix.to_string(),
            device: device.to_string(),
            stopping,
            done,
            thread,
        }
    }

    fn publish(&self, topic: &str, qos: QoS, retain: bool, line: &str) -> Result<(), ClientError> {
        self.client.try_publish(
            format!("{}/{topic}", self.prefix),
            qos,
            retain,
            line.as_bytes().to_vec(),
        )
    }

    fn event(&self, camera: &str, line: String) -> Result<(), ClientError> {
        self.publish("events", QoS::AtLeastOnce, false, &line)?;
        self.publish("state", QoS::AtLeastOnce, true, &line)?;
        self.publish(&format!("state/{camera}"), QoS::AtLeastOnce, true, &line)
    }
}

/// Runs the connection until the client disconnects, or until a stop while
/// the broker is away; announces `online` after every (re)connection.
fn drive(
    mut connection: Connection,
    client: &Client,
    status: &str,
    name: &str,
    stopping: &AtomicBool,
) {
    let mut up = false;
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                log::info!("{name}: connected");
                up = true;
                let _ = client.try_publish(status, QoS::AtLeastOnce, true, b"online".to_vec());
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => break,
            Err(_) if stopping.load(Ordering::SeqCst) => break,
            Err(e) => {
                if up {
                    log::warn!("{name}: connection lost: {e}; reconnecting");
                } else {
                    log::debug!("{name}: {e}");
                }
                up = false;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

impl Drop for MqttOutput {
    fn drop(&mut self) {
        // A clean stop: `offline` first (a disconnect sends no will).
        let status = format!("{}/status", self.prefix);
        let _ = self
            .client
            .try_publish(status, QoS::AtLeastOnce, true, b"offline".to_vec());
        let _ = self.client.try_disconnect();
        self.stopping.store(true, Ordering::SeqCst);
        // A broker that does not answer leaves the thread to end with the process.
        if self.done.recv_timeout(STOP_WAIT).is_ok()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

impl EventSink for MqttOutput {
    type Error = ClientError;
    fn action(&mut self, e: &ActionEvent) -> Result<(), ClientError> {
        self.event(&e.camera, Message::action(&self.device, e).to_json())
    }
    fn clear(&mut self, e: &ClearEvent) -> Result<(), ClientError> {
        self.event(&e.camera, Message::clear(&self.device, e).to_json())
    }
    fn health(&mut self, h: &Health) -> Result<(), ClientError> {
        let line = Message::health(&self.device, h).to_json();
        self.publish("health", QoS::AtMostOnce, false, &line)
    }
}
