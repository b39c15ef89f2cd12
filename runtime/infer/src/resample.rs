//! Pillow's antialiased bilinear resampling (`Image.resize(..., BILINEAR)`),
//! with the coefficient tables built once per frame geometry.
//!
//! The algorithm is Pillow's `Resample.c` for 8-bit images: a triangle
//! filter widened by the scale factor when shrinking, coefficients
//! normalised per output pixel and stored as fixed point with 22 fractional
//! bits, a horizontal pass into 8-bit rows, then a vertical pass. The
//! results are bit-identical to Pillow's. (`fast_image_resize` computes the
//! same filter but builds its tables on every call, which allocates; the
//! preprocessor must not allocate per frame.)

/// Fractional bits of the fixed-point coefficients (Pillow's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Coefficients of a range of output pixels along one axis.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    /// Per output pixel: first input pixel and number of taps.
    pub bounds: Vec<(usize, usize)>,
    /// Per output pixel, `ksize` fixed-point weights (zero padded).
    pub coeffs: Vec<i32>,
    /// Taps stored per output pixel.
    pub ksize: usize,
}

impl Axis {
    /// The coefficients of output pixels `first..first + count` when
    /// resampling `in_size` pixels to `out_size`.
    pub fn new(in_size: usize, out_size: usize, first: usize, count: usize) -> Axis {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // the bilinear filter's support is 1
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(count);
        let mut coeffs = vec![0i32; count * ksize];
        let mut weights = vec![0f64; ksize];
        for (i, xx) in (first..first + count).enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C casts truncate toward zero; the bounds are clamped below anyway.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let taps = xmax.saturating_sub(xmin).min(ksize);
            let mut ww = 0.0;
            for (x, w) in weights.iter_mut().enumerate().take(taps) {
                let t = ((x + xmin) as f64 - center + 0.5) * ss;
                *w = (1.0 - t.abs()).max(0.0);
                ww += *w;
            }
            let k = &mut coeffs[i * ksize..(i + 1) * ksize];
            for (c, w) in k.iter_mut().zip(&weights).take(taps) {
                let w = if ww != 0.0 { w / ww } else { *w };
                let f = w * (1u32 << PRECISION_BITS) as f64;
                *c = if f < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            bounds.push((xmin, taps));
        }
        Axis {
            bounds,
            coeffs,
            ksize,
        }
    }

    /// First and one-past-last input pixel any output pixel reads.
    pub fn span(&self) -> (usize, usize) {
        let lo = self.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let hi = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        (lo, hi)
    }
}

/// Rounds a fixed-point sum to an 8-bit value (Pillow's `clip8`).
#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The rounding term every sum starts from.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass: packed RGB rows `rows` of `src` (row stride `stride`)
/// into three planes of `axis.bounds.len()` columns each, plane `c` at
/// `planes[c * plane_len..]`, row `r - rows.start`.
pub(crate) fn horizontal_rgb(
    src: &[u8],
    stride: usize,
    rows: std::ops::Range<usize>,
    axis: &Axis,
    planes: &mut [u8],
    plane_len: usize,
) {
    let width = axis.bounds.len();
    let (r_plane, rest) = planes.split_at_mut(plane_len);
    let (g_plane, b_plane) = rest.split_at_mut(plane_len);
    for (j, y) in rows.enumerate() {
        let row = &src[y * stride..];
        let out = j * width;
        for (x, (&(start, taps), k)) in axis
            .bounds
            .iter()
            .zip(axis.coeffs.chunks_exact(axis.ksize))
            .enumerate()
        {
            let (mut r, mut g, mut b) = (HALF, HALF, HALF);
            for (p, &w) in row[start * 3..(start + taps) * 3].chunks_exact(3).zip(k) {
                r += p[0] as i32 * w;
                g += p[1] as i32 * w;
                b += p[2] as i32 * w;
            }
            r_plane[out + x] = clip8(r);
            g_plane[out + x] = clip8(g);
            b_plane[out + x] = clip8(b);
        }
    }
}

/// Rows of one 8-bit plane after the horizontal pass: `data` holds rows
/// starting at input row `row0`, `width` pixels each.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub row0: usize,
}

/// Vertical pass of one output row of `rows`: taps `(start, taps)` weighted
/// by `k`, accumulated in `acc`; the result goes through `map` into `out`.
#[inline]
pub(crate) fn vertical_row(
    rows: Rows<'_>,
    (start, taps): (usize, usize),
    k: &[i32],
    acc: &mut [i32],
    map: &[f32; 256],
    out: &mut [f32],
) {
    acc.fill(HALF);
    for (t, &w) in k.iter().enumerate().take(taps) {
        let line = &rows.data[(start + t - rows.row0) * rows.width..][..rows.width];
        for (a, &p) in acc.iter_mut().zip(line) {
            *a += p as i32 * w;
        }
    }
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = map[clip8(a) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_when_sizes_match() {
        let a = Axis::new(10, 10, 0, 10);
        for (i, (&(start, taps), k)) in a
            .bounds
            .iter()
            .zip(a.coeffs.chunks_exact(a.ksize))
            .enumerate()
        {
            assert_eq!(start, i);
            assert_eq!(k[0], 1 << PRECISION_BITS);
            assert!(k[1..taps].iter().all(|&w| w == 0));
        }
    }

    #[test]
    fn weights_sum_to_one() {
        for (i, o) in [(120, 112), (160, 149), (50, 112), (1920, 112)] {
            let a = Axis::new(i, o, 0, o);
            for k in a.coeffs.chunks_exact(a.ksize) {
                let s: i64 = k.iter().map(|&w| w as i64).sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= a.ksize as i64,
                    "{i}->{o}: {s}"
                );
            }
        }
    }

    #[test]
    fn window_matches_full_axis() {
        let full = Axis::new(160, 149, 0, 149);
        let part = Axis::new(160, 149, 18, 112);
        assert_eq!(&full.bounds[18..130], &part.bounds[..]);
        assert_eq!(
            &full.coeffs[18 * full.ksize..130 * full.ksize],
            &part.coeffs[..]
        );
    }
}
