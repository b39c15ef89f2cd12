//! `artrt prepare`: builds the TensorRT engines and timing cache of a board
//! profile's bundle ahead of the first run (the package's
//! `artrt-prepare.service` runs it at boot), so `artrt run` starts at once.
//! The engines go to a folder of `inference.tensorrt.cache_dir` keyed by the
//! model, TensorRT version, GPU and options (`artrt_infer::engine_cache`).

use std::time::Instant;

use anyhow::{Context, bail};
use artrt_infer::engine_cache::EngineKey;
use artrt_infer::{BackendKind, open_backend};
use artrt_live::board::Profile;
use artrt_live::supervisor::{backend_config, precision_for};

use super::common::load_bundle;

/// Arguments of `artrt prepare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Board profile: a built-in name or a TOML file (default: the one made for this machine).
    #[arg(long)]
    board: Option<String>,
    /// ONNX Runtime shared library with the TensorRT provider (otherwise as `artrt run` finds it).
    #[arg(long)]
    ort_lib: Option<std::path::PathBuf>,
}

/// Runs `artrt prepare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let profile = match &args.board {
        Some(name) => {
            Profile::load(name).with_context(|| format!("cannot use board profile {name}"))?
        }
        None => Profile::detect().context("cannot pick a board profile for this machine")?,
    };
    let order = &profile.inference.backends;
    if !order.contains(&BackendKind::Trt) {
        println!(
            "nothing to prepare: profile {} does not use TensorRT",
            profile.name
        );
        return Ok(());
    }
    let options = &profile.inference.tensorrt;
    if let Err(e) = artrt_infer::nvidia::tensorrt() {
        println!(
            "nothing to prepare: TensorRT {e}; profile {} falls back to {}",
            profile.name,
            order
                .iter()
                .filter(|k| **k != BackendKind::Trt)
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    let bundle = load_bundle(&profile.inference.bundle)?;
    let precision = precision_for(order, None);
    let config = backend_config(&profile, args.ort_lib);
    let started = Instant::now();
    let (backend, test) = open_backend(&bundle, BackendKind::Trt, precision, &config)
        .with_context(|| format!("cannot build the TensorRT engine of {bundle}"))?;
    let model = backend.model().to_string();
    let digest = bundle.sha256.get(&model).map_or("", String::as_str);
    let key = EngineKey::for_machine(digest, options).map_err(anyhow::Error::msg)?;
    let dir = key.dir(&options.cache_dir);
    if !dir.join("key.toml").is_file() {
        bail!("the engine cache {} was not written", dir.display());
    }
    println!(
        "prepared {model} ({precision}) for TensorRT {} on {} in {:.1} s: {} (golden self-test within {:.1e})",
        key.tensorrt,
        key.gpu,
        started.elapsed().as_secs_f64(),
        dir.display(),
        test.max_logit_diff
    );
    Ok(())
}
