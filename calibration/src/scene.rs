//! Everything about a clip that is not its class: camera, performer build
//! and clothing, background, distractor, shake, photometric changes and
//! noise. All of it is drawn from one random generator.

use crate::background::Apparatus;
use crate::camera::Camera;
use crate::figure::{Build, Skeleton};
use crate::geom::{V3, deg, lerp, mix};
use crate::motion::Style;
use rand::Rng;

/// Conservative extents of every element around its centre, in body
/// heights: half width and height above the floor.
pub(crate) const ENVELOPE_HALF_WIDTH: f32 = 0.95;
/// See [`ENVELOPE_HALF_WIDTH`].
pub(crate) const ENVELOPE_HEIGHT: f32 = 1.75;
/// Fraction of the frame width the performer stays in (centred).
pub(crate) const CENTRAL_WIDTH: f32 = 0.65;
/// Headroom for perspective and shake on the fitted size.
const FIT_MARGIN: f32 = 1.12;

/// An RGB colour.
pub(crate) type Rgb = [u8; 3];

/// Colours of one figure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Look {
    pub skin: Rgb,
    pub hair: Rgb,
    pub top: Rgb,
    pub sleeves: Rgb,
    pub legs: Rgb,
    pub feet: Rgb,
}

fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = h.rem_euclid(1.0) * 6.0;
    let i = h as u32;
    let f = h - i as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let (r, g, b) = match i {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

fn mute(c: Rgb, k: f32) -> Rgb {
    let g = (c[0] as f32 + c[1] as f32 + c[2] as f32) / 3.0;
    c.map(|v| lerp(v as f32, g, k) as u8)
}

impl Look {
    fn sample(rng: &mut impl Rng, muted: f32) -> Look {
        const SKIN: [Rgb; 6] = [
            [236, 196, 170],
            [224, 172, 138],
            [198, 140, 100],
            [160, 106, 72],
            [120, 78, 52],
            [88, 58, 40],
        ];
        let skin = SKIN[rng.random_range(0..SKIN.len())]
            .map(|v| (v as f32 * rng.random_range(0.93..1.07)).clamp(0.0, 255.0) as u8);
        let hair = hsv(
            rng.random_range(0.02..0.12),
            rng.random_range(0.3..0.8),
            rng.random_range(0.08..0.55),
        );
        let top = hsv(
            rng.random::<f32>(),
            rng.random_range(0.45..1.0),
            rng.random_range(0.35..0.95),
        );
        let sleeves = if rng.random_bool(0.5) { top } else { skin };
        let legs = match rng.random_range(0..3) {
            0 => skin,
            1 => top,
            _ => hsv(
                rng.random::<f32>(),
                rng.random_range(0.0..0.6),
                rng.random_range(0.1..0.5),
            ),
        };
        let feet = if rng.random_bool(0.6) {
            skin
        } else {
            [235, 235, 235]
        };
        Look {
            skin,
            hair,
            top: mute(top, muted),
            sleeves: mute(sleeves, muted),
            legs: mute(legs, muted),
            feet: mute(feet, muted),
        }
    }
}

/// What the camera sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// The performer fills much of the frame, at most one person walks
    /// past behind them.
    #[default]
    Gym,
    /// A wide view of the venue: the performer is small, a coach, judges
    /// and the next gymnast stand or move around them, apparatus stands
    /// about, and the camera looks from the side or from above.
    Venue,
}

impl std::str::FromStr for View {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gym" => Ok(View::Gym),
            "venue" => Ok(View::Venue),
            other => Err(format!(
                "unknown view {other:?} (expected `gym` or `venue`)"
            )),
        }
    }
}

impl std::fmt::Display for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            View::Gym => "gym",
            View::Venue => "venue",
        })
    }
}

/// Another person in the scene, and what they are there as (the key of
/// their boxes in `boxes.json`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Person {
    pub role: &'static str,
    pub figure: Distractor,
}

/// A second person walking across the background.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Distractor {
    pub build: Build,
    pub look: Look,
    /// Distance behind the performance area.
    pub z: f32,
    /// Position at time 0 and speed in body heights per second (signed).
    pub x0: f32,
    pub speed: f32,
    /// Step phase at time 0.
    pub phase0: f32,
}

/// Camera shake: a smooth wobble of a few pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shake {
    pub amp: f32,
    pub rate: [f32; 4],
    pub phase: [f32; 4],
}

impl Shake {
    /// Image offset at frame `n`, in whole pixels.
    pub fn offset(&self, n: u64) -> (i32, i32) {
        let t = (n % 100_000) as f32;
        let w = |k: usize| crate::geom::sin(self.rate[k] * t + self.phase[k]);
        let dx = self.amp * (w(0) + 0.5 * w(1)) / 1.5;
        let dy = self.amp * (w(2) + 0.5 * w(3)) / 1.5;
        (dx.round() as i32, dy.round() as i32)
    }
}

impl Distractor {
    /// The walker's joints in the world at time `t` seconds, and wrapped so
    /// that an endless stream sees it come back.
    pub fn skeleton(&self, t: f32) -> Skeleton {
        let travelled = self.speed * t;
        let x = (self.x0 + travelled + 6.0).rem_euclid(12.0) - 6.0;
        let phase = self.phase0 + std::f32::consts::TAU * travelled.abs() / STRIDE;
        let h = self.speed.signum();
        let s = crate::motion::walk(phase, 0.0, &self.build).skeleton;
        s.map(|p| V3::new(h * p.x + x, p.y, -h * p.z + self.z))
    }
}

/// Distance covered by one walking cycle (two steps), in body heights.
pub(crate) const STRIDE: f32 = 0.8;

/// Photometric changes and sensor noise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Photometric {
    pub gain: [f32; 3],
    pub contrast: f32,
    pub brightness: f32,
    pub noise_sigma: f32,
}

/// The per-clip (or per-stream) scene.
pub(crate) struct Scene {
    pub width: u32,
    pub height: u32,
    pub camera: Camera,
    pub build: Build,
    pub look: Look,
    /// +1: the performer faces `+x` at the start, -1: `-x`.
    pub heading: f32,
    pub style: Style,
    /// Everyone but the performer, farthest first.
    pub others: Vec<Person>,
    pub shake: Shake,
    pub photo: Photometric,
    pub jpeg_quality: u8,
    pub noise_seed: u64,
    /// Background with a margin of `margin` pixels on every side for shake.
    pub background: Vec<u8>,
    pub margin: u32,
    /// Smallest limb width in output pixels.
    pub min_limb_px: f32,
    /// Band of floor (`x` from, to, in body heights) where an element may
    /// be centred and still stay whole in the central part of the frame.
    pub free_x: (f32, f32),
}

/// Fraction of the largest fitting size: `[lo, hi]`.
pub(crate) struct SizeRange(pub f32, pub f32);

/// Performer sizes of clips.
pub(crate) const CLIP_SIZE: SizeRange = SizeRange(0.65, 1.0);
/// Performer sizes of streams, which leave room to walk between elements.
pub(crate) const STREAM_SIZE: SizeRange = SizeRange(0.65, 0.85);
/// Performer sizes of the venue view.
const VENUE_SIZE: SizeRange = SizeRange(0.3, 0.42);

/// A figure standing or walking on the floor at depth `z`, from `x0`.
fn figure(rng: &mut impl Rng, z: (f32, f32), x0: (f32, f32), speed: (f32, f32)) -> Distractor {
    let speed = rng.random_range(speed.0..=speed.1) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    Distractor {
        build: Build::sample(rng),
        look: Look::sample(rng, 0.3),
        z: rng.random_range(z.0..z.1),
        x0: rng.random_range(x0.0..x0.1),
        speed,
        phase0: rng.random_range(0.0..std::f32::consts::TAU),
    }
}

/// The venue's other people: a coach beside the performance area, judges
/// standing in a row behind it, the next gymnast walking about.
fn venue_people(rng: &mut impl Rng) -> Vec<Person> {
    let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let mut coach = figure(rng, (1.0, 2.0), (2.0, 3.0), (0.0, 0.3));
    coach.x0 *= side;
    let mut people = vec![Person {
        role: "coach",
        figure: coach,
    }];
    let judges = rng.random_range(2..=3);
    let row_z = rng.random_range(3.5..4.5);
    let first = rng.random_range(-3.0..-1.0);
    for k in 0..judges {
        let mut judge = figure(rng, (row_z, row_z + 0.1), (0.0, 0.3), (0.0, 0.0));
        judge.x0 += first + 1.6 * k as f32;
        people.push(Person {
            role: ["judge_1", "judge_2", "judge_3"][k],
            figure: judge,
        });
    }
    people.push(Person {
        role: "gymnast",
        figure: figure(rng, (1.5, 3.0), (-4.0, 4.0), (0.4, 1.0)),
    });
    people
}

/// Apparatus behind the performance area: a vaulting table, a beam, a
/// stack of mats, in turn.
fn venue_apparatus(rng: &mut impl Rng) -> Vec<Apparatus> {
    (0..rng.random_range(1..=3))
        .map(|k| {
            let (w, d, h) = [(1.2, 0.35, 1.25), (5.0, 0.1, 1.2), (2.0, 1.5, 0.4)][k];
            let x0 = rng.random_range(-5.0..3.0);
            let z0 = rng.random_range(2.0..4.5);
            let colour = [
                [90.0, 70.0, 60.0],
                [200.0, 180.0, 150.0],
                [60.0, 90.0, 170.0],
            ][k]
                .map(|v: f32| v * rng.random_range(0.8..1.2));
            Apparatus {
                x0,
                x1: x0 + w,
                z0,
                z1: z0 + d,
                h,
                colour,
            }
        })
        .collect()
}

impl Scene {
    /// Draws a scene of the gym view for frames of `width` x `height`.
    pub fn sample(rng: &mut impl Rng, width: u32, height: u32, size: SizeRange) -> Scene {
        Scene::sample_view(rng, width, height, size, View::Gym)
    }

    /// Draws a scene of `view` for frames of `width` x `height`; the venue
    /// view sets its own performer sizes.
    pub fn sample_view(
        rng: &mut impl Rng,
        width: u32,
        height: u32,
        size: SizeRange,
        view: View,
    ) -> Scene {
        let venue = view == View::Venue;
        let size = if venue { VENUE_SIZE } else { size };
        let (w, h) = (width as f32, height as f32);
        let allowed_w = (CENTRAL_WIDTH * w).min(0.87 * h);
        let allowed_h = 0.96 * h;
        let s_max =
            (allowed_w / (2.0 * ENVELOPE_HALF_WIDTH)).min(allowed_h / ENVELOPE_HEIGHT) / FIT_MARGIN;
        let s = s_max * rng.random_range(size.0..=size.1);
        let slack_x = (allowed_w / FIT_MARGIN - 2.0 * ENVELOPE_HALF_WIDTH * s).max(0.0);
        let slack_y = (allowed_h / FIT_MARGIN - ENVELOPE_HEIGHT * s).max(0.0);
        let cx = 0.5 * w + rng.random_range(-0.5..=0.5) * slack_x;
        let cy = 0.5 * h + rng.random_range(-0.5..=0.5) * slack_y;
        let dist = rng.random_range(7.0..14.0);
        let yaw = deg(rng.random_range(-25.0..25.0));
        // The venue's camera looks from the side or from the stands above.
        let pitch = deg(if venue {
            rng.random_range(8.0..35.0)
        } else {
            rng.random_range(-3.0..10.0)
        });
        let target = V3::new(0.0, 0.5 * ENVELOPE_HEIGHT, 0.0);
        let camera = Camera::look_at(target, yaw, pitch, dist, s * dist, cx, cy);
        let build = Build::sample(rng);
        let look = Look::sample(rng, 0.0);
        let heading = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let style = Style {
            twist_sign: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            warp: rng.random_range(-0.04..0.04),
        };
        let scale_px = h / 120.0;
        let walker = rng.random_bool(0.6).then(|| {
            let speed = rng.random_range(0.5..1.2) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            Distractor {
                build: Build::sample(rng),
                look: Look::sample(rng, 0.55),
                z: rng.random_range(2.5..5.0),
                x0: rng.random_range(-2.5..2.5),
                speed,
                phase0: rng.random_range(0.0..std::f32::consts::TAU),
            }
        });
        let shake = Shake {
            amp: rng.random_range(0.0..2.0) * scale_px,
            rate: std::array::from_fn(|_| rng.random_range(0.05..0.6)),
            phase: std::array::from_fn(|_| rng.random_range(0.0..std::f32::consts::TAU)),
        };
        let photo = Photometric {
            gain: std::array::from_fn(|_| rng.random_range(0.9..1.1)),
            contrast: rng.random_range(0.7..1.3),
            brightness: rng.random_range(-25.0..25.0),
            noise_sigma: rng.random_range(0.0..5.0),
        };
        let jpeg_quality = rng.random_range(55..=95);
        let noise_seed = rng.random();
        let margin = (3.0 * scale_px).ceil() as u32;
        let mut others: Vec<Person> = walker
            .map(|figure| Person {
                role: "walker",
                figure,
            })
            .into_iter()
            .collect();
        let apparatus = if venue {
            others.extend(venue_people(rng));
            others.sort_by(|a, b| b.figure.z.total_cmp(&a.figure.z));
            venue_apparatus(rng)
        } else {
            Vec::new()
        };
        let background = crate::background::render(rng, &camera, width, height, margin, &apparatus);
        Scene {
            width,
            height,
            camera,
            build,
            look,
            heading,
            style,
            others,
            shake,
            photo,
            jpeg_quality,
            noise_seed,
            background,
            margin,
            min_limb_px: 3.0 * scale_px,
            free_x: (
                (0.5 * (w - allowed_w / FIT_MARGIN) - cx) / s + ENVELOPE_HALF_WIDTH,
                (0.5 * (w + allowed_w / FIT_MARGIN) - cx) / s - ENVELOPE_HALF_WIDTH,
            ),
        }
    }

    /// Seed of the sensor noise of frame `n`.
    pub fn frame_seed(&self, n: u64) -> u64 {
        mix(self.noise_seed, n)
    }
}
