//! The typed items the parser produces.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::keyed::{keyed, lookup};
use crate::types::{
    CmeError, ConnectId, NtpTime, PingReply, PingSummary, QiCfg, RegistrationStatus, ResultCode,
    SocketStatus,
};

/// Received data inside a frame, borrowed from the parser's input.
///
/// In hex receive mode (`AT+QICFG="dataformat",0,1`) the module prints two hex digits a byte;
/// the parser has checked that every digit is valid, so [`Payload::decode_into`] cannot fail on
/// content, only on a too-small buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Payload<'a> {
    wire: &'a [u8],
    hex: bool,
}

impl<'a> Payload<'a> {
    /// Raw payload bytes.
    pub const fn raw(bytes: &'a [u8]) -> Self {
        Payload {
            wire: bytes,
            hex: false,
        }
    }

    /// A hex payload. Returns `None` unless `text` has an even number of hex digits.
    pub fn hex(text: &'a [u8]) -> Option<Self> {
        if text.len().is_multiple_of(2) && text.iter().all(u8::is_ascii_hexdigit) {
            Some(Payload {
                wire: text,
                hex: true,
            })
        } else {
            None
        }
    }

    /// The bytes as they were on the wire (hex text in hex mode).
    pub const fn wire_bytes(&self) -> &'a [u8] {
        self.wire
    }

    /// True when the payload is hex text.
    pub const fn is_hex(&self) -> bool {
        self.hex
    }

    /// The number of payload bytes (after hex decoding).
    pub const fn len(&self) -> usize {
        if self.hex {
            self.wire.len() / 2
        } else {
            self.wire.len()
        }
    }

    /// True when there is no payload byte.
    pub const fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }

    /// The raw bytes, when the payload is not hex (zero copy).
    pub const fn as_raw(&self) -> Option<&'a [u8]> {
        if self.hex { None } else { Some(self.wire) }
    }

    /// Copy the payload bytes into `out`, decoding hex. Returns the number of bytes written, or
    /// `None` (writing nothing) when `out` is shorter than [`Payload::len`].
    pub fn decode_into(&self, out: &mut [u8]) -> Option<usize> {
        if self.hex {
            // Checked hex already: only a short `out` can fail.
            super::hex::decode_into(self.wire, out)
        } else {
            let out = out.get_mut(..self.wire.len())?;
            out.copy_from_slice(self.wire);
            Some(out.len())
        }
    }
}

/// A command whose test form (`AT+X=?`) the parser recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TestCommand {
    /// `+QIOPEN: (1-3),(0-4),...`
    QiOpen,
    /// `+QICLOSE: (0-4)`
    QiClose,
    /// `+QISEND: (0-4),(1-1024),<data>`
    QiSend,
    /// `+QISENDEX: (0-4),(1-512),<hex_string>`
    QiSendEx,
    /// `+QIRD: (0-4),(1-512)`
    QiRd,
    /// `+QISWTMD: (0-4),(0-1)`
    QiSwtmd,
    /// `+QPING: (1-3),"<host>"...`
    QPing,
    /// `+QNTP: (1-3),"<server>"...`
    QNtp,
    /// `+QIDNSGIP: (1-3),"<hostname>"`
    QiDnsGip,
    /// `+QICFG: "dataformat",(0,1),(0,1)` and its siblings.
    QiCfg,
}

/// A line of `+QPING` output (manual 2.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PingLine {
    /// `+QPING: 0,"<ip>",<bytes>,<time>,<ttl>`: one echo reply.
    Echo(PingReply),
    /// `+QPING: <finresult>,<sent>,<rcvd>,<lost>,<min>,<max>,<avg>`: the summary.
    Summary(PingSummary),
    /// `+QPING: <err>` alone: a failed echo, or the whole ping failed (spec 6.6).
    Result(ResultCode),
}

/// Forms of `+CEREG` (3GPP TS 27.007 10.1.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CeReg {
    /// Answer to `AT+CEREG?`: `+CEREG: <n>,<stat>[,...]`.
    Read {
        /// The URC mode that is set.
        n: u8,
        /// Registration status.
        stat: RegistrationStatus,
    },
    /// The unsolicited form: `+CEREG: <stat>[,<tac>,<ci>,...]`.
    Urc {
        /// Registration status.
        stat: RegistrationStatus,
    },
}

impl CeReg {
    /// The registration status, whichever form.
    pub const fn stat(&self) -> RegistrationStatus {
        match self {
            CeReg::Read { stat, .. } | CeReg::Urc { stat } => *stat,
        }
    }
}

/// The remote end of a datagram, as sibling modules print it before UDP-service data
/// (`+QIRD: <len>,"<ip>",<port>`, `+QIURC: "recv",<id>,<len>,"<ip>",<port>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Remote {
    /// The address (sibling modules print IPv4 or IPv6 literals).
    #[cfg_attr(feature = "defmt", defmt(Debug2Format))]
    pub ip: IpAddr,
    /// The remote port.
    pub port: u16,
}

impl Remote {
    /// The address and port as one socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// The service type of a BG96-class socket (`"<service_type>"` of `+QISTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ExtService {
    /// `TCP`, a TCP client.
    Tcp,
    /// `UDP`, a UDP client.
    Udp,
    /// `TCP LISTENER`, a TCP server.
    TcpListener,
    /// `TCP INCOMING`, a connection accepted by a TCP server.
    TcpIncoming,
    /// `UDP SERVICE`, a UDP socket that sends to any peer.
    UdpService,
    /// A type this crate does not know.
    Other,
}

impl ExtService {
    /// The type for its name as printed (without quotes).
    pub fn from_wire(name: &[u8]) -> Self {
        keyed! {
            const NAMES: [ExtService] = [
                "TCP" => ExtService::Tcp,
                "UDP" => ExtService::Udp,
                "TCP LISTENER" => ExtService::TcpListener,
                "TCP INCOMING" => ExtService::TcpIncoming,
                "UDP SERVICE" => ExtService::UdpService,
            ];
        }
        lookup(&NAMES, name).unwrap_or(ExtService::Other)
    }
}

/// The AT port a BG96-class module reports a socket to (`"<AT_port>"` of `+QISTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AtPort {
    /// `uart1`, the main UART.
    Uart1,
    /// `usbat`, the USB AT port.
    UsbAt,
    /// `usbmodem`, the USB modem port.
    UsbModem,
    /// A name this crate does not know.
    Other,
}

impl AtPort {
    /// The port for its name as printed (without quotes).
    pub fn from_wire(name: &[u8]) -> Self {
        keyed! {
            const NAMES: [AtPort] = [
                "uart1" => AtPort::Uart1,
                "usbat" => AtPort::UsbAt,
                "usbmodem" => AtPort::UsbModem,
            ];
        }
        lookup(&NAMES, name).unwrap_or(AtPort::Other)
    }
}

/// `+QISTATE:` in the ten-field form of BG96-class siblings (BG96, EC2x, UC200T):
/// `<connectID>,"<service_type>","<ip>",<remote_port>,<local_port>,<socket_state>,<contextID>,
/// <serverID>,<access_mode>,"<AT_port>"`. Those modules have up to 12 sockets, more service
/// types and a fifth state, so the fields are kept as printed (typed by range only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SocketStatusExt<'a> {
    /// The connectID as printed (0..=11 on BG96-class modules).
    pub id: u8,
    /// The service type.
    pub service: ExtService,
    /// The remote address as printed.
    pub remote: &'a str,
    /// Remote port.
    pub remote_port: u16,
    /// Local port.
    pub local_port: u16,
    /// Socket state as printed (0 initial, 1 opening, 2 connected, 3 listening, 4 closing on
    /// BG96-class modules).
    pub state: u8,
    /// The PDP context.
    pub context: u8,
    /// The server socket an incoming connection belongs to (as printed; may be negative).
    pub server_id: i16,
    /// Access mode as printed (0 buffer, 1 direct push, 2 transparent).
    pub access_mode: u8,
    /// The AT port the socket reports to (kept as a name so that the frame stays small).
    pub at_port: AtPort,
}

impl SocketStatusExt<'_> {
    /// The socket as this driver knows sockets: `None` for ids above 4, service types other
    /// than TCP and UDP client, and states or access modes the BC20 does not have.
    pub fn as_bc20(&self) -> Option<SocketStatus<'_>> {
        Some(SocketStatus {
            id: ConnectId::new(self.id)?,
            service: match self.service {
                ExtService::Tcp => crate::types::ServiceType::Tcp,
                ExtService::Udp => crate::types::ServiceType::Udp,
                _ => return None,
            },
            remote: self.remote,
            remote_port: self.remote_port,
            local_port: self.local_port,
            state: crate::types::SocketState::from_wire(self.state)?,
            context: crate::types::ContextId::new(self.context)?,
            access_mode: crate::types::AccessMode::from_wire(self.access_mode)?,
        })
    }
}

/// Why a line that looked like a known response could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Malformed {
    /// A field was missing, of the wrong type or out of range.
    Fields,
    /// A connectID outside 0..=4.
    ConnectId,
    /// An announced payload length above the parser's limit.
    LengthTooLarge,
    /// Hex payload text with a non-hex digit or an odd length.
    BadHex,
    /// A payload was not followed by what the layout requires.
    Layout,
}

/// One item of module output.
///
/// Frames borrow from the parser's input: payloads are not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    // ----- final result codes -----
    /// `OK`.
    Ok,
    /// `ERROR`.
    Error,
    /// `+CME ERROR: <n>`.
    CmeError(CmeError),
    /// `+CME ERROR: <text>` (verbose error mode, `AT+CMEE=2`).
    CmeErrorText(&'a str),
    /// `SEND OK`: the last `AT+QISEND`/`AT+QISENDEX` reached the module's stack.
    SendOk,
    /// `SEND FAIL`: the last send was not accepted.
    SendFail,
    /// `CLOSE OK`: `AT+QICLOSE` done (may come after the `OK`).
    CloseOk,

    // ----- information responses -----
    /// `+QIOPEN: <id>,<err>`, the outcome of `AT+QIOPEN` (a URC in practice).
    QiOpen {
        /// The socket.
        id: ConnectId,
        /// 0 on success.
        result: ResultCode,
    },
    /// A `+QISTATE:` line.
    QiState(SocketStatus<'a>),
    /// `+QIRD: <len>[,<remaining>]` and the data that follows it (`+QIRD: 0` has none).
    QiRd {
        /// The data read (`len` bytes; hex text in hex receive mode).
        data: Payload<'a>,
        /// What is left in the current buffer node (only with `showlength` 1).
        remaining: Option<u16>,
    },
    /// `+QIRD: <len>[,<remaining>]` from the streaming parser ([`Parser::stream`]): `len`
    /// payload bytes follow as [`Stream::Data`] pieces, then [`Stream::End`].
    ///
    /// [`Parser::stream`]: super::Parser::stream
    /// [`Stream::Data`]: super::Stream::Data
    /// [`Stream::End`]: super::Stream::End
    QiRdHeader {
        /// Payload bytes announced.
        len: u16,
        /// What is left in the current buffer node (only with `showlength` 1).
        remaining: Option<u16>,
        /// The sender, in the UDP-service form of BG96-class siblings
        /// (`+QIRD: <len>,"<ip>",<port>`; the whole-frame form is [`Frame::QiRdFrom`]).
        from: Option<Remote>,
    },
    /// `+QIRD: <total>,<read>,<unread>`: the answer to `AT+QIRD=<id>,0` on siblings that have
    /// it (BG96, EC600S): bytes received in all, read, and waiting. No data follows.
    QiRdQuery {
        /// Bytes received on the socket in all.
        total: u32,
        /// Bytes read so far.
        read: u32,
        /// Bytes waiting to be read.
        unread: u32,
    },
    /// `+QIRD: <len>,"<ip>",<port>` and the data after the line end: a read on a BG96-class
    /// `UDP SERVICE` socket, with the datagram's sender.
    QiRdFrom {
        /// The data read (`len` bytes; hex text in hex receive mode).
        data: Payload<'a>,
        /// Who sent it.
        from: Remote,
    },
    /// `+QISEND: <total>,<acked>,<unacked>`: the answer to `AT+QISEND=<id>,0` on siblings
    /// that have it (BC66, BC660K, BG96): bytes sent in all, acknowledged by the peer, and not.
    QiSendQuery {
        /// Bytes sent in all.
        total: u32,
        /// Bytes the peer acknowledged.
        acked: u32,
        /// Bytes not acknowledged yet.
        unacked: u32,
    },
    /// `+QISTATE:` in the ten-field form of BG96-class siblings.
    QiStateExt(SocketStatusExt<'a>),
    /// `+QPING:` echo, summary or lone result (decoded with feature `ping`; without it the
    /// line is [`Frame::Unknown`]).
    Ping(PingLine),
    /// `+QNTP: <err>[,"<time>"]` (decoded with feature `ntp`; without it the line is
    /// [`Frame::Unknown`]).
    Ntp {
        /// 0 on success.
        result: ResultCode,
        /// The time, when the module printed one.
        time: Option<NtpTime>,
    },
    /// `+QICFG: "<key>",...`, the answer to a QICFG query or write.
    QiCfg(QiCfg),
    /// `+QIGETERROR: <err>,<description>`.
    QiGetError {
        /// The last error.
        result: ResultCode,
        /// The module's description, unquoted.
        description: &'a str,
    },
    /// A test-command answer (`+QIOPEN: (1-3),...`); `params` is the text after `: `.
    Test {
        /// The command.
        command: TestCommand,
        /// The ranges as printed.
        params: &'a str,
    },
    /// `+CPIN: <code>` (`READY` when the SIM is usable).
    CPin(&'a str),
    /// `+CEREG:` in its read or URC form.
    CeReg(CeReg),
    /// `+CGATT: <state>`.
    CgAtt(bool),
    /// `+CGPADDR: <cid>[,<address>]` (real modules may print no address).
    CgPAddr {
        /// The PDP context.
        cid: u8,
        /// The address, when the module printed one.
        addr: Option<&'a str>,
    },
    /// A line of `ATI`: manufacturer or model (`Quectel_Ltd`, `Quectel_BC20`).
    Identification(&'a str),
    /// `Revision: <version>` from `ATI` or `AT+CGMR`.
    Revision(&'a str),

    // ----- URCs -----
    /// `+QIURC: "closed",<id>`: the peer closed or the network failed.
    Closed(ConnectId),
    /// `+QIURC: "recv",<id>[,<len>]` in buffer access mode: data is waiting for `AT+QIRD`.
    RecvNotify {
        /// The socket.
        id: ConnectId,
        /// The announced length (only with `showlength` 1).
        len: Option<u16>,
    },
    /// `+QIURC: "recv",<id>,<len>` and its data in direct push mode.
    RecvData {
        /// The socket.
        id: ConnectId,
        /// The data pushed.
        data: Payload<'a>,
    },
    /// `+QIURC: "recv",<id>,<len>` in direct push mode, from the streaming parser
    /// ([`Parser::stream`]): `len` payload bytes follow as [`Stream::Data`] pieces, then
    /// [`Stream::End`].
    ///
    /// [`Parser::stream`]: super::Parser::stream
    /// [`Stream::Data`]: super::Stream::Data
    /// [`Stream::End`]: super::Stream::End
    RecvHeader {
        /// The socket.
        id: ConnectId,
        /// Payload bytes announced.
        len: u16,
        /// The sender, in the UDP-service form of BG96-class siblings
        /// (`+QIURC: "recv",<id>,<len>,"<ip>",<port>`; the whole-frame form is
        /// [`Frame::RecvFrom`]).
        from: Option<Remote>,
    },
    /// `+QIURC: "recv",<id>,<len>,"<ip>",<port>` and the data after the line end: direct push
    /// on a BG96-class `UDP SERVICE` socket, with the datagram's sender.
    RecvFrom {
        /// The socket.
        id: ConnectId,
        /// The data pushed.
        data: Payload<'a>,
        /// Who sent it.
        from: Remote,
    },
    /// `+QIURC: "recv",<id>,"buff full"`: the module has no room; the host must read.
    BuffFull(ConnectId),
    /// `+QIURC: "dnsgip",<err>,<count>,<ttl>`: the head of a DNS answer.
    DnsHead {
        /// 0 on success.
        result: ResultCode,
        /// How many address lines follow.
        count: u8,
        /// Time to live of the answer, in seconds.
        ttl: u32,
    },
    /// `+QIURC: "dnsgip","<ip>"`: one address of a DNS answer.
    DnsAddr(#[cfg_attr(feature = "defmt", defmt(Debug2Format))] Ipv4Addr),
    /// `+QIURC: "pdpdeact",<cid>`: the PDP context dropped; every socket is gone.
    PdpDeact(u8),
    /// `RDY`: the module (re)started.
    Ready,
    /// A line of the MT2625 boot ROM (`F1: 0000 0000`, `Leaving the BROM`): the module
    /// (re)started.
    BootRom(&'a str),

    // ----- anything else -----
    /// The `> ` prompt: the module waits for the data of a send in prompt mode
    /// (`AT+QISEND=<id>,<len>` without data, on BC66, BC660K and BG96-class siblings). It ends
    /// no command: `SEND OK` or an error follows the data.
    Prompt,
    /// An echoed command line (ended by a bare `\r`), without the `\r`.
    Echo(&'a [u8]),
    /// An empty line.
    Blank,
    /// A line this parser does not know, verbatim (without its line end). Never an error.
    Unknown(&'a [u8]),
    /// A line that looked like a known response but did not decode. For a recv header this means
    /// data for that socket may have been lost: the caller should treat the socket as broken.
    Malformed {
        /// The line, verbatim.
        line: &'a [u8],
        /// What was wrong.
        why: Malformed,
    },
    /// A line longer than the parser's maximum; its bytes are skipped up to the next line end.
    Overlong,
    /// Received data that could not be framed: a payload header (`+QIURC: "recv"`, `+QIRD`)
    /// that did not decode, or a payload not followed by what its layout requires (a length
    /// that lies). No byte of it is handed out as data. For a recv URC whose socket could be
    /// read, `id` names it: in buffer access its data still waits in the module; pushed data
    /// is lost. For `+QIRD`, `id` is `None`: the data belongs to the read in flight.
    BadPayload {
        /// The socket, when the header named one.
        id: Option<ConnectId>,
        /// The header as received (without the payload).
        line: &'a [u8],
        /// What was wrong.
        why: Malformed,
    },
}

impl Frame<'_> {
    /// True for the final result codes that end a command (`OK`, `ERROR`, `+CME ERROR`).
    pub const fn is_final(&self) -> bool {
        matches!(
            self,
            Frame::Ok | Frame::Error | Frame::CmeError(_) | Frame::CmeErrorText(_)
        )
    }

    /// True when the frame says the module has (re)started and forgotten every socket.
    pub const fn is_reboot(&self) -> bool {
        matches!(self, Frame::Ready | Frame::BootRom(_))
    }
}

#[cfg(test)]
mod tests {
    /// Every parse step returns a frame by value through several layers: its size is what
    /// each step copies (72 bytes cost the host benchmarks a quarter of their speed).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn frame_stays_small() {
        assert!(core::mem::size_of::<super::Frame<'_>>() <= 48);
    }
}
