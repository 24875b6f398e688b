//! Hex text as used by `AT+QISENDEX` and hex receive mode.

const DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// The value of one hex digit (either case). Returns 0 for a non-digit; callers check digits
/// first (see [`is_hex`]).
pub const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// True when `text` is an even number of hex digits.
pub fn is_hex(text: &[u8]) -> bool {
    text.len().is_multiple_of(2) && text.iter().all(u8::is_ascii_hexdigit)
}

/// Write `data` as upper-case hex into `out`. Returns the number of bytes written
/// (`2 * data.len()`), or `None` (writing nothing) when `out` is too short.
pub fn encode_into(data: &[u8], out: &mut [u8]) -> Option<usize> {
    let n = data.len().checked_mul(2)?;
    let out = out.get_mut(..n)?;
    for (pair, b) in out.chunks_exact_mut(2).zip(data) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    Some(n)
}

/// Decode hex `text` into `out`. Returns the number of bytes written, or `None` (writing
/// nothing) when `text` is not valid hex or `out` is too short.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Option<usize> {
    if !is_hex(text) {
        return None;
    }
    let out = out.get_mut(..text.len() / 2)?;
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
    Some(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_byte() {
        let data: [u8; 256] = core::array::from_fn(|i| i as u8);
        let mut text = [0u8; 512];
        assert_eq!(encode_into(&data, &mut text), Some(512));
        assert_eq!(&text[..6], b"000102");
        assert_eq!(&text[510..], b"FF");
        let mut back = [0u8; 256];
        assert_eq!(decode_into(&text, &mut back), Some(256));
        assert_eq!(back, data);
        assert_eq!(decode_into(b"6a6B", &mut back), Some(2));
        assert_eq!(&back[..2], &[0x6a, 0x6b]);
    }

    #[test]
    fn rejects_bad_input_and_short_buffers() {
        let mut out = [0u8; 4];
        assert_eq!(decode_into(b"123", &mut out), None);
        assert_eq!(decode_into(b"12G4", &mut out), None);
        assert_eq!(encode_into(b"abc", &mut out), None);
        assert_eq!(out, [0; 4], "nothing written on failure");
    }
}
