//! Board support for QEMU's `mps2-an386`: an Arm MPS2 board with the AN386 FPGA image, a
//! Cortex-M4F at 25 MHz. Nothing in this module knows about the BC20.
//!
//! - [`uart`]: CMSDK APB UART0, interrupt driven, as `embedded-io-async` halves and as a
//!   blocking `embedded-io` UART with `ReadReady`;
//! - [`time`]: a 1 kHz SysTick tick that is both embassy-time's driver and a plain
//!   millisecond clock;
//! - [`rt`]: the exception handlers (UART interrupts, panics and faults end the run with
//!   status 1) and the semihosting exit;
//! - [`stack`]: the stack's high-water mark (cortex-m-rt paints the stack at reset).

pub mod rt;
pub mod stack;
pub mod time;
pub mod uart;

/// The core clock of the mps2-an386 (QEMU's model runs SysTick and the UART from it).
pub const SYSCLK_HZ: u32 = 25_000_000;

/// Start the board: the SysTick tick, then UART0 at `baud`.
///
/// Call once, first thing in `main`. Returns `None` if called again: the peripherals exist
/// once.
pub fn init(baud: u32) -> Option<uart::Uart0> {
    let p = cortex_m::Peripherals::take()?;
    time::start(p.SYST);
    Some(uart::Uart0::start(baud))
}
