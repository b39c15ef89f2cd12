//! The streaming form of the gym: an endless, seeded performance of
//! elements separated by idle standing and walking, rendered frame by frame
//! with the same figure, classes and renderer as the clip sets.

use crate::render::Renderer;
use crate::routine::{Kind, Routine};
use crate::scene::{STREAM_SIZE, Scene};
use crate::synth::draw;
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Default shortest and longest pause between elements, in seconds.
pub(crate) const PAUSE_S: (f32, f32) = (0.7, 2.5);

/// Options of a [`GymStream`].
#[derive(Clone, Debug, PartialEq)]
pub struct StreamOptions {
    /// Seed; equal options give identical streams.
    pub seed: u64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate; elements last as long in seconds at any rate.
    pub fps: u32,
    /// Shortest pause between elements, in seconds.
    pub idle_min_s: f32,
    /// Longest pause between elements, in seconds.
    pub idle_max_s: f32,
    /// Share of the elements (0 to 1) drawn from [`crate::NEW_ELEMENTS`],
    /// which are none of the classes; 0 leaves the stream as it was.
    pub new_share: f64,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            seed: 0,
            width: 160,
            height: 120,
            fps: 30,
            idle_min_s: PAUSE_S.0,
            idle_max_s: PAUSE_S.1,
            new_share: 0.0,
        }
    }
}

/// Ground truth of one element in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First frame of the element.
    pub start: u64,
    /// One past its last frame.
    pub end: u64,
    /// Class id: see [`crate::element`].
    pub class_id: usize,
}

/// An endless synthetic performance.
///
/// ```
/// use artrt_calibration::{GymStream, StreamOptions};
///
/// let mut stream = GymStream::new(StreamOptions { seed: 3, ..StreamOptions::default() });
/// for _ in 0..150 {
///     let frame = stream.next_frame();
///     assert_eq!(frame.dimensions(), (160, 120));
/// }
/// assert_eq!(stream.frame_index(), 150);
/// for s in stream.segments() {
///     let label = artrt_calibration::element(s.class_id).map_or("?", |e| e.label);
///     println!("{label} from frame {} to {}", s.start, s.end);
/// }
/// ```
pub struct GymStream {
    opts: StreamOptions,
    scene: Scene,
    routine: Routine,
    renderer: Renderer,
    frame: RgbImage,
    next: u64,
    segments: Vec<Segment>,
}

impl GymStream {
    /// A stream drawn from `opts.seed`.
    pub fn new(opts: StreamOptions) -> GymStream {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(u64::MAX);
        let width = opts.width.max(16);
        let height = opts.height.max(16);
        let scene = Scene::sample(&mut rng, width, height, STREAM_SIZE);
        let fps = opts.fps.max(1);
        let routine = Routine::new(rng, &scene, fps, (opts.idle_min_s, opts.idle_max_s))
            .with_new_elements(opts.new_share);
        GymStream {
            opts: StreamOptions {
                width,
                height,
                fps,
                ..opts
            },
            renderer: Renderer::new(width, height),
            frame: RgbImage::new(width, height),
            scene,
            routine,
            next: 0,
            segments: Vec::new(),
        }
    }

    /// The options the stream runs with.
    pub fn options(&self) -> &StreamOptions {
        &self.opts
    }

    /// Index of the frame the next call to [`GymStream::next_frame`] renders.
    pub fn frame_index(&self) -> u64 {
        self.next
    }

    /// Ground truth of every element whose first frame has been rendered,
    /// in order (the last one may still be under way).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Renders the next frame (RGB, `width` x `height`) into the stream's
    /// own buffer and lends it.
    pub fn next_frame(&mut self) -> &RgbImage {
        let n = self.next;
        let action = self.routine.action_at(n).clone();
        if let Kind::Element { class_id, .. } = action.kind
            && action.start == n
        {
            self.segments.push(Segment {
                start: n,
                end: n + action.len,
                class_id,
            });
        }
        let skeleton = self.routine.skeleton(&action, n);
        let t = n as f32 / self.opts.fps as f32;
        draw(
            &self.scene,
            &mut self.renderer,
            n,
            t,
            &skeleton,
            &mut self.frame,
        );
        self.next += 1;
        &self.frame
    }
}
