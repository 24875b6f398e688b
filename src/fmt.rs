//! Logging helpers: AT traffic in a readable form.

use core::fmt;

/// Bytes shown as text: printable ASCII as is, `\r` `\n` `\t` `\\` escaped, other bytes as
/// `\xNN`; long runs abbreviated in the middle.
pub struct Printable<'a>(pub &'a [u8]);

/// How many bytes [`Printable`] shows before it abbreviates.
pub const SHOWN: usize = 96;

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let (head, tail) = if bytes.len() > SHOWN {
            (&bytes[..SHOWN - 16], &bytes[bytes.len() - 16..])
        } else {
            (bytes, &[][..])
        };
        write_escaped(f, head)?;
        if !tail.is_empty() {
            write!(f, "…({} bytes)…", bytes.len() - head.len() - tail.len())?;
            write_escaped(f, tail)?;
        }
        Ok(())
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        match b {
            b'\r' => f.write_str("\\r")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            b'\\' => f.write_str("\\\\")?,
            0x20..=0x7e => fmt::Write::write_char(f, char::from(b))?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn escapes_and_abbreviates() {
        assert_eq!(format!("{}", Printable(b"AT\r\n\x00ok")), "AT\\r\\n\\x00ok");
        let long = [b'a'; 300];
        let s = format!("{}", Printable(&long));
        assert!(s.contains("…(204 bytes)…"), "{s}");
        assert_eq!(s.len(), 80 + 16 + "…(204 bytes)…".len());
    }
}
