//! Linker scripts: cortex-m-rt's `link.x` (which includes the `memory.x` that embassy-stm32's
//! `memory-x` feature writes for the chip) and defmt's `defmt.x`. Given here rather than in
//! `.cargo/config.toml` so that they apply however cargo is started (CI builds with
//! `--manifest-path` from the repository root, where this package's config is not read).
fn main() {
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}
