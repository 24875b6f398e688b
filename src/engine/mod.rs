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

mod dispatch;
mod jobs;
mod reply;
mod ring;
mod socket;

pub use reply::{
    Identity, MAX_DNS_ADDRS, MAX_PING_REPLIES, PingOutcome, Reply, Request, SocketInfo,
};
pub use socket::SocketPhase;

use heapless::Deque;

use crate::error::Error;
use crate::types::{
    AccessMode, ConnectId, DataFormat, MAX_SEND_HEX, RegistrationStatus, SOCKET_COUNT, ServiceType,
    ViewMode,
};
use crate::wire::{Command, MAX_COMMAND_LEN, ParseContext, Parser};

use jobs::{InFlight, Job};
use socket::Socket;

/// Milliseconds on the caller's clock.
pub type Millis = u64;

/// Timeouts and the module settings the engine applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
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
    /// `AT+QISENDEX` (512 bytes, hex). Binary data always goes through `AT+QISENDEX`.
    pub send_text_when_possible: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
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
    /// When the last byte came in.
    last_rx: Millis,
}

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
    /// How long the ping in flight may take (timeout × count), ms.
    ping_budget: u32,
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
                last_rx: 0,
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
                ping_budget: 0,
                reply: None,
                next_ticket: 1,
                stalled: None,
                events: Deque::new(),
                traffic: Traffic::default(),
                ctx,
                tx: [0; MAX_COMMAND_LEN],
                tx_len: 0,
                tx_pos: 0,
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.st.config
    }

    /// True once the start-up settings are applied.
    pub fn is_ready(&self) -> bool {
        self.st.init.is_none()
    }

    /// Traffic counters.
    pub fn traffic(&self) -> Traffic {
        self.st.traffic
    }

    /// Parser counters (unknown lines, skipped bytes…).
    pub fn parse_stats(&self) -> crate::wire::ParseStats {
        self.link.parser.stats()
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
    pub fn rx_commit(&mut self, n: usize, now: Millis) {
        let room = RX - self.link.len;
        let n = n.min(room);
        self.st.now = self.st.now.max(now);
        if n > 0 {
            let old = self.link.len;
            let quiet = u64::from(self.st.config.quiet_ms);
            if old > 0 && self.st.stalled.is_none() && self.st.now >= self.link.last_rx + quiet {
                // Unless output is held back, staged bytes are the start of a frame. The
                // module finishes what it starts; one left unfinished through a quiet line is
                // noise, and must not join what comes next (a stray "OK" would become the
                // answer to the next command).
                self.st.desync(old);
                self.link.buf.copy_within(old..old + n, 0);
                self.link.len = 0;
                self.link.parser.reset();
            }
            self.link.last_rx = self.st.now;
        }
        self.link.len += n;
        self.st.traffic.rx_bytes = self.st.traffic.rx_bytes.saturating_add(n as u64);
        self.st.now = self.st.now.max(now);
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
        if self.link.len == RX && self.st.stalled.is_none() {
            // Full of bytes that do not make a frame: the buffer is too small for what the
            // module sends, or the module lies about a length. Drop them and resynchronise.
            self.st.desync(self.link.len);
            self.link.len = 0;
            self.link.parser.reset();
        }
    }

    // ----- output -----

    /// The next bytes to write to the UART, if any.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<&[u8]> {
        self.st.now = self.st.now.max(now);
        if self.st.tx_pos >= self.st.tx_len {
            self.st.schedule();
        }
        self.st
            .tx
            .get(self.st.tx_pos..self.st.tx_len)
            .filter(|b| !b.is_empty())
    }

    /// `n` bytes of [`Engine::poll_transmit`] were written.
    pub fn transmitted(&mut self, n: usize, now: Millis) {
        self.st.now = self.st.now.max(now);
        let n = n.min(self.st.tx_len - self.st.tx_pos);
        self.st.tx_pos += n;
        self.st.traffic.tx_bytes = self.st.traffic.tx_bytes.saturating_add(n as u64);
        if self.st.tx_pos == self.st.tx_len {
            self.st.sent_out();
        }
    }

    // ----- time -----

    /// The earliest instant at which [`Engine::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.st.next_deadline()
    }

    /// Apply every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.st.now = self.st.now.max(now);
        let stuck = self.link.len;
        if self.st.expire(stuck > 0) {
            self.st.desync(stuck);
            self.link.len = 0;
            self.link.parser.reset();
        }
    }

    // ----- events -----

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.st.events.pop_front()
    }

    // ----- sockets -----

    /// Reserve a free socket for `service`.
    pub fn allocate(&mut self, service: ServiceType) -> Result<ConnectId, Error> {
        let id = ConnectId::ALL
            .into_iter()
            .find(|id| self.st.sockets[id.index()].phase == SocketPhase::Free)
            .ok_or(Error::NoSocket)?;
        let s = &mut self.st.sockets[id.index()];
        s.reset();
        s.phase = SocketPhase::Reserved;
        s.service = service;
        Ok(id)
    }

    /// The phase of socket `id`.
    pub fn phase(&self, id: ConnectId) -> SocketPhase {
        self.st.sockets[id.index()].phase
    }

    /// Start connecting a reserved socket to `remote:port` (`AT+QIOPEN`). Watch
    /// [`Engine::phase`] for `Connected` or `Failed`.
    pub fn open(&mut self, id: ConnectId, remote: &str, port: u16) -> Result<(), Error> {
        self.open_from(id, remote, port, 0)
    }

    /// [`Engine::open`] from a chosen local port (0: the module picks one).
    pub fn open_from(
        &mut self,
        id: ConnectId,
        remote: &str,
        port: u16,
        local_port: u16,
    ) -> Result<(), Error> {
        let s = &self.st.sockets[id.index()];
        if s.phase != SocketPhase::Reserved {
            return Err(Error::Unexpected);
        }
        let cmd = Command::QiOpen {
            context: crate::types::ContextId::DEFAULT,
            id,
            service: s.service,
            remote,
            remote_port: port,
            local_port,
            access_mode: self.st.config.access_mode,
        };
        cmd.validate()?;
        self.st.user_slot_free()?;
        self.st.begin(&cmd, Job::Open(id))?;
        let mode = self.st.config.access_mode;
        let s = &mut self.st.sockets[id.index()];
        s.phase = SocketPhase::Opening;
        s.mode = mode;
        s.open_deadline = None;
        self.st.ctx.set_access_mode(id, mode);
        self.link.parser.ctx = self.st.ctx;
        Ok(())
    }

    /// [`Engine::open_from`] to a socket address, as the network traits give it: IPv4 only
    /// (the BC20 has no IPv6), [`Error::Unsupported`] otherwise.
    pub fn open_addr(
        &mut self,
        id: ConnectId,
        remote: core::net::SocketAddr,
        local_port: u16,
    ) -> Result<(), Error> {
        let core::net::SocketAddr::V4(v4) = remote else {
            return Err(Error::Unsupported);
        };
        let mut ip: heapless::String<16> = heapless::String::new();
        // "255.255.255.255" is 15 bytes: the write cannot fail.
        let _ = core::fmt::write(&mut ip, format_args!("{}", v4.ip()));
        self.open_from(id, &ip, v4.port(), local_port)
    }

    /// Start sending the first chunk of `data` on a connected socket: up to 512 bytes with
    /// `AT+QISENDEX` (or 1024 printable bytes with `AT+QISEND` when configured). Returns the
    /// chunk's length; [`Engine::take_send_result`] tells when the module took it.
    pub fn send(&mut self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        let s = &self.st.sockets[id.index()];
        match s.phase {
            SocketPhase::Connected => {}
            SocketPhase::Failed(e) => return Err(e),
            SocketPhase::Opening => return Err(Error::Busy),
            _ => return Err(Error::Closed),
        }
        if s.send_result.is_some() || self.st.send_wait.is_some() {
            return Err(Error::Busy);
        }
        if data.is_empty() {
            return Ok(0);
        }
        self.st.user_slot_free()?;
        let text = self.st.config.send_text_when_possible
            && data
                .iter()
                .take(crate::types::MAX_SEND_TEXT)
                .all(|&b| crate::wire::encode::is_text_byte(b));
        let cmd = if text {
            let n = data.len().min(crate::types::MAX_SEND_TEXT);
            Command::QiSend {
                id,
                data: &data[..n],
            }
        } else {
            let n = data.len().min(MAX_SEND_HEX);
            Command::QiSendEx {
                id,
                data: &data[..n],
            }
        };
        let len = match cmd {
            Command::QiSend { data, .. } | Command::QiSendEx { data, .. } => data.len(),
            _ => 0,
        };
        self.st.begin(&cmd, Job::Send { id, len })?;
        Ok(len)
    }

    /// Queue `data` for sending on a connected socket; returns how many bytes fit (0 when the
    /// queue is full: wait for [`Event::SendDone`]). The engine hands queued bytes to the module
    /// on its own, one `AT+QISENDEX` at a time; [`Engine::unsent`] tells when all were taken.
    /// A `SEND FAIL` breaks the stream: the socket turns `Failed`.
    ///
    /// This is the buffered alternative to [`Engine::send`] (which the blocking stack uses to
    /// report each chunk's `SEND OK`); do not mix the two on one socket.
    pub fn queue_send(&mut self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        let s = &mut self.st.sockets[id.index()];
        match s.phase {
            SocketPhase::Connected => Ok(s.tx.write(data)),
            SocketPhase::Failed(e) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    /// Queued bytes of `id` the module has not accepted yet (`SEND OK` outstanding included).
    pub fn unsent(&self, id: ConnectId) -> usize {
        let s = &self.st.sockets[id.index()];
        s.tx.len() + s.tx_inflight
    }

    /// The outcome of the last send on `id`, once known (taking it allows the next send).
    pub fn take_send_result(&mut self, id: ConnectId) -> Option<Result<usize, Error>> {
        self.st.sockets[id.index()].send_result.take()
    }

    /// The caller of the last send on `id` went away: drop its outcome, now or when it comes
    /// (a failure still marks nothing else; the next send starts clean).
    pub fn forget_send(&mut self, id: ConnectId) {
        let s = &mut self.st.sockets[id.index()];
        if s.send_result.take().is_none() && self.send_pending(id) {
            self.st.sockets[id.index()].discard_send = true;
        }
    }

    /// True while a send on `id` waits for the module.
    pub fn send_pending(&self, id: ConnectId) -> bool {
        self.st.send_wait.is_some_and(|(s, _, _)| s == id)
            || matches!(self.st.inflight, Some(InFlight { job: Job::Send { id: s, .. }, .. }) if s == id)
    }

    /// Read received data of `id` into `out`. `Ok(0)` means nothing yet (when `out` is not
    /// empty); after the peer closed and every byte was read, `Err(Error::Closed)`.
    pub fn recv(&mut self, id: ConnectId, out: &mut [u8]) -> Result<usize, Error> {
        let s = &mut self.st.sockets[id.index()];
        let n = s.read_data(out);
        if n > 0 {
            if self.st.stalled == Some(id) {
                self.st.stalled = None;
                self.process();
            }
            return Ok(n);
        }
        match s.phase {
            SocketPhase::Connected | SocketPhase::Opening => Ok(0),
            SocketPhase::PeerClosed if s.read_pending => Ok(0),
            SocketPhase::Failed(e) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    /// Bytes of `id` received and not read yet.
    pub fn available(&self, id: ConnectId) -> usize {
        self.st.sockets[id.index()].rx.len()
    }

    /// Start closing `id` (`AT+QICLOSE`, then `CLOSE OK`); `phase` becomes `Free` when done.
    /// A socket the module never opened is freed at once.
    pub fn close(&mut self, id: ConnectId) -> Result<(), Error> {
        let s = &mut self.st.sockets[id.index()];
        match s.phase {
            SocketPhase::Free => return Ok(()),
            SocketPhase::Reserved => {
                s.reset();
                return Ok(());
            }
            SocketPhase::Closing => return Ok(()),
            SocketPhase::Failed(Error::Reset | Error::PdpDeactivated) if !s.needs_close => {
                s.reset();
                self.st.event(Event::Closed(id));
                return Ok(());
            }
            _ => {}
        }
        // Bytes the application queued before closing still go out, then the socket closes.
        s.linger = s.phase == SocketPhase::Connected && (s.tx.len() > 0 || s.tx_inflight > 0);
        s.phase = SocketPhase::Closing;
        s.needs_close = true;
        s.rx.clear();
        s.datagrams.clear();
        if self.st.stalled == Some(id) {
            // Output held back for this socket's reader, who is gone: its data is now dropped
            // as it comes, so the rest of the module's output (the close's answer) can flow.
            self.st.stalled = None;
            self.process();
        }
        Ok(())
    }

    // ----- other requests -----

    /// Start a request; its reply comes back through [`Engine::take_reply`].
    pub fn start(&mut self, request: Request<'_>) -> Result<Ticket, Error> {
        self.st.start(request)
    }

    /// The reply for `ticket`, once there is one.
    pub fn take_reply(&mut self, ticket: Ticket) -> Option<Result<Reply, Error>> {
        match &self.st.reply {
            Some((t, _)) if *t == ticket => self.st.reply.take().map(|(_, r)| r),
            _ => None,
        }
    }

    /// Give up on `ticket` (its caller went away): its reply will be dropped.
    pub fn abandon(&mut self, ticket: Ticket) {
        self.st.abandon(ticket);
    }
}

impl Event {
    /// Log the event: warn for what a user should know about (reboots, a lost PDP context,
    /// resynchronisation, a held-back UART), debug for the rest. The shells call this for
    /// every event they drain.
    pub fn log(&self) {
        match self {
            Event::Rebooted | Event::PdpDeactivated | Event::Desync { .. } | Event::Stalled(_) => {
                crate::fmt::warn!("bc20: {:?}", self)
            }
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

    fn desync(&mut self, dropped: usize) {
        if dropped > 0 {
            crate::fmt::warn!("bc20: dropped {} unframed bytes to resynchronise", dropped);
            self.event(Event::Desync { dropped });
        }
    }
}
