//! TCP connections: `TcpConnect` and the connection's `embedded_io_async` streams.

use core::net::SocketAddr;
use core::task::Poll;

use embassy_sync::blocking_mutex::raw::RawMutex;

use super::{SocketGuard, Stack};
use crate::error::Error;
use crate::types::{ConnectId, ServiceType};

/// A TCP connection through the module. Dropping it closes the socket (the runner sends
/// `AT+QICLOSE`).
pub struct TcpConnection<'a, M: RawMutex, const SOCK_RX: usize, const RX: usize> {
    pub(super) stack: Stack<'a, M, SOCK_RX, RX>,
    pub(super) id: ConnectId,
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> TcpConnection<'_, M, SOCK_RX, RX> {
    /// The module's connectID of this connection.
    pub fn id(&self) -> ConnectId {
        self.id
    }

    /// Bytes received and not read yet.
    pub fn available(&self) -> usize {
        self.stack.state.with(|e| e.available(self.id))
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> Drop
    for TcpConnection<'_, M, SOCK_RX, RX>
{
    fn drop(&mut self) {
        // Reuse the connect guard's close-on-drop.
        let _ = SocketGuard {
            state: self.stack.state,
            id: Some(self.id),
        };
    }
}

impl<'a, M: RawMutex, const SOCK_RX: usize, const RX: usize> Stack<'a, M, SOCK_RX, RX> {
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

    /// Hand the first chunk of `data` to the module and wait for `SEND OK`.
    pub(super) async fn write_socket(&self, id: ConnectId, data: &[u8]) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        /// Forgets the outcome of a chunk whose writer went away.
        struct Pending<'s, M: RawMutex, const S: usize, const R: usize> {
            stack: &'s Stack<'s, M, S, R>,
            id: ConnectId,
            armed: bool,
        }
        impl<M: RawMutex, const S: usize, const R: usize> Drop for Pending<'_, M, S, R> {
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

    /// Wait until no chunk of `id` is on its way to the module.
    pub(super) async fn flush_socket(&self, id: ConnectId) -> Result<(), Error> {
        self.wait(|e| {
            if e.send_pending(id) {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        })
        .await
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> embedded_io_async::ErrorType
    for TcpConnection<'_, M, SOCK_RX, RX>
{
    type Error = Error;
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> embedded_io_async::Read
    for TcpConnection<'_, M, SOCK_RX, RX>
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.stack.read_socket(self.id, buf).await
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> embedded_io_async::Write
    for TcpConnection<'_, M, SOCK_RX, RX>
{
    /// Writes one chunk (up to 512 bytes) and returns once the module answered `SEND OK`.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.stack.write_socket(self.id, buf).await
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.stack.flush_socket(self.id).await
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> embedded_nal_async::TcpConnect
    for Stack<'_, M, SOCK_RX, RX>
{
    type Error = Error;
    type Connection<'c>
        = TcpConnection<'c, M, SOCK_RX, RX>
    where
        Self: 'c;

    async fn connect<'c>(&'c self, remote: SocketAddr) -> Result<Self::Connection<'c>, Error> {
        let id = self.open(ServiceType::Tcp, remote, 0).await?;
        Ok(TcpConnection { stack: *self, id })
    }
}
