//! The `embedded-nal` 0.9 traits.

use core::net::{IpAddr, SocketAddr};

use embedded_io::{Read, ReadReady, Write};
#[cfg(feature = "udp")]
use embedded_nal::UdpClientStack;
use embedded_nal::{AddrType, Dns, TcpClientStack};

use super::Bc20;
use crate::clock::Clock;
use crate::error::Error;
#[cfg(feature = "udp")]
use crate::types::MAX_SEND_HEX;
use crate::types::{ConnectId, ServiceType};
use crate::wake::Wake;
#[cfg(feature = "udp")]
use crate::wire::{EncodeError, encode::Field};

/// A TCP socket of [`Bc20`]: one of the module's five connectIDs.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TcpSocket {
    id: ConnectId,
}

impl TcpSocket {
    /// The module's connectID for this socket.
    pub fn id(&self) -> ConnectId {
        self.id
    }
}

#[cfg(feature = "udp")]
/// A UDP socket of [`Bc20`]: one of the module's five connectIDs.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UdpSocket {
    id: ConnectId,
}

#[cfg(feature = "udp")]
impl UdpSocket {
    /// The module's connectID for this socket.
    pub fn id(&self) -> ConnectId {
        self.id
    }
}

impl<U, C, const N: usize, const RX: usize, const TX: usize, const ST: usize, P> TcpClientStack
    for Bc20<U, C, N, RX, TX, ST, P>
where
    U: Read + Write + ReadReady,
    C: Clock,
    P: Wake,
{
    type TcpSocket = TcpSocket;
    type Error = Error;

    fn socket(&mut self) -> Result<TcpSocket, Error> {
        self.engine
            .allocate(ServiceType::Tcp)
            .map(|id| TcpSocket { id })
    }

    fn connect(&mut self, socket: &mut TcpSocket, remote: SocketAddr) -> nb::Result<(), Error> {
        self.connect_nb(socket.id, remote)
    }

    fn send(&mut self, socket: &mut TcpSocket, buffer: &[u8]) -> nb::Result<usize, Error> {
        self.send_nb(socket.id, buffer)
    }

    fn receive(&mut self, socket: &mut TcpSocket, buffer: &mut [u8]) -> nb::Result<usize, Error> {
        self.receive_nb(socket.id, buffer)
    }

    fn close(&mut self, socket: TcpSocket) -> Result<(), Error> {
        self.close_blocking(socket.id)
    }
}

#[cfg(feature = "udp")]
impl<U, C, const N: usize, const RX: usize, const TX: usize, const ST: usize, P> UdpClientStack
    for Bc20<U, C, N, RX, TX, ST, P>
where
    U: Read + Write + ReadReady,
    C: Clock,
    P: Wake,
{
    type UdpSocket = UdpSocket;
    type Error = Error;

    fn socket(&mut self) -> Result<UdpSocket, Error> {
        self.engine
            .allocate(ServiceType::Udp)
            .map(|id| UdpSocket { id })
    }

    /// Blocks until the module has opened the socket (`+QIOPEN`), as the trait has no `nb`.
    fn connect(&mut self, socket: &mut UdpSocket, remote: SocketAddr) -> Result<(), Error> {
        let id = socket.id;
        self.wait(|d| d.connect_nb(id, remote))
    }

    /// Sends one datagram of at most 512 bytes (`AT+QISENDEX`); a larger one is refused, never
    /// split, because that would change what the peer receives.
    fn send(&mut self, socket: &mut UdpSocket, buffer: &[u8]) -> nb::Result<(), Error> {
        if buffer.len() > MAX_SEND_HEX {
            return Err(nb::Error::Other(Error::InvalidArgument(
                EncodeError::TooLong {
                    field: Field::Data,
                    len: buffer.len(),
                    max: MAX_SEND_HEX,
                },
            )));
        }
        self.send_nb(socket.id, buffer).map(|_| ())
    }

    fn receive(
        &mut self,
        socket: &mut UdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), Error> {
        let n = self.receive_nb(socket.id, buffer)?;
        let remote = self.remotes[socket.id.index()].ok_or(nb::Error::Other(Error::Closed))?;
        Ok((n, SocketAddr::V4(remote)))
    }

    fn close(&mut self, socket: UdpSocket) -> Result<(), Error> {
        self.close_blocking(socket.id)
    }
}

impl<U, C, const N: usize, const RX: usize, const TX: usize, const ST: usize, P> Dns
    for Bc20<U, C, N, RX, TX, ST, P>
where
    U: Read + Write + ReadReady,
    C: Clock,
    P: Wake,
{
    type Error = Error;

    /// `AT+QIDNSGIP`; the BC20 resolves IPv4 only, so `AddrType::IPv6` is
    /// [`Error::Unsupported`]. A dotted IPv4 address is returned without asking the module.
    fn get_host_by_name(
        &mut self,
        hostname: &str,
        addr_type: AddrType,
    ) -> nb::Result<IpAddr, Error> {
        if addr_type == AddrType::IPv6 {
            return Err(nb::Error::Other(Error::Unsupported));
        }
        self.resolve(hostname)
    }

    /// The BC20 has no reverse lookup: always [`Error::Unsupported`].
    fn get_host_by_address(
        &mut self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> nb::Result<usize, Error> {
        Err(nb::Error::Other(Error::Unsupported))
    }
}
