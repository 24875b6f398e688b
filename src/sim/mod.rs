//! A Quectel BC20 emulator on the host (feature `sim`).
//!
//! It speaks the module's side of the AT dialect of `shared/spec/bc20-tcpip.md`: every
//! TCP/IP command of the manual with every option, the bring-up commands (`AT`, `ATE0/1`,
//! `ATZ`, `ATI`, `AT+CMEE`, `AT+CPIN?`, `AT+CEREG`, `AT+CGATT?`, `AT+CGPADDR`), echo, framing
//! and error codes as the spec decides, and the real-world quirks of its section 6 as options.
//! Behind it are real sockets: TCP and UDP connections are std::net sockets to the requested
//! address, `AT+QIDNSGIP` asks the host resolver (or a test override table), `AT+QNTP` sends a
//! real SNTP request, and `AT+QPING` measures a real round trip with a TCP connect probe (raw
//! ICMP sockets need privileges; a refused connection proves reachability just as well).
//!
//! # Endpoints
//!
//! - **Pipe**: [`start`] runs an emulator on a thread and hands back the host end of an
//!   in-process byte pipe, [`HostPort`]. It implements `std::io::Read + Write`,
//!   `embedded_io::{Read, Write, ReadReady}` and `embedded_io_async::{Read, Write}`, and splits
//!   into [`HostRx`] and [`HostTx`] for an async driver whose runner owns the receive side.
//! - **Pseudo-terminal** (unix): [`start_pty`] creates a pty and returns the path of its
//!   device, for firmware or tools that open a serial port.
//! - **TCP**: [`serve_tcp`] serves one host connection at a time on a listener.
//! - **Your own**: implement [`ModulePort`] and call [`Emulator::spawn`], or drive a [`Sim`]
//!   yourself (it is sans-IO towards the host: `handle_host_bytes`, `tick`, `poll_output`).
//!
//! The runner `examples/bc20-sim.rs` wraps the pty and TCP endpoints:
//! `cargo run --features sim --example bc20-sim -- --pty` (see its `--help`).
//!
//! # Modules
//!
//! [`Config::module`] picks the module emulated: the BC20 (the default) or its siblings BC26,
//! BC66 and BC660K, as [`crate::engine::Module`]'s profiles describe them (identity, boot output
//! with [`Config::for_module`], the PDP context the TCP/IP commands take, prompt-mode sends and
//! the `AT+QISEND=<id>,0` counters on the BC66 and BC660K, plain `ERROR` for failed TCP/IP
//! commands on those two).
//!
//! # Options, pacing and faults
//!
//! [`Config`] holds the module's options (boot lines or `RDY`, late `CLOSE OK`, sleep after
//! an idle time, doubled blank lines before late URCs, receive buffer size, push chunk size,
//! DNS overrides, ...). [`Config::baud`] paces output and input like a UART (10 bits a byte).
//! [`Faults`] switches seeded, deterministic fault injection on; every injected fault is
//! recorded in the [`FaultLog`] (and logged through the `log` crate), so a test can account
//! for each one. The random choices come from xoshiro256++ (`rand_xoshiro`) seeded through
//! SplitMix64 from [`Faults::seed`]: the same seed gives the same faults on every run and
//! platform. (It replaced the emulator's own SplitMix64 generator during 0.1.0; a seed noted
//! before that change gives a different sequence now.) Events a test wants at a moment of its choosing are methods of the running
//! [`Emulator`] (and of [`Sim`]): `reboot`, `set_registration`, `pdp_deactivate`.
//!
//! # What the module prints (chapter 4 of the manual, over loopback)
//!
//! Every line is framed `\r\n<line>\r\n`; information lines are one frame and the `OK` after
//! them another, so `\r\n\r\nOK\r\n` follows them. With echo on (the power-up default) each
//! command line comes back first, ended by a bare `\r`: `AT\r\r\nOK\r\n`.
//!
//! ```text
//! AT+QIOPEN=1,0,"TCP","127.0.0.1",5000,0,0   \r\nOK\r\n  then  \r\n+QIOPEN: 0,0\r\n
//! AT+QISEND=0,5,hello                        \r\nOK\r\n  then  \r\nSEND OK\r\n
//! (peer sends "hello", buffer access)        \r\n+QIURC: "recv",0\r\n  (showlength 1: ,5)
//! AT+QIRD=0,512      view mode 0             \r\n+QIRD: 5\r\nhello\r\n\r\nOK\r\n
//!                    view mode 1             \r\n+QIRD: 5,hello\r\n\r\nOK\r\n
//!                    nothing left            \r\n+QIRD: 0\r\n\r\nOK\r\n
//! (peer sends "hello", direct push, view 0)  \r\n+QIURC: "recv",0,5\r\nhello
//!                                   view 1   \r\n+QIURC: "recv",0,5,hello\r\n
//! AT+QICLOSE=0                               \r\nOK\r\n\r\nCLOSE OK\r\n
//! ```
//!
//! # Decisions where the manual is silent
//!
//! - Error codes follow spec section 4: bad parameters 552, contexts 2 and 3 and IPv6 555,
//!   id in use 563 (in the `+QIOPEN` URC), refused or unreachable 566, name not found 565,
//!   second DNS lookup 564, socket not open 567, send while `SEND OK` is pending 568, no answer
//!   569. Unknown commands are a plain `ERROR` whatever `AT+CMEE` says.
//! - `AT+QICFG` with a value answers just `OK` (as chapter 4 shows; the command table's reading
//!   is an option); without one it prints the setting. `AT+QPING=?` is followed by `OK`.
//! - `AT+QISEND` data must be exactly `<send_length>` bytes, bare or inside quotes.
//! - A send on a socket the peer closed answers `OK` then `SEND FAIL` (error 567).
//! - `AT+QICLOSE` on a socket that is not open still answers `OK` and `CLOSE OK`.
//! - `AT+QIRD` on a direct-push socket answers `+QIRD: 0`.
//! - `remaining_length` is what is left of the current buffer node; one node is one read from
//!   the network, and one `AT+QIRD` never spans two nodes.
//! - A recv URC is printed when data arrives and none is outstanding; it is re-armed only by an
//!   `AT+QIRD` that answers `+QIRD: 0`.
//! - `AT+QPING` prints a line per reply, then the summary (counts are requests, not bytes); when
//!   nothing answered, a lone `+QPING: <err>` after a doubled blank line.
//! - `AT+QISTATE` prints the remote address as resolved and the local port as requested.
//! - `AT+QRST=1` reboots. `ATZ` turns echo on and `AT+CMEE` off.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use quectel_bc20::sim::{self, BootStyle, Config, Faults, Rate};
//!
//! let config = Config {
//!     boot: BootStyle::Silent,
//!     faults: Faults { seed: 7, noise: Rate::Never, ..Faults::default() },
//!     ..Config::default()
//! };
//! let (mut host, emulator) = sim::start(config);
//! host.set_read_timeout(Some(Duration::from_secs(2)));
//! host.write_all(b"ATE0\r").unwrap();
//! let mut buf = [0u8; 64];
//! let mut got = Vec::new();
//! while !got.ends_with(b"OK\r\n") {
//!     let n = host.read(&mut buf).unwrap();
//!     got.extend_from_slice(&buf[..n]);
//! }
//! assert_eq!(got, b"ATE0\r\r\nOK\r\n");
//! assert!(emulator.fault_log().events().is_empty());
//! ```

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

mod args;
mod commands;
mod exec;
mod faults;
mod net;
mod output;
mod ping;
mod pipe;
#[cfg(unix)]
mod pty;
mod runner;
mod rx;
mod services;
mod session;
pub mod sntp;

pub use faults::{FaultEvent, FaultKind, FaultLog, Faults, Rate};
pub use pipe::{HostPort, HostRx, HostTx, ModuleEnd, PipeClosed, pipe};
#[cfg(unix)]
pub use pty::start_pty;
pub use runner::{Emulator, ModulePort, serve_tcp, start};
pub use session::Sim;

use crate::types::{DataFormat, RegistrationStatus, ViewMode};

/// What the module prints at power-up and after a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootStyle {
    /// `RDY`.
    #[default]
    Rdy,
    /// The MT2625 boot-ROM lines (`F1: 0000 0000` ... `Leaving the BROM`).
    BootRom,
    /// Nothing.
    Silent,
}

/// Settings the module saves in NVRAM: they survive a reboot (sockets do not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvram {
    /// Command echo (`ATE0`/`ATE1`, `ATZ` turns it on).
    pub echo: bool,
    /// Send data format (`AT+QICFG="dataformat"`, ignored by the module).
    pub send_format: DataFormat,
    /// Receive data format.
    pub recv_format: DataFormat,
    /// View mode.
    pub view_mode: ViewMode,
    /// Show length.
    pub show_length: bool,
}

impl Default for Nvram {
    fn default() -> Self {
        Nvram {
            echo: true,
            send_format: DataFormat::Text,
            recv_format: DataFormat::Text,
            view_mode: ViewMode::HeaderCrLfData,
            show_length: false,
        }
    }
}

/// The emulator's options.
#[derive(Debug, Clone)]
pub struct Config {
    /// The module emulated (see [`crate::engine::Module`]): its `ATI` model line, the PDP
    /// context its TCP/IP commands take (0 on the BC660K, 1 on the others; another is refused),
    /// prompt-mode sends and the `AT+QISEND=<id>,0` query (BC66, BC660K), and how TCP/IP
    /// errors are printed after `AT+CMEE=1` (a plain `ERROR` on the BC66 and BC660K).
    /// [`Config::for_module`] also sets the boot output and revision of the module.
    pub module: crate::engine::Module,
    /// What to print at power-up and after a reboot.
    pub boot: BootStyle,
    /// Take host bytes while the boot lines are still going out. Off by default: a booting
    /// module is not listening yet, so what the host sends before it could have seen `RDY`
    /// (or the last boot-ROM line) is lost, as on real hardware.
    pub listen_while_booting: bool,
    /// NVRAM contents at power-up.
    pub nvram: Nvram,
    /// UART pacing: bits per second (10 bits a byte) for output and for accepting input.
    /// `None` (the default) is unpaced.
    pub baud: Option<u32>,
    /// Receive buffer size per socket in buffer access mode; `+QIURC: "recv",<id>,"buff full"`
    /// when it is full and more data waits.
    pub rx_buffer_size: usize,
    /// Largest direct-push chunk (one `+QIURC: "recv"` each).
    pub push_chunk: usize,
    /// How long after an accepted send `SEND OK` is printed (a send in this window gets
    /// `ERROR` / 568).
    pub send_ok_delay: Duration,
    /// Print `CLOSE OK` this long after the `OK` of `AT+QICLOSE` (spec 6.5); `None` prints it
    /// right after.
    pub close_ok_delay: Option<Duration>,
    /// Sleep after this much host silence; the first command after it is answered by a bare
    /// `\r\n` only (spec 6.3). `None` (the default) never sleeps.
    pub sleep_after: Option<Duration>,
    /// With `sleep_after`: the first command after sleep only wakes the module and gets no
    /// answer at all (its bytes lost to the wake-up), instead of the bare `\r\n`.
    pub sleep_silent: bool,
    /// Put a doubled blank line before every late URC (`+QIOPEN`, `+QPING`, `+QNTP`,
    /// dnsgip), spec 6.2. A failed ping's lone `+QPING: <err>` always has one.
    pub doubled_blank_before_late_urcs: bool,
    /// Add `\r\n` after direct-push data in view mode 0, as sibling firmware does (spec 6.16).
    pub crlf_after_push: bool,
    /// Answer an `AT+QICFG` write with the new setting before `OK` (as the manual's command
    /// table reads) instead of a bare `OK` (as its chapter 4 examples show, the default).
    pub qicfg_write_prints_setting: bool,
    /// How long `AT+QIOPEN` waits for a TCP connect.
    pub connect_timeout: Duration,
    /// DNS answers for tests: name to IPv4 list; an empty list makes the name fail (565).
    pub dns_overrides: HashMap<String, Vec<Ipv4Addr>>,
    /// Ask the host resolver for names not in `dns_overrides`.
    pub use_host_resolver: bool,
    /// TTL printed in dnsgip answers for names (IP literals get 0).
    pub dns_ttl: u32,
    /// Addresses treated as unreachable without sending anything: connects, pings and NTP to
    /// them time out (for failure tests that must not leave the machine).
    pub blackhole: Vec<Ipv4Addr>,
    /// Registration status for `AT+CEREG?` and `AT+CGATT?`.
    pub registration: RegistrationStatus,
    /// The module's IP address (`AT+CGPADDR`).
    pub ip_address: Ipv4Addr,
    /// Firmware revision printed by `ATI` / `AT+CGMR`.
    pub revision: String,
    /// The TCP port `AT+QPING` probes.
    pub ping_port: u16,
    /// Pause between two ping probes.
    pub ping_interval: Duration,
    /// Upper bound on the per-probe timeout (the command's `time_out` in seconds is capped by
    /// this, so failure tests finish fast).
    pub ping_timeout_cap: Duration,
    /// TTL printed in ping replies.
    pub ping_ttl: u8,
    /// How long `AT+QNTP` waits for the server.
    pub ntp_timeout: Duration,
    /// Time zone of `+QNTP` times, in quarter hours east of UTC: -48..=56, the module's range
    /// (a value outside it is clamped).
    pub timezone_quarters: i8,
    /// Print `+QNTP` times with a four-digit year, as sibling firmware does (spec 6.7).
    pub ntp_four_digit_year: bool,
    /// Fault injection.
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            module: crate::engine::Module::Bc20,
            boot: BootStyle::Rdy,
            listen_while_booting: false,
            nvram: Nvram::default(),
            baud: None,
            rx_buffer_size: 4096,
            push_chunk: 1024,
            send_ok_delay: Duration::from_millis(2),
            close_ok_delay: None,
            sleep_after: None,
            sleep_silent: false,
            doubled_blank_before_late_urcs: false,
            crlf_after_push: false,
            qicfg_write_prints_setting: false,
            connect_timeout: Duration::from_secs(5),
            dns_overrides: HashMap::new(),
            use_host_resolver: true,
            dns_ttl: 600,
            blackhole: Vec::new(),
            registration: RegistrationStatus::Home,
            ip_address: Ipv4Addr::new(10, 0, 0, 2),
            revision: String::from("BC20JAR01A04"),
            ping_port: 7,
            ping_interval: Duration::from_millis(20),
            ping_timeout_cap: Duration::from_secs(4),
            ping_ttl: 255,
            ntp_timeout: Duration::from_secs(4),
            timezone_quarters: 0,
            ntp_four_digit_year: false,
            faults: Faults::default(),
        }
    }
}

impl Config {
    /// The defaults for `module`: its profile's boot output and revision on top of
    /// [`Config::default`] (which keeps `RDY` at boot whatever the module, as tests expect).
    pub fn for_module(module: crate::engine::Module) -> Self {
        let p = module.profile();
        Config {
            module,
            boot: match p.boot {
                crate::engine::BootOutput::Rdy => BootStyle::Rdy,
                crate::engine::BootOutput::BootRom => BootStyle::BootRom,
            },
            revision: String::from(p.revision),
            ..Config::default()
        }
    }

    pub(crate) fn net_view(&self) -> net::NetView {
        net::NetView {
            resolver: services::Resolver {
                overrides: self.dns_overrides.clone(),
                use_host: self.use_host_resolver,
                blackhole: self.blackhole.clone(),
                ttl: self.dns_ttl,
            },
            connect_timeout: self.connect_timeout,
        }
    }
}
