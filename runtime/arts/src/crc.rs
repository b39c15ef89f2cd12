//! CRC-16/CCITT-FALSE, the checksum of every ARTS/1 sentence.

/// CRC-16/CCITT-FALSE of `bytes`: polynomial 0x1021, initial value 0xFFFF,
/// no reflection, no final XOR.
///
/// ```
/// assert_eq!(arts::crc16(b"123456789"), 0x29B1);
/// ```
pub const fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    let mut i = 0;
    while i < bytes.len() {
        crc ^= (bytes[i] as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        i += 1;
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::crc16;

    #[test]
    fn check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn empty_input_is_the_initial_value() {
        assert_eq!(crc16(b""), 0xFFFF);
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            crc16(b"ARTEV,17,3,salto backward tucked,912,845210"),
            0xDDA5
        );
        assert_eq!(crc16(b"ARTHB,18,3600,300,trt,OK"), 0x4EFA);
        assert_eq!(crc16(b"ARTAK,17"), 0x3471);
        assert_eq!(crc16(b"ARTRQ"), 0x9261);
    }
}
