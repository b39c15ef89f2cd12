//! The ARTS/1 scoreboard link on the device.
//!
//! - [`Link`]: the device side, an [`EventSink`](crate::sink::EventSink) on
//!   its own thread, configured by [`LinkConfig`].
//! - [`serial`]: opening a port, reading what arrives, reconnecting with
//!   backoff; shared with the board emulator of `artrt-tools`.

mod config;
mod link;
pub mod serial;

pub use config::{LinkConfig, LinkConfigError, MAX_BAUD, MAX_DISPLAY_MS, MIN_BAUD};
pub use link::{ElementCounts, Link, LinkCounters, LinkError, LinkStats, per_mille};
