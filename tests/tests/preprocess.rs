//! Preprocessing against the bundle's golden tensors, for every pixel format.
//!
//! The golden `input.npy` was made by the Python export (Pillow) from the
//! golden RGB frames. Differences are measured in 8-bit levels of the source
//! (`|difference| * 255 * std[c]`). Tolerances:
//! - RGB: at most 1 level anywhere (the resampler is Pillow's algorithm).
//! - YUYV, NV12: the frames are encoded from the golden RGB here (BT.601
//!   limited range, chroma averaged over the pixels sharing it), so chroma
//!   subsampling and 8-bit YUV rounding add error at colour edges: mean at
//!   most 1.5 levels, 99th percentile at most 12 levels.
//! - MJPEG (quality 95, by the `image` crate): mean at most 1.5 levels,
//!   99th percentile at most 12 levels.

use artrt_infer::ndarray::{Array4, Axis};
use artrt_infer::{Bundle, FrameRef, PixelFormat, PreprocessError, Preprocessor};
use artrt_tests::bundle_fixtures::{
    bundle_dir, convert_clip, jpeg_of, nv12_of, rgb_bytes, yuyv_of,
};

fn bundle() -> Bundle {
    Bundle::load(bundle_dir()).expect("the bundle under test loads")
}

fn frames(format: PixelFormat, data: &[Vec<u8>], w: usize, h: usize) -> Vec<FrameRef<'_>> {
    data.iter()
        .map(|d| FrameRef {
            format,
            width: w as u32,
            height: h as u32,
            data: d,
            timestamp: Default::default(),
        })
        .collect()
}

/// Differences in 8-bit levels between a clip tensor and golden clip `k`:
/// (max, mean, 99th percentile).
fn levels(bundle: &Bundle, k: usize, got: &[f32]) -> (f32, f32, f32) {
    let golden = bundle.golden.input.index_axis(Axis(0), k);
    let hw = (bundle.input.width * bundle.input.height) as usize;
    let mut d: Vec<f32> = golden
        .iter()
        .zip(got)
        .enumerate()
        .map(|(i, (g, x))| (g - x).abs() * 255.0 * bundle.input.std[(i / hw) % 3])
        .collect();
    let mean = d.iter().sum::<f32>() / d.len() as f32;
    d.sort_by(f32::total_cmp);
    (d[d.len() - 1], mean, d[d.len() * 99 / 100])
}

/// Preprocesses every golden clip converted by `convert` and returns the
/// worst (max, mean, p99) over clips.
fn golden_levels(
    format: PixelFormat,
    convert: impl Fn(&Array4<u8>) -> Vec<Vec<u8>>,
) -> (f32, f32, f32) {
    let b = bundle();
    let mut pre = Preprocessor::new(&b.input);
    let mut out = vec![0.0; pre.clip_len()];
    let mut worst = (0.0f32, 0.0f32, 0.0f32);
    for (k, clip) in b.golden.clips.iter().enumerate() {
        let (h, w) = (clip.shape()[1], clip.shape()[2]);
        let data = convert(clip);
        pre.clip_into(&frames(format, &data, w, h), &mut out)
            .expect("preprocess golden clip");
        let (max, mean, p99) = levels(&b, k, &out);
        eprintln!("{format:?} clip {k}: max {max:.3} levels, mean {mean:.4}, p99 {p99:.3}");
        worst = (worst.0.max(max), worst.1.max(mean), worst.2.max(p99));
    }
    worst
}

#[test]
fn rgb_matches_golden_input_within_one_level() {
    let (max, mean, _) = golden_levels(PixelFormat::Rgb24, |c| convert_clip(c, rgb_bytes));
    assert!(
        max <= 1.0 + 1e-3,
        "RGB preprocessing is {max} levels off the golden input"
    );
    assert!(
        mean <= 0.05,
        "RGB preprocessing is {mean} levels off on average"
    );
}

#[test]
fn yuyv_matches_golden_input() {
    let (_, mean, p99) = golden_levels(PixelFormat::Yuyv, |c| convert_clip(c, yuyv_of));
    assert!(
        mean <= 1.5 && p99 <= 12.0,
        "YUYV: mean {mean} levels, p99 {p99}"
    );
}

#[test]
fn nv12_matches_golden_input() {
    let (_, mean, p99) = golden_levels(PixelFormat::Nv12, |c| convert_clip(c, nv12_of));
    assert!(
        mean <= 1.5 && p99 <= 12.0,
        "NV12: mean {mean} levels, p99 {p99}"
    );
}

#[test]
fn mjpeg_matches_golden_input() {
    let (_, mean, p99) = golden_levels(PixelFormat::Mjpeg, |c| convert_clip(c, |f| jpeg_of(f, 95)));
    assert!(
        mean <= 1.5 && p99 <= 12.0,
        "MJPEG: mean {mean} levels, p99 {p99}"
    );
}

/// The resampler agrees with `fast_image_resize`'s bilinear convolution
/// (the same filter) within one level.
#[test]
fn resize_agrees_with_fast_image_resize() {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

    let b = bundle();
    let spec = &b.input;
    let clip = &b.golden.clips[0];
    let (h, w) = (clip.shape()[1], clip.shape()[2]);
    let (rw, rh) = artrt_infer::preprocess::resized_size(w as u32, h as u32, spec.resize_to);
    let (cw, ch) = (spec.width as usize, spec.height as usize);
    let (left, top) = ((rw as usize - cw) / 2, (rh as usize - ch) / 2);
    let mut pre = Preprocessor::new(spec);
    let mut ours = vec![0.0; pre.frame_len()];
    let mut resizer = Resizer::new();
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let mut worst = 0.0f32;
    for frame in clip.outer_iter() {
        let rgb = rgb_bytes(frame);
        let src = ImageRef::new(w as u32, h as u32, &rgb, PixelType::U8x3).expect("source image");
        let mut dst = Image::new(rw, rh, PixelType::U8x3);
        resizer
            .resize(&src, &mut dst, &options)
            .expect("fast_image_resize");
        let frame_ref = FrameRef {
            format: PixelFormat::Rgb24,
            width: w as u32,
            height: h as u32,
            data: &rgb,
            timestamp: Default::default(),
        };
        pre.frame_into(&frame_ref, &mut ours)
            .expect("preprocess frame");
        let buf = dst.buffer();
        for c in 0..3 {
            for y in 0..ch {
                for x in 0..cw {
                    let v = buf[((top + y) * rw as usize + left + x) * 3 + c] as f32;
                    let reference = (v / 255.0 - spec.mean[c]) / spec.std[c];
                    let d = (reference - ours[(c * ch + y) * cw + x]).abs() * 255.0 * spec.std[c];
                    worst = worst.max(d);
                }
            }
        }
    }
    assert!(worst <= 1.0 + 1e-3, "{worst} levels from fast_image_resize");
}

/// After the first frame of a size, preprocessing allocates nothing.
#[test]
fn steady_state_allocates_nothing() {
    let b = bundle();
    let clip = &b.golden.clips[0];
    let (h, w) = (clip.shape()[1], clip.shape()[2]);
    let mut pre = Preprocessor::new(&b.input);
    let mut out = vec![0.0; pre.frame_len()];
    for (format, data) in [
        (PixelFormat::Rgb24, convert_clip(clip, rgb_bytes)),
        (PixelFormat::Yuyv, convert_clip(clip, yuyv_of)),
        (PixelFormat::Nv12, convert_clip(clip, nv12_of)),
    ] {
        let frames = frames(format, &data, w, h);
        pre.frame_into(&frames[0], &mut out).expect("first frame");
        let n = allocation_counter::measure(|| {
            for f in &frames {
                pre.frame_into(f, &mut out).expect("frame");
            }
        })
        .count_total;
        assert_eq!(
            n,
            0,
            "{format:?}: {n} allocations over {} frames",
            frames.len()
        );
    }
}

fn frame(format: PixelFormat, width: u32, height: u32, data: &[u8]) -> FrameRef<'_> {
    FrameRef {
        format,
        width,
        height,
        data,
        timestamp: Default::default(),
    }
}

#[test]
fn bad_frames_are_errors() {
    let b = bundle();
    let mut pre = Preprocessor::new(&b.input);
    let mut out = vec![0.0; pre.frame_len()];
    let short = vec![0u8; 100];
    let e = pre
        .frame_into(&frame(PixelFormat::Rgb24, 160, 120, &short), &mut out)
        .unwrap_err();
    assert!(
        matches!(
            e,
            PreprocessError::FrameSize {
                expected: 57600,
                found: 100,
                ..
            }
        ),
        "{e}"
    );
    let odd = vec![0u8; 7 * 4 * 2];
    let e = pre
        .frame_into(&frame(PixelFormat::Yuyv, 7, 4, &odd), &mut out)
        .unwrap_err();
    assert!(matches!(e, PreprocessError::Geometry { .. }), "{e}");
    let e = pre
        .frame_into(&frame(PixelFormat::Nv12, 8, 8, &odd), &mut out)
        .unwrap_err();
    assert!(
        matches!(e, PreprocessError::FrameSize { expected: 96, .. }),
        "{e}"
    );
    let garbage = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    let e = pre
        .frame_into(&frame(PixelFormat::Mjpeg, 0, 0, &garbage), &mut out)
        .unwrap_err();
    assert!(matches!(e, PreprocessError::Jpeg(_)), "{e}");
    let e = pre
        .frame_into(&frame(PixelFormat::Rgb24, 0, 0, &[]), &mut out)
        .unwrap_err();
    assert!(matches!(e, PreprocessError::Geometry { .. }), "{e}");
    let rgb = vec![128u8; 160 * 120 * 3];
    let e = pre
        .frame_into(&frame(PixelFormat::Rgb24, 160, 120, &rgb), &mut out[1..])
        .unwrap_err();
    assert!(matches!(e, PreprocessError::Output { .. }), "{e}");
    let mut clip = vec![0.0; pre.clip_len()];
    assert!(matches!(
        pre.clip_into(&[], &mut clip),
        Err(PreprocessError::NoFrames)
    ));
    // A mid-stream size change is served: grey in, the normalised grey out.
    let small = vec![128u8; 120 * 112 * 3];
    pre.frame_into(&frame(PixelFormat::Rgb24, 120, 112, &small), &mut out)
        .expect("another frame size");
    let grey = (128.0 / 255.0 - b.input.mean[0]) / b.input.std[0];
    assert!((out[0] - grey).abs() < 1e-5, "{} vs {grey}", out[0]);
}

#[test]
fn validation_without_decoding_refuses_what_preprocessing_refuses() {
    let b = bundle();
    let pre = Preprocessor::new(&b.input);
    let rgb = vec![0u8; 160 * 120 * 3];
    let yuyv = vec![0u8; 160 * 120 * 2];
    let nv12 = vec![0u8; 160 * 120 * 3 / 2];
    for (f, ok) in [
        (frame(PixelFormat::Rgb24, 160, 120, &rgb), true),
        (frame(PixelFormat::Rgb24, 160, 121, &rgb), false),
        (frame(PixelFormat::Rgb24, 0, 120, &[]), false),
        (frame(PixelFormat::Yuyv, 160, 120, &yuyv), true),
        (frame(PixelFormat::Yuyv, 159, 120, &yuyv), false),
        (frame(PixelFormat::Nv12, 160, 120, &nv12), true),
        (frame(PixelFormat::Nv12, 160, 119, &nv12), false),
        (
            frame(PixelFormat::Mjpeg, 0, 0, b"\xff\xd8\xff\xe0\xff\xd9"),
            true,
        ),
        (
            frame(PixelFormat::Mjpeg, 0, 0, b"\xff\xd8\xff\xd9\0\0"),
            true,
        ),
        (frame(PixelFormat::Mjpeg, 0, 0, b"\xff\xd8\xff\xe0"), false),
        (frame(PixelFormat::Mjpeg, 0, 0, b"GIF89a"), false),
    ] {
        let r = pre.validate(&f);
        assert_eq!(
            r.is_ok(),
            ok,
            "{:?} {}x{}: {r:?}",
            f.format,
            f.width,
            f.height
        );
    }
}
