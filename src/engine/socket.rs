//! The driver's view of one socket service.

use heapless::Deque;

use crate::error::Error;
use crate::types::{AccessMode, ServiceType};

use super::ring::Ring;

/// Where a socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

/// How many datagram boundaries a UDP socket remembers. When they are all taken, buffer
/// access stops fetching (the module keeps the datagrams) and direct push drops whole
/// datagrams (counted in [`Traffic::datagrams_dropped`](super::Traffic)); a datagram is never
/// joined to another.
pub const MAX_DATAGRAMS: usize = 16;

/// One socket: its phase, its mode and the data received for it.
#[derive(Debug)]
pub(crate) struct Socket<const N: usize> {
    pub phase: SocketPhase,
    pub service: ServiceType,
    pub mode: AccessMode,
    /// Received bytes the application has not read.
    pub rx: Ring<N>,
    /// Buffer mode: the module holds data for us (URC seen; read until `+QIRD: 0`).
    pub read_pending: bool,
    /// Deadline of `+QIOPEN`.
    pub open_deadline: Option<u64>,
    /// After `+QIOPEN` failure or a broken connection: `AT+QICLOSE` must still be sent.
    pub needs_close: bool,
    /// UDP: lengths of the complete datagrams in `rx`, oldest first.
    pub datagrams: Deque<u16, MAX_DATAGRAMS>,
    /// UDP, buffer access: bytes of a datagram still being read (`+QIRD` said more remains).
    pub partial: u16,
    /// UDP: the rest of a datagram too large for the receive buffer is being dropped.
    pub discard_rest: bool,
    /// Failed `AT+QIRD` attempts in a row.
    pub read_failures: u8,
    /// No `AT+QIRD` before this instant (after a failed one).
    pub read_retry_at: u64,
    /// Payload bytes of this connection the module accepted (`SEND OK`).
    pub sent_total: u64,
    /// Queued bytes dropped because the connection ended before they could go out.
    pub tx_dropped: usize,
    /// Outcome of the last send, until the application takes it.
    pub send_result: Option<Result<usize, Error>>,
    /// The caller of the send in flight went away: drop its outcome when it comes.
    pub discard_send: bool,
    /// Bytes queued by [`Engine::queue_send`](super::Engine::queue_send), not yet handed to
    /// the module.
    pub tx: Ring<TX_QUEUE>,
    /// Queued bytes handed to the module, waiting for `SEND OK`.
    pub tx_inflight: usize,
    /// Closed by the application with queued bytes still to send: send them, then close.
    pub linger: bool,
}

/// Size of each socket's send queue (one `AT+QISENDEX` worth).
pub const TX_QUEUE: usize = crate::types::MAX_SEND_HEX;

impl<const N: usize> Default for Socket<N> {
    fn default() -> Self {
        Socket {
            phase: SocketPhase::Free,
            service: ServiceType::Tcp,
            mode: AccessMode::Buffer,
            rx: Ring::default(),
            read_pending: false,
            open_deadline: None,
            needs_close: false,
            datagrams: Deque::new(),
            partial: 0,
            discard_rest: false,
            read_failures: 0,
            read_retry_at: 0,
            sent_total: 0,
            tx_dropped: 0,
            send_result: None,
            discard_send: false,
            tx: Ring::default(),
            tx_inflight: 0,
            linger: false,
        }
    }
}

impl<const N: usize> Socket<N> {
    /// Forget everything (after `CLOSE OK`, or when the socket is handed out again).
    pub fn reset(&mut self) {
        *self = Socket::default();
    }

    /// True while the module has (or may have) a socket for this id.
    pub fn in_use(&self) -> bool {
        !matches!(self.phase, SocketPhase::Free | SocketPhase::Reserved)
    }

    /// True when the engine should fetch data for this socket with `AT+QIRD` at `now`.
    pub fn wants_read(&self, now: u64) -> bool {
        self.read_pending
            && self.mode == AccessMode::Buffer
            && self.in_use()
            && self.phase != SocketPhase::Closing
            && now >= self.read_retry_at
            && (self.service == ServiceType::Tcp || !self.datagrams.is_full())
            && (self.rx.free() >= N.min(64) || self.discard_rest)
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
        self.tx_dropped += self.tx.len();
        self.tx.clear();
    }

    /// Store received bytes. For UDP, `end` says whether they end a datagram (direct push
    /// pushes whole datagrams; `+QIRD` says whether more of the datagram remains). Returns
    /// how many bytes were kept, and how many datagrams were dropped whole.
    pub fn push_data(&mut self, data: &[u8], end: bool) -> (usize, u32) {
        if self.service == ServiceType::Tcp {
            return (self.rx.write(data), 0);
        }
        if self.discard_rest {
            // The head of this datagram was delivered truncated; drop the rest of it.
            self.discard_rest = !end;
            return (0, 0);
        }
        if self.partial == 0 && self.datagrams.is_full() {
            // No room to remember where it ends: drop it whole (direct push only; buffer
            // access does not fetch while the store is full).
            self.discard_rest = !end;
            return (0, 1);
        }
        let n = self.rx.write(data);
        self.partial = self
            .partial
            .saturating_add(u16::try_from(n).unwrap_or(u16::MAX));
        let truncated = n < data.len();
        if end || truncated {
            // A datagram larger than the receive buffer is delivered truncated, as a UDP
            // socket does; the rest of it is dropped as it comes.
            if self.partial > 0 {
                let _ = self.datagrams.push_back(self.partial);
            }
            self.partial = 0;
            self.discard_rest = truncated && !end;
        }
        (n, 0)
    }

    /// Read bytes for the application: a stream read for TCP, one whole datagram for UDP (the
    /// rest of a datagram larger than `out` is dropped, as with any UDP socket).
    pub fn read_data(&mut self, out: &mut [u8]) -> usize {
        if self.service == ServiceType::Udp {
            let Some(len) = self.datagrams.pop_front() else {
                return 0;
            };
            let len = usize::from(len).min(self.rx.len());
            let n = self
                .rx
                .read(out.get_mut(..len.min(out.len())).unwrap_or_default());
            let mut rest = len - n;
            let mut sink = [0u8; 64];
            while rest > 0 {
                let k = self.rx.read(&mut sink[..rest.min(64)]);
                if k == 0 {
                    break;
                }
                rest -= k;
            }
            return n;
        }
        self.rx.read(out)
    }
}
