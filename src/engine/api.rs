//! The request side of the engine: sockets and the other requests.

use super::jobs::{InFlight, Job};
use super::reply::{Reply, Request};
use super::socket::{Socket, SocketPhase};
use super::{Engine, Event, Ticket};
use crate::error::Error;
use crate::types::{ConnectId, ServiceType};
use crate::wire::Command;

impl<const SOCKETS: usize, const RX: usize, const TX: usize, const STAGING: usize>
    Engine<SOCKETS, RX, TX, STAGING>
{
    /// Socket `id`, when this engine has it (it has `0..SOCKETS`).
    fn socket(&self, id: ConnectId) -> Option<&Socket<RX, TX>> {
        self.st.sockets.get(id.index())
    }

    fn socket_mut(&mut self, id: ConnectId) -> Option<&mut Socket<RX, TX>> {
        self.st.sockets.get_mut(id.index())
    }

    // ----- sockets -----

    /// Reserve a free socket for `service` ([`Error::Unsupported`] for UDP without the `udp`
    /// feature).
    pub fn allocate(&mut self, service: ServiceType) -> Result<ConnectId, Error> {
        if !cfg!(feature = "udp") && service == ServiceType::Udp {
            return Err(Error::Unsupported);
        }
        // Not one whose previous connection still has a send on its way (its socket was freed
        // at once, after a reboot or a lost PDP context): that send's outcome would land on
        // the new connection, and its first send would report it.
        let id = (0..SOCKETS)
            .filter_map(|i| u8::try_from(i).ok().and_then(ConnectId::new))
            .find(|&id| {
                self.socket(id)
                    .is_some_and(|s| matches!(s.phase, SocketPhase::Free))
                    && !self.send_pending(id)
            })
            .ok_or(Error::NoSocket)?;
        let s = self.socket_mut(id).ok_or(Error::NoSocket)?;
        s.reset();
        s.phase = SocketPhase::Reserved;
        s.service = service;
        Ok(id)
    }

    /// The phase of socket `id` (`Free` for an id this engine does not have).
    pub fn phase(&self, id: ConnectId) -> SocketPhase {
        self.socket(id).map_or(SocketPhase::Free, |s| s.phase)
    }

    /// How connecting socket `id` ended: `None` while it is reserved or opening; `Ok` once the
    /// connection was made, including when the peer has already closed it again (a server that
    /// answers and hangs up before the caller looked: its data waits to be read); the error
    /// when opening failed; [`Error::Closed`] for a socket that is free or being closed. Both
    /// stacks' `connect` end on this, so they agree.
    pub fn connect_outcome(&self, id: ConnectId) -> Option<Result<(), Error>> {
        match self.phase(id) {
            SocketPhase::Reserved | SocketPhase::Opening => None,
            SocketPhase::Connected | SocketPhase::PeerClosed => Some(Ok(())),
            SocketPhase::Failed(e) => Some(Err(e)),
            SocketPhase::Free | SocketPhase::Closing => Some(Err(Error::Closed)),
        }
    }

    /// Start connecting a reserved socket to `remote:port` (`AT+QIOPEN`). Watch
    /// [`Engine::phase`] for `Connected` or `Failed`, or [`Engine::connect_outcome`].
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
        let s = self.socket(id).ok_or(Error::Unexpected)?;
        if !matches!(s.phase, SocketPhase::Reserved) {
            return Err(Error::Unexpected);
        }
        let cmd = Command::QiOpen {
            context: self.st.config.module.profile().context,
            id,
            service: s.service,
            remote,
            remote_port: port,
            local_port,
            access_mode: self.st.config.access_mode,
        };
        cmd.validate()?;
        self.st.claim_slot()?;
        self.st.begin(&cmd, Job::Open(id))?;
        let mode = self.st.config.access_mode;
        if let Some(s) = self.socket_mut(id) {
            s.phase = SocketPhase::Opening;
            s.mode = mode;
            s.open_deadline = None;
        }
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
        // Dotted decimal by hand: "255.255.255.255" is 15 bytes, and core::fmt would cost
        // more flash than the rest of this function.
        let mut ip = [0u8; 15];
        let mut n = 0;
        for (i, octet) in v4.ip().octets().into_iter().enumerate() {
            if i > 0 {
                ip[n] = b'.';
                n += 1;
            }
            let digits = [octet / 100, octet / 10 % 10, octet % 10];
            let skip = if octet >= 100 {
                0
            } else if octet >= 10 {
                1
            } else {
                2
            };
            for d in &digits[skip..] {
                ip[n] = b'0' + d;
                n += 1;
            }
        }
        let ip = core::str::from_utf8(&ip[..n]).map_err(|_| Error::Unexpected)?;
        self.open_from(id, ip, v4.port(), local_port)
    }

    /// Start sending the first chunk of `data` on a connected socket: up to 512 bytes with
    /// `AT+QISENDEX` (or 1024 printable bytes with `AT+QISEND` when configured), and at most
    /// the socket's send queue (`TX`). Returns the chunk's length;
    /// [`Engine::take_send_result`] tells when the module took it.
    pub fn send(&mut self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        let s = self.socket(id).ok_or(Error::Closed)?;
        match s.phase {
            SocketPhase::Connected => {}
            SocketPhase::Failed(e) => return Err(e),
            SocketPhase::Opening => return Err(Error::Busy),
            _ => return Err(Error::Closed),
        }
        if s.send_result.is_some()
            || self.st.send_wait.is_some()
            || self.st.send_owed.is_some()
            || s.tx.len() > 0
        {
            return Err(Error::Busy);
        }
        if data.is_empty() {
            return Ok(0);
        }
        self.st.claim_slot()?;
        let s = self.socket_mut(id).ok_or(Error::Closed)?;
        s.tx.write(&data[..data.len().min(crate::types::MAX_SEND_TEXT)]);
        s.direct = true;
        // A new send: its outcome is the caller's, whatever was forgotten before.
        s.discard_send = false;
        let (len, hex) = self.st.chunk_of(id);
        if let Some(s) = self.socket_mut(id) {
            // Only the chunk goes out; the rest stays with the caller.
            s.tx.truncate(len);
        }
        if let Err(e) = self.st.begin_send(id, len, hex) {
            if let Some(s) = self.socket_mut(id) {
                s.tx.clear();
                s.tx_inflight = 0;
                s.direct = false;
            }
            return Err(e);
        }
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
        let s = self.socket_mut(id).ok_or(Error::Closed)?;
        match s.phase {
            SocketPhase::Connected if !s.direct => Ok(s.tx.write(data)),
            SocketPhase::Connected => Ok(0),
            SocketPhase::Failed(e) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    /// Queued bytes of `id` the module has not accepted yet (`SEND OK` outstanding included).
    pub fn unsent(&self, id: ConnectId) -> usize {
        self.socket(id).map_or(0, |s| s.tx.len())
    }

    /// Whether every byte queued on `id` ([`Engine::queue_send`]) went out: `None` while some
    /// are still on their way (bounded by the send deadline and [`Config::unresponsive_ms`]),
    /// `Ok` once the module accepted them all, or why not: [`Error::Unsent`] when the peer
    /// closed with bytes still queued (it says how many went out), the socket's error when it
    /// failed.
    ///
    /// In direct push, while this socket's own data holds the module's output back (its
    /// buffer full, see [`Event::Stalled`]), `Ok` comes once every byte is in the module (the
    /// last send command written whole) and only its answer (`OK`, `SEND OK`) is outstanding:
    /// that confirmation waits behind the data, which a client that reads only after
    /// flushing (an HTTP client awaiting its response) would otherwise never read. A
    /// `SEND FAIL` in its place fails the socket, which the next read or write reports.
    ///
    /// [`Config::unresponsive_ms`]: super::Config::unresponsive_ms
    pub fn poll_flush(&self, id: ConnectId) -> Option<Result<(), Error>> {
        let Some(s) = self.socket(id) else {
            return Some(Err(Error::Closed));
        };
        if s.tx_inflight > 0 || self.send_pending(id) {
            // The command carries its data (`AT+QISENDEX=<id>,<len>,<hex>`): once it is all
            // written, the module has every byte, whether or not its `OK` came.
            let written = self.st.send_wait.is_some_and(|(w, _, _)| w == id)
                || matches!(self.st.inflight, Some(InFlight { job: Job::Send { id: s, .. }, .. }) if s == id)
                    && !self.st.tx_busy();
            let confirmation_held = self.st.stalled == Some(id)
                && matches!(s.phase, SocketPhase::Connected)
                && s.tx.len() == s.tx_inflight
                && written;
            return confirmation_held.then_some(Ok(()));
        }
        match s.phase {
            SocketPhase::Connected if s.tx.len() > 0 => None,
            SocketPhase::Connected => Some(Ok(())),
            SocketPhase::Failed(e) => Some(Err(e)),
            _ if s.tx_dropped > 0 => Some(Err(Error::Unsent {
                sent: u32::try_from(s.sent_total).unwrap_or(u32::MAX),
                unsent: u32::try_from(s.tx_dropped).unwrap_or(u32::MAX),
            })),
            SocketPhase::PeerClosed => Some(Ok(())),
            _ => Some(Err(Error::Closed)),
        }
    }

    /// Payload bytes of the connection on `id` the module accepted (`SEND OK`) so far.
    pub fn sent_total(&self, id: ConnectId) -> u64 {
        self.socket(id).map_or(0, |s| s.sent_total)
    }

    /// The outcome of the last send on `id`, once known (taking it allows the next send).
    pub fn take_send_result(&mut self, id: ConnectId) -> Option<Result<usize, Error>> {
        self.socket_mut(id).and_then(|s| s.send_result.take())
    }

    /// The caller of the last send on `id` went away: drop its outcome, now or when it comes
    /// (a failure still marks nothing else; the next send starts clean).
    pub fn forget_send(&mut self, id: ConnectId) {
        // Only an outcome still to come: a send whose `SEND OK` came before its `OK` waits
        // for the `OK` with its outcome delivered, and a mark left for it would drop the
        // outcome of the next send instead.
        let due = self.st.send_wait.is_some_and(|(s, _, _)| s == id)
            || matches!(self.st.inflight, Some(InFlight { job: Job::Send { id: s, .. }, late_done: false, .. }) if s == id);
        if let Some(s) = self.socket_mut(id)
            && s.send_result.take().is_none()
            && due
        {
            s.discard_send = true;
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
        let s = self.socket_mut(id).ok_or(Error::Closed)?;
        let held = s.rx.len();
        let n = s.read_data(out);
        let freed = s.rx.len() < held;
        // Room made (also by the dropped rest of a datagram larger than `out`): output held
        // back for this socket may fit now.
        if freed && self.st.stalled == Some(id) {
            self.st.release_stall();
            self.process_staged();
        }
        // A reader that found nothing may be waiting (see `Config::idle_audit_ms`).
        let bit = 1u8 << id.index();
        if n > 0 || out.is_empty() {
            self.st.readers_waiting &= !bit;
        } else {
            self.st.readers_waiting |= bit;
        }
        if n > 0 {
            return Ok(n);
        }
        if !out.is_empty() && self.st.stalled.is_some_and(|h| h != id) {
            // A reader of this socket may be waiting for data behind output held back for
            // another: it counts, as a command does, towards that hold's limit.
            self.st.hold_reader_came = true;
        }
        let s = self.socket(id).ok_or(Error::Closed)?;
        match s.phase {
            SocketPhase::Connected | SocketPhase::Opening => Ok(0),
            SocketPhase::PeerClosed if s.read_pending => Ok(0),
            SocketPhase::Failed(e) => Err(e),
            _ => Err(Error::Closed),
        }
    }

    /// Bytes of `id` received and not read yet.
    pub fn available(&self, id: ConnectId) -> usize {
        self.socket(id).map_or(0, |s| s.rx.len())
    }

    /// Start closing `id` (`AT+QICLOSE`, then `CLOSE OK`); `phase` becomes `Free` when done.
    /// A socket the module never opened is freed at once.
    pub fn close(&mut self, id: ConnectId) -> Result<(), Error> {
        let Some(s) = self.socket_mut(id) else {
            return Ok(());
        };
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
                if self.st.stalled == Some(id) {
                    // Output held back for this socket's reader: it is gone (see below).
                    self.st.release_stall();
                    self.process_staged();
                }
                return Ok(());
            }
            _ => {}
        }
        // Bytes the application queued before closing still go out, then the socket closes.
        s.linger = matches!(s.phase, SocketPhase::Connected) && s.tx.len() > 0 && !s.direct;
        if !s.linger {
            let inflight = s.tx_inflight;
            s.tx.truncate(inflight);
        }
        s.phase = SocketPhase::Closing;
        s.needs_close = true;
        s.rx.clear();
        s.datagrams.clear();
        if self.st.stalled == Some(id) {
            // Output held back for this socket's reader, who is gone: its data is now dropped
            // as it comes, so the rest of the module's output (the close's answer) can flow.
            self.st.release_stall();
            self.process_staged();
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
        match self.st.reply {
            Some((t, result)) if t == ticket => {
                self.st.reply = None;
                let data = self.st.collected.take();
                Some(result.map(|()| data.unwrap_or(Reply::Done)))
            }
            _ => None,
        }
    }

    /// Give up on `ticket` (its caller went away): its reply will be dropped.
    pub fn abandon(&mut self, ticket: Ticket) {
        self.st.abandon(ticket);
    }
}
