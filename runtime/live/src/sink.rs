//! Where decisions go: the boundary between the pipeline and the scoreboard,
//! the event log and the preview panel.

/// An action the pipeline recognised.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    /// Index of the class in the bundle's label list.
    pub class_id: u16,
    /// The class label, as the bundle spells it.
    pub label: String,
    /// Smoothed confidence, 0.0..=1.0.
    pub confidence: f32,
    /// Device monotonic milliseconds at the end of the clip.
    pub t_ms: u32,
}

/// Device status, as ARTS/1 heartbeats report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Running on the preferred backend with every frame.
    Ok,
    /// Running on a fallback backend, or dropping frames.
    Degraded,
    /// No frames from the camera.
    NoCam,
    /// No model can run.
    NoModel,
}

/// What a heartbeat carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Seconds since the runtime started.
    pub uptime_s: u32,
    /// Camera frames per second.
    pub fps: f32,
    /// The backend in use (`trt`, `cuda`, `ort-cpu`, `tract`).
    pub backend: &'static str,
    /// Overall status.
    pub status: Status,
}

/// Something that shows or records the pipeline's decisions.
///
/// Shaped like `embedded-graphics`' `DrawTarget`: an associated error type and
/// a few required methods.
pub trait EventSink {
    /// Why a sink could not take a message.
    type Error: std::error::Error + Send + Sync + 'static;
    /// An action was recognised.
    fn action(&mut self, event: &ActionEvent) -> Result<(), Self::Error>;
    /// Nothing is being recognised any more.
    fn clear(&mut self, t_ms: u32) -> Result<(), Self::Error>;
    /// Periodic device health.
    fn health(&mut self, health: &Health) -> Result<(), Self::Error>;
}
