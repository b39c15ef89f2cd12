//! `http://ADDR:PORT`: `/health`, `/metrics` and `/events` for integrators
//! and monitoring, `/preview.png` for an operator.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tiny_http::{Header, Method, Request, Response, Server};

use artrt_infer::InputSpec;

use crate::health::Status;
use crate::latency::Latencies;
use crate::message::Message;
use crate::overlay::{self, Prediction};
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health, Preview};

/// Event-stream clients served at once; more are answered 503.
pub const MAX_STREAMS: usize = 16;
/// Messages a slow event-stream client may fall behind before it is dropped.
pub const STREAM_QUEUE: usize = 64;
/// A comment line keeps idle event streams open (and finds dead clients).
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// A heartbeat's status, uptime, frame rate and backend.
type Beat = (Status, u32, f32, &'static str);

/// What the endpoint knows of the device.
#[derive(Default)]
struct Board {
    /// The last heartbeat of the device or any camera, as its JSON message.
    health: Option<String>,
    /// The last action or clear of any camera, as its JSON message.
    state: Option<String>,
    /// The device's own heartbeat, sent before a model serves.
    device_beat: Option<Beat>,
    /// Each camera's last heartbeat and state.
    cameras: BTreeMap<String, CameraBoard>,
    /// Each camera's newest preview.
    previews: BTreeMap<String, Still>,
    actions: u64,
    clears: u64,
}

/// A camera's newest preview, copied into buffers reused from one to the next.
#[derive(Clone, Default)]
struct Still {
    clip: Vec<f32>,
    input: Option<InputSpec>,
    region_attn: Vec<f32>,
    tracklets: usize,
    grid: [usize; 2],
    label: String,
    confidence: f32,
    t_ms: u32,
}

impl Still {
    /// Takes `p` in.
    fn take(&mut self, p: &Preview<'_>) {
        self.clip.clear();
        self.clip.extend_from_slice(p.clip);
        self.region_attn.clear();
        self.region_attn.extend_from_slice(p.region_attn);
        self.input = Some(p.input.clone());
        self.tracklets = p.tracklets;
        self.grid = p.grid;
        self.label.clear();
        self.label.push_str(p.label);
        self.confidence = p.confidence;
        self.t_ms = p.t_ms;
    }

    /// The clip's frames with each tracklet's attention over them, as PNG.
    fn png(&self, camera: &str) -> Result<Vec<u8>, String> {
        let input = self.input.as_ref().ok_or("no clip")?;
        let frames = overlay::model_frames(&self.clip, input)?;
        let geometry = overlay::model_geometry(input, self.grid);
        let label = format!(
            "{camera} {:.1} s: {}",
            f64::from(self.t_ms) / 1000.0,
            self.label
        );
        let prediction = Prediction {
            label: &label,
            confidence: self.confidence,
        };
        let image = overlay::draw(
            &frames,
            &self.region_attn,
            self.tracklets,
            &geometry,
            &prediction,
            PREVIEW_SCALE,
        )?;
        let mut png = Vec::new();
        image
            .write_to(&mut io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        Ok(png)
    }
}

/// How much `/preview.png` enlarges the model's frames.
const PREVIEW_SCALE: u32 = 2;

/// What the endpoint knows of one camera.
#[derive(Default)]
struct CameraBoard {
    health: Option<String>,
    beat: Option<Beat>,
    state: Option<String>,
}

impl Board {
    /// The heartbeats that speak for the device now: each camera's once any
    /// camera has reported, else the device's own.
    fn beats(&self) -> Vec<(Option<&str>, Beat)> {
        let cameras: Vec<_> = self
            .cameras
            .iter()
            .filter_map(|(id, c)| Some((Some(id.as_str()), c.beat?)))
            .collect();
        match (cameras.is_empty(), self.device_beat) {
            (true, Some(beat)) => vec![(None, beat)],
            _ => cameras,
        }
    }

    /// Whether every camera (or, before any reports, the device) serves.
    fn serving(&self) -> bool {
        let beats = self.beats();
        !beats.is_empty()
            && beats
                .iter()
                .all(|(_, b)| matches!(b.0, Status::Ok | Status::Degraded))
    }

    /// Each camera's last action or clear.
    fn states(&self) -> Vec<String> {
        self.cameras
            .values()
            .filter_map(|c| c.state.clone())
            .collect()
    }
}

/// The HTTP endpoint, served by its own thread:
///
/// - `GET /health`: `{"schema":1,"device":…,"health":{last heartbeat},"state":{last action or clear},
///   "cameras":{"ID":{"health":…,"state":…},…}}`, status 200, or 503 while
///   the device or any camera reports `NOMODEL` or `NOCAM` or none has
///   reported yet;
/// - `GET /metrics`: Prometheus text: events sent, each camera's uptime,
///   frame rate and status at its last heartbeat, event latency per output;
/// - `GET /events`: server-sent events, each camera's current state first,
///   then one per message (`event:` its type, `id:` its sequence number,
///   `data:` its JSON);
/// - `GET /preview.png?camera=ID`: the camera's newest previewed clip (the
///   first camera's without `camera`) as the model took it, each
///   tracklet's attention over its frames in the tracklet's colour, with
///   the camera, stream time, label and confidence; 404 before the first.
///
/// Any other method is answered 405, any other path 404.
pub struct HttpOutput {
    device: String,
    addr: SocketAddr,
    board: Arc<Mutex<Board>>,
    streams: Arc<Mutex<Vec<Sender<Arc<str>>>>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpOutput {
    /// Listens on `addr` (port 0: any free port, see [`HttpOutput::addr`]).
    pub fn bind(
        addr: SocketAddr,
        device: &str,
        latencies: Arc<Latencies>,
    ) -> io::Result<HttpOutput> {
        let server = Server::http(addr)
            .map_err(|e| io::Error::other(format!("cannot listen on {addr}: {e}")))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("the server has no IP address"))?;
        let board: Arc<Mutex<Board>> = Arc::default();
        let streams: Arc<Mutex<Vec<Sender<Arc<str>>>>> = Arc::default();
        let stopping = Arc::new(AtomicBool::new(false));
        let serve = Serve {
            device: device.to_string(),
            board: Arc::clone(&board),
            streams: Arc::clone(&streams),
            open_streams: Arc::default(),
            latencies,
        };
        let thread = {
            let stopping = Arc::clone(&stopping);
            std::thread::Builder::new()
                .name("artrt-http".into())
                .spawn(move || {
                    while !stopping.load(Ordering::SeqCst) {
                        match server.recv_timeout(Duration::from_millis(200)) {
                            Ok(Some(request)) => serve.answer(request),
                            Ok(None) => {}
                            Err(e) => log::warn!("http://{addr}: {e}"),
                        }
                    }
                })?
        };
        log::info!("HTTP endpoint on http://{addr} (/health, /metrics, /events, /preview.png)");
        Ok(HttpOutput {
            device: device.to_string(),
            addr,
            board,
            streams,
            stopping,
            thread: Some(thread),
        })
    }

    /// The address the endpoint listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn broadcast(&self, line: &str) {
        let line: Arc<str> = line.into();
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.retain(|tx| match tx.try_send(Arc::clone(&line)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                log::warn!(
                    "http://{}: an event-stream client fell behind and was dropped",
                    self.addr
                );
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HttpOutput {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Closing the channels ends every event stream.
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl HttpOutput {
    /// Takes an event's message as `camera`'s current state and streams it.
    fn event(&mut self, camera: &str, line: String, count: impl FnOnce(&mut Board)) {
        {
            let mut board = self.board();
            count(&mut board);
            board.state = Some(line.clone());
            board.cameras.entry(camera.to_owned()).or_default().state = Some(line.clone());
        }
        self.broadcast(&line);
    }
}

impl EventSink for HttpOutput {
    type Error = std::convert::Infallible;
    fn action(&mut self, e: &ActionEvent) -> Result<(), Self::Error> {
        let line = Message::action(&self.device, e).to_json();
        self.event(&e.camera, line, |b| b.actions += 1);
        Ok(())
    }
    fn clear(&mut self, e: &ClearEvent) -> Result<(), Self::Error> {
        let line = Message::clear(&self.device, e).to_json();
        self.event(&e.camera, line, |b| b.clears += 1);
        Ok(())
    }
    fn health(&mut self, h: &Health) -> Result<(), Self::Error> {
        let line = Message::health(&self.device, h).to_json();
        {
            let mut board = self.board();
            board.health = Some(line.clone());
            let beat = Some((h.status, h.uptime_s, h.fps, h.backend.as_str()));
            match &h.camera {
                Some(camera) => {
                    let camera = board.cameras.entry(camera.to_string()).or_default();
                    camera.health = Some(line.clone());
                    camera.beat = beat;
                }
                None => board.device_beat = beat,
            }
        }
        self.broadcast(&line);
        Ok(())
    }
    fn preview(&mut self, p: &Preview<'_>) -> Result<(), Self::Error> {
        let mut board = self.board();
        if !board.previews.contains_key(p.camera) {
            board.previews.insert(p.camera.to_owned(), Still::default());
        }
        if let Some(still) = board.previews.get_mut(p.camera) {
            still.take(p);
        }
        Ok(())
    }
}

/// The server thread's view.
struct Serve {
    device: String,
    board: Arc<Mutex<Board>>,
    streams: Arc<Mutex<Vec<Sender<Arc<str>>>>>,
    /// Event-stream threads running.
    open_streams: Arc<AtomicUsize>,
    latencies: Arc<Latencies>,
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("constant headers are valid")
}

impl Serve {
    fn answer(&self, request: Request) {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let response = if *request.method() != Method::Get {
            Response::from_string("only GET is served here\n")
                .with_status_code(405)
                .with_header(header("Allow", "GET"))
        } else {
            match path.as_str() {
                "/health" => self.health(),
                "/metrics" => Response::from_string(self.metrics())
                    .with_header(header("Content-Type", "text/plain; version=0.0.4")),
                "/events" => return self.events(request),
                "/preview.png" => self.preview(request.url()),
                _ => Response::from_string(
                    "not found: try /health, /metrics, /events or /preview.png\n",
                )
                .with_status_code(404),
            }
        };
        if let Err(e) = request.respond(response) {
            log::debug!("HTTP {path}: {e}");
        }
    }

    fn health(&self) -> Response<io::Cursor<Vec<u8>>> {
        let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        let cameras: Vec<String> = board
            .cameras
            .iter()
            .map(|(id, c)| {
                format!(
                    "{}:{{\"health\":{},\"state\":{}}}",
                    serde_json::Value::from(id.as_str()),
                    c.health.as_deref().unwrap_or("null"),
                    c.state.as_deref().unwrap_or("null"),
                )
            })
            .collect();
        let body = format!(
            "{{\"schema\":{},\"device\":{},\"health\":{},\"state\":{},\"cameras\":{{{}}}}}\n",
            crate::message::SCHEMA,
            serde_json::Value::from(self.device.as_str()),
            board.health.as_deref().unwrap_or("null"),
            board.state.as_deref().unwrap_or("null"),
            cameras.join(","),
        );
        let serving = board.serving();
        Response::from_string(body)
            .with_status_code(if serving { 200 } else { 503 })
            .with_header(header("Content-Type", "application/json"))
    }

    /// `/preview.png?camera=ID`.
    fn preview(&self, url: &str) -> Response<io::Cursor<Vec<u8>>> {
        let wanted = url
            .split_once('?')
            .and_then(|(_, query)| query.split('&').find_map(|kv| kv.strip_prefix("camera=")));
        let found = {
            let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
            let found = match wanted {
                Some(id) => board.previews.get_key_value(id),
                None => board.previews.iter().next(),
            };
            match found {
                Some((id, still)) => Ok((id.clone(), still.clone())),
                None if board.previews.is_empty() => {
                    Err("no preview yet: no clip has been classified\n".to_string())
                }
                None => Err(format!(
                    "no preview of camera `{}`; previews of: {}\n",
                    wanted.unwrap_or_default(),
                    board
                        .previews
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        };
        let (camera, still) = match found {
            Ok(found) => found,
            Err(message) => return Response::from_string(message).with_status_code(404),
        };
        match still.png(&camera) {
            Ok(png) => Response::from_data(png)
                .with_header(header("Content-Type", "image/png"))
                .with_header(header("Cache-Control", "no-store")),
            Err(e) => Response::from_string(format!("cannot draw the preview of {camera}: {e}\n"))
                .with_status_code(500),
        }
    }

    fn metrics(&self) -> String {
        let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        let mut m = String::new();
        let device = self.device.replace(['\\', '"', '\n'], "_");
        let _ = writeln!(m, "# HELP artrt_events_total Events sent, by type.");
        let _ = writeln!(m, "# TYPE artrt_events_total counter");
        let _ = writeln!(
            m,
            "artrt_events_total{{device=\"{device}\",type=\"action\"}} {}",
            board.actions
        );
        let _ = writeln!(
            m,
            "artrt_events_total{{device=\"{device}\",type=\"clear\"}} {}",
            board.clears
        );
        let beats = board.beats();
        if !beats.is_empty() {
            let label = |camera: Option<&str>| match camera {
                Some(id) => format!("device=\"{device}\",camera=\"{id}\""),
                None => format!("device=\"{device}\""),
            };
            let _ = writeln!(
                m,
                "# HELP artrt_uptime_seconds Seconds since the runtime started, at the camera's last heartbeat."
            );
            let _ = writeln!(m, "# TYPE artrt_uptime_seconds gauge");
            for (camera, (_, uptime, _, _)) in &beats {
                let _ = writeln!(m, "artrt_uptime_seconds{{{}}} {uptime}", label(*camera));
            }
            let _ = writeln!(
                m,
                "# HELP artrt_fps Camera frames per second, at the camera's last heartbeat."
            );
            let _ = writeln!(m, "# TYPE artrt_fps gauge");
            for (camera, (_, _, fps, _)) in &beats {
                let _ = writeln!(m, "artrt_fps{{{}}} {fps}", label(*camera));
            }
            let _ = writeln!(
                m,
                "# HELP artrt_status The status at the camera's last heartbeat (1 for the current one)."
            );
            let _ = writeln!(m, "# TYPE artrt_status gauge");
            for (camera, (status, _, _, backend)) in &beats {
                for s in [Status::Ok, Status::Degraded, Status::NoCam, Status::NoModel] {
                    let _ = writeln!(
                        m,
                        "artrt_status{{{},status=\"{}\",backend=\"{backend}\"}} {}",
                        label(*camera),
                        s.as_str(),
                        u8::from(s == *status)
                    );
                }
            }
        }
        let summaries = self.latencies.summaries();
        if !summaries.is_empty() {
            let _ = writeln!(
                m,
                "# HELP artrt_event_latency_seconds From the capture of the deciding window's newest frame to each output."
            );
            let _ = writeln!(m, "# TYPE artrt_event_latency_seconds summary");
            for s in summaries {
                let output = s.output.replace(['\\', '"', '\n'], "_");
                for (q, v) in [("0.5", s.p50_ms), ("0.9", s.p90_ms), ("0.99", s.p99_ms)] {
                    let _ = writeln!(
                        m,
                        "artrt_event_latency_seconds{{device=\"{device}\",output=\"{output}\",quantile=\"{q}\"}} {:.6}",
                        v / 1000.0
                    );
                }
                let _ = writeln!(
                    m,
                    "artrt_event_latency_seconds_count{{device=\"{device}\",output=\"{output}\"}} {}",
                    s.events
                );
            }
        }
        m
    }

    /// Starts an event stream on its own thread.
    fn events(&self, request: Request) {
        let rx = {
            let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            if self.open_streams.load(Ordering::SeqCst) >= MAX_STREAMS {
                let _ = request.respond(
                    Response::from_string(format!("at most {MAX_STREAMS} event streams at once\n"))
                        .with_status_code(503),
                );
                return;
            }
            let (tx, rx) = crossbeam_channel::bounded(STREAM_QUEUE);
            streams.push(tx);
            rx
        };
        let current = self
            .board
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .states();
        let open = Arc::clone(&self.open_streams);
        open.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("artrt-sse".into())
            .spawn(move || {
                let mut out = request.into_writer();
                if let Err(e) = stream(&mut out, &current, &rx) {
                    log::debug!("event stream closed: {e}");
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.open_streams.fetch_sub(1, Ordering::SeqCst);
            log::warn!("cannot start an event stream: {e}");
        }
    }
}

/// Writes the response head, each camera's current state, then every
/// message until the client goes or the output stops.
fn stream(out: &mut dyn Write, current: &[String], rx: &Receiver<Arc<str>>) -> io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
    )?;
    for line in current {
        out.write_all(sse(line).as_bytes())?;
    }
    out.flush()?;
    loop {
        match rx.recv_timeout(KEEPALIVE) {
            Ok(line) => out.write_all(sse(&line).as_bytes())?,
            Err(RecvTimeoutError::Timeout) => out.write_all(b": keepalive\n\n")?,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        out.flush()?;
    }
}

/// One message as a server-sent event.
fn sse(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let kind = value["type"].as_str().unwrap_or("message");
    match value["seq"].as_u64() {
        Some(seq) => format!("event: {kind}\nid: {seq}\ndata: {line}\n\n"),
        None => format!("event: {kind}\ndata: {line}\n\n"),
    }
}
