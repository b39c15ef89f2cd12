//! Network event outputs: the JSON messages of [`crate::message`] over UDP,
//! TCP, MQTT and HTTP, each an [`EventSink`](crate::sink::EventSink).
//!
//! An output is named by a URL, in the board profile (`outputs.publish`) or
//! with `artrt run --publish URL`:
//!
//! | URL | what it does |
//! | --- | --- |
//! | `udp://HOST:PORT` | one datagram per message |
//! | `tcp://HOST:PORT` | JSON lines to a server; reconnects with backoff and then sends the current state first, never a backlog |
//! | `mqtt://HOST[:PORT][/PREFIX]` | events at QoS 1 on `PREFIX/events`, the current state retained on `PREFIX/state`, heartbeats on `PREFIX/health`, `online`/`offline` retained on `PREFIX/status` (the last will); `PREFIX` defaults to `artrt/DEVICE`, the port to 1883 |
//! | `http://ADDR:PORT` | an HTTP endpoint on that address (`127.0.0.1` unless given): `/health` (JSON), `/metrics` (Prometheus text), `/events` (server-sent events), `/preview.png` (each camera's newest clip with its region attention); anything but GET is refused |
//!
//! An output whose peer is unreachable, at start or later, keeps trying in
//! the background and never holds up the pipeline or the other outputs.

mod http;
mod mqtt;
mod tcp;
mod udp;
mod url;

use std::sync::Arc;

pub use self::http::HttpOutput;
pub use self::mqtt::MqttOutput;
pub use self::tcp::TcpOutput;
pub use self::udp::UdpOutput;
pub use self::url::{PublishUrl, UrlError};
use crate::latency::Latencies;
use crate::sink::{DynSink, boxed};

/// Why an output could not start.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The URL is not one of ours.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A local socket could not be opened (an address in use, say).
    #[error("{url}: {message}")]
    Open {
        /// The output's URL.
        url: String,
        /// Why.
        message: String,
    },
}

/// Opens the output `url` names, for messages from `device`; the HTTP
/// endpoint reports `latencies` on `/metrics`.
pub fn open(
    url: &PublishUrl,
    device: &str,
    latencies: Arc<Latencies>,
) -> Result<DynSink, PublishError> {
    let failed = |e: std::io::Error| PublishError::Open {
        url: url.to_string(),
        message: e.to_string(),
    };
    Ok(match url {
        PublishUrl::Udp { host, port } => {
            boxed(UdpOutput::new(host, *port, device).map_err(failed)?)
        }
        PublishUrl::Tcp { host, port } => boxed(TcpOutput::spawn(host, *port, device)),
        PublishUrl::Mqtt { host, port, prefix } => {
            let prefix = prefix.clone().unwrap_or_else(|| format!("artrt/{device}"));
            boxed(MqttOutput::spawn(host, *port, &prefix, device))
        }
        PublishUrl::Http { addr } => {
            boxed(HttpOutput::bind(*addr, device, latencies).map_err(failed)?)
        }
    })
}
