//! Requests that are not tied to a socket's data path, and what they answer.

use core::net::Ipv4Addr;

use heapless::{String, Vec};

#[cfg(feature = "ntp")]
use crate::types::NtpTime;
use crate::types::{
    AccessMode, ConnectId, QiCfg, QiCfgKey, RegistrationStatus, ResultCode, ServiceType,
    SocketState,
};
#[cfg(feature = "ping")]
use crate::types::{PingReply, PingSummary};

/// Most addresses kept from one DNS answer.
pub const MAX_DNS_ADDRS: usize = 4;
/// Most echo replies kept from one ping (the module sends at most 10).
#[cfg(feature = "ping")]
pub const MAX_PING_REPLIES: usize = 10;

/// A request for the module, answered by a [`Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request<'a> {
    /// `AT`: is the module there?
    At,
    /// `AT+QIDNSGIP`: resolve a host name to IPv4 addresses.
    Dns(&'a str),
    /// `AT+QPING` (feature `ping`).
    #[cfg(feature = "ping")]
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
    /// `AT+QNTP`: synchronise the module's clock (feature `ntp`).
    #[cfg(feature = "ntp")]
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
    /// Bring the module into service: wait for the start-up settings, check the SIM, and wait
    /// until it is registered (asking once a second), within `timeout_ms` from now. Replies
    /// with the registration status; fails with [`Error::Timeout`](crate::Error::Timeout), or
    /// [`Error::Unexpected`](crate::Error::Unexpected) when the SIM is not ready.
    BringUp {
        /// The whole procedure's deadline, ms.
        timeout_ms: u32,
    },
}

/// One line of `AT+QISTATE`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketInfo {
    /// The socket.
    pub id: ConnectId,
    /// TCP or UDP.
    pub service: ServiceType,
    /// The remote address as printed (an IPv4 address; longer text is cut at 24 bytes).
    pub remote: String<24>,
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
#[cfg(feature = "ping")]
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
#[cfg(feature = "ping")]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PingOutcome {
    /// Every echo in the order the module reported them, failures included.
    pub echoes: Vec<PingEcho, MAX_PING_REPLIES>,
    /// The summary line, when the module printed one.
    pub summary: Option<PingSummary>,
}

#[cfg(feature = "ping")]
impl PingOutcome {
    /// The echo replies, in order.
    pub fn replies(&self) -> impl Iterator<Item = &PingReply> {
        self.echoes.iter().filter_map(|e| match e {
            PingEcho::Reply(r) => Some(r),
            PingEcho::Failed(_) => None,
        })
    }

    /// How many echoes failed (`+QPING: <err>` lines before the summary).
    pub fn failures(&self) -> usize {
        self.echoes
            .iter()
            .filter(|e| matches!(e, PingEcho::Failed(_)))
            .count()
    }
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
    #[cfg(feature = "ping")]
    Ping(PingOutcome),
    /// The synchronised time.
    #[cfg(feature = "ntp")]
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
    String::try_from(s.get(..fit(s, N)).unwrap_or_default()).unwrap_or_default()
}

/// The longest prefix of `s` of at most `cap` bytes that ends at a character boundary (not
/// generic, so the search is compiled once for every bound).
fn fit(s: &str, cap: usize) -> usize {
    let mut n = s.len().min(cap);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

impl Reply {
    /// The status of a [`Request::Registration`] or [`Request::BringUp`] reply.
    pub fn into_registration(self) -> Result<RegistrationStatus, crate::Error> {
        match self {
            Reply::Registration(s) => Ok(s),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// The outcome of a [`Request::Ping`] reply.
    #[cfg(feature = "ping")]
    pub fn into_ping(self) -> Result<PingOutcome, crate::Error> {
        match self {
            Reply::Ping(p) => Ok(p),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// The time of a [`Request::Ntp`] reply.
    #[cfg(feature = "ntp")]
    pub fn into_ntp(self) -> Result<NtpTime, crate::Error> {
        match self {
            Reply::Ntp(t) => Ok(t),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// The sockets of a [`Request::State`] reply (none when the module listed none).
    pub fn into_sockets(self) -> Result<Vec<SocketInfo, 5>, crate::Error> {
        match self {
            Reply::State(l) => Ok(l),
            Reply::Done => Ok(Vec::new()),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// The setting of a [`Request::QueryCfg`] reply.
    pub fn into_cfg(self) -> Result<QiCfg, crate::Error> {
        match self {
            Reply::Cfg(c) => Ok(c),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// The first address of a [`Request::Dns`] reply.
    pub fn into_address(self) -> Result<Ipv4Addr, crate::Error> {
        match self {
            Reply::Dns(addrs) => addrs.first().copied().ok_or(crate::Error::Unexpected),
            _ => Err(crate::Error::Unexpected),
        }
    }

    /// `Ok` for a request that answers nothing but done.
    pub fn into_done(self) -> Result<(), crate::Error> {
        Ok(())
    }
}
