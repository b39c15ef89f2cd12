//! The ARTS/1 scoreboard: the serial link on the device, the reference
//! emulator of the board, and the panel it shows.
//!
//! - [`Link`]: the device side, an [`EventSink`](crate::sink::EventSink) on
//!   its own thread, configured by [`LinkConfig`].
//! - [`emulator`]: the board side, run by `artrt scoreboard-sim` on a real
//!   port or built in behind a pseudo-terminal pair ([`emulator::spawn_pty`]).
//! - [`panel`]: what a venue sees, drawn with `embedded-graphics`.

mod config;
pub mod emulator;
mod link;
pub mod panel;
pub mod serial;

pub use config::{LinkConfig, LinkConfigError, MAX_BAUD, MIN_BAUD};
pub use emulator::{Board, Emulator};
pub use link::{Link, LinkError, LinkStats, per_mille};
pub use panel::PanelState;
