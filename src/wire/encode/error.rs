//! Why a [`Command`](super::Command) could not be encoded.

use core::fmt;

/// The parameter of a command that an [`EncodeError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// A host name or IPv4 address: the remote of `AT+QIOPEN`, the host of `AT+QPING`, the
    /// host name of `AT+QIDNSGIP`.
    Host,
    /// The NTP server of `AT+QNTP`.
    Server,
    /// The payload of `AT+QISEND` or `AT+QISENDEX`.
    Data,
    /// A remote port: `<remote_port>` of `AT+QIOPEN` or `<port>` of `AT+QNTP` (1..=65535).
    Port,
    /// `<time_out>` of `AT+QPING`, in seconds (1..=255).
    Timeout,
    /// `<ping_num>` of `AT+QPING` (1..=10).
    PingCount,
    /// `<ping_size>` of `AT+QPING`, in bytes (32..=200).
    PingSize,
    /// `<read_length>` of `AT+QIRD` (1..=512).
    ReadLength,
    /// The error report mode of `AT+CMEE` (0..=2).
    CmeeMode,
    /// The report mode of `AT+CEREG` (0..=5).
    CeregMode,
}

impl Field {
    /// The parameter's name, for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Host => "host",
            Field::Server => "NTP server",
            Field::Data => "data",
            Field::Port => "port",
            Field::Timeout => "ping timeout",
            Field::PingCount => "ping count",
            Field::PingSize => "ping size",
            Field::ReadLength => "read length",
            Field::CmeeMode => "CMEE mode",
            Field::CeregMode => "CEREG mode",
        }
    }

    /// The accepted range of a numeric parameter, `None` for strings and data.
    pub const fn range(self) -> Option<(u32, u32)> {
        match self {
            Field::Host | Field::Server | Field::Data => None,
            Field::Port => Some((1, 65_535)),
            Field::Timeout => Some((1, 255)),
            Field::PingCount => Some((1, 10)),
            Field::PingSize => Some((32, 200)),
            Field::ReadLength => Some((1, crate::types::MAX_READ as u32)),
            Field::CmeeMode => Some((0, 2)),
            Field::CeregMode => Some((0, 5)),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command was not encoded. Whenever one of these is returned, no byte was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is shorter than the command; `needed` bytes (trailing `\r` included)
    /// would fit it.
    BufferTooSmall {
        /// Length of the encoded command.
        needed: usize,
    },
    /// A byte that may not appear in this parameter (for host names anything but
    /// `A-Z a-z 0-9 . - _`; for text data anything but printable ASCII other than `"`).
    InvalidByte {
        /// The parameter.
        field: Field,
        /// Index of the first offending byte in the parameter.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The parameter must not be empty.
    Empty {
        /// The parameter.
        field: Field,
    },
    /// The parameter is longer than the module accepts.
    TooLong {
        /// The parameter.
        field: Field,
        /// Its length, in bytes.
        len: usize,
        /// The longest accepted length, in bytes.
        max: usize,
    },
    /// A number outside the range the manual allows (see [`Field::range`]).
    OutOfRange {
        /// The parameter.
        field: Field,
        /// The refused value.
        value: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: command needs {needed} bytes")
            }
            EncodeError::InvalidByte {
                field,
                position,
                byte,
            } => write!(
                f,
                "invalid byte 0x{byte:02X} at position {position} in {field}"
            ),
            EncodeError::Empty { field } => write!(f, "{field} is empty"),
            EncodeError::TooLong { field, len, max } => {
                write!(f, "{field} too long: {len} bytes, at most {max}")
            }
            EncodeError::OutOfRange { field, value } => match field.range() {
                Some((lo, hi)) => write!(f, "{field} {value} out of range {lo}..={hi}"),
                None => write!(f, "{field} {value} out of range"),
            },
        }
    }
}

impl core::error::Error for EncodeError {}
