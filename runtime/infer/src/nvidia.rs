//! NVIDIA libraries on this machine: TensorRT, the CUDA runtime and the CUDA
//! driver, found with the dynamic loader and asked their versions. Nothing
//! here needs them: a machine without them gets a reason, never a crash.

use std::ffi::c_int;

/// A library the dynamic loader found, and the version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The soname that loaded (`libnvinfer.so.10`).
    pub library: &'static str,
    /// `major.minor.patch` as the library reports it.
    pub version: String,
}

/// TensorRT's sonames, newest first (JetPack 6 ships 10, JetPack 5 ships 8).
pub const TENSORRT: [&str; 3] = ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"];
/// The CUDA runtime's sonames, newest first (JetPack 6: 12, JetPack 5: 11).
pub const CUDA_RUNTIME: [&str; 3] = ["libcudart.so.12", "libcudart.so.11.0", "libcudart.so"];
/// The CUDA driver library.
pub const CUDA_DRIVER: [&str; 1] = ["libcuda.so.1"];

/// TensorRT: `getInferLibVersion` (100300 is 10.3.0; before 10, 8502 is 8.5.2).
pub fn tensorrt() -> Result<Found, String> {
    probe(&TENSORRT, b"getInferLibVersion\0", |f| {
        // SAFETY: `getInferLibVersion` takes nothing and returns an int.
        let v = unsafe { std::mem::transmute::<*mut (), extern "C" fn() -> c_int>(f)() };
        Ok(tensorrt_version(v))
    })
}

/// The CUDA runtime: `cudaRuntimeGetVersion` (12060 is 12.6).
pub fn cuda_runtime() -> Result<Found, String> {
    probe(&CUDA_RUNTIME, b"cudaRuntimeGetVersion\0", cuda_version)
}

/// The CUDA driver: `cuDriverGetVersion` (12060 is 12.6).
pub fn cuda_driver() -> Result<Found, String> {
    probe(&CUDA_DRIVER, b"cuDriverGetVersion\0", cuda_version)
}

/// The GPUs the CUDA driver sees, one line each (`0: Orin, 7.4 GiB, compute
/// 8.7`), through `cudarc`. The driver library is looked for first, so a
/// machine without one gets a reason, not a failed load.
pub fn gpus() -> Result<Vec<String>, String> {
    cuda_driver().map_err(|e| format!("no CUDA driver: {e}"))?;
    #[cfg(feature = "cuda")]
    return std::panic::catch_unwind(cuda::gpus)
        .unwrap_or_else(|_| Err("the CUDA driver library could not be used".to_string()));
    #[cfg(not(feature = "cuda"))]
    return Err("this build of artrt has no CUDA support (Cargo feature `cuda`)".to_string());
}

#[cfg(feature = "cuda")]
mod cuda {
    use cudarc::driver::result;
    use cudarc::driver::sys::CUdevice_attribute;

    pub fn gpus() -> Result<Vec<String>, String> {
        let err = |what: &str, e: result::DriverError| format!("CUDA driver: {what}: {e}");
        result::init().map_err(|e| err("cuInit", e))?;
        let count = result::device::get_count().map_err(|e| err("counting devices", e))?;
        (0..count)
            .map(|i| {
                let dev = result::device::get(i).map_err(|e| err("cuDeviceGet", e))?;
                let name = result::device::get_name(dev).map_err(|e| err("cuDeviceGetName", e))?;
                // SAFETY: `dev` is a device handle the driver just returned.
                let (mem, major, minor) = unsafe {
                    (
                        result::device::total_mem(dev).map_err(|e| err("cuDeviceTotalMem", e))?,
                        result::device::get_attribute(
                            dev,
                            CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                        )
                        .map_err(|e| err("cuDeviceGetAttribute", e))?,
                        result::device::get_attribute(
                            dev,
                            CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                        )
                        .map_err(|e| err("cuDeviceGetAttribute", e))?,
                    )
                };
                Ok(format!(
                    "{i}: {name}, {:.1} GiB, compute {major}.{minor}",
                    mem as f64 / f64::from(1u32 << 30)
                ))
            })
            .collect()
    }
}

/// Reads a CUDA-style version through `int f(int *version)` returning 0 on success.
fn cuda_version(f: *mut ()) -> Result<String, String> {
    let mut v: c_int = 0;
    // SAFETY: both CUDA version calls take an `int *` and return an error code.
    let rc =
        unsafe { std::mem::transmute::<*mut (), extern "C" fn(*mut c_int) -> c_int>(f)(&mut v) };
    if rc != 0 {
        return Err(format!("the version call failed with error {rc}"));
    }
    Ok(format!("{}.{}", v / 1000, (v % 1000) / 10))
}

/// TensorRT's version number as `major.minor.patch`.
pub fn tensorrt_version(v: c_int) -> String {
    if v >= 100_000 {
        format!("{}.{}.{}", v / 10_000, (v / 100) % 100, v % 100)
    } else {
        format!("{}.{}.{}", v / 1000, (v / 100) % 10, v % 100)
    }
}

/// Loads the first of `names` that the loader finds and reads its version
/// through `symbol`.
fn probe(
    names: &[&'static str],
    symbol: &[u8],
    read: impl Fn(*mut ()) -> Result<String, String>,
) -> Result<Found, String> {
    for &library in names {
        // SAFETY: loading runs the library's initialisers; NVIDIA's libraries
        // are made to be loaded this way (ONNX Runtime's providers do).
        if let Ok(lib) = unsafe { libloading::Library::new(library) } {
            // SAFETY: the symbol is only called through `read`, with the
            // signature the library documents.
            let f = unsafe { lib.get::<*mut ()>(symbol) }.map_err(|e| {
                format!(
                    "{library} has no {}: {e}",
                    String::from_utf8_lossy(&symbol[..symbol.len() - 1])
                )
            })?;
            let version = read(*f)?;
            // Kept loaded: unloading CUDA libraries at run time is unsafe.
            std::mem::forget(lib);
            return Ok(Found { library, version });
        }
    }
    Err(format!("not found ({})", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorrt_versions_read_in_both_numbering_schemes() {
        assert_eq!(tensorrt_version(100_300), "10.3.0");
        assert_eq!(tensorrt_version(8502), "8.5.2");
        assert_eq!(tensorrt_version(8601), "8.6.1");
    }

    #[test]
    fn an_absent_library_is_a_reason_not_a_crash() {
        let err = probe(&["libartrt-no-such-library.so.1"], b"f\0", |_| {
            Ok(String::new())
        })
        .unwrap_err();
        assert_eq!(err, "not found (libartrt-no-such-library.so.1)");
    }
}
