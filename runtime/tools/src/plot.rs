//! Pictures of evaluation results.

use std::path::Path;

use crate::eval::Run;

/// Font files tried for the plot's text, in order.
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Draws `run`'s confusion matrix, rows normalised per true class.
pub fn plot_confusion(run: &Run, labels: &[String], path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;

    let font = FONTS.iter().find_map(|p| std::fs::read(p).ok());
    let with_text = match font {
        Some(bytes) => {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| anyhow::anyhow!("cannot load the plot font"))?;
            true
        }
        None => {
            log::warn!(
                "no DejaVu Sans font found ({FONTS:?}); the confusion matrix is drawn without text"
            );
            false
        }
    };
    let c = labels.len();
    let cell = 40u32;
    let margin = if with_text { 220 } else { 10 };
    let size = (margin + cell * c as u32 + 20, margin + cell * c as u32 + 20);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let x0 = margin as i32;
    let y0 = if with_text { 60 } else { 10 };
    for (y, row) in run.confusion.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (x, &n) in row.iter().enumerate() {
            let v = n as f64 / total;
            let shade = (255.0 * (1.0 - v)) as u8;
            let colour = RGBColor(shade, shade, 255);
            let (px, py) = (x0 + x as i32 * cell as i32, y0 + y as i32 * cell as i32);
            root.draw(&Rectangle::new(
                [(px, py), (px + cell as i32, py + cell as i32)],
                colour.filled(),
            ))?;
            if with_text && n > 0 {
                let ink = if v > 0.5 { &WHITE } else { &BLACK };
                root.draw(&Text::new(
                    n.to_string(),
                    (px + 8, py + 12),
                    ("sans-serif", 14).into_font().color(ink),
                ))?;
            }
        }
    }
    if with_text {
        let title = format!(
            "{} {} on {}: top-1 {:.1} % (rows: true class, columns: predicted)",
            run.model,
            run.precision,
            run.backend,
            run.top1 * 100.0
        );
        root.draw(&Text::new(title, (10, 10), ("sans-serif", 16).into_font()))?;
        for (i, l) in labels.iter().enumerate() {
            let short: String = l.chars().take(30).collect();
            let y = y0 + i as i32 * cell as i32 + 12;
            root.draw(&Text::new(
                format!("{i} {short}"),
                (5, y),
                ("sans-serif", 12).into_font(),
            ))?;
            let x = x0 + i as i32 * cell as i32 + 12;
            root.draw(&Text::new(
                i.to_string(),
                (x, y0 - 18),
                ("sans-serif", 12).into_font(),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}
