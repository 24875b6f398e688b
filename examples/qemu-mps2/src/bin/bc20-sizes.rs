//! The driver's RAM on the target: the size of the async stack's `State` and of the blocking
//! `Bc20` for 1, 2 and 5 sockets with 256, 512 and 1536-byte buffers (receive buffer and
//! send queue of each socket), default staging, printed over semihosting as a Markdown table.
//! `scripts/ram-table` builds and runs it. The driver's own share is what is left after the
//! buffers the application sized (`N × (RX + TX) + STAGING`).
#![no_std]
#![no_main]

use bc20_qemu_mps2::app::clock::BoardClock;
use bc20_qemu_mps2::board::{self, uart::BlockingUart};
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use quectel_bc20::Bc20;
use quectel_bc20::asynch::State;
use quectel_bc20::engine::DEFAULT_STAGING;

/// One row: the sizes for `N` sockets with `B`-byte buffers.
fn row<const N: usize, const B: usize>() {
    let state = core::mem::size_of::<State<NoopRawMutex, N, B, B>>();
    let blocking = core::mem::size_of::<Bc20<BlockingUart, BoardClock, N, B, B>>();
    let buffers = N * 2 * B + DEFAULT_STAGING;
    hprintln!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        N,
        B,
        buffers,
        state,
        state - buffers,
        blocking,
        blocking - buffers
    );
}

#[entry]
fn main() -> ! {
    let _ = board::init(115_200);
    hprintln!(
        "| sockets | RX = TX | buffers (N × (RX + TX) + {} staging) | async `State` | driver's own | blocking `Bc20` | driver's own |",
        DEFAULT_STAGING
    );
    hprintln!("|---:|---:|---:|---:|---:|---:|---:|");
    row::<1, 256>();
    row::<1, 512>();
    row::<1, 1536>();
    row::<2, 256>();
    row::<2, 512>();
    row::<2, 1536>();
    row::<5, 256>();
    row::<5, 512>();
    row::<5, 1536>();
    hprintln!(
        "defaults: async State {} B, blocking Bc20 {} B",
        core::mem::size_of::<State<NoopRawMutex>>(),
        core::mem::size_of::<Bc20<BlockingUart, BoardClock>>()
    );
    board::rt::exit(true)
}
