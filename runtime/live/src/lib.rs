//! The device path: frame sources, clip windows, decisions, device health,
//! the scoreboard link and board profiles, and the supervisor that runs them.
//!
//! Everything here is what a board runs; offline tools (the board emulator,
//! scoring, tuning, evaluation, benchmarks) live in `artrt-tools`. The
//! synthetic gym source is built only with the `synthetic` feature.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use artrt_live::board::Profile;
//! use artrt_live::jsonl::JsonLines;
//! use artrt_live::supervisor::{self, ServeOptions};
//!
//! let profile = Profile::detect()?;
//! let mut events = JsonLines::new(std::io::stdout(), true);
//! let served = supervisor::serve(&profile, &ServeOptions::default(), &mut events, &AtomicBool::new(false))?;
//! println!("{served:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod board;
pub mod decision;
pub mod health;
pub mod jsonl;
pub mod labels;
pub mod latency;
pub mod message;
pub mod overlay;
pub mod pipeline;
pub mod publish;
pub mod recording;
pub mod scoreboard;
pub mod sink;
pub mod source;
pub mod stage;
pub mod supervisor;
pub mod window;
