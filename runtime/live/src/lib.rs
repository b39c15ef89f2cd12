//! The live pipeline: frame sources, clips, decisions, the scoreboard link and panel.

pub mod board;
pub mod decision;
pub mod scoreboard;
pub mod sink;
pub mod source;
