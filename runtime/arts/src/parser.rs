//! The receiver: an incremental parser that resynchronises on `$`.

use core::fmt;

use crate::crc::crc16;
use crate::label::Label;
use crate::sentence::{
    Backend, Event, Heartbeat, Kind, MAX_CONF, MAX_SENTENCE_LEN, Sentence, Status,
};

/// Why a sentence was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// More than 82 bytes from `$` without reaching `\n`.
    TooLong,
    /// Does not end in `*`, four upper-case hex digits and `\r\n` (a new `$`
    /// cut it short, or its end is malformed).
    MissingChecksum,
    /// The checksum does not match the body.
    BadChecksum {
        /// The CRC of the body as received.
        computed: u16,
        /// The CRC the sentence carries.
        received: u16,
    },
    /// The first field names no ARTS/1 sentence.
    UnknownType,
    /// The number of fields after the type is not what the type has.
    FieldCount {
        /// The sentence type.
        kind: Kind,
        /// How many fields the type has after the type.
        expected: usize,
        /// How many fields arrived after the type.
        found: usize,
    },
    /// A field holds a value its type does not allow.
    FieldOutOfRange {
        /// The sentence type.
        kind: Kind,
        /// The field's name in the spec (`seq`, `conf`, `label`, ...).
        field: &'static str,
    },
    /// A well-formed sentence of a kind that travels the other way (an
    /// `ARTAK` reaching a board, an `ARTEV` reaching a device). The parser
    /// reads both directions and never reports this itself; a receiver that
    /// knows its side does.
    WrongDirection {
        /// The sentence type.
        kind: Kind,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::TooLong => write!(f, "over-long (more than {MAX_SENTENCE_LEN} bytes)"),
            DropReason::MissingChecksum => f.write_str("lacks *CRC\\r\\n"),
            DropReason::BadChecksum { computed, received } => {
                write!(
                    f,
                    "bad CRC (carries {received:04X}, body has {computed:04X})"
                )
            }
            DropReason::UnknownType => f.write_str("unknown sentence type"),
            DropReason::FieldCount {
                kind,
                expected,
                found,
            } => write!(
                f,
                "{} with {found} fields after the type, expected {expected}",
                kind.tag()
            ),
            DropReason::FieldOutOfRange { kind, field } => {
                write!(f, "{} field `{field}` out of range", kind.tag())
            }
            DropReason::WrongDirection { kind } => {
                let (from, to) = if kind.from_device() {
                    ("device", "board")
                } else {
                    ("board", "device")
                };
                write!(
                    f,
                    "{} travels from {from} to {to}, not this way",
                    kind.tag()
                )
            }
        }
    }
}

impl core::error::Error for DropReason {}

/// An incremental ARTS/1 parser, fed one byte at a time.
///
/// It skips bytes until `$`, collects a sentence up to `\n`, and then
/// returns it or the reason it was dropped. A `$` inside a sentence drops it
/// and starts the next; an over-long sentence is dropped and the parser skips
/// to the next `$`. Nothing ever stops it.
///
/// ```
/// use arts::{Parser, Sentence};
///
/// let mut parser = Parser::new();
/// let mut got = Vec::new();
/// for &b in b"noise$ARTAK,17*3471\r\n$ARTAK,17*0000\r\n" {
///     if let Some(outcome) = parser.push(b) {
///         got.push(outcome);
///     }
/// }
/// assert_eq!(got[0], Ok(Sentence::Ack { seq: 17 }));
/// assert!(got[1].is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Parser {
    buf: heapless::Vec<u8, MAX_SENTENCE_LEN>,
    in_sentence: bool,
}

impl Parser {
    /// A parser waiting for its first `$`.
    pub const fn new() -> Self {
        Parser {
            buf: heapless::Vec::new(),
            in_sentence: false,
        }
    }

    /// Feeds one byte; returns a sentence when one is complete, or the reason
    /// the sentence in progress was dropped.
    pub fn push(&mut self, byte: u8) -> Option<Result<Sentence, DropReason>> {
        if byte == b'$' {
            let cut_short = self.in_sentence;
            self.buf.clear();
            let _ = self.buf.push(byte);
            self.in_sentence = true;
            return cut_short.then_some(Err(DropReason::MissingChecksum));
        }
        if !self.in_sentence {
            return None;
        }
        if self.buf.push(byte).is_err() {
            self.in_sentence = false;
            self.buf.clear();
            return Some(Err(DropReason::TooLong));
        }
        if byte != b'\n' {
            return None;
        }
        self.in_sentence = false;
        let outcome = parse(&self.buf);
        self.buf.clear();
        Some(outcome)
    }

    /// Whether a sentence is in progress (a `$` was seen and its end not yet).
    pub fn in_sentence(&self) -> bool {
        self.in_sentence
    }
}

/// Parses one whole sentence, `$` through `\r\n`.
///
/// ```
/// let s = arts::parse(b"$ARTRQ*9261\r\n").unwrap();
/// assert_eq!(s, arts::Sentence::Request);
/// ```
pub fn parse(bytes: &[u8]) -> Result<Sentence, DropReason> {
    if bytes.len() > MAX_SENTENCE_LEN {
        return Err(DropReason::TooLong);
    }
    let n = bytes.len();
    if n < 8 || bytes[0] != b'$' || bytes[n - 7] != b'*' || &bytes[n - 2..] != b"\r\n" {
        return Err(DropReason::MissingChecksum);
    }
    let received = hex4(&bytes[n - 6..n - 2]).ok_or(DropReason::MissingChecksum)?;
    let body = &bytes[1..n - 7];
    let computed = crc16(body);
    if computed != received {
        return Err(DropReason::BadChecksum { computed, received });
    }
    let mut fields = body.split(|&b| b == b',');
    let kind = fields
        .next()
        .and_then(Kind::from_tag)
        .ok_or(DropReason::UnknownType)?;
    let found = body.iter().filter(|&&b| b == b',').count();
    if found != kind.field_count() {
        return Err(DropReason::FieldCount {
            kind,
            expected: kind.field_count(),
            found,
        });
    }
    let mut f = Fields { kind, fields };
    Ok(match kind {
        Kind::Event => {
            let seq = f.number("seq", u16::MAX.into())? as u16;
            let class_id = f.number("class_id", u16::MAX.into())? as u16;
            let label = Label::from_bytes(f.next()).map_err(|_| f.out_of_range("label"))?;
            let conf = f.number("conf", MAX_CONF.into())? as u16;
            let t_ms = f.number("t_ms", u32::MAX)?;
            Sentence::Event(Event {
                seq,
                class_id,
                label,
                conf,
                t_ms,
            })
        }
        Kind::Heartbeat => {
            let seq = f.number("seq", u16::MAX.into())? as u16;
            let uptime_s = f.number("uptime_s", u32::MAX)?;
            let fps_x10 = f.number("fps_x10", u16::MAX.into())? as u16;
            let backend = f.name("backend", Backend::from_name)?;
            let status = f.name("status", Status::from_name)?;
            Sentence::Heartbeat(Heartbeat {
                seq,
                uptime_s,
                fps_x10,
                backend,
                status,
            })
        }
        Kind::Clear => Sentence::Clear {
            seq: f.number("seq", u16::MAX.into())? as u16,
        },
        Kind::Ack => Sentence::Ack {
            seq: f.number("seq", u16::MAX.into())? as u16,
        },
        Kind::Nak => Sentence::Nak {
            seq: f.number("seq", u16::MAX.into())? as u16,
        },
        Kind::Request => Sentence::Request,
    })
}

/// The fields after the type, with the checks every field kind needs.
struct Fields<'a, I: Iterator<Item = &'a [u8]>> {
    kind: Kind,
    fields: I,
}

impl<'a, I: Iterator<Item = &'a [u8]>> Fields<'a, I> {
    fn out_of_range(&self, field: &'static str) -> DropReason {
        DropReason::FieldOutOfRange {
            kind: self.kind,
            field,
        }
    }

    fn next(&mut self) -> &'a [u8] {
        // The field count was checked before any field is read.
        self.fields.next().unwrap_or_default()
    }

    /// An unsigned decimal number without sign or leading zeros, at most `max`.
    fn number(&mut self, field: &'static str, max: u32) -> Result<u32, DropReason> {
        let digits = self.next();
        let canonical = match digits {
            [] => false,
            [b'0'] => true,
            [first, ..] => *first != b'0' && digits.len() <= 10,
        };
        if !canonical || !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.out_of_range(field));
        }
        let value = digits
            .iter()
            .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        if value > u64::from(max) {
            return Err(self.out_of_range(field));
        }
        Ok(value as u32)
    }

    /// One of a fixed set of names.
    fn name<T>(
        &mut self,
        field: &'static str,
        lookup: fn(&str) -> Option<T>,
    ) -> Result<T, DropReason> {
        let raw = self.next();
        core::str::from_utf8(raw)
            .ok()
            .and_then(lookup)
            .ok_or_else(|| self.out_of_range(field))
    }
}

/// Four upper-case hex digits.
fn hex4(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |v, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        Some(v << 4 | u16::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentence::Encoded;

    /// `$body*CRC\r\n` with the right CRC.
    fn framed(body: &str) -> Encoded {
        let mut out = Encoded::new();
        let _ = out.push(b'$');
        let _ = out.extend_from_slice(body.as_bytes());
        let _ = core::fmt::Write::write_fmt(
            &mut out,
            format_args!("*{:04X}\r\n", crc16(body.as_bytes())),
        );
        out
    }

    fn out_of_range(kind: Kind, field: &'static str) -> Result<Sentence, DropReason> {
        Err(DropReason::FieldOutOfRange { kind, field })
    }

    #[test]
    fn spec_examples_parse() {
        let ev = parse(b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n").unwrap();
        assert_eq!(
            ev,
            Sentence::Event(Event {
                seq: 17,
                class_id: 3,
                label: Label::new("salto backward tucked").unwrap(),
                conf: 912,
                t_ms: 845210,
            })
        );
        let hb = parse(b"$ARTHB,18,3600,300,trt,OK*4EFA\r\n").unwrap();
        assert_eq!(
            hb,
            Sentence::Heartbeat(Heartbeat {
                seq: 18,
                uptime_s: 3600,
                fps_x10: 300,
                backend: Backend::Trt,
                status: Status::Ok,
            })
        );
        assert_eq!(parse(b"$ARTAK,17*3471\r\n"), Ok(Sentence::Ack { seq: 17 }));
        assert_eq!(parse(b"$ARTRQ*9261\r\n"), Ok(Sentence::Request));
    }

    #[test]
    fn checksum_must_be_four_upper_case_hex_digits() {
        assert_eq!(parse(b"$ARTRQ*9261\n"), Err(DropReason::MissingChecksum));
        assert_eq!(
            parse(b"$ARTRQ*9261\r\r\n"),
            Err(DropReason::MissingChecksum)
        );
        assert_eq!(parse(b"$ARTRQ*926\r\n"), Err(DropReason::MissingChecksum));
        assert_eq!(parse(b"$ARTRQ\r\n"), Err(DropReason::MissingChecksum));
        assert_eq!(
            parse(b"$ARTAK,17*3a71\r\n"),
            Err(DropReason::MissingChecksum)
        );
        assert_eq!(
            parse(b"$ARTAK,17*347G\r\n"),
            Err(DropReason::MissingChecksum)
        );
        assert_eq!(
            parse(b"$ARTAK,17*3472\r\n"),
            Err(DropReason::BadChecksum {
                computed: 0x3471,
                received: 0x3472
            })
        );
    }

    #[test]
    fn types_and_field_counts() {
        assert_eq!(parse(&framed("ARTXX,1")), Err(DropReason::UnknownType));
        assert_eq!(parse(&framed("artak,1")), Err(DropReason::UnknownType));
        assert_eq!(parse(&framed("")), Err(DropReason::UnknownType));
        assert_eq!(
            parse(&framed("ARTAK,1,2")),
            Err(DropReason::FieldCount {
                kind: Kind::Ack,
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            parse(&framed("ARTRQ,")),
            Err(DropReason::FieldCount {
                kind: Kind::Request,
                expected: 0,
                found: 1
            })
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,x,3")),
            Err(DropReason::FieldCount {
                kind: Kind::Event,
                expected: 5,
                found: 4
            })
        );
    }

    #[test]
    fn numbers_are_canonical_and_in_range() {
        assert_eq!(parse(&framed("ARTAK,0")), Ok(Sentence::Ack { seq: 0 }));
        assert_eq!(
            parse(&framed("ARTAK,65535")),
            Ok(Sentence::Ack { seq: 65535 })
        );
        for bad in [
            "65536",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "",
            "1a",
            "99999999999999999999",
        ] {
            let body = std::format!("ARTAK,{bad}");
            assert_eq!(
                parse(&framed(&body)),
                out_of_range(Kind::Ack, "seq"),
                "{bad:?}"
            );
        }
        let t_max = framed("ARTEV,1,2,x,1000,4294967295");
        assert!(parse(&t_max).is_ok());
        assert_eq!(
            parse(&framed("ARTEV,1,2,x,1000,4294967296")),
            out_of_range(Kind::Event, "t_ms")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,x,1001,0")),
            out_of_range(Kind::Event, "conf")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,65536,x,1,0")),
            out_of_range(Kind::Event, "class_id")
        );
        assert_eq!(
            parse(&framed("ARTHB,1,4294967296,0,trt,OK")),
            out_of_range(Kind::Heartbeat, "uptime_s")
        );
        assert_eq!(
            parse(&framed("ARTHB,1,0,65536,trt,OK")),
            out_of_range(Kind::Heartbeat, "fps_x10")
        );
    }

    #[test]
    fn names_and_labels_are_checked() {
        assert_eq!(
            parse(&framed("ARTHB,1,0,0,gpu,OK")),
            out_of_range(Kind::Heartbeat, "backend")
        );
        assert_eq!(
            parse(&framed("ARTHB,1,0,0,trt,ok")),
            out_of_range(Kind::Heartbeat, "status")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,012345678901234567890123456789012,3,4")),
            out_of_range(Kind::Event, "label")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,a~b,3,4")),
            out_of_range(Kind::Event, "label")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,a\tb,3,4")),
            out_of_range(Kind::Event, "label")
        );
        assert_eq!(
            parse(&framed("ARTEV,1,2,a*b,3,4")),
            out_of_range(Kind::Event, "label")
        );
        assert!(parse(&framed("ARTEV,1,2,,3,4")).is_ok());
    }

    #[test]
    fn the_stream_parser_resynchronises() {
        let mut stream = std::vec::Vec::new();
        stream.extend_from_slice(b"\x00garbage\r\n");
        stream.extend_from_slice(b"$ARTAK,17*3471\r\n");
        stream.extend_from_slice(b"$ARTAK,1"); // cut short by the next `$`
        stream.extend_from_slice(b"$ARTRQ*9261\r\n");
        stream.extend_from_slice(b"$");
        stream.extend_from_slice(&[b'A'; 100]); // over-long
        stream.extend_from_slice(b"\r\n$ARTAK,17*3471\r\n");
        let mut parser = Parser::new();
        let outcomes: std::vec::Vec<_> = stream.iter().filter_map(|&b| parser.push(b)).collect();
        assert_eq!(
            outcomes,
            [
                Ok(Sentence::Ack { seq: 17 }),
                Err(DropReason::MissingChecksum),
                Ok(Sentence::Request),
                Err(DropReason::TooLong),
                Ok(Sentence::Ack { seq: 17 }),
            ]
        );
        assert!(!parser.in_sentence());
    }

    #[test]
    fn a_sentence_of_exactly_82_bytes_is_not_over_long() {
        // 82 bytes: `$` + 74-byte body + `*XXXX\r\n`.
        let body = std::format!("ARTXX,{}", "a".repeat(68));
        let bytes = framed(&body);
        assert_eq!(bytes.len(), 82);
        let mut parser = Parser::new();
        let outcomes: std::vec::Vec<_> = bytes.iter().filter_map(|&b| parser.push(b)).collect();
        assert_eq!(outcomes, [Err(DropReason::UnknownType)]);
        let longer = std::format!("ARTXX,{}", "a".repeat(69));
        let mut parser = Parser::new();
        let bytes: std::vec::Vec<u8> = std::format!("${longer}*0000\r\n").into_bytes();
        let outcomes: std::vec::Vec<_> = bytes.iter().filter_map(|&b| parser.push(b)).collect();
        assert_eq!(outcomes, [Err(DropReason::TooLong)]);
    }
}
