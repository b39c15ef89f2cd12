//! ART model bundles, preprocessing and inference backends.

pub mod frame;

pub use frame::{FrameRef, PixelFormat};
