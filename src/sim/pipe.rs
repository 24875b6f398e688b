//! An in-process duplex byte pipe between a host (driver under test) and the emulator.
//!
//! The host end works blocking (std::io, embedded-io) and async (embedded-io-async, with its
//! own waker slots: no executor is assumed). Bytes written by one side are read by the other
//! in order, never lost; a full direction makes the writer wait (blocking) or return
//! `Pending` (async).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::runner::ModulePort;

/// One direction of the pipe.
#[derive(Debug, Default)]
struct Dir {
    data: VecDeque<u8>,
    cap: usize,
    writer_gone: bool,
    reader_gone: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl Dir {
    fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    /// Take up to `buf.len()` bytes.
    fn take(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.data.len());
        for (o, b) in buf.iter_mut().zip(self.data.drain(..n)) {
            *o = b;
        }
        if n > 0 {
            self.wake_writer();
        }
        n
    }

    /// Put as much of `buf` as fits.
    fn put(&mut self, buf: &[u8]) -> usize {
        let n = buf.len().min(self.cap.saturating_sub(self.data.len()));
        self.data.extend(&buf[..n]);
        if n > 0 {
            self.wake_reader();
        }
        n
    }
}

#[derive(Debug, Default)]
struct State {
    to_module: Dir,
    to_host: Dir,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the byte queues intact: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Error of the host end: the emulator is gone, or a read timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeClosed {
    /// The other end was dropped: nothing more can be written.
    Closed,
    /// A blocking read waited longer than the read timeout.
    TimedOut,
}

impl core::fmt::Display for PipeClosed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PipeClosed::Closed => f.write_str("emulator end of the pipe is closed"),
            PipeClosed::TimedOut => f.write_str("read timed out"),
        }
    }
}

impl core::error::Error for PipeClosed {}

impl embedded_io::Error for PipeClosed {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            PipeClosed::Closed => embedded_io::ErrorKind::BrokenPipe,
            PipeClosed::TimedOut => embedded_io::ErrorKind::TimedOut,
        }
    }
}

impl From<PipeClosed> for io::Error {
    fn from(e: PipeClosed) -> Self {
        match e {
            PipeClosed::Closed => io::Error::new(io::ErrorKind::BrokenPipe, e),
            PipeClosed::TimedOut => io::Error::new(io::ErrorKind::TimedOut, e),
        }
    }
}

/// Create a pipe whose directions each hold up to `capacity` bytes.
pub fn pipe(capacity: usize) -> (HostPort, ModuleEnd) {
    let shared = Arc::new(Shared::default());
    {
        let mut s = shared.lock();
        s.to_module.cap = capacity.max(1);
        s.to_host.cap = capacity.max(1);
    }
    let host = HostPort {
        rx: HostRx {
            shared: shared.clone(),
            timeout: None,
        },
        tx: HostTx {
            shared: shared.clone(),
        },
    };
    (host, ModuleEnd { shared })
}

/// The host's end of the pipe: what a driver under test uses as its UART.
#[derive(Debug)]
pub struct HostPort {
    rx: HostRx,
    tx: HostTx,
}

impl HostPort {
    /// Split into the receive and transmit halves (an async driver's runner owns RX while
    /// other tasks write TX).
    pub fn split(self) -> (HostRx, HostTx) {
        (self.rx, self.tx)
    }

    /// Limit how long a blocking read waits for the first byte (`None`: forever).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.rx.timeout = timeout;
    }

    /// Bytes ready to read now.
    pub fn available(&self) -> usize {
        self.rx.available()
    }
}

/// The receive half of the host end.
#[derive(Debug)]
pub struct HostRx {
    shared: Arc<Shared>,
    timeout: Option<Duration>,
}

impl HostRx {
    /// Limit how long a blocking read waits for the first byte (`None`: forever).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Bytes ready to read now.
    pub fn available(&self) -> usize {
        self.shared.lock().to_host.data.len()
    }

    /// Read what is ready, without blocking (0 when nothing is).
    pub fn try_read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.shared.lock().to_host.take(buf);
        self.shared.cond.notify_all();
        n
    }

    fn read_blocking(&mut self, buf: &mut [u8]) -> Result<usize, PipeClosed> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut s = self.shared.lock();
        loop {
            let n = s.to_host.take(buf);
            if n > 0 {
                drop(s);
                self.shared.cond.notify_all();
                return Ok(n);
            }
            if s.to_host.writer_gone {
                return Ok(0);
            }
            s = match deadline {
                None => self.shared.cond.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(PipeClosed::TimedOut);
                    }
                    self.shared
                        .cond
                        .wait_timeout(s, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, PipeClosed>> {
        let mut s = self.shared.lock();
        let n = s.to_host.take(buf);
        if n > 0 || buf.is_empty() {
            drop(s);
            self.shared.cond.notify_all();
            return Poll::Ready(Ok(n));
        }
        if s.to_host.writer_gone {
            return Poll::Ready(Ok(0));
        }
        s.to_host.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for HostRx {
    fn drop(&mut self) {
        self.shared.lock().to_host.reader_gone = true;
        self.shared.cond.notify_all();
    }
}

/// The transmit half of the host end.
#[derive(Debug)]
pub struct HostTx {
    shared: Arc<Shared>,
}

impl HostTx {
    fn write_blocking(&mut self, buf: &[u8]) -> Result<usize, PipeClosed> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut s = self.shared.lock();
        loop {
            if s.to_module.reader_gone {
                return Err(PipeClosed::Closed);
            }
            let n = s.to_module.put(buf);
            if n > 0 {
                drop(s);
                self.shared.cond.notify_all();
                return Ok(n);
            }
            s = self.shared.cond.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, PipeClosed>> {
        let mut s = self.shared.lock();
        if s.to_module.reader_gone {
            return Poll::Ready(Err(PipeClosed::Closed));
        }
        let n = s.to_module.put(buf);
        if n > 0 || buf.is_empty() {
            drop(s);
            self.shared.cond.notify_all();
            return Poll::Ready(Ok(n));
        }
        s.to_module.write_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for HostTx {
    fn drop(&mut self) {
        self.shared.lock().to_module.writer_gone = true;
        self.shared.cond.notify_all();
    }
}

/// The emulator's end of the pipe (a [`ModulePort`]).
#[derive(Debug)]
pub struct ModuleEnd {
    shared: Arc<Shared>,
}

impl ModulePort for ModuleEnd {
    fn read_host(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.shared.lock();
        let n = s.to_module.take(buf);
        if n == 0 && s.to_module.writer_gone {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        drop(s);
        self.shared.cond.notify_all();
        Ok(n)
    }

    fn write_module(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut s = self.shared.lock();
        if s.to_host.reader_gone {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = s.to_host.put(bytes);
        drop(s);
        self.shared.cond.notify_all();
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) {
        let s = self.shared.lock();
        if s.to_module.data.is_empty() && !s.to_module.writer_gone {
            let _ = self.shared.cond.wait_timeout(s, timeout);
        }
    }
}

impl Drop for ModuleEnd {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.to_host.writer_gone = true;
        s.to_module.reader_gone = true;
        s.to_host.wake_reader();
        s.to_module.wake_writer();
        drop(s);
        self.shared.cond.notify_all();
    }
}

// ----- trait implementations -----

macro_rules! impl_read {
    ($t:ty, $($f:ident).*) => {
        impl io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(self$(.$f)*.read_blocking(buf)?)
            }
        }
        impl embedded_io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> Result<usize, PipeClosed> {
                self$(.$f)*.read_blocking(buf)
            }
        }
        impl embedded_io::ReadReady for $t {
            fn read_ready(&mut self) -> Result<bool, PipeClosed> {
                let s = self$(.$f)*.shared.lock();
                Ok(!s.to_host.data.is_empty() || s.to_host.writer_gone)
            }
        }
        impl embedded_io_async::Read for $t {
            async fn read(&mut self, buf: &mut [u8]) -> Result<usize, PipeClosed> {
                core::future::poll_fn(|cx| self$(.$f)*.poll_read(cx, buf)).await
            }
        }
    };
}

macro_rules! impl_write {
    ($t:ty, $($f:ident).*) => {
        impl io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(self$(.$f)*.write_blocking(buf)?)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl embedded_io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> Result<usize, PipeClosed> {
                self$(.$f)*.write_blocking(buf)
            }
            fn flush(&mut self) -> Result<(), PipeClosed> {
                Ok(())
            }
        }
        impl embedded_io::WriteReady for $t {
            fn write_ready(&mut self) -> Result<bool, PipeClosed> {
                let s = self$(.$f)*.shared.lock();
                Ok(s.to_module.reader_gone || s.to_module.data.len() < s.to_module.cap)
            }
        }
        impl embedded_io_async::Write for $t {
            async fn write(&mut self, buf: &[u8]) -> Result<usize, PipeClosed> {
                core::future::poll_fn(|cx| self$(.$f)*.poll_write(cx, buf)).await
            }
            async fn flush(&mut self) -> Result<(), PipeClosed> {
                Ok(())
            }
        }
    };
}

impl embedded_io::ErrorType for HostRx {
    type Error = PipeClosed;
}
impl embedded_io::ErrorType for HostTx {
    type Error = PipeClosed;
}
impl embedded_io::ErrorType for HostPort {
    type Error = PipeClosed;
}

impl_read!(HostRx,);
impl_read!(HostPort, rx);
impl_write!(HostTx,);
impl_write!(HostPort, tx);
