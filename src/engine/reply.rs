//! Requests that are not tied to a socket's data path, and what they answer.

use core::net::Ipv4Addr;

use heapless::{String, Vec};

use crate::types::{
    AccessMode, ConnectId, NtpTime, PingReply, PingSummary, QiCfg, QiCfgKey, RegistrationStatus,
    ResultCode, ServiceType, SocketState,
};

/// Most addresses kept from one DNS answer.
pub const MAX_DNS_ADDRS: usize = 4;
/// Most echo replies kept from one ping (the module sends at most 10).
pub const MAX_PING_REPLIES: usize = 10;

/// A request for the module, answered by a [`Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request<'a> {
    /// `AT`: is the module there?
    At,
    /// `AT+QIDNSGIP`: resolve a host name to IPv4 addresses.
    Dns(&'a str),
    /// `AT+QPING`.
    Ping {
        /// Host name or dotted IPv4 address.
        host: &'a str,
        /// Seconds to wait for each echo (1..=255).
        timeout_s: u8,
        /// Echo requests (1..=10).
        count: u8,
        /// Request size in bytes (32..=200).
        size: u8,
    },
    /// `AT+QNTP`: synchronise the module's clock.
    Ntp {
        /// NTP server.
        server: &'a str,
        /// Its port (123 normally).
        port: u16,
    },
    /// `AT+QISTATE?` (all sockets) or `AT+QISTATE=1,<id>`.
    State(Option<ConnectId>),
    /// `AT+QIGETERROR`.
    LastError,
    /// `AT+QICFG=...` with a value.
    SetCfg(QiCfg),
    /// `AT+QICFG="<key>"`: read a setting.
    QueryCfg(QiCfgKey),
    /// `AT+QISWTMD`: switch a socket's access mode.
    SwitchMode(ConnectId, AccessMode),
    /// `AT+CPIN?`.
    SimStatus,
    /// `AT+CEREG?`.
    Registration,
    /// `AT+CGATT?`.
    Attached,
    /// `AT+CGPADDR=1`.
    Address,
    /// `ATI`.
    Identify,
}

/// One line of `AT+QISTATE`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketInfo {
    /// The socket.
    pub id: ConnectId,
    /// TCP or UDP.
    pub service: ServiceType,
    /// The remote address as printed (truncated to 64 bytes).
    pub remote: String<64>,
    /// Remote port.
    pub remote_port: u16,
    /// Local port.
    pub local_port: u16,
    /// State.
    pub state: SocketState,
    /// Access mode.
    pub access_mode: AccessMode,
}

/// One echo of a ping, as the module reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PingEcho {
    /// `+QPING: 0,"<ip>",<bytes>,<time>,<ttl>`.
    Reply(PingReply),
    /// `+QPING: <err>` for this echo (569: it timed out).
    Failed(ResultCode),
}

/// The outcome of a ping: the echoes and the summary.
///
/// A ping whose every echo failed is an error (the module prints a lone `+QPING: <err>`,
/// spec 6.6); one with at least one reply is an outcome, with the failed echoes in
/// [`PingOutcome::echoes`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PingOutcome {
    /// Each echo reply, in order.
    pub replies: Vec<PingReply, MAX_PING_REPLIES>,
    /// Per-echo failures (`+QPING: <err>` lines before the summary).
    pub failures: u8,
    /// Every echo in the order the module reported them, failures included.
    pub echoes: Vec<PingEcho, MAX_PING_REPLIES>,
    /// The summary line, when the module printed one.
    pub summary: Option<PingSummary>,
}

/// Answer to `ATI`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Identity {
    /// `Quectel_Ltd`.
    pub manufacturer: String<32>,
    /// `Quectel_BC20`.
    pub model: String<32>,
    /// The firmware revision.
    pub revision: String<48>,
}

impl Identity {
    /// Compare the answer with `module`'s profile: the model line or the revision names the
    /// module (`Quectel_BC660K-GL`, `BC660KGLAAR01A05`), another of the family, or none known.
    pub fn check(&self, module: super::Module) -> super::IdentityCheck {
        let named = [
            self.model.as_str(),
            self.revision.as_str(),
            self.manufacturer.as_str(),
        ]
        .into_iter()
        .find_map(super::Module::identify);
        match named {
            Some(m) if m == module => super::IdentityCheck::Matches,
            Some(m) => super::IdentityCheck::Other(m),
            None => super::IdentityCheck::Unknown,
        }
    }
}

/// What a [`Request`] answered.
// No allocator to box the large variants with; the engine holds one reply at a time.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reply {
    /// Done; nothing to report.
    Done,
    /// The addresses of a DNS answer (at least one).
    Dns(Vec<Ipv4Addr, MAX_DNS_ADDRS>),
    /// Ping results.
    Ping(PingOutcome),
    /// The synchronised time.
    Ntp(NtpTime),
    /// Socket states.
    State(Vec<SocketInfo, 5>),
    /// The last TCP/IP error and its description.
    LastError {
        /// The code.
        result: ResultCode,
        /// The module's description.
        description: String<64>,
    },
    /// A QICFG setting.
    Cfg(QiCfg),
    /// `+CPIN: <code>`.
    Sim(String<24>),
    /// Registration status.
    Registration(RegistrationStatus),
    /// Attached to packet service.
    Attached(bool),
    /// The PDP address, when the module has one.
    Address(Option<Ipv4Addr>),
    /// `ATI` lines.
    Identity(Identity),
}

/// Copy `s` into a bounded string, cutting at a character boundary when it is too long.
pub(crate) fn bounded<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}
