//! The stack's high-water mark. With cortex-m-rt's `paint-stack` feature the reset handler
//! fills the stack, from `_stack_end` (just past the statics) up to `_stack_start` (the top
//! of RAM, the initial stack pointer), with `STACK_PAINT_VALUE`. Whatever the program has
//! used since is no longer painted, so the lowest unpainted word marks the deepest the stack
//! ever went (interrupt frames included).
//!
//! Start-up can have a peak of its own (a large value built on the stack before it moves into
//! a `static`): [`start_up_done`] records the peak so far and paints the free stack again, so
//! that [`peak_use`] then tells the peak of the steady state.

use core::sync::atomic::{AtomicUsize, Ordering};

use cortex_m_rt::STACK_PAINT_VALUE;

// Only the addresses of these symbols are used, never their contents.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// The top of the stack (cortex-m-rt's linker script).
    static _stack_start: u32;
    /// The lowest address the stack may grow to: the end of the statics.
    static _stack_end: u32;
}

/// Bytes below the live stack pointer that [`start_up_done`] leaves unpainted.
const REPAINT_MARGIN: usize = 64;

static START_UP_PEAK: AtomicUsize = AtomicUsize::new(0);

fn bounds() -> (usize, usize) {
    let top = &raw const _stack_start as usize;
    let bottom = &raw const _stack_end as usize;
    (bottom, top)
}

/// Bytes the stack may grow to (all RAM past the statics).
pub fn capacity() -> usize {
    let (bottom, top) = bounds();
    top - bottom
}

/// The most bytes of stack in use at any time since reset, or since [`start_up_done`] if it
/// was called (a multiple of 4).
pub fn peak_use() -> usize {
    let (bottom, top) = bounds();
    let mut addr = bottom;
    while addr < top {
        #[allow(unsafe_code)]
        // SAFETY: `addr` is a word-aligned address in [_stack_end, _stack_start), RAM that
        // the linker script gives to the stack; reading it has no side effect and a stale
        // value is harmless (the words below the live stack are not in use).
        let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
        if word != STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}

/// The peak recorded by [`start_up_done`] (0 if it was not called).
pub fn start_up_peak() -> usize {
    START_UP_PEAK.load(Ordering::Relaxed)
}

/// Record the peak of start-up and paint the unused stack again, from its bottom up to a
/// little below the caller's stack pointer. Call it from thread mode.
pub fn start_up_done() {
    START_UP_PEAK.store(peak_use(), Ordering::Relaxed);
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let end = sp.saturating_sub(REPAINT_MARGIN) & !3;
    let mut addr = bottom;
    while addr < end {
        #[allow(unsafe_code)]
        // SAFETY: [bottom, end) is stack RAM below the live stack pointer (thread mode runs on
        // MSP), which this function's frame lies above, so nothing in it is live while this
        // loop runs. An interrupt that preempts the loop uses that memory below the stack
        // pointer and returns before the loop goes on, so painting over what it left is
        // harmless.
        unsafe {
            core::ptr::write_volatile(addr as *mut u32, STACK_PAINT_VALUE)
        };
        addr += 4;
    }
}
