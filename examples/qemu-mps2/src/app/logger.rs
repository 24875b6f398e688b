//! The crate logs through `log`; this prints its messages over semihosting, with the time,
//! at the level chosen at build time ([`super::config::LOG`]).

use cortex_m_semihosting::hprintln;
use log::{LevelFilter, Log, Metadata, Record};

use crate::board::time;

struct Semihosting;

impl Log for Semihosting {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let ms = time::now_ms();
            hprintln!(
                "{:>4}.{:03} {:<5} {}",
                ms / 1000,
                ms % 1000,
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: Semihosting = Semihosting;

/// Install the logger at the build-time level; an unknown level name means `warn`.
pub fn init() {
    let level = match super::config::LOG {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Warn,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
