//! The ARTS/1 parser over any byte stream: it never panics, and every
//! sentence it accepts encodes back to the very bytes it was parsed from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parser = arts::Parser::new();
    let mut start = None;
    for (i, &b) in data.iter().enumerate() {
        if b == b'$' {
            start = Some(i);
        }
        if let Some(Ok(sentence)) = parser.push(b) {
            let encoded = sentence.encode().expect("an accepted sentence encodes");
            let from = start.expect("a sentence starts with `$`");
            assert_eq!(&encoded[..], &data[from..=i], "{sentence:?}");
        }
    }
});
