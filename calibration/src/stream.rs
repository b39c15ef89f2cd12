//! The streaming form of the gym: an endless, seeded performance of
//! elements separated by idle standing and walking, rendered frame by frame
//! with the same figure, classes and renderer as the clip sets.

use crate::classes::ELEMENTS;
use crate::figure::{Pose, Skeleton};
use crate::geom::smoothstep;
use crate::motion::{self, Style};
use crate::render::{FigureRef, Renderer};
use crate::scene::{STRIDE, Scene, SizeRange};
use crate::synth::{NOMINAL_FPS, NOMINAL_WINDOW, place};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Options of a [`GymStream`].
#[derive(Clone, Debug, PartialEq)]
pub struct StreamOptions {
    /// Seed; equal options give identical streams.
    pub seed: u64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate; elements last as long in seconds at any rate.
    pub fps: u32,
    /// Shortest pause between elements, in seconds.
    pub idle_min_s: f32,
    /// Longest pause between elements, in seconds.
    pub idle_max_s: f32,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            seed: 0,
            width: 160,
            height: 120,
            fps: 30,
            idle_min_s: 0.7,
            idle_max_s: 2.5,
        }
    }
}

/// Ground truth of one element in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First frame of the element.
    pub start: u64,
    /// One past its last frame.
    pub end: u64,
    /// Class id (index into [`crate::ELEMENTS`]).
    pub class_id: usize,
}

/// Walking speed in body heights per second.
const WALK_SPEED: f32 = 0.9;
/// Duration of a pose change (with or without a turn), in seconds.
const BLEND_S: f32 = 0.3;

#[derive(Clone, Debug)]
enum Kind {
    Element {
        class_id: usize,
        style: Style,
        x0: f32,
        heading: f32,
        duration: f32,
    },
    /// Standing at `x` facing `heading`, blending `from` to `to`; turning
    /// round about the long axis on the way if `turn`.
    Stand {
        from: Pose,
        to: Pose,
        x: f32,
        heading: f32,
        turn: bool,
    },
    Walk {
        from: f32,
        to: f32,
    },
}

#[derive(Clone, Debug)]
struct Action {
    start: u64,
    len: u64,
    kind: Kind,
}

/// An endless synthetic performance.
///
/// ```
/// use artrt_calibration::{GymStream, StreamOptions};
///
/// let mut stream = GymStream::new(StreamOptions { seed: 3, ..StreamOptions::default() });
/// for _ in 0..150 {
///     let frame = stream.next_frame();
///     assert_eq!(frame.dimensions(), (160, 120));
/// }
/// assert_eq!(stream.frame_index(), 150);
/// for s in stream.segments() {
///     println!("{} from frame {} to {}", artrt_calibration::ELEMENTS[s.class_id].label, s.start, s.end);
/// }
/// ```
pub struct GymStream {
    opts: StreamOptions,
    scene: Scene,
    rng: ChaCha8Rng,
    renderer: Renderer,
    frame: RgbImage,
    next: u64,
    segments: Vec<Segment>,
    plan: VecDeque<Action>,
    /// Where the plan leaves the performer.
    end_x: f32,
    end_heading: f32,
    end_pose: Pose,
}

impl GymStream {
    /// A stream drawn from `opts.seed`.
    pub fn new(opts: StreamOptions) -> GymStream {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(u64::MAX);
        let width = opts.width.max(16);
        let height = opts.height.max(16);
        let scene = Scene::sample(&mut rng, width, height, SizeRange(0.5, 0.8));
        let end_x = 0.5 * (scene.free_x.0 + scene.free_x.1);
        let end_heading = scene.heading;
        GymStream {
            opts: StreamOptions {
                width,
                height,
                fps: opts.fps.max(1),
                ..opts
            },
            renderer: Renderer::new(width, height),
            frame: RgbImage::new(width, height),
            scene,
            rng,
            next: 0,
            segments: Vec::new(),
            plan: VecDeque::new(),
            end_x,
            end_heading,
            end_pose: motion::idle_pose(),
        }
    }

    /// The options the stream runs with.
    pub fn options(&self) -> &StreamOptions {
        &self.opts
    }

    /// Index of the frame the next call to [`GymStream::next_frame`] renders.
    pub fn frame_index(&self) -> u64 {
        self.next
    }

    /// Ground truth of every element whose first frame has been rendered,
    /// in order (the last one may still be under way).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Renders the next frame (RGB, `width` x `height`) into the stream's
    /// own buffer and lends it.
    pub fn next_frame(&mut self) -> &RgbImage {
        let n = self.next;
        while self.plan.front().is_none_or(|a| a.start + a.len <= n) {
            if self.plan.pop_front().is_none() || self.plan.is_empty() {
                self.plan_cycle(n);
            }
        }
        let action = self.plan.front().cloned().expect("planned above");
        let skeleton = self.skeleton(&action, n);
        if let Kind::Element { class_id, .. } = action.kind {
            if action.start == n {
                self.segments.push(Segment {
                    start: n,
                    end: n + action.len,
                    class_id,
                });
            }
        }
        let t = n as f32 / self.opts.fps as f32;
        let walker = self.scene.distractor.as_ref().map(|d| (d.skeleton(t), d));
        let perf = FigureRef {
            skeleton: &skeleton,
            build: &self.scene.build,
            look: &self.scene.look,
        };
        let dref = walker.as_ref().map(|(s, d)| FigureRef {
            skeleton: s,
            build: &d.build,
            look: &d.look,
        });
        self.renderer
            .render(&self.scene, n, &perf, dref.as_ref(), &mut self.frame);
        self.next += 1;
        &self.frame
    }

    fn frames(&self, seconds: f32) -> u64 {
        ((seconds * self.opts.fps as f32).round() as u64).max(1)
    }

    fn push(&mut self, start: &mut u64, len: u64, kind: Kind) {
        self.plan.push_back(Action {
            start: *start,
            len,
            kind,
        });
        *start += len;
    }

    /// Plans a pause and the element after it, starting at frame `start`:
    /// arms down (turning to walk if needed), walking towards the next
    /// spot, standing, arms up (turning to face the element's way).
    fn plan_cycle(&mut self, mut start: u64) {
        let rng = &mut self.rng;
        let class_id = rng.random_range(0..ELEMENTS.len());
        let el = &ELEMENTS[class_id];
        let style = Style {
            twist_sign: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            warp: rng.random_range(-0.04..0.04),
        };
        let k: f32 = rng.random_range(0.84..1.56);
        let (lo_s, hi_s) = (
            self.opts.idle_min_s,
            self.opts.idle_max_s.max(self.opts.idle_min_s),
        );
        let idle_s = rng.random_range(lo_s..=hi_s);
        let (lo, hi) = self.scene.free_x;
        let want_centre = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            0.5 * (lo + hi)
        };
        let mut heading: f32 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let travel = motion::travel(el);

        let blend = self.frames(BLEND_S);
        let free_s = (idle_s - 2.0 * blend as f32 / self.opts.fps as f32).max(0.0);
        let from = self.end_x;
        let want_x0 = want_centre - heading * 0.5 * travel;
        let reach = free_s * WALK_SPEED;
        let mut to = from + (want_x0 - from).clamp(-reach, reach);
        if (to - from).abs() < 0.15 {
            to = from;
        }
        let walk_heading = if to != from {
            (to - from).signum()
        } else {
            self.end_heading
        };
        if (want_x0 - to).abs() > 0.05 {
            // Short of the spot: let the element itself travel towards it.
            heading = (want_centre - to).signum() * travel.signum();
        }
        let walk_frames = if to != from {
            self.frames((to - from).abs() / WALK_SPEED)
        } else {
            0
        };
        let idle_frames = self.frames(idle_s);
        let stand_frames = idle_frames.saturating_sub(2 * blend + walk_frames);

        let idle = motion::idle_pose();
        let end_pose = self.end_pose;
        let turn_first = walk_heading != self.end_heading;
        self.push(
            &mut start,
            blend,
            Kind::Stand {
                from: end_pose,
                to: idle,
                x: from,
                heading: self.end_heading,
                turn: turn_first,
            },
        );
        if walk_frames > 0 {
            self.push(&mut start, walk_frames, Kind::Walk { from, to });
        }
        if stand_frames > 0 {
            self.push(
                &mut start,
                stand_frames,
                Kind::Stand {
                    from: idle,
                    to: idle,
                    x: to,
                    heading: walk_heading,
                    turn: false,
                },
            );
        }
        let turn_last = walk_heading != heading;
        self.push(
            &mut start,
            blend,
            Kind::Stand {
                from: idle,
                to: motion::ready_pose(),
                x: to,
                heading: walk_heading,
                turn: turn_last,
            },
        );
        let duration = k * NOMINAL_WINDOW * self.opts.fps as f32 / NOMINAL_FPS;
        let len = duration.ceil() as u64;
        self.push(
            &mut start,
            len,
            Kind::Element {
                class_id,
                style,
                x0: to,
                heading,
                duration,
            },
        );
        self.end_x = to + heading * travel;
        self.end_heading = if el.half_twists % 2 == 1 {
            -heading
        } else {
            heading
        };
        self.end_pose = motion::final_pose(el, &self.scene.build);
    }

    fn skeleton(&self, a: &Action, n: u64) -> Skeleton {
        let b = &self.scene.build;
        let local = (n - a.start) as f32 + 0.5;
        let t = local / a.len as f32;
        match a.kind {
            Kind::Element {
                class_id,
                style,
                x0,
                heading,
                duration,
            } => {
                let s = motion::element(&ELEMENTS[class_id], local / duration, &style, b).skeleton;
                place(&s, heading, x0)
            }
            Kind::Stand {
                ref from,
                ref to,
                x,
                heading,
                turn,
            } => {
                let angle = if turn {
                    std::f32::consts::PI * smoothstep(0.0, 1.0, t)
                } else {
                    0.0
                };
                place(
                    &motion::stand(from, to, t, 0.0, angle, b).skeleton,
                    heading,
                    x,
                )
            }
            Kind::Walk { from, to } => {
                let dist = (to - from).abs() * t;
                let phase = std::f32::consts::TAU * dist / STRIDE;
                let heading = (to - from).signum();
                place(
                    &motion::walk(phase, 0.0, b).skeleton,
                    heading,
                    from + heading * dist,
                )
            }
        }
    }
}
