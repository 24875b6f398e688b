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

/// How many datagram boundaries a UDP socket remembers.
pub(crate) const MAX_DATAGRAMS: usize = 16;

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
    /// UDP: lengths of the datagrams in `rx`, oldest first.
    pub datagrams: Deque<u16, MAX_DATAGRAMS>,
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

    /// Store received bytes; UDP remembers where each datagram ends.
    pub fn push_data(&mut self, data: &[u8], datagram: bool) -> usize {
        let n = self.rx.write(data);
        if self.service == ServiceType::Udp && datagram && n > 0 {
            let len = u16::try_from(n).unwrap_or(u16::MAX);
            if let Err(len) = self.datagrams.push_back(len) {
                // Too many small datagrams queued: merge into the newest boundary.
                if let Some(last) = self.datagrams.back_mut() {
                    *last = last.saturating_add(len);
                }
            }
        }
        n
    }

    /// Read bytes for the application: a stream read for TCP, one datagram for UDP (the rest
    /// of a datagram larger than `out` is dropped, as with any UDP socket).
    pub fn read_data(&mut self, out: &mut [u8]) -> usize {
        if self.service == ServiceType::Udp
            && let Some(len) = self.datagrams.pop_front()
        {
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
