//! Validation of the values a command carries (spec section 7).
//!
//! Strings that end up inside a command line are checked byte by byte against an allow list,
//! so that no `"`, `,`, `\r`, `\n` or control byte can end a parameter or the command early.

use super::error::{EncodeError, Field};

/// Longest host name or NTP server accepted (the DNS limit on a name's text form).
pub const MAX_HOST_LEN: usize = 255;

/// True for the bytes a host name or NTP server may hold: `A-Z a-z 0-9 . - _`.
pub const fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// True for the bytes `AT+QISEND` text data may hold: printable ASCII (`0x20..=0x7E`) except
/// `"`.
pub const fn is_text_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x7E) && b != b'"'
}

/// `value` lies within `field`'s range.
pub(super) fn range(field: Field, value: u32) -> Result<(), EncodeError> {
    match field.range() {
        Some((lo, hi)) if !(lo..=hi).contains(&value) => {
            Err(EncodeError::OutOfRange { field, value })
        }
        _ => Ok(()),
    }
}

/// The optional `value` is absent or within `field`'s range.
pub(super) fn opt_range(field: Field, value: Option<u32>) -> Result<(), EncodeError> {
    value.map_or(Ok(()), |v| range(field, v))
}

/// `bytes` is 1..=`max` bytes long, each allowed by `allowed`.
fn bytes(
    field: Field,
    bytes: &[u8],
    max: usize,
    allowed: fn(u8) -> bool,
) -> Result<(), EncodeError> {
    if bytes.is_empty() {
        return Err(EncodeError::Empty { field });
    }
    if bytes.len() > max {
        return Err(EncodeError::TooLong {
            field,
            len: bytes.len(),
            max,
        });
    }
    match bytes.iter().position(|&b| !allowed(b)) {
        Some(position) => Err(EncodeError::InvalidByte {
            field,
            position,
            byte: bytes.get(position).copied().unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

/// A host name, IPv4 address or NTP server: 1..=255 bytes of `A-Z a-z 0-9 . - _`.
pub(super) fn host(field: Field, host: &str) -> Result<(), EncodeError> {
    bytes(field, host.as_bytes(), MAX_HOST_LEN, is_host_byte)
}

/// `AT+QISEND` text: 1..=`max` printable ASCII bytes, no `"`.
pub(super) fn text(data: &[u8], max: usize) -> Result<(), EncodeError> {
    bytes(Field::Data, data, max, is_text_byte)
}

/// `AT+QISENDEX` data: 1..=`max` bytes of any value.
pub(super) fn binary(data: &[u8], max: usize) -> Result<(), EncodeError> {
    bytes(Field::Data, data, max, |_| true)
}
