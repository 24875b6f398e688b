//! Shared helpers of the `blocking_*` tests: a driver over the emulator's pipe with a tap on
//! what it writes, bounded loops for the `nb` API, seeded payloads, and a mosquitto guard.
#![allow(dead_code)]

use core::net::{Ipv4Addr, SocketAddr};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use embedded_nal::TcpClientStack;
use quectel_bc20::blocking::TcpSocket;
use quectel_bc20::engine;
use quectel_bc20::sim::{self, Emulator, HostPort};
use quectel_bc20::{Bc20, Error, StdClock};

/// The UART under test, with a copy of every byte the driver wrote.
pub struct Tap {
    pub port: HostPort,
    pub written: Arc<Mutex<Vec<u8>>>,
}

impl embedded_io::ErrorType for Tap {
    type Error = <HostPort as embedded_io::ErrorType>::Error;
}

impl embedded_io::Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embedded_io::Read::read(&mut self.port, buf)
    }
}

impl embedded_io::ReadReady for Tap {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        embedded_io::ReadReady::read_ready(&mut self.port)
    }
}

impl embedded_io::Write for Tap {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = embedded_io::Write::write(&mut self.port, buf)?;
        self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        embedded_io::Write::flush(&mut self.port)
    }
}

/// Socket buffers that hold a whole 4 KiB push; staging big enough for hex receive
/// (`2 × SOCK_RX + 128`).
pub type Driver = Bc20<Tap, StdClock, 5, 4096>;

/// Every blocking wait of a test driver ends after this long.
pub const WAIT_LIMIT_MS: u64 = 10_000;

/// A driver over a fresh emulator, brought up (registered).
pub fn driver(
    config: sim::Config,
    engine: engine::Config,
) -> (Driver, Emulator, Arc<Mutex<Vec<u8>>>) {
    let (port, emu) = sim::start(config);
    let written = Arc::new(Mutex::new(Vec::new()));
    let tap = Tap {
        port,
        written: written.clone(),
    };
    let mut d = Bc20::sized(tap, StdClock::default(), engine);
    d.set_wait_limit(WAIT_LIMIT_MS);
    d.bring_up(5_000).expect("bring-up");
    (d, emu, written)
}

/// The emulator of `module` (its profile's defaults, `RDY` at boot as other tests expect)
/// and an engine configured for it, from `engine`'s other settings.
pub fn for_module(
    module: engine::Module,
    sim: sim::Config,
    engine: engine::Config,
) -> (sim::Config, engine::Config) {
    let profile = sim::Config::for_module(module);
    (
        sim::Config {
            module,
            revision: profile.revision,
            ..sim
        },
        engine::Config { module, ..engine },
    )
}

/// What a driver brought up against `module` must show: the identity matched, and the TCP/IP
/// commands named the module's PDP context.
pub fn assert_spoke_as(d: &Driver, written: &Arc<Mutex<Vec<u8>>>, module: engine::Module) {
    assert_eq!(
        d.engine().identity(),
        Some(engine::IdentityCheck::Matches),
        "identity of a {module}"
    );
    let w = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    let ctx = module.profile().context.get();
    for cmd in ["AT+QIOPEN=", "AT+QIDNSGIP="] {
        for at in w.match_indices(cmd).map(|(i, _)| i + cmd.len()) {
            assert!(
                w[at..].starts_with(&format!("{ctx},")),
                "{cmd} names context {ctx} on a {module}: {}",
                &w[at..(at + 20).min(w.len())]
            );
        }
    }
}

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
}

/// `len` bytes from a seeded xorshift: binary, every byte value, different per seed.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Retry an `nb` call until it is not `WouldBlock`, for at most `ms` milliseconds.
pub fn block_for<T>(ms: u64, mut f: impl FnMut() -> nb::Result<T, Error>) -> Result<T, Error> {
    let end = Instant::now() + Duration::from_millis(ms);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(e),
            Err(nb::Error::WouldBlock) => {
                assert!(Instant::now() < end, "still WouldBlock after {ms} ms");
                thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// A connected TCP socket.
pub fn connect(d: &mut Driver, port: u16) -> TcpSocket {
    let mut s = TcpClientStack::socket(d).expect("socket");
    block_for(WAIT_LIMIT_MS, || {
        TcpClientStack::connect(d, &mut s, local(port))
    })
    .expect("connect");
    s
}

/// One echo in progress through the plain `TcpClientStack` API: `send` is called again with
/// the same remaining buffer after `WouldBlock`, as the `nb` contract requires.
pub struct Echo {
    pub data: Vec<u8>,
    pub sent: usize,
    pub got: Vec<u8>,
    /// `send` calls that returned `WouldBlock` (the retry contract was exercised).
    pub would_block: usize,
}

impl Echo {
    pub fn new(data: Vec<u8>) -> Echo {
        Echo {
            data,
            sent: 0,
            got: Vec::new(),
            would_block: 0,
        }
    }

    /// Every byte reported sent (the last `SEND OK` collected) and echoed.
    pub fn done(&self) -> bool {
        self.sent == self.data.len() && self.got.len() == self.data.len()
    }

    /// One send attempt (if anything is left) and one receive attempt.
    pub fn step(&mut self, d: &mut Driver, s: &mut TcpSocket, buf: &mut [u8]) -> Result<(), Error> {
        if self.sent < self.data.len() {
            match TcpClientStack::send(d, s, &self.data[self.sent..]) {
                Ok(n) => {
                    assert!(n > 0 && n <= self.data.len() - self.sent, "send took {n}");
                    self.sent += n;
                }
                Err(nb::Error::WouldBlock) => self.would_block += 1,
                Err(nb::Error::Other(e)) => return Err(e),
            }
        }
        match TcpClientStack::receive(d, s, buf) {
            Ok(n) => {
                assert!(n <= buf.len());
                // The echo of a chunk may overtake its `SEND OK`: at most one chunk (512
                // bytes) beyond what `send` reported.
                let at = self.got.len();
                let bound = (self.sent + 512).min(self.data.len());
                assert!(
                    at + n <= bound,
                    "received {} bytes, {} reported sent: duplicated data",
                    at + n,
                    self.sent
                );
                assert!(
                    buf[..n] == self.data[at..at + n],
                    "echo differs within bytes {at}..{}",
                    at + n
                );
                self.got.extend_from_slice(&buf[..n]);
            }
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => return Err(e),
        }
        Ok(())
    }

    /// Byte-exact check, with the first differing offset in the message.
    pub fn check(&self) {
        assert_eq!(self.got.len(), self.data.len(), "echo length");
        if let Some(i) = (0..self.data.len()).find(|&i| self.got[i] != self.data[i]) {
            panic!("echo differs at byte {i} of {}", self.data.len());
        }
    }
}

/// Echo `data` over a connected socket within `ms`; returns the echo for further checks.
pub fn echo(d: &mut Driver, s: &mut TcpSocket, data: Vec<u8>, ms: u64) -> Echo {
    let mut e = Echo::new(data);
    let mut buf = vec![0u8; 1500];
    let end = Instant::now() + Duration::from_millis(ms);
    while !e.done() {
        e.step(d, s, &mut buf).expect("echo");
        assert!(
            Instant::now() < end,
            "echo of {} bytes: {} sent, {} received after {ms} ms",
            e.data.len(),
            e.sent,
            e.got.len()
        );
    }
    e.check();
    e
}

/// A TCP server on 127.0.0.1 that, for each connection, writes `data` and closes.
pub fn send_then_close(data: Vec<u8>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.write_all(&data);
            let _ = s.flush();
            drop(s);
        }
    });
    port
}

/// A mosquitto broker on a free loopback port, killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("bc20-mosq-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install -y mosquitto)");
        let m = Mosquitto { child, port, dir };
        let end = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "mosquitto did not listen on {port}");
            thread::sleep(Duration::from_millis(20));
        }
        m
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Drain a std stream for `ms` (for servers that must see the client's bytes).
pub fn drain(s: &mut TcpStream, ms: u64) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
    let mut v = Vec::new();
    let mut b = [0u8; 4096];
    while let Ok(n) = s.read(&mut b) {
        if n == 0 {
            break;
        }
        v.extend_from_slice(&b[..n]);
    }
    v
}
