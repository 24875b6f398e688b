//! Errors typed by cause, mapped once to the error kinds of `embedded-io` and `embedded-nal`.

use core::fmt;

use crate::types::{CmeError, QiError, ResultCode};
use crate::wire::EncodeError;

/// What the module answered when it refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ModemError {
    /// A plain `ERROR` (no code: `AT+CMEE=0`, or a command the module does not know).
    Error,
    /// `+CME ERROR: <n>`.
    Cme(CmeError),
    /// A result code in a URC (`+QIOPEN: <id>,<err>`, dnsgip, ping, NTP).
    Result(ResultCode),
    /// `SEND FAIL`: the module did not take the data.
    SendFail,
}

impl ModemError {
    /// The TCP/IP error code this stands for, when there is one.
    pub fn qi(&self) -> Option<QiError> {
        match self {
            ModemError::Cme(c) => c.qi(),
            ModemError::Result(ResultCode::Qi(e)) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for ModemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModemError::Error => f.write_str("ERROR"),
            ModemError::Cme(c) => c.fmt(f),
            ModemError::Result(r) => r.fmt(f),
            ModemError::SendFail => f.write_str("SEND FAIL"),
        }
    }
}

/// Every error of the driver, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The UART failed.
    Transport(embedded_io::ErrorKind),
    /// A wait ran out (command answer, `+QIOPEN`, `SEND OK`, DNS, ping, NTP, registration).
    Timeout,
    /// The module's output could not be decoded where it mattered (a lying length, garbage).
    Malformed,
    /// Valid output that makes no sense at this point (e.g. more data than was asked for), or
    /// a connection the module no longer holds though it never announced it closed (its
    /// `AT+QISTATE?` no longer lists it: a restart whose boot output was lost, a context
    /// dropped unannounced).
    Unexpected,
    /// The module refused.
    Modem(ModemError),
    /// A parameter the caller gave cannot be sent (out of range, unsafe string).
    InvalidArgument(EncodeError),
    /// All five sockets are in use.
    NoSocket,
    /// Direct push: the socket's receive buffer stayed full while a command's answer (or a
    /// `SEND OK`) waited behind its data in the module's output, for
    /// [`Config::hold_limit_ms`](crate::engine::Config::hold_limit_ms) past its timeout, or
    /// while a reader of another socket found nothing for that long. The data received
    /// before is still read first; what the module pushed for the socket from then on was
    /// dropped.
    Overflow,
    /// The socket is not connected, or the peer closed it and its data has been read.
    Closed,
    /// The module rebooted: every socket it had is gone.
    Reset,
    /// The PDP context dropped (`+QIURC: "pdpdeact"`): every socket is gone.
    PdpDeactivated,
    /// Something the BC20 cannot do (IPv6, a UDP server, reverse DNS), or UDP in a build
    /// without the `udp` feature.
    Unsupported,
    /// The driver is busy with another command; try again (shells turn this into waiting).
    Busy,
    /// The connection ended (the peer closed it) before every byte written to it could go
    /// out: `unsent` queued bytes were dropped, after `sent` bytes of the connection had been
    /// accepted by the module (`SEND OK`). Both saturate at `u32::MAX`.
    Unsent {
        /// Bytes of the connection the module accepted, from its start.
        sent: u32,
        /// Bytes written by the application that never went out.
        unsent: u32,
    },
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::InvalidArgument(e)
    }
}

impl From<ModemError> for Error {
    fn from(e: ModemError) -> Self {
        Error::Modem(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(k) => write!(f, "UART error: {k:?}"),
            Error::Timeout => f.write_str("timed out waiting for the module"),
            Error::Malformed => f.write_str("module output could not be decoded"),
            Error::Unexpected => f.write_str("unexpected module output"),
            Error::Modem(e) => write!(f, "module error: {e}"),
            Error::InvalidArgument(e) => write!(f, "invalid argument: {e}"),
            Error::NoSocket => f.write_str("no free socket"),
            Error::Overflow => f.write_str("receive buffer not read in time; data dropped"),
            Error::Closed => f.write_str("socket closed"),
            Error::Reset => f.write_str("the module rebooted"),
            Error::PdpDeactivated => f.write_str("PDP context deactivated"),
            Error::Unsupported => f.write_str("not supported by the BC20"),
            Error::Busy => f.write_str("driver busy"),
            Error::Unsent { sent, unsent } => write!(
                f,
                "connection closed with {unsent} bytes unsent ({sent} bytes went out)"
            ),
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self {
            Error::Transport(k) => *k,
            Error::Timeout => K::TimedOut,
            Error::Malformed | Error::Unexpected => K::InvalidData,
            Error::Modem(ModemError::Result(ResultCode::Qi(QiError::SocketConnectFailed))) => {
                K::ConnectionRefused
            }
            Error::Modem(_) => K::Other,
            Error::InvalidArgument(_) => K::InvalidInput,
            Error::NoSocket | Error::Overflow => K::OutOfMemory,
            Error::Closed | Error::Unsent { .. } => K::BrokenPipe,
            Error::Reset | Error::PdpDeactivated => K::ConnectionReset,
            Error::Unsupported => K::Unsupported,
            Error::Busy => K::Other,
        }
    }
}

impl embedded_nal::TcpError for Error {
    fn kind(&self) -> embedded_nal::TcpErrorKind {
        match self {
            Error::Closed | Error::Unsent { .. } | Error::Reset | Error::PdpDeactivated => {
                embedded_nal::TcpErrorKind::PipeClosed
            }
            _ => embedded_nal::TcpErrorKind::Other,
        }
    }
}
