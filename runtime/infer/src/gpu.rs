//! Preprocessing on the GPU: camera frames into the clip tensor in device
//! memory, where a CUDA or TensorRT session reads it.
//!
//! The kernels ([`KERNELS`], `kernels/preprocess.cu`) are compiled by NVRTC
//! when a [`GpuPreprocessor`] is made (feature `cuda`). They read the CPU
//! preprocessor's own tables ([`Plan`]: resampling coefficients in fixed
//! point, the normalisation of each 8-bit level) and do its integer
//! arithmetic, so their output equals [`Preprocessor`](crate::Preprocessor)'s.
//! Packed RGB, YUYV and NV12 frames are converted on the GPU; an MJPEG frame
//! is decoded on the CPU and uploaded as RGB. The host path stays the default
//! and the fallback: without a GPU, [`GpuPreprocessor::new`] says why.

use crate::bundle::InputSpec;
use crate::frame::PixelFormat;
use crate::preprocess::{Geometry, normalisation};

/// The kernels' CUDA C source. With `ARTRT_HOST` defined it compiles as C++
/// without the kernels, for checking their arithmetic on the host.
pub const KERNELS: &str = include_str!("kernels/preprocess.cu");

/// The kernels' frame format codes (`ARTRT_RGB24`, `ARTRT_YUYV`, `ARTRT_NV12`).
pub fn format_code(format: PixelFormat) -> Option<i32> {
    match format {
        PixelFormat::Rgb24 => Some(0),
        PixelFormat::Yuyv => Some(1),
        PixelFormat::Nv12 => Some(2),
        PixelFormat::Mjpeg => None,
    }
}

/// What the kernels read for one source frame size: the CPU preprocessor's
/// coefficient tables and normalisation, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Source frame width.
    pub width: usize,
    /// Source frame height.
    pub height: usize,
    /// Output width (the crop).
    pub cw: usize,
    /// Output height (the crop).
    pub ch: usize,
    /// First source row the vertical pass reads.
    pub first_row: usize,
    /// One past the last source row it reads.
    pub last_row: usize,
    /// Per output column: first source column and number of taps.
    pub xbounds: Vec<i32>,
    /// Per output column, `xksize` fixed-point weights.
    pub xcoeffs: Vec<i32>,
    /// Weights stored per output column.
    pub xksize: usize,
    /// Per output row: first source row and number of taps.
    pub ybounds: Vec<i32>,
    /// Per output row, `yksize` fixed-point weights.
    pub ycoeffs: Vec<i32>,
    /// Weights stored per output row.
    pub yksize: usize,
    /// The normalised value of each 8-bit level, 256 per channel.
    pub lut: Vec<f32>,
}

impl Plan {
    /// The plan for `width` x `height` frames under `spec`.
    pub fn new(spec: &InputSpec, width: usize, height: usize) -> Plan {
        let g = Geometry::new(spec, width, height);
        let flat = |bounds: &[(usize, usize)]| {
            bounds
                .iter()
                .flat_map(|&(start, taps)| [start as i32, taps as i32])
                .collect()
        };
        Plan {
            width,
            height,
            cw: spec.width as usize,
            ch: spec.height as usize,
            first_row: g.first_row,
            last_row: g.last_row,
            xbounds: flat(&g.cols.bounds),
            xcoeffs: g.cols.coeffs.clone(),
            xksize: g.cols.ksize,
            ybounds: flat(&g.rows.bounds),
            ycoeffs: g.rows.coeffs.clone(),
            yksize: g.rows.ksize,
            lut: normalisation(spec).concat(),
        }
    }

    /// Source rows the horizontal pass writes.
    pub fn rows(&self) -> usize {
        self.last_row - self.first_row
    }
}

/// Why GPU preprocessing is not available or failed.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No CUDA driver, no NVRTC, or a build without the `cuda` feature.
    #[error("GPU preprocessing unavailable: {0}")]
    Unavailable(String),
    /// The frame cannot be preprocessed (wrong size, empty).
    #[error("GPU preprocessing: {0}")]
    Frame(String),
    /// A CUDA call failed.
    #[error("GPU preprocessing: {0}")]
    Cuda(String),
}

#[cfg(feature = "cuda")]
pub use device::GpuPreprocessor;

#[cfg(feature = "cuda")]
mod device {
    use std::sync::Arc;

    use cudarc::driver::{
        CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
    };

    use super::{GpuError, KERNELS, Plan, format_code};
    use crate::bundle::InputSpec;
    use crate::frame::{FrameRef, PixelFormat};
    use crate::preprocess::Preprocessor;

    /// Threads per block side.
    const BLOCK: u32 = 16;

    /// A plan's tables in device memory.
    struct Tables {
        plan: Plan,
        xbounds: CudaSlice<i32>,
        xcoeffs: CudaSlice<i32>,
        ybounds: CudaSlice<i32>,
        ycoeffs: CudaSlice<i32>,
        lut: CudaSlice<f32>,
        planes: CudaSlice<u8>,
    }

    /// Turns frames into the clip tensor in device memory.
    pub struct GpuPreprocessor {
        spec: InputSpec,
        stream: Arc<CudaStream>,
        horizontal: CudaFunction,
        vertical: CudaFunction,
        tables: Option<Tables>,
        frame: Option<CudaSlice<u8>>,
        jpeg: Preprocessor,
        rgb: Vec<u8>,
    }

    fn cuda(what: &str) -> impl Fn(cudarc::driver::DriverError) -> GpuError + '_ {
        move |e| GpuError::Cuda(format!("{what}: {e}"))
    }

    impl GpuPreprocessor {
        /// Compiles the kernels with NVRTC and loads them on GPU `device`.
        /// The CUDA driver and NVRTC libraries are looked for first.
        pub fn new(spec: &InputSpec, device: usize) -> Result<Self, GpuError> {
            // SAFETY: these only try to load the libraries.
            if !unsafe { cudarc::driver::sys::is_culib_present() } {
                return Err(GpuError::Unavailable(
                    "no CUDA driver library (libcuda.so.1)".into(),
                ));
            }
            if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                return Err(GpuError::Unavailable(
                    "no NVRTC library (libnvrtc.so)".into(),
                ));
            }
            let ptx = cudarc::nvrtc::compile_ptx(KERNELS)
                .map_err(|e| GpuError::Unavailable(format!("NVRTC: {e}")))?;
            let ctx = CudaContext::new(device).map_err(cuda("opening the GPU"))?;
            let module = ctx.load_module(ptx).map_err(cuda("loading the kernels"))?;
            Ok(Self {
                spec: spec.clone(),
                stream: ctx.default_stream(),
                horizontal: module
                    .load_function("artrt_horizontal")
                    .map_err(cuda("artrt_horizontal"))?,
                vertical: module
                    .load_function("artrt_vertical")
                    .map_err(cuda("artrt_vertical"))?,
                tables: None,
                frame: None,
                jpeg: Preprocessor::new(spec),
                rgb: Vec::new(),
            })
        }

        /// The stream the kernels run on.
        pub fn stream(&self) -> &Arc<CudaStream> {
            &self.stream
        }

        /// Floats of one preprocessed frame (`3 * H * W`).
        pub fn frame_len(&self) -> usize {
            3 * self.spec.width as usize * self.spec.height as usize
        }

        /// Writes one frame as a normalised `[3, H, W]` tensor into
        /// `out[offset..offset + frame_len()]`.
        pub fn frame_into(
            &mut self,
            frame: &FrameRef<'_>,
            out: &mut CudaSlice<f32>,
            offset: usize,
        ) -> Result<(), GpuError> {
            let len = self.frame_len();
            if out.len() < offset + len {
                return Err(GpuError::Frame(format!(
                    "output of {} floats, {} needed",
                    out.len(),
                    offset + len
                )));
            }
            let (format, width, height) = match format_code(frame.format) {
                Some(code) => (code, frame.width as usize, frame.height as usize),
                None => {
                    let (w, h) = self
                        .jpeg
                        .decode_jpeg(frame.data)
                        .map_err(|e| GpuError::Frame(e.to_string()))?;
                    self.rgb.clear();
                    self.rgb.extend_from_slice(self.jpeg.rgb());
                    (0, w, h)
                }
            };
            let mjpeg = frame.format == PixelFormat::Mjpeg;
            if !mjpeg {
                self.jpeg
                    .validate(frame)
                    .map_err(|e| GpuError::Frame(e.to_string()))?;
            }
            let bytes = if mjpeg {
                self.rgb.len()
            } else {
                frame.data.len()
            };
            self.prepare(width, height, bytes)?;
            let data: &[u8] = if mjpeg { &self.rgb } else { frame.data };
            let stream = Arc::clone(&self.stream);
            let upload = self.frame.as_mut().expect("prepare() ran");
            stream
                .memcpy_htod(data, &mut upload.slice_mut(..bytes))
                .map_err(cuda("uploading the frame"))?;
            let t = self.tables.as_mut().expect("prepare() ran");
            let p = &t.plan;
            let (w, h, first, rows) = (
                p.width as i32,
                p.height as i32,
                p.first_row as i32,
                p.rows() as i32,
            );
            let (cw, ch, xk, yk) = (p.cw as i32, p.ch as i32, p.xksize as i32, p.yksize as i32);
            let grid = |n: usize| (n as u32).div_ceil(BLOCK);
            let mut view = out.slice_mut(offset..offset + len);
            // SAFETY: the arguments match the kernels' signatures in
            // kernels/preprocess.cu; every buffer is sized by the plan.
            unsafe {
                stream
                    .launch_builder(&self.horizontal)
                    .arg(&*upload)
                    .arg(&format)
                    .arg(&w)
                    .arg(&h)
                    .arg(&first)
                    .arg(&rows)
                    .arg(&t.xbounds)
                    .arg(&t.xcoeffs)
                    .arg(&xk)
                    .arg(&cw)
                    .arg(&mut t.planes)
                    .launch(LaunchConfig {
                        grid_dim: (grid(p.cw), grid(p.rows()), 1),
                        block_dim: (BLOCK, BLOCK, 1),
                        shared_mem_bytes: 0,
                    })
                    .map_err(cuda("artrt_horizontal"))?;
                stream
                    .launch_builder(&self.vertical)
                    .arg(&t.planes)
                    .arg(&rows)
                    .arg(&cw)
                    .arg(&ch)
                    .arg(&first)
                    .arg(&t.ybounds)
                    .arg(&t.ycoeffs)
                    .arg(&yk)
                    .arg(&t.lut)
                    .arg(&mut view)
                    .launch(LaunchConfig {
                        grid_dim: (grid(p.cw), grid(p.ch), 3),
                        block_dim: (BLOCK, BLOCK, 1),
                        shared_mem_bytes: 0,
                    })
                    .map_err(cuda("artrt_vertical"))?;
            }
            Ok(())
        }

        /// Writes a clip of `frames` as the model's `[1, T, 3, H, W]` input
        /// into `out`, sampling `T` of them as the CPU preprocessor does.
        pub fn clip_into(
            &mut self,
            frames: &[FrameRef<'_>],
            out: &mut CudaSlice<f32>,
        ) -> Result<(), GpuError> {
            if frames.is_empty() {
                return Err(GpuError::Frame("no frames".into()));
            }
            let (n, t, len) = (frames.len(), self.spec.frames, self.frame_len());
            for i in 0..t {
                let index = self.spec.sampling.pick(n, t, i);
                self.frame_into(&frames[index], out, i * len)?;
            }
            Ok(())
        }

        /// Uploads the tables for `width` x `height` frames unless current,
        /// and makes the frame buffer hold `bytes`.
        fn prepare(&mut self, width: usize, height: usize, bytes: usize) -> Result<(), GpuError> {
            if self.frame.as_ref().is_none_or(|f| f.len() < bytes) {
                self.frame = Some(
                    self.stream
                        .alloc_zeros::<u8>(bytes)
                        .map_err(cuda("allocating the frame buffer"))?,
                );
            }
            if self
                .tables
                .as_ref()
                .is_some_and(|t| t.plan.width == width && t.plan.height == height)
            {
                return Ok(());
            }
            let plan = Plan::new(&self.spec, width, height);
            let s = &self.stream;
            let up = "uploading the tables";
            self.tables = Some(Tables {
                xbounds: s.clone_htod(&plan.xbounds).map_err(cuda(up))?,
                xcoeffs: s.clone_htod(&plan.xcoeffs).map_err(cuda(up))?,
                ybounds: s.clone_htod(&plan.ybounds).map_err(cuda(up))?,
                ycoeffs: s.clone_htod(&plan.ycoeffs).map_err(cuda(up))?,
                lut: s.clone_htod(&plan.lut).map_err(cuda(up))?,
                planes: s
                    .alloc_zeros::<u8>(3 * plan.cw * plan.rows().max(1))
                    .map_err(cuda(up))?,
                plan,
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InputSpec {
        crate::Bundle::load(crate::install::DEFAULT_BUNDLE)
            .unwrap()
            .input
            .clone()
    }

    #[test]
    fn a_plan_holds_the_preprocessors_tables() {
        let spec = spec();
        let plan = Plan::new(&spec, 160, 120);
        assert_eq!((plan.cw, plan.ch), (112, 112));
        assert_eq!(plan.xbounds.len(), 2 * plan.cw);
        assert_eq!(plan.ybounds.len(), 2 * plan.ch);
        assert_eq!(plan.xcoeffs.len(), plan.cw * plan.xksize);
        assert_eq!(plan.lut.len(), 3 * 256);
        assert!(plan.first_row < plan.last_row && plan.last_row <= 120);
        assert_eq!(format_code(PixelFormat::Mjpeg), None);
    }

    /// The device path against the host path, on a machine with a GPU
    /// (tests/gpu.sh sets ARTRT_REQUIRE_GPU=1, which makes a missing GPU a
    /// failure; elsewhere the test says it had no GPU and passes).
    #[cfg(feature = "cuda")]
    #[test]
    fn on_a_gpu_the_device_path_gives_the_host_paths_values() {
        let spec = spec();
        let mut gpu = match GpuPreprocessor::new(&spec, 0) {
            Ok(gpu) => gpu,
            Err(e) if std::env::var_os("ARTRT_REQUIRE_GPU").is_none() => {
                eprintln!("no GPU here ({e}): the device path is checked by tests/gpu.sh");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let mut cpu = crate::Preprocessor::new(&spec);
        for (w, h) in [(640usize, 480usize), (160, 120), (1280, 720)] {
            for format in [PixelFormat::Rgb24, PixelFormat::Yuyv, PixelFormat::Nv12] {
                let len = match format {
                    PixelFormat::Rgb24 => w * h * 3,
                    PixelFormat::Yuyv => w * h * 2,
                    _ => w * h * 3 / 2,
                };
                let data: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
                let frame = crate::FrameRef {
                    format,
                    width: w as u32,
                    height: h as u32,
                    data: &data,
                    timestamp: Default::default(),
                };
                let mut expected = vec![0f32; cpu.frame_len()];
                cpu.frame_into(&frame, &mut expected).unwrap();
                let mut out = gpu.stream().alloc_zeros::<f32>(gpu.frame_len()).unwrap();
                gpu.frame_into(&frame, &mut out, 0).unwrap();
                let got = gpu.stream().clone_dtoh(&out).unwrap();
                assert_eq!(got, expected, "{format:?} {w}x{h}");
            }
        }
    }

    /// NVRTC, from the `nvidia-cuda-nvrtc-cu12` wheel in the project's
    /// `.venv` (bash runtime/setup.sh), or the system's CUDA toolkit.
    #[cfg(feature = "cuda")]
    #[test]
    fn the_kernels_compile_to_ptx_with_nvrtc() {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/lib");
        let wheel = std::fs::read_dir(venv)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                e.path()
                    .join("site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")
            })
            .find(|p| p.is_file());
        if let Some(lib) = &wheel {
            // Loaded by path and kept: cudarc's load by soname then finds it.
            // SAFETY: NVRTC's initialisers are safe to run.
            let lib = unsafe {
                libloading::os::unix::Library::open(
                    Some(lib),
                    libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                )
            }
            .unwrap();
            std::mem::forget(lib);
        }
        // SAFETY: only tries to load the library.
        assert!(
            unsafe { cudarc::nvrtc::sys::is_culib_present() },
            "no NVRTC: run `bash runtime/setup.sh` (it installs nvidia-cuda-nvrtc-cu12 into .venv)"
        );
        let ptx = cudarc::nvrtc::compile_ptx(KERNELS).unwrap().to_src();
        for kernel in ["artrt_horizontal", "artrt_vertical"] {
            assert!(
                ptx.contains(&format!(".entry {kernel}")),
                "no entry point {kernel} in the PTX"
            );
        }
    }
}
