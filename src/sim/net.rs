//! Socket services: `AT+QIOPEN`/`QICLOSE`/`QISTATE`/`QISEND`/`QIRD`/`QISWTMD` over real
//! std::net sockets, and the receive path (buffer access and direct push).

use std::collections::VecDeque;
use std::format;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpStream, UdpSocket};
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::Sim;
use super::commands::{OpenReq, StateQuery};
use super::faults::{FaultKind, Which};
use super::services::{Done, resolve};
use crate::types::{AccessMode, QiError, ServiceType, SocketState};

/// A live connection.
#[derive(Debug)]
pub(crate) enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// One socket service.
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) service: ServiceType,
    pub(crate) host: String,
    pub(crate) remote_ip: Option<Ipv4Addr>,
    pub(crate) remote_port: u16,
    pub(crate) local_port: u16,
    pub(crate) state: SocketState,
    pub(crate) mode: AccessMode,
    pub(crate) token: u64,
    pub(crate) conn: Option<Conn>,
    /// Received data, one node per network read (`remaining_length` is per node).
    pub(crate) rx: VecDeque<Vec<u8>>,
    pub(crate) rx_len: usize,
    /// A recv URC was printed and the host has not yet read until `+QIRD: 0`.
    pub(crate) notified: bool,
    /// `buff full` was printed; reading from the network waits for the host.
    pub(crate) full: bool,
    /// Data the host sent, not yet accepted by the OS socket.
    pub(crate) tx: Vec<u8>,
    /// Bytes the host sent in all (`AT+QISEND=<id>,0`).
    pub(crate) sent: u64,
}

impl Sim {
    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    pub(crate) fn qiopen(&mut self, now: Instant, req: OpenReq) {
        let i = req.id.index();
        self.ok(now);
        if self.sockets[i].is_some() {
            let e = QiError::SocketIdInUse.code();
            self.last_error = e;
            self.late_urc(now, &format!("+QIOPEN: {i},{e}"), false);
            return;
        }
        let token = self.token();
        self.sockets[i] = Some(Socket {
            service: req.service,
            host: req.host.clone(),
            remote_ip: None,
            remote_port: req.remote_port,
            local_port: req.local_port,
            state: SocketState::Opening,
            mode: req.mode,
            token,
            conn: None,
            rx: VecDeque::new(),
            rx_len: 0,
            notified: false,
            full: false,
            tx: Vec::new(),
            sent: 0,
        });
        if self.inj.fire(Which::OpenFail) {
            let code = if self.inj.rng.below(2) == 0 { 566 } else { 561 };
            self.inj
                .record(now, FaultKind::OpenFail { id: i as u8, code });
            let tx = self.done_tx.clone();
            let _ = tx.send((
                self.epoch,
                Done::Open {
                    id: i,
                    token,
                    result: Err(code),
                },
            ));
            return;
        }
        let tx = self.done_tx.clone();
        let epoch = self.epoch;
        let cfg = self.cfg.net_view();
        std::thread::spawn(move || {
            let result = connect(&cfg, &req);
            let _ = tx.send((
                epoch,
                Done::Open {
                    id: i,
                    token,
                    result,
                },
            ));
        });
    }

    pub(crate) fn open_done(
        &mut self,
        now: Instant,
        id: usize,
        token: u64,
        result: Result<(Conn, Ipv4Addr), u16>,
    ) {
        let Some(s) = self.sockets[id].as_mut().filter(|s| s.token == token) else {
            return;
        };
        let code = match result {
            Ok((conn, ip)) => {
                s.conn = Some(conn);
                s.remote_ip = Some(ip);
                s.state = SocketState::Connected;
                0
            }
            Err(code) => {
                s.state = SocketState::Initial;
                self.last_error = code;
                code
            }
        };
        if code == 0 && self.inj.fire(Which::OpenDamage) {
            self.inj.record(now, FaultKind::OpenDamage(id as u8));
            self.late_urc(now, &format!("+QIOPxN: {id},{code}"), false);
        } else {
            self.late_urc(now, &format!("+QIOPEN: {id},{code}"), false);
        }
    }

    pub(crate) fn qiclose(&mut self, now: Instant, id: usize) {
        if let Some(s) = self.sockets[id].take()
            && let Some(Conn::Tcp(t)) = &s.conn
        {
            let _ = t.shutdown(Shutdown::Both);
        }
        if self.send_pending.is_some_and(|(i, _)| i == id) {
            self.send_pending = None;
        }
        self.ok(now);
        let delay = self.cfg.close_ok_delay.unwrap_or(Duration::ZERO);
        self.emit_after(now, delay, super::session::frame_line("CLOSE OK"));
    }

    pub(crate) fn qistate(&mut self, now: Instant, q: StateQuery) {
        let mut lines = Vec::new();
        for (i, s) in self.sockets.iter().enumerate() {
            let Some(s) = s else { continue };
            let wanted = match q {
                StateQuery::All => true,
                StateQuery::Context(c) => c == self.cfg.module.profile().context.get(),
                StateQuery::Socket(id) => id.index() == i,
            };
            if !wanted {
                continue;
            }
            let ip = s
                .remote_ip
                .map(|ip| format!("{ip}"))
                .unwrap_or(s.host.clone());
            lines.push(format!(
                "+QISTATE: {i},\"{}\",\"{ip}\",{},{},{},{},{}",
                s.service.as_str(),
                s.remote_port,
                s.local_port,
                s.state.wire(),
                self.cfg.module.profile().context.get(),
                s.mode.wire()
            ));
        }
        self.info_ok(now, &lines);
    }

    pub(crate) fn qisend(&mut self, now: Instant, id: usize, data: Vec<u8>) -> Result<(), QiError> {
        let state = self.sockets[id].as_ref().map(|s| s.state);
        match state {
            Some(SocketState::Connected) | Some(SocketState::Closing) => {}
            _ => return Err(QiError::SocketClosed),
        }
        if self.send_pending.is_some() {
            return Err(QiError::Busy);
        }
        self.ok(now);
        if state == Some(SocketState::Closing) {
            self.last_error = QiError::SocketClosed.code();
            self.urc(now, "SEND FAIL");
            return Ok(());
        }
        if self.inj.fire(Which::SendFail) {
            self.inj.record(now, FaultKind::SendFail(id as u8));
            self.urc(now, "SEND FAIL");
            return Ok(());
        }
        if let Some(s) = self.sockets[id].as_mut() {
            s.sent += data.len() as u64;
            match &s.conn {
                Some(Conn::Udp(u)) => {
                    if u.send(&data).is_err() {
                        self.urc(now, "SEND FAIL");
                        return Ok(());
                    }
                }
                _ => s.tx.extend_from_slice(&data),
            }
        }
        self.send_pending = Some((id, now + self.cfg.send_ok_delay));
        Ok(())
    }

    /// `AT+QISEND=<id>,0` (BC66, BC660K): bytes sent, acknowledged (all of them: the OS
    /// socket took them) and not.
    pub(crate) fn qisend_query(&mut self, now: Instant, id: usize) -> Result<(), QiError> {
        let sent = self.sockets[id]
            .as_ref()
            .map(|s| s.sent)
            .ok_or(QiError::SocketClosed)?;
        self.info_ok(now, &[format!("+QISEND: {sent},{sent},0")]);
        Ok(())
    }

    /// `AT+QISEND=<id>,<len>` without data (BC66, BC660K): print the `> ` prompt and take the
    /// next `len` host bytes as the data.
    pub(crate) fn qisend_prompt(
        &mut self,
        now: Instant,
        id: usize,
        len: usize,
    ) -> Result<(), QiError> {
        match self.sockets[id].as_ref().map(|s| s.state) {
            Some(SocketState::Connected) | Some(SocketState::Closing) => {}
            _ => return Err(QiError::SocketClosed),
        }
        if self.send_pending.is_some() {
            return Err(QiError::Busy);
        }
        self.emit(now, b"\r\n> ".to_vec());
        self.data_mode = Some((id, len, Vec::with_capacity(len)));
        Ok(())
    }

    pub(crate) fn qird(&mut self, now: Instant, id: usize, len: usize) -> Result<(), QiError> {
        let show = self.nvram.show_length;
        let hexed = self.hex_recv();
        let comma = self.view_comma();
        let s = match self.sockets[id].as_mut() {
            Some(s) if matches!(s.state, SocketState::Connected | SocketState::Closing) => s,
            _ => return Err(QiError::SocketClosed),
        };
        let Some(node) = s.rx.front_mut() else {
            s.notified = false;
            self.info_ok(now, &[String::from("+QIRD: 0")]);
            return Ok(());
        };
        let n = len.min(node.len());
        let data: Vec<u8> = node.drain(..n).collect();
        let remaining = node.len();
        if remaining == 0 {
            s.rx.pop_front();
        }
        s.rx_len -= n;
        s.full = false;
        let mut f = format!("\r\n+QIRD: {n}").into_bytes();
        if show {
            f.extend_from_slice(format!(",{remaining}").as_bytes());
        }
        f.extend_from_slice(if comma { b"," } else { b"\r\n" });
        super::rx::append_data(&mut f, &data, hexed);
        f.extend_from_slice(b"\r\n");
        self.emit(now, f);
        self.ok(now);
        Ok(())
    }

    pub(crate) fn qiswtmd(
        &mut self,
        now: Instant,
        id: usize,
        mode: AccessMode,
    ) -> Result<(), QiError> {
        let Some(s) = self.sockets[id].as_mut() else {
            return Err(QiError::SocketClosed);
        };
        s.mode = mode;
        let buffered: Vec<Vec<u8>> = if mode == AccessMode::DirectPush {
            s.rx_len = 0;
            s.notified = false;
            s.full = false;
            s.rx.drain(..).collect()
        } else {
            Vec::new()
        };
        self.ok(now);
        for node in buffered {
            self.push_data(now, id, &node);
        }
        Ok(())
    }
}

/// What a connect worker needs from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct NetView {
    pub(crate) resolver: super::services::Resolver,
    pub(crate) connect_timeout: Duration,
}

/// Resolve and connect (runs on a helper thread).
fn connect(cfg: &NetView, req: &OpenReq) -> Result<(Conn, Ipv4Addr), u16> {
    let ip = *resolve(&cfg.resolver, &req.host)?
        .first()
        .ok_or(QiError::DnsParseFailed.code())?;
    if cfg.resolver.blackhole.contains(&ip) {
        std::thread::sleep(cfg.connect_timeout);
        return Err(QiError::SocketConnectFailed.code());
    }
    let remote = SocketAddrV4::new(ip, req.remote_port);
    let conn = match req.service {
        ServiceType::Tcp => {
            let t = tcp_connect(remote, req.local_port, cfg.connect_timeout)
                .map_err(|_| QiError::SocketConnectFailed.code())?;
            let _ = t.set_nodelay(true);
            Conn::Tcp(t)
        }
        ServiceType::Udp => {
            let u = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, req.local_port))
                .map_err(|_| QiError::SocketBindFailed.code())?;
            u.connect(remote)
                .map_err(|_| QiError::SocketConnectFailed.code())?;
            Conn::Udp(u)
        }
    };
    let nb = match &conn {
        Conn::Tcp(t) => t.set_nonblocking(true),
        Conn::Udp(u) => u.set_nonblocking(true),
    };
    nb.map_err(|_| QiError::CreateSocketFailed.code())?;
    Ok((conn, ip))
}

#[cfg(unix)]
fn tcp_connect(remote: SocketAddrV4, local_port: u16, timeout: Duration) -> io::Result<TcpStream> {
    if local_port == 0 {
        return TcpStream::connect_timeout(&remote.into(), timeout);
    }
    // std cannot bind before connecting; rustix can, safely.
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket, sockopt};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local_port))?;
    connect(&fd, &remote)?;
    Ok(TcpStream::from(fd))
}

#[cfg(not(unix))]
fn tcp_connect(remote: SocketAddrV4, _local: u16, timeout: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&remote.into(), timeout)
}
