//! Network event outputs against real peers: UDP and TCP sockets, an HTTP
//! client on a socket, and a Mosquitto broker from Debian's `mosquitto`
//! package (started by each test on a free port, restarted mid-test).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use artrt_infer::bundle::{Crop, Resize, Sampling};
use artrt_infer::{BackendKind, InputSpec};
use artrt_live::latency::Latencies;
use artrt_live::publish::{self, HttpOutput, MqttOutput, PublishUrl, TcpOutput, UdpOutput};
use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health, Preview, Status};
use artrt_tests::net::free_port;
use serde_json::Value;

/// Longest any peer is waited for; reached only when something is broken.
const PATIENCE: Duration = Duration::from_secs(60);

fn action(seq: u64, label: &str) -> ActionEvent {
    ActionEvent {
        class_id: seq as u16 % 7,
        label: label.into(),
        confidence: 0.9,
        t_ms: seq as u32 * 1000,
        camera: "cam0".into(),
        seq,
        captured: Instant::now(),
    }
}

fn clear(seq: u64) -> ClearEvent {
    ClearEvent {
        t_ms: seq as u32 * 1000,
        camera: "cam0".into(),
        seq,
        captured: Instant::now(),
    }
}

fn health(status: Status) -> Health {
    Health {
        uptime_s: 7,
        fps: 30.0,
        backend: BackendKind::OrtCpu,
        status,
        camera: None,
    }
}

fn json(line: &str) -> Value {
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

#[test]
fn udp_sends_one_schema_message_per_datagram() {
    let peer = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let mut out = UdpOutput::new("localhost", port, "gym-1").unwrap();
    out.action(&action(1, "back tuck")).unwrap();
    out.health(&health(Status::Ok)).unwrap();
    out.clear(&clear(2)).unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    for _ in 0..3 {
        let n = peer.recv(&mut buf).unwrap();
        got.push(json(std::str::from_utf8(&buf[..n]).unwrap()));
    }
    assert_eq!(got[0]["type"], "action");
    assert_eq!(
        (
            &got[0]["schema"],
            &got[0]["device"],
            &got[0]["camera"],
            &got[0]["seq"]
        ),
        (
            &Value::from(1),
            &Value::from("gym-1"),
            &Value::from("cam0"),
            &Value::from(1)
        )
    );
    assert_eq!(got[0]["label"], "back tuck");
    assert!(got[0]["latency_ms"].as_f64().is_some());
    assert_eq!(got[1]["type"], "health");
    assert_eq!(
        (&got[2]["type"], &got[2]["seq"]),
        (&Value::from("clear"), &Value::from(2))
    );
}

/// Accepts one connection and reads its lines into a channel.
fn accept_lines(listener: &TcpListener) -> (TcpStream, Receiver<String>) {
    let (stream, _) = listener.accept().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = BufReader::new(stream.try_clone().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (stream, rx)
}

fn next_line(rx: &Receiver<String>) -> Value {
    json(&rx.recv_timeout(PATIENCE).expect("a line from the output"))
}

#[test]
fn tcp_reconnects_and_sends_the_current_state_never_a_backlog() {
    let port = free_port();
    let mut out = TcpOutput::spawn("127.0.0.1", port, "gym-1");
    // Nobody listens yet: the event is refused at once (logged), not queued.
    assert!(out.action(&action(1, "early")).is_err());
    out.action(&action(2, "current")).unwrap_err();
    out.health(&health(Status::Ok)).unwrap();

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    let (first, rx) = accept_lines(&listener);
    // The first line on a new connection is the current state only.
    let state = next_line(&rx);
    assert_eq!(
        (&state["seq"], &state["label"]),
        (&Value::from(2), &Value::from("current"))
    );
    // Connected: events flow. Send until one arrives (the output may still be
    // handing over the connection).
    out.clear(&clear(3)).unwrap();
    assert_eq!(next_line(&rx)["seq"], 3);

    // The integrator's side goes away and comes back.
    first.shutdown(std::net::Shutdown::Both).unwrap();
    drop(first);
    // Writes into a closed connection fail within a few messages; those
    // events are lost to this peer, as they would be to a dead one.
    let mut seq = 4;
    let deadline = Instant::now() + PATIENCE;
    while out.action(&action(seq, "during")).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the output never noticed the closed connection"
        );
        seq += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = seq;
    let (_second, rx) = accept_lines(&listener);
    let state = next_line(&rx);
    assert_eq!(
        state["seq"], last,
        "a new connection starts with the current state, not a backlog: {state}"
    );
    // The greeting and the hand-over happen under one lock: once the state
    // has arrived, events flow.
    out.action(&action(last + 1, "after")).unwrap();
    assert_eq!(next_line(&rx)["seq"], last + 1);
    drop(out);
}

#[test]
fn stateful_outputs_keep_each_cameras_state() {
    let on = |camera: &str, mut e: ActionEvent| {
        e.camera = camera.into();
        e
    };
    let beat = |camera: &str, status| Health {
        camera: Some(camera.into()),
        ..health(status)
    };

    // TCP: a new connection hears every camera's current state, once each.
    let port = free_port();
    let mut tcp = TcpOutput::spawn("127.0.0.1", port, "gym-1");
    tcp.action(&on("floor", action(1, "back tuck")))
        .unwrap_err();
    tcp.action(&on("beam", action(2, "salto forward piked")))
        .unwrap_err();
    tcp.action(&on("floor", action(3, "back pike")))
        .unwrap_err();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    let (_conn, rx) = accept_lines(&listener);
    let mut greeting = [next_line(&rx), next_line(&rx)];
    greeting.sort_by_key(|v| v["seq"].as_u64());
    let got: Vec<(&Value, &Value)> = greeting.iter().map(|v| (&v["camera"], &v["seq"])).collect();
    assert_eq!(
        got,
        [
            (&Value::from("beam"), &Value::from(2)),
            (&Value::from("floor"), &Value::from(3))
        ]
    );
    tcp.clear(&clear(4)).unwrap();
    assert_eq!(next_line(&rx)["seq"], 4, "no third greeting line");
    drop(tcp);

    // HTTP: each camera's heartbeat and state; serving only while every camera serves.
    let mut http_out =
        HttpOutput::bind((Ipv4Addr::LOCALHOST, 0).into(), "gym-1", Arc::default()).unwrap();
    let addr = http_out.addr();
    http_out.health(&health(Status::NoModel)).unwrap();
    http_out.health(&beat("floor", Status::Ok)).unwrap();
    http_out.health(&beat("beam", Status::NoCam)).unwrap();
    http_out
        .action(&on("floor", action(5, "back tuck")))
        .unwrap();
    let (status, _, body) = http(addr, "GET", "/health");
    assert_eq!(status, 503, "beam has no camera: {body}");
    let v = json(&body);
    assert_eq!(v["cameras"]["floor"]["state"]["seq"], 5, "{v}");
    assert_eq!(v["cameras"]["beam"]["health"]["status"], "NOCAM", "{v}");
    assert_eq!(v["cameras"]["beam"]["state"], Value::Null, "{v}");
    let (_, _, metrics) = http(addr, "GET", "/metrics");
    for line in [
        "artrt_status{device=\"gym-1\",camera=\"floor\",status=\"OK\",backend=\"ort-cpu\"} 1",
        "artrt_status{device=\"gym-1\",camera=\"beam\",status=\"NOCAM\",backend=\"ort-cpu\"} 1",
        "artrt_fps{device=\"gym-1\",camera=\"beam\"} 30",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
    assert!(
        !metrics.contains("status=\"NOMODEL\",backend=\"ort-cpu\"} 1"),
        "the device's NOMODEL from before the cameras is over:\n{metrics}"
    );
    http_out.health(&beat("beam", Status::Ok)).unwrap();
    assert_eq!(http(addr, "GET", "/health").0, 200);
}

/// One HTTP/1.1 request on a fresh connection: status, headers and body.
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// One HTTP/1.0 GET on a fresh connection (a body that is not sent in
/// chunks): status, headers and the body's bytes.
fn get_bytes(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, raw[split + 4..].to_vec())
}

#[test]
fn http_serves_each_cameras_newest_preview_as_png() {
    let mut out =
        HttpOutput::bind((Ipv4Addr::LOCALHOST, 0).into(), "gym-1", Arc::default()).unwrap();
    let addr = out.addr();
    let (status, _, body) = get_bytes(addr, "/preview.png");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no preview yet"));

    let input = InputSpec {
        frames: 2,
        window: 16,
        fps: 30.0,
        sampling: Sampling::SegmentCentre,
        resize: Resize::ShorterSideBilinear,
        resize_to: 16,
        crop: Crop::Centre,
        width: 16,
        height: 16,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    // Grey frames; tracklet 1 on the top-left cell of a 2 x 2 grid, tracklet 2 on the bottom-right one.
    let clip = vec![0.5f32; 2 * 3 * 16 * 16];
    let mut attn = vec![0.0f32; 2 * 2 * 4];
    for t in 0..2 {
        attn[t * 8] = 1.0;
        attn[t * 8 + 4 + 3] = 1.0;
    }
    for camera in ["left", "right"] {
        out.preview(&Preview {
            camera,
            clip: &clip,
            input: &input,
            region_attn: &attn,
            tracklets: 2,
            grid: [2, 2],
            label: "salto backward tucked",
            confidence: 0.75,
            t_ms: 1500,
        })
        .unwrap();
    }
    for path in ["/preview.png?camera=right", "/preview.png"] {
        let (status, head, png) = get_bytes(addr, path);
        assert_eq!(status, 200, "{path}: {head}");
        assert!(head.contains("Content-Type: image/png"), "{head}");
        let img = image::load_from_memory(&png)
            .unwrap_or_else(|e| panic!("{path}: not a PNG: {e}"))
            .into_rgb8();
        // Two 32 x 32 tiles (the frames at twice their size) side by side, under a caption.
        assert!(
            img.width() > 64 && img.height() > 32,
            "{:?}",
            img.dimensions()
        );
        let tinted = |f: fn(&[u8; 3]) -> bool| img.pixels().filter(|p| f(&p.0)).count();
        let red = tinted(|[r, _, b]| *r > 160 && *b < 110);
        let blue = tinted(|[r, _, b]| *b > 160 && *r < 110);
        // Each tracklet's cell is 16 x 16 on each of the two tiles.
        assert!(red >= 2 * 16 * 16 / 2, "{path}: {red} red pixels");
        assert!(blue >= 2 * 16 * 16 / 2, "{path}: {blue} blue pixels");
        // The other two cells of each tile keep the frame's grey, but for
        // the strongest cells' outlines.
        let grey = tinted(|[r, g, b]| *r == 128 && *g == 128 && *b == 128);
        assert!(
            grey >= 2 * 2 * 16 * 16 * 3 / 4,
            "{path}: {grey} untouched pixels"
        );
    }
    let (status, _, body) = get_bytes(addr, "/preview.png?camera=nope");
    assert_eq!(status, 404);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("`nope`") && body.contains("left, right"),
        "{body}"
    );
    assert_eq!(http(addr, "POST", "/preview.png").0, 405);
}

#[test]
fn http_serves_health_metrics_and_an_event_stream_and_refuses_other_methods() {
    let latencies = Arc::new(Latencies::default());
    let mut out = HttpOutput::bind(
        (Ipv4Addr::LOCALHOST, 0).into(),
        "gym-1",
        Arc::clone(&latencies),
    )
    .unwrap();
    let addr = out.addr();

    // Nothing reported yet: not serving.
    assert_eq!(http(addr, "GET", "/health").0, 503);
    out.health(&health(Status::NoModel)).unwrap();
    assert_eq!(http(addr, "GET", "/health").0, 503);
    out.health(&health(Status::Degraded)).unwrap();
    out.action(&action(1, "back tuck")).unwrap();
    latencies.record("http://test", Duration::from_millis(40));
    let (status, head, body) = http(addr, "GET", "/health");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    let v = json(&body);
    assert_eq!(
        (&v["schema"], &v["device"]),
        (&Value::from(1), &Value::from("gym-1"))
    );
    assert_eq!(v["health"]["status"], "DEGRADED");
    assert_eq!(v["state"]["label"], "back tuck");

    let (status, _, metrics) = http(addr, "GET", "/metrics");
    assert_eq!(status, 200);
    for line in [
        "artrt_events_total{device=\"gym-1\",type=\"action\"} 1",
        "artrt_events_total{device=\"gym-1\",type=\"clear\"} 0",
        "artrt_status{device=\"gym-1\",status=\"DEGRADED\",backend=\"ort-cpu\"} 1",
        "artrt_event_latency_seconds{device=\"gym-1\",output=\"http://test\",quantile=\"0.5\"} 0.040",
        "artrt_event_latency_seconds_count{device=\"gym-1\",output=\"http://test\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(line)),
            "no `{line}` in\n{metrics}"
        );
    }

    for method in ["POST", "PUT", "DELETE", "HEAD"] {
        let (status, head, _) = http(addr, method, "/health");
        assert_eq!(status, 405, "{method}: {head}");
        assert!(head.contains("Allow: GET"), "{head}");
    }
    assert_eq!(http(addr, "GET", "/config").0, 404);

    // The event stream: the current state first, then each message.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(s);
    let mut read_event = || {
        let mut fields = Vec::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
            let line = line.trim_end().to_string();
            if line.is_empty() && !fields.is_empty() {
                return fields;
            }
            if line.starts_with("event:") || line.starts_with("id:") || line.starts_with("data:") {
                fields.push(line);
            }
        }
    };
    let first = read_event();
    assert_eq!(first[0], "event: action");
    assert_eq!(first[1], "id: 1");
    out.clear(&clear(2)).unwrap();
    let second = read_event();
    assert_eq!(&second[..2], ["event: clear", "id: 2"]);
    assert_eq!(json(second[2].trim_start_matches("data:"))["seq"], 2);
    drop(out);
}

/// A Mosquitto broker on `port`, persisting its sessions in `dir`.
struct Broker {
    child: Child,
}

fn mosquitto() -> PathBuf {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("no mosquitto: tests/run.sh installs Debian's `mosquitto` package")
}

impl Broker {
    fn start(port: u16, dir: &Path) -> Broker {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child }
    }

    /// Stops the broker as a service manager would (SIGTERM: sessions saved).
    fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a subscriber received: (topic, payload, retained).
type Received = (String, String, bool);

/// A subscriber with a persistent session on `filter`.
struct Subscriber {
    rx: Receiver<Received>,
    /// Received but not yet asked for.
    seen: Vec<Received>,
}

fn subscribe(port: u16, id: &str, filter: &str) -> Subscriber {
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    options
        .set_clean_session(false)
        .set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = rumqttc::Client::new(options, 64);
    let (tx, rx) = std::sync::mpsc::channel();
    let filter = filter.to_string();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = client.subscribe(&filter, rumqttc::QoS::AtLeastOnce);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    if tx.send((p.topic.clone(), payload, p.retain)).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    Subscriber {
        rx,
        seen: Vec::new(),
    }
}

impl Subscriber {
    /// Waits for a message on `topic` that `accept` takes, among those
    /// received so far first; the others are kept for later calls.
    fn wait_for(&mut self, topic: &str, mut accept: impl FnMut(&str, bool) -> bool) {
        let mut take = |m: &Received| m.0 == topic && accept(&m.1, m.2);
        if let Some(at) = self.seen.iter().position(&mut take) {
            self.seen.remove(at);
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(m) if take(&m) => return,
                Ok(m) => self.seen.push(m),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("nothing accepted on {topic}: {:?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => panic!("the subscriber stopped"),
            }
        }
    }
}

#[test]
fn mqtt_retains_the_state_and_status_and_says_offline_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = Broker::start(port, dir.path());
    let url: PublishUrl = format!("mqtt://127.0.0.1:{port}/venue/hall-a")
        .parse()
        .unwrap();
    let mut out = publish::open(&url, "gym-1", Arc::default()).unwrap();
    out.action(&action(1, "back tuck")).unwrap();
    out.health(&health(Status::Ok)).unwrap();

    // Once the broker has the state (a first subscriber sees it), a
    // subscriber that comes afterwards learns it, and the status, at once.
    subscribe(port, "first-subscriber", "venue/hall-a/state")
        .wait_for("venue/hall-a/state", |_, _| true);
    let mut sub = subscribe(port, "late-subscriber", "venue/hall-a/#");
    sub.wait_for("venue/hall-a/state", |payload, retained| {
        let v = json(payload);
        assert!(retained, "the state is retained");
        assert_eq!(
            (&v["seq"], &v["type"]),
            (&Value::from(1), &Value::from("action"))
        );
        true
    });
    sub.wait_for("venue/hall-a/state/cam0", |payload, retained| {
        assert!(retained, "each camera's state is retained");
        json(payload)["seq"] == 1
    });
    sub.wait_for("venue/hall-a/status", |payload, _| payload == "online");
    out.clear(&clear(2)).unwrap();
    sub.wait_for("venue/hall-a/events", |payload, retained| {
        !retained && json(payload)["seq"] == 2
    });
    drop(out);
    sub.wait_for("venue/hall-a/status", |payload, _| payload == "offline");
}

#[test]
fn mqtt_loses_no_event_across_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = Broker::start(port, dir.path());
    let rx = subscribe(port, "integrator", "artrt/gym-1/events").rx;
    let mut out = MqttOutput::spawn("127.0.0.1", port, "artrt/gym-1", "gym-1");
    // The subscriber hears the first event once both are connected.
    let mut seq = 0;
    let deadline = Instant::now() + PATIENCE;
    let first = loop {
        seq += 1;
        out.action(&action(seq, "before")).unwrap();
        if let Ok((_, payload, _)) = rx.recv_timeout(Duration::from_millis(200)) {
            break json(&payload)["seq"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "no event reached the subscriber");
    };
    // Let the broker save the subscriber's session, then restart it with
    // events published while it is down.
    std::thread::sleep(Duration::from_millis(1500));
    broker.stop();
    for _ in 0..5 {
        seq += 1;
        out.action(&action(seq, "while down")).unwrap();
    }
    let _broker = Broker::start(port, dir.path());
    for _ in 0..5 {
        seq += 1;
        out.action(&action(seq, "after")).unwrap();
    }
    let mut got = std::collections::BTreeSet::new();
    got.insert(first);
    let deadline = Instant::now() + PATIENCE;
    while !(first..=seq).all(|s| got.contains(&s)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, payload, _)) => {
                got.insert(json(&payload)["seq"].as_u64().unwrap());
            }
            Err(_) => panic!(
                "events {:?} never arrived",
                (first..=seq)
                    .filter(|s| !got.contains(s))
                    .collect::<Vec<_>>()
            ),
        }
    }
    drop(out);
}

#[test]
fn an_unreachable_broker_or_host_does_not_hold_up_the_caller() {
    let port = free_port();
    let mut mqtt = MqttOutput::spawn("127.0.0.1", port, "artrt/x", "x");
    let mut tcp = TcpOutput::spawn("127.0.0.1", port, "x");
    let mut udp = UdpOutput::new("127.0.0.1", port, "x").unwrap();
    for seq in 1..=10 {
        // Queued for the broker, refused by the unconnected TCP output; a
        // UDP datagram to a closed port may or may not report an error.
        mqtt.action(&action(seq, "x")).unwrap();
        assert!(tcp.action(&action(seq, "x")).is_err());
        let _ = udp.action(&action(seq, "x"));
    }
    // Dropping them returns (the MQTT client gives up its goodbye).
    drop((mqtt, tcp, udp));
}
