//! Where the model looks: the token grid of its region attention placed on
//! a source frame, and the region hit of its tracklets against a box.
//!
//! The model's input is the centred `width x height` crop of the frame
//! resized so its shorter side is `resize_to`; its `h x w` token grid
//! divides that crop into equal cells. A tracklet's region hit in a frame
//! is the share of its attention on the cells the performer's box covers
//! any part of: at the model's token resolution, the attention on the
//! performer (1 when all of it is, 0 when none is).
//! The overlap of two tracklets is `sum_n min(a_1[n], a_2[n])`: 1 for the
//! same map, 0 for disjoint ones.

use serde::Serialize;

use crate::InputSpec;
use crate::preprocess::resized_size;

/// A box `[x0, y0, x1, y1]` in pixels.
pub type Box2 = [f32; 4];

/// The model input's crop and token grid within a source frame of one size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputGeometry {
    /// Source pixels per input pixel, horizontally and vertically.
    scale: (f32, f32),
    /// The crop's top-left corner in resized pixels.
    offset: (f32, f32),
    /// Input size.
    size: (f32, f32),
    /// Token grid, rows and columns.
    grid: [usize; 2],
}

impl InputGeometry {
    /// The geometry of `spec` with a `grid` of tokens, for `frame_w x frame_h` frames.
    pub fn new(spec: &InputSpec, grid: [usize; 2], frame_w: u32, frame_h: u32) -> InputGeometry {
        let (rw, rh) = resized_size(frame_w, frame_h, spec.resize_to);
        InputGeometry {
            scale: (frame_w as f32 / rw as f32, frame_h as f32 / rh as f32),
            offset: (
                (rw.saturating_sub(spec.width) / 2) as f32,
                (rh.saturating_sub(spec.height) / 2) as f32,
            ),
            size: (spec.width as f32, spec.height as f32),
            grid: [grid[0].max(1), grid[1].max(1)],
        }
    }

    /// Cells in the grid.
    pub fn cells(&self) -> usize {
        self.grid[0] * self.grid[1]
    }

    /// A box in the frame's pixels as the model's input sees it, cut to the crop.
    pub fn to_input(&self, b: Box2) -> Box2 {
        let (sx, sy) = self.scale;
        let (ox, oy) = self.offset;
        let (w, h) = self.size;
        [
            (b[0] / sx - ox).clamp(0.0, w),
            (b[1] / sy - oy).clamp(0.0, h),
            (b[2] / sx - ox).clamp(0.0, w),
            (b[3] / sy - oy).clamp(0.0, h),
        ]
    }

    /// Cell `index` (row-major) as a box in the frame's pixels.
    pub fn cell_in_frame(&self, index: usize) -> Box2 {
        let (r, c) = (index / self.grid[1], index % self.grid[1]);
        let (cw, ch) = (
            self.size.0 / self.grid[1] as f32,
            self.size.1 / self.grid[0] as f32,
        );
        let (sx, sy) = self.scale;
        let (ox, oy) = self.offset;
        [
            (c as f32 * cw + ox) * sx,
            (r as f32 * ch + oy) * sy,
            ((c + 1) as f32 * cw + ox) * sx,
            ((r + 1) as f32 * ch + oy) * sy,
        ]
    }

    /// 1 for each cell (row-major) that `b`, a box in the frame's pixels,
    /// covers any part of, 0 for the others.
    pub fn coverage(&self, b: Box2) -> Vec<f32> {
        let [x0, y0, x1, y1] = self.to_input(b);
        let (cw, ch) = (
            self.size.0 / self.grid[1] as f32,
            self.size.1 / self.grid[0] as f32,
        );
        let span = |lo: f32, hi: f32, k: usize, step: f32| {
            let (a, z) = (k as f32 * step, (k + 1) as f32 * step);
            ((hi.min(z) - lo.max(a)) / step).max(0.0)
        };
        let mut out = Vec::with_capacity(self.cells());
        for r in 0..self.grid[0] {
            let fy = span(y0, y1, r, ch);
            for c in 0..self.grid[1] {
                out.push(if fy * span(x0, x1, c, cw) > 0.0 {
                    1.0
                } else {
                    0.0
                });
            }
        }
        out
    }
}

/// Region hit and overlap of a model's tracklets over many frames.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RegionHit {
    /// Frames with a performer box that were counted.
    pub frames: usize,
    /// Mean region hit of each tracklet.
    pub region_hit: Vec<f64>,
    /// The highest of `region_hit`.
    pub best_region_hit: f64,
    /// Mean overlap of the first two tracklets' maps (over every frame).
    pub overlap: f64,
}

/// Sums of region hit and overlap, clip by clip.
#[derive(Debug, Clone, Default)]
pub struct RegionTally {
    hit: Vec<f64>,
    hit_frames: usize,
    overlap: f64,
    overlap_frames: usize,
}

impl RegionTally {
    /// Adds one clip: `attn` is its region attention `[T][tracklets][cells]`
    /// and `coverage[t]` the performer's [`InputGeometry::coverage`] in model
    /// frame `t` (`None` where the frame has no box).
    pub fn add(&mut self, attn: &[f32], tracklets: usize, coverage: &[Option<Vec<f32>>]) {
        let t = coverage.len();
        if t == 0 || tracklets == 0 || !attn.len().is_multiple_of(t * tracklets) {
            return;
        }
        let cells = attn.len() / (t * tracklets);
        self.hit.resize(self.hit.len().max(tracklets), 0.0);
        for (f, cover) in coverage.iter().enumerate() {
            let map = |j: usize| &attn[(f * tracklets + j) * cells..][..cells];
            if let Some(cover) = cover.as_ref().filter(|c| c.len() == cells) {
                for j in 0..tracklets {
                    let h: f32 = map(j).iter().zip(cover).map(|(a, c)| a * c).sum();
                    self.hit[j] += f64::from(h);
                }
                self.hit_frames += 1;
            }
            if tracklets >= 2 {
                let o: f32 = map(0).iter().zip(map(1)).map(|(a, b)| a.min(*b)).sum();
                self.overlap += f64::from(o);
                self.overlap_frames += 1;
            }
        }
    }

    /// The means, once any frame had a box.
    pub fn report(&self) -> Option<RegionHit> {
        if self.hit_frames == 0 {
            return None;
        }
        let n = self.hit_frames as f64;
        let region_hit: Vec<f64> = self.hit.iter().map(|h| h / n).collect();
        Some(RegionHit {
            frames: self.hit_frames,
            best_region_hit: region_hit.iter().copied().fold(0.0, f64::max),
            region_hit,
            overlap: self.overlap / self.overlap_frames.max(1) as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{Crop, Resize, Sampling};

    fn spec() -> InputSpec {
        InputSpec {
            frames: 2,
            window: 16,
            fps: 30.0,
            sampling: Sampling::SegmentCentre,
            resize: Resize::ShorterSideBilinear,
            resize_to: 112,
            crop: Crop::Centre,
            width: 112,
            height: 112,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn boxes_follow_the_resize_and_the_centre_crop() {
        // 160x120 -> 149x112, crop from x = 18.
        let g = InputGeometry::new(&spec(), [7, 7], 160, 120);
        let s = 160.0 / 149.0;
        let b = g.to_input([
            (18.0 + 16.0) * s,
            0.0,
            (18.0 + 40.0) * s,
            120.0 * 16.0 / 112.0,
        ]);
        for (got, want) in b.iter().zip([16.0, 0.0, 40.0, 16.0]) {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
        let cover = g.coverage([
            (18.0 + 16.0) * s,
            0.0,
            (18.0 + 40.0) * s,
            120.0 * 16.0 / 112.0,
        ]);
        assert_eq!(cover.len(), 49);
        assert!(
            cover[1] == 1.0 && cover[2] == 1.0 && cover[3] == 0.0,
            "{cover:?}"
        );
        assert!(cover[0] == 0.0 && cover[7..].iter().all(|&c| c == 0.0));
        let cell = g.cell_in_frame(8);
        let back = g.to_input(cell);
        for (got, want) in back.iter().zip([16.0, 16.0, 32.0, 32.0]) {
            assert!((got - want).abs() < 1e-3, "{back:?}");
        }
    }

    #[test]
    fn region_hit_and_overlap() {
        let on = [0.5, 0.5, 0.0, 0.0];
        let off = [0.0, 0.0, 0.25, 0.75];
        let attn: Vec<f32> = [on, off, off, off].concat();
        let mut tally = RegionTally::default();
        assert_eq!(tally.report(), None);
        tally.add(&attn, 2, &[Some(vec![1.0, 1.0, 0.0, 0.0]), None]);
        let r = tally.report().unwrap();
        assert_eq!(r.frames, 1);
        assert_eq!(r.region_hit, [1.0, 0.0]);
        assert_eq!(r.best_region_hit, 1.0);
        assert!((r.overlap - 0.5).abs() < 1e-9, "{r:?}");
    }
}
