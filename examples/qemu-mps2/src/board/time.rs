//! Time on SysTick: a 1 kHz tick from the 25 MHz core clock, counted in a 64-bit millisecond
//! counter. It is embassy-time's driver (with `tick-hz-1_000`, one embassy tick is one
//! millisecond) and, through [`now_ms`], the clock of the blocking stack.
//!
//! The timer queue is embassy-time-queue-utils' generic queue; the SysTick handler wakes the
//! timers that are due on each tick, which keeps the driver free of any alarm hardware.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_queue_utils::queue_generic::ConstGenericQueue;

/// Tick rate of the clock and of embassy-time (its `tick-hz-1_000` feature).
pub const TICK_HZ: u32 = 1_000;

/// Timers that can wait at once (the async firmware's tasks each keep at most one or two).
const TIMERS: usize = 16;

struct SysTickDriver {
    ms: Mutex<Cell<u64>>,
    /// When the earliest queued timer is due (`u64::MAX`: none).
    next: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<ConstGenericQueue<TIMERS>>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ms: Mutex::new(Cell::new(0)),
    next: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(ConstGenericQueue::new())),
});

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ms.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                let now = self.ms.borrow(cs).get();
                self.next.borrow(cs).set(queue.next_expiration(now));
            }
        });
    }
}

/// Start the 1 kHz tick.
pub(crate) fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(super::SYSCLK_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ms = DRIVER.ms.borrow(cs);
        let now = ms.get() + 1;
        ms.set(now);
        let next = DRIVER.next.borrow(cs);
        if now >= next.get() {
            next.set(DRIVER.queue.borrow_ref_mut(cs).next_expiration(now));
        }
    });
}

/// Milliseconds since the board started.
pub fn now_ms() -> u64 {
    embassy_time_driver::now()
}
