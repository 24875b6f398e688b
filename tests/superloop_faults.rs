//! A slow superloop against a module with every fault on: the blocking stack called once a
//! poll period (a millisecond to a minute), over both models of the wire, in both access
//! modes, while the emulated module delays and chunks its answers, prints unrelated URCs,
//! refuses opens and commands, fails sends, closes connections, fills its buffer and reboots.
//! Each connection must echo its data whole and unchanged, or end with a typed error after a
//! correct prefix; none may go without progress or an error for longer than the bound below.
//! Time is virtual (see `superloop_support`), so a period of a minute costs nothing.

mod superloop_support;

use std::collections::BTreeSet;
use std::time::Duration;

use embedded_nal::TcpClientStack;
use quectel_bc20::sim::Faults;
use quectel_bc20::{AccessMode, Error, engine, sim};
use superloop_support::{
    Rig, Wire, assert_faults_met, echo_server, every_fault as faults, fault_name, payload,
    stall_bound,
};

/// Connections per case.
const CONNECTIONS: u64 = 4;

/// What a case saw.
#[derive(Debug, Default)]
struct Seen {
    /// Connections that echoed everything.
    whole: u64,
    /// Connections that ended with a typed error, after a correct prefix.
    errors: Vec<Error>,
    /// Bytes echoed and verified.
    verified: usize,
    /// Longest virtual time without progress or an error.
    longest_gap: u64,
    /// UART errors the calls returned; the superloop goes on after them (the driver does).
    uart_errors: usize,
    /// The kinds of fault the module injected.
    faults: BTreeSet<&'static str>,
}

/// Where a case is, for the messages.
struct Case {
    name: String,
    period: u64,
    last: u64,
}

impl Case {
    /// Progress (or an end) now.
    fn progressed(&mut self, r: &Rig, seen: &mut Seen) {
        seen.longest_gap = seen.longest_gap.max(r.now() - self.last);
        self.last = r.now();
    }

    /// No progress for longer than the bound is a stall.
    fn check(&self, r: &Rig, what: &str) {
        let idle = r.now() - self.last;
        assert!(
            idle <= stall_bound(self.period),
            "{}: STALL while {what}: nothing for {} ms; traffic {:?}",
            self.name,
            idle,
            r.d.engine().traffic()
        );
    }
}

/// One connection of `len` bytes to the echo server on `port`, the driver called once a
/// period: the echo comes back whole, or the connection ends with an error after a correct
/// prefix.
fn connection(r: &mut Rig, c: &mut Case, seen: &mut Seen, port: u16, data: &[u8]) {
    let remote = core::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = match TcpClientStack::socket(&mut r.d) {
        Ok(s) => s,
        Err(e) => panic!("{}: socket: {e}", c.name),
    };
    let ended = loop {
        c.check(r, "connecting");
        r.work(c.period);
        match TcpClientStack::connect(&mut r.d, &mut s, remote) {
            Ok(()) => break None,
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(Error::Transport(_))) => seen.uart_errors += 1,
            Err(nb::Error::Other(e)) => break Some(e),
        }
    };
    c.progressed(r, seen);
    let (mut sent, mut got) = (0, 0);
    let mut buf = [0u8; 1024];
    let mut ended = ended;
    while ended.is_none() && got < data.len() {
        c.check(r, "transferring");
        r.work(c.period);
        let mut moved = false;
        if sent < data.len() {
            match TcpClientStack::send(&mut r.d, &mut s, &data[sent..]) {
                Ok(n) => {
                    sent += n;
                    moved |= n > 0;
                }
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(Error::Transport(_))) => seen.uart_errors += 1,
                Err(nb::Error::Other(e)) => ended = Some(e),
            }
        }
        if ended.is_none() {
            match TcpClientStack::receive(&mut r.d, &mut s, &mut buf) {
                Ok(n) => {
                    assert!(
                        data.get(got..got + n) == Some(&buf[..n]),
                        "{}: SILENT LOSS: the echo differs at {got}..{} ({sent} sent)",
                        c.name,
                        got + n
                    );
                    got += n;
                    seen.verified += n;
                    moved |= n > 0;
                }
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(Error::Transport(_))) => seen.uart_errors += 1,
                Err(nb::Error::Other(e)) => ended = Some(e),
            }
        }
        if moved || ended.is_some() {
            c.progressed(r, seen);
        }
    }
    match ended {
        None => seen.whole += 1,
        Some(e) => seen.errors.push(e),
    }
    // Closing is blocking; it ends (Ok or an error) within the driver's own limits.
    let _ = TcpClientStack::close(&mut r.d, s);
    c.progressed(r, seen);
}

/// What a case runs against besides the superloop.
#[derive(Debug, Clone, Copy)]
struct Module {
    /// Every fault on (else a clean module).
    faults: bool,
    /// The module sleeps after that many ms of silence from the host.
    sleep_after: Option<u64>,
    /// A module asleep takes the first command only to wake (no answer at all).
    sleep_silent: bool,
    /// The MCU's receive buffer, bytes.
    rx_cap: usize,
}

const FAULTY: Module = Module {
    faults: true,
    sleep_after: None,
    sleep_silent: false,
    rx_cap: 16 * 1024,
};

/// One case: `CONNECTIONS` connections one after the other.
fn run(wire: Wire, mode: AccessMode, period: u64, seed: u64, m: Module) -> (Seen, Rig) {
    run_with_pauses(wire, mode, period, seed, m, 0)
}

/// [`run`], the superloop busy elsewhere for `pause_ms` before each connection (the driver
/// not called: a module that sleeps falls asleep meanwhile).
fn run_with_pauses(
    wire: Wire,
    mode: AccessMode,
    period: u64,
    seed: u64,
    m: Module,
    pause_ms: u64,
) -> (Seen, Rig) {
    let name = format!("{wire:?} {mode:?}, poll every {period} ms, seed {seed}, {m:?}");
    let port = echo_server();
    let sim_config = sim::Config {
        faults: if m.faults {
            faults(seed)
        } else {
            Faults::default()
        },
        sleep_after: m.sleep_after.map(Duration::from_millis),
        sleep_silent: m.sleep_silent,
        ..sim::Config::default()
    };
    let config = engine::Config {
        access_mode: mode,
        ..engine::Config::default()
    };
    let mut r = Rig::up_despite_faults(&name, wire, m.rx_cap, sim_config, config);
    let mut c = Case {
        name,
        period,
        last: r.now(),
    };
    let mut seen = Seen::default();
    for n in 0..CONNECTIONS {
        r.work(pause_ms);
        c.last = r.now();
        let len = 512 + (payload(2, seed * 31 + n)[0] as usize) * 24;
        let data = payload(len, seed * 1000 + n);
        connection(&mut r, &mut c, &mut seen, port, &data);
    }
    for ev in r.world.borrow().sim.fault_log().events() {
        seen.faults.insert(fault_name(&ev.kind));
    }
    (seen, r)
}

#[test]
fn a_slow_superloop_against_every_fault_moves_data_or_says_why() {
    let mut total = Seen::default();
    for period in [1u64, 50, 300, 1_000, 5_000, 60_000] {
        for wire in [Wire::Continuous, Wire::Lazy] {
            for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
                for seed in 1..=3u64 {
                    let (seen, _) = run(wire, mode, period, seed * 7 + period, FAULTY);
                    eprintln!(
                        "{wire:?} {mode:?} {period} ms seed {seed}: {} whole, {:?}, {} bytes, \
                         longest gap {} ms",
                        seen.whole, seen.errors, seen.verified, seen.longest_gap
                    );
                    total.whole += seen.whole;
                    total.verified += seen.verified;
                    total.errors.extend(seen.errors);
                    total.longest_gap = total.longest_gap.max(seen.longest_gap);
                    total.faults.extend(seen.faults);
                }
            }
        }
    }
    eprintln!(
        "total: {} whole, {} errors, {} bytes, longest gap {} ms",
        total.whole,
        total.errors.len(),
        total.verified,
        total.longest_gap
    );
    // Every fault was met, and the faults did not drown the data: most connections got
    // through, and those that did not ended in an error (checked above).
    assert_faults_met(
        &total.faults,
        &[
            "ERROR",
            "SEND FAIL",
            "buff full",
            "chunked",
            "close damaged",
            "delay",
            "noise line",
            "open damaged",
            "open fail",
            "peer close",
            "reboot",
        ],
    );
    assert!(total.whole > total.errors.len() as u64, "{total:?}");
}

/// The same against a module that sleeps, inside the envelope a superloop needs (README,
/// "Sleep": the module stays awake for about two periods).
#[test]
fn a_slow_superloop_against_a_sleeping_module_with_every_fault_moves_data_or_says_why() {
    let mut whole = 0;
    let mut errors = 0;
    for (sleep_ms, period) in [
        (100u64, 1u64),
        (300, 100),
        (1_000, 300),
        (5_000, 2_000),
        (150_000, 60_000),
    ] {
        for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
            for seed in 1..=2u64 {
                let module = Module {
                    sleep_after: Some(sleep_ms),
                    ..FAULTY
                };
                let (seen, _) = run(Wire::Continuous, mode, period, seed, module);
                eprintln!(
                    "sleep {sleep_ms} ms, {mode:?} {period} ms seed {seed}: {} whole, {:?}, \
                     {} bytes, longest gap {} ms",
                    seen.whole, seen.errors, seen.verified, seen.longest_gap
                );
                whole += seen.whole;
                errors += seen.errors.len() as u64;
            }
        }
    }
    assert!(whole > errors, "{whole} whole, {errors} errors");
}

/// A module that takes the first command after sleep only to wake, with no answer at all (not
/// the bare line end of spec 6.3), and no other fault: the first command it sleeps through
/// times out, and from then on the driver wakes it before commands after as much idle, so
/// every connection but at most that one comes through whole. (Such a module never got
/// through start-up: each `AT` came a command timeout after the last, when it slept again.)
/// Inside the envelope of the README's "Sleep" (the module stays awake past a probe's wait,
/// `wake_answer_ms`, and two periods of the superloop).
#[test]
fn a_superloop_against_a_module_that_answers_nothing_while_asleep_moves_data() {
    for (sleep_ms, period) in [(500u64, 1u64), (1_000, 100), (2_000, 300), (8_000, 2_000)] {
        for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
            let module = Module {
                faults: false,
                sleep_after: Some(sleep_ms),
                sleep_silent: true,
                rx_cap: 16 * 1024,
            };
            let (seen, r) = run_with_pauses(Wire::Lazy, mode, period, 1, module, 2 * sleep_ms);
            eprintln!(
                "silent sleep {sleep_ms} ms, {mode:?} {period} ms: {} whole, {:?}, {} bytes, \
                 longest gap {} ms, {} timeouts",
                seen.whole,
                seen.errors,
                seen.verified,
                seen.longest_gap,
                r.d.engine().traffic().timeouts
            );
            assert!(
                seen.whole + 1 >= CONNECTIONS && seen.errors.len() <= 1,
                "silent sleep {sleep_ms} ms, {mode:?}, period {period} ms: {seen:?}"
            );
        }
    }
}

/// An MCU receive buffer smaller than one answer, under a slow superloop with every fault on:
/// bytes are lost, and the UART says so at the place they were lost (see
/// `superloop_support`). Nothing is joined across such a place, so no connection gets data
/// spliced from two frames (bytes lost in whole frames leave the lengths agreeing, and the
/// data could not tell: seed 307 below did, before); each ends whole or with an error.
#[test]
fn bytes_lost_to_a_full_receive_buffer_are_reported_never_spliced() {
    let mut overruns = 0;
    let mut uart_errors = 0;
    for period in [50u64, 300, 1_000] {
        for wire in [Wire::Continuous, Wire::Lazy] {
            for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
                for seed in 1..=3u64 {
                    let module = Module {
                        rx_cap: 300,
                        ..FAULTY
                    };
                    let (seen, r) = run(wire, mode, period, seed * 7 + period, module);
                    overruns += r.overruns();
                    uart_errors += seen.uart_errors;
                }
            }
        }
    }
    assert!(overruns > 0, "no byte lost: the case tests nothing");
    assert!(uart_errors > 0, "{overruns} bytes lost and never reported");
}

/// A peer that, once it reads a byte, sends `n` numbered messages of 7 bytes, 300 µs apart.
fn talker(n: u32) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.read(&mut [0u8; 1]);
        for i in 0..n {
            if s.write_all(format!("<{i:05}>").as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    port
}

/// Small pushes into an MCU receive buffer that a slow superloop lets overflow: the bytes
/// lost often end at a frame boundary, so whole pushes go and nothing after them tells. No
/// byte is skipped: the stream arrives whole, or its prefix and then an error.
#[test]
fn pushes_lost_whole_to_a_full_receive_buffer_are_reported_never_skipped() {
    const MESSAGES: u32 = 400;
    let want: Vec<u8> = (0..MESSAGES)
        .flat_map(|i| format!("<{i:05}>").into_bytes())
        .collect();
    let (mut overrun_cases, mut failed_cases) = (0, 0);
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        for rx_cap in [40usize, 64, 100] {
            for period in [5u64, 20, 50] {
                let name = format!("{mode:?}, {rx_cap}-byte buffer, poll every {period} ms");
                let port = talker(MESSAGES);
                let config = engine::Config {
                    access_mode: mode,
                    ..engine::Config::default()
                };
                let mut r = Rig::new(Wire::Continuous, rx_cap, sim::Config::default(), config);
                let remote = core::net::SocketAddr::from(([127, 0, 0, 1], port));
                let mut s = TcpClientStack::socket(&mut r.d).unwrap();
                r.nb(60_000, |d| TcpClientStack::connect(d, &mut s, remote))
                    .expect("connect in time")
                    .expect("connect");
                r.nb(60_000, |d| TcpClientStack::send(d, &mut s, b"go"))
                    .expect("send in time")
                    .expect("send");
                let mut got = Vec::new();
                let mut buf = [0u8; 512];
                let mut ended = None;
                let mut idle = 0;
                while got.len() < want.len() {
                    assert!(idle <= 150_000, "{name}: STALL after {} bytes", got.len());
                    r.work(period);
                    match TcpClientStack::receive(&mut r.d, &mut s, &mut buf) {
                        Ok(n) => {
                            got.extend_from_slice(&buf[..n]);
                            idle = 0;
                        }
                        Err(nb::Error::WouldBlock) => idle += period,
                        Err(nb::Error::Other(Error::Transport(_))) => {}
                        Err(nb::Error::Other(e)) => {
                            ended = Some(e);
                            break;
                        }
                    }
                    let k = got.len().min(want.len());
                    assert!(
                        got[..k] == want[..k],
                        "{name}: SILENT LOSS: the stream differs from byte {} on",
                        got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(k)
                    );
                }
                eprintln!(
                    "{name}: {} of {} bytes, {} bytes lost to overruns, ended {ended:?}",
                    got.len(),
                    want.len(),
                    r.overruns()
                );
                overrun_cases += usize::from(r.overruns() > 0);
                failed_cases += usize::from(ended.is_some());
                let _ = TcpClientStack::close(&mut r.d, s);
            }
        }
    }
    assert!(overrun_cases > 0, "no byte lost: the case tests nothing");
    assert!(failed_cases > 0, "bytes lost and never reported");
}
