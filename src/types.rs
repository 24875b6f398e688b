//! Typed values of the BC20 TCP/IP dialect.
//!
//! Every number that comes off the wire is turned into one of these types by the parser, so the
//! rest of the crate never handles a raw `u8` that could be out of range.

use core::fmt;
use core::net::Ipv4Addr;

/// Number of socket services the BC20 offers (`connectID` 0..=4).
pub const SOCKET_COUNT: usize = 5;

/// Longest text payload of one `AT+QISEND` (manual 2.1.4).
pub const MAX_SEND_TEXT: usize = 1024;
/// Longest payload of one `AT+QISENDEX`, in bytes (manual 2.1.6).
pub const MAX_SEND_HEX: usize = 512;
/// Longest read of one `AT+QIRD` (manual 2.1.5).
pub const MAX_READ: usize = 512;

/// A socket service index, `connectID` in the manual: always 0..=4.
///
/// One byte, and `Option<ConnectId>` one byte too (the five values leave room for `None`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectId(Slot);

/// The five values a [`ConnectId`] can take (an enum, so the compiler knows the rest is free).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
enum Slot {
    S0 = 0,
    S1 = 1,
    S2 = 2,
    S3 = 3,
    S4 = 4,
}

impl ConnectId {
    /// All five ids, in order.
    pub const ALL: [ConnectId; SOCKET_COUNT] = [
        ConnectId(Slot::S0),
        ConnectId(Slot::S1),
        ConnectId(Slot::S2),
        ConnectId(Slot::S3),
        ConnectId(Slot::S4),
    ];

    /// The id `n`, or `None` when `n` is not 0..=4.
    pub const fn new(n: u8) -> Option<Self> {
        if (n as usize) < SOCKET_COUNT {
            Some(Self::ALL[n as usize])
        } else {
            None
        }
    }

    /// The id as a number.
    pub const fn get(self) -> u8 {
        self.0 as u8
    }

    /// The id as an array index (0..=4).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for ConnectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectId").field(&self.get()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ConnectId {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ConnectId({=u8})", self.get());
    }
}

impl fmt::Display for ConnectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// A PDP context id, `contextID` in the manuals: 1..=3 in the BC20's syntax (only 1 supported by
/// the module), 0 on the BC660K (its default PDN, see [`crate::engine::Module::Bc660k`]), up to 16
/// on BG96-class siblings. The type accepts 0..=16, so every sibling's output decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ContextId(u8);

impl ContextId {
    /// Context 1, the only one the BC20 supports.
    pub const DEFAULT: ContextId = ContextId(1);

    /// Context 0, the BC660K's default PDN context.
    pub const ZERO: ContextId = ContextId(0);

    /// The context `n`, or `None` when `n` is above 16.
    pub const fn new(n: u8) -> Option<Self> {
        if n <= 16 { Some(ContextId(n)) } else { None }
    }

    /// The context id as a number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl Default for ContextId {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Declares a small enum whose variants map one-to-one onto wire numbers.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $n:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// The value for wire number `n`, or `None` when the manual defines no such value.
            pub const fn from_wire(n: u8) -> Option<Self> {
                match n { $($n => Some(Self::$var),)+ _ => None }
            }

            /// The wire number of this value.
            pub const fn wire(self) -> u8 {
                match self { $(Self::$var => $n),+ }
            }
        }
    };
}

wire_enum! {
    /// How received data reaches the host (`access_mode`, manual 1.2).
    #[derive(Default)]
    AccessMode {
        /// Buffer access: the module keeps the data and reports `+QIURC: "recv"`; the host reads
        /// it with `AT+QIRD`.
        #[default]
        Buffer = 0,
        /// Direct push: the module writes the data right after a `+QIURC: "recv",<id>,<len>`.
        DirectPush = 1,
    }
}

wire_enum! {
    /// The state of a socket service in `+QISTATE` (manual 2.1.3).
    SocketState {
        /// The client connection has not been established.
        Initial = 0,
        /// The client is connecting.
        Opening = 1,
        /// The client connection has been established.
        Connected = 2,
        /// The connection is closing (after `+QIURC: "closed"`).
        Closing = 3,
    }
}

wire_enum! {
    /// Format of received data (`AT+QICFG="dataformat"`, manual 2.1.11).
    #[derive(Default)]
    DataFormat {
        /// Raw bytes.
        #[default]
        Text = 0,
        /// A hex string, two characters a byte.
        Hex = 1,
    }
}

wire_enum! {
    /// Layout of received data (`AT+QICFG="viewmode"`, manual 2.1.11).
    #[derive(Default)]
    ViewMode {
        /// Header, `\r\n`, then the data.
        #[default]
        HeaderCrLfData = 0,
        /// Header, `,`, then the data on the same line.
        HeaderCommaData = 1,
    }
}

/// The protocol of a socket service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ServiceType {
    /// A TCP client.
    Tcp,
    /// A UDP client.
    Udp,
}

impl ServiceType {
    /// The name used on the wire, without quotes.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceType::Tcp => "TCP",
            ServiceType::Udp => "UDP",
        }
    }

    /// Parse the wire name (without quotes).
    pub fn from_wire(s: &[u8]) -> Option<Self> {
        match s {
            b"TCP" => Some(ServiceType::Tcp),
            b"UDP" => Some(ServiceType::Udp),
            _ => None,
        }
    }
}

/// Declares the TCP/IP error codes of manual chapter 3 with their descriptions.
macro_rules! qi_errors {
    ($($var:ident = $code:literal, $desc:literal;)+) => {
        /// A TCP/IP error code of manual chapter 3 (550..=574).
        ///
        /// `Display` prints the manual's description, which is also what `AT+QIGETERROR` prints
        /// (in lower case there: see [`QiError::module_text`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum QiError { $(#[doc = $desc] $var),+ }

        impl QiError {
            /// Every code, in numeric order.
            pub const ALL: &'static [QiError] = &[$(QiError::$var),+];

            /// The error for `code`, or `None` outside 550..=574.
            pub const fn from_code(code: u16) -> Option<Self> {
                match code { $($code => Some(QiError::$var),)+ _ => None }
            }

            /// The numeric code.
            pub const fn code(self) -> u16 {
                match self { $(QiError::$var => $code),+ }
            }

            /// The manual's description, e.g. `"Invalid parameters"`.
            pub const fn description(self) -> &'static str {
                match self { $(QiError::$var => $desc),+ }
            }
        }
    };
}

qi_errors! {
    Unknown = 550, "Unknown error";
    Blocked = 551, "Operation blocked";
    InvalidParameters = 552, "Invalid parameters";
    MemoryNotEnough = 553, "Memory not enough";
    CreateSocketFailed = 554, "Create socket failed";
    NotSupported = 555, "Operation not supported";
    SocketBindFailed = 556, "Socket bind failed";
    SocketListenFailed = 557, "Socket listen failed";
    SocketWriteFailed = 558, "Socket write failed";
    SocketReadFailed = 559, "Socket read failed";
    SocketAcceptFailed = 560, "Socket accept failed";
    OpenPdpFailed = 561, "Open PDP context failed";
    ClosePdpFailed = 562, "Close PDP context failed";
    SocketIdInUse = 563, "Socket identity has been used";
    DnsBusy = 564, "DNS busy";
    DnsParseFailed = 565, "DNS parse failed";
    SocketConnectFailed = 566, "Socket connect failed";
    SocketClosed = 567, "Socket has been closed";
    Busy = 568, "Operation busy";
    Timeout = 569, "Operation timeout";
    PdpBroken = 570, "PDP context broken down";
    CancelSend = 571, "Cancel send";
    NotAllowed = 572, "Operation not allowed";
    ApnNotConfigured = 573, "APN not configured";
    PortBusy = 574, "Port busy";
}

impl QiError {
    /// The description as the module prints it after `+QIGETERROR: <code>,` (the manual's
    /// example prints `552,invalid parameters`: lower case, unquoted).
    pub fn module_text(self) -> LowerAscii {
        LowerAscii(self.description())
    }
}

impl fmt::Display for QiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

/// Displays an ASCII string in lower case, without allocating.
#[derive(Debug, Clone, Copy)]
pub struct LowerAscii(&'static str);

impl fmt::Display for LowerAscii {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            f.write_char(c.to_ascii_lowercase())?;
        }
        Ok(())
    }
}

/// A result code as the module reports it in `+QIOPEN`, `+QPING`, `+QNTP`, dnsgip URCs and
/// `+CME ERROR`: success, a known TCP/IP error, or any other number (kept, never rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResultCode {
    /// 0: operation successful.
    Success,
    /// One of the codes of manual chapter 3.
    Qi(QiError),
    /// A code the manual does not list.
    Other(u16),
}

impl ResultCode {
    /// Classify a numeric code.
    #[inline(never)] // called from several decoders: one copy, not one each
    pub const fn from_code(code: u16) -> Self {
        if code == 0 {
            return ResultCode::Success;
        }
        match QiError::from_code(code) {
            Some(e) => ResultCode::Qi(e),
            None => ResultCode::Other(code),
        }
    }

    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            ResultCode::Success => 0,
            ResultCode::Qi(e) => e.code(),
            ResultCode::Other(c) => c,
        }
    }

    /// True for code 0.
    pub const fn is_success(self) -> bool {
        matches!(self, ResultCode::Success)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultCode::Success => f.write_str("Operation successful (0)"),
            ResultCode::Qi(e) => e.fmt(f),
            ResultCode::Other(c) => write!(f, "error {c}"),
        }
    }
}

/// A `+CME ERROR: <n>` code (3GPP TS 27.007 9.2, plus the TCP/IP codes 550..=574 the BC20
/// prints there with `AT+CMEE=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CmeError(pub u16);

impl CmeError {
    /// The TCP/IP error this code stands for, when it is one of 550..=574.
    pub const fn qi(self) -> Option<QiError> {
        QiError::from_code(self.0)
    }

    /// A short description for the common 3GPP codes and the TCP/IP codes; `None` otherwise.
    pub const fn description(self) -> Option<&'static str> {
        if let Some(e) = self.qi() {
            return Some(e.description());
        }
        Some(match self.0 {
            0 => "phone failure",
            1 => "no connection to phone",
            3 => "operation not allowed",
            4 => "operation not supported",
            5 => "PH-SIM PIN required",
            10 => "SIM not inserted",
            11 => "SIM PIN required",
            12 => "SIM PUK required",
            13 => "SIM failure",
            14 => "SIM busy",
            15 => "SIM wrong",
            16 => "incorrect password",
            20 => "memory full",
            23 => "not found",
            30 => "no network service",
            31 => "network timeout",
            50 => "incorrect parameters",
            100 => "unknown",
            _ => return None,
        })
    }
}

impl fmt::Display for CmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(d) => write!(f, "+CME ERROR {}: {}", self.0, d),
            None => write!(f, "+CME ERROR {}", self.0),
        }
    }
}

/// One line of `+QISTATE` (manual 2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketStatus<'a> {
    /// The socket.
    pub id: ConnectId,
    /// TCP or UDP.
    pub service: ServiceType,
    /// The remote address as the module printed it.
    pub remote: &'a str,
    /// Remote port.
    pub remote_port: u16,
    /// Local port (0 when not yet assigned).
    pub local_port: u16,
    /// Socket state. Sibling firmware reported 3 for a connected socket: do not gate data on it.
    pub state: SocketState,
    /// The PDP context.
    pub context: ContextId,
    /// The access mode.
    pub access_mode: AccessMode,
}

/// One per-echo line of `+QPING` (manual 2.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PingReply {
    /// Address that answered.
    #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
    pub ip: Ipv4Addr,
    /// Size of the echo request, in bytes.
    pub bytes: u16,
    /// Round-trip time, in milliseconds.
    pub time_ms: u32,
    /// Time to live of the reply.
    pub ttl: u8,
}

/// The summary line of `+QPING` (manual 2.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PingSummary {
    /// Final result: success or why it failed.
    pub result: ResultCode,
    /// Echo requests sent.
    pub sent: u16,
    /// Replies received.
    pub received: u16,
    /// Requests lost.
    pub lost: u16,
    /// Fastest round trip, ms.
    pub min_ms: u32,
    /// Slowest round trip, ms.
    pub max_ms: u32,
    /// Average round trip, ms.
    pub avg_ms: u32,
}

/// A time from `+QNTP` (manual 2.1.9): local time plus the offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NtpTime {
    /// Full year (a two-digit year `YY` means `2000 + YY`).
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59 (60 for a leap second).
    pub second: u8,
    /// Offset from UTC in quarter hours, -48..=56.
    pub offset_quarters: i8,
}

impl NtpTime {
    /// The offset from UTC in minutes.
    pub const fn offset_minutes(&self) -> i16 {
        self.offset_quarters as i16 * 15
    }

    /// Seconds since 1970-01-01T00:00:00Z, counting the offset (the time is local time at
    /// `offset_quarters`).
    pub fn unix_timestamp(&self) -> i64 {
        // Days from civil, after Howard Hinnant's algorithm.
        let (y, m) = if self.month <= 2 {
            (i64::from(self.year) - 1, i64::from(self.month) + 9)
        } else {
            (i64::from(self.year), i64::from(self.month) - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs - i64::from(self.offset_minutes()) * 60
    }
}

impl fmt::Display for NtpTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = self.offset_minutes();
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.unsigned_abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            off / 60,
            off % 60
        )
    }
}

/// The `AT+QICFG` settings (manual 2.1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QiCfg {
    /// `"dataformat",<send>,<recv>`.
    DataFormat {
        /// Send format (the manual says the module ignores it).
        send: DataFormat,
        /// Receive format.
        recv: DataFormat,
    },
    /// `"viewmode",<n>`.
    ViewMode(ViewMode),
    /// `"showlength",<n>`.
    ShowLength(bool),
}

/// Which `AT+QICFG` setting a query names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QiCfgKey {
    /// `"dataformat"`.
    DataFormat,
    /// `"viewmode"`.
    ViewMode,
    /// `"showlength"`.
    ShowLength,
}

impl QiCfgKey {
    /// The key as written on the wire, without quotes.
    pub const fn as_str(self) -> &'static str {
        match self {
            QiCfgKey::DataFormat => "dataformat",
            QiCfgKey::ViewMode => "viewmode",
            QiCfgKey::ShowLength => "showlength",
        }
    }

    /// Parse a key (without quotes).
    pub fn from_wire(s: &[u8]) -> Option<Self> {
        match s {
            b"dataformat" => Some(QiCfgKey::DataFormat),
            b"viewmode" => Some(QiCfgKey::ViewMode),
            b"showlength" => Some(QiCfgKey::ShowLength),
            _ => None,
        }
    }
}

impl QiCfg {
    /// The key this setting belongs to.
    pub const fn key(&self) -> QiCfgKey {
        match self {
            QiCfg::DataFormat { .. } => QiCfgKey::DataFormat,
            QiCfg::ViewMode(_) => QiCfgKey::ViewMode,
            QiCfg::ShowLength(_) => QiCfgKey::ShowLength,
        }
    }
}

/// Network registration status, the `<stat>` of `+CEREG` (3GPP TS 27.007 10.1.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RegistrationStatus {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown.
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// Any other value.
    Other(u8),
}

impl RegistrationStatus {
    /// Classify a `<stat>` number.
    pub const fn from_wire(n: u8) -> Self {
        match n {
            0 => Self::NotRegistered,
            1 => Self::Home,
            2 => Self::Searching,
            3 => Self::Denied,
            4 => Self::Unknown,
            5 => Self::Roaming,
            n => Self::Other(n),
        }
    }

    /// The `<stat>` number.
    pub const fn wire(self) -> u8 {
        match self {
            Self::NotRegistered => 0,
            Self::Home => 1,
            Self::Searching => 2,
            Self::Denied => 3,
            Self::Unknown => 4,
            Self::Roaming => 5,
            Self::Other(n) => n,
        }
    }

    /// Registered, at home or roaming (stat 1 or 5).
    pub const fn is_registered(self) -> bool {
        matches!(self, Self::Home | Self::Roaming)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_id_range() {
        for n in 0..=255u8 {
            assert_eq!(ConnectId::new(n).is_some(), n <= 4, "{n}");
        }
        assert_eq!(ConnectId::ALL.map(|c| c.get()), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn qi_errors_cover_550_to_574() {
        assert_eq!(QiError::ALL.len(), 25);
        for (i, e) in QiError::ALL.iter().enumerate() {
            assert_eq!(e.code(), 550 + i as u16);
            assert_eq!(QiError::from_code(e.code()), Some(*e));
        }
        assert_eq!(QiError::from_code(549), None);
        assert_eq!(QiError::from_code(575), None);
        assert_eq!(
            QiError::InvalidParameters.description(),
            "Invalid parameters"
        );
    }

    #[test]
    fn result_code_classifies() {
        assert_eq!(ResultCode::from_code(0), ResultCode::Success);
        assert_eq!(
            ResultCode::from_code(566),
            ResultCode::Qi(QiError::SocketConnectFailed)
        );
        assert_eq!(ResultCode::from_code(9), ResultCode::Other(9));
        assert_eq!(ResultCode::from_code(569).code(), 569);
    }

    #[test]
    fn ntp_unix_time() {
        // 2026-07-03 00:56:27 at UTC+8 is 2026-07-02T16:56:27Z = 1783011387.
        let t = NtpTime {
            year: 2026,
            month: 7,
            day: 3,
            hour: 0,
            minute: 56,
            second: 27,
            offset_quarters: 32,
        };
        assert_eq!(t.unix_timestamp(), 1_783_011_387);
        let epoch = NtpTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            offset_quarters: 0,
        };
        assert_eq!(epoch.unix_timestamp(), 0);
    }
}
