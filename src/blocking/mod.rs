//! The blocking network stack: `embedded-nal` 0.9 over any UART that implements
//! `embedded_io::{Read, Write, ReadReady}`.
//!
//! [`Bc20`] implements [`embedded_nal::TcpClientStack`], [`embedded_nal::UdpClientStack`] and
//! [`embedded_nal::Dns`] for all five sockets, so `minimq` and other `nb` clients run on it
//! unchanged. Every trait method first pumps the UART (reads only what
//! [`ReadReady`] says is there, writes what the engine has) and returns
//! [`nb::Error::WouldBlock`] instead of spinning wherever the trait allows (the one wait is a
//! wake-up of a sleeping module for a caller that comes rarely, see below).
//!
//! # `nb` contract for `send`
//!
//! The first call starts sending a chunk of the buffer and returns `WouldBlock`; call again
//! with the same buffer (as `nb` requires, and as `minimq` does) and it returns `Ok(n)` once
//! the module has answered `SEND OK` for those `n` bytes, or the error (`SEND FAIL` is an error,
//! never a silent loss). `SEND FAIL` or a refused command means the bytes did not go, and the
//! socket carries on. A TCP send that timed out (no `OK`, or no `SEND OK`) may have gone out
//! or not, so its socket fails with [`Error::Timeout`] too: sending the bytes again could
//! repeat them on the stream (a UDP socket carries on: a datagram is sent whole or not).
//!
//! An `nb` call that keeps finding the engine busy (its one command slot taken, or a module
//! that does not answer the resynchronising `AT`) returns [`Error::Timeout`] once that has
//! lasted [`Bc20::set_wait_limit`], so `nb::block!` cannot hang on a dead module.
//!
//! # Sleeping modules and slow callers
//!
//! A module that sleeps is woken ahead of a command with `AT` until it answers, then a short
//! quiet time (see [`crate::engine::Config::wake`]); each step needs a look at the line. A
//! caller that comes back [`WAKE_IN_CALL_GAP_MS`] or more after its last call (a superloop
//! with a period of 50 ms or longer) would find the module asleep again at each step, so
//! such a call finishes a wake-up before it returns: it reads the UART and looks at the line,
//! calling [`Clock::idle`] between looks, until the wake-up is over (the command written) or
//! for at most twice [`Config::wake_answer_ms`] plus 200 ms (800 ms at the defaults; about
//! 100 ms for a module that answers at once). Callers that come back sooner are never held
//! up: the wake-up then takes a few calls. Nothing waits like this when the module does not
//! sleep.
//!
//! Methods that the traits define as blocking (`close`, UDP `connect`) and the extra methods
//! (ping, NTP…) wait in a loop that calls [`Clock::idle`]; each wait is bounded by the engine's
//! deadlines plus [`Bc20::set_wait_limit`]'s safety net.

mod nal;

pub use nal::TcpSocket;
#[cfg(feature = "udp")]
pub use nal::UdpSocket;

use core::net::{SocketAddr, SocketAddrV4};

use embedded_io::{Read, ReadReady, Write};

use crate::clock::Clock;
#[cfg(feature = "ping")]
use crate::engine::PingOutcome;
use crate::engine::{
    Config, DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX, Engine, LOOK_GRACE_MS, Reply,
    Request, SocketInfo, SocketPhase, Ticket,
};
use crate::error::Error;
#[cfg(feature = "ntp")]
use crate::types::NtpTime;
use crate::types::{AccessMode, ConnectId, QiCfg, QiCfgKey, RegistrationStatus};
use crate::wake::{NoWake, Wake};

/// The BC20 as a blocking network stack. `N`, `RX`, `TX` and `ST` size the engine (sockets,
/// their receive buffers and send queues, staging: see [`crate::engine`]); the defaults need
/// no annotation. `P` pulses the module's wake pin, if it has one (see [`crate::wake`]).
pub struct Bc20<
    U,
    C,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
    P = NoWake,
> {
    uart: U,
    clock: C,
    wake: P,
    engine: Engine<N, RX, TX, ST>,
    /// The remote of each socket (IPv4: the BC20 has no IPv6), for UDP `receive`.
    remotes: [Option<SocketAddrV4>; crate::types::SOCKET_COUNT],
    /// The DNS lookup in flight: its ticket and a fingerprint of the name asked for.
    dns: Option<(Ticket, NameKey)>,
    wait_limit_ms: u64,
    /// Since when an `nb` call has found the command slot taken: one per socket, then DNS.
    busy_since: [u64; crate::types::SOCKET_COUNT + 1],
    /// When the driver last pumped (see [`WAKE_IN_CALL_GAP_MS`]).
    last_pump: u64,
    /// The caller came back after [`WAKE_IN_CALL_GAP_MS`] or more, and has not shown a
    /// faster pace since (pumps within the same millisecond belong to the same call).
    slow_caller: bool,
}

/// `busy_since` of a slot that is not waiting.
const NOT_BUSY: u64 = u64::MAX;

/// A call that comes this long (ms) or more after the previous one finishes a wake-up of the
/// module before it returns (see the module docs, "Sleeping modules and slow callers").
pub const WAKE_IN_CALL_GAP_MS: u64 = LOOK_GRACE_MS;

/// A host name's length and FNV-1a hash: enough to tell a repeated `nb` call for the same
/// name from a call for another one, without keeping the name (up to 255 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameKey(usize, u32);

impl NameKey {
    fn of(name: &str) -> Self {
        let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        NameKey(name.len(), hash)
    }
}

/// The `busy_since` slot of DNS lookups.
const DNS_SLOT: usize = crate::types::SOCKET_COUNT;

impl<U, C> Bc20<U, C>
where
    U: Read + Write + ReadReady,
    C: Clock,
{
    /// A driver of the default sizes over `uart` (five sockets, [`DEFAULT_RX`]-byte receive
    /// buffers, [`DEFAULT_TX`]-byte send queues). Nothing is sent until the first call that
    /// pumps.
    pub fn new(uart: U, clock: C, config: Config) -> Self {
        Self::sized(uart, clock, config)
    }
}

impl<U, C, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    Bc20<U, C, N, RX, TX, ST>
where
    U: Read + Write + ReadReady,
    C: Clock,
{
    /// A driver of the sizes its type names, e.g. `Bc20::<_, _, 1, 256, 256>::sized(uart,
    /// clock, config)` for one socket with 256-byte buffers. Invalid sizes fail to compile.
    pub fn sized(uart: U, clock: C, config: Config) -> Self {
        Bc20 {
            uart,
            clock,
            wake: NoWake,
            engine: Engine::sized(config),
            remotes: [None; crate::types::SOCKET_COUNT],
            dns: None,
            wait_limit_ms: 180_000,
            busy_since: [NOT_BUSY; crate::types::SOCKET_COUNT + 1],
            last_pump: 0,
            slow_caller: true,
        }
    }

    /// The same driver with a wake pin: `wake` is called before the driver wakes the module
    /// from sleep (see [`crate::wake`]).
    pub fn with_wake<P: Wake>(self, wake: P) -> Bc20<U, C, N, RX, TX, ST, P> {
        Bc20 {
            uart: self.uart,
            clock: self.clock,
            wake,
            engine: self.engine,
            remotes: self.remotes,
            dns: self.dns,
            wait_limit_ms: self.wait_limit_ms,
            busy_since: self.busy_since,
            last_pump: self.last_pump,
            slow_caller: self.slow_caller,
        }
    }
}

impl<U, C, const N: usize, const RX: usize, const TX: usize, const ST: usize, P>
    Bc20<U, C, N, RX, TX, ST, P>
where
    U: Read + Write + ReadReady,
    C: Clock,
    P: Wake,
{
    /// The engine, for counters and state queries.
    pub fn engine(&self) -> &Engine<N, RX, TX, ST> {
        &self.engine
    }

    /// The UART back (the driver is consumed).
    pub fn release(self) -> U {
        self.uart
    }

    /// The longest any single blocking wait may last, on top of the engine's own deadlines
    /// (default 180 s). A wait that reaches it returns [`Error::Timeout`].
    pub fn set_wait_limit(&mut self, ms: u64) {
        self.wait_limit_ms = ms;
    }

    /// Move bytes both ways and apply deadlines, without waiting (except to finish a wake-up
    /// of a sleeping module when the caller comes rarely: see "Sleeping modules and slow
    /// callers" in the module docs).
    ///
    /// Everything the UART has ready is read before any deadline is judged, so an answer that
    /// arrived while the caller was busy elsewhere is never declared late: the driver works
    /// at any poll period, every millisecond or every minute.
    pub fn poll(&mut self) -> Result<(), Error> {
        let r = self.pump();
        if r.is_err() {
            self.engine.note_uart_error();
        }
        while let Some(event) = self.engine.poll_event() {
            event.log();
        }
        r
    }

    fn pump(&mut self) -> Result<(), Error> {
        let now = self.clock.now_ms();
        match now.saturating_sub(self.last_pump) {
            0 => {}
            gap => self.slow_caller = gap >= WAKE_IN_CALL_GAP_MS,
        }
        let r = self.pump_at(now);
        if self.slow_caller && r.is_ok() {
            // Each step of a wake-up needs a look at the line, and a module that sleeps
            // sooner than the caller comes back would be asleep again at every step: finish
            // it here, bounded (a module that does not answer is the engine's to time out).
            let cfg = self.engine.config();
            let limit = 2 * u64::from(cfg.wake_answer_ms) + 4 * LOOK_GRACE_MS;
            while self.engine.is_waking() && self.clock.now_ms().saturating_sub(now) < limit {
                self.clock.idle();
                let t = self.clock.now_ms();
                if let Err(e) = self.pump_at(t) {
                    self.last_pump = t;
                    return Err(e);
                }
            }
        }
        self.last_pump = self.clock.now_ms();
        r
    }

    /// Read what the UART has, apply deadlines at `now`, write what the engine has.
    fn pump_at(&mut self, now: u64) -> Result<(), Error> {
        loop {
            // Nothing is read while output is held back (no room): the bytes staged then
            // include a whole frame waiting for its reader, which a read error must not touch.
            if self.engine.rx_space().is_empty() {
                break;
            }
            // A failed read may have lost bytes: the engine must not join what comes next to
            // what came before (see `Engine::note_rx_gap`).
            let ready = self
                .uart
                .read_ready()
                .inspect_err(|_| self.engine.note_rx_gap());
            if !ready.map_err(transport)? {
                break;
            }
            let space = self.engine.rx_space();
            let read = self.uart.read(space);
            if read.is_err() {
                self.engine.note_rx_gap();
            }
            let n = read.map_err(transport)?;
            self.engine.rx_commit(n, now);
            if n == 0 {
                break;
            }
        }
        self.engine.handle_timeout(now);
        let mut wrote = false;
        loop {
            if self.engine.poll_transmit(now).is_none() {
                break;
            }
            if self.engine.take_wake_request() {
                self.wake.wake();
            }
            let Some(bytes) = self.engine.poll_transmit(now) else {
                break;
            };
            let n = self.uart.write(bytes).map_err(transport)?;
            if n == 0 {
                break;
            }
            wrote = true;
            self.engine.transmitted(n, now);
        }
        if wrote {
            // A buffered UART must not keep the command until some later call.
            self.uart.flush().map_err(transport)?;
        }
        Ok(())
    }

    /// Pump until `f` gives an answer, idling between rounds; bounded by the wait limit.
    fn wait<T>(&mut self, f: impl FnMut(&mut Self) -> nb::Result<T, Error>) -> Result<T, Error> {
        self.wait_up_to(self.wait_limit_ms, f)
    }

    /// [`Bc20::wait`] with a limit of its own.
    fn wait_up_to<T>(
        &mut self,
        limit_ms: u64,
        mut f: impl FnMut(&mut Self) -> nb::Result<T, Error>,
    ) -> Result<T, Error> {
        let start = self.clock.now_ms();
        loop {
            self.poll()?;
            match f(self) {
                Ok(v) => return Ok(v),
                Err(nb::Error::Other(e)) => return Err(e),
                Err(nb::Error::WouldBlock) => {}
            }
            if self.clock.now_ms().saturating_sub(start) > limit_ms {
                return Err(Error::Timeout);
            }
            self.clock.idle();
        }
    }

    /// The engine's command slot is taken (by another command, or by resynchronising with a
    /// module that does not answer): `WouldBlock`, until it has stayed taken for the wait
    /// limit, then [`Error::Timeout`], so that an `nb` caller cannot wait forever.
    fn busy(&mut self, slot: usize) -> nb::Error<Error> {
        let now = self.clock.now_ms();
        if self.busy_since[slot] == NOT_BUSY {
            self.busy_since[slot] = now;
        }
        let since = self.busy_since[slot];
        if now.saturating_sub(since) > self.wait_limit_ms {
            self.busy_since[slot] = NOT_BUSY;
            nb::Error::Other(Error::Timeout)
        } else {
            nb::Error::WouldBlock
        }
    }

    /// Wait until the module has answered `AT` and taken the start-up settings.
    pub fn wait_ready(&mut self, timeout_ms: u64) -> Result<(), Error> {
        let start = self.clock.now_ms();
        self.wait(|d| {
            if d.engine.is_ready() {
                Ok(())
            } else if d.clock.now_ms().saturating_sub(start) > timeout_ms {
                Err(nb::Error::Other(Error::Timeout))
            } else {
                Err(nb::Error::WouldBlock)
            }
        })
    }

    /// Bring the module into service ([`Request::BringUp`]): wait for it to answer and take
    /// the start-up settings, check the SIM (`+CPIN: READY`), and wait until it is registered
    /// (`+CEREG` stat 1 or 5), within `timeout_ms` in all. The engine runs the procedure;
    /// both stacks drive the same one.
    pub fn bring_up(&mut self, timeout_ms: u64) -> Result<(), Error> {
        let timeout_ms = u32::try_from(timeout_ms).unwrap_or(u32::MAX);
        // The engine's deadline ends it; the wait limit is only a safety net behind that.
        let limit = self.wait_limit_ms.max(u64::from(timeout_ms) + 10_000);
        self.request_within(Request::BringUp { timeout_ms }, limit)?
            .into_registration()
            .map(|_| ())
    }

    /// Send `request` and wait for its reply.
    pub fn request(&mut self, request: Request<'_>) -> Result<Reply, Error> {
        self.request_within(request, self.wait_limit_ms)
    }

    fn request_within(&mut self, request: Request<'_>, limit_ms: u64) -> Result<Reply, Error> {
        let mut ticket = None;
        let r = self.wait_up_to(limit_ms, |d| match ticket {
            None => match d.engine.start(request) {
                Ok(t) => {
                    ticket = Some(t);
                    Err(nb::Error::WouldBlock)
                }
                Err(Error::Busy) => Err(nb::Error::WouldBlock),
                Err(e) => Err(nb::Error::Other(e)),
            },
            Some(t) => match d.engine.take_reply(t) {
                Some(r) => r.map_err(nb::Error::Other),
                None => Err(nb::Error::WouldBlock),
            },
        });
        if r.is_err()
            && let Some(t) = ticket
        {
            self.engine.abandon(t);
        }
        r
    }

    /// `AT+CEREG?`: the registration status.
    pub fn registration(&mut self) -> Result<RegistrationStatus, Error> {
        self.request(Request::Registration)?.into_registration()
    }

    /// `AT+QPING`: ping `host` `count` times (1..=10), waiting `timeout_s` (1..=255) for each
    /// echo of `size` bytes (32..=200). Feature `ping`.
    #[cfg(feature = "ping")]
    pub fn ping(
        &mut self,
        host: &str,
        timeout_s: u8,
        count: u8,
        size: u8,
    ) -> Result<PingOutcome, Error> {
        let ping = Request::Ping {
            host,
            timeout_s,
            count,
            size,
        };
        self.request(ping)?.into_ping()
    }

    /// `AT+QNTP`: synchronise the module's clock with `server:port`; returns the time.
    /// Feature `ntp`.
    #[cfg(feature = "ntp")]
    pub fn ntp(&mut self, server: &str, port: u16) -> Result<NtpTime, Error> {
        self.request(Request::Ntp { server, port })?.into_ntp()
    }

    /// `AT+QISTATE`: the module's view of one socket or of all.
    pub fn socket_state(
        &mut self,
        id: Option<ConnectId>,
    ) -> Result<heapless::Vec<SocketInfo, 5>, Error> {
        self.request(Request::State(id))?.into_sockets()
    }

    /// `AT+QIGETERROR`: the last TCP/IP error and the module's description of it.
    pub fn last_error(&mut self) -> Result<Reply, Error> {
        self.request(Request::LastError)
    }

    /// `AT+QISWTMD`: switch a socket between buffer access and direct push.
    pub fn switch_mode(&mut self, id: ConnectId, mode: AccessMode) -> Result<(), Error> {
        self.request(Request::SwitchMode(id, mode))?.into_done()
    }

    /// `AT+QICFG`: change a setting. The engine's framing follows the change.
    pub fn set_cfg(&mut self, cfg: QiCfg) -> Result<(), Error> {
        self.request(Request::SetCfg(cfg))?.into_done()
    }

    /// `AT+QICFG="<key>"`: read a setting.
    pub fn get_cfg(&mut self, key: QiCfgKey) -> Result<QiCfg, Error> {
        self.request(Request::QueryCfg(key))?.into_cfg()
    }

    /// Start connecting `id` to `remote`; `Ok` once connected.
    fn connect_nb(&mut self, id: ConnectId, remote: SocketAddr) -> nb::Result<(), Error> {
        self.poll()?;
        match self.engine.phase(id) {
            SocketPhase::Reserved => {
                let r = self.engine.open_addr(id, remote, 0);
                if !matches!(r, Err(Error::Busy)) {
                    self.busy_since[id.index()] = NOT_BUSY;
                }
                match r {
                    Ok(()) => {
                        if let SocketAddr::V4(v4) = remote {
                            self.remotes[id.index()] = Some(v4);
                        }
                        self.poll()?;
                        Err(nb::Error::WouldBlock)
                    }
                    Err(Error::Busy) => Err(self.busy(id.index())),
                    Err(e) => Err(nb::Error::Other(e)),
                }
            }
            // A peer that already closed shows in `receive` (its data first, then `Closed`).
            _ => match self.engine.connect_outcome(id) {
                None => Err(nb::Error::WouldBlock),
                Some(r) => r.map_err(nb::Error::Other),
            },
        }
    }

    /// Send from `data`; see the module docs for the retry contract.
    fn send_nb(&mut self, id: ConnectId, data: &[u8]) -> nb::Result<usize, Error> {
        self.poll()?;
        if let Some(r) = self.engine.take_send_result(id) {
            return r.map_err(nb::Error::Other);
        }
        if self.engine.send_pending(id) {
            return Err(nb::Error::WouldBlock);
        }
        let r = self.engine.send(id, data);
        if !matches!(r, Err(Error::Busy)) {
            self.busy_since[id.index()] = NOT_BUSY;
        }
        match r {
            Ok(0) => Ok(0),
            Ok(_) => {
                self.poll()?;
                Err(nb::Error::WouldBlock)
            }
            Err(Error::Busy) => Err(self.busy(id.index())),
            Err(e) => Err(nb::Error::Other(e)),
        }
    }

    fn receive_nb(&mut self, id: ConnectId, buf: &mut [u8]) -> nb::Result<usize, Error> {
        self.poll()?;
        match self.engine.recv(id, buf) {
            Ok(0) if !buf.is_empty() => Err(nb::Error::WouldBlock),
            Ok(n) => {
                // Reading may have made room for held-back output.
                self.poll()?;
                Ok(n)
            }
            Err(e) => Err(nb::Error::Other(e)),
        }
    }

    fn close_blocking(&mut self, id: ConnectId) -> Result<(), Error> {
        self.remotes[id.index()] = None;
        self.busy_since[id.index()] = NOT_BUSY;
        self.engine.close(id)?;
        self.wait(|d| match d.engine.phase(id) {
            SocketPhase::Free => Ok(()),
            _ => Err(nb::Error::WouldBlock),
        })
    }

    fn resolve(&mut self, host: &str) -> nb::Result<core::net::IpAddr, Error> {
        // A dotted address is its own answer (parsed by hand: `core`'s parser is larger).
        if let Some(ip) = crate::wire::addr::ipv4(host.as_bytes()) {
            return Ok(ip.into());
        }
        self.poll()?;
        if let Some((t, pending)) = &self.dns
            && *pending != NameKey::of(host)
        {
            self.engine.abandon(*t);
            self.dns = None;
        }
        match &self.dns {
            None => {
                let r = self.engine.start(Request::Dns(host));
                if !matches!(r, Err(Error::Busy)) {
                    self.busy_since[DNS_SLOT] = NOT_BUSY;
                }
                match r {
                    Ok(t) => {
                        self.dns = Some((t, NameKey::of(host)));
                        self.poll()?;
                        Err(nb::Error::WouldBlock)
                    }
                    Err(Error::Busy) => Err(self.busy(DNS_SLOT)),
                    Err(e) => Err(nb::Error::Other(e)),
                }
            }
            Some((t, _)) => match self.engine.take_reply(*t) {
                None => Err(nb::Error::WouldBlock),
                Some(r) => {
                    self.dns = None;
                    r.and_then(Reply::into_address)
                        .map(core::net::IpAddr::from)
                        .map_err(nb::Error::Other)
                }
            },
        }
    }
}

fn transport<E: embedded_io::Error>(e: E) -> Error {
    Error::Transport(e.kind())
}
