//! What several subcommands share: backend options, opening a bundle and its
//! backend chain, writing a report, and the synthetic-stream setup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use artrt_infer::{
    BackendChoice, BackendConfig, BackendKind, Bundle, Failover, OrtConfig, Precision,
};
use serde::Serialize;

/// The default bundle: installed with the package, or the source tree's.
pub use artrt_infer::install::DEFAULT_BUNDLE;

/// Backend options of the commands that run a bundle without a board profile.
#[derive(clap::Args, Debug, Clone)]
pub struct BackendArgs {
    /// Backend: auto (TensorRT, CUDA, ONNX Runtime CPU, tract) or exactly one of trt, cuda, ort-cpu, tract.
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    /// CPU threads for inference (1..=256; default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// ONNX Runtime shared library (otherwise ORT_DYLIB_PATH, the library installed with artrt, then the project's .venv).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
}

impl BackendArgs {
    /// The backends tried, in order.
    pub fn order(&self) -> Vec<BackendKind> {
        self.backend.order(&BackendKind::ALL)
    }

    /// The backend configuration these options describe.
    pub fn config(&self) -> BackendConfig {
        let mut config = BackendConfig {
            ort: OrtConfig {
                lib: self.ort_lib.clone(),
                ..OrtConfig::default()
            },
            ..BackendConfig::default()
        };
        if let Some(t) = self.threads {
            config.threads = usize::from(t);
        }
        config
    }

    /// Opens the backend chain these options describe on `bundle`, naming
    /// the bundle on failure.
    pub fn open(&self, bundle: &Arc<Bundle>, precision: Precision) -> anyhow::Result<Failover> {
        Failover::open(Arc::clone(bundle), &self.order(), precision, self.config())
            .with_context(|| format!("bundle {}", bundle.dir().display()))
    }
}

/// Loads a bundle, naming its directory on failure.
pub fn load_bundle(dir: &Path) -> anyhow::Result<Arc<Bundle>> {
    let bundle = Bundle::load(dir)
        .with_context(|| format!("cannot load the model bundle {}", dir.display()))?;
    Ok(Arc::new(bundle))
}

/// A flag that SIGINT, SIGTERM and SIGHUP set: the command finishes what it
/// has in hand, logs its summary and ends.
pub fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handlers")?;
    }
    Ok(stop)
}

/// Longest duration accepted on the command line: a year.
pub const MAX_DURATION_S: f64 = 365.0 * 86_400.0;

/// Reads a duration in seconds (`--duration 30`, `--duration 0.5`), refusing
/// what is not a number of seconds from 0 to a year.
pub fn duration(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.0..=MAX_DURATION_S).contains(&seconds) {
        return Err(format!(
            "{text} s is out of range: a duration is 0 to {MAX_DURATION_S} s (a year)"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(feature = "synthetic")]
pub use stream::{Opened, StreamSetup};

#[cfg(feature = "synthetic")]
mod stream {
    use std::path::PathBuf;
    use std::sync::Arc;

    use anyhow::{Context, bail};
    use artrt_infer::{Bundle, Failover, Precision};
    use artrt_live::board::Profile;

    use super::{BackendArgs, DEFAULT_BUNDLE, load_bundle};

    /// Seconds of a synthetic stream: 1 s to a day.
    fn stream_seconds(text: &str) -> Result<f64, String> {
        match text.parse::<f64>() {
            Ok(s) if (1.0..=86_400.0).contains(&s) => Ok(s),
            Ok(_) => Err(format!("{text} s is outside 1..=86400")),
            Err(_) => Err(format!("`{text}` is not a number of seconds")),
        }
    }

    /// What a synthetic-stream command runs: the bundle, the stream's length,
    /// the board profile and the backend.
    #[derive(clap::Args)]
    pub struct StreamSetup {
        /// Model bundle: a directory, or the name of an installed bundle.
        #[arg(long, default_value = DEFAULT_BUNDLE)]
        pub bundle: PathBuf,
        /// Seconds of each stream.
        #[arg(long, default_value_t = 120.0, value_parser = stream_seconds)]
        pub seconds: f64,
        /// Board profile whose clip and decision settings are used.
        #[arg(long, default_value = "x86-64-cpu")]
        pub board: String,
        #[command(flatten)]
        pub backend: BackendArgs,
        /// Model precision.
        #[arg(long, default_value = "fp32")]
        pub precision: Precision,
    }

    /// A loaded [`StreamSetup`]: the profile, the bundle and the serving backend chain.
    pub struct Opened {
        /// The board profile.
        pub profile: Profile,
        /// The bundle, checked to name the stream's elements.
        pub bundle: Arc<Bundle>,
        /// The backends, the first that passed its self-test serving.
        pub chain: Failover,
    }

    impl StreamSetup {
        /// Loads the profile and the bundle, checks the bundle's classes
        /// against the synthetic stream's when it will run one, and opens
        /// the backends.
        pub fn open(&self, synthetic: bool) -> anyhow::Result<Opened> {
            if !(self.seconds.is_finite() && self.seconds > 0.0 && self.seconds <= 86_400.0) {
                bail!(
                    "--seconds {} is not a number of seconds in (0, 86400]",
                    self.seconds
                );
            }
            let profile = Profile::load(&self.board)
                .with_context(|| format!("cannot use board profile {}", self.board))?;
            let bundle = load_bundle(&self.bundle)?;
            if synthetic {
                artrt_tools::stream::check_stream_labels(&bundle, &self.bundle)?;
            }
            let chain = self.backend.open(&bundle, self.precision)?;
            Ok(Opened {
                profile,
                bundle,
                chain,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_range_checked() {
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in ["1e20", "-1", "NaN", "inf", "soon", ""] {
            assert!(duration(bad).is_err(), "{bad} accepted");
        }
    }
}
