//! The six ARTS/1 sentences and their encoding.

use core::fmt::{self, Write as _};

use crate::crc::crc16;
use crate::label::Label;

/// Longest sentence on the wire, `$` through `\n`, in bytes.
pub const MAX_SENTENCE_LEN: usize = 82;

/// Highest confidence, in per-mille.
pub const MAX_CONF: u16 = 1000;

/// One encoded sentence, `$` through `\r\n`.
pub type Encoded = heapless::Vec<u8, MAX_SENTENCE_LEN>;

/// The inference backend a device runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// TensorRT (`trt`).
    Trt,
    /// CUDA (`cuda`).
    Cuda,
    /// ONNX Runtime on the CPU (`ort-cpu`).
    OrtCpu,
    /// tract (`tract`).
    Tract,
}

impl Backend {
    /// Every backend, in the order of the spec.
    pub const ALL: [Backend; 4] = [Backend::Trt, Backend::Cuda, Backend::OrtCpu, Backend::Tract];

    /// The backend's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Trt => "trt",
            Backend::Cuda => "cuda",
            Backend::OrtCpu => "ort-cpu",
            Backend::Tract => "tract",
        }
    }

    /// The backend named `name` on the wire, if any.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// Whether this backend runs on the CPU.
    pub const fn is_cpu(self) -> bool {
        matches!(self, Backend::OrtCpu | Backend::Tract)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no backend of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBackend;

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown backend (expected trt, cuda, ort-cpu or tract)")
    }
}

impl core::error::Error for UnknownBackend {}

impl core::str::FromStr for Backend {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::from_name(s).ok_or(UnknownBackend)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Backend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Backend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Backend;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a backend name: trt, cuda, ort-cpu or tract")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Backend, E> {
                Backend::from_name(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(Name)
    }
}

/// The device status a heartbeat reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// All is well (`OK`).
    Ok,
    /// Running on a fallback backend, or dropping frames (`DEGRADED`).
    Degraded,
    /// No frames from the camera (`NOCAM`).
    NoCam,
    /// No model can run (`NOMODEL`).
    NoModel,
}

impl Status {
    /// Every status, in the order of the spec.
    pub const ALL: [Status; 4] = [Status::Ok, Status::Degraded, Status::NoCam, Status::NoModel];

    /// The status's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Degraded => "DEGRADED",
            Status::NoCam => "NOCAM",
            Status::NoModel => "NOMODEL",
        }
    }

    /// The status named `name` on the wire, if any.
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// `ARTEV`: an action was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// Sentence sequence number.
    pub seq: u16,
    /// Index of the class in the model's label list.
    pub class_id: u16,
    /// The class label.
    pub label: Label,
    /// Confidence in per-mille, 0..=1000.
    pub conf: u16,
    /// Device monotonic milliseconds at the end of the clip (wraps).
    pub t_ms: u32,
}

/// `ARTHB`: the device's heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// Sentence sequence number.
    pub seq: u16,
    /// Seconds since the device started.
    pub uptime_s: u32,
    /// Camera frames per second times ten.
    pub fps_x10: u16,
    /// The inference backend in use.
    pub backend: Backend,
    /// Overall status.
    pub status: Status,
}

/// The kind of a sentence, named by its first field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `ARTEV`, device to board.
    Event,
    /// `ARTHB`, device to board.
    Heartbeat,
    /// `ARTCL`, device to board.
    Clear,
    /// `ARTAK`, board to device.
    Ack,
    /// `ARTNK`, board to device.
    Nak,
    /// `ARTRQ`, board to device.
    Request,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Event,
        Kind::Heartbeat,
        Kind::Clear,
        Kind::Ack,
        Kind::Nak,
        Kind::Request,
    ];

    /// The sentence type on the wire.
    pub const fn tag(self) -> &'static str {
        match self {
            Kind::Event => "ARTEV",
            Kind::Heartbeat => "ARTHB",
            Kind::Clear => "ARTCL",
            Kind::Ack => "ARTAK",
            Kind::Nak => "ARTNK",
            Kind::Request => "ARTRQ",
        }
    }

    /// The kind whose type on the wire is `tag`, if any.
    pub fn from_tag(tag: &[u8]) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag().as_bytes() == tag)
    }

    /// Whether the device sends this kind (`ARTEV`, `ARTHB`, `ARTCL`); the
    /// others travel from the board to the device.
    pub const fn from_device(self) -> bool {
        matches!(self, Kind::Event | Kind::Heartbeat | Kind::Clear)
    }

    /// How many fields follow the type.
    pub const fn field_count(self) -> usize {
        match self {
            Kind::Event => 5,
            Kind::Heartbeat => 5,
            Kind::Clear | Kind::Ack | Kind::Nak => 1,
            Kind::Request => 0,
        }
    }
}

/// One ARTS/1 sentence, either direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sentence {
    /// `ARTEV`: an action was recognised.
    Event(Event),
    /// `ARTHB`: heartbeat.
    Heartbeat(Heartbeat),
    /// `ARTCL`: clear the action line.
    Clear {
        /// Sentence sequence number.
        seq: u16,
    },
    /// `ARTAK`: the `ARTEV` or `ARTCL` with this `seq` was received and shown.
    Ack {
        /// The acknowledged sequence number.
        seq: u16,
    },
    /// `ARTNK`: a sentence arrived damaged; send `seq` again.
    Nak {
        /// The sequence number to send again.
        seq: u16,
    },
    /// `ARTRQ`: the board (re)started; send the current state now.
    Request,
}

/// Why a sentence cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// `conf` is above 1000 per-mille.
    ConfOutOfRange {
        /// The value given.
        conf: u16,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::ConfOutOfRange { conf } => {
                write!(f, "conf {conf} is out of range 0..={MAX_CONF}")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

impl Sentence {
    /// The sentence's kind.
    pub const fn kind(&self) -> Kind {
        match self {
            Sentence::Event(_) => Kind::Event,
            Sentence::Heartbeat(_) => Kind::Heartbeat,
            Sentence::Clear { .. } => Kind::Clear,
            Sentence::Ack { .. } => Kind::Ack,
            Sentence::Nak { .. } => Kind::Nak,
            Sentence::Request => Kind::Request,
        }
    }

    /// The `seq` field: the sentence's own number for device sentences, the
    /// number referred to for `ARTAK` and `ARTNK`, none for `ARTRQ`.
    pub const fn seq(&self) -> Option<u16> {
        match self {
            Sentence::Event(e) => Some(e.seq),
            Sentence::Heartbeat(h) => Some(h.seq),
            Sentence::Clear { seq } | Sentence::Ack { seq } | Sentence::Nak { seq } => Some(*seq),
            Sentence::Request => None,
        }
    }

    /// The same sentence with its `seq` replaced (no change for `ARTRQ`).
    pub fn with_seq(mut self, new: u16) -> Self {
        match &mut self {
            Sentence::Event(e) => e.seq = new,
            Sentence::Heartbeat(h) => h.seq = new,
            Sentence::Clear { seq } | Sentence::Ack { seq } | Sentence::Nak { seq } => *seq = new,
            Sentence::Request => {}
        }
        self
    }

    /// The sentence on the wire, `$` through `\r\n`.
    ///
    /// ```
    /// let bytes = arts::Sentence::Ack { seq: 17 }.encode().unwrap();
    /// assert_eq!(&bytes[..], b"$ARTAK,17*3471\r\n");
    /// ```
    pub fn encode(&self) -> Result<Encoded, EncodeError> {
        let mut out = Encoded::new();
        // Every valid sentence fits in MAX_SENTENCE_LEN bytes (the longest,
        // an ARTEV with a 32-byte label and every number at its maximum, takes
        // 74), so the writes below cannot run out of room.
        let _ = out.push(b'$');
        let _ = out.write_str(self.kind().tag());
        match self {
            Sentence::Event(e) => {
                if e.conf > MAX_CONF {
                    return Err(EncodeError::ConfOutOfRange { conf: e.conf });
                }
                let _ = write!(
                    out,
                    ",{},{},{},{},{}",
                    e.seq, e.class_id, e.label, e.conf, e.t_ms
                );
            }
            Sentence::Heartbeat(h) => {
                let _ = write!(
                    out,
                    ",{},{},{},{},{}",
                    h.seq,
                    h.uptime_s,
                    h.fps_x10,
                    h.backend.as_str(),
                    h.status.as_str()
                );
            }
            Sentence::Clear { seq } | Sentence::Ack { seq } | Sentence::Nak { seq } => {
                let _ = write!(out, ",{seq}");
            }
            Sentence::Request => {}
        }
        let crc = crc16(&out[1..]);
        let _ = write!(out, "*{crc:04X}\r\n");
        debug_assert!(out.len() <= MAX_SENTENCE_LEN);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u16, class_id: u16, label: &str, conf: u16, t_ms: u32) -> Sentence {
        Sentence::Event(Event {
            seq,
            class_id,
            label: Label::new(label).unwrap(),
            conf,
            t_ms,
        })
    }

    #[test]
    fn spec_examples_encode_byte_exact() {
        let ev = event(17, 3, "salto backward tucked", 912, 845210);
        assert_eq!(
            &ev.encode().unwrap()[..],
            b"$ARTEV,17,3,salto backward tucked,912,845210*DDA5\r\n"
        );
        let hb = Sentence::Heartbeat(Heartbeat {
            seq: 18,
            uptime_s: 3600,
            fps_x10: 300,
            backend: Backend::Trt,
            status: Status::Ok,
        });
        assert_eq!(
            &hb.encode().unwrap()[..],
            b"$ARTHB,18,3600,300,trt,OK*4EFA\r\n"
        );
        assert_eq!(
            &Sentence::Ack { seq: 17 }.encode().unwrap()[..],
            b"$ARTAK,17*3471\r\n"
        );
        assert_eq!(&Sentence::Request.encode().unwrap()[..], b"$ARTRQ*9261\r\n");
    }

    #[test]
    fn other_sentences_encode_byte_exact() {
        // CRCs computed independently of this crate (Python, bit by bit).
        assert_eq!(
            &Sentence::Clear { seq: 0 }.encode().unwrap()[..],
            b"$ARTCL,0*1BF7\r\n"
        );
        assert_eq!(
            &Sentence::Nak { seq: 65535 }.encode().unwrap()[..],
            b"$ARTNK,65535*6916\r\n"
        );
        let hb = Sentence::Heartbeat(Heartbeat {
            seq: 0,
            uptime_s: 0,
            fps_x10: 0,
            backend: Backend::OrtCpu,
            status: Status::Degraded,
        });
        assert_eq!(
            &hb.encode().unwrap()[..],
            b"$ARTHB,0,0,0,ort-cpu,DEGRADED*2839\r\n"
        );
    }

    #[test]
    fn the_longest_sentence_fits() {
        let ev = event(
            65535,
            65535,
            "01234567890123456789012345678901",
            1000,
            u32::MAX,
        );
        let bytes = ev.encode().unwrap();
        assert_eq!(bytes.len(), 74);
        assert!(bytes.len() <= MAX_SENTENCE_LEN);
    }

    #[test]
    fn conf_above_1000_is_refused() {
        let ev = event(1, 1, "x", 1001, 0);
        assert_eq!(ev.encode(), Err(EncodeError::ConfOutOfRange { conf: 1001 }));
    }

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.as_str()), Some(b));
        }
        for s in Status::ALL {
            assert_eq!(Status::from_name(s.as_str()), Some(s));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::from_tag(k.tag().as_bytes()), Some(k));
        }
        assert_eq!(Backend::from_name("TRT"), None);
        assert_eq!(Status::from_name("ok"), None);
    }
}
