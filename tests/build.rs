//! Compiles the GPU preprocessing kernels' source as C++ for the host check
//! (tests/gpu_kernels.rs).

fn main() {
    let kernels = "../runtime/infer/src/kernels";
    println!("cargo:rerun-if-changed={kernels}/preprocess.cu");
    println!("cargo:rerun-if-changed=kernels/host.cpp");
    cc::Build::new()
        .cpp(true)
        .file("kernels/host.cpp")
        .include(kernels)
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("artrt_kernels_host");
}
