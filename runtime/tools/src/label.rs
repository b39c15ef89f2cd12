//! The labelling page of `artrt label`: a recording's frames, its labels and
//! its proposals, served on the loopback interface to one operator's browser.
//!
//! - `GET /`, `/label.js`, `/label.css`: the page (built in, no network).
//! - `GET /api/recording`: the recording's size, frame times, the classes to
//!   choose from, its labels with their revision, and its proposals.
//! - `GET /frame/N`: frame `N`'s JPEG image, as recorded.
//! - `PUT /api/labels`: `{"revision": R, "labels": [...]}`, checked like a
//!   labels file and written atomically, the replaced file kept as
//!   `labels.csv.bak`. Refused (409) when `labels.csv` has changed since
//!   revision `R` was read, so a second tab or an edit by hand is never
//!   overwritten unseen.
//!
//! Requests must name the server itself as their `Host` (a page elsewhere
//! cannot reach it by rebinding a name to 127.0.0.1), and a `PUT` must carry
//! JSON, which a page elsewhere cannot send without the browser asking first.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use artrt_live::labels::{self, Label};
use artrt_live::recording::{self, Recording};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

const PAGE: &str = include_str!("label/index.html");
const SCRIPT: &str = include_str!("label/label.js");
const STYLE: &str = include_str!("label/label.css");

/// Largest labels request accepted.
const MAX_BODY: u64 = 4 << 20;

/// How often the server looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);

/// What the page is told of the recording.
#[derive(Serialize)]
struct Description<'a> {
    /// The recording's folder name.
    name: String,
    width: u32,
    height: u32,
    fps: f32,
    source: &'a str,
    /// Capture time of each frame, in milliseconds from the first.
    frames_ms: Vec<f64>,
    duration_ms: u64,
    /// Why frames at the end were dropped, if they were.
    cut_short: Option<&'a str>,
    /// Classes offered: the bundle's, then labels it does not know.
    classes: Vec<String>,
    labels: &'a [Label],
    /// SHA-256 of `labels.csv` as read, empty when there is none.
    revision: &'a str,
    proposals: &'a [Label],
}

/// A save from the page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Save {
    revision: String,
    labels: Vec<Label>,
}

/// The labelling server for one recording.
pub struct LabelServer {
    server: Server,
    addr: SocketAddr,
    recording: Recording,
    classes: Vec<String>,
    labels: Vec<Label>,
    revision: String,
    proposals: Vec<Label>,
}

impl LabelServer {
    /// Opens the recording in `dir` with its `labels.csv` and
    /// `proposals.csv` (each checked; either may be missing) and listens on
    /// 127.0.0.1:`port` (0: any free port). `classes` are offered first, in
    /// their order.
    pub fn bind(dir: &Path, port: u16, classes: &[String]) -> anyhow::Result<LabelServer> {
        let recording = Recording::open(dir)?;
        if recording.frames.is_empty() {
            anyhow::bail!("{}: the recording holds no frames", dir.display());
        }
        let duration = Some(recording.duration_ms());
        let labels_path = dir.join(recording::LABELS);
        let (labels, revision) = if labels_path.exists() {
            (
                labels::read(&labels_path, duration)?,
                revision_of(&labels_path)?,
            )
        } else {
            (Vec::new(), String::new())
        };
        let proposals_path = dir.join(recording::PROPOSALS);
        let proposals = if proposals_path.exists() {
            labels::read(&proposals_path, duration)?
        } else {
            Vec::new()
        };
        let mut offered: Vec<String> = classes.to_vec();
        for l in labels.iter().chain(&proposals) {
            if !offered.contains(&l.label) {
                offered.push(l.label.clone());
            }
        }
        let server = Server::http(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("the server has no IP address")?;
        Ok(LabelServer {
            server,
            addr,
            recording,
            classes: offered,
            labels,
            revision,
            proposals,
        })
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves requests, one at a time, until `stop` is set.
    pub fn serve(mut self, stop: &AtomicBool) -> anyhow::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            match self.server.recv_timeout(POLL) {
                Ok(Some(request)) => self.answer(request),
                Ok(None) => {}
                Err(e) => return Err(e).context("the labelling server stopped"),
            }
        }
        Ok(())
    }

    fn answer(&mut self, mut request: Request) {
        let path = request.url().split('?').next().unwrap_or("").to_owned();
        let response = if !self.host_is_ours(&request) {
            text(
                403,
                "requests must be addressed to this server by its address",
            )
        } else {
            match (request.method(), path.as_str()) {
                (Method::Get, "/") => asset(PAGE, "text/html; charset=utf-8"),
                (Method::Get, "/label.js") => asset(SCRIPT, "text/javascript; charset=utf-8"),
                (Method::Get, "/label.css") => asset(STYLE, "text/css; charset=utf-8"),
                (Method::Get, "/api/recording") => self.describe(),
                (Method::Get, p) if p.starts_with("/frame/") => self.frame(&p["/frame/".len()..]),
                (Method::Put, "/api/labels") => self.save(&mut request),
                (_, "/" | "/label.js" | "/label.css" | "/api/recording" | "/api/labels") => {
                    text(405, "method not allowed")
                }
                (_, p) if p.starts_with("/frame/") => text(405, "method not allowed"),
                _ => text(404, "not found"),
            }
        };
        if let Err(e) = request.respond(response) {
            log::debug!("label: a response was not delivered: {e}");
        }
    }

    /// Whether the request's `Host` is this server's address (by number or
    /// as `localhost`).
    fn host_is_ours(&self, request: &Request) -> bool {
        let port = self.addr.port();
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Host"))
            .is_some_and(|h| {
                let host = h.value.as_str();
                host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}")
            })
    }

    fn describe(&self) -> Response<std::io::Cursor<Vec<u8>>> {
        let meta = &self.recording.meta;
        let description = Description {
            name: self
                .recording
                .dir()
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            width: meta.width,
            height: meta.height,
            fps: meta.fps,
            source: &meta.source,
            frames_ms: self
                .recording
                .frames
                .iter()
                .map(|f| (f.t.as_secs_f64() * 1e6).round() / 1e3)
                .collect(),
            duration_ms: self.recording.duration_ms(),
            cut_short: self.recording.cut_short.as_deref(),
            classes: self.classes.clone(),
            labels: &self.labels,
            revision: &self.revision,
            proposals: &self.proposals,
        };
        json(200, &description)
    }

    fn frame(&mut self, n: &str) -> Response<std::io::Cursor<Vec<u8>>> {
        let Ok(n) = n.parse::<usize>() else {
            return text(404, "frames are numbered from 0");
        };
        let mut image = Vec::new();
        match self.recording.read_frame(n, &mut image) {
            Ok(()) => Response::from_data(image)
                .with_header(header("Content-Type", "image/jpeg"))
                .with_header(header("Cache-Control", "max-age=86400, immutable")),
            Err(recording::RecordingError::Frame { reason, .. }) => {
                text(404, &format!("frame {n}: {reason}"))
            }
            Err(e) => text(500, &e.to_string()),
        }
    }

    fn save(&mut self, request: &mut Request) -> Response<std::io::Cursor<Vec<u8>>> {
        let is_json = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Content-Type"))
            .is_some_and(|h| h.value.as_str().starts_with("application/json"));
        if !is_json {
            return text(415, "labels are sent as application/json");
        }
        let mut body = Vec::new();
        if let Err(e) = request
            .as_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
        {
            return text(400, &format!("cannot read the request: {e}"));
        }
        if body.len() as u64 > MAX_BODY {
            return text(413, &format!("more than {MAX_BODY} bytes of labels"));
        }
        let save: Save = match serde_json::from_slice(&body) {
            Ok(s) => s,
            Err(e) => return text(400, &format!("not a labels request: {e}")),
        };
        let path = self.recording.dir().join(recording::LABELS);
        match self.write(&path, save) {
            Ok(()) => json(200, &serde_json::json!({ "revision": self.revision })),
            Err((status, reason)) => text(status, &reason),
        }
    }

    /// Writes a save unless the file changed since its revision was read.
    fn write(&mut self, path: &Path, save: Save) -> Result<(), (u16, String)> {
        let on_disk = if path.exists() {
            revision_of(path).map_err(|e| (500, format!("{e:#}")))?
        } else {
            String::new()
        };
        if on_disk != save.revision {
            return Err((
                409,
                format!(
                    "{} has changed since the page read it; reload the page to see it",
                    path.display()
                ),
            ));
        }
        labels::check(&save.labels, Some(self.recording.duration_ms())).map_err(|(i, r)| {
            let l = &save.labels[i];
            (
                400,
                format!(
                    "element {} ({}, {}–{} ms): {r}",
                    i + 1,
                    l.label,
                    l.start_ms,
                    l.end_ms
                ),
            )
        })?;
        labels::write(path, &save.labels).map_err(|e| (500, e.to_string()))?;
        self.revision = revision_of(path).map_err(|e| (500, format!("{e:#}")))?;
        log::info!(
            "{}: {} labelled elements saved",
            path.display(),
            save.labels.len()
        );
        self.labels = save.labels;
        Ok(())
    }
}

/// SHA-256 of a file, in hex.
fn revision_of(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

fn header(field: &str, value: &str) -> Header {
    Header::from_bytes(field.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn asset(body: &str, content_type: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(body.as_bytes().to_vec())
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-cache"))
}

fn json<T: Serialize>(status: u16, value: &T) -> Response<std::io::Cursor<Vec<u8>>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::from_data(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("Cache-Control", "no-store"))
}

fn text(status: u16, reason: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(reason.as_bytes().to_vec())
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}
