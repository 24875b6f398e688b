//! CMSDK APB UART0 of the mps2-an386 (base `0x4000_4000`; RX interrupt 0, TX interrupt 1).
//!
//! The receive register holds one byte, so the RX interrupt moves every byte into a ring at
//! once; the application reads the ring. The transmit side is a ring too, which the TX
//! interrupt drains. When the receive ring is full the RX interrupt is switched off and the
//! byte stays in the UART; QEMU then holds the rest back (the chardev is flow controlled by
//! the UART's "RX full" flag), and [`RxStats::paused`] counts how often that happened. On real
//! hardware a full ring would lose bytes instead: size it for the longest time between reads.
//!
//! Two faces over the same rings: [`UartRx`]/[`UartTx`] (`embedded-io-async`, woken by the
//! interrupts) and [`BlockingUart`] (`embedded-io` with `ReadReady`, sleeping with `wfi`).

use core::cell::RefCell;
use core::convert::Infallible;
use core::future::poll_fn;
use core::task::Poll;

use critical_section::Mutex;
use embassy_sync::waitqueue::AtomicWaker;
use heapless::Deque;

/// Bytes the receive ring holds.
pub const RX_RING: usize = 2048;
/// Bytes the transmit ring holds.
pub const TX_RING: usize = 1024;

/// The UART's interrupt lines on the NVIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// UART0 receive (IRQ 0).
    Rx = 0,
    /// UART0 transmit (IRQ 1).
    Tx = 1,
}

// SAFETY: 0 and 1 are UART0's RX and TX lines on the mps2-an386's NVIC.
#[allow(unsafe_code)]
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// The registers, and the only code that touches them.
mod reg {
    const BASE: usize = 0x4000_4000;
    pub const DATA: usize = 0x00;
    pub const STATE: usize = 0x04;
    pub const CTRL: usize = 0x08;
    /// INTSTATUS on read, INTCLEAR (write 1 to clear) on write.
    pub const INT: usize = 0x0C;
    pub const BAUDDIV: usize = 0x10;

    pub const STATE_TX_FULL: u32 = 1 << 0;
    pub const STATE_RX_FULL: u32 = 1 << 1;
    pub const STATE_RX_OVERRUN: u32 = 1 << 3;
    pub const CTRL_TX_EN: u32 = 1 << 0;
    pub const CTRL_RX_EN: u32 = 1 << 1;
    pub const CTRL_TX_INT: u32 = 1 << 2;
    pub const CTRL_RX_INT: u32 = 1 << 3;
    pub const INT_TX: u32 = 1 << 0;
    pub const INT_RX: u32 = 1 << 1;

    /// Read the register at `offset`.
    #[allow(unsafe_code)]
    pub fn read(offset: usize) -> u32 {
        // SAFETY: BASE + offset is one of UART0's five 32-bit registers (the callers pass the
        // constants above), device memory that is always mapped on this board; a volatile
        // read has no effect on Rust-visible memory.
        unsafe { core::ptr::read_volatile((BASE + offset) as *const u32) }
    }

    /// Write the register at `offset`.
    #[allow(unsafe_code)]
    pub fn write(offset: usize, value: u32) {
        // SAFETY: as in `read`; writes reach only the UART, never Rust-visible memory.
        unsafe { core::ptr::write_volatile((BASE + offset) as *mut u32, value) }
    }
}

/// Receive-side counters, for the report at the end of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RxStats {
    /// Bytes received.
    pub bytes: u32,
    /// The most bytes the receive ring ever held.
    pub peak: usize,
    /// How often the ring was full and reception paused until the application read.
    pub paused: u32,
    /// Whether the UART ever reported a receive overrun (a byte lost in hardware).
    pub overrun: bool,
}

struct Rx {
    ring: Deque<u8, RX_RING>,
    stats: RxStats,
    /// The RX interrupt is off because the ring was full.
    paused: bool,
}

static RX: Mutex<RefCell<Rx>> = Mutex::new(RefCell::new(Rx {
    ring: Deque::new(),
    stats: RxStats {
        bytes: 0,
        peak: 0,
        paused: 0,
        overrun: false,
    },
    paused: false,
}));
static TX: Mutex<RefCell<Deque<u8, TX_RING>>> = Mutex::new(RefCell::new(Deque::new()));
static RX_WAKER: AtomicWaker = AtomicWaker::new();
static TX_WAKER: AtomicWaker = AtomicWaker::new();

/// The RX interrupt: move every byte the UART has into the ring.
pub fn on_rx_interrupt() {
    critical_section::with(|cs| {
        let mut rx = RX.borrow_ref_mut(cs);
        // Clear first: a byte that arrives after the last check below raises it again.
        reg::write(reg::INT, reg::INT_RX);
        let state = reg::read(reg::STATE);
        if state & reg::STATE_RX_OVERRUN != 0 {
            rx.stats.overrun = true;
        }
        while reg::read(reg::STATE) & reg::STATE_RX_FULL != 0 {
            if rx.ring.is_full() {
                // Leave the byte in the UART; `take` switches the interrupt back on.
                reg::write(reg::CTRL, reg::read(reg::CTRL) & !reg::CTRL_RX_INT);
                rx.paused = true;
                rx.stats.paused += 1;
                break;
            }
            let byte = reg::read(reg::DATA) as u8;
            let _ = rx.ring.push_back(byte);
            rx.stats.bytes = rx.stats.bytes.wrapping_add(1);
        }
        rx.stats.peak = rx.stats.peak.max(rx.ring.len());
    });
    RX_WAKER.wake();
}

/// The TX interrupt: hand the UART bytes from the ring while it takes them.
pub fn on_tx_interrupt() {
    critical_section::with(|cs| {
        reg::write(reg::INT, reg::INT_TX);
        drain_tx(&mut TX.borrow_ref_mut(cs));
    });
    TX_WAKER.wake();
}

fn drain_tx(tx: &mut Deque<u8, TX_RING>) {
    while reg::read(reg::STATE) & reg::STATE_TX_FULL == 0 {
        match tx.pop_front() {
            Some(b) => reg::write(reg::DATA, u32::from(b)),
            None => break,
        }
    }
}

/// Copy received bytes into `buf`; 0 when the ring is empty.
fn take(buf: &mut [u8]) -> usize {
    critical_section::with(|cs| {
        let mut rx = RX.borrow_ref_mut(cs);
        let mut n = 0;
        while n < buf.len() {
            match rx.ring.pop_front() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 && rx.paused {
            rx.paused = false;
            reg::write(reg::CTRL, reg::read(reg::CTRL) | reg::CTRL_RX_INT);
            // The byte left in the UART raised no interrupt while it was off.
            cortex_m::peripheral::NVIC::pend(Irq::Rx);
        }
        n
    })
}

fn rx_available() -> bool {
    critical_section::with(|cs| !RX.borrow_ref(cs).ring.is_empty())
}

/// Queue bytes of `buf` for sending; how many fit (0 when the ring is full).
fn give(buf: &[u8]) -> usize {
    critical_section::with(|cs| {
        let mut tx = TX.borrow_ref_mut(cs);
        let mut n = 0;
        for &b in buf {
            if tx.push_back(b).is_err() {
                break;
            }
            n += 1;
        }
        drain_tx(&mut tx);
        n
    })
}

/// The transmit ring has room.
fn tx_has_space() -> bool {
    critical_section::with(|cs| !TX.borrow_ref(cs).is_full())
}

/// Everything queued has left the UART.
fn tx_done() -> bool {
    critical_section::with(|cs| {
        TX.borrow_ref(cs).is_empty() && reg::read(reg::STATE) & reg::STATE_TX_FULL == 0
    })
}

/// Sleep until an interrupt, unless `ready` already holds. `wfi` inside the critical section
/// still wakes on a pending interrupt, which then runs when the section ends, so a byte that
/// arrives between the check and the `wfi` cannot be slept through.
fn sleep_unless(ready: impl Fn() -> bool) {
    critical_section::with(|_| {
        if !ready() {
            cortex_m::asm::wfi();
        }
    });
}

/// UART0, started. Split it into async halves or make it a blocking UART.
pub struct Uart0 {
    _private: (),
}

impl Uart0 {
    /// Program the baud divisor, enable both directions and both interrupts.
    pub(crate) fn start(baud: u32) -> Self {
        // QEMU ignores the UART until BAUDDIV >= 16 (the hardware's minimum).
        let div = (super::SYSCLK_HZ / baud.max(1)).max(16);
        reg::write(reg::BAUDDIV, div);
        reg::write(
            reg::CTRL,
            reg::CTRL_TX_EN | reg::CTRL_RX_EN | reg::CTRL_TX_INT | reg::CTRL_RX_INT,
        );
        #[allow(unsafe_code)]
        // SAFETY: both handlers (`on_rx_interrupt`, `on_tx_interrupt`, called from
        // `rt::DefaultHandler`) touch shared state only inside critical sections, so
        // unmasking cannot break a critical section of the application.
        unsafe {
            cortex_m::peripheral::NVIC::unmask(Irq::Rx);
            cortex_m::peripheral::NVIC::unmask(Irq::Tx);
        }
        Uart0 { _private: () }
    }

    /// Async halves for `embedded-io-async` users (the BC20 runner takes them separately).
    pub fn split(self) -> (UartRx, UartTx) {
        (UartRx { _private: () }, UartTx { _private: () })
    }

    /// The blocking face, for the `embedded-io` stack.
    pub fn blocking(self) -> BlockingUart {
        BlockingUart { _private: () }
    }
}

/// The receive-side counters so far.
pub fn rx_stats() -> RxStats {
    critical_section::with(|cs| RX.borrow_ref(cs).stats)
}

/// Receive half, `embedded_io_async::Read`.
pub struct UartRx {
    _private: (),
}

/// Transmit half, `embedded_io_async::Write`.
pub struct UartTx {
    _private: (),
}

impl embedded_io_async::ErrorType for UartRx {
    type Error = Infallible;
}

impl embedded_io_async::ErrorType for UartTx {
    type Error = Infallible;
}

impl embedded_io_async::Read for UartRx {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            RX_WAKER.register(cx.waker());
            match take(buf) {
                0 => Poll::Pending,
                n => Poll::Ready(Ok(n)),
            }
        })
        .await
    }
}

impl embedded_io_async::Write for UartTx {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            TX_WAKER.register(cx.waker());
            match give(buf) {
                0 => Poll::Pending,
                n => Poll::Ready(Ok(n)),
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        poll_fn(|cx| {
            TX_WAKER.register(cx.waker());
            if tx_done() {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// The same UART for blocking code: `read` and `write` sleep (`wfi`) until they can make
/// progress, and `ReadReady` tells whether a `read` would return at once.
pub struct BlockingUart {
    _private: (),
}

impl embedded_io::ErrorType for BlockingUart {
    type Error = Infallible;
}

impl embedded_io::Read for BlockingUart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match take(buf) {
                0 => sleep_unless(rx_available),
                n => return Ok(n),
            }
        }
    }
}

impl embedded_io::ReadReady for BlockingUart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(rx_available())
    }
}

impl embedded_io::Write for BlockingUart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match give(buf) {
                0 => sleep_unless(tx_has_space),
                n => return Ok(n),
            }
        }
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while !tx_done() {
            sleep_unless(tx_done);
        }
        Ok(())
    }
}
