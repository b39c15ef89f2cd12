//! The GPU preprocessing kernels' per-pixel functions compiled for the host
//! (`tests/kernels/host.cpp`, built by `build.rs`): `tests/gpu_kernels.rs`
//! checks their arithmetic against the CPU preprocessor.

unsafe extern "C" {
    /// Runs both kernels over every thread index of one frame; buffers are
    /// sized as `artrt_infer::gpu::Plan` sizes them.
    pub fn artrt_host_preprocess(
        src: *const u8,
        format: i32,
        width: i32,
        height: i32,
        first_row: i32,
        rows: i32,
        xbounds: *const i32,
        xcoeffs: *const i32,
        xksize: i32,
        ybounds: *const i32,
        ycoeffs: *const i32,
        yksize: i32,
        cw: i32,
        ch: i32,
        lut: *const f32,
        planes: *mut u8,
        out: *mut f32,
    );
}
