//! Clip sets and the synthetic fine-grained gym.
//!
//! A clip set is the on-disk format of every labelled clip collection of
//! `artrt` (MMAction2's rawframes layout plus a `set.toml`): [`ClipSet`]
//! reads one, [`ClipSetWriter`] writes one. The synthetic gym renders
//! gymnastics elements whose classes differ only in a local detail (shape
//! in flight, twist, arm action, landing) with a 3D articulated figure:
//! [`generate_set`] writes a balanced set, [`GymStream`] renders an endless
//! performance for the live pipeline, [`contact_sheet`] shows the classes.
//!
//! ```no_run
//! use artrt_calibration::{ClipSet, SynthOptions, generate_set};
//!
//! let opts = SynthOptions { clips: 24, seed: 7, ..SynthOptions::default() };
//! let set = generate_set("demo-set".as_ref(), &opts, || {})?;
//! let clip = &set.clips()[0];
//! let frames = set.load_clip(clip)?;
//! println!("{}: {} frames of {}", clip.clip_dir, frames.len(), set.labels()[clip.class_id]);
//! # Ok::<(), artrt_calibration::Error>(())
//! ```

mod annotation;
mod background;
mod camera;
pub mod classes;
mod clipset;
mod error;
pub mod figure;
mod geom;
mod motion;
mod preview;
mod render;
mod routine;
mod scene;
mod stream;
mod synth;

pub use annotation::{Annotation, frame_file_name};
pub use classes::{BACKGROUND, BACKGROUND_LABEL, CLASSES, ELEMENTS, Element, labels};
pub use clipset::{ClipSet, ClipSetWriter, Provenance, SetMeta};
pub use error::{AnnotationError, Error};
pub use preview::contact_sheet;
pub use render::{BBox, PartBoxes};
pub use stream::{GymStream, Segment, StreamOptions};
pub use synth::{
    Clip, Framing, GENERATOR, LIVE_BACKGROUND_SHARE, LIVE_ELEMENT_SHARE, NOMINAL_FPS,
    NOMINAL_WINDOW, SynthOptions, generate_set, render_clip, render_clip_as,
};
