//! `artrt infer`: classify one clip directory and print JSON.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use artrt_infer::postprocess::{softmax_into, top_k};
use artrt_infer::preprocess::segment_centre;
use artrt_infer::region::InputGeometry;
use artrt_infer::{Backend, Bundle, FrameRef, Precision, Preprocessor};
use artrt_live::overlay::{self, Prediction};
use serde_json::json;

use super::common::{BackendArgs, DEFAULT_BUNDLE, load_bundle};

/// Arguments of `artrt infer`.
#[derive(clap::Args)]
pub struct Args {
    /// Model bundle: a directory, or the name of an installed bundle.
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    bundle: PathBuf,
    /// Clip directory of JPEG frames `img_00001.jpg`, `img_00002.jpg`, ...
    #[arg(long)]
    clip: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
    /// Model precision.
    #[arg(long, default_value = "fp32")]
    precision: Precision,
    /// Write the exact tensor fed to the model, float32 [1, T, 3, H, W], to this .npy file.
    #[arg(long)]
    dump_input: Option<PathBuf>,
    /// Draw the model's frames with each tracklet's region attention over
    /// them (one colour per tracklet, its strongest cell outlined) and the
    /// prediction into this PNG.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// Scale of the frames in the overlay.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    overlay_scale: u32,
}

/// The JPEG frames of a clip directory (`img_*.jpg`, in name order).
fn read_clip_dir(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read clip directory {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().map(|n| n.to_string_lossy()).is_some_and(|n| {
                n.starts_with("img_") && (n.ends_with(".jpg") || n.ends_with(".jpeg"))
            })
        })
        .collect();
    names.sort();
    if names.is_empty() {
        bail!("clip directory {} has no img_*.jpg frames", dir.display());
    }
    names
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read frame {}", p.display())))
        .collect()
}

/// Runs `artrt infer`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let mut chain = args.backend.open(&bundle, args.precision)?;
    let mut pre = Preprocessor::new(&bundle.input);
    let start = Instant::now();
    let jpegs = read_clip_dir(&args.clip)?;
    let read = start.elapsed();
    let frames: Vec<FrameRef<'_>> = jpegs.iter().map(|j| FrameRef::jpeg(j)).collect();
    let mut input = vec![0.0f32; pre.clip_len()];
    let t0 = Instant::now();
    pre.clip_into(&frames, &mut input)
        .with_context(|| format!("cannot preprocess clip {}", args.clip.display()))?;
    let preprocess = t0.elapsed();
    if let Some(path) = &args.dump_input {
        artrt_infer::preprocess::write_npy(path, &bundle.input.clip_shape(), &input)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let t1 = Instant::now();
    let out = chain
        .run(&input)
        .with_context(|| format!("inference failed on clip {}", args.clip.display()))?
        .clone();
    let inference = t1.elapsed();
    let mut probs = vec![0.0f32; out.logits.len()];
    softmax_into(&out.logits, &mut probs);
    let labels = bundle.labels();
    let top5: Vec<_> = top_k::<5>(&probs)
        .into_iter()
        .filter(|(i, _)| *i < labels.len())
        .map(|(i, p)| json!({"class": i, "label": labels[i], "probability": p}))
        .collect();
    let [t, tracklets, cells] = bundle.model.region_attn_shape(bundle.input.frames);
    let region_attn: Vec<Vec<&[f32]>> = out
        .region_attn
        .chunks(tracklets * cells)
        .take(t)
        .map(|frame| frame.chunks(cells).collect())
        .collect();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let report = json!({
        "bundle": bundle.dir(),
        "clip": args.clip,
        "frames": jpegs.len(),
        "backend": chain.kind().as_str(),
        "provider": chain.provider(),
        "precision": chain.precision().as_str(),
        "model": chain.model(),
        "self_test_max_logit_diff": chain.self_test().max_logit_diff,
        "logits": out.logits,
        "probabilities": probs,
        "top5": top5,
        "region_grid": bundle.model.grid,
        "region_attn": region_attn,
        "timing_ms": {
            "read": ms(read),
            "decode_preprocess": ms(preprocess),
            "inference": ms(inference),
            "total": ms(start.elapsed()),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(path) = &args.overlay {
        let best = top_k::<1>(&probs)[0];
        let prediction = Prediction {
            label: labels.get(best.0).map_or("?", String::as_str),
            confidence: best.1,
        };
        write_overlay(
            path,
            &bundle,
            &jpegs,
            &out.region_attn,
            &prediction,
            args.overlay_scale,
        )?;
    }
    Ok(())
}

/// Draws the overlay of `artrt infer --overlay` into `path`.
fn write_overlay(
    path: &Path,
    bundle: &Bundle,
    jpegs: &[Vec<u8>],
    region_attn: &[f32],
    prediction: &Prediction<'_>,
    scale: u32,
) -> anyhow::Result<()> {
    let t = bundle.input.frames;
    let frames = (0..t)
        .map(|i| {
            let k = segment_centre(jpegs.len(), t, i);
            image::load_from_memory(&jpegs[k])
                .map(|img| img.into_rgb8())
                .with_context(|| format!("cannot decode frame {} for the overlay", k + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (w, h) = frames[0].dimensions();
    let geometry = InputGeometry::new(&bundle.input, bundle.model.grid, w, h);
    let img = overlay::draw(
        &frames,
        region_attn,
        bundle.model.tracklets,
        &geometry,
        prediction,
        scale,
    )
    .map_err(|e| anyhow::anyhow!("cannot draw the overlay: {e}"))?;
    img.save(path)
        .with_context(|| format!("cannot write the overlay {}", path.display()))
}
