//! Issue 11 through the async stack: a flush that outlives its connection, a UART that fails
//! or ends, an overrun the UART reports, a module that sleeps between every operation, and
//! queued writes sent as text.

mod async_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_support::{Mx, STEP, loopback, pattern, within};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use quectel_bc20::asynch::{self, State};
use quectel_bc20::engine::{self, WakePolicy};
use quectel_bc20::host::StdDelay;
use quectel_bc20::sim::{self, HostRx, HostTx};
use quectel_bc20::{AccessMode, Error, StdClock};

/// A TCP server on 127.0.0.1 that reads `take` bytes of each connection, waits `linger`,
/// then closes it.
async fn closes_after(take: usize, linger: Duration) -> u16 {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = 0;
                let mut b = [0u8; 256];
                while seen < take {
                    match s.read(&mut b[..(take - seen).min(256)]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen += n,
                    }
                }
                tokio::time::sleep(linger).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_fails_with_the_close_and_says_what_went_out() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        // The emulated module takes the bytes slowly, so some are still queued when the
        // peer closes.
        let sim_config = sim::Config {
            send_ok_delay: Duration::from_millis(1_000),
            ..sim::Config::default()
        };
        let h = async_support::start::<1536>(sim_config, async_support::engine_config(mode)).await;
        let port = closes_after(100, Duration::from_millis(300)).await;
        let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
            .await
            .unwrap();
        // One chunk goes out at once; the next waits in the queue for its `SEND OK`, and
        // the peer closes meanwhile.
        let data = pattern(1024, 1);
        within(STEP, "write", conn.write_all(&data[..512]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        within(STEP, "write", conn.write_all(&data[512..]))
            .await
            .unwrap();
        let r = within(Duration::from_secs(60), "flush", conn.flush()).await;
        eprintln!("{mode:?}: {r:?}");
        match r {
            Err(Error::Unsent { sent, unsent }) => {
                assert_eq!(sent + unsent, 1024, "{mode:?}: every byte accounted for");
                assert!(unsent >= 512, "{mode:?}: the queued chunk");
                assert_eq!(conn.sent(), u64::from(sent));
            }
            other => panic!("{mode:?}: {other:?}"),
        }
    }
}

/// A UART receive half that has ended (end of stream) or keeps failing; counts reads.
struct DeadRx {
    reads: Arc<AtomicUsize>,
    fail: bool,
}

impl embedded_io_async::ErrorType for DeadRx {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for DeadRx {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if self.fail {
            Err(embedded_io::ErrorKind::Other)
        } else {
            Ok(0)
        }
    }
}

/// A UART transmit half that swallows everything.
struct Sink;

impl embedded_io_async::ErrorType for Sink {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Write for Sink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_backs_off_a_uart_that_ends_or_fails() {
    for fail in [false, true] {
        let reads = Arc::new(AtomicUsize::new(0));
        let rx = DeadRx {
            reads: reads.clone(),
            fail,
        };
        let state: &'static State<CriticalSectionRawMutex> =
            Box::leak(Box::new(State::new(engine::Config::default())));
        let (stack, mut runner) = asynch::new(state, rx, Sink, StdClock::default(), StdDelay);
        let task = tokio::spawn(async move { runner.run().await });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let n = reads.load(Ordering::Relaxed);
        // Back-off doubles from 10 ms to 1 s: about eight reads in 1.5 s, never thousands.
        assert!((2..=20).contains(&n), "fail {fail}: {n} reads in 1.5 s");
        assert!(stack.traffic().uart_errors >= 2, "fail {fail}: reported");
        task.abort();
    }
}

/// The host end of the emulator's pipe with a copy of what the driver wrote.
struct TapTx {
    inner: HostTx,
    written: Arc<Mutex<Vec<u8>>>,
}

impl embedded_io_async::ErrorType for TapTx {
    type Error = <HostTx as embedded_io_async::ErrorType>::Error;
}

impl embedded_io_async::Write for TapTx {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.inner.write(buf).await?;
        self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await
    }
}

async fn tapped(
    sim_config: sim::Config,
    config: engine::Config,
) -> (
    &'static asynch::Stack<'static, Mx>,
    Arc<Mutex<Vec<u8>>>,
    sim::Emulator,
) {
    let (host, emu) = sim::start(sim_config);
    let (rx, tx): (HostRx, HostTx) = host.split();
    let written = Arc::new(Mutex::new(Vec::new()));
    let tx = TapTx {
        inner: tx,
        written: written.clone(),
    };
    let state: &'static State<Mx> = Box::leak(Box::new(State::new(config)));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    tokio::spawn(async move { runner.run().await });
    within(STEP, "ready", stack.wait_ready()).await.unwrap();
    (Box::leak(Box::new(stack)), written, emu)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_honour_send_text_when_possible() {
    let (port, _seen) = async_support::tcp_echo_reporting().await;
    let mut goodput = Vec::new();
    for text in [false, true] {
        let config = engine::Config {
            send_text_when_possible: text,
            ..engine::Config::default()
        };
        let (stack, written, _emu) = tapped(sim::Config::default(), config).await;
        let mut conn = within(STEP, "connect", stack.connect(loopback(port)))
            .await
            .unwrap();
        let before = written.lock().unwrap().len();
        let page: Vec<u8> = (0..8192u32).map(|i| b'a' + (i % 26) as u8).collect();
        within(STEP, "write", conn.write_all(&page)).await.unwrap();
        within(STEP, "flush", conn.flush()).await.unwrap();
        let mut back = vec![0u8; page.len()];
        within(STEP, "echo", conn.read_exact(&mut back))
            .await
            .unwrap();
        assert_eq!(back, page);
        let out = written.lock().unwrap()[before..].to_vec();
        let sends = String::from_utf8_lossy(&out);
        let (qisend, qisendex) = (
            sends.matches("AT+QISEND=").count(),
            sends.matches("AT+QISENDEX=").count(),
        );
        if text {
            assert!(qisend > 0 && qisendex == 0, "text: {qisend} / {qisendex}");
        } else {
            assert!(qisend == 0 && qisendex > 0, "hex: {qisend} / {qisendex}");
        }
        let sent: usize = out.len();
        goodput.push(page.len() as f64 / sent as f64);
    }
    eprintln!("goodput hex {:.3}, text {:.3}", goodput[0], goodput[1]);
    // Hex doubles every byte; text does not.
    assert!(goodput[0] < 0.5 && goodput[1] > 0.9, "{goodput:?}");
}

/// A module that sleeps between every operation loses nothing through the async stack, with
/// either wake policy; and one that sleeps after a short idle (150 and 250 ms, less than the
/// default `quiet_ms` and `wake_answer_ms`) is still reached with the default configuration:
/// a wake-up `AT` answered by a bare line end is followed by the next one at once, not after
/// the answer window, during which the module would fall asleep again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_module_loses_nothing_through_the_async_stack() {
    for (sleep_ms, wake, idle_ms, len, rounds) in [
        (600u64, WakePolicy::Learn, 900u64, 700usize, 4u64),
        (600, WakePolicy::AfterIdle(500), 900, 700, 4),
        (150, WakePolicy::Learn, 400, 300, 3),
        (250, WakePolicy::Learn, 400, 300, 3),
    ] {
        let case = format!("sleep {sleep_ms} ms, {wake:?}");
        let (port, _seen) = async_support::tcp_echo_reporting().await;
        let sim_config = sim::Config {
            sleep_after: Some(Duration::from_millis(sleep_ms)),
            ..sim::Config::default()
        };
        let config = engine::Config {
            wake,
            ..engine::Config::default()
        };
        let (stack, _written, _emu) = tapped(sim_config, config).await;
        let mut conn = within(STEP, "connect", stack.connect(loopback(port)))
            .await
            .unwrap();
        for round in 0..rounds {
            tokio::time::sleep(Duration::from_millis(idle_ms)).await; // asleep by now
            let data = pattern(len, round);
            within(STEP, "write", conn.write_all(&data)).await.unwrap();
            within(STEP, "flush", conn.flush()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(idle_ms)).await;
            let mut back = vec![0u8; data.len()];
            within(STEP, "read", conn.read_exact(&mut back))
                .await
                .unwrap();
            assert_eq!(back, data, "{case}: round {round}");
        }
        let t = stack.traffic();
        assert_eq!(t.timeouts, 0, "{case}: {t:?}");
        assert!(t.wakes > 0, "{case}: the module was woken: {t:?}");
    }
}

/// The UART of a board whose receive buffer overflowed once: the bytes of one direct push
/// (124 bytes: a 100-byte push and its header) are lost from the middle of the first push of
/// 100 bytes, and the read that reaches the place fails, as a UART reports an overrun.
struct OverrunRx {
    inner: HostRx,
    /// Bytes read from `inner` and not handed out or dropped yet.
    stash: Vec<u8>,
    stage: Overrun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overrun {
    /// Looking for the first push's header.
    Looking,
    /// This many bytes to hand out before the loss.
    Passing(usize),
    /// This many bytes still to lose.
    Dropping(usize),
    /// The loss is complete: the next read fails.
    Failing,
    /// Everything else passes.
    Done,
}

const PUSH_HEAD: &[u8] = b"+QIURC: \"recv\",0,100\r\n";

impl OverrunRx {
    /// Hand out up to `n` stashed bytes.
    fn hand_out(&mut self, buf: &mut [u8], n: usize) -> usize {
        let n = n.min(buf.len()).min(self.stash.len());
        buf[..n].copy_from_slice(&self.stash[..n]);
        self.stash.drain(..n);
        n
    }
}

impl embedded_io_async::ErrorType for OverrunRx {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for OverrunRx {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        loop {
            match self.stage {
                Overrun::Looking => {
                    if let Some(at) = self
                        .stash
                        .windows(PUSH_HEAD.len())
                        .position(|w| w == PUSH_HEAD)
                    {
                        self.stage = Overrun::Passing(at + PUSH_HEAD.len() + 50);
                        continue;
                    }
                    // All but a tail that may be the start of the header.
                    let keep = (1..PUSH_HEAD.len())
                        .rev()
                        .find(|&k| self.stash.ends_with(&PUSH_HEAD[..k]))
                        .unwrap_or(0);
                    let n = self.hand_out(buf, self.stash.len() - keep);
                    if n > 0 {
                        return Ok(n);
                    }
                }
                Overrun::Passing(0) => {
                    self.stage = Overrun::Dropping(124);
                    continue;
                }
                Overrun::Passing(k) => {
                    let n = self.hand_out(buf, k);
                    if n > 0 {
                        self.stage = Overrun::Passing(k - n);
                        return Ok(n);
                    }
                }
                Overrun::Dropping(0) => {
                    self.stage = Overrun::Failing;
                    continue;
                }
                Overrun::Dropping(left) => {
                    let n = left.min(self.stash.len());
                    self.stash.drain(..n);
                    self.stage = Overrun::Dropping(left - n);
                    if n > 0 {
                        continue;
                    }
                }
                Overrun::Failing => {
                    self.stage = Overrun::Done;
                    return Err(embedded_io::ErrorKind::Other);
                }
                Overrun::Done => {
                    let n = self.hand_out(buf, usize::MAX);
                    if n > 0 {
                        return Ok(n);
                    }
                }
            }
            let mut more = [0u8; 256];
            let n = self
                .inner
                .read(&mut more)
                .await
                .map_err(|_| embedded_io::ErrorKind::Other)?;
            if n == 0 {
                return Ok(0);
            }
            self.stash.extend_from_slice(&more[..n]);
        }
    }
}

/// A TCP server on 127.0.0.1 that answers the first bytes of each connection with `first`
/// and, a moment later, `second`: two pushes, one right after the other on the module's UART.
async fn two_segments(first: Vec<u8>, second: Vec<u8>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (first, second) = (first.clone(), second.clone());
            tokio::spawn(async move {
                let mut b = [0u8; 64];
                if s.read(&mut b).await.unwrap_or(0) == 0 {
                    return;
                }
                // After the module's `SEND OK` for what came.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = s.write_all(&first).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = s.write_all(&second).await;
                // Keep the connection open until the client goes.
                let _ = s.read(&mut b).await;
            });
        }
    });
    port
}

/// Bytes lost to an overrun that the UART reports are never joined across: the async runner
/// tells the engine (`Engine::note_rx_gap`), the push the loss cut is dropped and its socket
/// fails with `Malformed`. Without that, the loss here (exactly one push's worth, from the
/// middle of one push to the middle of the next) leaves the lengths agreeing, and the second
/// push's tail would be delivered as the first's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overrun_the_uart_reports_never_splices_two_pushes() {
    let (first, second) = (pattern(100, 1), pattern(100, 2));
    let port = two_segments(first.clone(), second.clone()).await;
    let (host, _emu) = sim::start(sim::Config::default());
    let (rx, tx): (HostRx, HostTx) = host.split();
    let rx = OverrunRx {
        inner: rx,
        stash: Vec::new(),
        stage: Overrun::Looking,
    };
    let config = engine::Config {
        access_mode: AccessMode::DirectPush,
        ..engine::Config::default()
    };
    let state: &'static State<Mx> = Box::leak(Box::new(State::new(config)));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    let runner = tokio::spawn(async move { runner.run().await });
    within(STEP, "ready", stack.wait_ready()).await.unwrap();
    let mut conn = within(STEP, "connect", stack.connect(loopback(port)))
        .await
        .unwrap();
    within(STEP, "write", conn.write_all(b"go")).await.unwrap();
    within(STEP, "flush", conn.flush()).await.unwrap();
    let sent = [first, second].concat();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let end = loop {
        match within(STEP, "read", conn.read(&mut buf)).await {
            Ok(0) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e),
        }
        assert!(
            sent.starts_with(&got),
            "data spliced from two pushes: {} bytes read",
            got.len()
        );
    };
    assert_eq!(end, Some(Error::Malformed), "{} bytes read", got.len());
    assert!(stack.traffic().uart_errors > 0);
    runner.abort();
}

/// Direct push with a hold limit of 1.5 s.
fn short_hold_limit() -> engine::Config {
    engine::Config {
        access_mode: AccessMode::DirectPush,
        hold_limit_ms: 1_500,
        ..engine::Config::default()
    }
}

/// Write two chunks of 1000 bytes to an echo connection: their echoes do not fit the
/// 1,536-byte buffer together, so the second holds the module's output back. Returns what
/// was sent.
async fn fill_with_echoes<C: Write<Error = Error>>(conn: &mut C, seed: u64) -> Vec<u8> {
    let sent = pattern(2000, seed);
    for half in sent.chunks(1000) {
        within(STEP, "write a", conn.write_all(half)).await.unwrap();
        within(STEP, "flush a", conn.flush()).await.unwrap();
    }
    sent
}

/// The unread connection failed with `Overflow` once the hold gave way: the echo it had
/// (at least the first 1000 bytes, unchanged) is read first, then the error.
async fn unread_connection_failed<C: Read<Error = Error>>(conn: &mut C, sent: &[u8]) {
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    let end = loop {
        match within(STEP, "read a", conn.read(&mut buf)).await {
            Ok(0) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e),
        }
    };
    assert_eq!(end, Some(Error::Overflow), "{} bytes read", got.len());
    assert!(
        got.len() >= 1000 && sent.starts_with(&got),
        "{} bytes",
        got.len()
    );
}

/// Direct push: a connection whose data nobody reads holds the module's output back, and a
/// request behind it (here the open of a second connection) would wait for it for good.
/// After `Config::hold_limit_ms` the unread connection fails with `Overflow` (the data it had
/// is still read first, unchanged) and the request goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_nobody_reads_cannot_hold_other_requests_back_for_good() {
    let (port, _reports) = async_support::tcp_echo_reporting().await;
    let h: async_support::Harness =
        async_support::start(sim::Config::default(), short_hold_limit()).await;
    let mut a = within(STEP, "connect a", h.stack.connect(loopback(port)))
        .await
        .unwrap();
    let sent = fill_with_echoes(&mut a, 9).await;
    // Give the echo time to come back and fill the buffer (over loopback it takes a few
    // milliseconds; the margin is for a loaded machine).
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let started = std::time::Instant::now();
    let mut b = within(
        STEP,
        "connect b behind the hold",
        h.stack.connect(loopback(port)),
    )
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1_000));
    within(STEP, "write b", b.write_all(b"still here"))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = within(STEP, "read b", b.read(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], &b"still here"[..n]);
    unread_connection_failed(&mut a, &sent).await;
}

/// A TCP server on 127.0.0.1 that writes `data` to each connection `after` it is accepted,
/// then keeps it open.
async fn says_after(data: &'static [u8], after: Duration) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = s.write_all(data).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    port
}

/// Direct push: data for connection b arrives behind connection a's unread data, which holds
/// the module's output back, and nothing but b's reader waits behind it (no command). After
/// `Config::hold_limit_ms` of b's reader finding nothing, a fails with `Overflow` and b reads
/// its data, rather than waiting for good without an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_nobody_reads_cannot_hold_another_connections_data_back_for_good() {
    let (port, _reports) = async_support::tcp_echo_reporting().await;
    let h: async_support::Harness =
        async_support::start(sim::Config::default(), short_hold_limit()).await;
    let mut a = within(STEP, "connect a", h.stack.connect(loopback(port)))
        .await
        .unwrap();
    let late = says_after(b"hello from b", Duration::from_millis(1_000)).await;
    let mut b = within(STEP, "connect b", h.stack.connect(loopback(late)))
        .await
        .unwrap();
    // b's data comes after a's echoes.
    let sent = fill_with_echoes(&mut a, 5).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let n = within(STEP, "read b behind the hold", b.read(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf[..n], &b"hello from b"[..n]);
    assert!(started.elapsed() >= Duration::from_millis(1_000));
    unread_connection_failed(&mut a, &sent).await;
}

/// Direct push into socket buffers smaller than what the module pushes at once (the emulator
/// pushes up to 1,024 bytes a URC; these sockets hold 256): such data cannot wait whole for
/// room, so it is handed on as it comes, and the output is held back in the middle of it
/// while the buffer is full. Every byte arrives, in order, raw and hex alike. (Before, such a
/// push was refused as longer than the buffer, and the socket failed with `Malformed`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_push_into_buffers_smaller_than_a_push() {
    for recv_format in [
        quectel_bc20::DataFormat::Text,
        quectel_bc20::DataFormat::Hex,
    ] {
        let (port, _reports) = async_support::tcp_echo_reporting().await;
        let config = engine::Config {
            access_mode: AccessMode::DirectPush,
            recv_format,
            ..engine::Config::default()
        };
        let h: async_support::Harness<256> =
            async_support::start(sim::Config::default(), config).await;
        let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
            .await
            .unwrap();
        // Writes of one `AT+QISENDEX` each (the client flushes, then reads: a second chunk
        // could not go out before the first's `SEND OK`, which waits behind the echo).
        let sent = pattern(16 * 500, 11);
        let mut got = Vec::new();
        let mut buf = [0u8; 100];
        for chunk in sent.chunks(500) {
            within(STEP, "write", conn.write_all(chunk)).await.unwrap();
            within(STEP, "flush", conn.flush()).await.unwrap();
            let want = got.len() + chunk.len();
            while got.len() < want {
                let n = within(STEP, "read", conn.read(&mut buf)).await.unwrap();
                assert!(n > 0, "{recv_format:?}: end of stream at {}", got.len());
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, sent, "{recv_format:?}");
        assert_eq!(h.stack.traffic().timeouts, 0, "{recv_format:?}");
    }
}

/// A TCP server on 127.0.0.1 that sends `data` to its first connection and hangs up.
async fn sends_and_hangs_up(data: Vec<u8>) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(&data).await;
        }
    });
    port
}

/// The stack against an emulator with `faults`, in access mode `mode`, brought up.
async fn brought_up(faults: sim::Faults, mode: AccessMode) -> async_support::Harness {
    let sim_config = sim::Config {
        faults,
        ..sim::Config::default()
    };
    let h = async_support::start::<1536>(sim_config, async_support::engine_config(mode)).await;
    within(STEP, "bring-up", h.stack.bring_up(5_000))
        .await
        .unwrap();
    h
}

/// A server that sends `data` and closes, while the module announces the close damaged
/// (`+QIURC: "clxsed"`): the reader still gets every byte and then the end of the stream, from
/// the audit of the connections the damaged line brings (README, "A close announcement lost on
/// the line"), never a read that waits for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_learns_of_a_close_announced_damaged() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let data = pattern(1500, 9);
        let port = sends_and_hangs_up(data.clone()).await;
        // Bring-up asks `ATI`: a BC20, whose "closing" (3) in `+QISTATE` means closed.
        let h = brought_up(
            sim::Faults {
                close_damage: sim::Rate::Always,
                ..sim::Faults::default()
            },
            mode,
        )
        .await;
        let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: connect: {e:?}"));
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        let end = loop {
            // Two audits, two seconds apart at most, after the reads.
            match within(Duration::from_secs(10), "read", conn.read(&mut buf)).await {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        assert!(
            got == data,
            "{mode:?}: got {} of {} bytes",
            got.len(),
            data.len()
        );
        assert!(
            matches!(end, Ok(()) | Err(Error::Closed)),
            "{mode:?}: {end:?}"
        );
        assert!(
            h.emu
                .fault_log()
                .events()
                .iter()
                .any(|e| matches!(e.kind, sim::FaultKind::CloseDamage(_))),
            "{mode:?}: the close was announced damaged"
        );
    }
}

/// A server that greets first (`data`) and keeps the connection, while the module announces
/// the connection made damaged (`+QIOPxN: <id>,0`): `connect` succeeds within seconds, the
/// connection found made by two audits (it failed with `Timeout` after a minute, the module
/// holding the connection and the greeting), and the greeting is read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_succeeds_when_the_open_is_announced_damaged() {
    use tokio::io::AsyncWriteExt;
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let data = pattern(900, 13);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let greeting = data.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(&greeting).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let h = brought_up(
            sim::Faults {
                open_damage: sim::Rate::Always,
                ..sim::Faults::default()
            },
            mode,
        )
        .await;
        let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: connect: {e:?}"));
        let mut got = vec![0u8; data.len()];
        within(STEP, "read", conn.read_exact(&mut got))
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: read: {e:?}"));
        assert!(got == data, "{mode:?}: the greeting");
        assert!(
            h.emu
                .fault_log()
                .events()
                .iter()
                .any(|e| matches!(e.kind, sim::FaultKind::OpenDamage(_))),
            "{mode:?}: the open was announced damaged"
        );
        server.abort();
    }
}

/// A server that sends its data and closes at once, and a connecting task that looks again
/// only after the close came (its executor busy): the connection was made and its data waits,
/// so `connect` succeeds and the data can be read, as on the blocking stack. (It failed with
/// `Closed`, the socket and its data dropped.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_succeeds_when_the_peer_closed_before_the_task_looked_again() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let data = pattern(700, 11);
        let port = sends_and_hangs_up(data.clone()).await;
        let h = async_support::start::<1536>(
            sim::Config::default(),
            async_support::engine_config(mode),
        )
        .await;
        let connect = h.stack.connect(loopback(port));
        let mut connect = std::pin::pin!(connect);
        // Poll once (the open goes out), then keep this worker busy while the runner, on
        // the other, takes `+QIOPEN` and the close.
        let first =
            std::future::poll_fn(|cx| std::task::Poll::Ready(connect.as_mut().poll(cx).is_ready()))
                .await;
        assert!(!first, "{mode:?}: connected at the first look");
        std::thread::sleep(Duration::from_millis(800));
        let mut conn = within(STEP, "connect", connect)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: connect: {e:?}"));
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            match within(STEP, "read", conn.read(&mut buf)).await {
                Ok(0) | Err(Error::Closed) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{mode:?}: {e:?}"),
            }
        }
        assert!(
            got == data,
            "{mode:?}: got {} of {} bytes",
            got.len(),
            data.len()
        );
    }
}
