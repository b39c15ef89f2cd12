//! `artrt bench`: per-stage and per-backend timings in one run, as ratios
//! against ONNX Runtime CPU FP32 measured in the same run (see
//! `artrt_tools::bench`).

use std::path::PathBuf;

use anyhow::Context;
use artrt_live::board::Profile;
use artrt_tools::bench::{self, Report};

use super::common::{BackendArgs, DEFAULT_BUNDLE, load_bundle, write_json};

/// Arguments of `artrt bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Model bundle: a directory, or the name of an installed bundle.
    #[arg(long, default_value = DEFAULT_BUNDLE)]
    bundle: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
    /// Board profile whose hop the live preprocessing stage uses.
    #[arg(long, default_value = "x86-64-cpu")]
    board: String,
    /// Timed runs per stage, after warm-up runs (3..=100000).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(3..=100_000))]
    iters: u32,
    /// Seconds of synthetic stream run in real time through the live pipeline to measure
    /// event latency (0..=3600; 0 skips it).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=3600))]
    live_seconds: u32,
    /// Source frames each synthetic camera runs per round when comparing two cameras on one
    /// model against one camera (0..=100000; 0 skips it).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    camera_frames: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs `artrt bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = load_bundle(&args.bundle)?;
    let profile = Profile::load(&args.board)
        .with_context(|| format!("cannot use board profile {}", args.board))?;
    let report = bench::measure(
        &bundle,
        &args.backend.config(),
        &profile,
        args.iters as usize,
        f64::from(args.live_seconds),
        args.camera_frames,
    )?;
    print_report(&report);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!(
        "{}: {}x{} source frames, window {}, T = {}, {} inference threads",
        r.bundle.display(),
        r.source_size[0],
        r.source_size[1],
        r.window,
        r.frames,
        r.threads
    );
    let ratio = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!(
        "\n{:<40} {:>10} {:>10} {:>12} {:>8}",
        "stage (per clip)", "median ms", "mean ms", "x ORT fp32", "allocs"
    );
    for s in &r.stages {
        println!(
            "{:<40} {:>10.3} {:>10.3} {:>12} {:>8.1}",
            s.name,
            s.median_ms,
            s.mean_ms,
            ratio(s.ratio_to_baseline),
            s.allocations
        );
    }
    println!(
        "\n{:<10} {:<6} {:<28} {:>10} {:>12} {:>9} {:>8}",
        "backend", "prec", "provider", "median ms", "x ORT fp32", "clips/s", "allocs"
    );
    for b in &r.backends {
        println!(
            "{:<10} {:<6} {:<28} {:>10.3} {:>12} {:>9.1} {:>8.1}",
            b.backend,
            b.precision,
            b.provider,
            b.inference.median_ms,
            ratio(b.inference.ratio_to_baseline),
            b.clips_per_s,
            b.inference.allocations
        );
    }
    for u in &r.unavailable {
        println!("unavailable: {u}");
    }
    println!("\nallocations per frame in steady state:");
    for (n, a) in &r.allocations_per_frame {
        println!("  {n:<6} {a:.2}");
    }
    if let Some(l) = &r.live {
        println!(
            "\nlive path, {:.0} s of synthetic stream in real time on ort-cpu fp32: {} clips, {} events",
            l.seconds, l.clips, l.events
        );
        println!(
            "  event latency p50 {:.1} ms, p90 {:.1} ms; inference p50 {:.1} ms; one hop {:.1} ms",
            l.latency_p50_ms, l.latency_p90_ms, l.inference_p50_ms, l.hop_ms
        );
    }
    if let Some(c) = &r.cameras {
        println!(
            "\ncameras on one model, offline on ort-cpu fp32, {} frames per camera, {} rounds:",
            c.frames_per_camera, c.rounds
        );
        println!(
            "  one camera {:.1} clips/s, two cameras {:.1} clips/s in all",
            c.one_camera_clips_per_s, c.two_cameras_clips_per_s
        );
        println!(
            "  two cameras on one inference thread, both clips in each call (the file takes up to {}): {:.1} clips/s in all ({:.2}x one camera)",
            c.max_batch, c.two_cameras_batched_clips_per_s, c.batched_over_one
        );
    }
    let t = &r.targets;
    println!("\ntargets (fastest CPU backend: {}):", t.fastest_cpu);
    println!(
        "  (live preprocess per window + postprocess) / inference = {} (target <= 0.05)",
        ratio(t.pre_post_over_inference)
    );
    println!(
        "  (whole-clip preprocess + postprocess) / inference = {} (offline eval)",
        ratio(t.clip_pre_post_over_inference)
    );
    println!(
        "  tract fp32 / ORT CPU fp32 = {} (target <= 3)",
        ratio(t.tract_over_ort_fp32)
    );
    println!(
        "  allocations per frame (rgb24, yuyv, nv12) = {} (target 0)",
        t.max_allocations_per_frame
    );
    println!(
        "  recording 640x480 MJPEG at 30 fps: {} of a core (target <= 0.05)",
        ratio(t.record_share_of_core)
    );
    println!(
        "  event latency p50 / (inference p50 + one hop) = {} (target <= 1)",
        ratio(t.latency_over_inference_and_hop)
    );
    println!(
        "  two cameras / one camera on one model, clips per second = {} (target >= 1.6)",
        ratio(t.two_cameras_over_one)
    );
}
