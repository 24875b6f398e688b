//! The engine fuzz harnesses (`tests/fuzz_harness/`, also built by `fuzz/fuzz_targets/engine*.rs`)
//! on every input kept in `tests/fixtures/fuzz/` (crashes the fuzzer found, once fixed, and
//! seeds), and on a few thousand seeded random inputs, so that CI runs them too.

#[path = "fuzz_harness/echo.rs"]
mod echo;
#[path = "fuzz_harness/hostile.rs"]
mod hostile;

use std::path::Path;

/// Every file of `tests/fixtures/fuzz/<dir>`, sorted by name.
fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(dir);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `len` bytes from a seeded xorshift.
fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn hostile_module_kept_inputs() {
    for (name, data) in inputs("engine") {
        eprintln!("replaying {name}");
        hostile::run(&data);
    }
}

/// The seeds to run: `ENGINE_FUZZ_SEED=<n>` picks one (with `HOSTILE_TRACE=1` to see it).
fn seeds(n: u64) -> std::ops::Range<u64> {
    match std::env::var("ENGINE_FUZZ_SEED") {
        Ok(s) => {
            let s: u64 = s.parse().expect("ENGINE_FUZZ_SEED is a number");
            s..s + 1
        }
        Err(_) => 0..n,
    }
}

#[test]
fn hostile_module_random_inputs() {
    for seed in seeds(500) {
        let data = random(8 + (seed as usize * 7) % 600, seed);
        if std::panic::catch_unwind(|| hostile::run(&data)).is_err() {
            panic!("random input of seed {seed} failed: {data:02x?}");
        }
    }
}

#[test]
fn echo_module_kept_inputs() {
    for (name, data) in inputs("engine_echo") {
        eprintln!("replaying {name}");
        echo::run(&data);
    }
}

#[test]
fn echo_module_random_inputs() {
    for seed in seeds(200) {
        let data = random(8 + (seed as usize * 13) % 3000, seed);
        if std::panic::catch_unwind(|| echo::run(&data)).is_err() {
            panic!("random input of seed {seed} failed: {data:02x?}");
        }
    }
}

/// The echo harness with socket buffers smaller than the pushes (`engine_echo_small`), on the
/// kept echo inputs and on seeded random ones.
#[test]
fn echo_module_small_buffers() {
    for (name, data) in inputs("engine_echo") {
        eprintln!("replaying {name} with small buffers");
        echo::run_small(&data);
    }
    for seed in seeds(200) {
        let data = random(8 + (seed as usize * 13) % 3000, seed);
        if std::panic::catch_unwind(|| echo::run_small(&data)).is_err() {
            panic!("random input of seed {seed} failed (small buffers): {data:02x?}");
        }
    }
}
