//! The task that owns the UART.

use embassy_futures::join::join;
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};

use super::State;
use crate::clock::Clock;
use crate::engine::{DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX};
use crate::wake::{NoWake, Wake};
use crate::wire::MAX_CONTROL_LEN;

/// How many bytes the runner reads from the UART at a time.
const READ_CHUNK: usize = 256;

/// First back-off after a UART read error or end of stream, ms; it doubles with each error in
/// a row up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u64 = 10;
/// Longest back-off between two reads of a failing UART, ms.
const MAX_BACKOFF_MS: u64 = 1_000;

/// The UART side of the async driver: run [`Runner::run`] for the stack to work. `P` pulses
/// the module's wake pin, if it has one (see [`crate::wake`]).
pub struct Runner<
    'a,
    M: RawMutex,
    R,
    W,
    C,
    D,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
    P = NoWake,
> {
    state: &'a State<M, N, RX, TX, ST>,
    rx: R,
    tx: W,
    clock: C,
    delay: D,
    wake: P,
}

impl<'a, M, R, W, C, D, const N: usize, const RX: usize, const TX: usize, const ST: usize, P>
    Runner<'a, M, R, W, C, D, N, RX, TX, ST, P>
where
    M: RawMutex,
{
    pub(super) fn new(
        state: &'a State<M, N, RX, TX, ST>,
        rx: R,
        tx: W,
        clock: C,
        delay: D,
        wake: P,
    ) -> Self {
        Runner {
            state,
            rx,
            tx,
            clock,
            delay,
            wake,
        }
    }

    /// The same runner with a wake pin: `wake` is called before the driver wakes the module
    /// from sleep (see [`crate::wake`]).
    pub fn with_wake<P2: Wake>(self, wake: P2) -> Runner<'a, M, R, W, C, D, N, RX, TX, ST, P2> {
        Runner::new(self.state, self.rx, self.tx, self.clock, self.delay, wake)
    }
}

impl<M, R, W, C, D, const N: usize, const RX: usize, const TX: usize, const ST: usize, P>
    Runner<'_, M, R, W, C, D, N, RX, TX, ST, P>
where
    M: RawMutex,
    R: Read,
    W: Write,
    C: Clock,
    D: DelayNs,
    P: Wake,
{
    /// Drive the UART forever.
    ///
    /// UART errors and an end of stream are counted
    /// ([`Traffic::uart_errors`](crate::engine::Traffic::uart_errors)) and logged (the first,
    /// then at every power of two), and the receive side backs off (10 ms, doubling up to 1 s)
    /// instead of spinning; requests meanwhile time out and the engine resynchronises once
    /// the UART works again.
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
            wake,
        } = self;
        let clock = &*clock;
        let receive = async {
            let mut buf = [0u8; READ_CHUNK];
            let mut failures: u32 = 0;
            loop {
                let n = match rx.read(&mut buf).await {
                    Ok(n) if n > 0 => {
                        failures = 0;
                        n
                    }
                    other => {
                        let gap = other.is_err();
                        failures = failures.saturating_add(1);
                        if failures.is_power_of_two() {
                            match other {
                                Err(e) => crate::fmt::warn!(
                                    "bc20: UART read error ({} in a row): {:?}",
                                    failures,
                                    embedded_io::Error::kind(&e)
                                ),
                                Ok(_) => crate::fmt::warn!(
                                    "bc20: UART end of stream ({} in a row)",
                                    failures
                                ),
                            }
                        }
                        let backoff = FIRST_BACKOFF_MS
                            .saturating_mul(1 << failures.min(7).saturating_sub(1))
                            .min(MAX_BACKOFF_MS);
                        let until = clock.now_ms().saturating_add(backoff);
                        state.with(|e| {
                            e.note_uart_error();
                            if gap {
                                // Bytes may be missing: nothing is joined across (see
                                // `Engine::note_rx_gap`).
                                e.note_rx_gap();
                            }
                        });
                        state.rx_hold.lock(|h| h.set(Some(until)));
                        state.kick.signal(());
                        state.rx_resume.wait().await;
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
            let mut out = [0u8; MAX_CONTROL_LEN];
            loop {
                loop {
                    let now = clock.now_ms();
                    let (n, pulse) = state.with(|e| {
                        if e.poll_transmit(now).is_none() {
                            return (0, false);
                        }
                        let pulse = e.take_wake_request();
                        match e.poll_transmit(now) {
                            Some(bytes) => {
                                let n = bytes.len().min(out.len());
                                out[..n].copy_from_slice(&bytes[..n]);
                                (n, pulse)
                            }
                            None => (0, pulse),
                        }
                    });
                    if pulse {
                        wake.wake();
                    }
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
                        state.with(|e| e.note_uart_error());
                        embassy_futures::yield_now().await;
                    }
                    let now = clock.now_ms();
                    state.with(|e| e.transmitted(n, now));
                }
                let now = clock.now_ms();
                let hold = state.rx_hold.lock(|h| h.get());
                if hold.is_some_and(|t| now >= t) {
                    state.rx_hold.lock(|h| h.set(None));
                    state.rx_resume.signal(());
                }
                let hold = state.rx_hold.lock(|h| h.get());
                let deadline = match (state.with(|e| e.poll_timeout()), hold) {
                    (Some(d), Some(h)) => Some(d.min(h)),
                    (d, h) => d.or(h),
                };
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
                    // Held-back output may flow again (a hold broken, see
                    // `Config::hold_limit_ms`).
                    state.space.signal(());
                }
            }
        };
        let _ = join(receive, transmit).await;
        // Both loops run forever; this only satisfies the type.
        match core::future::pending::<core::convert::Infallible>().await {}
    }
}
