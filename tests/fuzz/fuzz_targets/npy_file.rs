//! A bundle's `.npy` files (header and data length): any bytes give an
//! array or an error, never a panic or an allocation the data cannot fill.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = artrt_infer::bundle::check_npy(data);
});
