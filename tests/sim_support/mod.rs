//! Test support for the emulator tests: a host-side helper that talks to the emulator over the
//! pipe, loopback echo servers, a scripted TCP peer, and a small SNTP responder.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use quectel_bc20::sim::{self, BootStyle, Config, Emulator, HostPort, Nvram};

/// A config for byte-exact tests: no boot lines, echo off.
pub fn quiet() -> Config {
    Config {
        boot: BootStyle::Silent,
        nvram: Nvram {
            echo: false,
            ..Nvram::default()
        },
        ..Config::default()
    }
}

/// One item of module output, as the test helper splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A text line (without framing).
    Line(String),
    /// A data-carrying header (`+QIRD: ...` or a direct-push `+QIURC: "recv",...`) and its data
    /// (decoded from hex when the helper is in hex mode).
    Data { header: String, data: Vec<u8> },
}

impl Item {
    pub fn line(&self) -> &str {
        match self {
            Item::Line(l) => l,
            Item::Data { header, .. } => header,
        }
    }
}

/// The host side of an emulator on a pipe.
pub struct Modem {
    pub port: HostPort,
    pub emu: Emulator,
    buf: Vec<u8>,
    /// Sockets in direct push mode (for splitting `+QIURC: "recv"` with data).
    pub push: [bool; 5],
    /// Receive format is hex.
    pub hex: bool,
    /// View mode 1.
    pub view1: bool,
    /// Show length is on (`+QIRD: <n>,<rem>`).
    pub show: bool,
    /// Direct-push data is followed by `\r\n` (the `crlf_after_push` option).
    pub crlf_after_push: bool,
}

pub const T: Duration = Duration::from_secs(5);

impl Modem {
    pub fn new(config: Config) -> Modem {
        let crlf = config.crlf_after_push;
        let (mut port, emu) = sim::start(config);
        port.set_read_timeout(Some(Duration::from_millis(20)));
        Modem {
            port,
            emu,
            buf: Vec::new(),
            push: [false; 5],
            hex: false,
            view1: false,
            show: false,
            crlf_after_push: crlf,
        }
    }

    pub fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
        self.send_bytes(b"\r");
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.port.write_all(b).unwrap();
    }

    /// Read whatever arrives within `d` into the buffer.
    fn fill(&mut self, d: Duration) -> bool {
        let mut tmp = [0u8; 8192];
        let end = Instant::now() + d;
        loop {
            match self.port.read(&mut tmp) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    if Instant::now() >= end {
                        return false;
                    }
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Assert that the next bytes are exactly `want` (waiting up to 5 s for them).
    pub fn expect(&mut self, want: &[u8]) {
        let end = Instant::now() + T;
        while self.buf.len() < want.len() && Instant::now() < end {
            self.fill(Duration::from_millis(50));
        }
        let got: Vec<u8> = self.buf.drain(..want.len().min(self.buf.len())).collect();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "module output differs"
        );
    }

    /// Assert that nothing arrives for `d`.
    pub fn expect_silence(&mut self, d: Duration) {
        self.fill(d);
        assert!(
            self.buf.is_empty(),
            "unexpected output: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Every byte arriving within `d`.
    pub fn collect_for(&mut self, d: Duration) -> Vec<u8> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.fill(Duration::from_millis(5));
        }
        std::mem::take(&mut self.buf)
    }

    /// Raw bytes up to and including `pat`.
    pub fn until(&mut self, pat: &[u8]) -> Vec<u8> {
        let end = Instant::now() + T;
        loop {
            if let Some(p) = find(&self.buf, pat) {
                return self.buf.drain(..p + pat.len()).collect();
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {:?}; have {:?}",
                String::from_utf8_lossy(pat),
                String::from_utf8_lossy(&self.buf)
            );
            self.fill(Duration::from_millis(50));
        }
    }

    /// The next item, waiting up to `d`.
    pub fn item_within(&mut self, d: Duration) -> Option<Item> {
        let end = Instant::now() + d;
        loop {
            if let Some(it) = self.parse_item() {
                return Some(it);
            }
            if Instant::now() >= end {
                return None;
            }
            self.fill(Duration::from_millis(10));
        }
    }

    pub fn item(&mut self) -> Item {
        self.item_within(T)
            .unwrap_or_else(|| panic!("no item; have {:?}", String::from_utf8_lossy(&self.buf)))
    }

    /// Items until the next one whose line satisfies `pred` (included).
    pub fn items_until(&mut self, pred: impl Fn(&str) -> bool) -> Vec<Item> {
        let mut v = Vec::new();
        loop {
            let it = self.item();
            let stop = pred(it.line());
            v.push(it);
            if stop {
                return v;
            }
        }
    }

    /// Send a command, return its items up to the final result (URCs in between included).
    pub fn cmd(&mut self, line: &str) -> Vec<Item> {
        self.send(line);
        self.items_until(|l| l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR"))
    }

    /// Send a command that must end in OK.
    pub fn ok(&mut self, line: &str) -> Vec<Item> {
        let v = self.cmd(line);
        assert_eq!(v.last().map(Item::line), Some("OK"), "{line}: {v:?}");
        v
    }

    /// Wait for a line that satisfies `pred`; returns the items seen up to it.
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> Vec<Item> {
        self.items_until(pred)
    }

    fn parse_item(&mut self) -> Option<Item> {
        loop {
            if self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
                continue;
            }
            break;
        }
        let eol = find(&self.buf, b"\r\n");
        let head_end = eol.unwrap_or(self.buf.len());
        let head = &self.buf[..head_end];
        let complete = |hlen: usize, comma: bool| {
            if comma {
                head.get(hlen) == Some(&b',')
            } else {
                eol == Some(hlen)
            }
        };
        if let Some((hlen, n, sep_comma)) =
            self.data_header(head).filter(|&(h, _, c)| complete(h, c))
        {
            let wire = if self.hex { 2 * n } else { n };
            let start = hlen + if sep_comma { 1 } else { 2 };
            let trailer = if head.starts_with(b"+QIRD") || sep_comma || self.crlf_after_push {
                2
            } else {
                0
            };
            if self.buf.len() < start + wire + trailer {
                return None;
            }
            let header = String::from_utf8_lossy(&self.buf[..hlen]).into_owned();
            let raw = &self.buf[start..start + wire];
            let data = if self.hex { unhex(raw) } else { raw.to_vec() };
            if trailer == 2 {
                assert_eq!(
                    &self.buf[start + wire..start + wire + 2],
                    b"\r\n",
                    "data trailer"
                );
            }
            self.buf.drain(..start + wire + trailer);
            return Some(Item::Data { header, data });
        }
        let eol = eol?;
        let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
        self.buf.drain(..eol + 2);
        Some(Item::Line(line))
    }

    /// For a data-carrying header at the start of `head`: (header length, data length,
    /// separator is a comma).
    fn data_header(&self, head: &[u8]) -> Option<(usize, usize, bool)> {
        let digits = |t: &[u8]| t.iter().take_while(|b| b.is_ascii_digit()).count();
        let num = |t: &[u8]| -> Option<usize> { std::str::from_utf8(t).ok()?.parse().ok() };
        if let Some(r) = head.strip_prefix(b"+QIRD: ") {
            let d1 = digits(r);
            let n = num(&r[..d1])?;
            if n == 0 {
                return None;
            }
            let mut hlen = 7 + d1;
            if self.show {
                let r2 = r.get(d1 + 1..)?;
                hlen += 1 + digits(r2);
            }
            return Some((hlen, n, self.view1));
        }
        let r = head.strip_prefix(b"+QIURC: \"recv\",")?;
        let id = usize::from(r.first()?.wrapping_sub(b'0'));
        if id >= 5 || !self.push[id] || r.get(1) != Some(&b',') {
            return None;
        }
        let d = digits(&r[2..]);
        let n = num(&r[2..2 + d])?;
        Some((15 + 2 + d, n, self.view1))
    }
}

pub fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    hay.windows(pat.len()).position(|w| w == pat)
}

pub fn unhex(t: &[u8]) -> Vec<u8> {
    t.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02X}")).collect()
}

/// A TCP echo server on 127.0.0.1; returns its port. Runs until the test process ends.
pub fn tcp_echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut b = [0u8; 4096];
                loop {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&b[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// A TCP server on 127.0.0.1 that accepts and holds each connection, silent; returns its
/// port.
pub fn quiet_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A UDP echo server on 127.0.0.1; returns its port.
pub fn udp_echo() -> u16 {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut b = [0u8; 65536];
        while let Ok((n, from)) = u.recv_from(&mut b) {
            let _ = u.send_to(&b[..n], from);
        }
    });
    port
}

/// A TCP listener whose accepted connection the test drives itself.
pub struct Peer {
    listener: TcpListener,
    pub port: u16,
}

impl Peer {
    pub fn new() -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        Peer { listener, port }
    }

    /// Open TCP socket `id` to this peer in access `mode`, check the module's answer byte for
    /// byte (`OK`, then `+QIOPEN: <id>,0`), and return the peer's end of the connection.
    pub fn open(&self, m: &mut Modem, id: u8, mode: u8) -> TcpStream {
        m.send(&format!(
            "AT+QIOPEN=1,{id},\"TCP\",\"127.0.0.1\",{},0,{mode}",
            self.port
        ));
        let s = self.accept();
        m.expect(format!("\r\nOK\r\n\r\n+QIOPEN: {id},0\r\n").as_bytes());
        s
    }

    pub fn accept(&self) -> TcpStream {
        let (s, _) = self.listener.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s
    }
}

/// A port on 127.0.0.1 where nothing listens (connects are refused).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A small SNTP responder on 127.0.0.1: answers every request with `unix` seconds (mode 4,
/// stratum 1). Returns its port and a counter of requests answered.
pub fn sntp_server(unix: u64) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    thread::spawn(move || {
        let mut b = [0u8; 512];
        while let Ok((n, from)) = u.recv_from(&mut b) {
            // A client request: version 3 or 4, mode 3.
            if n < 48 || b[0] & 0x07 != 3 {
                continue;
            }
            let mut r = [0u8; 48];
            r[0] = 0x24; // LI 0, VN 4, mode 4 (server)
            r[1] = 1;
            let secs = ((unix + sim::sntp::NTP_UNIX_OFFSET) as u32).to_be_bytes();
            r[24..32].copy_from_slice(&b[40..48]); // originate = client's transmit
            r[32..36].copy_from_slice(&secs);
            r[40..44].copy_from_slice(&secs);
            c.fetch_add(1, Ordering::SeqCst);
            let _ = u.send_to(&r, from);
        }
    });
    (port, count)
}

/// Open socket `id` to 127.0.0.1:`port` and wait for `+QIOPEN: <id>,0`.
pub fn open(m: &mut Modem, id: u8, service: &str, port: u16, mode: u8) {
    m.ok(&format!(
        "AT+QIOPEN=1,{id},\"{service}\",\"127.0.0.1\",{port},0,{mode}"
    ));
    let l = m.wait_line(|l| l.starts_with("+QIOPEN:"));
    assert_eq!(l.last().unwrap().line(), format!("+QIOPEN: {id},0"));
    m.push[id as usize] = mode == 1;
}

pub fn localhost() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

pub fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}
