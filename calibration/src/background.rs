//! Backgrounds: a floor and a back wall seen through the scene's camera,
//! with textures, gradients and clutter, drawn once per scene.

use crate::camera::Camera;
use crate::geom::{V3, lerp, mix};
use rand::Rng;

/// Smooth value noise in `[0, 1]` on a unit lattice.
fn value_noise(seed: u64, x: f32, y: f32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (tx, ty) = (x - xf, y - yf);
    let (ix, iy) = (xf as i64 as u64, yf as i64 as u64);
    let h = |a: u64, b: u64| (mix(mix(seed, a), b) >> 40) as f32 / (1u64 << 24) as f32;
    let (tx, ty) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let top = lerp(h(ix, iy), h(ix.wrapping_add(1), iy), tx);
    let bottom = lerp(
        h(ix, iy.wrapping_add(1)),
        h(ix.wrapping_add(1), iy.wrapping_add(1)),
        tx,
    );
    lerp(top, bottom, ty)
}

fn rand_colour(rng: &mut impl Rng, lo: f32, hi: f32, sat: f32) -> [f32; 3] {
    let v = rng.random_range(lo..hi);
    let tint: [f32; 3] = std::array::from_fn(|_| rng.random_range(1.0 - sat..1.0 + sat));
    tint.map(|t| (v * t).clamp(0.0, 255.0))
}

/// A rectangle on the wall (`x0..x1`, `y0..y1`) in one colour.
struct Panel {
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    colour: [f32; 3],
}

/// A piece of apparatus: a box standing on the floor, `x0..x1` by `z0..z1`,
/// `h` high, in one colour (its top lit, its sides shaded).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Apparatus {
    pub x0: f32,
    pub x1: f32,
    pub z0: f32,
    pub z1: f32,
    pub h: f32,
    pub colour: [f32; 3],
}

impl Apparatus {
    /// Distance along the ray from `o` in direction `d` to the box, and the
    /// shade of the face hit (1 on top, less on the sides).
    fn hit(&self, o: V3, d: V3) -> Option<(f32, f32)> {
        let (mut t0, mut t1, mut shade) = (0.0f32, f32::INFINITY, 1.0);
        for (o, d, lo, hi, face) in [
            (o.x, d.x, self.x0, self.x1, 0.7),
            (o.y, d.y, 0.0, self.h, 1.0),
            (o.z, d.z, self.z0, self.z1, 0.85),
        ] {
            if d.abs() < 1e-6 {
                if o < lo || o > hi {
                    return None;
                }
                continue;
            }
            let (a, b) = ((lo - o) / d, (hi - o) / d);
            let (near, far) = if a < b { (a, b) } else { (b, a) };
            if near > t0 {
                t0 = near;
                shade = face;
            }
            t1 = t1.min(far);
        }
        (t0 <= t1 && t0 > 0.0).then_some((t0, shade))
    }
}

/// Renders the background of a scene: `(width + 2 margin) x (height + 2
/// margin)` RGB pixels, image point `(x, y)` at `(x + margin, y + margin)`,
/// with `apparatus` standing on the floor.
pub(crate) fn render(
    rng: &mut impl Rng,
    cam: &Camera,
    width: u32,
    height: u32,
    margin: u32,
    apparatus: &[Apparatus],
) -> Vec<u8> {
    let seed: u64 = rng.random();
    let floor_a = match rng.random_range(0..4) {
        0 => [60.0, 90.0, 160.0],   // blue competition carpet
        1 => [170.0, 130.0, 90.0],  // wooden boards
        2 => [120.0, 120.0, 115.0], // grey mats
        _ => [90.0, 130.0, 80.0],   // green mats
    }
    .map(|v: f32| v * rng.random_range(0.75..1.2));
    let floor_b = rand_colour(rng, 60.0, 200.0, 0.3);
    let planks = rng.random_bool(0.4);
    let tile = rng.random_range(1.0..2.5);
    let mat_edge = rng.random_range(-3.0..-1.0);
    let wall_z = rng.random_range(5.0..10.0);
    let wall_top = rand_colour(rng, 90.0, 235.0, 0.15);
    let wall_bottom = rand_colour(rng, 60.0, 210.0, 0.2);
    let skirting = rng.random_range(0.3..1.2);
    let skirting_colour = rand_colour(rng, 30.0, 150.0, 0.3);
    let tilt = rng.random_range(-0.3..0.3);
    let panels: Vec<Panel> = (0..rng.random_range(0..7))
        .map(|_| {
            let x0 = rng.random_range(-9.0..8.0);
            let y0 = rng.random_range(0.2..3.5);
            Panel {
                x0,
                x1: x0 + rng.random_range(0.2..2.5),
                y0,
                y1: y0 + rng.random_range(0.2..1.5),
                colour: rand_colour(rng, 20.0, 250.0, 0.6),
            }
        })
        .collect();
    let poles: Vec<f32> = (0..rng.random_range(0..3))
        .map(|_| rng.random_range(-6.0..6.0))
        .collect();
    let grain = rng.random_range(0.04..0.18);

    let (bw, bh) = (width + 2 * margin, height + 2 * margin);
    let mut out = vec![0u8; (bw * bh * 3) as usize];
    for by in 0..bh {
        for bx in 0..bw {
            let (ix, iy) = (
                bx as f32 - margin as f32 + 0.5,
                by as f32 - margin as f32 + 0.5,
            );
            let d = cam.ray(ix, iy);
            let t_floor = if d.y < -1e-4 {
                -cam.pos.y / d.y
            } else {
                f32::INFINITY
            };
            let t_wall = if d.z > 1e-4 {
                (wall_z - cam.pos.z) / d.z
            } else {
                f32::INFINITY
            };
            let nearest = apparatus
                .iter()
                .filter_map(|a| a.hit(cam.pos, d).map(|h| (h, a.colour)))
                .min_by(|a, b| a.0.0.total_cmp(&b.0.0));
            let c = if let Some(((t, shade), colour)) =
                nearest.filter(|((t, _), _)| *t < t_floor.min(t_wall))
            {
                let p = cam.pos + d * t;
                let n = 1.0 + grain * (value_noise(seed ^ 4, p.x * 10.0, p.z * 10.0) - 0.5);
                colour.map(|v| v * shade * n)
            } else if t_floor < t_wall {
                let p = cam.pos + d * t_floor;
                floor_colour(seed, p, floor_a, floor_b, planks, tile, mat_edge, grain)
            } else if t_wall.is_finite() {
                let p = cam.pos + d * t_wall;
                let g = ((p.y + tilt * p.x) / 4.0).clamp(0.0, 1.0);
                let mut c: [f32; 3] = std::array::from_fn(|k| lerp(wall_bottom[k], wall_top[k], g));
                if p.y < skirting {
                    c = skirting_colour;
                }
                for pl in &panels {
                    if p.x >= pl.x0 && p.x < pl.x1 && p.y >= pl.y0 && p.y < pl.y1 {
                        c = pl.colour;
                    }
                }
                if poles.iter().any(|&x| (p.x - x).abs() < 0.03) {
                    c = [40.0, 40.0, 45.0];
                }
                let n = 1.0 + grain * 0.5 * (value_noise(seed ^ 1, p.x * 6.0, p.y * 6.0) - 0.5);
                c.map(|v| v * n)
            } else {
                wall_top
            };
            let o = ((by * bw + bx) * 3) as usize;
            for k in 0..3 {
                out[o + k] = c[k].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn floor_colour(
    seed: u64,
    p: V3,
    a: [f32; 3],
    b: [f32; 3],
    planks: bool,
    tile: f32,
    mat_edge: f32,
    grain: f32,
) -> [f32; 3] {
    let mut c = if p.z > mat_edge { a } else { b };
    if planks {
        let plank = (p.z / 0.18).floor();
        let shade = 0.85 + 0.3 * value_noise(seed ^ 2, plank, 0.5);
        c = c.map(|v| v * shade);
        if (p.z / 0.18).fract().abs() < 0.06 {
            c = c.map(|v| v * 0.7);
        }
    } else {
        let (fx, fz) = ((p.x / tile).fract().abs(), (p.z / tile).fract().abs());
        if fx < 0.015 || fz < 0.015 {
            c = c.map(|v| v * 0.8);
        }
    }
    let n = 1.0 + grain * (value_noise(seed ^ 3, p.x * 8.0, p.z * 8.0) - 0.5);
    c.map(|v| v * n)
}
