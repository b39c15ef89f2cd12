//! The live pipeline: frame sources, clips, decisions, the scoreboard link and panel.

pub mod board;
pub mod decision;
pub mod jsonl;
pub mod pipeline;
pub mod scoreboard;
pub mod scoring;
pub mod sink;
pub mod source;
pub mod tuning;
pub mod window;
