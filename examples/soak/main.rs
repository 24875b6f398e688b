//! Soak: move a lot of data through the emulated module with its faults on, and account for
//! every byte.
//!
//! `scripts/soak` runs it (release build): `scripts/soak 1G`. See `--help`.
//!
//! Two workers run side by side, one per access mode (buffer access and direct push). Each has
//! its own emulator on an in-process pipe with the seeded fault injection on (delays, chunked
//! output, benign noise lines, `+QIOPEN` failures, `SEND FAIL`, `ERROR` instead of a command,
//! peers that close mid-transfer, buffer-full URCs, reboots), and drives the blocking
//! `embedded-nal` stack (or, with `--stack async`, the `embedded-nal-async` one: `asynch.rs`)
//! through TCP connections to an echo server on 127.0.0.1. Each
//! connection sends a seeded pseudo-random stream of a random length and reads the echo back,
//! comparing every byte with what was sent:
//!
//! - a byte that differs (lost, duplicated, reordered or corrupted) is a **silent loss**: the
//!   stack handed out wrong data without an error;
//! - a connection that ends with an error is fine as long as what came back before the error
//!   is a correct prefix of what was sent (that is checked byte by byte as it comes);
//! - a connection that makes no progress (no byte sent or received) for `--stall-secs`
//!   without an error is a **stall**: every wait of the engine is bounded well below that (the
//!   longest, opening, by 60 s).
//!
//! The report gives bytes moved, faults injected by kind, errors by kind, stalls, silent
//! losses, throughput and wall time. Exit status 1 on any stall or silent loss.
//!
//! Line noise (a flipped or dropped byte in a frame) is off unless `--line-noise` asks for it:
//! it corrupts data by design, and a flipped byte inside a payload cannot be told from data
//! (the AT protocol has no checksum), so under line noise differing bytes are counted as
//! corruptions and do not fail the run; stalls still do.

mod asynch;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use embedded_nal::TcpClientStack;
use lexopt::{Arg, Parser, ValueExt as _};
use quectel_bc20::engine::{self, SocketPhase};
use quectel_bc20::sim::{self, FaultKind, Faults, HostPort, Rate};
use quectel_bc20::{AccessMode, Bc20, Error, StdClock};

const HELP: &str = "\
soak: move data through the emulated BC20 with every fault on and account for every byte

USAGE:
    soak [SIZE] [OPTIONS]

    SIZE                 echoed bytes to verify, all workers together (default 1G; K, M, G
                         suffixes are powers of 1024)
    --mode MODE          buffer, push or both (default both: one worker each, in parallel)
    --seed N             seed of the fault dice and the data (default 1)
    --no-faults          run without fault injection (a baseline)
    --line-noise RATE    also flip or drop bytes of frames (pm:<n>, every:<n>, ...); data that
                         then differs is counted as corrupted, not as a silent loss
    --stall-secs N       no progress for this long without an error is a stall (default 120)
    --max-conn SIZE      longest connection (default 4M; lengths are drawn from 1K up)
    --report-secs N      progress line every N seconds (default 30)
    --sleep-after MS     the module sleeps after MS ms of silence from the host, and answers the
                         first command after that with a bare line end (off by default)
    --sleep-silent       with --sleep-after: the first command after sleep gets no answer at all
    --silent-boot        the module's reboots (a fault, every 25,000 command lines) print
                         nothing: the driver finds them by what the module no longer holds
    --stack STACK        blocking (the default: embedded-nal in a polling loop) or async
                         (embedded-nal-async, the runner on a tokio runtime per worker)
    --poll-ms MS         the blocking worker is a superloop that calls the driver every MS ms
                         (default: as fast as it can, 50 to 100 us apart when idle)
    --quiet-ms MS        the driver's Config::quiet_ms and wake_answer_ms (default 300 each):
                         a module that sleeps sooner than about twice this loses commands
    -h, --help           this text

    Exit status: 0 when every byte came back right or behind an error, and nothing stalled;
    1 on any stall or silent loss; 2 on bad usage.
";

#[derive(Debug, Clone)]
struct Options {
    bytes: u64,
    modes: Vec<AccessMode>,
    seed: u64,
    faults: bool,
    line_noise: Rate,
    stall: Duration,
    max_conn: usize,
    report: Duration,
    sleep_after: Option<Duration>,
    sleep_silent: bool,
    /// The module's reboots print nothing (`--silent-boot`).
    silent_boot: bool,
    quiet_ms: Option<u32>,
    /// The blocking worker's poll period (`--poll-ms`); `None`: a busy loop.
    poll: Option<Duration>,
    /// Drive the async stack instead of the blocking one.
    async_stack: bool,
}

fn size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.parse().map_err(|e| format!("{s}: {e}"))?;
    Ok((n * mult as f64) as u64)
}

fn options() -> Result<Options, lexopt::Error> {
    let mut o = Options {
        bytes: 1 << 30,
        modes: vec![AccessMode::Buffer, AccessMode::DirectPush],
        seed: 1,
        faults: true,
        line_noise: Rate::Never,
        stall: Duration::from_secs(120),
        max_conn: 4 << 20,
        report: Duration::from_secs(30),
        sleep_after: None,
        sleep_silent: false,
        silent_boot: false,
        quiet_ms: None,
        poll: None,
        async_stack: false,
    };
    let mut p = Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Value(v) => o.bytes = size(&v.string()?)?,
            Arg::Long("mode") => {
                o.modes = match p.value()?.string()?.as_str() {
                    "buffer" => vec![AccessMode::Buffer],
                    "push" => vec![AccessMode::DirectPush],
                    "both" => vec![AccessMode::Buffer, AccessMode::DirectPush],
                    m => return Err(format!("--mode {m}: buffer, push or both").into()),
                }
            }
            Arg::Long("seed") => o.seed = p.value()?.parse()?,
            Arg::Long("no-faults") => o.faults = false,
            Arg::Long("line-noise") => o.line_noise = p.value()?.parse()?,
            Arg::Long("stall-secs") => o.stall = Duration::from_secs(p.value()?.parse()?),
            Arg::Long("max-conn") => o.max_conn = size(&p.value()?.string()?)?.max(1024) as usize,
            Arg::Long("report-secs") => o.report = Duration::from_secs(p.value()?.parse()?),
            Arg::Long("stack") => {
                o.async_stack = match p.value()?.string()?.as_str() {
                    "blocking" => false,
                    "async" => true,
                    s => return Err(format!("--stack {s}: blocking or async").into()),
                }
            }
            Arg::Long("quiet-ms") => o.quiet_ms = Some(p.value()?.parse()?),
            Arg::Long("poll-ms") => {
                o.poll = Some(Duration::from_millis(p.value()?.parse()?));
            }
            Arg::Long("sleep-after") => {
                o.sleep_after = Some(Duration::from_millis(p.value()?.parse()?));
            }
            Arg::Long("sleep-silent") => o.sleep_silent = true,
            Arg::Long("silent-boot") => o.silent_boot = true,
            Arg::Short('h') | Arg::Long("help") => {
                print!("{HELP}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    if o.poll.is_some() && o.async_stack {
        return Err("--poll-ms is for the blocking stack (the async runner wakes itself)".into());
    }
    Ok(o)
}

/// The faults of a soak: every switch that does not destroy data by design, at moderate rates.
fn faults(o: &Options, seed: u64) -> Faults {
    if !o.faults {
        return Faults {
            seed,
            line_noise: o.line_noise,
            ..Faults::default()
        };
    }
    Faults {
        seed,
        // Opportunity: each frame of output.
        delay: Rate::PerMille(10),
        delay_range: (Duration::ZERO, Duration::from_millis(20)),
        chunking: Rate::PerMille(20),
        chunk_max: 24,
        chunk_gap: Duration::from_micros(300),
        // Benign lines only: a `pdpdeact` line would drop every socket, honestly but often.
        noise: Rate::PerMille(5),
        noise_lines: [
            "+CEREG: 1",
            "+CEREG: 5",
            "+QNBIOTEVENT: \"ENTER PSM\"",
            "+QNBIOTEVENT: \"EXIT PSM\"",
            "+CSCON: 0",
        ]
        .map(String::from)
        .to_vec(),
        // Opportunity: each AT+QIOPEN.
        open_fail: Rate::PerMille(30),
        // Opportunity: each accepted send (512 bytes).
        send_fail: Rate::PerMille(1),
        // Opportunity: each command line (sends, reads, opens, closes, AT).
        error_on: Rate::PerMille(1),
        error_on_command: String::new(),
        // Opportunity: each chunk the module reads from the network.
        peer_close: Rate::PerMille(1),
        buff_full: Rate::PerMille(5),
        // Opportunity: each command line; a reboot costs every socket.
        reboot: Rate::Every(25_000),
        line_noise: o.line_noise,
        ping_loss: Rate::Never,
        // Opportunity: each close announcement (the driver finds the close by an audit).
        close_damage: Rate::PerMille(200),
        open_damage: Rate::PerMille(200),
    }
}

/// A TCP echo server on 127.0.0.1, one thread per connection.
fn echo_server() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the echo server");
    let port = l.local_addr().expect("local address").port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = [0u8; 16384];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// SplitMix64: the data and the connection lengths.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// What a worker counted.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Echoed bytes that came back and matched.
    verified: u64,
    /// Bytes the module accepted (`SEND OK`).
    sent: u64,
    connections: u64,
    /// Connections that echoed everything and closed cleanly.
    clean: u64,
    errors: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    stalls: u64,
    silent: u64,
    corrupted: u64,
    /// Longest time a connection went without progress and then went on (or ended with an
    /// error), ms.
    longest_gap_ms: u64,
    /// Details of each stall and silent loss.
    incidents: Vec<String>,
    reboots: u64,
    timeouts: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.verified += o.verified;
        self.sent += o.sent;
        self.connections += o.connections;
        self.clean += o.clean;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.faults {
            *self.faults.entry(k.clone()).or_default() += v;
        }
        self.stalls += o.stalls;
        self.silent += o.silent;
        self.corrupted += o.corrupted;
        self.longest_gap_ms = self.longest_gap_ms.max(o.longest_gap_ms);
        self.incidents.extend(o.incidents.iter().cloned());
        self.reboots += o.reboots;
        self.timeouts += o.timeouts;
    }

    fn error(&mut self, what: &str, e: Error) {
        let kind = match e {
            Error::Unsent { .. } => "Unsent".to_string(),
            e => format!("{e:?}"),
        };
        log::warn!("soak: {what}: {e:?}");
        *self.errors.entry(format!("{what}: {kind}")).or_default() += 1;
    }
}

type Driver = Bc20<HostPort, StdClock>;

/// Shared progress counters, for the progress line.
#[derive(Default)]
struct Progress {
    verified: AtomicU64,
    errors: AtomicU64,
    stalls: AtomicU64,
    silent: AtomicU64,
}

fn fault_name(k: &FaultKind) -> String {
    match k {
        FaultKind::Delay(_) => "delay".into(),
        FaultKind::Chunked { .. } => "chunked".into(),
        FaultKind::Noise(_) => "noise line".into(),
        FaultKind::OpenFail { .. } => "open fail".into(),
        FaultKind::SendFail(_) => "SEND FAIL".into(),
        FaultKind::Error(cmd) => {
            let name: String = cmd
                .chars()
                .take_while(|c| !matches!(c, '=' | '?'))
                .collect();
            format!("ERROR on {name}")
        }
        FaultKind::PeerClose(_) => "peer close".into(),
        FaultKind::BuffFull(_) => "buff full".into(),
        FaultKind::Reboot => "reboot".into(),
        FaultKind::PingLoss(_) => "ping loss".into(),
        FaultKind::CloseDamage(_) => "close announcement damaged".into(),
        FaultKind::OpenDamage(_) => "open announcement damaged".into(),
        FaultKind::LineNoise { .. } => "line noise".into(),
    }
}

/// What both workers start with: an echo server and an emulated module with the faults and
/// settings of `o`; the echo server's address.
fn start_module(o: &Options, seed: u64) -> (HostPort, sim::Emulator, SocketAddr) {
    let port = echo_server();
    let remote = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let (host, emu) = sim::start(sim::Config {
        faults: faults(o, seed),
        // SEND OK as soon as the data is on its way (the default 2 ms caps a worker at
        // 256 KB/s); everything else as the emulator's defaults.
        send_ok_delay: Duration::ZERO,
        sleep_after: o.sleep_after,
        sleep_silent: o.sleep_silent,
        boot: if o.silent_boot {
            sim::BootStyle::Silent
        } else {
            sim::BootStyle::Rdy
        },
        ..sim::Config::default()
    });
    (host, emu, remote)
}

/// The driver's configuration for a worker in `mode`.
fn engine_config(o: &Options, mode: AccessMode) -> engine::Config {
    engine::Config {
        access_mode: mode,
        quiet_ms: o.quiet_ms.unwrap_or(engine::Config::DEFAULT.quiet_ms),
        wake_answer_ms: o.quiet_ms.unwrap_or(engine::Config::DEFAULT.wake_answer_ms),
        ..engine::Config::default()
    }
}

/// A failed bring-up: counted; after 20 in a row the worker gives up, as a stall (true).
fn bring_up_failed(t: &mut Tally, who: &str, attempts: &mut u32, e: Error) -> bool {
    t.error("bring-up", e);
    *attempts += 1;
    if *attempts < 20 {
        return false;
    }
    t.stalls += 1;
    t.incidents
        .push(format!("{who}: no bring-up after 20 attempts ({e:?})"));
    true
}

/// The length of the next connection: up to `--max-conn`, and no more than the worker still
/// has to verify.
fn next_len(rng: &mut Rng, o: &Options, t: &Tally, target: u64) -> usize {
    let len = 1024 + (rng.next() % o.max_conn.saturating_sub(1024).max(1) as u64) as usize;
    len.min((target - t.verified) as usize).max(1)
}

/// After a connection: true while the worker makes progress; a stall (false) when no byte
/// was verified over several connections for three times `--stall-secs`.
fn still_moving(
    t: &mut Tally,
    who: &str,
    before: u64,
    last_verified_at: &mut Instant,
    o: &Options,
    progress: &Progress,
) -> bool {
    if t.verified > before {
        *last_verified_at = Instant::now();
    } else if last_verified_at.elapsed() > 3 * o.stall {
        t.stalls += 1;
        t.incidents.push(format!(
            "{who}: no byte verified for {:?} over several connections",
            last_verified_at.elapsed()
        ));
        progress.stalls.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    true
}

/// The end of a worker: the faults its emulator injected, and the engine's counters.
fn account(t: &mut Tally, emu: &sim::Emulator, traffic: engine::Traffic) {
    for ev in emu.fault_log().events() {
        *t.faults.entry(fault_name(&ev.kind)).or_default() += 1;
    }
    t.reboots = traffic.reboots;
    t.timeouts = traffic.timeouts;
}

/// One worker: an emulator, a driver, connection after connection until `target` bytes came
/// back verified (or `stop` is set).
fn worker(
    mode: AccessMode,
    o: &Options,
    target: u64,
    seed: u64,
    progress: &Progress,
    stop: &AtomicBool,
) -> Tally {
    let (host, emu, remote) = start_module(o, seed);
    let mut d: Driver = Bc20::new(host, StdClock::default(), engine_config(o, mode));
    d.set_wait_limit(60_000);
    let who = format!("{mode:?}");
    let mut t = Tally::default();
    let mut rng = Rng(seed ^ 0x5EED);
    let mut attempts = 0;
    while let Err(e) = d.bring_up(60_000) {
        if bring_up_failed(&mut t, &who, &mut attempts, e) {
            return t;
        }
    }
    let mut last_verified_at = Instant::now();
    while t.verified < target && !stop.load(Ordering::Relaxed) {
        let len = next_len(&mut rng, o, &t, target);
        let before = t.verified;
        connection(&mut d, remote, len, &mut rng, o, mode, &mut t, progress);
        if !still_moving(&mut t, &who, before, &mut last_verified_at, o, progress) {
            break;
        }
    }
    account(&mut t, &emu, d.engine().traffic());
    t
}

/// `piece`, the next echo of a connection: compared with `data` from `got` on. True (and
/// counted as verified) when it matches; else a silent loss is counted (a corruption under
/// line noise), said where, and false: the rest of the connection cannot be compared.
#[allow(clippy::too_many_arguments)]
fn take_echo(
    t: &mut Tally,
    progress: &Progress,
    o: &Options,
    who: &str,
    data: &[u8],
    got: &mut usize,
    sent: usize,
    piece: &[u8],
) -> bool {
    let n = piece.len();
    if data.get(*got..*got + n) != Some(piece) {
        let at = (0..n)
            .find(|&i| data.get(*got + i) != Some(&piece[i]))
            .unwrap_or(0);
        if o.line_noise.is_on() {
            t.corrupted += 1;
        } else {
            t.silent += 1;
            progress.silent.fetch_add(1, Ordering::Relaxed);
            t.incidents.push(format!(
                "{who}: SILENT LOSS: byte {} of a {}-byte connection differs ({sent} sent, {} \
                 received before this read of {n})",
                *got + at,
                data.len(),
                *got
            ));
        }
        return false;
    }
    *got += n;
    t.verified += n as u64;
    progress.verified.fetch_add(n as u64, Ordering::Relaxed);
    true
}

/// One connection of `len` bytes: send the stream, read the echo, compare.
#[allow(clippy::too_many_arguments)]
fn connection(
    d: &mut Driver,
    remote: SocketAddr,
    len: usize,
    rng: &mut Rng,
    o: &Options,
    mode: AccessMode,
    t: &mut Tally,
    progress: &Progress,
) {
    let mut data = vec![0u8; len];
    rng.fill(&mut data);
    t.connections += 1;
    let mut s = match TcpClientStack::socket(d) {
        Ok(s) => s,
        Err(e) => {
            t.error("socket", e);
            progress.errors.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(100));
            return;
        }
    };
    let mut last = Instant::now();
    // Connect.
    loop {
        match TcpClientStack::connect(d, &mut s, remote) {
            Ok(()) => break,
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => {
                t.error("connect", e);
                progress.errors.fetch_add(1, Ordering::Relaxed);
                close(d, s, t);
                return;
            }
        }
        if last.elapsed() > o.stall {
            stall(
                d,
                s,
                t,
                progress,
                (mode, "connecting", last.elapsed()),
                0,
                0,
            );
            return;
        }
        thread::sleep(o.poll.unwrap_or(Duration::from_micros(100)));
    }
    progressed(&mut last, t);
    let mut sent = 0usize;
    let mut got = 0usize;
    let mut buf = vec![0u8; 4096];
    let mut ended: Option<Error> = None;
    while got < len {
        let mut moved = false;
        // Keep at most 64 KiB in flight; the send buffer handed over stays the same until
        // the driver answers for it (the `nb` contract).
        if sent < len && sent.saturating_sub(got) < 65_536 {
            let end = (sent + 4096).min(len);
            match TcpClientStack::send(d, &mut s, &data[sent..end]) {
                Ok(n) => {
                    sent += n;
                    t.sent += n as u64;
                    moved = n > 0;
                }
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(e)) => {
                    ended = Some(e);
                    t.error("send", e);
                }
            }
        }
        if ended.is_none() {
            match TcpClientStack::receive(d, &mut s, &mut buf) {
                Ok(n) => {
                    if !take_echo(
                        t,
                        progress,
                        o,
                        &format!("{mode:?}"),
                        &data,
                        &mut got,
                        sent,
                        &buf[..n],
                    ) {
                        // The rest of this connection cannot be compared any more.
                        close(d, s, t);
                        return;
                    }
                    moved |= n > 0;
                }
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(e)) => {
                    ended = Some(e);
                    t.error("receive", e);
                }
            }
        }
        if ended.is_some() {
            // What came back before the error was a correct prefix (checked as it came).
            progress.errors.fetch_add(1, Ordering::Relaxed);
            progressed(&mut last, t);
            close(d, s, t);
            return;
        }
        if let Some(period) = o.poll {
            // A superloop: the next call comes a period later, whatever this one did.
            thread::sleep(period);
        }
        if moved {
            progressed(&mut last, t);
        } else {
            if last.elapsed() > o.stall {
                stall(
                    d,
                    s,
                    t,
                    progress,
                    (mode, "transferring", last.elapsed()),
                    sent,
                    got,
                );
                return;
            }
            if o.poll.is_none() {
                thread::sleep(Duration::from_micros(50));
            }
        }
    }
    progressed(&mut last, t);
    if close(d, s, t) {
        t.clean += 1;
    }
}

/// Progress (or an end): note how long it took since the last.
fn progressed(last: &mut Instant, t: &mut Tally) {
    t.longest_gap_ms = t.longest_gap_ms.max(last.elapsed().as_millis() as u64);
    *last = Instant::now();
}

fn close(d: &mut Driver, s: quectel_bc20::blocking::TcpSocket, t: &mut Tally) -> bool {
    match TcpClientStack::close(d, s) {
        Ok(()) => true,
        Err(e) => {
            t.error("close", e);
            false
        }
    }
}

/// No progress for `--stall-secs` without an error: count it, say where, give up on the
/// connection.
fn stall(
    d: &mut Driver,
    s: quectel_bc20::blocking::TcpSocket,
    t: &mut Tally,
    progress: &Progress,
    (mode, what, idle): (AccessMode, &str, Duration),
    sent: usize,
    got: usize,
) {
    let phase: SocketPhase = d.engine().phase(s.id());
    t.stalls += 1;
    progress.stalls.fetch_add(1, Ordering::Relaxed);
    t.incidents.push(format!(
        "{mode:?}: STALL while {what}: nothing for {idle:?} ({sent} bytes sent, {got} \
         received; socket {phase:?}, engine ready {}, unresponsive {})",
        d.engine().is_ready(),
        d.engine().is_unresponsive()
    ));
    close(d, s, t);
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn main() -> ExitCode {
    // RUST_LOG=warn (or debug, trace) shows the engine's view.
    env_logger::init();
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let per_worker = o.bytes.div_ceil(o.modes.len() as u64);
    eprintln!(
        "soak: {} MiB through {} {} worker(s) ({:?}), seed {}, faults {}{}",
        mib(o.bytes),
        if o.async_stack { "async" } else { "blocking" },
        o.modes.len(),
        o.modes,
        o.seed,
        if o.faults { "on" } else { "off" },
        if o.line_noise.is_on() {
            format!(", line noise {:?}", o.line_noise)
        } else {
            String::new()
        }
    );
    if let Some(period) = o.poll {
        eprintln!("soak: the blocking worker calls the driver every {period:?}");
    }
    let workers: Vec<_> = o
        .modes
        .iter()
        .enumerate()
        .map(|(i, &mode)| {
            let o = o.clone();
            let progress = progress.clone();
            let stop = stop.clone();
            let seed = o.seed.wrapping_mul(1000).wrapping_add(i as u64);
            thread::spawn(move || {
                if o.async_stack {
                    asynch::worker(mode, &o, per_worker, seed, &progress, &stop)
                } else {
                    worker(mode, &o, per_worker, seed, &progress, &stop)
                }
            })
        })
        .collect();
    let mut next_report = Instant::now() + o.report;
    while workers.iter().any(|w| !w.is_finished()) {
        thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_report {
            next_report += o.report;
            let v = progress.verified.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "soak: {:>8.1} s  {:>9.1} MiB verified  {:>6.2} MiB/s  {} errors  {} stalls  {} silent",
                secs,
                mib(v),
                mib(v) / secs,
                progress.errors.load(Ordering::Relaxed),
                progress.stalls.load(Ordering::Relaxed),
                progress.silent.load(Ordering::Relaxed),
            );
        }
    }
    let mut total = Tally::default();
    let mut per_mode = Vec::new();
    for (w, mode) in workers.into_iter().zip(&o.modes) {
        let t = w.join().expect("worker panicked");
        per_mode.push((*mode, t.verified, t.connections));
        total.add(&t);
    }
    let wall = start.elapsed();
    let secs = wall.as_secs_f64();
    println!(
        "soak report ({}{}{})",
        if o.faults { "faults on" } else { "faults off" },
        if o.silent_boot {
            ", silent reboots"
        } else {
            ""
        },
        match o.sleep_after {
            Some(d) => format!(
                ", module sleeps after {} ms idle{}",
                d.as_millis(),
                if o.sleep_silent { ", silent" } else { "" }
            ),
            None => String::new(),
        }
    );
    println!(
        "  bytes verified (echoed, compared)  {} ({:.1} MiB)",
        total.verified,
        mib(total.verified)
    );
    println!(
        "  bytes sent (SEND OK)               {} ({:.1} MiB)",
        total.sent,
        mib(total.sent)
    );
    for (mode, v, c) in &per_mode {
        println!("    {mode:?}: {:.1} MiB in {c} connections", mib(*v));
    }
    println!(
        "  connections                        {} ({} clean, {} ended by an error)",
        total.connections,
        total.clean,
        total.connections - total.clean
    );
    println!(
        "  throughput                         {:.2} MiB/s verified ({:.2} MiB/s both ways)",
        mib(total.verified) / secs,
        mib(total.verified + total.sent) / secs
    );
    println!("  wall time                          {:.1} s", secs);
    println!(
        "  longest wait without progress      {} ms",
        total.longest_gap_ms
    );
    println!(
        "  engine: reboots seen {}, timeouts {}",
        total.reboots, total.timeouts
    );
    println!(
        "  faults injected                    {}",
        total.faults.values().sum::<u64>()
    );
    for (k, v) in &total.faults {
        println!("    {k:<32} {v}");
    }
    println!(
        "  errors reported                    {}",
        total.errors.values().sum::<u64>()
    );
    for (k, v) in &total.errors {
        println!("    {k:<48} {v}");
    }
    println!("  stalls                             {}", total.stalls);
    println!("  silent losses                      {}", total.silent);
    if o.line_noise.is_on() {
        println!("  corrupted reads (line noise)       {}", total.corrupted);
    }
    for i in &total.incidents {
        println!("  ! {i}");
    }
    if total.stalls > 0 || total.silent > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
