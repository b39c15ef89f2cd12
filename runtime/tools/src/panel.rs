//! The panel a venue shows: the current action, a confidence bar and the
//! device's status, drawn with `embedded-graphics` onto a monochrome
//! framebuffer, then printed as block characters or saved as PNG.

use std::path::{Path, PathBuf};

use embedded_graphics::framebuffer::{Framebuffer, buffer_size};
use embedded_graphics::image::GetPixel;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_5X8;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::pixelcolor::raw::{BigEndian, RawU1};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

/// Panel width in pixels: a 32-character label in a 5-pixel font, plus margins.
pub const PANEL_WIDTH: usize = 164;
/// Panel height in pixels: three lines.
pub const PANEL_HEIGHT: usize = 32;

/// The panel's pixels.
pub type PanelFrame = Framebuffer<
    BinaryColor,
    RawU1,
    BigEndian,
    PANEL_WIDTH,
    PANEL_HEIGHT,
    { buffer_size::<BinaryColor>(PANEL_WIDTH, PANEL_HEIGHT) },
>;

/// The action on the panel's action line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownAction {
    /// Index of the class in the device's label list.
    pub class_id: u16,
    /// The label as received.
    pub label: String,
    /// Confidence in per-mille.
    pub conf: u16,
}

/// What the last heartbeat said about the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceState {
    /// Overall status.
    pub status: arts::Status,
    /// The inference backend in use.
    pub backend: arts::Backend,
    /// Camera frames per second times ten.
    pub fps_x10: u16,
    /// Seconds since the device started.
    pub uptime_s: u32,
    /// No heartbeat has come for a while.
    pub stale: bool,
}

/// Everything the panel shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PanelState {
    /// The action line; `None` when cleared.
    pub action: Option<ShownAction>,
    /// The device line; `None` before the first heartbeat.
    pub device: Option<DeviceState>,
}

impl PanelState {
    /// The device line's text.
    pub fn device_line(&self) -> String {
        match self.device {
            None => "NO HEARTBEAT".to_string(),
            Some(d) if d.stale => format!("NO HEARTBEAT (last {})", d.status.as_str()),
            Some(d) => format!(
                "{} {} {}.{} fps",
                d.status.as_str(),
                d.backend.as_str(),
                d.fps_x10 / 10,
                d.fps_x10 % 10
            ),
        }
    }

    /// Draws the panel into a new frame.
    pub fn render(&self) -> PanelFrame {
        let mut frame = PanelFrame::new();
        // Drawing into a framebuffer cannot fail.
        let Ok(()) = self.draw(&mut frame);
        frame
    }
}

impl Drawable for PanelState {
    type Color = BinaryColor;
    type Output = ();

    fn draw<D: DrawTarget<Color = BinaryColor>>(&self, target: &mut D) -> Result<(), D::Error> {
        let style = MonoTextStyle::new(&FONT_5X8, BinaryColor::On);
        if let Some(action) = &self.action {
            Text::with_baseline(&action.label, Point::new(2, 1), style, Baseline::Top)
                .draw(target)?;
            ConfidenceBar {
                top_left: Point::new(2, 12),
                size: Size::new(120, 6),
                conf: action.conf,
            }
            .draw(target)?;
            let percent = format!("{}.{}%", action.conf / 10, action.conf % 10);
            Text::with_baseline(&percent, Point::new(126, 11), style, Baseline::Top)
                .draw(target)?;
        }
        Text::with_baseline(&self.device_line(), Point::new(2, 23), style, Baseline::Top)
            .draw(target)?;
        Ok(())
    }
}

/// A framed bar filled in proportion to a confidence in per-mille.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfidenceBar {
    /// Top-left corner of the frame.
    pub top_left: Point,
    /// Size of the frame; the fill sits one pixel inside it.
    pub size: Size,
    /// Confidence in per-mille, 0..=1000 (more counts as 1000).
    pub conf: u16,
}

impl Drawable for ConfidenceBar {
    type Color = BinaryColor;
    type Output = ();

    fn draw<D: DrawTarget<Color = BinaryColor>>(&self, target: &mut D) -> Result<(), D::Error> {
        let frame = Rectangle::new(self.top_left, self.size);
        frame
            .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
            .draw(target)?;
        let inner_w = self.size.width.saturating_sub(2);
        let inner_h = self.size.height.saturating_sub(2);
        let filled = (inner_w * u32::from(self.conf.min(1000)) + 500) / 1000;
        let inside = self.top_left + Point::new(1, 1);
        Rectangle::new(inside, Size::new(filled, inner_h))
            .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
            .draw(target)?;
        Rectangle::new(
            inside + Point::new(filled as i32, 0),
            Size::new(inner_w - filled, inner_h),
        )
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::Off))
        .draw(target)
    }
}

/// Whether the pixel at (`x`, `y`) is lit; pixels outside are dark.
fn lit(frame: &PanelFrame, x: usize, y: usize) -> bool {
    x < PANEL_WIDTH
        && y < PANEL_HEIGHT
        && frame.pixel(Point::new(x as i32, y as i32)) == Some(BinaryColor::On)
}

/// The frame as text for a terminal: one quadrant block character per
/// 2 x 2 pixels, framed by a border.
pub fn to_blocks(frame: &PanelFrame) -> String {
    const QUADRANTS: [char; 16] = [
        ' ', '▘', '▝', '▀', '▖', '▌', '▞', '▛', '▗', '▚', '▐', '▜', '▄', '▙', '▟', '█',
    ];
    let cols = PANEL_WIDTH.div_ceil(2);
    let mut out = String::new();
    out.push('┌');
    out.extend(std::iter::repeat_n('─', cols));
    out.push_str("┐\n");
    for row in (0..PANEL_HEIGHT).step_by(2) {
        out.push('│');
        for col in (0..PANEL_WIDTH).step_by(2) {
            let bits = usize::from(lit(frame, col, row))
                | usize::from(lit(frame, col + 1, row)) << 1
                | usize::from(lit(frame, col, row + 1)) << 2
                | usize::from(lit(frame, col + 1, row + 1)) << 3;
            out.push(QUADRANTS[bits]);
        }
        out.push_str("│\n");
    }
    out.push('└');
    out.extend(std::iter::repeat_n('─', cols));
    out.push('┘');
    out
}

/// Magnification of the PNG: one panel pixel becomes a square this many
/// pixels wide.
pub const PNG_SCALE: u32 = 4;

/// The frame as an RGB image, lit pixels amber on black, `PNG_SCALE` times
/// as large.
pub fn to_image(frame: &PanelFrame) -> image::RgbImage {
    let (w, h) = (
        PANEL_WIDTH as u32 * PNG_SCALE,
        PANEL_HEIGHT as u32 * PNG_SCALE,
    );
    image::RgbImage::from_fn(w, h, |x, y| {
        if lit(frame, (x / PNG_SCALE) as usize, (y / PNG_SCALE) as usize) {
            image::Rgb([255, 176, 0])
        } else {
            image::Rgb([16, 16, 16])
        }
    })
}

/// Why the panel could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the panel PNG {}", .path.display())]
pub struct PanelError {
    /// The file that could not be written.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: image::ImageError,
}

/// Writes the frame as PNG to `path`, replacing it whole (through a
/// temporary file beside it) so that a viewer never reads half a picture.
pub fn save_png(frame: &PanelFrame, path: &Path) -> Result<(), PanelError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let err = |source| PanelError {
        path: path.to_path_buf(),
        source,
    };
    to_image(frame)
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| err(image::ImageError::IoError(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::mock_display::MockDisplay;

    fn bar(conf: u16) -> MockDisplay<BinaryColor> {
        let mut display = MockDisplay::new();
        ConfidenceBar {
            top_left: Point::new(0, 0),
            size: Size::new(12, 4),
            conf,
        }
        .draw(&mut display)
        .unwrap();
        display
    }

    #[test]
    fn confidence_bar_fills_in_proportion() {
        bar(0).assert_pattern(&[
            "############",
            "#..........#",
            "#..........#",
            "############",
        ]);
        bar(500).assert_pattern(&[
            "############",
            "######.....#",
            "######.....#",
            "############",
        ]);
        bar(912).assert_pattern(&[
            "############",
            "##########.#",
            "##########.#",
            "############",
        ]);
        bar(1000).assert_pattern(&[
            "############",
            "############",
            "############",
            "############",
        ]);
    }

    fn event_panel() -> PanelState {
        PanelState {
            action: Some(ShownAction {
                class_id: 3,
                label: "salto backward tucked".into(),
                conf: 912,
            }),
            device: Some(DeviceState {
                status: arts::Status::Ok,
                backend: arts::Backend::Trt,
                fps_x10: 300,
                uptime_s: 3600,
                stale: false,
            }),
        }
    }

    /// The lit pixels of a frame inside a rectangle.
    fn lit_in(frame: &PanelFrame, x: std::ops::Range<usize>, y: std::ops::Range<usize>) -> usize {
        y.flat_map(|y| x.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| lit(frame, x, y))
            .count()
    }

    /// A text drawn alone where the panel draws it.
    fn text_alone(text: &str, at: Point) -> PanelFrame {
        let mut frame = PanelFrame::new();
        let style = MonoTextStyle::new(&FONT_5X8, BinaryColor::On);
        let Ok(_) = Text::with_baseline(text, at, style, Baseline::Top).draw(&mut frame);
        frame
    }

    fn region_equal(
        a: &PanelFrame,
        b: &PanelFrame,
        x: std::ops::Range<usize>,
        y: std::ops::Range<usize>,
    ) -> bool {
        y.flat_map(|y| x.clone().map(move |x| (x, y)))
            .all(|(x, y)| lit(a, x, y) == lit(b, x, y))
    }

    fn rows_equal(a: &PanelFrame, b: &PanelFrame, rows: std::ops::Range<usize>) -> bool {
        region_equal(a, b, 0..PANEL_WIDTH, rows)
    }

    #[test]
    fn the_panel_shows_label_bar_and_status() {
        let frame = event_panel().render();
        assert!(rows_equal(
            &frame,
            &text_alone("salto backward tucked", Point::new(2, 1)),
            0..10
        ));
        assert!(rows_equal(
            &frame,
            &text_alone("OK trt 30.0 fps", Point::new(2, 23)),
            22..32
        ));
        // The bar's fill: 118 inner pixels at 912 per-mille is 108 lit columns.
        assert_eq!(lit_in(&frame, 3..121, 13..17), 108 * 4);
        assert!(region_equal(
            &frame,
            &text_alone("91.2%", Point::new(126, 11)),
            123..PANEL_WIDTH,
            10..21
        ));
        assert!(lit_in(&frame, 123..PANEL_WIDTH, 10..21) > 0);
    }

    #[test]
    fn a_cleared_panel_has_an_empty_action_line() {
        let mut state = event_panel();
        state.action = None;
        let frame = state.render();
        assert_eq!(lit_in(&frame, 0..PANEL_WIDTH, 0..21), 0);
        assert!(lit_in(&frame, 0..PANEL_WIDTH, 22..32) > 0);
    }

    #[test]
    fn a_missing_or_stale_heartbeat_is_shown() {
        assert_eq!(PanelState::default().device_line(), "NO HEARTBEAT");
        let mut state = event_panel();
        state.device.as_mut().unwrap().stale = true;
        assert_eq!(state.device_line(), "NO HEARTBEAT (last OK)");
        let frame = PanelState::default().render();
        assert!(rows_equal(
            &frame,
            &text_alone("NO HEARTBEAT", Point::new(2, 23)),
            0..PANEL_HEIGHT
        ));
    }

    #[test]
    fn block_text_matches_the_frame() {
        let frame = event_panel().render();
        let text = to_blocks(&frame);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), PANEL_HEIGHT / 2 + 2);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == PANEL_WIDTH / 2 + 2)
        );
        // Full blocks only where all four pixels are lit: the bar's filled rows.
        let full = lines[7].chars().filter(|&c| c == '█').count();
        assert!(full >= 50, "{}", lines[7]);
        let blank = to_blocks(
            &PanelState {
                action: None,
                device: None,
            }
            .render(),
        );
        assert!(
            blank
                .lines()
                .nth(1)
                .unwrap()
                .trim_matches('│')
                .chars()
                .all(|c| c == ' ')
        );
    }

    #[test]
    fn png_has_the_scaled_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("panel.png");
        let frame = event_panel().render();
        save_png(&frame, &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(
            img.dimensions(),
            (
                PANEL_WIDTH as u32 * PNG_SCALE,
                PANEL_HEIGHT as u32 * PNG_SCALE
            )
        );
        for (x, y) in [(2usize, 12usize), (50, 14), (150, 14), (0, 0)] {
            let px = img.get_pixel(x as u32 * PNG_SCALE + 1, y as u32 * PNG_SCALE + 2);
            assert_eq!(px[0] == 255, lit(&frame, x, y), "pixel ({x}, {y})");
        }
        let err = save_png(&frame, &dir.path().join("missing/panel.png")).unwrap_err();
        assert!(err.to_string().contains("missing/panel.png"), "{err}");
    }
}
