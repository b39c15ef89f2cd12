//! Drawing a frame: figures with `embedded-graphics` primitives on a
//! supersampled canvas, composited over the scene's background, then
//! photometric changes and sensor noise.

use crate::figure::{Build, Part, Skeleton};
use crate::geom::V3;
use crate::scene::{Look, Rgb, Scene};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, Line, PrimitiveStyle, Triangle};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::convert::Infallible;

/// Supersampling factor of the figure canvas.
const SS: u32 = 2;

/// A pixel rectangle `[x0, x1) x [y0, y1)` in output pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

impl BBox {
    fn around(x: f32, y: f32, r: f32) -> BBox {
        BBox {
            x0: x - r,
            y0: y - r,
            x1: x + r,
            y1: y + r,
        }
    }

    /// Smallest box holding both.
    pub fn union(self, o: BBox) -> BBox {
        BBox {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// The smallest box holding every drawn part, if any was drawn.
    pub fn of_parts(parts: &PartBoxes) -> Option<BBox> {
        parts.iter().flatten().copied().reduce(BBox::union)
    }

    /// `[x0, y0, x1, y1]` cut to a `width` x `height` frame; `None` where
    /// nothing of the box is inside it.
    pub fn in_frame(self, width: u32, height: u32) -> Option<[f32; 4]> {
        let (w, h) = (width as f32, height as f32);
        let b = [
            self.x0.clamp(0.0, w),
            self.y0.clamp(0.0, h),
            self.x1.clamp(0.0, w),
            self.y1.clamp(0.0, h),
        ];
        (b[0] < b[2] && b[1] < b[3]).then_some(b)
    }

    /// Whether pixel `(x, y)` (its centre) lies inside, grown by `pad` on every side.
    pub fn contains(&self, x: u32, y: u32, pad: f32) -> bool {
        let (x, y) = (x as f32 + 0.5, y as f32 + 0.5);
        x >= self.x0 - pad && x < self.x1 + pad && y >= self.y0 - pad && y < self.y1 + pad
    }
}

/// Where each part of the performer was drawn (indexed by [`Part::index`]).
pub type PartBoxes = [Option<BBox>; 12];

/// The supersampled figure canvas: colours and a coverage mask.
struct Canvas {
    w: u32,
    h: u32,
    rgb: Vec<Rgb>,
    mask: Vec<bool>,
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.w, self.h)
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < self.w && (p.y as u32) < self.h {
                let i = p.y as usize * self.w as usize + p.x as usize;
                self.rgb[i] = [c.r(), c.g(), c.b()];
                self.mask[i] = true;
            }
        }
        Ok(())
    }
}

/// One thing to draw, with its depth for painter's ordering.
enum Item {
    Limb {
        part: Part,
        a: (f32, f32),
        b: (f32, f32),
        width: f32,
        colour: Rgb,
    },
    Quad {
        part: Part,
        p: [(f32, f32); 4],
        colour: Rgb,
    },
    Disc {
        part: Part,
        c: (f32, f32),
        r: f32,
        colour: Rgb,
    },
}

fn shade(c: Rgb, k: f32) -> Rgb {
    c.map(|v| (v as f32 * k).round().clamp(0.0, 255.0) as u8)
}

/// Renders frames of one size; reuses its buffers.
pub(crate) struct Renderer {
    canvas: Canvas,
    noise: Vec<u8>,
    items: Vec<(f32, Item)>,
}

/// A figure to draw: its joints in the world, build and colours.
pub(crate) struct FigureRef<'a> {
    pub skeleton: &'a Skeleton,
    pub build: &'a Build,
    pub look: &'a Look,
}

impl Renderer {
    /// A renderer for `width` x `height` frames.
    pub fn new(width: u32, height: u32) -> Renderer {
        let (w, h) = (width * SS, height * SS);
        Renderer {
            canvas: Canvas {
                w,
                h,
                rgb: vec![[0; 3]; (w * h) as usize],
                mask: vec![false; (w * h) as usize],
            },
            noise: vec![0; (width * height * 3 * 2) as usize],
            items: Vec::with_capacity(32),
        }
    }

    /// Renders frame `n` of `scene` with the other people (farthest first)
    /// and the performer in front of them into `out` (RGB, row-major);
    /// returns where each performer part lies and where each other person is.
    pub fn render(
        &mut self,
        scene: &Scene,
        n: u64,
        performer: &FigureRef,
        others: &[FigureRef],
        out: &mut [u8],
    ) -> (PartBoxes, Vec<Option<BBox>>) {
        let (dx, dy) = scene.shake.offset(n);
        self.canvas.mask.fill(false);
        let mut boxes: PartBoxes = [None; 12];
        let mut placed = Vec::with_capacity(others.len());
        for other in others {
            let mut parts: PartBoxes = [None; 12];
            self.draw_figure(scene, other, (dx, dy), &mut parts);
            placed.push(BBox::of_parts(&parts));
        }
        self.draw_figure(scene, performer, (dx, dy), &mut boxes);
        self.composite(scene, n, (dx, dy), out);
        (boxes, placed)
    }

    fn draw_figure(
        &mut self,
        scene: &Scene,
        fig: &FigureRef,
        shake: (i32, i32),
        boxes: &mut PartBoxes,
    ) {
        let cam = &scene.camera;
        let (sx, sy) = (shake.0 as f32, shake.1 as f32);
        let proj = |p: V3| {
            let (x, y, z) = cam.project(p).unwrap_or((-1e4, -1e4, 1.0));
            (x - sx, y - sy, z)
        };
        let s = fig.skeleton;
        let b = fig.build;
        let look = fig.look;
        let pelvis_depth = proj(s.pelvis).2;
        let px_per_unit = cam.f / pelvis_depth;
        let width = |w: f32| (w * px_per_unit).max(scene.min_limb_px);
        self.items.clear();
        let limb =
            |part: Part, a: V3, bb: V3, w: f32, colour: Rgb, items: &mut Vec<(f32, Item)>| {
                let (pa, pb) = (proj(a), proj(bb));
                let depth = 0.5 * (pa.2 + pb.2);
                let k = 0.86 - 0.14 * ((depth - pelvis_depth) / 0.12).clamp(-1.0, 1.0);
                let item = Item::Limb {
                    part,
                    a: (pa.0, pa.1),
                    b: (pb.0, pb.1),
                    width: width(w),
                    colour: shade(colour, k),
                };
                items.push((depth, item));
            };
        let items = &mut self.items;
        for i in 0..2 {
            let l = i == 0;
            let pick = |left: Part, right: Part| if l { left } else { right };
            limb(
                pick(Part::UpperArmL, Part::UpperArmR),
                s.shoulder[i],
                s.elbow[i],
                b.w_upper_arm,
                look.sleeves,
                items,
            );
            limb(
                pick(Part::ForearmL, Part::ForearmR),
                s.elbow[i],
                s.hand[i],
                b.w_forearm,
                look.skin,
                items,
            );
            limb(
                pick(Part::ThighL, Part::ThighR),
                s.hip[i],
                s.knee[i],
                b.w_thigh,
                look.legs,
                items,
            );
            limb(
                pick(Part::ShankL, Part::ShankR),
                s.knee[i],
                s.ankle[i],
                b.w_shank,
                look.legs,
                items,
            );
            limb(
                pick(Part::FootL, Part::FootR),
                s.ankle[i],
                s.toe[i],
                b.w_foot,
                look.feet,
                items,
            );
        }
        // Torso: shaded by how much its front faces the camera.
        let mid = s.neck.lerp(s.pelvis, 0.35);
        let front = (s.chest_front - mid).norm();
        let facing = front.dot((cam.pos - mid).norm());
        let top = shade(look.top, 0.8 + 0.2 * facing);
        let (pn, pp) = (proj(s.neck), proj(s.pelvis));
        let torso_depth = 0.5 * (pn.2 + pp.2);
        items.push((
            torso_depth,
            Item::Limb {
                part: Part::Torso,
                a: (pn.0, pn.1),
                b: (pp.0, pp.1),
                width: width(b.w_torso),
                colour: top,
            },
        ));
        let q = [s.shoulder[0], s.shoulder[1], s.hip[1], s.hip[0]].map(|p| {
            let p = proj(p);
            (p.0, p.1)
        });
        items.push((
            torso_depth - 1e-3,
            Item::Quad {
                part: Part::Torso,
                p: q,
                colour: top,
            },
        ));
        // Head and hair.
        let (ph, pr) = (proj(s.head), proj(s.hair));
        let r = (b.head_r * px_per_unit).max(0.75 * scene.min_limb_px);
        items.push((
            ph.2,
            Item::Disc {
                part: Part::Head,
                c: (ph.0, ph.1),
                r,
                colour: look.skin,
            },
        ));
        items.push((
            pr.2,
            Item::Disc {
                part: Part::Head,
                c: (pr.0, pr.1),
                r: 0.85 * r,
                colour: look.hair,
            },
        ));
        let neck_top = s.neck.lerp(s.head, 0.6);
        limb(Part::Torso, s.neck, neck_top, 0.05, look.skin, items);

        self.items.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ss = SS as f32;
        let pt = |p: (f32, f32)| Point::new((p.0 * ss).round() as i32, (p.1 * ss).round() as i32);
        for (_, item) in &self.items {
            let (part, bbox) = match *item {
                Item::Limb {
                    part,
                    a,
                    b,
                    width,
                    colour,
                } => {
                    let c = Rgb888::new(colour[0], colour[1], colour[2]);
                    let d = (width * ss).round().max(1.0) as u32;
                    let _ = Line::new(pt(a), pt(b))
                        .into_styled(PrimitiveStyle::with_stroke(c, d))
                        .draw(&mut self.canvas);
                    for e in [a, b] {
                        let _ = Circle::with_center(pt(e), d)
                            .into_styled(PrimitiveStyle::with_fill(c))
                            .draw(&mut self.canvas);
                    }
                    let r = 0.5 * width;
                    (
                        part,
                        BBox::around(a.0, a.1, r).union(BBox::around(b.0, b.1, r)),
                    )
                }
                Item::Quad { part, p, colour } => {
                    let c = PrimitiveStyle::with_fill(Rgb888::new(colour[0], colour[1], colour[2]));
                    let _ = Triangle::new(pt(p[0]), pt(p[1]), pt(p[2]))
                        .into_styled(c)
                        .draw(&mut self.canvas);
                    let _ = Triangle::new(pt(p[0]), pt(p[2]), pt(p[3]))
                        .into_styled(c)
                        .draw(&mut self.canvas);
                    let bbox = p
                        .iter()
                        .skip(1)
                        .fold(BBox::around(p[0].0, p[0].1, 0.5), |acc, q| {
                            acc.union(BBox::around(q.0, q.1, 0.5))
                        });
                    (part, bbox)
                }
                Item::Disc { part, c, r, colour } => {
                    let col = Rgb888::new(colour[0], colour[1], colour[2]);
                    let d = (2.0 * r * ss).round().max(1.0) as u32;
                    let _ = Circle::with_center(pt(c), d)
                        .into_styled(PrimitiveStyle::with_fill(col))
                        .draw(&mut self.canvas);
                    (part, BBox::around(c.0, c.1, r))
                }
            };
            let slot = &mut boxes[part.index()];
            *slot = Some(slot.map_or(bbox, |o| o.union(bbox)));
        }
    }

    fn composite(&mut self, scene: &Scene, n: u64, shake: (i32, i32), out: &mut [u8]) {
        let (w, h) = (scene.width as usize, scene.height as usize);
        let m = scene.margin as i32;
        let bw = scene.width as usize + 2 * scene.margin as usize;
        let photo = &scene.photo;
        let sigma = photo.noise_sigma;
        if sigma > 0.0 {
            ChaCha8Rng::seed_from_u64(scene.frame_seed(n)).fill_bytes(&mut self.noise);
        }
        let cw = self.canvas.w as usize;
        for y in 0..h {
            let by = (y as i32 + m + shake.1).clamp(0, scene.height as i32 + 2 * m - 1) as usize;
            for x in 0..w {
                let bx = (x as i32 + m + shake.0).clamp(0, bw as i32 - 1) as usize;
                let bg = &scene.background[(by * bw + bx) * 3..][..3];
                let mut acc = [0u32; 3];
                for sy in 0..SS as usize {
                    for sx in 0..SS as usize {
                        let i = (y * SS as usize + sy) * cw + x * SS as usize + sx;
                        let c = if self.canvas.mask[i] {
                            self.canvas.rgb[i]
                        } else {
                            [bg[0], bg[1], bg[2]]
                        };
                        for k in 0..3 {
                            acc[k] += c[k] as u32;
                        }
                    }
                }
                let o = (y * w + x) * 3;
                for k in 0..3 {
                    let v = acc[k] as f32 / (SS * SS) as f32;
                    let mut v =
                        (v * photo.gain[k] - 128.0) * photo.contrast + 128.0 + photo.brightness;
                    if sigma > 0.0 {
                        let r = self.noise[(o + k) * 2] as f32 + self.noise[(o + k) * 2 + 1] as f32
                            - 255.0;
                        v += r * (sigma * 2.449_489_7 / 255.0);
                    }
                    out[o + k] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}
