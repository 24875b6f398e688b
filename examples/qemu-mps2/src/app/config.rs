//! Settings fixed at build time. `scripts/qemu-test` starts the host's servers on free ports
//! and builds the firmware with them in the environment:
//!
//! | variable | what | default |
//! |----------|------|---------|
//! | `BC20_QEMU_HTTP_PORT` | the HTTP server's port on the host | 8080 |
//! | `BC20_QEMU_PAGE_LEN` | length of its page `/page`, bytes | 20480 |
//! | `BC20_QEMU_PAGE_CRC` | CRC-32 of that page, hex | 0 |
//! | `BC20_QEMU_MQTT_PORT` | mosquitto's port | 1883 |
//! | `BC20_QEMU_ECHO_PORT` | the TCP echo server's port | 7 |
//! | `BC20_QEMU_HTTPS_PORT` | the HTTPS server's port (same page) | 8443 |
//! | `BC20_QEMU_TLS_SEED` | the TLS handshake's 64-bit RNG seed, hex (see [`TLS_SEED`]) | none |
//! | `BC20_QEMU_TLS_CA` | path to the test CA's certificate, DER (read by `build.rs`) | none |
//! | `BC20_QEMU_LOG` | the crate's log level: off, error, warn, info, debug, trace | warn |
//!
//! The defaults only let the firmware build; a run needs the real values.

/// The name the emulated module resolves (`bc20-sim --dns bc20-demo.example=127.0.0.1`).
pub const HOST_NAME: &str = "bc20-demo.example";

/// The host's servers as the module sees them: it opens real sockets on the host.
pub const HOST_IP: core::net::Ipv4Addr = core::net::Ipv4Addr::LOCALHOST;

/// The HTTP server's port.
pub const HTTP_PORT: u16 = number(option_env!("BC20_QEMU_HTTP_PORT"), 8080, 10) as u16;

/// The length of the page the HTTP server serves at `/page`.
pub const PAGE_LEN: usize = number(option_env!("BC20_QEMU_PAGE_LEN"), 20_480, 10) as usize;

/// The CRC-32 (IEEE) of that page.
pub const PAGE_CRC: u32 = number(option_env!("BC20_QEMU_PAGE_CRC"), 0, 16) as u32;

/// mosquitto's port.
pub const MQTT_PORT: u16 = number(option_env!("BC20_QEMU_MQTT_PORT"), 1883, 10) as u16;

/// The TCP echo server's port.
pub const ECHO_PORT: u16 = number(option_env!("BC20_QEMU_ECHO_PORT"), 7, 10) as u16;

/// The HTTPS server's port: the same page as [`HTTP_PORT`], over TLS 1.3 with a certificate
/// whose CN is [`HOST_NAME`], issued by [`TLS_CA`].
pub const HTTPS_PORT: u16 = number(option_env!("BC20_QEMU_HTTPS_PORT"), 8443, 10) as u16;

/// The seed of the TLS handshake's RNG (reqwless's ChaCha8, which makes the ephemeral key),
/// or `None` when the build was given none.
///
/// **For the emulated test only.** mps2-an386 has no TRNG, so `scripts/qemu-test` draws a
/// fresh seed from the host's `/dev/urandom` for each build and the firmware uses it for its
/// one TLS connection. A seed compiled into the image is the same on every boot, so a real
/// board must never do this: it seeds each connection from a hardware TRNG (or a secure
/// element), see the README's "Entropy".
pub const TLS_SEED: Option<u64> = match option_env!("BC20_QEMU_TLS_SEED") {
    Some(text) => Some(parse(text, 16, u64::MAX)),
    None => None,
};

/// The test CA's certificate (DER) that the HTTPS server's certificate must chain to: the file
/// `BC20_QEMU_TLS_CA` named at build time, empty when it was not set.
pub const TLS_CA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tls-ca.der"));

/// The log level of the crate's messages, printed over semihosting.
pub const LOG: &str = match option_env!("BC20_QEMU_LOG") {
    Some(level) => level,
    None => "warn",
};

/// `text` as a number in `radix` (10 or 16), or `default` when it is absent; a malformed
/// value, or one above `u32::MAX`, fails the build.
const fn number(text: Option<&str>, default: u64, radix: u64) -> u64 {
    match text {
        Some(text) => parse(text, radix, u32::MAX as u64),
        None => default,
    }
}

/// `text` as a number in `radix` (10 or 16) of at most `max`; a malformed value fails the
/// build.
const fn parse(text: &str, radix: u64, max: u64) -> u64 {
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "empty number in a BC20_QEMU_* variable");
    let mut value: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = match bytes[i] {
            b @ b'0'..=b'9' => (b - b'0') as u64,
            b @ b'a'..=b'f' => (b - b'a' + 10) as u64,
            b @ b'A'..=b'F' => (b - b'A' + 10) as u64,
            _ => panic!("not a number in a BC20_QEMU_* variable"),
        };
        assert!(
            digit < radix,
            "digit out of range in a BC20_QEMU_* variable"
        );
        value = match value.checked_mul(radix) {
            Some(v) => match v.checked_add(digit) {
                Some(v) => v,
                None => panic!("number too large in a BC20_QEMU_* variable"),
            },
            None => panic!("number too large in a BC20_QEMU_* variable"),
        };
        assert!(value <= max, "number too large in a BC20_QEMU_* variable");
        i += 1;
    }
    value
}
