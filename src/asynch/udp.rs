//! UDP: connected sockets only (the BC20 has no UDP server).

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use embassy_sync::blocking_mutex::raw::RawMutex;

use super::{SocketGuard, Stack};
use crate::engine::{DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX};
use crate::error::Error;
use crate::types::{ConnectId, MAX_SEND_HEX, ServiceType};
use crate::wire::{EncodeError, encode::Field};

/// A connected UDP socket. Dropping it closes the socket.
pub struct UdpConnection<
    'a,
    M: RawMutex,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
> {
    stack: Stack<'a, M, N, RX, TX, ST>,
    id: ConnectId,
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    UdpConnection<'_, M, N, RX, TX, ST>
{
    /// The module's connectID of this socket.
    pub fn id(&self) -> ConnectId {
        self.id
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Drop
    for UdpConnection<'_, M, N, RX, TX, ST>
{
    fn drop(&mut self) {
        let _ = SocketGuard {
            state: self.stack.state,
            id: Some(self.id),
        };
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_nal_async::ConnectedUdp for UdpConnection<'_, M, N, RX, TX, ST>
{
    type Error = Error;

    /// One datagram of at most 512 bytes; larger is refused, never split.
    async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.len() > MAX_SEND_HEX {
            return Err(Error::InvalidArgument(EncodeError::TooLong {
                field: Field::Data,
                len: data.len(),
                max: MAX_SEND_HEX,
            }));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.stack.write_socket(self.id, data).await.map(|_| ())
    }

    /// One datagram; a datagram longer than `buffer` is truncated (its rest dropped).
    async fn receive_into(&mut self, buffer: &mut [u8]) -> Result<usize, Error> {
        self.stack.read_socket(self.id, buffer).await
    }
}

/// The BC20 has no UDP server: this type has no values, and `bind_*` return
/// [`Error::Unsupported`].
pub enum NoUdpServer {}

impl embedded_nal_async::UnconnectedUdp for NoUdpServer {
    type Error = Error;

    async fn send(&mut self, _: SocketAddr, _: SocketAddr, _: &[u8]) -> Result<(), Error> {
        match *self {}
    }

    async fn receive_into(
        &mut self,
        _: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), Error> {
        match *self {}
    }
}

impl<'a, M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_nal_async::UdpStack for Stack<'a, M, N, RX, TX, ST>
{
    type Error = Error;
    type Connected = UdpConnection<'a, M, N, RX, TX, ST>;
    type UniquelyBound = NoUdpServer;
    type MultiplyBound = NoUdpServer;

    /// Opens a UDP socket to `remote` from `local`'s port (0: any). The module has one
    /// address, so `local`'s IP is not used; the returned local address has the unspecified
    /// IP and the port asked for.
    async fn connect_from(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(SocketAddr, Self::Connected), Error> {
        let id = self.open(ServiceType::Udp, remote, local.port()).await?;
        let local = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port()));
        Ok((local, UdpConnection { stack: *self, id }))
    }

    async fn bind_single(&self, _local: SocketAddr) -> Result<(SocketAddr, NoUdpServer), Error> {
        Err(Error::Unsupported)
    }

    async fn bind_multiple(&self, _local: SocketAddr) -> Result<NoUdpServer, Error> {
        Err(Error::Unsupported)
    }
}
