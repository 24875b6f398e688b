//! Firmware for QEMU's `mps2-an386` (Cortex-M4F) that runs `quectel-bc20`, unchanged, against
//! the emulated BC20 (`bc20-sim --tcp`, wired to UART0 by `-serial tcp:...`).
//!
//! - [`board`]: board support, the only code that knows the hardware (and knows nothing of
//!   the BC20);
//! - [`app`]: what both firmwares share: the build-time settings, CRC-32, the clocks the
//!   crate and the MQTT clients take, the log and the report at the end;
//! - `src/bin/bc20-async.rs` and `src/bin/bc20-blocking.rs`: the two firmwares, one per stack.
//!
//! `scripts/qemu-test` builds and runs both; see the README's QEMU section.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod board;
