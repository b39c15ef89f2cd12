//! A bundle's `bundle.toml` as `Bundle::load` checks it before reading any
//! other file: any bytes give a manifest or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = artrt_infer::bundle::check_manifest(data);
});
