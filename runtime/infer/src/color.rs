//! YUV and RGB conversions for camera formats: ITU-R BT.601, limited range
//! (Y in 16..235, Cb and Cr in 16..240), the V4L2 default for YUYV and NV12.
//!
//! Integer arithmetic with 8 fractional bits:
//! `R = (298 (Y-16) + 409 (Cr-128) + 128) >> 8`,
//! `G = (298 (Y-16) - 100 (Cb-128) - 208 (Cr-128) + 128) >> 8`,
//! `B = (298 (Y-16) + 516 (Cb-128) + 128) >> 8`, each clamped to 0..255.
//! The encoders (RGB to YUYV and NV12, for synthetic sources and benchmarks)
//! are the inverse: `Y = ((66 R + 129 G + 25 B + 128) >> 8) + 16`,
//! `Cb = ((-38 R - 74 G + 112 B + 128) >> 8) + 128`,
//! `Cr = ((112 R - 94 G - 18 B + 128) >> 8) + 128`, chroma from the mean RGB
//! of the pixels that share it.

#[inline(always)]
fn pixel(y: u8, u: u8, v: u8, out: &mut [u8]) {
    let c = 298 * (y as i32 - 16) + 128;
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    out[0] = ((c + 409 * e) >> 8).clamp(0, 255) as u8;
    out[1] = ((c - 100 * d - 208 * e) >> 8).clamp(0, 255) as u8;
    out[2] = ((c + 516 * d) >> 8).clamp(0, 255) as u8;
}

/// YUYV 4:2:2 (`Y0 U Y1 V`) of an even `width` into packed RGB.
pub fn yuyv_to_rgb(src: &[u8], width: usize, height: usize, rgb: &mut [u8]) {
    let src = &src[..width * height * 2];
    for (quad, out) in src.chunks_exact(4).zip(rgb.chunks_exact_mut(6)) {
        let (y0, u, y1, v) = (quad[0], quad[1], quad[2], quad[3]);
        pixel(y0, u, v, &mut out[..3]);
        pixel(y1, u, v, &mut out[3..]);
    }
}

/// NV12 (a Y plane, then interleaved `U V` at half resolution) of an even
/// `width` and `height` into packed RGB.
pub fn nv12_to_rgb(src: &[u8], width: usize, height: usize, rgb: &mut [u8]) {
    let (luma, chroma) = src.split_at(width * height);
    for y in 0..height {
        let yrow = &luma[y * width..][..width];
        let crow = &chroma[(y / 2) * width..][..width];
        let out = &mut rgb[y * width * 3..][..width * 3];
        for ((ys, uv), o) in yrow
            .chunks_exact(2)
            .zip(crow.chunks_exact(2))
            .zip(out.chunks_exact_mut(6))
        {
            pixel(ys[0], uv[0], uv[1], &mut o[..3]);
            pixel(ys[1], uv[0], uv[1], &mut o[3..]);
        }
    }
}

fn luma(p: &[u8]) -> u8 {
    (((66 * p[0] as i32 + 129 * p[1] as i32 + 25 * p[2] as i32 + 128) >> 8) + 16) as u8
}

/// Cb and Cr of the mean of `pixels` (packed RGB).
fn chroma<'a>(pixels: impl Iterator<Item = &'a [u8]>) -> (u8, u8) {
    let (mut s, mut n) = ([0i32; 3], 0);
    for p in pixels {
        for c in 0..3 {
            s[c] += p[c] as i32;
        }
        n += 1;
    }
    let [r, g, b] = s.map(|v| (v + n / 2) / n);
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (u as u8, v as u8)
}

/// Packed RGB of an even `width` into YUYV 4:2:2.
pub fn rgb_to_yuyv(rgb: &[u8], width: usize, height: usize, out: &mut [u8]) {
    let rgb = &rgb[..width * height * 3];
    for (pair, quad) in rgb.chunks_exact(6).zip(out.chunks_exact_mut(4)) {
        let (u, v) = chroma(pair.chunks_exact(3));
        quad.copy_from_slice(&[luma(&pair[..3]), u, luma(&pair[3..]), v]);
    }
}

/// Packed RGB of an even `width` and `height` into NV12.
pub fn rgb_to_nv12(rgb: &[u8], width: usize, height: usize, out: &mut [u8]) {
    let (luma_plane, chroma_plane) = out.split_at_mut(width * height);
    for (y, p) in luma_plane.iter_mut().zip(rgb.chunks_exact(3)) {
        *y = luma(p);
    }
    let stride = width * 3;
    for by in 0..height / 2 {
        for bx in 0..width / 2 {
            let at = |dy: usize, dx: usize| {
                let i = (2 * by + dy) * stride + (2 * bx + dx) * 3;
                &rgb[i..i + 3]
            };
            let (u, v) = chroma([at(0, 0), at(0, 1), at(1, 0), at(1, 1)].into_iter());
            chroma_plane[by * width + 2 * bx] = u;
            chroma_plane[by * width + 2 * bx + 1] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_range_extremes() {
        let mut rgb = [0u8; 6];
        yuyv_to_rgb(&[16, 128, 235, 128], 2, 1, &mut rgb);
        assert_eq!(rgb, [0, 0, 0, 255, 255, 255]);
        // Pure red in BT.601 limited range: Y 81, Cb 90, Cr 240.
        nv12_to_rgb(&[81, 81, 81, 81, 90, 240], 2, 2, &mut [0u8; 12][..]);
        let mut px = [0u8; 3];
        pixel(81, 90, 240, &mut px);
        assert!(px[0] >= 254 && px[1] <= 1 && px[2] <= 1, "{px:?}");
    }
}
