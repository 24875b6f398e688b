//! The command encoder: typed [`Command`]s to the exact bytes the BC20 expects.
//!
//! Every command is validated in full (ranges, lengths, the bytes of every string) and sized
//! before the first byte is written, so a refused command leaves the output buffer untouched.
//! Host names, NTP servers and text payloads are checked against allow lists (spec section 7):
//! nothing a caller passes can end a parameter or the command line early.
//!
//! ```
//! use quectel_bc20::wire::Command;
//! use quectel_bc20::{AccessMode, ConnectId, ContextId, ServiceType};
//!
//! let open = Command::QiOpen {
//!     context: ContextId::DEFAULT,
//!     id: ConnectId::new(0).unwrap(),
//!     service: ServiceType::Tcp,
//!     remote: "220.180.239.212",
//!     remote_port: 8062,
//!     local_port: 1234,
//!     access_mode: AccessMode::Buffer,
//! };
//! let mut buf = [0u8; quectel_bc20::wire::MAX_COMMAND_LEN];
//! let n = open.encode(&mut buf).unwrap();
//! assert_eq!(&buf[..n], b"AT+QIOPEN=1,0,\"TCP\",\"220.180.239.212\",8062,1234,0\r");
//! ```

mod check;
mod emit;
mod error;
mod sink;
#[cfg(test)]
mod tests;

pub use check::{MAX_HOST_LEN, is_host_byte, is_text_byte};
pub use error::{EncodeError, Field};

use crate::types::{
    AccessMode, ConnectId, ContextId, MAX_SEND_HEX, MAX_SEND_TEXT, QiCfg, QiCfgKey, ServiceType,
};
use sink::{Counter, SliceWriter};

/// `<time_out>` of `AT+QPING` when not given, in seconds (manual 2.1.8).
pub const DEFAULT_PING_TIMEOUT_S: u8 = 4;
/// `<ping_num>` of `AT+QPING` when not given (manual 2.1.8).
pub const DEFAULT_PING_COUNT: u8 = 4;
/// `<ping_size>` of `AT+QPING` when not given, in bytes (manual 2.1.8).
pub const DEFAULT_PING_SIZE: u8 = 32;
/// `<port>` of `AT+QNTP` when not given (spec section 2).
pub const DEFAULT_NTP_PORT: u16 = 123;

/// Number of decimal digits of `n`.
const fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// A quoted host of the longest accepted length, with its quotes.
const QUOTED_HOST_MAX: usize = MAX_HOST_LEN + 2;

/// `AT+QISEND=4,1024,<1024 bytes>\r`.
const QISEND_MAX: usize =
    "AT+QISEND=".len() + 2 + digits(MAX_SEND_TEXT) + 1 + MAX_SEND_TEXT + "\r".len();
/// `AT+QISENDEX=4,512,<1024 hex digits>\r`.
const QISENDEX_MAX: usize =
    "AT+QISENDEX=".len() + 2 + digits(MAX_SEND_HEX) + 1 + 2 * MAX_SEND_HEX + "\r".len();
/// `AT+QIOPEN=3,4,"TCP","<255>",65535,65535,1\r`.
const QIOPEN_MAX: usize =
    "AT+QIOPEN=3,4,\"TCP\",".len() + QUOTED_HOST_MAX + ",65535,65535,1\r".len();
/// `AT+QPING=3,"<255>",255,10,200\r`.
const QPING_MAX: usize = "AT+QPING=3,".len() + QUOTED_HOST_MAX + ",255,10,200\r".len();
/// `AT+QNTP=3,"<255>",65535,1\r`.
const QNTP_MAX: usize = "AT+QNTP=3,".len() + QUOTED_HOST_MAX + ",65535,1\r".len();

/// Longest command this encoder can produce, trailing `\r` included (size buffers with it).
///
/// That is `AT+QISENDEX` with 512 bytes of data; `AT+QISEND` with 1024 text bytes and the
/// longest `AT+QIOPEN`, `AT+QPING` and `AT+QNTP` (with a 255-byte host) are shorter.
pub const MAX_COMMAND_LEN: usize = max(
    max(QISEND_MAX, QISENDEX_MAX),
    max(QIOPEN_MAX, max(QPING_MAX, QNTP_MAX)),
);

/// `AT+QISENDEX=4,512,`: the longest head of a send command.
const SEND_HEAD_MAX: usize = "AT+QISENDEX=".len() + 2 + digits(MAX_SEND_TEXT) + 1;

/// Longest command without send data, trailing `\r` included: `AT+QIOPEN`, `AT+QPING` or
/// `AT+QNTP` with a 255-byte host. A sender that streams the data of `AT+QISEND`/`AT+QISENDEX`
/// after [`encode_send_head`] needs no buffer longer than this.
pub const MAX_CONTROL_LEN: usize = max(SEND_HEAD_MAX, max(QIOPEN_MAX, max(QPING_MAX, QNTP_MAX)));

/// Write the head of a send command to the start of `out`, up to and including the `,`
/// before the data: `AT+QISEND=<id>,<len>,` (`hex` false: `len` text bytes follow, at most
/// 1024) or `AT+QISENDEX=<id>,<len>,` (`hex`: `2 × len` hex digits follow, `len` at most 512).
/// The caller then writes the data and the trailing `\r`; [`Command::QiSend`] and
/// [`Command::QiSendEx`] produce the same bytes whole. Returns the head's length.
pub fn encode_send_head(
    id: ConnectId,
    len: usize,
    hex: bool,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let max = if hex { MAX_SEND_HEX } else { MAX_SEND_TEXT };
    if len == 0 {
        return Err(EncodeError::Empty { field: Field::Data });
    }
    if len > max {
        return Err(EncodeError::TooLong {
            field: Field::Data,
            len,
            max,
        });
    }
    let mut counter = Counter::default();
    emit::send_head(&mut counter, id, len, hex);
    let needed = counter.len;
    let out = out
        .get_mut(..needed)
        .ok_or(EncodeError::BufferTooSmall { needed })?;
    let mut writer = SliceWriter::new(out);
    emit::send_head(&mut writer, id, len, hex);
    Ok(needed)
}

/// The syntactic form of a command (3GPP TS 27.007 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CommandKind {
    /// `AT+X=?`: asks for the supported parameter ranges.
    Test,
    /// `AT+X?`: reads the current setting.
    Read,
    /// `AT+X=<params>`: sets, starts or queries something with parameters.
    Write,
    /// `AT+X`, or a basic command such as `ATE0`: no `=` and no `?`.
    Execute,
}

/// A host command of the BC20 dialect (spec sections 2 and 5).
///
/// Build one, then [`encode`](Command::encode) it into a buffer of [`MAX_COMMAND_LEN`] bytes.
/// Values the types cannot rule out (ranges of plain integers, the bytes of strings) are checked
/// by [`validate`](Command::validate), which every encoding runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command<'a> {
    // ----- bring-up (spec section 5) -----
    /// `AT`: synchronise; retry until `OK`.
    At,
    /// `ATE0` (`false`, echo off) or `ATE1` (`true`, echo on).
    Echo(bool),
    /// `ATZ`: reset to the user profile (turns echo back on).
    Reset,
    /// `ATI`: identification.
    Identify,
    /// `AT+CMEE=<n>`: error report mode, 0..=2 (1 gives `+CME ERROR: <n>`).
    Cmee(u8),
    /// `AT+CPIN?`: SIM state.
    CpinRead,
    /// `AT+CEREG?`: registration state.
    CeregRead,
    /// `AT+CEREG=<n>`: registration report mode, 0..=5.
    CeregSet(u8),
    /// `AT+CGATT?`: packet domain attach state.
    CgattRead,
    /// `AT+CGPADDR=<cid>`: the address of a PDP context.
    CgpaddrRead(ContextId),

    // ----- TCP/IP (spec section 2) -----
    /// `AT+QIOPEN=<context>,<id>,"<service>","<remote>",<remote_port>,<local_port>,<access_mode>`.
    ///
    /// `local_port` and `access_mode` are always written; `protocol_type` never is (IPv4 only).
    QiOpen {
        /// PDP context (only 1 is supported by the module).
        context: ContextId,
        /// Socket to open.
        id: ConnectId,
        /// TCP or UDP client.
        service: ServiceType,
        /// IPv4 address or domain name: 1..=255 bytes of `A-Z a-z 0-9 . - _`.
        remote: &'a str,
        /// Remote port, 1..=65535.
        remote_port: u16,
        /// Local port; 0 lets the module choose.
        local_port: u16,
        /// How received data reaches the host.
        access_mode: AccessMode,
    },
    /// `AT+QIOPEN=?`.
    QiOpenTest,
    /// `AT+QICLOSE=<id>`.
    QiClose(ConnectId),
    /// `AT+QICLOSE=?`.
    QiCloseTest,
    /// `AT+QISTATE?`: every socket.
    QiStateRead,
    /// `AT+QISTATE=?`.
    QiStateTest,
    /// `AT+QISTATE=0,<context>`: the sockets of one PDP context.
    QiStateByContext(ContextId),
    /// `AT+QISTATE=1,<id>`: one socket.
    QiStateById(ConnectId),
    /// `AT+QISEND=<id>,<len>,<data>`, the data written bare.
    QiSend {
        /// Socket to send on.
        id: ConnectId,
        /// 1..=1024 bytes of printable ASCII (`0x20..=0x7E`) other than `"`; binary data goes
        /// through [`Command::QiSendEx`].
        data: &'a [u8],
    },
    /// `AT+QISEND=?`.
    QiSendTest,
    /// `AT+QISENDEX=<id>,<len>,<hex>`.
    QiSendEx {
        /// Socket to send on.
        id: ConnectId,
        /// 1..=512 bytes of any value, written as upper-case hex.
        data: &'a [u8],
    },
    /// `AT+QISENDEX=?`.
    QiSendExTest,
    /// `AT+QIRD=<id>,<len>`: read buffered data.
    QiRd {
        /// Socket to read from.
        id: ConnectId,
        /// Most bytes to read, 1..=512.
        len: u16,
    },
    /// `AT+QIRD=?`.
    QiRdTest,
    /// `AT+QISWTMD=<id>,<mode>`: switch access mode.
    QiSwtmd {
        /// The socket.
        id: ConnectId,
        /// The new access mode.
        mode: AccessMode,
    },
    /// `AT+QISWTMD?`.
    QiSwtmdRead,
    /// `AT+QISWTMD=?`.
    QiSwtmdTest,
    /// `AT+QPING=<context>,"<host>"[,<timeout>[,<count>[,<size>]]]`.
    ///
    /// Parameters are written up to the last one given; earlier ones left out are written as
    /// the manual's defaults ([`DEFAULT_PING_TIMEOUT_S`], [`DEFAULT_PING_COUNT`],
    /// [`DEFAULT_PING_SIZE`]).
    QPing {
        /// PDP context.
        context: ContextId,
        /// IPv4 address or domain name: 1..=255 bytes of `A-Z a-z 0-9 . - _`.
        host: &'a str,
        /// Wait for each reply, 1..=255 s.
        timeout_s: Option<u8>,
        /// Echo requests to send, 1..=10.
        count: Option<u8>,
        /// Size of each request, 32..=200 bytes.
        size: Option<u8>,
    },
    /// `AT+QPING=?`.
    QPingTest,
    /// `AT+QNTP=<context>,"<server>"[,<port>[,<autosettime>]]`.
    ///
    /// With `auto_set` given, the port is written too ([`DEFAULT_NTP_PORT`] when `None`).
    QNtp {
        /// PDP context.
        context: ContextId,
        /// IPv4 address or domain name: 1..=255 bytes of `A-Z a-z 0-9 . - _`.
        server: &'a str,
        /// Server port, 1..=65535.
        port: Option<u16>,
        /// Set the module's clock from the answer (module default: yes).
        auto_set: Option<bool>,
    },
    /// `AT+QNTP=?`.
    QNtpTest,
    /// `AT+QIDNSGIP=<context>,"<host>"`: resolve a name.
    QiDnsGip {
        /// PDP context.
        context: ContextId,
        /// Domain name: 1..=255 bytes of `A-Z a-z 0-9 . - _`.
        host: &'a str,
    },
    /// `AT+QIDNSGIP=?`.
    QiDnsGipTest,
    /// `AT+QICFG="<key>",<value>...`: change a setting.
    QiCfgSet(QiCfg),
    /// `AT+QICFG="<key>"`: query a setting.
    QiCfgQuery(QiCfgKey),
    /// `AT+QICFG=?`.
    QiCfgTest,
    /// `AT+QIGETERROR`: the last TCP/IP error.
    QiGetError,
    /// `AT+QIGETERROR=?`.
    QiGetErrorTest,
}

impl Command<'_> {
    /// The command's name as written on the wire, e.g. `"AT+QIOPEN"` (`"ATE"` for
    /// [`Command::Echo`]), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::At => "AT",
            Command::Echo(_) => "ATE",
            Command::Reset => "ATZ",
            Command::Identify => "ATI",
            Command::Cmee(_) => "AT+CMEE",
            Command::CpinRead => "AT+CPIN",
            Command::CeregRead | Command::CeregSet(_) => "AT+CEREG",
            Command::CgattRead => "AT+CGATT",
            Command::CgpaddrRead(_) => "AT+CGPADDR",
            Command::QiOpen { .. } | Command::QiOpenTest => "AT+QIOPEN",
            Command::QiClose(_) | Command::QiCloseTest => "AT+QICLOSE",
            Command::QiStateRead
            | Command::QiStateTest
            | Command::QiStateByContext(_)
            | Command::QiStateById(_) => "AT+QISTATE",
            Command::QiSend { .. } | Command::QiSendTest => "AT+QISEND",
            Command::QiSendEx { .. } | Command::QiSendExTest => "AT+QISENDEX",
            Command::QiRd { .. } | Command::QiRdTest => "AT+QIRD",
            Command::QiSwtmd { .. } | Command::QiSwtmdRead | Command::QiSwtmdTest => "AT+QISWTMD",
            Command::QPing { .. } | Command::QPingTest => "AT+QPING",
            Command::QNtp { .. } | Command::QNtpTest => "AT+QNTP",
            Command::QiDnsGip { .. } | Command::QiDnsGipTest => "AT+QIDNSGIP",
            Command::QiCfgSet(_) | Command::QiCfgQuery(_) | Command::QiCfgTest => "AT+QICFG",
            Command::QiGetError | Command::QiGetErrorTest => "AT+QIGETERROR",
        }
    }

    /// The syntactic form: test (`=?`), read (`?`), write (`=...`) or execute.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::QiOpenTest
            | Command::QiCloseTest
            | Command::QiStateTest
            | Command::QiSendTest
            | Command::QiSendExTest
            | Command::QiRdTest
            | Command::QiSwtmdTest
            | Command::QPingTest
            | Command::QNtpTest
            | Command::QiDnsGipTest
            | Command::QiCfgTest
            | Command::QiGetErrorTest => CommandKind::Test,
            Command::CpinRead
            | Command::CeregRead
            | Command::CgattRead
            | Command::QiStateRead
            | Command::QiSwtmdRead => CommandKind::Read,
            Command::Cmee(_)
            | Command::CeregSet(_)
            | Command::CgpaddrRead(_)
            | Command::QiOpen { .. }
            | Command::QiClose(_)
            | Command::QiStateByContext(_)
            | Command::QiStateById(_)
            | Command::QiSend { .. }
            | Command::QiSendEx { .. }
            | Command::QiRd { .. }
            | Command::QiSwtmd { .. }
            | Command::QPing { .. }
            | Command::QNtp { .. }
            | Command::QiDnsGip { .. }
            | Command::QiCfgSet(_)
            | Command::QiCfgQuery(_) => CommandKind::Write,
            Command::At
            | Command::Echo(_)
            | Command::Reset
            | Command::Identify
            | Command::QiGetError => CommandKind::Execute,
        }
    }

    /// Check every value the types do not already guarantee: number ranges, the length and the
    /// bytes of strings and data.
    ///
    /// Strings are checked in this order: empty, too long, then the first byte not allowed.
    pub fn validate(&self) -> Result<(), EncodeError> {
        match *self {
            Command::Cmee(n) => check::range(Field::CmeeMode, n.into()),
            Command::CeregSet(n) => check::range(Field::CeregMode, n.into()),
            Command::QiOpen {
                remote,
                remote_port,
                ..
            } => {
                check::host(Field::Host, remote)?;
                check::range(Field::Port, remote_port.into())
            }
            Command::QiSend { data, .. } => check::text(data, MAX_SEND_TEXT),
            Command::QiSendEx { data, .. } => check::binary(data, MAX_SEND_HEX),
            Command::QiRd { len, .. } => check::range(Field::ReadLength, len.into()),
            Command::QPing {
                host,
                timeout_s,
                count,
                size,
                ..
            } => {
                check::host(Field::Host, host)?;
                check::opt_range(Field::Timeout, timeout_s.map(u32::from))?;
                check::opt_range(Field::PingCount, count.map(u32::from))?;
                check::opt_range(Field::PingSize, size.map(u32::from))
            }
            Command::QNtp { server, port, .. } => {
                check::host(Field::Server, server)?;
                check::opt_range(Field::Port, port.map(u32::from))
            }
            Command::QiDnsGip { host, .. } => check::host(Field::Host, host),
            _ => Ok(()),
        }
    }

    /// Length of the encoded command, trailing `\r` included, after [`validate`](Self::validate).
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        self.validate()?;
        let mut counter = Counter::default();
        self.emit(&mut counter);
        Ok(counter.len)
    }

    /// Write the command, trailing `\r` included, to the start of `out` and return its length.
    ///
    /// The command is validated and sized before anything is written: on error `out` is left
    /// untouched. A buffer of [`MAX_COMMAND_LEN`] bytes fits every valid command.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let needed = self.encoded_len()?;
        let out = out
            .get_mut(..needed)
            .ok_or(EncodeError::BufferTooSmall { needed })?;
        let mut writer = SliceWriter::new(out);
        self.emit(&mut writer);
        if writer.overflow || writer.pos != needed {
            // Unreachable: the counter and the writer run the same `emit`. Reported rather
            // than ignored so a future mismatch cannot send a truncated command.
            return Err(EncodeError::BufferTooSmall { needed });
        }
        Ok(needed)
    }
}

// `AT+QISENDEX` is the longest command, as `MAX_COMMAND_LEN`'s documentation says.
const _: () = assert!(MAX_COMMAND_LEN == QISENDEX_MAX);
