//! The device supervisor and the pipeline it builds: NOMODEL while no model
//! serves, the bundle's clip against the profile's, and a short real run of
//! the synthetic stream through ONNX Runtime to events.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use artrt_infer::{BackendChoice, BackendKind, Bundle};
use artrt_live::board::Profile;
use artrt_live::pipeline::{PipelineConfig, PipelineError};
use artrt_live::sink::{ActionEvent, ClearEvent, EventSink, Health, Status};
use artrt_live::source::{Pacing, SourceSpec};
use artrt_live::stage::PreprocessOn;
use artrt_live::supervisor::{self, ServeOptions, Served};
use artrt_tests::bundle_fixtures::bundle_dir;

/// Keeps what the device reports; sets `stop` once it has `beats`
/// heartbeats or `actions` actions.
struct Watch<'a> {
    beats: Vec<Health>,
    actions: Vec<ActionEvent>,
    enough: (usize, usize),
    stop: &'a AtomicBool,
}

impl<'a> Watch<'a> {
    fn new(beats: usize, actions: usize, stop: &'a AtomicBool) -> Watch<'a> {
        Watch {
            beats: Vec::new(),
            actions: Vec::new(),
            enough: (beats, actions),
            stop,
        }
    }
}

impl EventSink for Watch<'_> {
    type Error = Infallible;
    fn action(&mut self, event: &ActionEvent) -> Result<(), Infallible> {
        self.actions.push(event.clone());
        if self.actions.len() >= self.enough.1 {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
    fn clear(&mut self, _event: &ClearEvent) -> Result<(), Infallible> {
        Ok(())
    }
    fn health(&mut self, health: &Health) -> Result<(), Infallible> {
        self.beats.push(health.clone());
        if self.beats.len() >= self.enough.0 {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn profile() -> Profile {
    let mut p = Profile::builtin("x86-64-cpu").unwrap();
    p.inference.bundle = bundle_dir();
    p.inference.threads = 2;
    p.scoreboard.heartbeat_interval_ms = 100;
    p
}

#[test]
fn without_a_model_the_device_reports_nomodel_with_its_preferred_backend() {
    let mut profile = profile();
    profile.inference.bundle = "/nonexistent/bundle".into();
    let stop = AtomicBool::new(false);
    let mut watch = Watch::new(3, usize::MAX, &stop);
    let served = supervisor::serve(&profile, &ServeOptions::default(), &mut watch, &stop).unwrap();
    assert!(matches!(served, Served::NoModel), "{served:?}");
    assert_eq!(watch.beats.len(), 3);
    let preferred = profile.inference.backends[0];
    for beat in &watch.beats {
        assert_eq!(beat.status, Status::NoModel);
        assert_eq!(beat.backend, preferred);
    }
}

#[test]
fn a_profile_whose_window_is_not_the_bundles_is_refused_naming_both() {
    let bundle = Bundle::load(bundle_dir()).unwrap();
    let mut profile = profile();
    let ok =
        PipelineConfig::new(&profile, &bundle, BackendKind::OrtCpu, Instant::now(), true).unwrap();
    assert_eq!(ok.window, bundle.input.window);
    assert_eq!(ok.frames, bundle.input.frames);
    assert_eq!(ok.sampling, bundle.input.sampling);
    profile.clip.window = bundle.input.window + 4;
    let e = PipelineConfig::new(&profile, &bundle, BackendKind::OrtCpu, Instant::now(), true)
        .unwrap_err();
    assert!(matches!(e, PipelineError::WindowMismatch { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("x86-64-cpu"), "{text}");
    assert!(
        text.contains(&format!("{} frames", bundle.input.window + 4)),
        "{text}"
    );
    assert!(
        text.contains(&format!("windows of {}", bundle.input.window)),
        "{text}"
    );
}

#[test]
fn the_supervisor_serves_the_synthetic_stream_to_events() {
    let mut profile = profile();
    profile.camera.source = SourceSpec::Synthetic {
        seed: Some(1),
        new_elements: false,
    };
    profile.scoreboard.heartbeat_interval_ms = 1000;
    let options = ServeOptions {
        backend: BackendChoice::Only(BackendKind::OrtCpu),
        pacing: Pacing::Fast,
        ..ServeOptions::default()
    };
    let stop = AtomicBool::new(false);
    let mut watch = Watch::new(usize::MAX, 1, &stop);
    let served = supervisor::serve(&profile, &options, &mut watch, &stop).unwrap();
    let Served::Ran { serving, stats } = served else {
        panic!("no model served: {served:?}");
    };
    assert!(
        serving.contains("on ort-cpu (CPUExecutionProvider), fp32"),
        "{serving}"
    );
    let [(camera, stats)] = &stats[..] else {
        panic!("one camera: {stats:?}");
    };
    assert_eq!(&**camera, "cam0");
    assert_eq!(stats.actions, 1, "{stats:?}");
    assert_eq!(watch.actions.len(), 1);
    assert!(stats.clips > 0 && stats.failed_clips == 0, "{stats:?}");
    // NOMODEL while loading, then the pipeline's own heartbeat on the
    // preferred backend.
    let statuses: Vec<Status> = watch.beats.iter().map(|b| b.status).collect();
    assert_eq!(statuses.first(), Some(&Status::NoModel), "{statuses:?}");
    let serving_beat = watch
        .beats
        .iter()
        .find(|b| b.status != Status::NoModel)
        .expect("a heartbeat once serving");
    assert_eq!(serving_beat.status, Status::Ok);
    assert_eq!(serving_beat.backend, BackendKind::OrtCpu);
}

/// Stops the device once each of its cameras has named an action.
struct EachCamera<'a> {
    cameras: Vec<String>,
    actions: Vec<ActionEvent>,
    beats: Vec<Health>,
    stop: &'a AtomicBool,
}

impl EventSink for EachCamera<'_> {
    type Error = Infallible;
    fn action(&mut self, event: &ActionEvent) -> Result<(), Infallible> {
        self.actions.push(event.clone());
        let seen = |c: &String| self.actions.iter().any(|a| *a.camera == **c);
        if self.cameras.iter().all(seen) {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
    fn clear(&mut self, _event: &ClearEvent) -> Result<(), Infallible> {
        Ok(())
    }
    fn health(&mut self, health: &Health) -> Result<(), Infallible> {
        self.beats.push(health.clone());
        Ok(())
    }
}

#[test]
fn two_cameras_are_served_by_one_model_each_with_its_own_events_and_heartbeats() {
    let mut profile = profile();
    let synthetic = |seed| SourceSpec::Synthetic {
        seed: Some(seed),
        new_elements: false,
    };
    profile.set_sources(&[synthetic(1), synthetic(2)]);
    let options = ServeOptions {
        backend: BackendChoice::Only(BackendKind::OrtCpu),
        pacing: Pacing::Fast,
        ..ServeOptions::default()
    };
    let stop = AtomicBool::new(false);
    let mut sink = EachCamera {
        cameras: vec!["cam0".into(), "cam1".into()],
        actions: Vec::new(),
        beats: Vec::new(),
        stop: &stop,
    };
    let served = supervisor::serve(&profile, &options, &mut sink, &stop).unwrap();
    let Served::Ran { stats, .. } = served else {
        panic!("no model served: {served:?}");
    };
    let cameras: Vec<&str> = stats.iter().map(|(c, _)| &**c).collect();
    assert_eq!(cameras, ["cam0", "cam1"]);
    for (camera, stats) in &stats {
        assert!(
            stats.clips > 0 && stats.failed_clips == 0,
            "{camera}: {stats:?}"
        );
        let named = sink.actions.iter().filter(|a| a.camera == *camera).count() as u64;
        assert_eq!(stats.actions, named, "{camera}");
        assert!(
            sink.beats
                .iter()
                .any(|b| b.camera.as_deref() == Some(&**camera) && b.status == Status::Ok),
            "{camera} has its own heartbeat"
        );
    }
    // One sequence over the device: increasing, whichever camera spoke.
    let seqs: Vec<u64> = sink.actions.iter().map(|a| a.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[test]
fn gpu_preprocessing_is_refused_with_the_reason_when_it_cannot_run() {
    let mut profile = profile();
    profile.camera.source = SourceSpec::Synthetic {
        seed: Some(1),
        new_elements: false,
    };
    let options = ServeOptions {
        backend: BackendChoice::Only(BackendKind::OrtCpu),
        pacing: Pacing::Fast,
        preprocess: Some(PreprocessOn::Gpu),
        ..ServeOptions::default()
    };
    let stop = AtomicBool::new(false);
    let mut watch = Watch::new(usize::MAX, usize::MAX, &stop);
    let e = supervisor::serve(&profile, &options, &mut watch, &stop).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("preprocess = gpu: "), "{text}");
    // A build with `cuda` opens the model first, then finds that ort-cpu
    // reads its clip from host memory; a build without refuses at once.
    let reason = if cfg!(feature = "cuda") {
        "the serving backend reads host memory"
    } else {
        "built without the `cuda` feature"
    };
    assert!(text.contains(reason), "{text}");
    assert!(watch.actions.is_empty());
}
