//! IP cameras: `rtsp://…` through GStreamer.
//!
//! `rtspsrc` (RTP over TCP, 200 ms jitter buffer) feeds `decodebin`, which
//! picks the best decoder installed (on a Jetson the hardware one,
//! `nvv4l2decoder`); `nvvidconv` where present, else `videoconvert`, turns
//! the picture into NV12 in host memory for an `appsink` that keeps only the
//! newest two frames. A stream that stops (the camera or the network gone,
//! an error, end of stream, no frame for [`STALL`]) is reported lost, and
//! [`FrameSource::reopen`] starts the pipeline afresh.

use std::time::Duration;

use artrt_infer::{FrameRef, PixelFormat};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use gstreamer_video::prelude::*;
use gstreamer_video::{VideoFrameRef, VideoInfo};
use url::Url;

use super::spec::redacted;
use super::{FrameSource, SourceError};

/// Longest wait for a frame from a playing stream before it counts as lost.
pub const STALL: Duration = Duration::from_secs(3);
/// Longest wait for the first frame of a (re)opened stream.
pub const CONNECT: Duration = Duration::from_secs(5);

/// An RTSP stream, decoded by GStreamer.
pub struct RtspSource {
    url: Url,
    name: String,
    fps: f32,
    pipeline: Option<(gst::Pipeline, AppSink)>,
    /// The first frame pulled by `reopen`, handed out by the next `next_frame`.
    pending: Option<gst::Sample>,
    frame: Vec<u8>,
    /// Stream time of this session's first frame, and where the session starts on the source's clock.
    session: Option<(gst::ClockTime, Duration)>,
    last: Duration,
}

impl RtspSource {
    /// A source for the stream at `url` at nominally `fps`; it connects on
    /// its first frame (an unreachable camera is then lost, and reopened by
    /// the caller with backoff). Fails only when GStreamer itself cannot
    /// start or lacks the elements the pipeline needs.
    pub fn new(url: Url, fps: f32) -> Result<Self, SourceError> {
        let name = redacted(&url);
        let unusable = |reason: String| SourceError::Unusable {
            source_name: name.clone(),
            reason,
        };
        gst::init().map_err(|e| unusable(format!("GStreamer does not start: {e}")))?;
        for element in ["rtspsrc", "decodebin", "appsink"] {
            if gst::ElementFactory::find(element).is_none() {
                return Err(unusable(format!(
                    "GStreamer has no `{element}` element (install gstreamer1.0-plugins-base and -good)"
                )));
            }
        }
        Ok(Self {
            url,
            name,
            fps,
            pipeline: None,
            pending: None,
            frame: Vec::new(),
            session: None,
            last: Duration::ZERO,
        })
    }

    fn lost(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Lost {
            source_name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Stops and drops the pipeline.
    fn close(&mut self) {
        if let Some((pipeline, _)) = self.pipeline.take() {
            let _ = pipeline.set_state(gst::State::Null);
        }
        self.pending = None;
        self.session = None;
    }

    /// The pipeline's error or end of stream, if it posted one.
    fn bus_trouble(pipeline: &gst::Pipeline) -> Option<String> {
        let bus = pipeline.bus()?;
        let msg = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos])?;
        Some(match msg.view() {
            gst::MessageView::Error(e) => e.error().to_string(),
            _ => "end of stream".into(),
        })
    }

    /// Pulls the next sample within `wait`, or says why none came.
    fn pull(&mut self, wait: Duration) -> Result<gst::Sample, SourceError> {
        if let Some(sample) = self.pending.take() {
            return Ok(sample);
        }
        let Some((pipeline, sink)) = &self.pipeline else {
            return Err(self.lost("not connected"));
        };
        let timeout = gst::ClockTime::from_nseconds(wait.as_nanos() as u64);
        match sink.try_pull_sample(timeout) {
            Some(sample) => Ok(sample),
            None => {
                let reason = Self::bus_trouble(pipeline)
                    .unwrap_or_else(|| format!("no frame for {} s", wait.as_secs_f32()));
                self.close();
                Err(self.lost(reason))
            }
        }
    }

    /// Copies `sample`'s picture into `frame` as tightly packed NV12 and
    /// returns its size and stream time.
    fn unpack(&mut self, sample: &gst::Sample) -> Result<(u32, u32, Duration), SourceError> {
        let bad = |reason: &str| SourceError::BadFrame {
            source_name: self.name.clone(),
            reason: reason.into(),
        };
        let caps = sample.caps().ok_or_else(|| bad("a sample without caps"))?;
        let info = VideoInfo::from_caps(caps).map_err(|_| bad("caps that are not raw video"))?;
        let buffer = sample
            .buffer()
            .ok_or_else(|| bad("a sample without a buffer"))?;
        let picture = VideoFrameRef::from_buffer_ref_readable(buffer, &info)
            .map_err(|_| bad("a buffer that cannot be mapped"))?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        if w % 2 == 1 || h % 2 == 1 {
            return Err(bad(&format!("{w}x{h}: NV12 needs an even size")));
        }
        self.frame.clear();
        for (plane, rows) in [(0u32, h), (1, h / 2)] {
            let stride = picture.plane_stride()[plane as usize] as usize;
            let data = picture
                .plane_data(plane)
                .map_err(|_| bad("a plane that cannot be read"))?;
            for row in 0..rows {
                let start = row * stride;
                let line = data
                    .get(start..start + w)
                    .ok_or_else(|| bad("a plane shorter than its size"))?;
                self.frame.extend_from_slice(line);
            }
        }
        let pts = buffer.pts().unwrap_or(gst::ClockTime::ZERO);
        let (first, start) = *self.session.get_or_insert((pts, self.next_start()));
        let t = start + Duration::from_nanos(pts.saturating_sub(first).nseconds());
        self.last = t.max(self.last);
        Ok((w as u32, h as u32, self.last))
    }

    /// Where a new session starts on the source's clock: one frame after the last.
    fn next_start(&self) -> Duration {
        if self.last.is_zero() {
            Duration::ZERO
        } else {
            self.last + Duration::from_secs_f32(1.0 / self.fps.max(1.0))
        }
    }

    fn build(&self) -> Result<(gst::Pipeline, AppSink), String> {
        let convert = if gst::ElementFactory::find("nvvidconv").is_some() {
            "nvvidconv"
        } else {
            "videoconvert"
        };
        let description = format!(
            "rtspsrc name=src latency=200 protocols=tcp ! decodebin ! {convert} ! \
             video/x-raw,format=NV12 ! appsink name=sink max-buffers=2 drop=true sync=false"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| e.to_string())?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline".to_string())?;
        let src = pipeline.by_name("src").ok_or("no rtspsrc")?;
        src.set_property("location", self.url.as_str());
        let sink = pipeline
            .by_name("sink")
            .and_then(|s| s.downcast::<AppSink>().ok())
            .ok_or("no appsink")?;
        Ok((pipeline, sink))
    }
}

impl FrameSource for RtspSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn fps(&self) -> f32 {
        self.fps
    }

    fn next_frame(&mut self) -> Result<FrameRef<'_>, SourceError> {
        let sample = self.pull(STALL)?;
        let (width, height, timestamp) = self.unpack(&sample)?;
        Ok(FrameRef {
            format: PixelFormat::Nv12,
            width,
            height,
            data: &self.frame,
            timestamp,
        })
    }

    fn reopen(&mut self) -> Result<(), SourceError> {
        self.close();
        let (pipeline, sink) = self.build().map_err(|e| self.lost(e))?;
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(self.lost(e.to_string()));
        }
        self.pipeline = Some((pipeline, sink));
        let first = self.pull(CONNECT)?;
        self.pending = Some(first);
        Ok(())
    }
}

impl Drop for RtspSource {
    fn drop(&mut self) {
        self.close();
    }
}
