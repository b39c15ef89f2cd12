//! IP cameras: the RTSP source against a real RTSP server on this machine
//! (GStreamer's, from Debian's packages, started by `tests/rtsp_server.py`
//! on a free port): frames as NV12 with increasing times, a camera that is
//! unreachable at start or goes away later reported lost and reopened by
//! itself once it is back, and `artrt`'s live pipeline on such a camera.
#![cfg(feature = "rtsp")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use artrt_infer::PixelFormat;
use artrt_live::source::{self, FrameSource, SourceError, SourceOptions, SourceSpec};
use artrt_tests::net::free_port;

/// Longest any wait lasts; reached only when something is broken.
const PATIENCE: Duration = Duration::from_secs(90);

/// The test camera: `tests/rtsp_server.py` on `port`.
struct Camera(Child);

impl Camera {
    fn start(port: u16) -> Camera {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rtsp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with GStreamer's RTSP server (bash tests/run.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the RTSP server did not start");
        Camera(child)
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn open(port: u16) -> Box<dyn FrameSource> {
    let spec: SourceSpec = format!("rtsp://127.0.0.1:{port}/camera").parse().unwrap();
    source::open(&spec, &SourceOptions::default()).unwrap()
}

/// Reopens `source` until it streams, as the pipeline does (with a short
/// pause between attempts); returns how many attempts failed.
fn reopen(source: &mut dyn FrameSource) -> usize {
    let deadline = Instant::now() + PATIENCE;
    let mut failed = 0;
    loop {
        match source.reopen() {
            Ok(()) => return failed,
            Err(SourceError::Lost { .. }) => failed += 1,
            Err(e) => panic!("reopening failed otherwise than lost: {e}"),
        }
        assert!(Instant::now() < deadline, "the camera never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads `n` frames and returns their stream times; each is NV12, 320x240.
fn frames(source: &mut dyn FrameSource, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let frame = source.next_frame().unwrap();
            assert_eq!(frame.format, PixelFormat::Nv12);
            assert_eq!((frame.width, frame.height), (320, 240));
            assert_eq!(frame.data.len(), 320 * 240 * 3 / 2);
            frame.timestamp
        })
        .collect()
}

#[test]
fn an_rtsp_camera_gives_nv12_frames_and_comes_back_after_going_away() {
    let port = free_port();
    let mut source = open(port);
    assert_eq!(source.describe(), format!("rtsp://127.0.0.1:{port}/camera"));

    // Unreachable at start: lost, and each attempt to reopen ends quickly.
    assert!(matches!(source.next_frame(), Err(SourceError::Lost { .. })));
    let t0 = Instant::now();
    assert!(matches!(source.reopen(), Err(SourceError::Lost { .. })));
    assert!(t0.elapsed() < PATIENCE);

    let camera = Camera::start(port);
    reopen(source.as_mut());
    let times = frames(source.as_mut(), 45);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let span = *times.last().unwrap() - times[0];
    // 44 intervals at 30 fps: 1.47 s of stream, whatever the wall clock did.
    assert!(
        span > Duration::from_millis(1200) && span < Duration::from_millis(1800),
        "{span:?}"
    );

    // The camera goes away: the stream is lost, not hung.
    drop(camera);
    let lost = loop {
        match source.next_frame() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(matches!(lost, SourceError::Lost { .. }), "{lost}");

    // It comes back: reopened, and its times go on after the last ones.
    let _camera = Camera::start(port);
    reopen(source.as_mut());
    let after = frames(source.as_mut(), 10);
    assert!(
        after[0] > *times.last().unwrap(),
        "{after:?} after {times:?}"
    );
    assert!(after.windows(2).all(|w| w[0] < w[1]), "{after:?}");
}

#[test]
fn the_live_pipeline_classifies_an_rtsp_camera() {
    use artrt_infer::Bundle;
    use artrt_live::board::Profile;
    use artrt_live::pipeline::{self, Feed, PipelineConfig};
    use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health};
    use artrt_live::stage::HostStage;

    struct Count(u64);
    impl EventSink for Count {
        type Error = std::convert::Infallible;
        fn action(&mut self, _: &ActionEvent) -> Result<(), Self::Error> {
            self.0 += 1;
            Ok(())
        }
        fn clear(&mut self, _: &ClearEvent) -> Result<(), Self::Error> {
            Ok(())
        }
        fn health(&mut self, _: &Health) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    let port = free_port();
    let _camera = Camera::start(port);
    let mut source = open(port);
    let bundle = Bundle::load(artrt_tests::bundle_fixtures::bundle_dir()).unwrap();
    let profile = Profile::builtin("x86-64-cpu").unwrap();
    let (mut backend, _) = artrt_infer::open_backend(
        &bundle,
        artrt_infer::BackendKind::OrtCpu,
        artrt_infer::Precision::Fp32,
        &artrt_infer::BackendConfig {
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let config = PipelineConfig {
        max_frames: Some(90),
        ..PipelineConfig::new(
            &profile,
            &bundle,
            artrt_infer::BackendKind::OrtCpu,
            Instant::now(),
            false,
        )
        .unwrap()
    };
    let feed = Feed {
        camera: "ip".into(),
        source: source.as_mut(),
        stage: HostStage::new(&bundle.input),
    };
    let stats = pipeline::run(
        vec![feed],
        backend.as_mut(),
        &mut Count(0),
        bundle.labels(),
        &config,
        &AtomicBool::new(false),
    )
    .unwrap()
    .remove(0);
    assert_eq!(stats.frames, 90, "{stats:?}");
    assert_eq!(stats.bad_frames, 0, "{stats:?}");
    // 90 frames, window 16, hop 2: every window classified.
    assert_eq!(stats.clips, (90 - 16) / 2 + 1, "{stats:?}");
    assert!(
        stats.source_losses >= 1,
        "connected on its first frame: {stats:?}"
    );
}
