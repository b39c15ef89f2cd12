//! Fixtures for the bundle, backend and preprocessing suites: the committed
//! default bundle, damaged copies of it, and independent pixel-format
//! encoders derived from its golden RGB frames.

use std::path::{Path, PathBuf};

use artrt_infer::ndarray::{Array4, ArrayView3};
use sha2::{Digest, Sha256};

/// Environment variable that points the suites at another bundle.
pub const BUNDLE_ENV: &str = "ARTRT_TEST_BUNDLE";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The bundle under test: `$ARTRT_TEST_BUNDLE`, else the committed default
/// `runtime/bundles/art-tiny-gym/`. Panics with the reason when it is missing.
pub fn bundle_dir() -> PathBuf {
    let dir = std::env::var_os(BUNDLE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("runtime/bundles/art-tiny-gym"));
    assert!(
        dir.join("bundle.toml").is_file(),
        "no model bundle at {} (the default bundle is committed at runtime/bundles/art-tiny-gym; \
         {BUNDLE_ENV} names another)",
        dir.display()
    );
    dir
}

/// Copies the bundle under test into a new temporary directory.
pub fn bundle_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dst = tmp.path().join("bundle");
    copy_dir(&bundle_dir(), &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create bundle copy");
    for e in std::fs::read_dir(src).expect("read bundle").flatten() {
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy bundle file");
        }
    }
}

/// Lower-case hexadecimal SHA-256 of a file.
pub fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rewrites `file`'s digest in the bundle's manifest to match its content.
pub fn reseal(bundle: &Path, file: &str) {
    let manifest = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&manifest).expect("read manifest");
    let key = format!("\"{file}\" = \"");
    let at = text
        .find(&key)
        .unwrap_or_else(|| panic!("{file} is not in [sha256]"))
        + key.len();
    let mut out = text.clone();
    out.replace_range(at..at + 64, &sha256_of(&bundle.join(file)));
    std::fs::write(&manifest, out).expect("write manifest");
}

/// Edits the manifest text with `f`.
pub fn edit_manifest(bundle: &Path, f: impl FnOnce(String) -> String) {
    let manifest = bundle.join("bundle.toml");
    let text = std::fs::read_to_string(&manifest).expect("read manifest");
    std::fs::write(&manifest, f(text)).expect("write manifest");
}

/// One frame `[H, W, 3]` as packed RGB bytes.
pub fn rgb_bytes(frame: ArrayView3<'_, u8>) -> Vec<u8> {
    frame.iter().copied().collect()
}

/// BT.601 limited-range luma and chroma of one RGB pixel, in floating point
/// (an encoder independent of the runtime's integer decoder).
fn ycbcr(r: f64, g: f64, b: f64) -> (f64, f64, f64) {
    let y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
    let cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    let cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    (y, cb, cr)
}

fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// YUYV 4:2:2 of an RGB frame `[H, W, 3]` (chroma of each pixel pair averaged).
pub fn yuyv_of(frame: ArrayView3<'_, u8>) -> Vec<u8> {
    let (h, w) = (frame.shape()[0], frame.shape()[1]);
    let mut out = Vec::with_capacity(w * h * 2);
    for y in 0..h {
        for x in (0..w).step_by(2) {
            let px = |x: usize| {
                ycbcr(
                    frame[[y, x, 0]] as f64,
                    frame[[y, x, 1]] as f64,
                    frame[[y, x, 2]] as f64,
                )
            };
            let (y0, u0, v0) = px(x);
            let (y1, u1, v1) = px(x + 1);
            out.extend([
                to_u8(y0),
                to_u8((u0 + u1) / 2.0),
                to_u8(y1),
                to_u8((v0 + v1) / 2.0),
            ]);
        }
    }
    out
}

/// NV12 of an RGB frame `[H, W, 3]` (chroma of each 2x2 block averaged).
pub fn nv12_of(frame: ArrayView3<'_, u8>) -> Vec<u8> {
    let (h, w) = (frame.shape()[0], frame.shape()[1]);
    let px = |y: usize, x: usize| {
        ycbcr(
            frame[[y, x, 0]] as f64,
            frame[[y, x, 1]] as f64,
            frame[[y, x, 2]] as f64,
        )
    };
    let mut out: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (y, x)))
        .map(|(y, x)| to_u8(px(y, x).0))
        .collect();
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let block = [px(y, x), px(y, x + 1), px(y + 1, x), px(y + 1, x + 1)];
            out.push(to_u8(block.iter().map(|p| p.1).sum::<f64>() / 4.0));
            out.push(to_u8(block.iter().map(|p| p.2).sum::<f64>() / 4.0));
        }
    }
    out
}

/// A JPEG (quality `quality`) of an RGB frame `[H, W, 3]`, by the `image` crate.
pub fn jpeg_of(frame: ArrayView3<'_, u8>, quality: u8) -> Vec<u8> {
    let (h, w) = (frame.shape()[0], frame.shape()[1]);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            &rgb_bytes(frame),
            w as u32,
            h as u32,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode JPEG");
    out
}

/// Every frame of a golden clip `[F, H, W, 3]` converted by `f`.
pub fn convert_clip(clip: &Array4<u8>, f: impl Fn(ArrayView3<'_, u8>) -> Vec<u8>) -> Vec<Vec<u8>> {
    clip.outer_iter().map(f).collect()
}
