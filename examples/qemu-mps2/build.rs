//! Puts `memory.x` where cortex-m-rt's `link.x` finds it and links with `link.x`, so the
//! firmware builds from any directory (`--manifest-path` from the repository root included).
//!
//! The host ports and the expected page reach the firmware as environment variables read with
//! `option_env!` in `src/app/config.rs`; rustc records them, so changing one rebuilds the
//! firmware.
//!
//! The test CA's certificate (DER) for the HTTPS GET comes as a file: `BC20_QEMU_TLS_CA` is
//! its path (best absolute; a relative one is taken from this package's directory), and it is
//! copied to `OUT_DIR/tls-ca.der`, which `src/app/config.rs` includes.
//! Without the variable that file is empty: the package still builds, and the firmware fails
//! its HTTPS step saying why.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");

    let ca = match env::var_os("BC20_QEMU_TLS_CA") {
        Some(path) => {
            let path = PathBuf::from(path);
            // scripts/qemu-test writes a new CA to the same path on every run.
            println!("cargo:rerun-if-changed={}", path.display());
            fs::read(&path).unwrap_or_else(|e| panic!("BC20_QEMU_TLS_CA={}: {e}", path.display()))
        }
        None => Vec::new(),
    };
    fs::write(out.join("tls-ca.der"), ca).expect("write tls-ca.der");
    println!("cargo:rerun-if-env-changed=BC20_QEMU_TLS_CA");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
