//! `tcp://HOST:PORT`: JSON lines to a server, reconnecting by itself.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::message::Message;
use crate::scoreboard::serial::Backoff;
use crate::sink::{ActionEvent, ClearEvent, EventSink, Health};

/// Longest a write may block the pipeline before the connection is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// Longest a connection attempt takes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    stream: Option<TcpStream>,
    /// Each camera's last action or clear line: what a new connection hears
    /// first.
    current: BTreeMap<Arc<str>, String>,
    stopping: bool,
}

/// Writes every message as a JSON line. A background thread (re)connects
/// with backoff (0.1 s up to 5 s); a new connection first gets the current
/// state (each camera's last action or clear), never the messages it missed.
pub struct TcpOutput {
    device: String,
    shared: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl TcpOutput {
    /// Starts connecting to `host:port` in the background.
    pub fn spawn(host: &str, port: u16, device: &str) -> TcpOutput {
        let shared: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let thread = {
            let shared = Arc::clone(&shared);
            let name = format!("tcp://{host}:{port}");
            let host = host.to_string();
            std::thread::Builder::new()
                .name("artrt-tcp".into())
                .spawn(move || connect_loop(&host, port, &name, &shared))
                .ok()
        };
        TcpOutput {
            device: device.to_string(),
            shared,
            thread,
        }
    }

    /// Writes `line`; an event's line (`state` names its camera) becomes
    /// that camera's current state.
    fn send(&mut self, line: String, state: Option<&Arc<str>>) -> io::Result<()> {
        let (lock, wake) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(camera) = state {
            s.current.insert(Arc::clone(camera), line.clone());
        }
        let Some(stream) = s.stream.as_mut() else {
            // Heartbeats are not worth a warning each; a missed event is.
            return match state {
                Some(_) => Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "not connected; reconnecting",
                )),
                None => Ok(()),
            };
        };
        let written = stream
            .write_all(line.as_bytes())
            .and_then(|()| stream.write_all(b"\n"));
        if let Err(e) = written {
            s.stream = None;
            wake.notify_all();
            return Err(e);
        }
        Ok(())
    }
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Keeps a connection up until the output is dropped.
fn connect_loop(host: &str, port: u16, name: &str, shared: &(Mutex<State>, Condvar)) {
    let (lock, wake) = shared;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        {
            let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
            while s.stream.is_some() && !s.stopping {
                s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.stopping {
                return;
            }
        }
        match connect(host, port) {
            Ok(mut stream) => {
                let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
                let greeted = s.current.values().try_for_each(|line| {
                    stream
                        .write_all(line.as_bytes())
                        .and_then(|()| stream.write_all(b"\n"))
                });
                match greeted {
                    Ok(()) => {
                        log::info!("{name}: connected");
                        s.stream = Some(stream);
                        backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
                        continue;
                    }
                    Err(e) => log::warn!("{name}: connection lost at once: {e}"),
                }
            }
            Err(e) => log::debug!("{name}: {e}"),
        }
        let until = Instant::now() + backoff.failed(Instant::now());
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        while !s.stopping && Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            s = wake
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for TcpOutput {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(|p| p.into_inner()).stopping = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl EventSink for TcpOutput {
    type Error = io::Error;
    fn action(&mut self, e: &ActionEvent) -> io::Result<()> {
        let line = Message::action(&self.device, e).to_json();
        self.send(line, Some(&e.camera))
    }
    fn clear(&mut self, e: &ClearEvent) -> io::Result<()> {
        let line = Message::clear(&self.device, e).to_json();
        self.send(line, Some(&e.camera))
    }
    fn health(&mut self, h: &Health) -> io::Result<()> {
        let line = Message::health(&self.device, h).to_json();
        self.send(line, None)
    }
}
