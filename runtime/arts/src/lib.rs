//! ARTS/1, the scoreboard serial protocol (`shared/specs/scoreboard-protocol.md`).
#![no_std]
