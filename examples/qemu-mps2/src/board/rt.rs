//! Exceptions and the end of a run. QEMU runs with `-semihosting-config enable=on`: the
//! firmware prints through semihosting and ends QEMU with a semihosting exit, status 0 for a
//! pass and 1 for anything else. A panic, a HardFault or an unexpected interrupt ends it with
//! 1 too, so no failure can look like a pass or turn into a hang.

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::{debug, hprintln};

use super::uart;

/// End the run: QEMU exits with status 0 when `pass`, else 1.
pub fn exit(pass: bool) -> ! {
    debug::exit(if pass {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Not reached under QEMU; on a debugger without semihosting exit, stop here.
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    hprintln!("PANIC: {}", info);
    exit(false)
}

#[exception]
#[allow(unsafe_code)]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("HARDFAULT at pc {:#010x}: {:?}", frame.pc(), frame);
    exit(false)
}

/// Every interrupt without a handler of its own lands here (cortex-m-rt without a device
/// crate); `irqn` is the interrupt number, negative for the core's exceptions. (cortex-m-rt
/// requires `unsafe fn` here; the body is safe code.)
#[exception]
#[allow(unsafe_code)]
unsafe fn DefaultHandler(irqn: i16) {
    match irqn {
        0 => uart::on_rx_interrupt(),
        1 => uart::on_tx_interrupt(),
        _ => {
            hprintln!("unexpected exception or interrupt {}", irqn);
            exit(false)
        }
    }
}
