//! What the host examples share: option parsing for the module (emulator or serial port),
//! logging to stderr (env_logger), starting the async stack under tokio, and the traffic account.
//!
//! Each example uses part of it.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use lexopt::{Arg, Parser, ValueExt as _};
use quectel_bc20::asynch::{self, Stack, State};
use quectel_bc20::engine::{Config, Traffic};
use quectel_bc20::host::{self, StdDelay};
use quectel_bc20::{StdClock, sim};

/// The stack as the examples use it: state leaked for `'static`, one mutex for tokio's threads.
pub type Net = Stack<'static, CriticalSectionRawMutex>;

/// Where the module is.
pub enum Modem {
    /// The emulator on an in-process pipe.
    Emulated,
    /// A real BC20 on a serial port.
    Serial { path: String, baud: u32 },
}

/// Options every example takes.
pub struct Common {
    pub modem: Modem,
    pub log: log::LevelFilter,
    pub timeout: Duration,
}

/// Help text for the options of [`Common`].
pub const COMMON_HELP: &str = "\
MODULE:
    --port PATH      drive a real BC20 on this serial port (e.g. /dev/ttyUSB0) instead of
                     the built-in emulator
    --baud N         serial baud rate (default 115200; the BC20 autobauds on its first AT)
    --timeout S      give up after S seconds (default: 30 emulated, 180 real)
    --log LEVEL      log to stderr: off, error (default), warn, info, debug, trace
                     (trace shows every AT command and response line); RUST_LOG, when
                     set, adds env_logger filters on top (e.g. RUST_LOG=minimq=debug)
    -h, --help       print this help

REAL HARDWARE:
    Wire the BC20's main UART (TXD, RXD, GND) to a USB serial adapter. The module's UART runs
    at 1.8 V: a 3.3 V adapter needs a level shifter (e.g. TXB0104) or the open-drain circuit
    of the BC20 hardware design guide. Supply VBAT as that guide specifies (a source that
    handles the transmit bursts), then pull PWRKEY low for at least 500 ms to switch the
    module on (the EVB's PWRKEY button does this); it prints RDY when it is ready. 115200
    baud is the usual rate. Insert an activated NB-IoT SIM.
";

impl Common {
    pub fn is_emulated(&self) -> bool {
        matches!(self.modem, Modem::Emulated)
    }
}

/// The beginning of an example's `main`: the command line (lexopt) with `-h`/`--help` (print
/// `help_head` and the shared options, exit 0), the shared options, and the example's own
/// ones; then logging. `own` takes each argument that is not a common option into `options`
/// (which holds the defaults), reading a value from the parser when the option has one, or
/// refuses it with `arg.unexpected()`. `Err` carries the
/// exit code to return at once (0 after help, 2 on a usage error).
pub fn begin<O>(
    name: &str,
    help_head: &str,
    options: O,
    own: impl FnMut(&mut O, Arg<'_>, &mut Parser) -> Result<(), lexopt::Error>,
) -> Result<(Common, O), ExitCode> {
    match parse(Parser::from_env(), options, own) {
        Ok(Some((common, options))) => {
            init_log(common.log);
            Ok((common, options))
        }
        Ok(None) => {
            print!("{help_head}{COMMON_HELP}");
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{name}: {e} (try --help)");
            Err(ExitCode::from(2))
        }
    }
}

/// The common options and the example's own from `p`; `None` when help was asked for.
fn parse<O>(
    mut p: Parser,
    mut options: O,
    mut own: impl FnMut(&mut O, Arg<'_>, &mut Parser) -> Result<(), lexopt::Error>,
) -> Result<Option<(Common, O)>, lexopt::Error> {
    let mut port = None;
    let mut baud = 115_200u32;
    let mut log = log::LevelFilter::Error;
    let mut timeout = None;
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(None),
            Arg::Long("port") => port = Some(p.value()?.string()?),
            Arg::Long("baud") => baud = p.value()?.parse()?,
            Arg::Long("timeout") => {
                let s: f64 = p.value()?.parse()?;
                // At least 0.1 s (NaN too); beyond what a Duration holds, no limit.
                timeout = Some(Duration::try_from_secs_f64(s.max(0.1)).unwrap_or(Duration::MAX));
            }
            Arg::Long("log") => log = p.value()?.parse()?,
            // The argument borrows the parser, which `own` needs too: hand it over unborrowed.
            Arg::Long(name) => {
                let name = name.to_owned();
                own(&mut options, Arg::Long(&name), &mut p)?
            }
            Arg::Short(c) => own(&mut options, Arg::Short(c), &mut p)?,
            Arg::Value(v) => own(&mut options, Arg::Value(v), &mut p)?,
        }
    }
    let modem = match port {
        Some(path) => Modem::Serial { path, baud },
        None => Modem::Emulated,
    };
    let default = match modem {
        Modem::Emulated => 30,
        Modem::Serial { .. } => 180,
    };
    let common = Common {
        modem,
        log,
        timeout: timeout.unwrap_or(Duration::from_secs(default)),
    };
    Ok(Some((common, options)))
}

// ----- logging -----

/// Log to stderr through env_logger at `level`, each line stamped with the seconds since
/// program start (`   0.352 DEBUG ...`). `RUST_LOG`, when set, adds env_logger directives
/// on top (`RUST_LOG=minimq=debug`, say).
fn init_log(level: log::LevelFilter) {
    let start = Instant::now();
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .parse_default_env()
        .format(move |out, r| {
            let t = start.elapsed();
            writeln!(
                out,
                "{:>4}.{:03} {:<5} {}",
                t.as_secs(),
                t.subsec_millis(),
                r.level(),
                r.args()
            )
        })
        .try_init();
}

// ----- the stack -----

/// Start the stack on the chosen module: spawn its runner on tokio, wait until the module is
/// up and registered. `sim_config` sets up the emulator (ignored for a real module). Returns
/// the stack and, for the emulator, its handle (keep it alive).
pub async fn start(
    common: &Common,
    sim_config: sim::Config,
    config: Config,
) -> Result<(Net, Option<sim::Emulator>), String> {
    let state: &'static State<CriticalSectionRawMutex> = Box::leak(Box::new(State::new(config)));
    let (stack, emulator) = match &common.modem {
        Modem::Emulated => {
            let (port, emu) = sim::start(sim_config);
            let (rx, tx) = port.split();
            let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
            tokio::spawn(async move { runner.run().await });
            (stack, Some(emu))
        }
        Modem::Serial { path, baud } => {
            let port = serialport::new(path, *baud)
                .timeout(Duration::from_millis(20))
                .open()
                .map_err(|e| format!("{path}: {e}"))?;
            let reader = port.try_clone().map_err(|e| format!("{path}: {e}"))?;
            let (rx, tx) = host::split(reader, port);
            let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
            tokio::spawn(async move { runner.run().await });
            (stack, None)
        }
    };
    let wait = u32::try_from(common.timeout.as_millis()).unwrap_or(u32::MAX);
    stack
        .bring_up(wait)
        .await
        .map_err(|e| format!("module bring-up: {e:?} (is it powered, wired and registered?)"))?;
    Ok((stack, emulator))
}

/// Run `job` on a two-thread tokio runtime, bounded by `timeout`; report its error on stderr
/// as `name: error`. Exit status 0 on success, 1 on failure or timeout.
pub fn block_on_with_timeout(
    name: &str,
    timeout: Duration,
    job: impl Future<Output = Result<(), String>>,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        tokio::time::timeout(timeout, job)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {timeout:?}")))
    });
    // The runner task and the emulator thread run forever: do not wait for them.
    rt.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

// ----- reports -----

/// A few lines about the UART traffic behind what the example did.
pub fn traffic_report(t: &Traffic) -> String {
    let uart = t.tx_bytes + t.rx_bytes;
    let payload = t.payload_sent + t.payload_received;
    let efficiency = if uart == 0 {
        0.0
    } else {
        100.0 * payload as f64 / uart as f64
    };
    format!(
        "UART: {} bytes to the module, {} bytes from it, {} AT commands\n\
         payload: {} bytes sent, {} bytes received; efficiency {payload} / {uart} UART bytes = {efficiency:.1} %",
        t.tx_bytes, t.rx_bytes, t.commands, t.payload_sent, t.payload_received,
    )
}
