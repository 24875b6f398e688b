//! TCP connections: `TcpConnect` and the connection's `embedded_io_async` streams.

use core::net::SocketAddr;
use core::task::Poll;

use embassy_sync::blocking_mutex::raw::RawMutex;

use super::{SocketGuard, Stack};
use crate::engine::{DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX};
use crate::error::Error;
use crate::types::{ConnectId, ServiceType};

/// A TCP connection through the module. Dropping it closes the socket (the runner sends
/// `AT+QICLOSE`).
pub struct TcpConnection<
    'a,
    M: RawMutex,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
> {
    pub(super) stack: Stack<'a, M, N, RX, TX, ST>,
    pub(super) id: ConnectId,
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    TcpConnection<'_, M, N, RX, TX, ST>
{
    /// The module's connectID of this connection.
    pub fn id(&self) -> ConnectId {
        self.id
    }

    /// Bytes received and not read yet.
    pub fn available(&self) -> usize {
        self.stack.state.with(|e| e.available(self.id))
    }

    /// Bytes written to this connection that the module has accepted (`SEND OK`) so far.
    pub fn sent(&self) -> u64 {
        self.stack.state.with(|e| e.sent_total(self.id))
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Drop
    for TcpConnection<'_, M, N, RX, TX, ST>
{
    fn drop(&mut self) {
        // Reuse the connect guard's close-on-drop.
        let _ = SocketGuard {
            state: self.stack.state,
            id: Some(self.id),
        };
    }
}

impl<'a, M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    Stack<'a, M, N, RX, TX, ST>
{
    /// Read into `buf` from socket `id`: `Ok(0)` at end of stream.
    pub(super) async fn read_socket(&self, id: ConnectId, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = self
            .wait(|e| match e.recv(id, buf) {
                Ok(0) => Poll::Pending,
                Ok(n) => Poll::Ready(Ok(n)),
                Err(Error::Closed) => Poll::Ready(Ok(0)),
                Err(err) => Poll::Ready(Err(err)),
            })
            .await;
        // Reading made room: held-back output may flow again.
        self.state.space.signal(());
        r
    }

    /// Hand the first chunk of `data` to the module and wait for `SEND OK` (UDP's send).
    #[cfg(feature = "udp")]
    pub(super) async fn write_socket(&self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        /// Forgets the outcome of a chunk whose writer went away.
        struct Pending<
            's,
            M: RawMutex,
            const N: usize,
            const RX: usize,
            const TX: usize,
            const ST: usize,
        > {
            stack: &'s Stack<'s, M, N, RX, TX, ST>,
            id: ConnectId,
            armed: bool,
        }
        impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Drop
            for Pending<'_, M, N, RX, TX, ST>
        {
            fn drop(&mut self) {
                if self.armed {
                    self.stack.state.with(|e| e.forget_send(self.id));
                }
            }
        }
        let mut pending = Pending {
            stack: self,
            id,
            armed: false,
        };
        let r = self
            .wait(|e| {
                if pending.armed {
                    return match e.take_send_result(id) {
                        Some(r) => Poll::Ready(r),
                        None => Poll::Pending,
                    };
                }
                if e.send_pending(id) {
                    // A chunk of a cancelled write is still on its way.
                    return Poll::Pending;
                }
                match e.send(id, data) {
                    Ok(_) => {
                        pending.armed = true;
                        Poll::Pending
                    }
                    Err(Error::Busy) => Poll::Pending,
                    Err(err) => Poll::Ready(Err(err)),
                }
            })
            .await;
        pending.armed = false;
        r
    }

    /// Copy as much of `data` as fits into the socket's send queue (waiting for room).
    pub(super) async fn queue_socket(&self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        self.wait(|e| match e.queue_send(id, data) {
            Ok(0) => Poll::Pending,
            Ok(n) => Poll::Ready(Ok(n)),
            Err(err) => Poll::Ready(Err(err)),
        })
        .await
    }

    /// Wait until the module has accepted (`SEND OK`) every queued byte of `id`, or the
    /// connection ended without them ([`Error::Unsent`] says how many went out).
    pub(super) async fn flush_socket(&self, id: ConnectId) -> Result<(), Error> {
        self.wait(|e| match e.poll_flush(id) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        })
        .await
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_io_async::ErrorType for TcpConnection<'_, M, N, RX, TX, ST>
{
    type Error = Error;
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_io_async::Read for TcpConnection<'_, M, N, RX, TX, ST>
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.stack.read_socket(self.id, buf).await
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_io_async::Write for TcpConnection<'_, M, N, RX, TX, ST>
{
    /// Queues as much of `buf` as fits in the socket's send queue (512 bytes) and returns; the
    /// runner hands queued bytes to the module in the background. Small writes (HTTP and MQTT
    /// clients write headers piece by piece) thus share one `AT+QISENDEX`. Call
    /// [`flush`](embedded_io_async::Write::flush) to wait until the module has accepted
    /// everything; a `SEND FAIL` is reported there (or by the next write). Bytes queued before
    /// the connection is dropped are still sent, then the socket is closed.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.stack.queue_socket(self.id, buf).await
    }

    /// Waits until the module has accepted every byte written so far (`SEND OK`). Fails
    /// with [`Error::Unsent`] when the peer closed before they could all go out (it says how
    /// many did), or with the connection's error. In direct push, while this connection's
    /// own unread data holds the module's output back, it returns once every byte is in the
    /// module, without the last answer that waits behind that data (see
    /// [`Engine::poll_flush`](crate::engine::Engine::poll_flush)): read, and a failure shows
    /// on the next read or write.
    async fn flush(&mut self) -> Result<(), Error> {
        self.stack.flush_socket(self.id).await
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_nal_async::TcpConnect for Stack<'_, M, N, RX, TX, ST>
{
    type Error = Error;
    type Connection<'c>
        = TcpConnection<'c, M, N, RX, TX, ST>
    where
        Self: 'c;

    async fn connect<'c>(&'c self, remote: SocketAddr) -> Result<Self::Connection<'c>, Error> {
        let id = self.open(ServiceType::Tcp, remote, 0).await?;
        Ok(TcpConnection { stack: *self, id })
    }
}
