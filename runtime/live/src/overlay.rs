//! Where the tracklets look, drawn over the frames: each model frame of a
//! clip as the camera saw it, with each tracklet's region attention laid
//! over it in the tracklet's colour, its strongest cell outlined, and the
//! prediction with its confidence above (`artrt infer --overlay`, and the
//! HTTP output's `/preview.png`, drawn over the frames the model took).

use std::convert::Infallible;

use artrt_infer::InputSpec;
use artrt_infer::region::InputGeometry;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use image::{RgbImage, imageops};

/// Colour of each tracklet, in order (then repeated).
pub const TRACKLET_COLOURS: [[u8; 3]; 4] =
    [[255, 64, 32], [32, 200, 255], [255, 220, 0], [200, 80, 255]];
/// Tiles per row.
const COLUMNS: usize = 4;
/// Height of the caption bar above the tiles, in pixels.
const CAPTION: u32 = 28;
/// Gap between tiles, in pixels.
const GAP: u32 = 4;
/// Strongest blend of a tracklet's colour over a cell.
const MAX_ALPHA: f32 = 0.65;

/// What the model said about the clip.
pub struct Prediction<'a> {
    /// Predicted label.
    pub label: &'a str,
    /// Its probability, 0 to 1.
    pub confidence: f32,
}

/// An `image` RGB buffer as an `embedded-graphics` draw target.
struct Canvas<'a>(&'a mut RgbImage);

impl OriginDimensions for Canvas<'_> {
    fn size(&self) -> Size {
        Size::new(self.0.width(), self.0.height())
    }
}

impl DrawTarget for Canvas<'_> {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        let (w, h) = (self.0.width() as i32, self.0.height() as i32);
        for Pixel(p, c) in pixels {
            if (0..w).contains(&p.x) && (0..h).contains(&p.y) {
                self.0
                    .put_pixel(p.x as u32, p.y as u32, image::Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

fn rgb(c: [u8; 3]) -> Rgb888 {
    Rgb888::new(c[0], c[1], c[2])
}

/// Draws `frames` (the clip's model frames, as decoded, all of one size)
/// scaled by `scale`, with `region_attn` (`[T][tracklets][cells]`, row-major
/// cells of `geometry`'s grid) over them, under a caption with `prediction`.
///
/// # Errors
/// When the frames are missing or of different sizes, or the attention does
/// not match them and the grid.
pub fn draw(
    frames: &[RgbImage],
    region_attn: &[f32],
    tracklets: usize,
    geometry: &InputGeometry,
    prediction: &Prediction<'_>,
    scale: u32,
) -> Result<RgbImage, String> {
    let first = frames.first().ok_or("no frames to draw")?;
    let (fw, fh) = first.dimensions();
    if frames.iter().any(|f| f.dimensions() != (fw, fh)) {
        return Err("frames of different sizes".into());
    }
    let cells = geometry.cells();
    if tracklets == 0 || region_attn.len() != frames.len() * tracklets * cells {
        return Err(format!(
            "region attention of {} values does not fit {} frames x {tracklets} tracklets x {cells} cells",
            region_attn.len(),
            frames.len()
        ));
    }
    let scale = scale.clamp(1, 8);
    let (tw, th) = (fw * scale, fh * scale);
    let columns = frames.len().min(COLUMNS) as u32;
    let rows = frames.len().div_ceil(COLUMNS) as u32;
    let mut out = RgbImage::from_pixel(
        columns * tw + (columns + 1) * GAP,
        CAPTION + rows * th + (rows + 1) * GAP,
        image::Rgb([24, 24, 24]),
    );
    for (t, frame) in frames.iter().enumerate() {
        let mut tile = imageops::resize(frame, tw, th, imageops::FilterType::Triangle);
        let attn = &region_attn[t * tracklets * cells..][..tracklets * cells];
        shade(&mut tile, attn, tracklets, geometry, scale as f32);
        let (x, y) = (
            GAP + (t as u32 % COLUMNS as u32) * (tw + GAP),
            CAPTION + GAP + (t as u32 / COLUMNS as u32) * (th + GAP),
        );
        imageops::replace(&mut out, &tile, i64::from(x), i64::from(y));
    }
    caption(&mut out, prediction, tracklets);
    Ok(out)
}

/// The frames of a preprocessed clip, `[T, 3, H, W]` normalised by
/// `input`, as images: what the model took, normalisation undone.
///
/// # Errors
/// When the clip does not hold `input`'s frames.
pub fn model_frames(clip: &[f32], input: &InputSpec) -> Result<Vec<RgbImage>, String> {
    let (w, h) = (input.width as usize, input.height as usize);
    let plane = w * h;
    if plane == 0 || clip.len() != input.frames * 3 * plane {
        return Err(format!(
            "a clip of {} values is not {} frames of 3 x {h} x {w}",
            clip.len(),
            input.frames
        ));
    }
    Ok(clip
        .chunks_exact(3 * plane)
        .map(|frame| {
            RgbImage::from_fn(input.width, input.height, |x, y| {
                let i = y as usize * w + x as usize;
                image::Rgb(std::array::from_fn(|c| {
                    let v = frame[c * plane + i] * input.std[c] + input.mean[c];
                    (v * 255.0).round().clamp(0.0, 255.0) as u8
                }))
            })
        })
        .collect())
}

/// The token grid over [`model_frames`]: the model's own input, neither
/// resized nor cropped.
pub fn model_geometry(input: &InputSpec, grid: [usize; 2]) -> InputGeometry {
    let own = InputSpec {
        resize_to: input.width.min(input.height),
        ..input.clone()
    };
    InputGeometry::new(&own, grid, input.width, input.height)
}

/// Blends each tracklet's attention over a tile and outlines its strongest cell.
fn shade(
    tile: &mut RgbImage,
    attn: &[f32],
    tracklets: usize,
    geometry: &InputGeometry,
    scale: f32,
) {
    let cells = geometry.cells();
    let (w, h) = tile.dimensions();
    let pixel_box = |i: usize| {
        let [x0, y0, x1, y1] = geometry.cell_in_frame(i).map(|v| v * scale);
        let clip = |v: f32, hi: u32| (v.round().max(0.0) as u32).min(hi);
        (clip(x0, w), clip(y0, h), clip(x1, w), clip(y1, h))
    };
    for j in 0..tracklets {
        let map = &attn[j * cells..][..cells];
        let peak = map.iter().copied().fold(0.0f32, f32::max);
        if peak <= 0.0 || !peak.is_finite() {
            continue;
        }
        let colour = TRACKLET_COLOURS[j % TRACKLET_COLOURS.len()];
        for (i, &a) in map.iter().enumerate() {
            let alpha = MAX_ALPHA * (a / peak).clamp(0.0, 1.0) / tracklets as f32 * 1.5;
            let (x0, y0, x1, y1) = pixel_box(i);
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = tile.get_pixel_mut(x, y);
                    for (v, c) in p.0.iter_mut().zip(colour) {
                        *v = (f32::from(*v) * (1.0 - alpha) + f32::from(c) * alpha).round() as u8;
                    }
                }
            }
        }
        let best = map
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        let (x0, y0, x1, y1) = pixel_box(best);
        let rect = Rectangle::with_corners(
            Point::new(x0 as i32, y0 as i32),
            Point::new(x1 as i32 - 1, y1 as i32 - 1),
        );
        let _ = rect
            .into_styled(PrimitiveStyle::with_stroke(rgb(colour), 2))
            .draw(&mut Canvas(tile));
    }
}

/// The caption: the prediction and confidence, then one swatch per tracklet.
fn caption(out: &mut RgbImage, prediction: &Prediction<'_>, tracklets: usize) {
    let mut canvas = Canvas(out);
    let white = MonoTextStyle::new(&FONT_6X10, Rgb888::WHITE);
    let text = format!(
        "{}  {:.1} %",
        prediction.label,
        100.0 * prediction.confidence.clamp(0.0, 1.0)
    );
    let _ = Text::with_baseline(&text, Point::new(GAP as i32, 3), white, Baseline::Top)
        .draw(&mut canvas);
    let mut x = GAP as i32;
    for j in 0..tracklets {
        let colour = rgb(TRACKLET_COLOURS[j % TRACKLET_COLOURS.len()]);
        let _ = Rectangle::new(Point::new(x, 16), Size::new(8, 8))
            .into_styled(PrimitiveStyle::with_fill(colour))
            .draw(&mut canvas);
        let name = format!("tracklet {}", j + 1);
        let _ = Text::with_baseline(&name, Point::new(x + 11, 15), white, Baseline::Top)
            .draw(&mut canvas);
        x += 11 + 6 * name.len() as i32 + 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use artrt_infer::InputSpec;
    use artrt_infer::bundle::{Crop, Resize, Sampling};

    fn geometry() -> InputGeometry {
        InputGeometry::new(&geometry_spec(), [7, 7], 160, 120)
    }

    fn geometry_spec() -> InputSpec {
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
    fn each_tracklet_tints_and_outlines_its_strongest_cell_in_its_colour() {
        let g = geometry();
        let frames = vec![RgbImage::from_pixel(160, 120, image::Rgb([100, 100, 100])); 2];
        let mut attn = vec![0.0f32; 2 * 2 * 49];
        for t in 0..2 {
            attn[t * 98 + 8] = 1.0; // tracklet 1: cell (1, 1)
            attn[t * 98 + 49 + 40] = 1.0; // tracklet 2: cell (5, 5)
        }
        let p = Prediction {
            label: "salto",
            confidence: 0.9,
        };
        let img = draw(&frames, &attn, 2, &g, &p, 2).unwrap();
        assert_eq!(
            img.dimensions(),
            (2 * 320 + 3 * GAP, CAPTION + 240 + 2 * GAP)
        );
        let at = |i: usize| {
            let [x0, y0, x1, y1] = g.cell_in_frame(i).map(|v| v * 2.0);
            let (x, y) = (
                ((x0 + x1) / 2.0) as u32 + GAP,
                ((y0 + y1) / 2.0) as u32 + CAPTION + GAP,
            );
            img.get_pixel(x, y).0
        };
        let (red, blue, plain) = (at(8), at(40), at(24));
        assert!(red[0] > 150 && red[2] < 100, "{red:?}");
        assert!(blue[2] > 150 && blue[0] < 100, "{blue:?}");
        assert_eq!(plain, [100, 100, 100]);
        // The caption has text in it.
        assert!((0..CAPTION).any(|y| (0..200).any(|x| img.get_pixel(x, y).0 == [255, 255, 255])));
    }

    #[test]
    fn model_frames_undo_the_normalisation_over_an_untouched_grid() {
        let input = InputSpec {
            frames: 2,
            width: 4,
            height: 2,
            resize_to: 8,
            mean: [0.5, 0.25, 0.0],
            std: [0.5, 0.25, 1.0],
            ..geometry_spec()
        };
        let mut clip = vec![0.0f32; 2 * 3 * 8];
        clip[8 + 3] = 1.0; // frame 0, green, pixel (3, 0): 1 * 0.25 + 0.25
        clip[24 + 16 + 7] = 0.5; // frame 1, blue, pixel (3, 1)
        let frames = model_frames(&clip, &input).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].dimensions(), (4, 2));
        assert_eq!(frames[0].get_pixel(3, 0).0, [128, 128, 0]);
        assert_eq!(frames[0].get_pixel(0, 0).0, [128, 64, 0]);
        assert_eq!(frames[1].get_pixel(3, 1).0, [128, 64, 128]);
        assert!(
            model_frames(&clip[1..], &input)
                .unwrap_err()
                .contains("47 values")
        );
        // The grid covers the input itself: cell (0, 1) of a 1 x 2 grid is its right half.
        let g = model_geometry(&input, [1, 2]);
        assert_eq!(g.cell_in_frame(1), [2.0, 0.0, 4.0, 2.0]);
    }

    #[test]
    fn attention_that_does_not_fit_is_refused() {
        let frames = vec![RgbImage::new(160, 120); 2];
        let p = Prediction {
            label: "x",
            confidence: 0.5,
        };
        let err = draw(&frames, &[0.0; 10], 2, &geometry(), &p, 1).unwrap_err();
        assert!(
            err.contains("does not fit 2 frames x 2 tracklets x 49 cells"),
            "{err}"
        );
        assert!(draw(&[], &[], 2, &geometry(), &p, 1).is_err());
    }
}
