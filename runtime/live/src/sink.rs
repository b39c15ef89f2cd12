//! Where decisions go: the boundary between the pipeline and its outputs
//! (the scoreboard, the event log, network outputs, the preview panel).

use std::sync::Arc;
use std::time::Instant;

use artrt_infer::InputSpec;

pub use crate::health::{Health, Status};
use crate::latency::Latencies;

/// An action the pipeline recognised.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    /// Index of the class in the bundle's label list.
    pub class_id: u16,
    /// The class label, as the bundle spells it.
    pub label: String,
    /// Smoothed confidence, 0.0..=1.0.
    pub confidence: f32,
    /// Stream milliseconds of the newest frame of the deciding window.
    pub t_ms: u32,
    /// The camera that saw it.
    pub camera: Arc<str>,
    /// The device's sequence number, one count for all its events.
    pub seq: u64,
    /// When the newest frame of the deciding window was captured.
    pub captured: Instant,
}

/// The action shown before is over.
#[derive(Debug, Clone, PartialEq)]
pub struct ClearEvent {
    /// Stream milliseconds of the newest frame of the deciding window.
    pub t_ms: u32,
    /// The camera.
    pub camera: Arc<str>,
    /// The device's sequence number, one count for all its events.
    pub seq: u64,
    /// When the newest frame of the deciding window was captured.
    pub captured: Instant,
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
    fn clear(&mut self, event: &ClearEvent) -> Result<(), Self::Error>;
    /// Periodic device health.
    fn health(&mut self, health: &Health) -> Result<(), Self::Error>;
    /// A camera's newest classified clip, for a live preview; sinks that
    /// draw none ignore it.
    fn preview(&mut self, _preview: &Preview<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A camera's newest classified clip as the model took it, with where its
/// tracklets looked and what it was classified as: what a live preview
/// draws. Borrowed: a sink that keeps it copies it.
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    /// The camera.
    pub camera: &'a str,
    /// The clip, `[T, 3, H, W]` as preprocessed (normalised by `input`).
    pub clip: &'a [f32],
    /// The model's input: the clip's shape and normalisation.
    pub input: &'a InputSpec,
    /// Region attention, `[T][tracklets][h*w]`.
    pub region_attn: &'a [f32],
    /// Tracklets in `region_attn`.
    pub tracklets: usize,
    /// The model's token grid, rows and columns.
    pub grid: [usize; 2],
    /// The most likely class.
    pub label: &'a str,
    /// Its probability, 0 to 1.
    pub confidence: f32,
    /// Stream time of the clip's newest frame, milliseconds.
    pub t_ms: u32,
}

/// A sink error with its type erased, so that different sinks can share a [`Fanout`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BoxError(Box<dyn std::error::Error + Send + Sync + 'static>);

/// A sink whose error type is erased; what [`Fanout`] holds.
pub type DynSink = Box<dyn EventSink<Error = BoxError> + Send>;

/// Erases a sink's error type.
pub fn boxed<S>(sink: S) -> DynSink
where
    S: EventSink + Send + 'static,
{
    Box::new(Erased(sink))
}

struct Erased<S>(S);

impl<S: EventSink> EventSink for Erased<S> {
    type Error = BoxError;
    fn action(&mut self, event: &ActionEvent) -> Result<(), BoxError> {
        self.0.action(event).map_err(|e| BoxError(Box::new(e)))
    }
    fn clear(&mut self, event: &ClearEvent) -> Result<(), BoxError> {
        self.0.clear(event).map_err(|e| BoxError(Box::new(e)))
    }
    fn health(&mut self, health: &Health) -> Result<(), BoxError> {
        self.0.health(health).map_err(|e| BoxError(Box::new(e)))
    }
    fn preview(&mut self, preview: &Preview<'_>) -> Result<(), BoxError> {
        self.0.preview(preview).map_err(|e| BoxError(Box::new(e)))
    }
}

/// Sends every message to several named sinks, each taking every camera's
/// messages or one camera's only (its own scoreboard line, say); device-wide
/// heartbeats go to all. A failing sink is logged and the others still get
/// the message, so one broken output never silences the rest. The time from
/// an event's capture to the moment each sink has taken it (actions and
/// clears) is recorded per sink in [`Latencies`].
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Route>,
    latencies: Arc<Latencies>,
}

/// One sink of a [`Fanout`] and the camera it is for.
struct Route {
    name: String,
    camera: Option<Arc<str>>,
    sink: DynSink,
}

impl Fanout {
    /// Adds a sink for every camera, under a name used in log messages and
    /// latency figures.
    pub fn push(&mut self, name: impl Into<String>, sink: DynSink) {
        self.route(name.into(), None, sink);
    }

    /// Adds a sink for `camera`'s events and heartbeats only.
    pub fn push_for(&mut self, camera: &str, name: impl Into<String>, sink: DynSink) {
        self.route(name.into(), Some(camera.into()), sink);
    }

    fn route(&mut self, name: String, camera: Option<Arc<str>>, sink: DynSink) {
        self.sinks.push(Route { name, camera, sink });
    }

    /// The latency figures of every sink, shared with whoever reports them.
    pub fn latencies(&self) -> Arc<Latencies> {
        Arc::clone(&self.latencies)
    }

    fn each(
        &mut self,
        what: &str,
        camera: Option<&str>,
        captured: Option<Instant>,
        mut f: impl FnMut(&mut DynSink) -> Result<(), BoxError>,
    ) {
        for route in &mut self.sinks {
            if let (Some(only), Some(from)) = (&route.camera, camera)
                && **only != *from
            {
                continue;
            }
            match f(&mut route.sink) {
                Ok(()) => {
                    if let Some(at) = captured {
                        self.latencies.record(&route.name, at.elapsed());
                    }
                }
                Err(e) => log::warn!("{}: could not send {what}: {e}", route.name),
            }
        }
    }
}

impl EventSink for Fanout {
    type Error = std::convert::Infallible;
    fn action(&mut self, event: &ActionEvent) -> Result<(), Self::Error> {
        let camera = Some(&*event.camera);
        self.each("an action", camera, Some(event.captured), |s| {
            s.action(event)
        });
        Ok(())
    }
    fn clear(&mut self, event: &ClearEvent) -> Result<(), Self::Error> {
        let camera = Some(&*event.camera);
        self.each("a clear", camera, Some(event.captured), |s| s.clear(event));
        Ok(())
    }
    fn health(&mut self, health: &Health) -> Result<(), Self::Error> {
        let camera = health.camera.as_deref();
        self.each("a heartbeat", camera, None, |s| s.health(health));
        Ok(())
    }
    fn preview(&mut self, preview: &Preview<'_>) -> Result<(), Self::Error> {
        self.each("a preview", Some(preview.camera), None, |s| {
            s.preview(preview)
        });
        Ok(())
    }
}
