//! Host adapters (feature `std`), runtime-agnostic: a `DelayNs` for the async stack
//! ([`StdDelay`]) and blocking `std::io` streams (a serial port) as `embedded-io-async` halves
//! ([`split`], [`split_shared`]).
//!
//! # A real module on a serial port
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use quectel_bc20::asynch::{self, State};
//! use quectel_bc20::{StdClock, engine::Config, host};
//!
//! // Any `Read + Write + Send + 'static` works; with the `serialport` crate:
//! // `let port = serialport::new("/dev/ttyUSB0", 115_200).timeout(ms(20)).open()?;`
//! // `let (rx, tx) = host::split(port.try_clone()?, port);`
//! let port = std::fs::OpenOptions::new().read(true).write(true).open("/dev/ttyUSB0")?;
//! let (rx, tx) = host::split(port.try_clone()?, port);
//! let state: &'static State<CriticalSectionRawMutex> =
//!     Box::leak(Box::new(State::new(Config::default())));
//! let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), host::StdDelay);
//! // Spawn `runner.run()` on any executor, then use `stack`.
//! # let _ = (stack, &mut runner);
//! # Ok(())
//! # }
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::string::ToString;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use std::vec::Vec;

/// `embedded_hal_async::delay::DelayNs` on any executor: one shared timer thread wakes the
/// waiting futures, so it works under tokio, async-std, `futures::executor` or a hand-rolled
/// loop alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdDelay;

struct Timer {
    queue: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
}

struct Entry {
    at: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

fn timer() -> &'static Arc<Timer> {
    static TIMER: OnceLock<Arc<Timer>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t = Arc::new(Timer {
            queue: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        });
        let worker = Arc::clone(&t);
        std::thread::Builder::new()
            .name("bc20-timer".into())
            .spawn(move || worker.run())
            .ok();
        t
    })
}

impl Timer {
    fn run(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while queue.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(e)) = queue.pop() {
                    due.push(e.waker);
                }
            }
            if !due.is_empty() {
                drop(queue);
                due.into_iter().for_each(Waker::wake);
                queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            queue = match queue.peek() {
                Some(Reverse(e)) => {
                    let wait = e.at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(queue, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
                None => self.changed.wait(queue).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// A future that completes at an instant.
struct Sleep {
    at: Instant,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        let t = timer();
        t.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Reverse(Entry {
                at: self.at,
                waker: cx.waker().clone(),
            }));
        t.changed.notify_one();
        Poll::Pending
    }
}

impl embedded_hal_async::delay::DelayNs for StdDelay {
    async fn delay_ns(&mut self, ns: u32) {
        Sleep {
            at: Instant::now() + Duration::from_nanos(u64::from(ns)),
        }
        .await
    }

    async fn delay_ms(&mut self, ms: u32) {
        Sleep {
            at: Instant::now() + Duration::from_millis(u64::from(ms)),
        }
        .await
    }
}

// ----- blocking std::io as embedded-io-async -----

/// How many received bytes [`ReadHalf`] holds before its reader thread stops reading (the
/// stream's own buffering, a serial driver's say, then applies backpressure).
pub const READ_BUFFER: usize = 4096;

/// The receive half of [`split`] or [`split_shared`]: `embedded_io_async::Read` fed by a
/// reader thread that wakes the waiting task, so any executor can await it.
///
/// Dropping it stops the thread after its current read returns.
pub struct ReadHalf {
    shared: Arc<RxShared>,
}

struct RxShared {
    state: Mutex<RxState>,
    /// The reader thread waits here while the buffer is full.
    space: Condvar,
}

struct RxState {
    buf: VecDeque<u8>,
    waker: Option<Waker>,
    /// The stream ended (`Ok(0)`) or failed; reported once the buffer is drained.
    end: Option<io::Result<()>>,
    /// The [`ReadHalf`] is gone: the thread stops.
    closed: bool,
}

impl RxShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, RxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The transmit half of [`split`]: `embedded_io_async::Write` by plain blocking writes.
///
/// A write blocks the calling task until the OS took the bytes; serial drivers buffer a few
/// KiB, and the driver writes one command (at most about 1.1 KiB) at a time, so this is short.
/// `TimedOut`, `WouldBlock` and `Interrupted` errors are retried.
pub struct WriteHalf<W> {
    writer: W,
}

/// The writer of [`split_shared`]: the stream behind a mutex shared with the reader thread.
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T: io::Write> io::Write for Shared<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Async halves from a blocking reader and writer of one stream, such as a serial port and its
/// `try_clone()`. A thread named `bc20-rx` reads; see [`ReadHalf`] and [`WriteHalf`].
///
/// `TimedOut`, `WouldBlock` and `Interrupted` read errors mean "nothing yet" (serial ports
/// report their read timeout that way); end of stream and other errors are passed on to the
/// reader once the bytes before them were read.
pub fn split<R, W>(reader: R, writer: W) -> (ReadHalf, WriteHalf<W>)
where
    R: io::Read + Send + 'static,
    W: io::Write,
{
    let mut reader = reader;
    (
        spawn_reader(move |buf| reader.read(buf)),
        WriteHalf { writer },
    )
}

/// Async halves from one stream that cannot be cloned: the reader thread and the writer share
/// it through a mutex. The stream's reads must return now and then (a serial port with a read
/// timeout of a few ms, `TimedOut` when nothing came), or writes wait for the next byte in.
pub fn split_shared<T>(io: T) -> (ReadHalf, WriteHalf<Shared<T>>)
where
    T: io::Read + io::Write + Send + 'static,
{
    let io = Arc::new(Mutex::new(io));
    let reader = Arc::clone(&io);
    let rx = spawn_reader(move |buf| reader.lock().unwrap_or_else(|p| p.into_inner()).read(buf));
    (rx, WriteHalf { writer: Shared(io) })
}

fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn spawn_reader(mut read: impl FnMut(&mut [u8]) -> io::Result<usize> + Send + 'static) -> ReadHalf {
    let shared = Arc::new(RxShared {
        state: Mutex::new(RxState {
            buf: VecDeque::with_capacity(READ_BUFFER),
            waker: None,
            end: None,
            closed: false,
        }),
        space: Condvar::new(),
    });
    let worker = Arc::clone(&shared);
    let run = move || {
        let mut chunk = [0u8; 512];
        loop {
            {
                let mut st = worker.lock();
                while st.buf.len() >= READ_BUFFER && !st.closed {
                    st = worker.space.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.closed {
                    return;
                }
            }
            let room = READ_BUFFER - worker.lock().buf.len();
            let want = room.min(chunk.len());
            let result = read(&mut chunk[..want]);
            let mut st = worker.lock();
            if st.closed {
                return;
            }
            match result {
                Ok(0) => st.end = Some(Ok(())),
                Ok(n) => st.buf.extend(&chunk[..n]),
                Err(e) if retryable(&e) => {
                    drop(st);
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // A non-blocking stream: do not spin.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    continue;
                }
                Err(e) => st.end = Some(Err(e)),
            }
            let done = st.end.is_some();
            let waker = st.waker.take();
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            if done {
                return;
            }
        }
    };
    let spawned = std::thread::Builder::new()
        .name("bc20-rx".into())
        .spawn(run);
    if let Err(e) = spawned {
        shared.lock().end = Some(Err(e));
    }
    ReadHalf { shared }
}

impl Drop for ReadHalf {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.space.notify_all();
    }
}

impl ReadHalf {
    /// Bytes received and not read yet.
    pub fn available(&self) -> usize {
        self.shared.lock().buf.len()
    }
}

impl embedded_io::ErrorType for ReadHalf {
    type Error = io::Error;
}

impl embedded_io_async::Read for ReadHalf {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        std::future::poll_fn(|cx| {
            let mut st = self.shared.lock();
            if !st.buf.is_empty() {
                let n = buf.len().min(st.buf.len());
                for (dst, src) in buf.iter_mut().zip(st.buf.drain(..n)) {
                    *dst = src;
                }
                drop(st);
                self.shared.space.notify_one();
                return Poll::Ready(Ok(n));
            }
            match &st.end {
                Some(Ok(())) => Poll::Ready(Ok(0)),
                Some(Err(e)) => Poll::Ready(Err(io::Error::new(e.kind(), e.to_string()))),
                None => {
                    st.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<W> embedded_io::ErrorType for WriteHalf<W> {
    type Error = io::Error;
}

impl<W: io::Write> embedded_io_async::Write for WriteHalf<W> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.writer.write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(n),
                Err(e) if retryable(&e) => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn flush(&mut self) -> Result<(), io::Error> {
        loop {
            match self.writer.flush() {
                Err(e) if retryable(&e) => {}
                r => return r,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_io_async::{Read, Write};
    use std::sync::mpsc;
    use std::vec;

    /// One direction of an in-memory duplex: a channel of byte chunks; reads time out like a
    /// serial port's when nothing came.
    struct ChanReader {
        rx: mpsc::Receiver<Vec<u8>>,
        pending: VecDeque<u8>,
    }

    impl io::Read for ChanReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                match self.rx.recv_timeout(Duration::from_millis(5)) {
                    Ok(v) => self.pending.extend(v),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
                }
            }
            let n = buf.len().min(self.pending.len());
            for (d, s) in buf.iter_mut().zip(self.pending.drain(..n)) {
                *d = s;
            }
            Ok(n)
        }
    }

    struct ChanWriter(mpsc::Sender<Vec<u8>>);

    impl io::Write for ChanWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .send(buf.to_vec())
                .map(|()| buf.len())
                .map_err(|_| io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A duplex stream: what is written comes back on the other side's reader.
    struct Duplex {
        r: ChanReader,
        w: ChanWriter,
    }

    impl io::Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.r.read(buf)
        }
    }
    impl io::Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.w.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn chan() -> (ChanWriter, ChanReader) {
        let (tx, rx) = mpsc::channel();
        (
            ChanWriter(tx),
            ChanReader {
                rx,
                pending: VecDeque::new(),
            },
        )
    }

    /// Block on a future with a thread-parking waker: no runtime at all.
    fn block_on<F: Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park_timeout(Duration::from_secs(1));
        }
    }

    async fn read_exactly(rx: &mut ReadHalf, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 100];
        while got.len() < n {
            let k = rx.read(&mut buf).await.unwrap();
            assert!(k > 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..k]);
        }
        got
    }

    #[test]
    fn split_halves_carry_bytes_both_ways_and_report_the_end() {
        // Host side: its reader gets what the "module" writes, and the other way round.
        let (module_w, host_r) = chan();
        let (host_w, module_r) = chan();
        let (mut rx, mut tx) = split(host_r, host_w);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let expect = data.clone();
        let module = std::thread::spawn(move || {
            let mut module_w = module_w;
            // More than READ_BUFFER, in odd chunks: the reader thread must wait for room.
            for c in data.chunks(333) {
                io::Write::write_all(&mut module_w, c).unwrap();
            }
            let mut module_r = module_r;
            let mut got = vec![0u8; 5];
            io::Read::read_exact(&mut module_r, &mut got).unwrap();
            got
        });
        block_on(async {
            assert_eq!(read_exactly(&mut rx, expect.len()).await, expect);
            tx.write_all(b"AT\r\n\x00").await.unwrap();
            tx.flush().await.unwrap();
        });
        assert_eq!(module.join().unwrap(), b"AT\r\n\x00");
        // The module's side is gone: end of stream.
        assert_eq!(block_on(rx.read(&mut [0u8; 8])).unwrap(), 0);
    }

    #[test]
    fn split_shared_takes_one_stream_whose_reads_time_out() {
        let (module_w, host_r) = chan();
        let (host_w, module_r) = chan();
        let (mut rx, mut tx) = split_shared(Duplex {
            r: host_r,
            w: host_w,
        });
        block_on(async {
            // A write while the reader thread waits in a read.
            std::thread::sleep(Duration::from_millis(20));
            tx.write_all(b"ATE0\r").await.unwrap();
            assert_eq!(module_r.rx.recv().unwrap(), b"ATE0\r");
            io::Write::write_all(&mut { module_w }, b"\r\nOK\r\n").unwrap();
            assert_eq!(read_exactly(&mut rx, 6).await, b"\r\nOK\r\n");
            assert_eq!(rx.read(&mut [0u8; 8]).await.unwrap(), 0);
        });
    }

    #[test]
    fn read_errors_reach_the_reader_after_the_data() {
        struct Failing(u8);
        impl io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 {
                    1 => Err(io::ErrorKind::Interrupted.into()),
                    2 => {
                        buf[..2].copy_from_slice(b"ok");
                        Ok(2)
                    }
                    _ => Err(io::Error::other("unplugged")),
                }
            }
        }
        let (mut rx, _tx) = split(Failing(0), io::sink());
        block_on(async {
            assert_eq!(read_exactly(&mut rx, 2).await, b"ok");
            let e = rx.read(&mut [0u8; 4]).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::Other);
        });
    }
}
