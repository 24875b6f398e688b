//! The driver's view of one socket service.

use core::num::NonZeroU64;

use crate::error::Error;
use crate::types::{AccessMode, ServiceType};

use super::ring::Ring;

/// Where a socket is in its life.
// `repr(u8)`: `Free` is tag 0, so a free socket is all zero bytes and a socket array is
// initialised with a memset, not copied from a flash constant of its whole size (buffers
// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum SocketPhase {
    /// Not in use.
    Free,
    /// Handed out by `allocate`, not opened yet.
    Reserved,
    /// `AT+QIOPEN` sent, waiting for `+QIOPEN`.
    Opening,
    /// Connected: data flows.
    Connected,
    /// The peer closed (`+QIURC: "closed"`); buffered data can still be read.
    PeerClosed,
    /// Opening failed, or the connection broke; the error is reported once data is read.
    Failed(Error),
    /// `AT+QICLOSE` queued or sent.
    Closing,
}

#[cfg(feature = "udp")]
/// The lengths of the datagrams a UDP socket holds, oldest first: a ring of
/// [`MAX_DATAGRAMS`] lengths with one-byte indices (36 bytes; a `heapless::Deque` of the same
/// capacity takes 44 on a 32-bit target, for each of the five sockets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boundaries {
    lens: [u16; MAX_DATAGRAMS],
    head: u8,
    len: u8,
}

#[cfg(feature = "udp")]
impl Boundaries {
    /// None held.
    pub const NEW: Self = Boundaries {
        lens: [0; MAX_DATAGRAMS],
        head: 0,
        len: 0,
    };

    /// True when no more fit.
    pub fn is_full(&self) -> bool {
        usize::from(self.len) >= MAX_DATAGRAMS
    }

    /// Remember the length of one more datagram; `Err` (and nothing changes) when full.
    pub fn push_back(&mut self, len: u16) -> Result<(), u16> {
        if self.is_full() {
            return Err(len);
        }
        let i = (usize::from(self.head) + usize::from(self.len)) % MAX_DATAGRAMS;
        if let Some(slot) = self.lens.get_mut(i) {
            *slot = len;
        }
        self.len += 1;
        Ok(())
    }

    /// The length of the oldest datagram, forgotten.
    pub fn pop_front(&mut self) -> Option<u16> {
        if self.len == 0 {
            return None;
        }
        let len = self.lens.get(usize::from(self.head)).copied();
        self.head = ((usize::from(self.head) + 1) % MAX_DATAGRAMS) as u8;
        self.len -= 1;
        len
    }

    /// Forget them all.
    pub fn clear(&mut self) {
        *self = Self::NEW;
    }
}

/// Without the `udp` feature no socket is a UDP socket, and no boundary is kept (no bytes).
#[cfg(not(feature = "udp"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boundaries;

#[cfg(not(feature = "udp"))]
impl Boundaries {
    /// None held.
    pub const NEW: Self = Boundaries;

    /// No room, ever.
    pub fn is_full(&self) -> bool {
        true
    }

    /// Nothing is kept.
    pub fn push_back(&mut self, len: u16) -> Result<(), u16> {
        Err(len)
    }

    /// Nothing is held.
    pub fn pop_front(&mut self) -> Option<u16> {
        None
    }

    /// Nothing to forget.
    pub fn clear(&mut self) {}
}

/// The outcome of a socket's last send, kept until its caller takes it. Not an
/// `Option<Result<..>>`, whose `None` is a niche value: `None` here is tag 0, so that a free
/// socket is all zero bytes (see [`SocketPhase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SendOutcome {
    /// No outcome waiting.
    None = 0,
    /// The module accepted this many bytes.
    Sent(usize),
    /// The send failed.
    Failed(Error),
}

impl SendOutcome {
    /// True while an outcome waits to be taken.
    pub fn is_some(&self) -> bool {
        !matches!(self, SendOutcome::None)
    }

    /// Take the outcome, leaving none.
    pub fn take(&mut self) -> Option<Result<usize, Error>> {
        match core::mem::replace(self, SendOutcome::None) {
            SendOutcome::None => None,
            SendOutcome::Sent(n) => Some(Ok(n)),
            SendOutcome::Failed(e) => Some(Err(e)),
        }
    }
}

impl From<Result<usize, Error>> for SendOutcome {
    fn from(r: Result<usize, Error>) -> Self {
        match r {
            Ok(n) => SendOutcome::Sent(n),
            Err(e) => SendOutcome::Failed(e),
        }
    }
}

/// How many datagram boundaries a UDP socket remembers. When they are all taken, buffer
/// access stops fetching (the module keeps the datagrams) and direct push drops whole
/// datagrams (counted in [`Traffic::datagrams_dropped`](super::Traffic)); a datagram is never
/// joined to another.
pub const MAX_DATAGRAMS: usize = 16;
const _: () = assert!(
    MAX_DATAGRAMS >= 1 && MAX_DATAGRAMS < 256,
    "Boundaries has u8 indices"
);

/// What happens to the payload being received for a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    /// Stored, pending until the payload ends well.
    Store,
    /// Thrown away: the rest of a truncated datagram, or a datagram with no room for its
    /// boundary.
    Discard,
}

/// One socket: its phase, its mode and its data. `RX` is its receive buffer, `TX` its send
/// queue.
#[derive(Debug)]
pub(crate) struct Socket<const RX: usize, const TX: usize> {
    pub phase: SocketPhase,
    pub service: ServiceType,
    pub mode: AccessMode,
    /// Received bytes the application has not read (and the payload being received, pending).
    pub rx: Ring<RX>,
    /// Buffer mode: the module holds data for us (URC seen; read until `+QIRD: 0`).
    pub read_pending: bool,
    /// Deadline of `+QIOPEN` (never 0: `None` is the zero bytes of a free socket).
    pub open_deadline: Option<NonZeroU64>,
    /// After `+QIOPEN` failure or a broken connection: `AT+QICLOSE` must still be sent.
    pub needs_close: bool,
    /// UDP: lengths of the complete datagrams in `rx`, oldest first.
    pub datagrams: Boundaries,
    /// UDP, buffer access: bytes of a datagram still being read (`+QIRD` said more remains).
    pub partial: u16,
    /// UDP: the rest of a datagram too large for the receive buffer is being dropped.
    pub discard_rest: bool,
    /// The payload being received does not fit: what does not is dropped (UDP truncation).
    pub truncated: bool,
    /// Failed `AT+QIRD` attempts in a row.
    pub read_failures: u8,
    /// No `AT+QIRD` before this instant (after a failed one).
    pub read_retry_at: u64,
    /// An `AT+QIRD` of this connection timed out: its answer may still come, with no read
    /// in flight (see `State::start_late_read`).
    pub late_read: bool,
    /// Buffer access: data was announced (`+QIURC: "recv"`, buffer full) and no read has
    /// returned any since. A read that finds none then says the announcement was perhaps
    /// another socket's, its id damaged on the line (see `State::on_read_empty`).
    pub announced: bool,
    /// Payload bytes of this connection the module accepted (`SEND OK`).
    pub sent_total: u64,
    /// Queued bytes dropped because the connection ended before they could go out.
    pub tx_dropped: usize,
    /// Outcome of the last direct send, until the application takes it.
    pub send_result: SendOutcome,
    /// The caller of the send in flight went away: drop its outcome when it comes.
    pub discard_send: bool,
    /// The send in flight reports its outcome in `send_result` ([`Engine::send`]) rather than
    /// in the background ([`Engine::queue_send`]).
    ///
    /// [`Engine::send`]: super::Engine::send
    /// [`Engine::queue_send`]: super::Engine::queue_send
    pub direct: bool,
    /// Bytes to send: the head of it (`tx_inflight` bytes) is being sent, waiting for
    /// `SEND OK`; the rest is queued.
    pub tx: Ring<TX>,
    /// Bytes at the front of `tx` handed to the module, waiting for `SEND OK`.
    pub tx_inflight: usize,
    /// Closed by the application with queued bytes still to send: send them, then close.
    pub linger: bool,
}

impl<const RX: usize, const TX: usize> Default for Socket<RX, TX> {
    fn default() -> Self {
        Self::NEW
    }
}

impl<const RX: usize, const TX: usize> Socket<RX, TX> {
    /// A free socket.
    pub const NEW: Self = Socket {
        phase: SocketPhase::Free,
        service: ServiceType::Tcp,
        mode: AccessMode::Buffer,
        rx: Ring::NEW,
        read_pending: false,
        open_deadline: None,
        needs_close: false,
        datagrams: Boundaries::NEW,
        partial: 0,
        discard_rest: false,
        truncated: false,
        read_failures: 0,
        read_retry_at: 0,
        late_read: false,
        announced: false,
        sent_total: 0,
        tx_dropped: 0,
        send_result: SendOutcome::None,
        discard_send: false,
        direct: false,
        tx: Ring::NEW,
        tx_inflight: 0,
        linger: false,
    };

    /// Forget everything (after `CLOSE OK`, or when the socket is handed out again).
    pub fn reset(&mut self) {
        *self = Self::NEW;
    }

    /// True for a UDP socket (never without the `udp` feature, so its paths compile out).
    pub fn is_udp(&self) -> bool {
        cfg!(feature = "udp") && self.service == ServiceType::Udp
    }

    /// True while the module has (or may have) a socket for this id.
    pub fn in_use(&self) -> bool {
        !matches!(self.phase, SocketPhase::Free | SocketPhase::Reserved)
    }

    /// True while data the module hands out for this socket is kept for the application:
    /// not once it failed (the application was told why it ends; what comes after is
    /// dropped) or is closing.
    pub fn takes_data(&self) -> bool {
        matches!(
            self.phase,
            SocketPhase::Opening | SocketPhase::Connected | SocketPhase::PeerClosed
        )
    }

    /// True when the engine should fetch data for this socket with `AT+QIRD` at `now`.
    pub fn wants_read(&self, now: u64) -> bool {
        self.read_pending
            && self.mode == AccessMode::Buffer
            && self.in_use()
            && !matches!(self.phase, SocketPhase::Closing)
            && now >= self.read_retry_at
            && (!self.is_udp() || !self.datagrams.is_full())
            && (self.rx.free() >= RX.min(64) || self.discard_rest)
    }

    /// How many bytes to ask for in the next `AT+QIRD`.
    pub fn read_size(&self) -> usize {
        if self.discard_rest {
            crate::types::MAX_READ
        } else {
            self.rx.free().clamp(1, crate::types::MAX_READ)
        }
    }

    /// The connection ended: queued bytes can no longer go out. They are counted, so the
    /// application learns how many were lost, never silently.
    pub fn drop_queued(&mut self) {
        // Bytes in flight stay until their `SEND OK` or failure settles them.
        let queued = self.tx.len().saturating_sub(self.tx_inflight);
        self.tx_dropped += queued;
        self.tx.truncate(self.tx_inflight);
    }

    /// A payload of `len` bytes starts for this socket; `end`: it ends a UDP datagram. Says
    /// what to do with its bytes, and whether a whole datagram is dropped for want of a
    /// boundary.
    pub fn begin_payload(&mut self, len: usize, end: bool) -> (Intake, bool) {
        self.truncated = false;
        if !self.is_udp() {
            return (Intake::Store, false);
        }
        if self.discard_rest {
            // The head of this datagram was delivered truncated; drop the rest of it.
            self.discard_rest = !end;
            return (Intake::Discard, false);
        }
        if self.partial == 0 && self.datagrams.is_full() {
            // No room to remember where it ends: drop it whole (direct push only; buffer
            // access does not fetch while the store is full).
            self.discard_rest = !end && len > 0;
            return (Intake::Discard, true);
        }
        (Intake::Store, false)
    }

    /// Store a piece of the payload (raw bytes, or hex digits when `hex`), pending.
    pub fn store_piece(&mut self, piece: &[u8], hex: bool) {
        let want = if hex { piece.len() / 2 } else { piece.len() };
        let n = if hex {
            self.rx.decode_hex_pending(piece)
        } else {
            self.rx.write_pending(piece)
        };
        if n < want {
            // A datagram larger than the receive buffer (the engine checks room for stream
            // data before it asks): what does not fit is dropped, as a UDP socket truncates.
            self.truncated = true;
        }
    }

    /// The payload ended well: its bytes become readable. Returns how many. For UDP, `end`
    /// says whether it ended a datagram.
    pub fn commit_payload(&mut self, end: bool) -> usize {
        let n = self.rx.commit();
        if self.is_udp() {
            self.partial = self
                .partial
                .saturating_add(u16::try_from(n).unwrap_or(u16::MAX));
            if end || self.truncated {
                if self.partial > 0 {
                    let _ = self.datagrams.push_back(self.partial);
                }
                self.partial = 0;
                self.discard_rest = self.truncated && !end;
            }
        }
        self.truncated = false;
        n
    }

    /// Read bytes for the application: a stream read for TCP, one whole datagram for UDP (the
    /// rest of a datagram larger than `out` is dropped, as with any UDP socket).
    /// An empty `out` takes nothing: a datagram is not dropped by a read that cannot hold
    /// any of it.
    pub fn read_data(&mut self, out: &mut [u8]) -> usize {
        if out.is_empty() {
            return 0;
        }
        if self.is_udp() {
            let Some(len) = self.datagrams.pop_front() else {
                return 0;
            };
            let len = usize::from(len).min(self.rx.len());
            let n = self
                .rx
                .read(out.get_mut(..len.min(out.len())).unwrap_or_default());
            self.rx.discard(len - n);
            return n;
        }
        self.rx.read(out)
    }
}

#[cfg(all(test, feature = "udp"))]
mod tests {
    use super::{Boundaries, MAX_DATAGRAMS};

    #[test]
    fn boundaries_keep_order_across_the_wrap_and_refuse_when_full() {
        let mut b = Boundaries::NEW;
        assert_eq!(b.pop_front(), None);
        // Walk the ring round more than once.
        for round in 0..3u16 {
            for i in 0..MAX_DATAGRAMS as u16 {
                assert_eq!(b.push_back(round * 100 + i), Ok(()));
            }
            assert!(b.is_full());
            assert_eq!(b.push_back(999), Err(999), "a full ring takes nothing");
            for i in 0..5 {
                assert_eq!(b.pop_front(), Some(round * 100 + i));
            }
            for i in 0..5 {
                assert_eq!(b.push_back(round * 100 + 50 + i), Ok(()));
            }
            for i in 5..MAX_DATAGRAMS as u16 {
                assert_eq!(b.pop_front(), Some(round * 100 + i));
            }
            for i in 0..5 {
                assert_eq!(b.pop_front(), Some(round * 100 + 50 + i));
            }
            assert_eq!(b.pop_front(), None);
        }
        b.push_back(7).unwrap();
        b.clear();
        assert_eq!(b.pop_front(), None);
    }
}
