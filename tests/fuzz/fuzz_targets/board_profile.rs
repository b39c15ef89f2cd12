//! A board profile's text: any text gives a checked profile or a list of
//! problems placed in the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = artrt_live::board::Profile::parse(text, "fuzz.toml");
    }
});
