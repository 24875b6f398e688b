//! The engine against a well-behaved module with echo peers, all timing fuzzed: every byte
//! must come back exactly once and in order. The harness and its checks are in
//! `tests/fuzz_harness/echo.rs` (shared with the replay test `tests/engine_fuzz.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/echo.rs"]
mod echo;

fuzz_target!(|data: &[u8]| echo::run(data));
