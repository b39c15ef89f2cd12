//! Contact sheets: a few frames of one clip per class, labelled, so a
//! person can look at the classes of a set.

use crate::clipset::ClipSet;
use crate::error::Error;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use image::{Rgb, RgbImage};
use std::convert::Infallible;

/// `embedded-graphics` drawing onto an `RgbImage`.
struct Sheet<'a>(&'a mut RgbImage);

impl OriginDimensions for Sheet<'_> {
    fn size(&self) -> Size {
        Size::new(self.0.width(), self.0.height())
    }
}

impl DrawTarget for Sheet<'_> {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        for Pixel(p, c) in pixels {
            if p.x >= 0
                && p.y >= 0
                && (p.x as u32) < self.0.width()
                && (p.y as u32) < self.0.height()
            {
                self.0
                    .put_pixel(p.x as u32, p.y as u32, Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

const LABEL_H: u32 = 13;
const GAP: u32 = 2;

/// A contact sheet of `set`: one row per class (the first clip of that
/// class), `frames` frames spread over the clip, the class label above.
/// Classes without clips get a row with the label only.
pub fn contact_sheet(set: &ClipSet, frames: u32) -> Result<RgbImage, Error> {
    let frames = frames.max(1);
    let (w, h) = (set.meta().width, set.meta().height);
    let rows = set.labels().len() as u32;
    let sheet_w = frames * (w + GAP) + GAP;
    let row_h = LABEL_H + h + GAP;
    let mut img = RgbImage::from_pixel(sheet_w, rows * row_h + GAP, Rgb([24, 24, 28]));
    let style = MonoTextStyle::new(&FONT_6X10, Rgb888::new(240, 240, 240));
    for (class_id, label) in set.labels().iter().enumerate() {
        let y0 = class_id as u32 * row_h + GAP;
        let clip = set.clips().iter().find(|c| c.class_id == class_id);
        let title = match clip {
            Some(c) => format!("{class_id}: {label}  ({})", c.clip_dir),
            None => format!("{class_id}: {label}  (no clip)"),
        };
        let _ = Text::with_baseline(
            &title,
            Point::new(GAP as i32, y0 as i32 + 1),
            style,
            Baseline::Top,
        )
        .draw(&mut Sheet(&mut img));
        let Some(clip) = clip else { continue };
        for i in 0..frames {
            let k = ((i as f32 + 0.5) * clip.num_frames as f32 / frames as f32) as u32 + 1;
            let frame = set.load_frame(clip, k.min(clip.num_frames))?;
            image::imageops::replace(
                &mut img,
                &frame,
                i64::from(GAP + i * (w + GAP)),
                i64::from(y0 + LABEL_H),
            );
        }
    }
    Ok(img)
}
