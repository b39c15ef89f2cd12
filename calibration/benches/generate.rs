//! Generation speed: a 500-clip set of 16 frames at 160x120 written to a
//! temporary directory, against a baseline of rendering the same clips
//! without encoding or writing, measured in the same run.
//!
//! `cargo bench -p artrt-calibration` (set `ARTRT_BENCH_CLIPS` for another size).

use artrt_calibration::{SynthOptions, generate_set, render_clip};
use rayon::prelude::*;
use std::time::Instant;

fn main() {
    let clips = std::env::var("ARTRT_BENCH_CLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let opts = SynthOptions {
        clips,
        seed: 1,
        ..SynthOptions::default()
    };
    let threads = rayon::current_num_threads();

    let t = Instant::now();
    let pixels: usize = (0..clips)
        .into_par_iter()
        .map(|i| render_clip(&opts, i).frames.len())
        .sum();
    let render_s = t.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("set");
    let t = Instant::now();
    let set = generate_set(&out, &opts, || {}).expect("generate set");
    let total_s = t.elapsed().as_secs_f64();
    assert_eq!(set.clips().len(), clips);

    let frames = pixels as f64;
    println!("threads: {threads}");
    println!(
        "render only:      {clips} clips, {frames} frames in {render_s:.2} s ({:.0} frames/s)",
        frames / render_s
    );
    println!(
        "render+jpeg+write: {clips} clips in {total_s:.2} s ({:.0} frames/s)",
        frames / total_s
    );
    println!(
        "encode+write share: {:.0} %",
        100.0 * (total_s - render_s).max(0.0) / total_s
    );
    println!(
        "target: 500 clips in under 30 s on 2 cores; projected for 500 clips: {:.1} s",
        total_s * 500.0 / clips as f64
    );
}
