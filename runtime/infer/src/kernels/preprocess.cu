// artrt's GPU preprocessing: a camera frame (packed RGB, YUYV or NV12) into
// the normalised, resized, centre-cropped [3, H, W] slice of a clip, with the
// CPU preprocessor's arithmetic (preprocess.rs, resample.rs, color.rs):
// BT.601 limited-range YUV to RGB with 8 fractional bits, Pillow's
// antialiased bilinear resampling with fixed-point coefficients (22
// fractional bits) computed on the host, a horizontal pass into 8-bit planes,
// a vertical pass, then the bundle's normalisation through a 256-entry table.
// Every intermediate is an integer, so the GPU gives the CPU's values.
//
// NVRTC compiles this source at run time. Defining ARTRT_HOST compiles the
// same per-pixel functions as C++ (the kernels left out), so the arithmetic
// is checked against the CPU preprocessor on machines without a GPU.

#ifdef ARTRT_HOST
#include <stddef.h>
#include <stdint.h>
#define ARTRT_FN static inline
#else
#define ARTRT_FN __device__ __forceinline__
typedef unsigned char uint8_t;
#endif

#define ARTRT_PRECISION_BITS 22
#define ARTRT_HALF (1 << (ARTRT_PRECISION_BITS - 1))

// Frame formats (artrt_infer::gpu::Format).
#define ARTRT_RGB24 0
#define ARTRT_YUYV 1
#define ARTRT_NV12 2

ARTRT_FN int artrt_clamp8(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

// Pillow's clip8: a fixed-point sum rounded (the sum starts at ARTRT_HALF) to 8 bits.
ARTRT_FN int artrt_clip8(int acc) { return artrt_clamp8(acc >> ARTRT_PRECISION_BITS); }

// The RGB of source pixel (x, y) of a frame `width` pixels wide.
ARTRT_FN void artrt_rgb_at(const uint8_t *src, int format, int width, int height, int x, int y,
                           int rgb[3]) {
    if (format == ARTRT_RGB24) {
        const uint8_t *p = src + ((size_t)y * width + x) * 3;
        rgb[0] = p[0];
        rgb[1] = p[1];
        rgb[2] = p[2];
        return;
    }
    int luma, u, v;
    if (format == ARTRT_YUYV) {
        const uint8_t *quad = src + ((size_t)y * width + (x & ~1)) * 2;
        luma = quad[(x & 1) * 2];
        u = quad[1];
        v = quad[3];
    } else {
        luma = src[(size_t)y * width + x];
        const uint8_t *uv = src + (size_t)width * height + (size_t)(y / 2) * width + (x & ~1);
        u = uv[0];
        v = uv[1];
    }
    int c = 298 * (luma - 16) + 128;
    int d = u - 128;
    int e = v - 128;
    rgb[0] = artrt_clamp8((c + 409 * e) >> 8);
    rgb[1] = artrt_clamp8((c - 100 * d - 208 * e) >> 8);
    rgb[2] = artrt_clamp8((c + 516 * d) >> 8);
}

// Horizontal pass, output column x of source row first_row + j: three 8-bit
// values into planes (plane c at c * plane_len, rows of cw).
ARTRT_FN void artrt_horizontal_at(const uint8_t *src, int format, int width, int height,
                                  int first_row, const int *xbounds, const int *xcoeffs,
                                  int xksize, int cw, int plane_len, uint8_t *planes, int x,
                                  int j) {
    int y = first_row + j;
    int start = xbounds[2 * x];
    int taps = xbounds[2 * x + 1];
    const int *k = xcoeffs + (size_t)x * xksize;
    int acc[3] = {ARTRT_HALF, ARTRT_HALF, ARTRT_HALF};
    for (int t = 0; t < taps; t++) {
        int rgb[3];
        artrt_rgb_at(src, format, width, height, start + t, y, rgb);
        for (int c = 0; c < 3; c++) acc[c] += rgb[c] * k[t];
    }
    for (int c = 0; c < 3; c++) planes[(size_t)c * plane_len + (size_t)j * cw + x] = (uint8_t)artrt_clip8(acc[c]);
}

// Vertical pass and normalisation, output pixel (x, y) of channel c into out
// ([3, ch, cw] floats) through lut (3 x 256 floats).
ARTRT_FN void artrt_vertical_at(const uint8_t *planes, int plane_len, int cw, int ch,
                                int first_row, const int *ybounds, const int *ycoeffs,
                                int yksize, const float *lut, float *out, int x, int y, int c) {
    int start = ybounds[2 * y];
    int taps = ybounds[2 * y + 1];
    const int *k = ycoeffs + (size_t)y * yksize;
    const uint8_t *plane = planes + (size_t)c * plane_len;
    int acc = ARTRT_HALF;
    for (int t = 0; t < taps; t++) acc += plane[(size_t)(start + t - first_row) * cw + x] * k[t];
    out[(size_t)c * ch * cw + (size_t)y * cw + x] = lut[c * 256 + artrt_clip8(acc)];
}

#ifndef ARTRT_HOST
// One thread per output column (x) and source row (y).
extern "C" __global__ void artrt_horizontal(const uint8_t *src, int format, int width, int height,
                                            int first_row, int rows, const int *xbounds,
                                            const int *xcoeffs, int xksize, int cw,
                                            uint8_t *planes) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < cw && j < rows)
        artrt_horizontal_at(src, format, width, height, first_row, xbounds, xcoeffs, xksize, cw,
                            cw * rows, planes, x, j);
}

// One thread per output pixel (x, y); z is the channel.
extern "C" __global__ void artrt_vertical(const uint8_t *planes, int rows, int cw, int ch,
                                          int first_row, const int *ybounds, const int *ycoeffs,
                                          int yksize, const float *lut, float *out) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (x < cw && y < ch && c < 3)
        artrt_vertical_at(planes, cw * rows, cw, ch, first_row, ybounds, ycoeffs, yksize, lut,
                          out, x, y, c);
}
#endif
