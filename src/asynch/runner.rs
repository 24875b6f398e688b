//! The task that owns the UART.

use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};

use super::State;
use crate::clock::Clock;
use crate::wire::MAX_COMMAND_LEN;

/// How many bytes the runner reads from the UART at a time.
const READ_CHUNK: usize = 256;

/// The UART side of the async driver: run [`Runner::run`] for the stack to work.
pub struct Runner<'a, M: RawMutex, R, W, C, D, const SOCK_RX: usize, const RX: usize> {
    state: &'a State<M, SOCK_RX, RX>,
    rx: R,
    tx: W,
    clock: C,
    delay: D,
}

impl<'a, M, R, W, C, D, const SOCK_RX: usize, const RX: usize>
    Runner<'a, M, R, W, C, D, SOCK_RX, RX>
where
    M: RawMutex,
{
    pub(super) fn new(state: &'a State<M, SOCK_RX, RX>, rx: R, tx: W, clock: C, delay: D) -> Self {
        Runner {
            state,
            rx,
            tx,
            clock,
            delay,
        }
    }
}

impl<M, R, W, C, D, const SOCK_RX: usize, const RX: usize> Runner<'_, M, R, W, C, D, SOCK_RX, RX>
where
    M: RawMutex,
    R: Read,
    W: Write,
    C: Clock,
    D: DelayNs,
{
    /// Drive the UART forever. UART errors are logged and the loop goes on (a UART that keeps
    /// failing makes every request time out, which the stack reports).
    ///
    /// Dropping this future stops the driver: requests then wait until it runs again (start
    /// it again with the same state and UART to resume; the engine's deadlines apply from
    /// then on).
    pub async fn run(&mut self) -> ! {
        let Runner {
            state,
            rx,
            tx,
            clock,
            delay,
        } = self;
        let clock = &*clock;
        let receive = async {
            let mut buf = [0u8; READ_CHUNK];
            loop {
                let n = match rx.read(&mut buf).await {
                    // End of stream (a closed pipe on the host): nothing will come; do not spin.
                    Ok(0) => {
                        embassy_futures::yield_now().await;
                        continue;
                    }
                    Ok(n) => n,
                    Err(e) => {
                        crate::fmt::warn!(
                            "bc20: UART read error: {:?}",
                            embedded_io::Error::kind(&e)
                        );
                        embassy_futures::yield_now().await;
                        continue;
                    }
                };
                let mut taken = 0;
                while taken < n {
                    let now = clock.now_ms();
                    let k = state.with(|e| e.handle_rx(&buf[taken..n], now));
                    taken += k;
                    state.wake_all();
                    state.kick.signal(());
                    if taken < n {
                        // Held back: a socket's buffer is full. Wait for the application.
                        state.space.wait().await;
                    }
                }
            }
        };
        let transmit = async {
            let mut out = [0u8; MAX_COMMAND_LEN];
            loop {
                loop {
                    let now = clock.now_ms();
                    let n = state.with(|e| match e.poll_transmit(now) {
                        Some(bytes) => {
                            let n = bytes.len().min(out.len());
                            out[..n].copy_from_slice(&bytes[..n]);
                            n
                        }
                        None => 0,
                    });
                    if n == 0 {
                        break;
                    }
                    let written = tx.write_all(&out[..n]).await;
                    let flushed = tx.flush().await;
                    if let Err(e) = written.and(flushed) {
                        // The command is dropped; its answer will time out and the engine
                        // resynchronises. Yield so a dead UART cannot starve the executor.
                        crate::fmt::warn!(
                            "bc20: UART write error: {:?}",
                            embedded_io::Error::kind(&e)
                        );
                        embassy_futures::yield_now().await;
                    }
                    let now = clock.now_ms();
                    state.with(|e| e.transmitted(n, now));
                }
                let deadline = state.with(|e| e.poll_timeout());
                let now = clock.now_ms();
                match deadline {
                    Some(d) if d > now => {
                        let wait = u32::try_from(d - now).unwrap_or(u32::MAX);
                        if let Either::Second(()) =
                            select(state.kick.wait(), delay.delay_ms(wait)).await
                        {
                            crate::fmt::trace!("bc20: deadline");
                        }
                    }
                    Some(_) => {}
                    None => state.kick.wait().await,
                }
                let now = clock.now_ms();
                let changed = state.with(|e| {
                    let due = e.poll_timeout().is_some_and(|d| now >= d);
                    e.handle_timeout(now);
                    let mut any = false;
                    while let Some(ev) = e.poll_event() {
                        any = true;
                        ev.log();
                    }
                    due || any
                });
                if changed {
                    state.wake_all();
                }
            }
        };
        let _ = join(receive, transmit).await;
        // Both loops run forever; this only satisfies the type.
        match core::future::pending::<core::convert::Infallible>().await {}
    }
}
