//! Text fields: what they may hold, and how a device makes any label fit.

use core::fmt;

/// Longest label a sentence carries, in bytes.
pub const MAX_LABEL_LEN: usize = 32;

/// Whether `byte` may appear in a text field: printable ASCII 0x20..=0x7E
/// except `$ * , \ !` and `~`.
pub const fn is_text_byte(byte: u8) -> bool {
    matches!(byte, 0x20..=0x7E) && !matches!(byte, b'$' | b'*' | b',' | b'\\' | b'!' | b'~')
}

/// A class label as ARTS/1 carries it: at most 32 bytes, every byte allowed
/// in a text field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Label(heapless::String<MAX_LABEL_LEN>);

/// Why a string is not a valid [`Label`] as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelError {
    /// Longer than [`MAX_LABEL_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Holds a byte that text fields do not allow.
    Disallowed {
        /// The byte offset of the first such byte.
        offset: usize,
    },
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelError::TooLong { len } => {
                write!(
                    f,
                    "label is {len} bytes long, at most {MAX_LABEL_LEN} allowed"
                )
            }
            LabelError::Disallowed { offset } => {
                write!(f, "label holds a disallowed character at byte {offset}")
            }
        }
    }
}

impl core::error::Error for LabelError {}

impl Label {
    /// The label `text` exactly as given, if it is valid as it stands.
    pub fn new(text: &str) -> Result<Self, LabelError> {
        Self::from_bytes(text.as_bytes())
    }

    /// The label held by the raw bytes of a text field, if they are valid.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LabelError> {
        if bytes.len() > MAX_LABEL_LEN {
            return Err(LabelError::TooLong { len: bytes.len() });
        }
        if let Some(offset) = bytes.iter().position(|&b| !is_text_byte(b)) {
            return Err(LabelError::Disallowed { offset });
        }
        let mut label = heapless::String::new();
        for &b in bytes {
            // Every byte is ASCII and the length was checked above.
            let _ = label.push(b as char);
        }
        Ok(Label(label))
    }

    /// The label a device sends for `text`: common accented Latin letters
    /// folded to their plain form (`é` to `e`, `ß` to `ss`; in decomposed
    /// form the combining accent is dropped), every other
    /// character a text field does not allow replaced by `-`, and the result
    /// cut to 32 bytes.
    ///
    /// ```
    /// use arts::Label;
    /// assert_eq!(Label::sanitize("Tsukahara, ½ turn").as_str(), "Tsukahara- - turn");
    /// assert_eq!(Label::sanitize("Yurchenko Doppelsalto rückwärts gestreckt").as_str(),
    ///            "Yurchenko Doppelsalto ruckwarts ");
    /// ```
    pub fn sanitize(text: &str) -> Self {
        let mut label = heapless::String::<MAX_LABEL_LEN>::new();
        'chars: for c in text.chars() {
            if COMBINING_ACCENTS.contains(&c) {
                continue;
            }
            let folded = fold(c);
            let mut one = [0u8; 4];
            let plain: &str = match folded {
                Some(plain) => plain,
                None if c.is_ascii() && is_text_byte(c as u8) => c.encode_utf8(&mut one),
                None => "-",
            };
            for b in plain.chars() {
                if label.push(b).is_err() {
                    break 'chars;
                }
            }
        }
        Label(label)
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Combining diacritical marks: the accent of a letter in decomposed form.
const COMBINING_ACCENTS: core::ops::RangeInclusive<char> = '\u{300}'..='\u{36F}';

/// The plain form of a common accented Latin letter (Latin-1 Supplement,
/// Latin Extended-A, the Romanian comma-below letters and capital sharp s),
/// or `None` for any other character.
///
/// A fixed table rather than a transliteration crate: ARTS/1 wants every
/// character outside this set replaced by `-`, not spelled out.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'À'..='Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ð' | 'Ď' | 'Đ' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È'..='Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ì'..='Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' | 'ĸ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'Ò'..='Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' | 'ș' => "s",
        'ß' => "ss",
        'ẞ' => "SS",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Þ' => "TH",
        'þ' => "th",
        'Ù'..='Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ý' | 'Ŷ' | 'Ÿ' => "Y",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bytes_follow_the_spec() {
        for b in 0u8..=255 {
            let expected = (0x20..=0x7E).contains(&b) && !b"$*,\\!~".contains(&b);
            assert_eq!(is_text_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn valid_labels_are_kept_as_they_are() {
        let label = Label::new("salto backward tucked").unwrap();
        assert_eq!(label.as_str(), "salto backward tucked");
        assert_eq!(Label::sanitize("salto backward tucked"), label);
        assert_eq!(Label::new("").unwrap().as_str(), "");
    }

    #[test]
    fn strict_labels_refuse_what_the_spec_forbids() {
        assert_eq!(Label::new("a,b"), Err(LabelError::Disallowed { offset: 1 }));
        assert_eq!(Label::new("é"), Err(LabelError::Disallowed { offset: 0 }));
        assert_eq!(
            Label::new("0123456789012345678901234567890123"),
            Err(LabelError::TooLong { len: 34 })
        );
        assert!(Label::new("01234567890123456789012345678901").is_ok());
    }

    #[test]
    fn sanitize_folds_replaces_and_cuts() {
        assert_eq!(Label::sanitize("Écart façile").as_str(), "Ecart facile");
        assert_eq!(Label::sanitize("Großer Ærø").as_str(), "Grosser AEro");
        assert_eq!(Label::sanitize("Łódź Dvořák").as_str(), "Lodz Dvorak");
        assert_eq!(Label::sanitize("Ștefan Țară").as_str(), "Stefan Tara");
        assert_eq!(
            Label::sanitize("E\u{301}cart fac\u{327}ile").as_str(),
            "Ecart facile"
        );
        assert_eq!(Label::sanitize("a$b*c,d\\e!f~g").as_str(), "a-b-c-d-e-f-g");
        assert_eq!(Label::sanitize("tab\there\nnl").as_str(), "tab-here-nl");
        assert_eq!(Label::sanitize("空翻 – 1½").as_str(), "-- - 1-");
        let long = Label::sanitize("double salto backward stretched with 2/1 twist");
        assert_eq!(long.as_str(), "double salto backward stretched ");
        assert_eq!(long.as_str().len(), MAX_LABEL_LEN);
        // A folded letter that would cross the limit is cut, byte by byte.
        let edge = Label::sanitize("0123456789012345678901234567890ß");
        assert_eq!(edge.as_str(), "0123456789012345678901234567890s");
    }

    #[test]
    fn sanitized_labels_are_always_valid() {
        for text in [
            "",
            "ÀÉÎÕÜ",
            "\u{0}\u{7f}\u{80}",
            "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
        ] {
            let label = Label::sanitize(text);
            assert_eq!(Label::new(label.as_str()).as_ref(), Ok(&label), "{text:?}");
        }
    }
}
