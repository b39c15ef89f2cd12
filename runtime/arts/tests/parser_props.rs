//! Property tests: the parser never panics and accepts exactly what ARTS/1
//! allows, checked against a second, plain reading of the spec.

use arts::{Backend, Event, Heartbeat, Label, Parser, Sentence, Status, crc16, parse};
use proptest::prelude::*;

/// Every byte a text field may hold, straight from the spec's wording.
fn text_bytes() -> Vec<u8> {
    (0x20u8..=0x7E)
        .filter(|b| !b"$*,\\!~".contains(b))
        .collect()
}

fn label() -> impl Strategy<Value = Label> {
    prop::collection::vec(prop::sample::select(text_bytes()), 0..=32)
        .prop_map(|bytes| Label::new(std::str::from_utf8(&bytes).unwrap()).unwrap())
}

fn sentence() -> impl Strategy<Value = Sentence> {
    let backend = prop::sample::select(Backend::ALL.to_vec());
    let status = prop::sample::select(Status::ALL.to_vec());
    prop_oneof![
        (
            any::<u16>(),
            any::<u16>(),
            label(),
            0u16..=1000,
            any::<u32>()
        )
            .prop_map(|(seq, class_id, label, conf, t_ms)| Sentence::Event(Event {
                seq,
                class_id,
                label,
                conf,
                t_ms
            })),
        (any::<u16>(), any::<u32>(), any::<u16>(), backend, status).prop_map(
            |(seq, uptime_s, fps_x10, backend, status)| Sentence::Heartbeat(Heartbeat {
                seq,
                uptime_s,
                fps_x10,
                backend,
                status
            })
        ),
        any::<u16>().prop_map(|seq| Sentence::Clear { seq }),
        any::<u16>().prop_map(|seq| Sentence::Ack { seq }),
        any::<u16>().prop_map(|seq| Sentence::Nak { seq }),
        Just(Sentence::Request),
    ]
}

/// The spec read plainly: does it allow `bytes` as one sentence?
fn spec_allows(bytes: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return false;
    };
    let Some(inner) = s.strip_prefix('$').and_then(|r| r.strip_suffix("\r\n")) else {
        return false;
    };
    let Some((body, crc)) = inner.rsplit_once('*') else {
        return false;
    };
    let crc_ok = crc.len() == 4
        && crc
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        && u16::from_str_radix(crc, 16) == Ok(crc16(body.as_bytes()));
    if bytes.len() > 82 || !crc_ok {
        return false;
    }
    let number = |f: &str, max: u64| {
        !f.is_empty()
            && f.bytes().all(|b| b.is_ascii_digit())
            && (f == "0" || !f.starts_with('0'))
            && f.parse::<u64>().is_ok_and(|v| v <= max)
    };
    let text = |f: &str| f.len() <= 32 && f.bytes().all(|b| text_bytes().contains(&b));
    let f: Vec<&str> = body.split(',').collect();
    const U16: u64 = 65535;
    const U32: u64 = 4294967295;
    match (f[0], f.len()) {
        ("ARTEV", 6) => {
            number(f[1], U16)
                && number(f[2], U16)
                && text(f[3])
                && number(f[4], 1000)
                && number(f[5], U32)
        }
        ("ARTHB", 6) => {
            number(f[1], U16)
                && number(f[2], U32)
                && number(f[3], U16)
                && ["trt", "cuda", "ort-cpu", "tract"].contains(&f[4])
                && ["OK", "DEGRADED", "NOCAM", "NOMODEL"].contains(&f[5])
        }
        ("ARTCL" | "ARTAK" | "ARTNK", 2) => number(f[1], U16),
        ("ARTRQ", 1) => true,
        _ => false,
    }
}

/// Field values near every boundary the spec draws, and some garbage.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "00",
            "01",
            "1",
            "999",
            "1000",
            "1001",
            "65535",
            "65536",
            "4294967295",
            "4294967296",
            "18446744073709551616",
            "+1",
            "-1",
            " 1",
            "1 ",
            "",
            "trt",
            "cuda",
            "ort-cpu",
            "tract",
            "TRT",
            "gpu",
            "OK",
            "DEGRADED",
            "NOCAM",
            "NOMODEL",
            "ok",
            "salto backward tucked",
        ])
        .prop_map(String::from),
        any::<u32>().prop_map(|v| v.to_string()),
        label().prop_map(|l| l.as_str().to_string()),
        "[ -~]{0,40}",
        "\\PC{0,4}",
    ]
}

fn candidate() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec![
        "ARTEV", "ARTHB", "ARTCL", "ARTAK", "ARTNK", "ARTRQ", "ARTXX", "artev", "",
    ]);
    (
        kind,
        prop::collection::vec(field(), 0..7),
        0u8..6,
        any::<u16>(),
    )
        .prop_map(|(kind, fields, crc_mode, noise)| {
            let mut body = kind.to_string();
            for f in fields {
                body.push(',');
                body.push_str(&f);
            }
            let crc = crc16(body.as_bytes());
            let trailer = match crc_mode {
                0..=2 => format!("*{crc:04X}\r\n"),
                3 => format!("*{crc:04x}\r\n"),
                4 => format!("*{noise:04X}\r\n"),
                _ => format!("*{crc:04X}\n"),
            };
            format!("${body}{trailer}").into_bytes()
        })
}

fn feed(parser: &mut Parser, bytes: &[u8]) -> Vec<Result<Sentence, arts::DropReason>> {
    bytes.iter().filter_map(|&b| parser.push(b)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_sentences_round_trip(s in sentence()) {
        let wire = s.encode().unwrap();
        prop_assert!(wire.len() <= 82);
        prop_assert!(spec_allows(&wire));
        prop_assert_eq!(parse(&wire), Ok(s.clone()));
        prop_assert_eq!(feed(&mut Parser::new(), &wire), vec![Ok(s)]);
    }

    #[test]
    fn accepts_exactly_what_the_spec_allows(bytes in candidate()) {
        let parsed = parse(&bytes);
        prop_assert_eq!(parsed.is_ok(), spec_allows(&bytes), "{:?}: {:?}", String::from_utf8_lossy(&bytes), parsed);
        if let Ok(s) = &parsed {
            // Accepted values mean exactly the bytes on the wire.
            prop_assert_eq!(&s.encode().unwrap()[..], &bytes[..]);
        }
        let inner = &bytes[1..bytes.len() - 1];
        if bytes.len() <= 82 && !inner.contains(&b'$') && !inner.contains(&b'\n') {
            prop_assert_eq!(feed(&mut Parser::new(), &bytes), vec![parsed]);
        }
    }

    #[test]
    fn streams_with_noise_between_sentences_are_all_accepted(
        items in prop::collection::vec((sentence(), prop::collection::vec(any::<u8>().prop_filter("no $", |b| *b != b'$'), 0..20)), 1..8)
    ) {
        let mut stream = Vec::new();
        for (s, noise) in &items {
            stream.extend_from_slice(noise);
            stream.extend_from_slice(&s.encode().unwrap());
        }
        let expected: Vec<_> = items.into_iter().map(|(s, _)| Ok(s)).collect();
        prop_assert_eq!(feed(&mut Parser::new(), &stream), expected);
    }

    #[test]
    fn one_damaged_byte_is_always_dropped_and_counted(s in sentence(), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let mut wire = s.encode().unwrap().to_vec();
        let i = 1 + at.index(wire.len() - 1);
        prop_assume!(to != wire[i] && to != b'$');
        wire[i] = to;
        wire.extend_from_slice(b"$ARTRQ*9261\r\n");
        let outcomes = feed(&mut Parser::new(), &wire);
        prop_assert_eq!(outcomes.len(), 2, "{:?}", outcomes);
        prop_assert!(outcomes[0].is_err());
        prop_assert_eq!(&outcomes[1], &Ok(Sentence::Request));
    }

    #[test]
    fn damaged_streams_never_yield_a_value_not_on_the_wire(
        items in prop::collection::vec(sentence(), 1..6),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut stream: Vec<u8> = items.iter().flat_map(|s| s.encode().unwrap().to_vec()).collect();
        for (at, byte) in damage {
            let i = at.index(stream.len());
            stream[i] = byte;
        }
        let mut parser = Parser::new();
        for s in feed(&mut parser, &stream).into_iter().flatten() {
            let wire = s.encode().unwrap();
            prop_assert!(stream.windows(wire.len()).any(|w| w == &wire[..]), "{:?} is not on the wire", s);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut parser = Parser::new();
        for s in feed(&mut parser, &bytes).into_iter().flatten() {
            prop_assert!(spec_allows(&s.encode().unwrap()));
        }
        let _ = parse(&bytes);
    }
}
