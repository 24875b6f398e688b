//! The board's millisecond tick as the clocks the libraries take: `quectel_bc20::Clock` for
//! both stacks, and `embedded_time::Clock` for minimq 0.10. (minimq 0.13 and the async runner's
//! delays use embassy-time, whose driver is the same tick.)

use crate::board::time;

/// The board's SysTick milliseconds. As the blocking stack's clock, [`quectel_bc20::Clock::idle`]
/// sleeps until the next interrupt (a received byte or the next tick).
#[derive(Clone, Copy, Debug, Default)]
pub struct BoardClock;

impl quectel_bc20::Clock for BoardClock {
    fn now_ms(&self) -> u64 {
        time::now_ms()
    }

    fn idle(&self) {
        cortex_m::asm::wfi();
    }
}

impl embedded_time::Clock for BoardClock {
    type T = u32;
    const SCALING_FACTOR: embedded_time::fraction::Fraction =
        embedded_time::fraction::Fraction::new(1, 1000);

    fn try_now(&self) -> Result<embedded_time::Instant<Self>, embedded_time::clock::Error> {
        // Wraps after 49 days, which embedded-time's instants handle.
        Ok(embedded_time::Instant::new(time::now_ms() as u32))
    }
}
