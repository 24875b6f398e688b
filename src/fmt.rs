//! Logging: one set of macros for `log` (the default) and `defmt` (feature `defmt`), and
//! [`Printable`], AT traffic in a readable form.
//!
//! The crate logs through `trace!`, `debug!`, `info!`, `warn!` and `error!` (crate-private
//! macros of this module).
//! They take `format_args!`-style arguments that both back ends understand: plain `{}` and
//! `{:?}` placeholders, with arguments that implement `Display`/`Debug` for `log` and
//! `defmt::Format` for `defmt` (the crate's types derive it under the feature). Every log line
//! starts with `bc20`, so a `log` filter such as `RUST_LOG=quectel_bc20=trace` or the target
//! `quectel_bc20` selects them.
//!
//! What goes where:
//!
//! - `trace`: every command written (`bc20 > AT+QIOPEN=...`) and every frame received
//!   (`bc20 < ...`), through [`Printable`] (text as is, other bytes escaped, payloads
//!   abbreviated);
//! - `debug`: events (`Opened`, `DataReady`, ...), lines nobody asked for;
//! - `info`: the module is ready;
//! - `warn`: timeouts, reboots, resynchronisation, a full receive buffer holding the UART;
//! - `error`: what the driver cannot recover from on its own (a SIM that is not ready).

use core::fmt;

#[cfg(not(feature = "defmt"))]
mod macros {
    macro_rules! log_trace {
        ($($t:tt)*) => { ::log::trace!($($t)*) };
    }
    macro_rules! log_debug {
        ($($t:tt)*) => { ::log::debug!($($t)*) };
    }
    macro_rules! log_info {
        ($($t:tt)*) => { ::log::info!($($t)*) };
    }
    macro_rules! log_warn {
        ($($t:tt)*) => { ::log::warn!($($t)*) };
    }
    macro_rules! log_error {
        ($($t:tt)*) => { ::log::error!($($t)*) };
    }
    pub(crate) use {
        log_debug as debug, log_error as error, log_info as info, log_trace as trace,
        log_warn as warn,
    };
}

#[cfg(feature = "defmt")]
mod macros {
    macro_rules! log_trace {
        ($($t:tt)*) => { ::defmt::trace!($($t)*) };
    }
    macro_rules! log_debug {
        ($($t:tt)*) => { ::defmt::debug!($($t)*) };
    }
    macro_rules! log_info {
        ($($t:tt)*) => { ::defmt::info!($($t)*) };
    }
    macro_rules! log_warn {
        ($($t:tt)*) => { ::defmt::warn!($($t)*) };
    }
    macro_rules! log_error {
        ($($t:tt)*) => { ::defmt::error!($($t)*) };
    }
    pub(crate) use {
        log_debug as debug, log_error as error, log_info as info, log_trace as trace,
        log_warn as warn,
    };
}

pub(crate) use macros::{debug, error, info, trace, warn};

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

/// With `defmt`, the bytes formatted on the host (`{=[u8]:a}`: a byte-string literal, other
/// bytes escaped), abbreviated as `Display` does: formatting on the device would link
/// `core::fmt` for it.
#[cfg(feature = "defmt")]
impl defmt::Format for Printable<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let bytes = self.0;
        if bytes.len() > SHOWN {
            defmt::write!(
                f,
                "{=[u8]:a}…({=usize} bytes)…{=[u8]:a}",
                &bytes[..SHOWN - 16],
                bytes.len() - SHOWN,
                &bytes[bytes.len() - 16..]
            )
        } else {
            defmt::write!(f, "{=[u8]:a}", bytes)
        }
    }
}

/// Bytes as text with line ends and other bytes escaped. Not `<[u8]>::escape_ascii` from
/// core: it also escapes `"` and `'`, and AT traffic is full of quotes
/// (`+QIURC: \"recv\",0` would be the log of every URC).
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
