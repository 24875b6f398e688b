//! The module state machine: host command lines in, framed module output out.
//!
//! Socket handling lives in `net.rs`, DNS/ping/NTP in `services.rs`; both add `impl Sim`
//! blocks to the type defined here.

use std::format;
use std::string::String;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::commands::{self, Reject};
use super::faults::{FaultKind, FaultLog, Injector, Which};
use super::net::Socket;
use super::output::{Output, Pace};
use super::services::Done;
use super::{BootStyle, Config, Nvram};
use crate::types::{DataFormat, QiError, RegistrationStatus, SOCKET_COUNT, ViewMode};

/// Longest command line the emulator takes (a full `AT+QISEND` plus slack).
const MAX_LINE: usize = 1100;

/// Lines of the MT2625 boot ROM, as real modules print them at power-up.
pub(crate) const BOOT_ROM: &[&str] = &[
    "F1: 0000 0000",
    "V0: 0000 0000 [0001]",
    "00: 1006 0004",
    "01: 0000 0000",
    "U0: 0000 0001 [0000]",
    "T0: 0000 00B4",
    "Leaving the BROM",
];

/// The BC20 emulator core: feed it host bytes, tick it, and take its output.
///
/// It is sans-IO towards the host (the caller moves bytes and passes the time) and owns real
/// std::net sockets towards the network, polled without blocking in [`Sim::tick`]. Blocking
/// work (connect, DNS, ping, NTP) runs on short-lived helper threads whose results `tick`
/// collects. Most users run it through [`super::Emulator`] instead.
///
/// ```
/// use std::time::Instant;
/// use quectel_bc20::sim::{BootStyle, Config, Sim};
///
/// let mut sim = Sim::new(Config { boot: BootStyle::Silent, ..Config::default() });
/// let now = Instant::now();
/// assert_eq!(sim.handle_host_bytes(now, b"AT+CPIN?\r"), 9);
/// sim.tick(now);
/// let mut out = [0u8; 64];
/// let mut got = Vec::new();
/// loop {
///     let n = sim.poll_output(now, &mut out);
///     if n == 0 { break; }
///     got.extend_from_slice(&out[..n]);
/// }
/// assert_eq!(got, b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n");
/// ```
#[derive(Debug)]
pub struct Sim {
    pub(crate) cfg: Config,
    pub(crate) nvram: Nvram,
    pub(crate) out: Output,
    pub(crate) inj: Injector,
    pub(crate) log: FaultLog,
    in_pace: Option<Pace>,
    /// The caller still holds host bytes the pacing did not take yet.
    in_backlog: bool,
    line: Vec<u8>,
    line_overflow: bool,
    line_started: Option<Instant>,
    last_activity: Instant,
    pub(crate) cmee: u8,
    pub(crate) cereg_n: u8,
    pub(crate) last_error: u16,
    pub(crate) sockets: [Option<Socket>; SOCKET_COUNT],
    /// The socket whose `SEND OK` is pending, and when it may be printed.
    pub(crate) send_pending: Option<(usize, Instant)>,
    pub(crate) epoch: u64,
    pub(crate) next_token: u64,
    pub(crate) done_tx: mpsc::Sender<(u64, Done)>,
    done_rx: mpsc::Receiver<(u64, Done)>,
    pub(crate) dns_busy: bool,
    pub(crate) ping_busy: bool,
    pub(crate) ntp_busy: bool,
    /// Reused network read buffer.
    pub(crate) scratch: Vec<u8>,
    /// The module is booting until its boot lines have gone out (see [`Output::mark`]).
    boot_end: u64,
    /// Prompt mode: the socket, the bytes announced, and those received so far.
    pub(crate) data_mode: Option<(usize, usize, Vec<u8>)>,
}

impl Sim {
    /// A powered-up module: the boot lines of `config.boot` are queued as its first output.
    pub fn new(config: Config) -> Self {
        Self::with_log(config, FaultLog::default())
    }

    pub(crate) fn with_log(config: Config, log: FaultLog) -> Self {
        let now = Instant::now();
        let (done_tx, done_rx) = mpsc::channel();
        let pace = config.baud.map(|b| Pace::new(b, now));
        let mut sim = Sim {
            nvram: config.nvram.clone(),
            out: Output::new(pace.clone()),
            inj: Injector::new(config.faults.clone(), log.clone(), now),
            log,
            in_pace: pace,
            in_backlog: false,
            line: Vec::new(),
            line_overflow: false,
            line_started: None,
            last_activity: now,
            cmee: 0,
            cereg_n: 0,
            last_error: 0,
            sockets: Default::default(),
            send_pending: None,
            epoch: 0,
            next_token: 0,
            done_tx,
            done_rx,
            dns_busy: false,
            ping_busy: false,
            ntp_busy: false,
            scratch: Vec::new(),
            boot_end: 0,
            data_mode: None,
            cfg: config,
        };
        sim.power_up(now);
        sim
    }

    /// The fault log (a shared handle: it keeps filling as the emulator runs).
    pub fn fault_log(&self) -> FaultLog {
        self.log.clone()
    }

    /// The settings the module keeps across reboots.
    pub fn nvram(&self) -> &Nvram {
        &self.nvram
    }

    /// Reboot now: every socket and pending operation is forgotten, the boot lines are printed,
    /// NVRAM settings stay.
    pub fn reboot(&mut self, now: Instant) {
        self.out.clear();
        self.power_up(now);
    }

    /// Change the network registration status (`AT+CEREG?`, `AT+CGATT?`); with `AT+CEREG=1`
    /// or higher in force, the module reports it as `+CEREG: <stat>`.
    pub fn set_registration(&mut self, now: Instant, stat: RegistrationStatus) {
        self.cfg.registration = stat;
        if self.cereg_n >= 1 {
            self.urc(now, &format!("+CEREG: {}", stat.wire()));
        }
    }

    /// The PDP context drops: `+QIURC: "pdpdeact",1`, and every socket is gone.
    pub fn pdp_deactivate(&mut self, now: Instant) {
        self.urc(now, "+QIURC: \"pdpdeact\",1");
        self.sockets = Default::default();
        self.send_pending = None;
    }

    fn power_up(&mut self, now: Instant) {
        self.epoch += 1;
        self.data_mode = None;
        self.sockets = Default::default();
        self.send_pending = None;
        self.dns_busy = false;
        self.ping_busy = false;
        self.ntp_busy = false;
        self.cmee = 0;
        self.cereg_n = 0;
        self.last_error = 0;
        self.line.clear();
        self.line_overflow = false;
        self.line_started = None;
        self.last_activity = now;
        match self.cfg.boot {
            BootStyle::Silent => {}
            BootStyle::Rdy => self.emit(now, frame_line("RDY")),
            BootStyle::BootRom => {
                for l in BOOT_ROM {
                    self.emit(now, frame_line(l));
                }
            }
        }
        self.boot_end = self.out.mark();
    }

    /// True while the boot lines have not all gone out: the module is not listening yet.
    pub fn is_booting(&self) -> bool {
        !self.out.is_past(self.boot_end)
    }

    /// Take host bytes. Returns how many were accepted: with UART pacing on, fewer than given
    /// (offer the rest again later); otherwise all.
    ///
    /// While the module boots (until its boot lines have been taken with
    /// [`Sim::poll_output`]) it is not listening, as a real one: bytes arriving then are
    /// accepted and lost, unless [`Config::listen_while_booting`] is set.
    pub fn handle_host_bytes(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let n = match &mut self.in_pace {
            Some(p) => {
                // Bytes still waiting from an earlier call have been on the wire all along;
                // fresh bytes start now (idle time is not banked as credit).
                let floor = if self.in_backlog {
                    self.inj.start()
                } else {
                    now.checked_sub(p.byte_time()).unwrap_or(now)
                };
                let n = p.take(now, floor, bytes.len());
                self.in_backlog = n < bytes.len();
                n
            }
            None => bytes.len(),
        };
        if self.is_booting() && !self.cfg.listen_while_booting {
            log::debug!("bc20-sim: {n} host bytes lost while booting");
            return n;
        }
        for &b in &bytes[..n] {
            self.handle_byte(now, b);
        }
        n
    }

    fn handle_byte(&mut self, now: Instant, b: u8) {
        if let Some((id, len, data)) = &mut self.data_mode {
            // After the `> ` prompt: raw data, no echo, no line handling.
            data.push(b);
            if data.len() >= *len {
                let (id, data) = (*id, core::mem::take(data));
                self.data_mode = None;
                self.last_activity = now;
                if let Err(e) = self.qisend(now, id, data) {
                    self.error(now, Some(e));
                }
            }
            return;
        }
        match b {
            b'\r' => {
                let line = core::mem::take(&mut self.line);
                let overflow = core::mem::replace(&mut self.line_overflow, false);
                let started = self.line_started.take().unwrap_or(now);
                self.handle_line(now, started, &line, overflow);
                self.last_activity = now;
            }
            b'\n' if self.line.is_empty() => {}
            _ => {
                if self.line_started.is_none() {
                    self.line_started = Some(now);
                }
                if self.line.len() < MAX_LINE {
                    self.line.push(b);
                } else {
                    self.line_overflow = true;
                }
            }
        }
    }

    fn handle_line(&mut self, now: Instant, started: Instant, line: &[u8], overflow: bool) {
        if let Some(d) = self.cfg.sleep_after
            && started.saturating_duration_since(self.last_activity) >= d
        {
            // Waking from sleep: the first command gets a bare line end and nothing else, or
            // nothing at all.
            if !self.cfg.sleep_silent {
                self.emit(now, b"\r\n".to_vec());
            }
            return;
        }
        if line.is_empty() && !overflow {
            return;
        }
        if self.nvram.echo {
            let mut e = line.to_vec();
            e.push(b'\r');
            self.emit(now, e);
        }
        if overflow {
            self.error(now, None);
            return;
        }
        if self.inj.fire(Which::Reboot) {
            self.inj.record(now, FaultKind::Reboot);
            self.reboot(now);
            return;
        }
        let prefix = self.inj.cfg.error_on_command.as_bytes();
        if line.len() >= prefix.len()
            && line[..prefix.len()].eq_ignore_ascii_case(prefix)
            && self.inj.fire(Which::ErrorOn)
        {
            self.inj
                .record(now, FaultKind::Error(String::from_utf8_lossy(line).into()));
            self.emit(now, frame_line("ERROR"));
            return;
        }
        match commands::parse_for(line, self.cfg.module.profile().context.get()) {
            Ok(cmd) => {
                if cmd.is_tcpip() {
                    // Execution may set it again (a SEND FAIL, a failed open).
                    self.last_error = 0;
                }
                if let Err(e) = self.execute(now, cmd) {
                    self.error(now, Some(e));
                }
            }
            Err(Reject::Unknown) => self.error(now, None),
            Err(Reject::Invalid(e)) => {
                if commands::is_tcpip_name(line) {
                    self.error(now, Some(e));
                } else {
                    self.error(now, None);
                }
            }
        }
    }

    /// Print an error: `ERROR`, or `+CME ERROR: <n>` with `AT+CMEE=1` (the description with
    /// `AT+CMEE=2`). `None` is a plain `ERROR` whatever CMEE says.
    pub(crate) fn error(&mut self, now: Instant, e: Option<QiError>) {
        let plain = self.cfg.module.profile().tcpip_errors == crate::engine::ErrorStyle::Plain;
        let line = match e {
            Some(e) if plain => {
                // BC66, BC660K: a failed TCP/IP command is a plain `ERROR` (the code is still
                // there for `AT+QIGETERROR`).
                self.last_error = e.code();
                String::from("ERROR")
            }
            Some(e) => {
                self.last_error = e.code();
                match self.cmee {
                    1 => format!("+CME ERROR: {}", e.code()),
                    2 => format!("+CME ERROR: {}", e.description()),
                    _ => String::from("ERROR"),
                }
            }
            None => String::from("ERROR"),
        };
        self.emit(now, frame_line(&line));
    }

    /// Queue one frame now.
    pub(crate) fn emit(&mut self, now: Instant, bytes: Vec<u8>) {
        self.emit_after(now, Duration::ZERO, bytes);
    }

    /// Queue one frame no earlier than `now + delay`.
    pub(crate) fn emit_after(&mut self, now: Instant, delay: Duration, bytes: Vec<u8>) {
        if self.out.push(now, delay, bytes, &mut self.inj) {
            // An injected `+QIURC: "pdpdeact"` is not a harmless line: the context is gone, and
            // with it every socket, as on a real module.
            self.sockets = Default::default();
            self.send_pending = None;
        }
    }

    /// Queue `OK`.
    pub(crate) fn ok(&mut self, now: Instant) {
        self.emit(now, frame_line("OK"));
    }

    /// Queue information lines (one frame) and then `OK` (another frame).
    pub(crate) fn info_ok(&mut self, now: Instant, lines: &[String]) {
        if !lines.is_empty() {
            let mut f = Vec::from(&b"\r\n"[..]);
            for l in lines {
                f.extend_from_slice(l.as_bytes());
                f.extend_from_slice(b"\r\n");
            }
            self.emit(now, f);
        }
        self.ok(now);
    }

    /// Queue an unsolicited line.
    pub(crate) fn urc(&mut self, now: Instant, line: &str) {
        self.emit(now, frame_line(line));
    }

    /// Queue the late result of an asynchronous command (`+QIOPEN`, `+QPING`, `+QNTP`,
    /// dnsgip), with a doubled blank line before it when `doubled` or the option says so.
    pub(crate) fn late_urc(&mut self, now: Instant, line: &str, doubled: bool) {
        let mut f = frame_line(line);
        if doubled || self.cfg.doubled_blank_before_late_urcs {
            f.splice(0..0, *b"\r\n");
        }
        self.emit(now, f);
    }

    /// Tick: collect helper-thread results, socket data and timers. Call often (every ms or
    /// so) and whenever bytes arrive.
    pub fn tick(&mut self, now: Instant) {
        while let Ok((epoch, done)) = self.done_rx.try_recv() {
            if epoch == self.epoch {
                self.handle_done(now, done);
            }
        }
        self.poll_sockets(now);
    }

    /// Copy module output that is due into `buf`; returns how many bytes (0 when nothing is
    /// due yet).
    pub fn poll_output(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        self.out.poll(now, buf)
    }

    /// When the next queued output byte is due, if any is queued.
    pub fn next_output_due(&self) -> Option<Instant> {
        self.out.next_due()
    }

    /// Bytes of output queued and not yet taken.
    pub fn queued_output(&self) -> usize {
        self.out.queued()
    }

    /// True when received data is printed as hex.
    pub(crate) fn hex_recv(&self) -> bool {
        self.nvram.recv_format == DataFormat::Hex
    }

    /// True in view mode 1 (header, comma, data).
    pub(crate) fn view_comma(&self) -> bool {
        self.nvram.view_mode == ViewMode::HeaderCommaData
    }
}

/// `\r\n<line>\r\n`.
pub(crate) fn frame_line(line: &str) -> Vec<u8> {
    let mut f = Vec::with_capacity(line.len() + 4);
    f.extend_from_slice(b"\r\n");
    f.extend_from_slice(line.as_bytes());
    f.extend_from_slice(b"\r\n");
    f
}
