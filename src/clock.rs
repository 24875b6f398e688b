//! Time for the driver: one method, milliseconds from any fixed origin.

/// A monotonic millisecond clock.
///
/// On a microcontroller, implement it over a timer (a SysTick counter, `embassy_time::Instant`,
/// an RTIC monotonic). [`StdClock`] is the host implementation.
pub trait Clock {
    /// Milliseconds since a fixed origin; must never go backwards.
    fn now_ms(&self) -> u64;

    /// Called while the blocking stack waits for the module (in its own wait loops only).
    /// The default does nothing (busy polling); a host clock sleeps a little so that waits do
    /// not burn a core, and firmware may enter a low-power wait here.
    fn idle(&self) {}
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn idle(&self) {
        (**self).idle()
    }
}

/// The host clock: `std::time::Instant`, idling with a 100 µs sleep.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    origin: std::time::Instant,
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        StdClock {
            origin: std::time::Instant::now(),
        }
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn idle(&self) {
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// embassy-time's monotonic clock, for firmware that runs embassy-time (feature
/// `embassy-time`). Its `embassy_time::Delay` is the `DelayNs` the async runner takes.
///
/// As the blocking stack's clock, `idle` does nothing (busy polling); wrap it if the firmware
/// should sleep while the driver waits.
#[cfg(feature = "embassy-time")]
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock;

#[cfg(feature = "embassy-time")]
impl Clock for EmbassyClock {
    fn now_ms(&self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
}
