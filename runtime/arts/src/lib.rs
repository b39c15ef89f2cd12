//! ARTS/1, the scoreboard serial protocol between the `artrt` runtime (the
//! device) and a venue scoreboard controller (the board).
//!
//! `no_std` and free of heap allocation, so a scoreboard's firmware can use
//! the very same codec: [`crc16`], the [`Sentence`] types with their encoder,
//! [`Label::sanitize`] for the device side, and the incremental [`Parser`]
//! that resynchronises on `$` and says why it dropped a sentence.
//!
//! ```
//! use arts::{Event, Label, Parser, Sentence};
//!
//! // Device side: encode an event.
//! let event = Sentence::Event(Event {
//!     seq: 17,
//!     class_id: 3,
//!     label: Label::sanitize("salto backward tucked"),
//!     conf: 912,
//!     t_ms: 845_210,
//! });
//! let wire = event.encode().unwrap();
//! assert_eq!(&wire[..], b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n");
//!
//! // Board side: feed bytes as the UART delivers them.
//! let mut parser = Parser::new();
//! let mut accepted = None;
//! for &byte in wire.iter() {
//!     match parser.push(byte) {
//!         Some(Ok(sentence)) => accepted = Some(sentence),
//!         Some(Err(reason)) => panic!("dropped: {reason}"),
//!         None => {}
//!     }
//! }
//! assert_eq!(accepted, Some(event));
//! ```
#![no_std]

#[cfg(test)]
extern crate std;

mod crc;
mod label;
mod parser;
mod sentence;

pub use crc::crc16;
pub use label::{Label, LabelError, MAX_LABEL_LEN, is_text_byte};
pub use parser::{DropReason, Parser, parse};
pub use sentence::{
    Backend, EncodeError, Encoded, Event, Heartbeat, Kind, MAX_CONF, MAX_SENTENCE_LEN, Sentence,
    Status, UnknownBackend,
};
