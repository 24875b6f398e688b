//! The async worker of the soak (`--stack async`): the same connections and the same
//! accounting as the blocking worker, over the `embedded-nal-async` stack, with the runner on
//! a tokio runtime of the worker's own.
//!
//! A connection has no separate read and write halves, so the worker writes a chunk, then
//! takes whatever echo is there without waiting, and keeps at most one socket buffer's worth
//! of echo outstanding: in direct push the driver stops reading the UART while a socket's
//! buffer is full, so a writer that never reads would wait on a `SEND OK` held behind its own
//! echo (the README's "Why buffer access mode" explains it). Every wait is bounded by
//! `--stall-secs`; running into that bound without an error is a stall.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use quectel_bc20::asynch::{self, Stack, State};
use quectel_bc20::host::StdDelay;
use quectel_bc20::{AccessMode, Error, StdClock};

use super::{
    Options, Progress, Rng, Tally, account, bring_up_failed, engine_config, next_len, start_module,
    still_moving, take_echo,
};

type Bc20Stack = Stack<'static, CriticalSectionRawMutex>;

/// Echo outstanding at most (written, not read back yet): less than a socket's receive
/// buffer (1536 bytes by default), so the echo in flight always fits in it.
const WINDOW: usize = 1024;
/// Bytes handed to one write.
const CHUNK: usize = 512;

/// One worker on the async stack; see the module docs.
pub(super) fn worker(
    mode: AccessMode,
    o: &Options,
    target: u64,
    seed: u64,
    progress: &Progress,
    stop: &AtomicBool,
) -> Tally {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    rt.block_on(run(mode, o, target, seed, progress, stop))
}

async fn run(
    mode: AccessMode,
    o: &Options,
    target: u64,
    seed: u64,
    progress: &Progress,
    stop: &AtomicBool,
) -> Tally {
    let (host, emu, remote) = start_module(o, seed);
    let (rx, tx) = host.split();
    let state: &'static State<CriticalSectionRawMutex> =
        Box::leak(Box::new(State::new(engine_config(o, mode))));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    let runner = tokio::spawn(async move { runner.run().await });
    let stack: &'static Bc20Stack = Box::leak(Box::new(stack));

    let who = format!("{mode:?} (async)");
    let mut t = Tally::default();
    let mut rng = Rng(seed ^ 0x5EED);
    let mut attempts = 0;
    while let Err(e) = stack.bring_up(60_000).await {
        if bring_up_failed(&mut t, &who, &mut attempts, e) {
            runner.abort();
            return t;
        }
    }
    let mut last_verified_at = Instant::now();
    while t.verified < target && !stop.load(Ordering::Relaxed) {
        let len = next_len(&mut rng, o, &t, target);
        let before = t.verified;
        connection(stack, remote, len, &mut rng, o, mode, &mut t, progress).await;
        if !still_moving(&mut t, &who, before, &mut last_verified_at, o, progress) {
            break;
        }
    }
    let traffic = stack.traffic();
    account(&mut t, &emu, traffic);
    // Bytes the module accepted (SEND OK), from the engine's own count.
    t.sent = traffic.payload_sent;
    runner.abort();
    t
}

/// One connection of `len` bytes: write the stream, read the echo, compare.
#[allow(clippy::too_many_arguments)]
async fn connection(
    stack: &'static Bc20Stack,
    remote: SocketAddr,
    len: usize,
    rng: &mut Rng,
    o: &Options,
    mode: AccessMode,
    t: &mut Tally,
    progress: &Progress,
) {
    let mut data = vec![0u8; len];
    rng.fill(&mut data);
    t.connections += 1;
    let started = Instant::now();
    let mut conn = match tokio::time::timeout(o.stall, stack.connect(remote)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            t.error("connect", e);
            progress.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            stalled(t, progress, mode, "connecting", started.elapsed(), 0, 0);
            return;
        }
    };
    t.longest_gap_ms = t.longest_gap_ms.max(started.elapsed().as_millis() as u64);
    let mut sent = 0usize;
    let mut got = 0usize;
    let mut buf = vec![0u8; 2048];
    let mut last = Instant::now();
    let ended: Option<(&str, Error)> = loop {
        if got >= len {
            break None;
        }
        let mut moved = false;
        if sent < len && sent - got < WINDOW {
            let end = (sent + CHUNK).min(len).min(got + WINDOW);
            match tokio::time::timeout(o.stall, conn.write(&data[sent..end])).await {
                Ok(Ok(n)) => {
                    sent += n;
                    moved = n > 0;
                }
                Ok(Err(e)) => break Some(("send", e)),
                Err(_) => {
                    stalled(t, progress, mode, "writing", last.elapsed(), sent, got);
                    return;
                }
            }
        }
        // The echo: wait for it only when nothing more may be written.
        let wait = if sent < len && sent - got < WINDOW {
            Duration::ZERO
        } else {
            o.stall
        };
        match tokio::time::timeout(wait, conn.read(&mut buf)).await {
            Ok(Ok(0)) => break Some(("receive", Error::Closed)),
            Ok(Ok(n)) => {
                if !take_echo(
                    t,
                    progress,
                    o,
                    &format!("{mode:?} (async)"),
                    &data,
                    &mut got,
                    sent,
                    &buf[..n],
                ) {
                    return;
                }
                moved = true;
            }
            Ok(Err(e)) => break Some(("receive", e)),
            Err(_) if wait.is_zero() => {}
            Err(_) => {
                stalled(t, progress, mode, "reading", last.elapsed(), sent, got);
                return;
            }
        }
        if moved {
            t.longest_gap_ms = t.longest_gap_ms.max(last.elapsed().as_millis() as u64);
            last = Instant::now();
        }
    };
    match ended {
        Some((what, e)) => {
            // What came back before the error was a correct prefix (checked as it came).
            t.error(what, e);
            progress.errors.fetch_add(1, Ordering::Relaxed);
        }
        None => match tokio::time::timeout(o.stall, conn.flush()).await {
            Ok(Ok(())) => t.clean += 1,
            Ok(Err(e)) => t.error("flush", e),
            Err(_) => stalled(t, progress, mode, "flushing", last.elapsed(), sent, got),
        },
    }
    // Dropping the connection closes it (after queued bytes have gone out).
    drop(conn);
}

/// No progress for `--stall-secs` without an error: count it and say where.
fn stalled(
    t: &mut Tally,
    progress: &Progress,
    mode: AccessMode,
    what: &str,
    idle: Duration,
    sent: usize,
    got: usize,
) {
    t.stalls += 1;
    progress.stalls.fetch_add(1, Ordering::Relaxed);
    t.incidents.push(format!(
        "{mode:?} (async): STALL while {what}: nothing for {idle:?} ({sent} bytes written, \
         {got} received)"
    ));
}
