//! What the engine is told (its configuration) and what it tells (events, counters).

use crate::error::Error;
use crate::types::{AccessMode, ConnectId, DataFormat, RegistrationStatus, ViewMode};

use super::{Millis, Module};

/// Timeouts and the module settings the engine applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The module on the other end (see [`Module`] and its [`Profile`](super::Profile)): the
    /// PDP context the TCP/IP commands name, and what the identity check at bring-up expects.
    pub module: Module,
    /// Wait for a command's final result (`OK`/`ERROR`). The manual says 300 ms.
    pub command_timeout_ms: u32,
    /// Wait for `+QIOPEN` after `AT+QIOPEN` (the manual recommends 60 s).
    pub open_timeout_ms: u32,
    /// Wait for `SEND OK` / `SEND FAIL`.
    pub send_timeout_ms: u32,
    /// Wait for `CLOSE OK` after the `OK` of `AT+QICLOSE`.
    pub close_timeout_ms: u32,
    /// Wait for the DNS answer.
    pub dns_timeout_ms: u32,
    /// Wait for the NTP answer (used with feature `ntp`).
    pub ntp_timeout_ms: u32,
    /// Added to `timeout × count` of a ping to wait for its summary (used with feature `ping`).
    pub ping_extra_ms: u32,
    /// Silence on the line required before the engine resynchronises (after a timeout or a
    /// reboot): received bytes push the next `AT` out by this much, so that a late answer
    /// cannot be taken for the answer to the next command. Also how long a command answered
    /// by a bare line end waits before it counts as lost to sleep and is sent again (an `AT`
    /// probe or wake-up waits only 20 ms: it is harmless to repeat).
    pub quiet_ms: u32,
    /// Access mode of new sockets.
    pub access_mode: AccessMode,
    /// Receive format applied at start-up.
    pub recv_format: DataFormat,
    /// View mode applied at start-up.
    pub view_mode: ViewMode,
    /// `showlength` applied at start-up.
    pub show_length: bool,
    /// Send printable data with `AT+QISEND` (1024 bytes a command, no hex doubling) instead of
    /// `AT+QISENDEX` (512 bytes, hex). Binary data always goes through `AT+QISENDEX`. Applies
    /// to direct sends and to queued (async) writes alike.
    pub send_text_when_possible: bool,
    /// How long the module may go without answering (`AT` unanswered while resynchronising or
    /// starting up) before the engine gives up on it: every open socket then fails with
    /// [`Error::Timeout`], requests are refused with it, and [`Event::Unresponsive`] is
    /// reported. The engine keeps trying `AT`; once the module answers, new requests work.
    pub unresponsive_ms: u32,
    /// When to wake the module with `AT` before a command. The BC20 sleeps when idle and
    /// answers the first command after waking with a bare line end only (spec section 6.3),
    /// which loses that command. Whatever the policy, a command answered so (a bare line end,
    /// then a quiet line) is sent again after a wake-up, so nothing is lost and no timeout is
    /// spent; the policy decides whether the engine wakes the module *ahead* of a command,
    /// which saves that round trip at the cost of an `AT` after every spell of idle.
    pub wake: WakePolicy,
    /// How long each wake-up `AT` waits for its answer. One answered by a bare line end (the
    /// module woke on it) is followed by the next after 20 ms of quiet line instead; once
    /// the module answers, the command goes out after 20 ms of quiet line if every earlier
    /// `AT` got such a bare answer, after [`Config::quiet_ms`] if one got none (it may still
    /// be answered late). Also how long a start-up or resynchronising `AT` after idle waits,
    /// once something written after idle got no answer at all (a module that takes the
    /// command that wakes it only to wake): it must be shorter than such a module stays
    /// awake.
    pub wake_answer_ms: u32,
    /// Direct push: how long past its own timeout a command's answer (or a send's `SEND OK`)
    /// may wait behind module output held back for a socket whose receive buffer is full (the
    /// driver reads nothing meanwhile, so that no byte is lost), and how long a read of
    /// another socket may find nothing meanwhile (its data may be behind the hold). Then that
    /// socket fails with [`Error::Overflow`] (its data so far is read first; what the module
    /// pushes for it from then on is dropped), and the rest of the output flows again: an
    /// application that does not read one socket cannot hold every other request or socket
    /// back for good. With nothing waiting, output stays held until the socket is read or
    /// closed. The default, 2 minutes, is longer than the longest poll period the blocking
    /// stack is made for (a minute), so that a superloop that reads each socket on every
    /// round never loses data to it.
    pub hold_limit_ms: u32,
    /// While the application waits to read a connected socket (a read found nothing)
    /// and nothing has been written to the module for this long, the driver asks it which
    /// connections it holds (`AT+QISTATE?`, the audit that also finds lost closes). A module
    /// that rebooted without a word (its boot output lost) or whose close announcement never
    /// came then ends the wait with an error ([`Error::Unexpected`], or the peer's close)
    /// instead of never: otherwise the driver only learns of it when it next has something
    /// to say to the module. Each look wakes a sleeping module (one `AT` exchange, and the
    /// wake-up before it); nothing is asked while no reader waits. 0: never.
    pub idle_audit_ms: u32,
}

/// When the engine wakes the module ahead of a command (see [`Config::wake`]). A wake-up
/// sends `AT` until the module answers (at most [`WAKE_ATTEMPTS`] times,
/// [`Config::wake_answer_ms`] each), then the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WakePolicy {
    /// Never ahead: only a command lost to sleep is sent again after a wake-up.
    Never,
    /// Before any command that follows this many milliseconds with nothing sent.
    AfterIdle(u32),
    /// Ahead only once the module has shown that it sleeps (a command answered by a bare
    /// line end): then before any command that follows at least the shortest idle spell
    /// after which the module was found asleep. A module that never sleeps costs nothing,
    /// which matters to a superloop that polls seldom (each wake-up takes a poll).
    Learn,
}

/// Most `AT` commands one wake-up sends before it gives up and sends the command anyway.
pub const WAKE_ATTEMPTS: u8 = 10;

/// A deadline counts as passed only once the engine has looked at the line (drained the UART
/// and called [`Engine::handle_timeout`](super::Engine::handle_timeout)) after it, and then again at least this much later.
/// So an answer that reached the UART while the caller was away (a superloop that polls every
/// few seconds) is always read before its command is declared late, whatever the poll period.
/// The short quiet times of a wake-up and of an `AT` probe answered by a bare line end (both
/// harmless to repeat) need only one look, at least this much after the line went quiet.
pub const LOOK_GRACE_MS: Millis = 50;

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

impl Config {
    /// The defaults, as a constant (a `static` driver state can be built from it).
    pub const DEFAULT: Config = Config {
        module: Module::Bc20,
        command_timeout_ms: 2_000,
        open_timeout_ms: 60_000,
        send_timeout_ms: 30_000,
        close_timeout_ms: 5_000,
        dns_timeout_ms: 60_000,
        ntp_timeout_ms: 60_000,
        ping_extra_ms: 5_000,
        quiet_ms: 300,
        access_mode: AccessMode::Buffer,
        recv_format: DataFormat::Text,
        view_mode: ViewMode::HeaderCrLfData,
        show_length: true,
        send_text_when_possible: false,
        unresponsive_ms: 30_000,
        wake: WakePolicy::Learn,
        wake_answer_ms: 300,
        hold_limit_ms: 120_000,
        idle_audit_ms: 30_000,
    };
}

/// Something that happened, for logs and wake-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// Start-up settings applied; requests are accepted.
    Ready,
    /// The module rebooted; every socket is gone.
    Rebooted,
    /// A socket connected.
    Opened(ConnectId),
    /// A socket failed to connect or broke.
    Failed(ConnectId, Error),
    /// Data arrived for a socket.
    DataReady(ConnectId),
    /// The peer closed a socket.
    PeerClosed(ConnectId),
    /// A send finished.
    SendDone(ConnectId),
    /// A socket is closed and free.
    Closed(ConnectId),
    /// A request's reply is ready.
    ReplyReady,
    /// Network registration changed (`+CEREG` URC).
    Registration(RegistrationStatus),
    /// The PDP context dropped.
    PdpDeactivated,
    /// Module output is held back until the application reads this socket.
    Stalled(ConnectId),
    /// After a timeout, bytes that could not be framed were dropped to resynchronise.
    Desync {
        /// How many bytes.
        dropped: usize,
    },
    /// Received data for a socket could not be framed (a payload header that did not decode,
    /// or a payload not followed by what its layout requires): its bytes were dropped and the
    /// socket failed with [`Error::Malformed`] (or, in buffer access mode, is read again).
    /// `None` when the socket is not known: also a `+QIRD` answer that came with no read in
    /// flight and no read that timed out to belong to, whose data is lost.
    BadPayload(Option<ConnectId>),
    /// The module stopped answering for [`Config::unresponsive_ms`]: open sockets failed with
    /// [`Error::Timeout`].
    Unresponsive,
    /// The module answers again after [`Event::Unresponsive`].
    Responsive,
    /// The module was woken from sleep before a command (see [`Config::wake`]).
    Woken,
    /// UDP datagrams were dropped whole because the socket's boundary store was full (direct
    /// push; buffer mode stops fetching instead).
    DatagramsDropped(ConnectId),
    /// The module's `ATI` answer names another module than [`Config::module`] (`Some`), or
    /// none this driver knows (`None`). Only a warning: the driver goes on.
    ModuleMismatch {
        /// The configured module.
        expected: Module,
        /// The module the answer named, if one of the family.
        found: Option<Module>,
    },
}

/// Counters for diagnostics and benchmarks (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Traffic {
    /// Bytes written to the UART.
    pub tx_bytes: u64,
    /// Bytes read from the UART.
    pub rx_bytes: u64,
    /// Commands sent.
    pub commands: u64,
    /// Payload bytes the module accepted (`SEND OK`).
    pub payload_sent: u64,
    /// Payload bytes received for sockets.
    pub payload_received: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Reboots seen.
    pub reboots: u64,
    /// Wake-ups of a sleeping module (the `AT` sent before a command after idle).
    pub wakes: u64,
    /// Commands sent again because a sleeping module lost them (answered a bare line end).
    pub resent: u64,
    /// UART read or write errors the shells reported (see [`Engine::note_uart_error`](super::Engine::note_uart_error)).
    pub uart_errors: u64,
    /// Whole UDP datagrams dropped for want of room for their boundary (direct push).
    pub datagrams_dropped: u64,
}

impl Traffic {
    /// All counters at zero.
    pub const ZERO: Traffic = Traffic {
        tx_bytes: 0,
        rx_bytes: 0,
        commands: 0,
        payload_sent: 0,
        payload_received: 0,
        timeouts: 0,
        reboots: 0,
        wakes: 0,
        resent: 0,
        uart_errors: 0,
        datagrams_dropped: 0,
    };

    /// What happened between `earlier` and `self`, counter by counter (saturating).
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        Traffic {
            tx_bytes: self.tx_bytes.saturating_sub(earlier.tx_bytes),
            rx_bytes: self.rx_bytes.saturating_sub(earlier.rx_bytes),
            commands: self.commands.saturating_sub(earlier.commands),
            payload_sent: self.payload_sent.saturating_sub(earlier.payload_sent),
            payload_received: self
                .payload_received
                .saturating_sub(earlier.payload_received),
            timeouts: self.timeouts.saturating_sub(earlier.timeouts),
            reboots: self.reboots.saturating_sub(earlier.reboots),
            wakes: self.wakes.saturating_sub(earlier.wakes),
            resent: self.resent.saturating_sub(earlier.resent),
            uart_errors: self.uart_errors.saturating_sub(earlier.uart_errors),
            datagrams_dropped: self
                .datagrams_dropped
                .saturating_sub(earlier.datagrams_dropped),
        }
    }
}

/// A handle on a [`Request`](super::Request) in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ticket(pub(super) u32);

impl Event {
    /// Log the event: warn for what a user should know about (reboots, a lost PDP context,
    /// resynchronisation, a held-back UART), debug for the rest. The shells call this for
    /// every event they drain.
    pub fn log(&self) {
        match self {
            Event::Rebooted
            | Event::PdpDeactivated
            | Event::Desync { .. }
            | Event::Stalled(_)
            | Event::BadPayload(_)
            | Event::Unresponsive
            | Event::DatagramsDropped(_)
            | Event::ModuleMismatch { .. } => crate::fmt::warn!("bc20: {:?}", self),
            _ => crate::fmt::debug!("bc20: {:?}", self),
        }
    }
}
