//! `artrt synth`: writes a synthetic fine-grained gym clip set.

use anyhow::{Context, bail};
use artrt_calibration::classes::near_twins;
use artrt_calibration::{ClipSet, Framing, SynthOptions, View, contact_sheet, generate_set};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Arguments of `artrt synth`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory to write the set to (created; must be empty if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of clips (classes take turns, so the set is balanced).
    #[arg(long, default_value_t = 240, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub clips: u32,
    /// Seed; the same seed and options give byte-identical sets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frames per clip.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub frames: u32,
    /// Frame size, WIDTHxHEIGHT.
    #[arg(long, default_value = "160x120", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frame rate written to set.toml; elements last as long in seconds at any rate.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub fps: u32,
    /// `centred`: each element in the middle of its clip (the calibration
    /// sets). `live`: clips as a live sliding window meets them, elements up
    /// to 20 % of their duration off-centre and "no element" clips touching
    /// up to a quarter clip of the neighbouring elements (training sets for
    /// streams).
    #[arg(long, default_value = "centred")]
    pub framing: Framing,
    /// Render contrast pairs instead of one scene per clip: each scene twice,
    /// as the two classes of a pair, the pairs in turn. `near-twins`: every
    /// pair of classes that differ in one detail; or class ids as in
    /// labels.txt, `A:B[,C:D...]` (for example the pairs `artrt eval`'s
    /// confusion matrix shows confused). Training keeps each pair in one batch.
    #[arg(long, value_parser = parse_twins)]
    pub twins: Option<Twins>,
    /// Also write each clip's `boxes.json`: the performer's box in every
    /// frame, in the frame's pixels, and those of the other people (the
    /// ground truth of `artrt eval`'s region hit).
    #[arg(long)]
    pub boxes: bool,
    /// `gym`: the performer fills much of the frame, at most one person
    /// walks past. `venue`: a wide view of the venue from the side or from
    /// above, the performer small among a coach, judges, the next gymnast
    /// and apparatus (where a global view of the frame is not enough).
    #[arg(long, default_value = "gym")]
    pub view: View,
    /// Also write a contact sheet (PNG): a few frames of one clip per class, labelled.
    #[arg(long)]
    pub preview: Option<PathBuf>,
}

/// The class pairs of `--twins`.
#[derive(Clone, Debug)]
pub struct Twins(Vec<(usize, usize)>);

fn parse_twins(s: &str) -> Result<Twins, String> {
    if s == "near-twins" {
        return Ok(Twins(near_twins().iter().map(|t| (t.a, t.b)).collect()));
    }
    let id = |v: &str| {
        v.trim().parse::<usize>().map_err(|_| {
            format!("{v:?} in {s:?} is not a class id (expected `near-twins` or A:B[,C:D...])")
        })
    };
    s.split(',')
        .map(|pair| {
            let (a, b) = pair.split_once(':').ok_or_else(|| {
                format!("{pair:?} in {s:?} is not A:B (expected `near-twins` or A:B[,C:D...])")
            })?;
            Ok((id(a)?, id(b)?))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Twins)
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| match v.trim().parse::<u32>() {
        Ok(n) if (16..=4096).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} in {s:?} is outside 16..=4096 pixels")),
        Err(_) => Err(format!("{s:?} is not WIDTHxHEIGHT")),
    };
    Ok((parse(w)?, parse(h)?))
}

/// Runs `artrt synth`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = SynthOptions {
        clips: args.clips as usize,
        frames: args.frames,
        width: args.size.0,
        height: args.size.1,
        fps: args.fps,
        seed: args.seed,
        framing: args.framing,
        twins: args.twins.map(|t| t.0).unwrap_or_default(),
        boxes: args.boxes,
        view: args.view,
    };
    if let Err(e) = opts.check() {
        bail!("{e}");
    }
    let bar = ProgressBar::new(opts.clips as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} clips [{elapsed_precise} < {eta}]",
        )
        .context("progress bar template")?,
    );
    let set = generate_set(&args.out, &opts, || bar.inc(1))
        .with_context(|| format!("writing clip set to {}", args.out.display()))?;
    bar.finish_and_clear();
    let counts = set.class_counts();
    log::info!(
        "wrote {} clips of {} frames ({}x{}, {} classes, {} to {} clips each) to {}",
        set.clips().len(),
        opts.frames,
        opts.width,
        opts.height,
        counts.len(),
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0),
        args.out.display()
    );
    if let Some(png) = &args.preview {
        write_preview(&set, png)?;
        log::info!("contact sheet: {}", png.display());
    }
    Ok(())
}

fn write_preview(set: &ClipSet, png: &PathBuf) -> anyhow::Result<()> {
    let sheet = contact_sheet(set, 6)
        .with_context(|| format!("reading frames of {}", set.root().display()))?;
    sheet
        .save(png)
        .with_context(|| format!("writing contact sheet {}", png.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_parse_as_named_pairs_or_every_near_twin() {
        assert_eq!(parse_twins("0:9, 4:10").unwrap().0, [(0, 9), (4, 10)]);
        let all = parse_twins("near-twins").unwrap().0;
        assert_eq!(all.len(), near_twins().len());
        assert!(all.contains(&(0, 9)));
        for (bad, says) in [("0-9", "is not A:B"), ("0:x", "\"x\""), ("", "is not A:B")] {
            let err = parse_twins(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
