//! Endpoints: the pipe's std / embedded-io / embedded-io-async sides, the split halves, the
//! TCP server and the pseudo-terminal; UART pacing.
#![cfg(feature = "sim")]

mod sim_support;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use quectel_bc20::sim::{self, Config};
use sim_support::{Modem, quiet};

/// A minimal executor: poll, park until woken, count wake-ups.
struct Parker {
    thread: std::thread::Thread,
    wakes: AtomicUsize,
}

impl Wake for Parker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn block_on<F: Future>(f: F) -> (F::Output, usize) {
    let parker = Arc::new(Parker {
        thread: std::thread::current(),
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, parker.wakes.load(Ordering::SeqCst));
        }
        assert!(Instant::now() < deadline, "future never completed");
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn embedded_io_blocking_with_read_ready() {
    use embedded_io::ReadReady;
    let (mut host, _emu) = sim::start(quiet());
    assert!(!host.read_ready().unwrap(), "nothing to read yet");
    embedded_io::Write::write_all(&mut host, b"AT+CPIN?\r").unwrap();
    let t = Instant::now();
    while !host.read_ready().unwrap() {
        assert!(t.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got = Vec::new();
    let mut b = [0u8; 8];
    while !got.ends_with(b"OK\r\n") {
        let n = embedded_io::Read::read(&mut host, &mut b).unwrap();
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(got, b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
}

#[test]
fn embedded_io_async_split_halves_and_wakeups() {
    let (host, _emu) = sim::start(quiet());
    let (mut rx, mut tx) = host.split();
    // The read is polled before any byte exists, so it must be woken by the emulator.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let ((), _) = block_on(async {
            embedded_io_async::Write::write_all(&mut tx, b"ATI\r")
                .await
                .unwrap()
        });
        tx
    });
    let (got, wakes) = block_on(async {
        let mut got = Vec::new();
        let mut b = [0u8; 16];
        while !got.ends_with(b"OK\r\n") {
            let n = embedded_io_async::Read::read(&mut rx, &mut b)
                .await
                .unwrap();
            got.extend_from_slice(&b[..n]);
        }
        got
    });
    assert_eq!(
        got,
        b"\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20JAR01A04\r\n\r\nOK\r\n"
    );
    assert!(wakes >= 1, "the pending read was woken");
    let _tx = writer.join().unwrap();
}

#[test]
fn host_reads_end_of_file_when_the_emulator_stops() {
    let (mut host, emu) = sim::start(quiet());
    host.set_read_timeout(Some(Duration::from_secs(2)));
    assert!(emu.is_running());
    emu.stop();
    let mut b = [0u8; 4];
    assert_eq!(host.read(&mut b).unwrap(), 0);
    assert!(host.write_all(b"AT\r").is_err());
}

#[test]
fn pacing_limits_output_and_input_to_the_baud_rate() {
    // 9600 baud = 960 bytes/s: ATI's 60 bytes take about 62 ms.
    let mut m = Modem::new(Config {
        baud: Some(9600),
        ..quiet()
    });
    let t = Instant::now();
    m.send("ATI");
    m.until(b"\r\nOK\r\n");
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(60), "{slow:?}");
    // Input: a 316-byte command line at 9600 baud takes about 330 ms to get in.
    let line = format!("AT+QISEND=0,300,{}", "x".repeat(300));
    let mut m = Modem::new(Config {
        baud: Some(9600),
        ..quiet()
    });
    let t = Instant::now();
    m.send(&line);
    m.expect(b"\r\nERROR\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(320),
        "{:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    // At 921600 baud a 1044-byte line takes about 11 ms: continuous input is not throttled
    // below the baud rate.
    let long = format!("AT+QISEND=0,1024,{}", "y".repeat(1024));
    let mut m = Modem::new(Config {
        baud: Some(921_600),
        ..quiet()
    });
    let t = Instant::now();
    m.send(&long);
    m.expect(b"\r\nERROR\r\n");
    let fast = t.elapsed();
    assert!(
        fast >= Duration::from_millis(10) && fast < Duration::from_millis(300),
        "{fast:?}"
    );
    // Unpaced it is quick.
    let mut m = Modem::new(quiet());
    let t = Instant::now();
    m.send(&line);
    m.expect(b"\r\nERROR\r\n");
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn tcp_endpoint_serves_one_host_at_a_time_and_keeps_state() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let emu = sim::serve_tcp(l, Config::default()).unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 64];
    c.write_all(b"ATE0\r").unwrap();
    while !got.ends_with(b"ATE0\r\r\nOK\r\n") {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(got, b"\r\nRDY\r\nATE0\r\r\nOK\r\n");
    drop(c);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c.write_all(b"AT\r").unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"OK\r\n") {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(got, b"\r\nOK\r\n", "echo stays off across connections");
    emu.stop();
}

#[cfg(unix)]
#[test]
fn pty_endpoint() {
    let (path, _emu) = sim::start_pty(quiet()).unwrap();
    assert!(path.starts_with("/dev/"), "{path:?}");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.write_all(b"AT+CGATT?\r").unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 64];
    while !got.ends_with(b"OK\r\n") {
        let n = f.read(&mut b).unwrap();
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(
        got, b"\r\n+CGATT: 1\r\n\r\nOK\r\n",
        "raw mode: no CR/LF translation"
    );
}
