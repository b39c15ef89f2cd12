//! Device health, as ARTS/1 heartbeats report it, decided in one place.
//!
//! The supervisor reports `NOMODEL` while no backend can serve; once one
//! does, the pipeline reports what each heartbeat period observed. Both ask
//! [`status`], so the rule is written once.

use std::sync::Arc;

use artrt_infer::BackendKind;
pub use arts::Status;

/// What a heartbeat carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Seconds since the runtime started.
    pub uptime_s: u32,
    /// Camera frames per second.
    pub fps: f32,
    /// The backend serving, or, before any does, the one the device is meant
    /// to serve on.
    pub backend: BackendKind,
    /// Overall status.
    pub status: Status,
    /// The camera the heartbeat is about; `None` for the device as a whole
    /// (before a model serves).
    pub camera: Option<Arc<str>>,
}

/// What the device saw during one heartbeat period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// No backend passed its self-test: nothing can be classified.
    NoModel,
    /// A model serves on `serving`.
    Serving {
        /// The backend serving now.
        serving: BackendKind,
        /// The backend the device is meant to serve on.
        preferred: BackendKind,
        /// The source is lost and being reopened.
        source_down: bool,
        /// Frames taken during the period, `None` for the first heartbeat
        /// (no period behind it yet).
        frames: Option<u64>,
        /// Clips dropped during the period.
        dropped: u64,
    },
}

/// The status a heartbeat reports for what was observed: `NOMODEL` without a
/// model; `NOCAM` when the source is lost or gave no frame all period;
/// `DEGRADED` on a fallback backend or when clips were dropped; `OK` else.
pub fn status(observed: Observed) -> Status {
    match observed {
        Observed::NoModel => Status::NoModel,
        Observed::Serving {
            source_down: true, ..
        }
        | Observed::Serving {
            frames: Some(0), ..
        } => Status::NoCam,
        Observed::Serving {
            serving,
            preferred,
            dropped,
            ..
        } if serving != preferred || dropped > 0 => Status::Degraded,
        Observed::Serving { .. } => Status::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(serving: BackendKind, frames: Option<u64>, dropped: u64) -> Observed {
        Observed::Serving {
            serving,
            preferred: BackendKind::Trt,
            source_down: false,
            frames,
            dropped,
        }
    }

    #[test]
    fn each_status_has_its_cause() {
        assert_eq!(status(Observed::NoModel), Status::NoModel);
        assert_eq!(status(serving(BackendKind::Trt, Some(30), 0)), Status::Ok);
        assert_eq!(status(serving(BackendKind::Trt, None, 0)), Status::Ok);
        assert_eq!(status(serving(BackendKind::Trt, Some(0), 0)), Status::NoCam);
        assert_eq!(
            status(serving(BackendKind::Cuda, Some(30), 0)),
            Status::Degraded
        );
        assert_eq!(
            status(serving(BackendKind::Trt, Some(30), 2)),
            Status::Degraded
        );
        let lost = Observed::Serving {
            serving: BackendKind::Cuda,
            preferred: BackendKind::Trt,
            source_down: true,
            frames: Some(30),
            dropped: 2,
        };
        assert_eq!(status(lost), Status::NoCam);
    }
}
