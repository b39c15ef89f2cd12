//! Generating clips and whole clip sets.

use crate::boxes::{ClipBoxes, PERFORMER};
use crate::classes::{CLASSES, ELEMENTS, labels};
use crate::clipset::{ClipSet, ClipSetWriter, Provenance, SetMeta};
use crate::error::Error;
use crate::figure::Skeleton;
use crate::framing::{Framing, live_window_starts};
use crate::geom::V3;
use crate::motion;
use crate::render::{BBox, FigureRef, PartBoxes, Renderer};
use crate::routine::Routine;
use crate::scene::{CLIP_SIZE, Scene, View};
use crate::stream::PAUSE_S;
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::Path;

/// Name written to `set.toml` as the generator.
pub const GENERATOR: &str = "artrt-synth";

/// Frames and frame rate the element timing is defined for: an element
/// lasts about this window (0.84 to 1.56 times it), whatever the clip length.
pub const NOMINAL_WINDOW: f32 = 16.0;
/// See [`NOMINAL_WINDOW`].
pub const NOMINAL_FPS: f32 = 30.0;

/// Options of a generated set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthOptions {
    /// Number of clips.
    pub clips: usize,
    /// Frames per clip.
    pub frames: u32,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate.
    pub fps: u32,
    /// Seed; equal seeds and options give byte-identical sets.
    pub seed: u64,
    /// How a clip frames its action.
    pub framing: Framing,
    /// Class pairs to render as contrast pairs, in turn: when not empty,
    /// clips `2k` and `2k + 1` show one scene (camera, performer, timing,
    /// noise) as the two classes of pair `k mod len`, and no other class
    /// appears. Empty: one scene per clip, classes in turn.
    pub twins: Vec<(usize, usize)>,
    /// Also write each clip's `boxes.json`: where the performer and the
    /// other people are in every frame.
    pub boxes: bool,
    /// What the camera sees.
    pub view: View,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            clips: 240,
            frames: 16,
            width: 160,
            height: 120,
            fps: 30,
            seed: 0,
            framing: Framing::Centred,
            twins: Vec::new(),
            boxes: false,
            view: View::Gym,
        }
    }
}

impl SynthOptions {
    /// Checks the options; the error says which one is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.clips == 0 {
            return Err("--clips must be at least 1".into());
        }
        if self.frames == 0 || self.frames > 10_000 {
            return Err(format!("--frames must be 1 to 10000, not {}", self.frames));
        }
        if !(16..=4096).contains(&self.width) || !(16..=4096).contains(&self.height) {
            return Err(format!(
                "--size must be 16x16 to 4096x4096, not {}x{}",
                self.width, self.height
            ));
        }
        if self.fps == 0 || self.fps > 1000 {
            return Err(format!("--fps must be 1 to 1000, not {}", self.fps));
        }
        if !self.twins.is_empty() && !self.clips.is_multiple_of(2) {
            return Err(format!(
                "--clips must be even with --twins (two clips a pair), not {}",
                self.clips
            ));
        }
        for &(a, b) in &self.twins {
            if a >= CLASSES || b >= CLASSES {
                return Err(format!(
                    "--twins {a}:{b}: class ids go from 0 to {}",
                    CLASSES - 1
                ));
            }
            if a == b {
                return Err(format!("--twins {a}:{b}: a pair needs two classes"));
            }
        }
        Ok(())
    }

    /// Class of clip `index`: classes in turn (the elements, then
    /// [`BACKGROUND`](crate::classes::BACKGROUND)), so every class gets `clips / classes` clips or one more;
    /// with [`twins`](Self::twins), the classes of the pairs in turn.
    pub fn class_of(&self, index: usize) -> usize {
        if self.twins.is_empty() {
            return index % CLASSES;
        }
        let (a, b) = self.twins[(index / 2) % self.twins.len()];
        if index.is_multiple_of(2) { a } else { b }
    }

    /// Index of the scene clip `index` shows: its own, or with
    /// [`twins`](Self::twins) the one it shares with its pair's other clip.
    pub fn scene_of(&self, index: usize) -> usize {
        if self.twins.is_empty() {
            index
        } else {
            index / 2
        }
    }

    /// Directory name of clip `index`.
    pub fn clip_dir(&self, index: usize) -> String {
        let digits = (self.clips.max(2) - 1).to_string().len().max(5);
        format!("clip_{index:0digits$}")
    }
}

/// A rendered clip in memory.
pub struct Clip {
    /// Class id.
    pub class_id: usize,
    /// The frames.
    pub frames: Vec<RgbImage>,
    /// Where the performer's parts lie in each frame (before noise and JPEG).
    pub parts: Vec<PartBoxes>,
    /// What each other person in the scene is there as (`walker`,
    /// `coach`, ...), in the order of [`others`](Self::others).
    pub roles: Vec<&'static str>,
    /// Where each other person is in each frame, if drawn.
    pub others: Vec<Vec<Option<BBox>>>,
    /// JPEG quality the set writes this clip with.
    pub jpeg_quality: u8,
}

/// The random generator of clip `index` of a set with `seed`.
fn clip_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Pose of the element at element time `u`, placed in the world.
pub(crate) fn place(skeleton: &Skeleton, heading: f32, x: f32) -> Skeleton {
    skeleton.map(|p| V3::new(heading * p.x + x, p.y, -heading * p.z))
}

/// Renders clip `index` of the set `opts` describes.
pub fn render_clip(opts: &SynthOptions, index: usize) -> Clip {
    render_clip_as(opts, opts.scene_of(index), opts.class_of(index))
}

/// Renders scene `index` of the set `opts` describes (without
/// [`twins`](SynthOptions::twins), clip `index`) as class `class_id`:
/// the same camera, performer, background, timing and noise as that clip,
/// only the element changed. Near-twin classes rendered this way differ
/// only where their one detail shows. Class [`BACKGROUND`](crate::classes::BACKGROUND) is an excerpt
/// of the pauses between elements: standing, walking, turning, arms moving.
///
/// # Panics
/// If `class_id` is not below the number of classes.
pub fn render_clip_as(opts: &SynthOptions, index: usize, class_id: usize) -> Clip {
    assert!(class_id < CLASSES, "class id {class_id} out of range");
    let mut rng = clip_rng(opts.seed, index);
    let scene = Scene::sample_view(&mut rng, opts.width, opts.height, CLIP_SIZE, opts.view);
    let mut renderer = Renderer::new(opts.width, opts.height);
    let mut frames = Vec::with_capacity(opts.frames as usize);
    let mut parts = Vec::with_capacity(opts.frames as usize);
    let mut others = Vec::with_capacity(opts.frames as usize);
    let fps = opts.fps as f32;
    let mut emit = |n: u64, t: f32, skeleton: &Skeleton| {
        let mut img = RgbImage::new(opts.width, opts.height);
        let (p, o) = draw(&scene, &mut renderer, n, t, skeleton, &mut img);
        parts.push(p);
        others.push(o);
        frames.push(img);
    };
    match ELEMENTS.get(class_id) {
        Some(el) if opts.framing == Framing::Centred => {
            let k: f32 = rng.random_range(0.84..1.56);
            let centre: f32 = rng.random_range(0.45..0.55);
            let duration = k * NOMINAL_WINDOW * fps / NOMINAL_FPS;
            let x0 = -scene.heading * 0.5 * motion::travel(el);
            for j in 0..opts.frames {
                let u = centre + (j as f32 + 0.5 - 0.5 * opts.frames as f32) / duration;
                let placed = motion::element(el, u, &scene.style, &scene.build);
                let skeleton = place(&placed.skeleton, scene.heading, x0);
                emit(u64::from(j), j as f32 / fps, &skeleton);
            }
        }
        _ => {
            let len = u64::from(opts.frames);
            let clip_s = opts.frames as f32 / fps;
            let pauses = (PAUSE_S.0.max(clip_s + 0.1), PAUSE_S.1.max(clip_s + 2.0));
            let mut routine = Routine::new(
                ChaCha8Rng::seed_from_u64(rng.random()),
                &scene,
                opts.fps,
                pauses,
            );
            let first = if class_id < ELEMENTS.len() {
                routine = routine.with_first_class(class_id);
                let (start, frames) = routine.element(0);
                let (lo, hi) = live_window_starts(start, frames, len);
                rng.random_range(lo..=hi)
            } else {
                let skip = rng.random_range(0..3);
                routine
                    .pause(skip, len, opts.framing.background_spill())
                    .expect("every pause is longer than the clip")
            };
            for n in first..first + len {
                let action = routine.action_at(n).clone();
                emit(n, n as f32 / fps, &routine.skeleton(&action, n));
            }
        }
    }
    Clip {
        class_id,
        frames,
        parts,
        roles: scene.others.iter().map(|o| o.role).collect(),
        others,
        jpeg_quality: scene.jpeg_quality,
    }
}

impl Clip {
    /// The clip's `boxes.json`: the performer's box in every frame, and
    /// those of the other people who appear in any.
    pub fn boxes(&self) -> ClipBoxes {
        let (w, h) = self
            .frames
            .first()
            .map_or((0, 0), |f| (f.width(), f.height()));
        let mut boxes = ClipBoxes::default();
        let performer = self
            .parts
            .iter()
            .map(|p| BBox::of_parts(p).and_then(|b| b.in_frame(w, h)))
            .collect();
        boxes.0.insert(PERFORMER.to_string(), performer);
        for (k, role) in self.roles.iter().enumerate() {
            let seen: Vec<_> = self
                .others
                .iter()
                .map(|frame| {
                    frame
                        .get(k)
                        .copied()
                        .flatten()
                        .and_then(|b| b.in_frame(w, h))
                })
                .collect();
            if seen.iter().any(Option::is_some) {
                boxes.0.insert(role.to_string(), seen);
            }
        }
        boxes
    }
}

/// Draws frame `n` (time `t` seconds) of `scene` with the performer at
/// `skeleton` and everyone else where they are at `t`.
pub(crate) fn draw(
    scene: &Scene,
    renderer: &mut Renderer,
    n: u64,
    t: f32,
    skeleton: &Skeleton,
    img: &mut RgbImage,
) -> (PartBoxes, Vec<Option<BBox>>) {
    let skeletons: Vec<Skeleton> = scene.others.iter().map(|o| o.figure.skeleton(t)).collect();
    let perf = FigureRef {
        skeleton,
        build: &scene.build,
        look: &scene.look,
    };
    let others: Vec<FigureRef> = scene
        .others
        .iter()
        .zip(&skeletons)
        .map(|(o, s)| FigureRef {
            skeleton: s,
            build: &o.figure.build,
            look: &o.figure.look,
        })
        .collect();
    renderer.render(scene, n, &perf, &others, img)
}

/// Writes a whole set to `out` (which must be empty or absent), rendering
/// clips in parallel; `progress` is called once per finished clip.
pub fn generate_set(
    out: &Path,
    opts: &SynthOptions,
    progress: impl Fn() + Sync,
) -> Result<ClipSet, Error> {
    opts.check().map_err(|reason| Error::InvalidClip {
        path: out.to_path_buf(),
        reason,
    })?;
    let meta = SetMeta {
        fps: opts.fps,
        width: opts.width,
        height: opts.height,
        provenance: Provenance {
            generator: GENERATOR.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            seed: Some(opts.seed),
            description: Some(format!(
                "synthetic fine-grained gym{}: {} clips of {} frames",
                if opts.view == View::Venue {
                    ", venue view"
                } else {
                    ""
                },
                opts.clips,
                opts.frames
            )),
            framing: Some(opts.framing.to_string()),
            twins: (!opts.twins.is_empty()).then(|| twins_spec(&opts.twins)),
            recording: None,
            labels_sha256: None,
            view: (opts.view != View::Gym).then(|| opts.view.to_string()),
        },
    };
    let writer = ClipSetWriter::create(out, &labels(), meta)?;
    let annotations = (0..opts.clips)
        .into_par_iter()
        .map(|i| {
            let clip = render_clip(opts, i);
            let dir = opts.clip_dir(i);
            let a = writer.write_clip(&dir, clip.class_id, &clip.frames, clip.jpeg_quality)?;
            if opts.boxes {
                writer.write_boxes(&dir, &clip.boxes())?;
            }
            progress();
            Ok(a)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    writer.finish(&annotations)
}

/// Class pairs of a contrast-pair set as `set.toml` records them, `A:B,C:D...`.
fn twins_spec(twins: &[(usize, usize)]) -> String {
    let pairs: Vec<String> = twins.iter().map(|(a, b)| format!("{a}:{b}")).collect();
    pairs.join(",")
}
