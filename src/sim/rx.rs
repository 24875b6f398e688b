//! The receive path: network data into the receive buffer (buffer access) or straight to the
//! host (direct push), buff full, peer close; sends drained to the network and `SEND OK`.

use std::format;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Instant;
use std::vec::Vec;

use super::Sim;
use super::faults::{FaultKind, Which};
use super::net::Conn;
use crate::types::{AccessMode, QiError, SocketState};
use crate::wire::hex;

/// Do not read more from the network while this much output is still queued (direct push).
const PUSH_BACKLOG: usize = 64 * 1024;

/// Largest single network read (and UDP datagram).
const SCRATCH: usize = 65536;

impl Sim {
    /// Direct push: `+QIURC: "recv",<id>,<len>` then the data, in chunks.
    pub(crate) fn push_data(&mut self, now: Instant, id: usize, data: &[u8]) {
        let hexed = self.hex_recv();
        let comma = self.view_comma();
        for chunk in data.chunks(self.cfg.push_chunk.max(1)) {
            let mut f = format!("\r\n+QIURC: \"recv\",{id},{}", chunk.len()).into_bytes();
            f.extend_from_slice(if comma { b"," } else { b"\r\n" });
            append_data(&mut f, chunk, hexed);
            if comma || self.cfg.crlf_after_push {
                f.extend_from_slice(b"\r\n");
            }
            self.emit(now, f);
        }
    }

    /// Move data between the sockets and the host: sends, receives, peer closes, SEND OK.
    pub(crate) fn poll_sockets(&mut self, now: Instant) {
        let mut buf = core::mem::take(&mut self.scratch);
        buf.resize(SCRATCH, 0);
        for id in 0..self.sockets.len() {
            self.flush_tx(now, id);
            self.receive(now, id, &mut buf);
        }
        self.scratch = buf;
        if let Some((id, due)) = self.send_pending
            && now >= due
        {
            let drained = self.sockets[id].as_ref().is_none_or(|s| s.tx.is_empty());
            if drained {
                self.send_pending = None;
                self.urc(now, "SEND OK");
            }
        }
    }

    fn flush_tx(&mut self, now: Instant, id: usize) {
        let Some(s) = self.sockets[id].as_mut() else {
            return;
        };
        let Some(Conn::Tcp(t)) = &mut s.conn else {
            return;
        };
        while !s.tx.is_empty() {
            match t.write(&s.tx) {
                Ok(0) => break,
                Ok(n) => {
                    s.tx.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    s.tx.clear();
                    if self.send_pending.is_some_and(|(i, _)| i == id) {
                        self.send_pending = None;
                        self.last_error = QiError::SocketWriteFailed.code();
                        self.urc(now, "SEND FAIL");
                    }
                    return;
                }
            }
        }
    }

    fn receive(&mut self, now: Instant, id: usize, buf: &mut [u8]) {
        let cap = self.cfg.rx_buffer_size.max(1);
        let backlog = self.out.queued();
        let Some(s) = self.sockets[id].as_mut() else {
            return;
        };
        if s.state != SocketState::Connected {
            return;
        }
        let Some(conn) = s.conn.as_mut() else { return };
        let push = s.mode == AccessMode::DirectPush;
        let room = if push {
            if backlog >= PUSH_BACKLOG {
                return;
            }
            // Whatever arrived, whole datagrams included; push_data cuts it into chunks.
            SCRATCH
        } else if s.full {
            return;
        } else {
            cap.saturating_sub(s.rx_len)
        };
        let got = if room == 0 {
            // Full: say so once when more data is waiting, and notice a peer close.
            match peek(conn, buf) {
                Ok(Some(0)) => Err(()),
                Ok(Some(_)) => {
                    s.full = true;
                    self.urc(now, &format!("+QIURC: \"recv\",{id},\"buff full\""));
                    return;
                }
                Ok(None) => return,
                Err(_) => Err(()),
            }
        } else {
            match conn {
                Conn::Tcp(t) => match t.read(&mut buf[..room.min(SCRATCH)]) {
                    Ok(0) => Err(()),
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(_) => Err(()),
                },
                Conn::Udp(u) => match u.peek(buf) {
                    Ok(n) if n > room => {
                        s.full = true;
                        self.urc(now, &format!("+QIURC: \"recv\",{id},\"buff full\""));
                        return;
                    }
                    Ok(_) => match u.recv(buf) {
                        Ok(n) => Ok(n),
                        Err(_) => return,
                    },
                    Err(_) => return,
                },
            }
        };
        let Ok(n) = got else {
            self.peer_closed(now, id);
            return;
        };
        let data = buf[..n].to_vec();
        let close_now = matches!(s.conn, Some(Conn::Tcp(_))) && self.inj.fire(Which::PeerClose);
        if push {
            self.push_data(now, id, &data);
        } else {
            let show = self.nvram.show_length;
            let Some(s) = self.sockets[id].as_mut() else {
                return;
            };
            s.rx_len += n;
            s.rx.push_back(data);
            if !s.notified {
                s.notified = true;
                let line = if show {
                    format!("+QIURC: \"recv\",{id},{n}")
                } else {
                    format!("+QIURC: \"recv\",{id}")
                };
                self.urc(now, &line);
            }
            if self.inj.fire(Which::BuffFull) {
                self.inj.record(now, FaultKind::BuffFull(id as u8));
                if let Some(s) = self.sockets[id].as_mut() {
                    s.full = true;
                }
                self.urc(now, &format!("+QIURC: \"recv\",{id},\"buff full\""));
            }
        }
        if close_now {
            self.inj.record(now, FaultKind::PeerClose(id as u8));
            if let Some(Some(Conn::Tcp(t))) = self.sockets[id].as_ref().map(|s| &s.conn) {
                let _ = t.shutdown(Shutdown::Both);
            }
            self.peer_closed(now, id);
        }
    }

    fn peer_closed(&mut self, now: Instant, id: usize) {
        // Bytes of the pending send still in `tx` never left; if every byte was written, the
        // send succeeded before the peer closed (a server that answers and hangs up at once),
        // and its SEND OK stays due.
        let mut unsent = false;
        if let Some(s) = self.sockets[id].as_mut() {
            s.state = SocketState::Closing;
            s.conn = None;
            unsent = !s.tx.is_empty();
            s.tx.clear();
        }
        if unsent && self.send_pending.is_some_and(|(i, _)| i == id) {
            self.send_pending = None;
            self.urc(now, "SEND FAIL");
        }
        if self.inj.fire(Which::CloseDamage) {
            self.inj.record(now, FaultKind::CloseDamage(id as u8));
            self.urc(now, &format!("+QIURC: \"clxsed\",{id}"));
        } else {
            self.urc(now, &format!("+QIURC: \"closed\",{id}"));
        }
    }
}

/// `Ok(Some(n))` bytes waiting (0 = orderly close), `Ok(None)` nothing yet.
fn peek(conn: &mut Conn, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let r = match conn {
        Conn::Tcp(t) => t.peek(&mut buf[..1]),
        Conn::Udp(u) => u.peek(buf),
    };
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn append_data(f: &mut Vec<u8>, data: &[u8], hexed: bool) {
    if hexed {
        let start = f.len();
        f.resize(start + 2 * data.len(), 0);
        let _ = hex::encode_into(data, &mut f[start..]);
    } else {
        f.extend_from_slice(data);
    }
}
