//! What both firmwares share.

pub mod clock;
pub mod config;
pub mod crc32;
pub mod logger;

use cortex_m_semihosting::hprintln;

use crate::board;

/// Print the run's figures (stack high-water mark, time, UART counters) and end QEMU: status
/// 0 when `result` is `Ok`, 1 otherwise.
pub fn finish(name: &str, result: Result<(), &str>) -> ! {
    let rx = board::uart::rx_stats();
    hprintln!(
        "uart: {} bytes received, receive ring peak {} of {} bytes, paused {} times, overrun {}",
        rx.bytes,
        rx.peak,
        board::uart::RX_RING,
        rx.paused,
        rx.overrun
    );
    hprintln!(
        "stack: peak {} bytes after start-up, {} bytes during start-up (of {} painted)",
        board::stack::peak_use(),
        board::stack::start_up_peak(),
        board::stack::capacity()
    );
    hprintln!("time: {} ms on the board clock", board::time::now_ms());
    match result {
        Ok(()) => {
            hprintln!("{}: PASS", name);
            board::rt::exit(true)
        }
        Err(e) => {
            hprintln!("{}: FAIL: {}", name, e);
            board::rt::exit(false)
        }
    }
}
