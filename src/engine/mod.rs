//! The sans-IO engine: five sockets, one command in flight, the `SEND OK` rule, DNS, ping and
//! NTP collectors, deadlines, reboot detection. Both network stacks drive this one engine.
//!
//! # Calling contract
//!
//! The engine does no I/O and reads no clock: time (`now`, milliseconds from any fixed
//! origin) is an argument of every call that may need it.
//!
//! - **Input.** Read UART bytes straight into [`Engine::rx_space`] and announce them with
//!   [`Engine::rx_commit`]. When `rx_space` is empty the engine is holding module output back
//!   because a socket's receive buffer is full (direct push): read that socket, and do not read
//!   the UART until there is room again. Nothing is ever dropped to make room.
//! - **Output.** Write [`Engine::poll_transmit`]'s bytes to the UART and report how many went
//!   out with [`Engine::transmitted`].
//! - **Time.** Call [`Engine::handle_timeout`] when [`Engine::poll_timeout`]'s instant has
//!   passed (calling it more often is harmless).
//! - **Requests.** Socket operations ([`Engine::open`], [`Engine::send`], [`Engine::close`])
//!   and [`Engine::start`] return [`Error::Busy`] while another command is in flight; try
//!   again after the next input. Their outcomes are read back with [`Engine::phase`],
//!   [`Engine::take_send_result`] and [`Engine::take_reply`].
//! - **Events.** [`Engine::poll_event`] tells what happened, for logs and wake-ups; the state
//!   queried through the methods above is authoritative.
//!
//! Before any request is accepted the engine brings the module into a known state on its own:
//! `AT` until it answers (it may be asleep), `ATE0`, `AT+CMEE=1`, and the three `AT+QICFG`
//! settings that decide framing (the module keeps them in NVRAM, so they are never assumed).
//! It does so again after a reboot, which it notices from `RDY` or boot-ROM lines: every socket
//! then reports [`Error::Reset`], never stale data.

mod api;
mod dispatch;
mod jobs;
mod profile;
mod recovery;
mod reply;
mod ring;
mod socket;

pub use profile::{BootOutput, ErrorStyle, IdentityCheck, Module, Profile};
pub use reply::{
    Identity, MAX_DNS_ADDRS, MAX_PING_REPLIES, PingEcho, PingOutcome, Reply, Request, SocketInfo,
};
pub use socket::{MAX_DATAGRAMS, SocketPhase};

use heapless::Deque;

use crate::error::Error;
use crate::types::{AccessMode, ConnectId, DataFormat, RegistrationStatus, SOCKET_COUNT, ViewMode};
use crate::wire::{MAX_COMMAND_LEN, ParseContext, Parser};

use jobs::InFlight;
use socket::Socket;

/// Milliseconds on the caller's clock.
pub type Millis = u64;

/// Timeouts and the module settings the engine applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The module on the other end (see [`Module`] and its [`Profile`]): the PDP context the
    /// TCP/IP commands name, and what the identity check at bring-up expects.
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
    /// Wait for the NTP answer.
    pub ntp_timeout_ms: u32,
    /// Added to `timeout × count` of a ping to wait for its summary.
    pub ping_extra_ms: u32,
    /// Silence on the line required before the engine resynchronises (after a timeout or a
    /// reboot): received bytes push the next `AT` out by this much, so that a late answer
    /// cannot be taken for the answer to the next command.
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
    /// How long each wake-up `AT` waits for its answer.
    pub wake_answer_ms: u32,
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
/// and called [`Engine::handle_timeout`]) after it, and then again at least this much later.
/// So an answer that reached the UART while the caller was away (a superloop that polls every
/// few seconds) is always read before its command is declared late, whatever the poll period.
pub const LOOK_GRACE_MS: Millis = 50;

impl Default for Config {
    fn default() -> Self {
        Config {
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
        }
    }
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
    /// UART read or write errors the shells reported (see [`Engine::note_uart_error`]).
    pub uart_errors: u64,
    /// Whole UDP datagrams dropped for want of room for their boundary (direct push).
    pub datagrams_dropped: u64,
}

impl Traffic {
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

/// A handle on a [`Request`] in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ticket(u32);

/// Receive staging and parsing: the bytes the UART gave that are not framed yet.
#[derive(Debug)]
struct Link<const RX: usize> {
    buf: [u8; RX],
    len: usize,
    parser: Parser,
}

/// The wake-up of a sleeping module in progress: `AT` until it answers.
#[derive(Debug, Clone, Copy)]
struct Waking {
    /// `AT` commands sent so far (the one being written included).
    attempt: u8,
    /// Bytes of `AT\r` written.
    pos: usize,
    /// When the answer to the current `AT` is late (`None` while it is being written).
    deadline: Option<Millis>,
    /// After a late answer, the line must go quiet until then before the command goes out.
    settle_until: Option<Millis>,
}

/// The wake-up command.
const WAKE_AT: &[u8] = b"AT\r";

/// Everything but the receive staging, so frames borrowed from [`Link`] can update it.
#[derive(Debug)]
struct State<const SOCK_RX: usize> {
    config: Config,
    now: Millis,
    sockets: [Socket<SOCK_RX>; SOCKET_COUNT],
    inflight: Option<InFlight>,
    /// `SEND OK` awaited: socket, length, deadline.
    send_wait: Option<(ConnectId, usize, Millis)>,
    /// Start-up step to run next; `None` once ready.
    init: Option<u8>,
    /// Send `AT` before anything else (after a timeout).
    needs_sync: bool,
    /// Earliest time of the next start-up attempt (after a failed `AT`).
    retry_at: Millis,
    reply: Option<(Ticket, Result<Reply, Error>)>,
    next_ticket: u32,
    stalled: Option<ConnectId>,
    events: Deque<Event, 16>,
    traffic: Traffic,
    /// Parse context changes to apply after the current frame.
    ctx: ParseContext,
    tx: [u8; MAX_COMMAND_LEN],
    tx_len: usize,
    tx_pos: usize,
    /// When the last byte came in.
    last_rx: Millis,
    /// When the host last wrote to the module (for sleep).
    last_tx: Millis,
    /// The latest look at the line ([`Engine::handle_timeout`]) that is at least
    /// [`LOOK_GRACE_MS`] older than the one before it.
    look_anchor: Millis,
    /// Deadlines up to this instant count as passed: the line was looked at after them, and
    /// again at least [`LOOK_GRACE_MS`] later.
    look_certified: Millis,
    /// Since when the module has not answered `AT` (start-up or resynchronisation).
    unanswered_since: Option<Millis>,
    /// The module has not answered for [`Config::unresponsive_ms`].
    unresponsive: bool,
    /// A wake-up in progress.
    waking: Option<Waking>,
    /// The shell should pulse the wake pin (see [`Engine::take_wake_request`]).
    wake_request: bool,
    /// The shortest idle spell after which the module was found asleep ([`WakePolicy::Learn`]).
    sleeps_after: Option<Millis>,
    /// How long the host had been silent when the command in flight started going out.
    idle_before: Millis,
    /// Ask the module which sockets it holds at start-up (the driver may have restarted
    /// while the module kept sockets of the previous run).
    stale_check: bool,
    /// Sockets the module holds that nobody here opened: closed before any request.
    stale: u8,
    /// Since when a request has been refused for want of the command slot: background reads
    /// step aside for it a moment, so a long download cannot starve requests.
    user_waiting_since: Option<Millis>,
    /// The outcome of the last identity check (an `ATI` answer against [`Config::module`]).
    identity: Option<IdentityCheck>,
}

/// The protocol engine. `SOCK_RX` is each socket's receive buffer (at least the largest push
/// the module makes, 1500 bytes on siblings); `RX` the staging of unframed UART bytes (at least
/// `2 × SOCK_RX + 128` in hex receive mode, `SOCK_RX + 1200` otherwise).
#[derive(Debug)]
pub struct Engine<const SOCK_RX: usize = 1536, const RX: usize = 3200> {
    link: Link<RX>,
    st: State<SOCK_RX>,
}

impl<const SOCK_RX: usize, const RX: usize> Engine<SOCK_RX, RX> {
    /// A new engine; it starts by bringing the module up.
    pub fn new(config: Config) -> Self {
        let ctx = ParseContext {
            view_mode: config.view_mode,
            show_length: config.show_length,
            recv_format: config.recv_format,
            max_payload: SOCK_RX,
            ..ParseContext::default()
        };
        Engine {
            link: Link {
                buf: [0; RX],
                len: 0,
                parser: Parser::new(ctx),
            },
            st: State {
                config,
                now: 0,
                sockets: Default::default(),
                inflight: None,
                send_wait: None,
                init: Some(0),
                needs_sync: false,
                retry_at: 0,
                reply: None,
                next_ticket: 1,
                stalled: None,
                events: Deque::new(),
                traffic: Traffic::default(),
                ctx,
                tx: [0; MAX_COMMAND_LEN],
                tx_len: 0,
                tx_pos: 0,
                last_rx: 0,
                last_tx: 0,
                look_anchor: 0,
                look_certified: 0,
                unanswered_since: None,
                unresponsive: false,
                waking: None,
                wake_request: false,
                sleeps_after: None,
                idle_before: 0,
                stale_check: true,
                stale: 0,
                user_waiting_since: None,
                identity: None,
            },
        }
    }

    /// The configuration (with the settings changed by [`Request::SetCfg`] since).
    pub fn config(&self) -> &Config {
        &self.st.config
    }

    /// The outcome of the last identity check: an answer to [`Request::Identify`] (which the
    /// shells' `bring_up` sends) compared with [`Config::module`]. `None` before any.
    pub fn identity(&self) -> Option<IdentityCheck> {
        self.st.identity
    }

    /// True once the start-up settings are applied.
    pub fn is_ready(&self) -> bool {
        self.st.init.is_none()
    }

    /// True while the module does not answer (see [`Config::unresponsive_ms`]).
    pub fn is_unresponsive(&self) -> bool {
        self.st.unresponsive
    }

    /// Traffic counters.
    pub fn traffic(&self) -> Traffic {
        self.st.traffic
    }

    /// Parser counters (unknown lines, skipped bytes…).
    pub fn parse_stats(&self) -> crate::wire::ParseStats {
        self.link.parser.stats()
    }

    /// The shell could not read or write the UART: counted in [`Traffic::uart_errors`]. The
    /// commands concerned time out and the engine resynchronises on its own.
    pub fn note_uart_error(&mut self) {
        self.st.traffic.uart_errors = self.st.traffic.uart_errors.saturating_add(1);
    }

    // ----- input -----

    /// Free room for UART bytes. Empty while output is held back (see the module docs).
    pub fn rx_space(&mut self) -> &mut [u8] {
        if self.st.stalled.is_some() {
            return &mut [];
        }
        self.link.buf.get_mut(self.link.len..).unwrap_or_default()
    }

    /// `n` bytes were written into [`Engine::rx_space`]: frame and apply them.
    ///
    /// Bytes are never judged by when they are read: a caller that polls seldom reads in one
    /// go what arrived over seconds. Staged bytes that never became a frame are dropped by
    /// [`Engine::handle_timeout`], once the line has been seen quiet for [`Config::quiet_ms`].
    pub fn rx_commit(&mut self, n: usize, now: Millis) {
        let room = RX - self.link.len;
        let n = n.min(room);
        self.st.now = self.st.now.max(now);
        if n > 0 {
            self.st.last_rx = self.st.now;
        }
        self.link.len += n;
        self.st.traffic.rx_bytes = self.st.traffic.rx_bytes.saturating_add(n as u64);
        if n > 0 && self.st.inflight.is_none() && (self.st.init.is_some() || self.st.needs_sync) {
            self.st.retry_at = self.st.retry_at.max(
                self.st
                    .now
                    .saturating_add(u64::from(self.st.config.quiet_ms)),
            );
        }
        self.process();
    }

    /// Copy `bytes` in and apply them; returns how many were taken (fewer when output is held
    /// back: keep the rest and offer it again later).
    pub fn handle_rx(&mut self, bytes: &[u8], now: Millis) -> usize {
        let space = self.rx_space();
        let n = bytes.len().min(space.len());
        space[..n].copy_from_slice(&bytes[..n]);
        self.rx_commit(n, now);
        n
    }

    fn process(&mut self) {
        let mut pos = 0;
        loop {
            let input = self.link.buf.get(pos..self.link.len).unwrap_or_default();
            match self.link.parser.parse(input) {
                crate::wire::Parse::NeedMore => break,
                crate::wire::Parse::Skipped { consumed } => {
                    crate::fmt::trace!(
                        "bc20 < (skipped) {}",
                        crate::fmt::Printable(&input[..consumed])
                    );
                    pos += consumed
                }
                crate::wire::Parse::Frame { frame, consumed } => {
                    if !self.st.accepts(&frame) {
                        break;
                    }
                    if input[..consumed] != b"\r\n"[..] {
                        crate::fmt::trace!("bc20 < {}", crate::fmt::Printable(&input[..consumed]));
                    }
                    self.st.on_frame(frame);
                    pos += consumed;
                    self.link.parser.ctx = self.st.ctx;
                }
            }
        }
        self.link.buf.copy_within(pos..self.link.len, 0);
        self.link.len -= pos;
        if self
            .link
            .buf
            .get(..self.link.len)
            .is_some_and(|b| !b.is_empty() && b != b"\r")
            && let Some(f) = &mut self.st.inflight
        {
            // The start of a real answer: the module is awake.
            f.bare_only = false;
        }
        if self.link.len == RX && self.st.stalled.is_none() {
            // Full of bytes that do not make a frame: the buffer is too small for what the
            // module sends, or the module lies about a length. Drop them and resynchronise.
            self.st.desync(self.link.len);
            self.link.len = 0;
            self.link.parser.reset();
        }
    }

    // ----- output -----

    /// The next bytes to write to the UART, if any. Before a command that follows a spell
    /// of idle, these are a wake-up `AT` (see [`Config::wake`]); check
    /// [`Engine::take_wake_request`] first if the module has a wake pin.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<&[u8]> {
        self.st.now = self.st.now.max(now);
        if self.st.tx_pos >= self.st.tx_len && self.st.waking.is_none() {
            self.st.schedule();
        }
        if self.st.tx_pos == 0 && self.st.tx_len > 0 {
            self.st.maybe_wake();
        }
        if let Some(w) = &self.st.waking {
            if w.deadline.is_some() || w.settle_until.is_some() {
                return None;
            }
            return WAKE_AT.get(w.pos..).filter(|b| !b.is_empty());
        }
        self.st
            .tx
            .get(self.st.tx_pos..self.st.tx_len)
            .filter(|b| !b.is_empty())
    }

    /// `n` bytes of [`Engine::poll_transmit`] were written.
    pub fn transmitted(&mut self, n: usize, now: Millis) {
        self.st.now = self.st.now.max(now);
        if n > 0 {
            self.st.last_tx = self.st.now;
        }
        self.st.traffic.tx_bytes = self.st.traffic.tx_bytes.saturating_add(n as u64);
        if let Some(w) = &mut self.st.waking {
            w.pos = (w.pos + n).min(WAKE_AT.len());
            if w.pos == WAKE_AT.len() && w.deadline.is_none() {
                w.deadline = Some(
                    self.st
                        .now
                        .saturating_add(u64::from(self.st.config.wake_answer_ms)),
                );
            }
            return;
        }
        let n = n.min(self.st.tx_len - self.st.tx_pos);
        self.st.tx_pos += n;
        if self.st.tx_pos == self.st.tx_len {
            self.st.sent_out();
        }
    }

    /// True once when the engine is about to wake the module: pulse its wake pin (PSM_EINT)
    /// now, if it has one, before writing what [`Engine::poll_transmit`] gives.
    pub fn take_wake_request(&mut self) -> bool {
        core::mem::take(&mut self.st.wake_request)
    }

    // ----- time -----

    /// The earliest instant at which [`Engine::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.st.next_deadline(self.link.len > 0)
    }

    /// Apply every deadline that has passed at `now`. Call it after reading every byte the
    /// UART has ready: deadlines are judged against what was read (see [`LOOK_GRACE_MS`]).
    pub fn handle_timeout(&mut self, now: Millis) {
        self.st.now = self.st.now.max(now);
        self.st.look();
        let staged = self.link.len;
        let stale = staged > 0
            && self.st.stalled.is_none()
            && self.st.passed(
                self.st
                    .last_rx
                    .saturating_add(u64::from(self.st.config.quiet_ms)),
            );
        if stale {
            // The module finishes what it starts: a fragment left unfinished through a quiet
            // line is noise, and must not join what comes next (a stray "OK" would become the
            // answer to the next command).
            self.st.desync(staged);
            self.link.len = 0;
            self.link.parser.reset();
        }
        if self.st.expire(self.link.len > 0) {
            self.st.desync(self.link.len);
            self.link.len = 0;
            self.link.parser.reset();
        }
    }

    // ----- events -----

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.st.events.pop_front()
    }
}

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

impl<const SOCK_RX: usize> State<SOCK_RX> {
    fn event(&mut self, e: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    /// Record a look at the line (see [`LOOK_GRACE_MS`]).
    fn look(&mut self) {
        if self.now >= self.look_anchor.saturating_add(LOOK_GRACE_MS) {
            self.look_certified = self.look_anchor;
            self.look_anchor = self.now;
        }
    }

    /// True when deadline `d` has passed by what the engine has seen of the line.
    fn passed(&self, d: Millis) -> bool {
        d <= self.look_certified
    }

    /// When a look can next find `d` passed.
    fn when_passed(&self, d: Millis) -> Millis {
        if d <= self.look_certified {
            d
        } else {
            d.max(self.look_anchor.saturating_add(LOOK_GRACE_MS))
        }
    }

    fn desync(&mut self, dropped: usize) {
        if dropped > 0 {
            crate::fmt::warn!("bc20: dropped {} unframed bytes to resynchronise", dropped);
            self.event(Event::Desync { dropped });
        }
    }
}
