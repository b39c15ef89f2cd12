//! Clip sets and the synthetic fine-grained gym.
//!
//! The clip-set format is always built; the gym renderer only with the
//! `synth` feature (on by default), so a device build carries no renderer.
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
#[cfg(feature = "synth")]
mod background;
pub mod boxes;
#[cfg(feature = "synth")]
mod camera;
#[cfg(feature = "synth")]
pub mod classes;
mod clipset;
mod error;
#[cfg(feature = "synth")]
pub mod figure;
mod framing;
#[cfg(feature = "synth")]
mod geom;
#[cfg(feature = "synth")]
mod motion;
#[cfg(feature = "synth")]
mod preview;
#[cfg(feature = "synth")]
mod render;
#[cfg(feature = "synth")]
mod routine;
#[cfg(feature = "synth")]
mod scene;
#[cfg(feature = "synth")]
mod stream;
#[cfg(feature = "synth")]
mod synth;

pub use annotation::{Annotation, frame_file_name};
pub use boxes::{BOXES_FILE, Box2, ClipBoxes, PERFORMER};
#[cfg(feature = "synth")]
pub use classes::{
    BACKGROUND, BACKGROUND_LABEL, CLASSES, ELEMENTS, Element, NEW_ELEMENTS, element, labels,
};
pub use clipset::{ClipSet, ClipSetWriter, Provenance, SetMeta};
pub use error::{AnnotationError, Error};
pub use framing::{Framing, LIVE_BACKGROUND_SHARE, LIVE_ELEMENT_SHARE, live_window_starts};
#[cfg(feature = "synth")]
pub use preview::contact_sheet;
#[cfg(feature = "synth")]
pub use render::{BBox, PartBoxes};
#[cfg(feature = "synth")]
pub use scene::View;
#[cfg(feature = "synth")]
pub use stream::{GymStream, Segment, StreamOptions};
#[cfg(feature = "synth")]
pub use synth::{
    Clip, GENERATOR, NOMINAL_FPS, NOMINAL_WINDOW, SynthOptions, generate_set, render_clip,
    render_clip_as,
};
