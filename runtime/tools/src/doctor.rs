//! `artrt doctor`: what this machine can run with a board profile, item by
//! item, each `ok`, `warn` or `fail` with its reason.
//!
//! The checks follow the path of a frame: the board and its profile, the
//! inference libraries (ONNX Runtime, TensorRT, CUDA) and the GPU, the camera,
//! the scoreboard port, the TensorRT engine cache, the model bundle, and the
//! golden self-test of each backend in the profile's order. [`Report::can_run`]
//! is false when any check fails: `artrt run` on this profile would not serve.
//! A missing GPU library is a warning as long as a later backend serves.
//!
//! The JSON form ([`Report`], `artrt doctor --json`) is versioned by
//! [`SCHEMA`] and documented in `docs/doctor.md`.

use std::fmt;
use std::path::{Path, PathBuf};

use artrt_infer::{BackendKind, Bundle, library_info, nvidia, open_backend};
use artrt_live::board::{
    CameraConfig, DEVICE_TREE_MODEL, Profile, ScoreboardPort, profile_for_model,
};
use artrt_live::source::{SourceSpec, describe_camera};
use artrt_live::supervisor::{backend_config, precision_for};
use serde::Serialize;

/// Version of the JSON report's layout.
pub const SCHEMA: u32 = 1;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works as the profile needs.
    Ok,
    /// Works, but not as well as it could (a fallback serves).
    Warn,
    /// The profile cannot run until this is fixed.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        })
    }
}

/// One item of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable identifier (`onnxruntime`, `backend.ort-cpu`).
    pub id: String,
    /// The outcome.
    pub status: Status,
    /// One line saying what was found, or what is wrong and what to do.
    pub summary: String,
    /// Further lines (a camera's formats, a library's providers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    /// A check without details.
    pub fn new(id: impl Into<String>, status: Status, summary: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            status,
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    fn with(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

/// Everything `artrt doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The version of `artrt` that checked.
    pub artrt: String,
    /// The profile checked.
    pub profile: String,
    /// Whether `artrt run` on this profile would serve: no check failed.
    pub can_run: bool,
    /// The checks, in the order of a frame's path.
    pub checks: Vec<Check>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{:<5} {:<18} {}", check.status, check.id, check.summary)?;
            for line in &check.details {
                writeln!(f, "{:<24}{line}", "")?;
            }
        }
        if self.can_run {
            write!(f, "profile {} can run on this machine", self.profile)
        } else {
            write!(
                f,
                "profile {} cannot run on this machine: see FAIL above",
                self.profile
            )
        }
    }
}

/// Checks `profile` on this machine. `origin` says where the profile came from
/// (a file, built in, detected); `ort_lib` is `--ort-lib`.
pub fn examine(profile: &Profile, origin: &str, ort_lib: Option<PathBuf>) -> Report {
    let mut checks = vec![board(profile, origin)];
    let order = &profile.inference.backends;
    let uses = |kind| order.contains(&kind);
    let config = backend_config(profile, ort_lib);

    checks.push(match library_info(&config.ort) {
        Ok(info) => Check::new(
            "onnxruntime",
            Status::Ok,
            format!(
                "{} {} (from {})",
                info.version,
                info.path.display(),
                info.origin
            ),
        )
        .with(vec![
            info.build,
            format!("providers: {}", info.providers.join(", ")),
        ]),
        Err(e) if order.iter().any(|k| *k != BackendKind::Tract) => {
            Check::new("onnxruntime", Status::Warn, e.to_string())
        }
        Err(e) => Check::new(
            "onnxruntime",
            Status::Ok,
            format!("{e} (not used by this profile)"),
        ),
    });
    let gpu_used = uses(BackendKind::Trt) || uses(BackendKind::Cuda);
    let gpu_missing = if gpu_used { Status::Warn } else { Status::Ok };
    checks.push(library(
        "tensorrt",
        nvidia::tensorrt(),
        uses(BackendKind::Trt),
    ));
    checks.push(library("cuda-runtime", nvidia::cuda_runtime(), gpu_used));
    checks.push(library("cuda-driver", nvidia::cuda_driver(), gpu_used));
    checks.push(match nvidia::gpus() {
        Ok(gpus) if !gpus.is_empty() => {
            Check::new("gpu", Status::Ok, format!("{} GPU(s)", gpus.len())).with(gpus)
        }
        Ok(_) => Check::new("gpu", gpu_missing, "the CUDA driver sees no GPU"),
        Err(e) => Check::new("gpu", gpu_missing, e),
    });
    checks.extend(cameras(profile));
    checks.push(scoreboard(profile));
    if uses(BackendKind::Trt) {
        checks.push(engine_cache(&profile.inference.tensorrt.cache_dir));
    }

    match Bundle::load(&profile.inference.bundle) {
        Err(e) => checks.push(Check::new("bundle", Status::Fail, e.to_string())),
        Ok(bundle) => {
            checks.push(Check::new(
                "bundle",
                Status::Ok,
                format!(
                    "{} ({} classes) in {}",
                    bundle.model.name,
                    bundle.labels().len(),
                    bundle.dir().display()
                ),
            ));
            let precision = precision_for(order, None);
            let mut serving = false;
            let mut results = Vec::new();
            for &kind in order {
                let id = format!("backend.{kind}");
                results.push(match open_backend(&bundle, kind, precision, &config) {
                    Ok((backend, test)) => {
                        let first = !serving;
                        serving = true;
                        Check::new(
                            id,
                            Status::Ok,
                            format!(
                                "{} {precision} passes the golden self-test (logits within {:.1e}){}",
                                backend.provider(),
                                test.max_logit_diff,
                                if first { "; serves" } else { "" }
                            ),
                        )
                    }
                    Err(e) => Check::new(id, Status::Warn, e.to_string()),
                });
            }
            if !serving {
                for r in &mut results {
                    r.status = Status::Fail;
                }
            }
            checks.extend(results);
        }
    }
    let can_run = checks.iter().all(|c| c.status != Status::Fail);
    Report {
        schema: SCHEMA,
        artrt: env!("CARGO_PKG_VERSION").to_string(),
        profile: profile.name.clone(),
        can_run,
        checks,
    }
}

/// The machine, and whether the profile is the one made for it.
fn board(profile: &Profile, origin: &str) -> Check {
    let model = std::fs::read_to_string(DEVICE_TREE_MODEL).ok();
    let model = model.as_deref().map(|m| m.trim_end_matches('\0').trim());
    let fits = profile_for_model(model);
    let machine = match model {
        Some(m) => format!("{m} ({DEVICE_TREE_MODEL})"),
        None => format!("not a Jetson (no {DEVICE_TREE_MODEL})"),
    };
    let summary = format!("profile {} ({origin}) on {machine}", profile.name);
    if fits == profile.name || model.is_none() {
        Check::new("board", Status::Ok, summary)
    } else {
        Check::new(
            "board",
            Status::Warn,
            format!("{summary}; the profile made for this board is {fits}"),
        )
    }
}

/// A GPU library: ok when found, otherwise a warning if the profile uses it.
fn library(id: &str, found: Result<nvidia::Found, String>, used: bool) -> Check {
    match found {
        Ok(f) => Check::new(id, Status::Ok, format!("{} {}", f.library, f.version)),
        Err(e) if used => Check::new(id, Status::Warn, format!("{e}: its backends fall back")),
        Err(e) => Check::new(id, Status::Ok, format!("{e} (not used by this profile)")),
    }
}

/// Each of the profile's cameras (`camera`, then `camera ID` for the
/// further ones), and every V4L2 device present.
fn cameras(profile: &Profile) -> Vec<Check> {
    let mut devices: Vec<PathBuf> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("video"))
        })
        .collect();
    devices.sort();
    let present = if devices.is_empty() {
        "no V4L2 devices".to_string()
    } else {
        format!(
            "V4L2 devices: {}",
            devices
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    profile
        .all_cameras()
        .iter()
        .enumerate()
        .map(|(n, camera)| {
            let name = match n {
                0 => "camera".to_owned(),
                _ => format!("camera {}", camera.config.id),
            };
            camera_check(name, &camera.config, &present)
        })
        .collect()
}

/// One camera's source.
fn camera_check(name: String, camera: &CameraConfig, present: &str) -> Check {
    let source = &camera.source;
    match source {
        SourceSpec::V4l2(path) => match describe_camera(path) {
            Ok(lines) => {
                let wanted = format!("{} {}x{}", camera.format, camera.width, camera.height);
                Check::new(
                    name,
                    Status::Ok,
                    format!("{source}: {} (profile asks {wanted})", lines[0]),
                )
                .with(lines[1..].to_vec())
            }
            Err(e) => Check::new(
                name,
                Status::Fail,
                format!("{source}: {e}; plug the camera in or set its source ({present})"),
            ),
        },
        SourceSpec::Frames(dir) | SourceSpec::Recording(dir) if !dir.is_dir() => Check::new(
            name,
            Status::Fail,
            format!("{source}: {} is not a folder", dir.display()),
        ),
        other => Check::new(name, Status::Ok, format!("{other} ({present})")),
    }
}

/// The scoreboard port: present, a character device, readable and writable.
fn scoreboard(profile: &Profile) -> Check {
    let path = match profile.scoreboard_port() {
        ScoreboardPort::Device(path) => path,
        other => return Check::new("scoreboard", Status::Ok, other.to_string()),
    };
    let target = std::fs::canonicalize(&path).ok();
    let via = match &target {
        Some(t) if *t != path => format!(" -> {}", t.display()),
        _ => String::new(),
    };
    let Some(target) = target else {
        return Check::new(
            "scoreboard",
            Status::Fail,
            format!(
                "{} is absent: plug the serial adapter in (the udev rule 99-artrt-scoreboard.rules makes the link)",
                path.display()
            ),
        );
    };
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&target)
    {
        Ok(_) => Check::new("scoreboard", Status::Ok, format!("{}{via}", path.display())),
        Err(e) => Check::new(
            "scoreboard",
            Status::Fail,
            format!(
                "{}{via}: {e} (is the user in the `dialout` group?)",
                path.display()
            ),
        ),
    }
}

/// The TensorRT engine cache: a writable folder, or one that can be made.
fn engine_cache(dir: &Path) -> Check {
    let id = "engine-cache";
    let existing = dir
        .ancestors()
        .find(|d| d.exists())
        .unwrap_or(Path::new("/"));
    let probe = existing.join(format!(".artrt-doctor-{}", std::process::id()));
    let writable = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    match (existing == dir, writable) {
        (true, true) => Check::new(id, Status::Ok, format!("{} is writable", dir.display())),
        (false, true) => Check::new(
            id,
            Status::Ok,
            format!("{} will be made in {}", dir.display(), existing.display()),
        ),
        (_, false) => Check::new(
            id,
            Status::Warn,
            format!(
                "{} cannot be written ({} is not writable by this user): TensorRT builds its engines at every start",
                dir.display(),
                existing.display()
            ),
        ),
    }
}
