//! Puts `memory.x` where cortex-m-rt's `link.x` finds it and links with `link.x`, so the
//! firmware builds from any directory (`--manifest-path` from the repository root included).
//!
//! The host ports and the expected page reach the firmware as environment variables read with
//! `option_env!` in `src/app/config.rs`; rustc records them, so changing one rebuilds the
//! firmware.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
