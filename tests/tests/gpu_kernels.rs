//! The GPU preprocessing kernels' arithmetic, checked on the host: their
//! source compiled as C++ (tests/kernels/host.cpp, one call per thread
//! index) gives the CPU preprocessor's values for every frame format and
//! size, upscaled and downscaled, so the device path differs from the host
//! path by no 8-bit level.

use artrt_infer::gpu::{Plan, format_code};
use artrt_infer::{Bundle, FrameRef, PixelFormat, Preprocessor};
use artrt_tests::kernels_host::artrt_host_preprocess;
use rand::{Rng, SeedableRng};

/// The kernels' output for one frame, run on the host.
fn kernels(plan: &Plan, format: PixelFormat, data: &[u8]) -> Vec<f32> {
    let mut planes = vec![0u8; 3 * plan.cw * plan.rows()];
    let mut out = vec![f32::NAN; 3 * plan.cw * plan.ch];
    let i = |v: usize| i32::try_from(v).unwrap();
    // SAFETY: every buffer is sized by the plan as the kernels index it.
    unsafe {
        artrt_host_preprocess(
            data.as_ptr(),
            format_code(format).unwrap(),
            i(plan.width),
            i(plan.height),
            i(plan.first_row),
            i(plan.rows()),
            plan.xbounds.as_ptr(),
            plan.xcoeffs.as_ptr(),
            i(plan.xksize),
            plan.ybounds.as_ptr(),
            plan.ycoeffs.as_ptr(),
            i(plan.yksize),
            i(plan.cw),
            i(plan.ch),
            plan.lut.as_ptr(),
            planes.as_mut_ptr(),
            out.as_mut_ptr(),
        );
    }
    out
}

#[test]
fn the_kernels_compute_the_cpu_preprocessors_values_for_every_format_and_size() {
    let bundle = Bundle::load(artrt_infer::install::DEFAULT_BUNDLE).unwrap();
    let mut cpu = Preprocessor::new(&bundle.input);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut checked = 0;
    for (width, height) in [
        (160, 120),
        (640, 480),
        (1280, 720),
        (112, 112),
        (96, 64),
        (322, 242),
        (2, 200),
    ] {
        let plan = Plan::new(&bundle.input, width, height);
        for format in [PixelFormat::Rgb24, PixelFormat::Yuyv, PixelFormat::Nv12] {
            let len = match format {
                PixelFormat::Rgb24 => width * height * 3,
                PixelFormat::Yuyv => width * height * 2,
                _ => width * height * 3 / 2,
            };
            let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let frame = FrameRef {
                format,
                width: width as u32,
                height: height as u32,
                data: &data,
                timestamp: Default::default(),
            };
            let mut expected = vec![0f32; cpu.frame_len()];
            cpu.frame_into(&frame, &mut expected).unwrap();
            let got = kernels(&plan, format, &data);
            let differing = expected
                .iter()
                .zip(&got)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differing,
                0,
                "{format:?} {width}x{height}: {differing} of {} values differ from the CPU preprocessor",
                got.len()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 21);
}
