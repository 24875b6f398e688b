//! The engine against a hostile module: module output as input, driven by a sequence of API
//! calls with time steps. The harness and its invariants are in `tests/fuzz_harness/hostile.rs`
//! (shared with the replay test `tests/engine_fuzz.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_harness/hostile.rs"]
mod hostile;

fuzz_target!(|data: &[u8]| hostile::run(data));
