//! `engine_echo` with 256-byte socket buffers, smaller than most of the module's pushes: the
//! engine hands pushed data on as it comes and holds the module's output back in the middle
//! of it while a buffer is full. Every byte must still come back exactly once and in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/echo.rs"]
mod echo;

fuzz_target!(|data: &[u8]| echo::run_small(data));
