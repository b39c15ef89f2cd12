// The GPU preprocessing kernels' per-pixel functions (kernels/preprocess.cu
// of artrt-infer) run on the host, one call per thread index of each kernel,
// so their arithmetic is checked against the CPU preprocessor without a GPU.
#define ARTRT_HOST
#include "preprocess.cu"

extern "C" void artrt_host_preprocess(const uint8_t *src, int format, int width, int height,
                                      int first_row, int rows, const int *xbounds,
                                      const int *xcoeffs, int xksize, const int *ybounds,
                                      const int *ycoeffs, int yksize, int cw, int ch,
                                      const float *lut, uint8_t *planes, float *out) {
    // artrt_horizontal: one thread per output column and source row.
    for (int j = 0; j < rows; j++)
        for (int x = 0; x < cw; x++)
            artrt_horizontal_at(src, format, width, height, first_row, xbounds, xcoeffs, xksize,
                                cw, cw * rows, planes, x, j);
    // artrt_vertical: one thread per output pixel and channel.
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++)
                artrt_vertical_at(planes, cw * rows, cw, ch, first_row, ybounds, ycoeffs, yksize,
                                  lut, out, x, y, c);
}
