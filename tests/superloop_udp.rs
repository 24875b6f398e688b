//! UDP from a slow superloop against a module with every fault on, awake or asleep: each
//! datagram that arrives is one that was sent, whole and unchanged, never split, merged,
//! altered or delivered twice; no datagram goes out twice (a send the driver was unsure of is
//! not repeated); none is lost while its socket stays open (the loopback loses none, so every
//! datagram sent comes back unless an error ends its socket first); and no socket goes
//! without progress or a typed error for longer than the bound. Both access modes, polls from
//! a millisecond to a minute, in virtual time (see `superloop_support`).

mod superloop_support;
mod udp_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use embedded_nal::UdpClientStack;
use quectel_bc20::blocking::UdpSocket;
use quectel_bc20::sim::{Faults, Rate};
use quectel_bc20::{AccessMode, Error, engine, sim};
use superloop_support::{Rig, Wire, assert_faults_met, every_fault, fault_name, stall_bound};
use udp_support::{assert_none_sent_twice, check, datagram, echo_server};

/// Datagrams per case.
const DATAGRAMS: u32 = 60;
/// Datagrams sent and not yet echoed at most (more are sent only as echoes come or are given
/// up on).
const IN_FLIGHT: u32 = 3;
/// Datagrams sent on one socket before it is closed and another opened.
const REOPEN_EVERY: u32 = 10;
/// How long an echo is waited for before it counts as lost, at the least (see `echo_wait`).
const ECHO_WAIT_MS: u64 = 20_000;

/// How long an echo is waited for at a poll period: a few polls at the least (an echo is
/// read at the poll after it came, and a read of buffered data takes a poll of its own).
fn echo_wait(period: u64) -> u64 {
    ECHO_WAIT_MS.max(4 * period)
}

/// Every fault that applies to UDP (a peer cannot close it), at higher rates of the faults of
/// sending and receiving.
fn faults(seed: u64) -> Faults {
    Faults {
        chunking: Rate::PerMille(80),
        noise: Rate::PerMille(20),
        send_fail: Rate::PerMille(20),
        error_on: Rate::PerMille(10),
        peer_close: Rate::Never,
        buff_full: Rate::PerMille(30),
        reboot: Rate::PerMille(4),
        ..every_fault(seed)
    }
}

/// One receive: the number of the datagram that came back (checked whole and new), none yet,
/// or the error that ended the socket.
fn take_echo(
    r: &mut Rig,
    s: &mut UdpSocket,
    remote: SocketAddr,
    name: &str,
    case: u64,
    echoed: &mut BTreeSet<u32>,
) -> Result<Option<u32>, Error> {
    let mut buf = [0u8; 1024];
    match UdpClientStack::receive(&mut r.d, s, &mut buf) {
        Ok((n, from)) => {
            assert_eq!(from, remote, "{name}: sender");
            let seq = check(name, case, &buf[..n]);
            assert!(echoed.insert(seq), "{name}: datagram {seq} delivered twice");
            Ok(Some(seq))
        }
        Err(nb::Error::WouldBlock) | Err(nb::Error::Other(Error::Transport(_))) => Ok(None),
        Err(nb::Error::Other(e)) => Err(e),
    }
}

/// What a case saw.
#[derive(Debug, Default)]
struct Seen {
    sent: u32,
    echoed: u32,
    /// Sent, and not echoed while the socket stayed open.
    lost: u32,
    /// Sent, and still to be echoed when an error ended the socket.
    abandoned: u32,
    errors: Vec<Error>,
    longest_gap: u64,
    faults: BTreeSet<&'static str>,
}

fn run(mode: AccessMode, period: u64, case: u64, sleep_after: Option<u64>) -> Seen {
    let name = format!("UDP {mode:?}, poll every {period} ms, case {case}, sleep {sleep_after:?}");
    let (port, server) = echo_server();
    let remote = SocketAddr::from(([127, 0, 0, 1], port));
    let sim_config = sim::Config {
        faults: faults(case),
        sleep_after: sleep_after.map(Duration::from_millis),
        ..sim::Config::default()
    };
    let config = engine::Config {
        access_mode: mode,
        ..engine::Config::default()
    };
    let mut r = Rig::up_despite_faults(&name, Wire::Continuous, 16 * 1024, sim_config, config);
    let mut seen = Seen::default();
    let mut last = r.now();
    let mut socket = None;
    // Datagram numbers sent and not echoed yet, with when they went out.
    let mut waiting: BTreeMap<u32, u64> = BTreeMap::new();
    let mut echoed: BTreeSet<u32> = BTreeSet::new();
    // Datagrams sent whose echo did not come in time, on a socket that stayed open.
    let mut given_up: BTreeSet<u32> = BTreeSet::new();
    let mut next = 0u32;
    let mut reopened = 0u32;
    // A send of datagram `next` answered `WouldBlock`: its result is still to come.
    let mut sending = false;
    while next < DATAGRAMS || !waiting.is_empty() {
        let idle = r.now() - last;
        assert!(
            idle <= stall_bound(period),
            "{name}: STALL: nothing for {idle} ms ({} sent, {} echoed); traffic {:?}",
            seen.sent,
            seen.echoed,
            r.d.engine().traffic()
        );
        r.work(period);
        let now = r.now();
        waiting.retain(|&seq, at| {
            let late = now - *at >= echo_wait(period);
            if late {
                given_up.insert(seq);
            }
            !late
        });
        let mut ended: Option<Error> = None;
        // Only between sends: a socket closed while a send waits for its result may have sent
        // it, and the datagram sent again on the next socket would go out twice.
        if next.is_multiple_of(REOPEN_EVERY)
            && next > 0
            && !sending
            && waiting.is_empty()
            && given_up.is_empty()
            && reopened < next
        {
            // A fresh socket now and then: opens meet their faults too.
            reopened = next;
            if let Some(s) = socket.take() {
                let _ = UdpClientStack::close(&mut r.d, s);
            }
        }
        if socket.is_none() {
            match UdpClientStack::socket(&mut r.d) {
                Ok(mut s) => match UdpClientStack::connect(&mut r.d, &mut s, remote) {
                    Ok(()) => socket = Some(s),
                    Err(e) => {
                        let _ = UdpClientStack::close(&mut r.d, s);
                        ended = Some(e);
                    }
                },
                Err(e) => panic!("{name}: no socket: {e}"),
            }
        }
        if let Some(s) = socket.as_mut() {
            if next < DATAGRAMS && (waiting.len() as u32) < IN_FLIGHT {
                let d = datagram(case, next);
                let result = UdpClientStack::send(&mut r.d, s, &d);
                sending = matches!(result, Err(nb::Error::WouldBlock));
                match result {
                    Ok(()) => {
                        // The echo may come in before the send is confirmed.
                        if !echoed.contains(&next) {
                            waiting.insert(next, now);
                        }
                        next += 1;
                        seen.sent += 1;
                        last = now;
                    }
                    Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(Error::Transport(_))) => {}
                    Err(nb::Error::Other(e)) => {
                        // Not known to have gone out: the next one goes instead.
                        next += 1;
                        ended = Some(e);
                    }
                }
            }
            if ended.is_none() {
                match take_echo(&mut r, s, remote, &name, case, &mut echoed) {
                    Ok(Some(seq)) => {
                        waiting.remove(&seq);
                        given_up.remove(&seq);
                        seen.echoed += 1;
                        last = now;
                    }
                    Ok(None) => {}
                    Err(e) => ended = Some(e),
                }
            }
        }
        if let Some(e) = ended {
            seen.errors.push(e);
            last = r.now();
            // Echoes on their way go with the socket.
            seen.abandoned += (waiting.len() + given_up.len()) as u32;
            waiting.clear();
            given_up.clear();
            if sending {
                // Its result will not come now, and it may have gone out: never again.
                next += 1;
                sending = false;
            }
            if let Some(s) = socket.take() {
                let _ = UdpClientStack::close(&mut r.d, s);
            }
        }
        seen.longest_gap = seen.longest_gap.max(r.now() - last);
    }
    // An echo given up on may still be on its way: the loopback's peers are threads, and on a
    // loaded machine they take longer than a few polls of virtual time. Give them a few
    // seconds of real time before counting what is missing as lost.
    let drain_until = Instant::now() + Duration::from_secs(5);
    while !given_up.is_empty() && Instant::now() < drain_until {
        let Some(s) = socket.as_mut() else { break };
        r.work(period.min(1_000));
        match take_echo(&mut r, s, remote, &name, case, &mut echoed) {
            Ok(Some(seq)) => {
                given_up.remove(&seq);
                seen.echoed += 1;
            }
            Ok(None) => {}
            Err(e) => {
                seen.errors.push(e);
                seen.abandoned += given_up.len() as u32;
                given_up.clear();
            }
        }
    }
    if let Some(s) = socket.take() {
        let _ = UdpClientStack::close(&mut r.d, s);
    }
    // Let stragglers reach the server before counting.
    thread::sleep(Duration::from_millis(20));
    assert_none_sent_twice(&name, &server);
    for ev in r.world.borrow().sim.fault_log().events() {
        seen.faults.insert(fault_name(&ev.kind));
    }
    seen.lost = given_up.len() as u32;
    seen
}

/// Every case over the given poll periods; each datagram sent comes back unless an error
/// ended its socket first (the loopback loses none).
fn all_cases(periods: &[u64], sleep_after: Option<u64>) {
    let (mut sent, mut echoed, mut abandoned) = (0, 0, 0);
    let mut faults = BTreeSet::new();
    for &period in periods {
        for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
            for case in 1..=3u64 {
                let seen = run(mode, period, case * 13 + period, sleep_after);
                eprintln!(
                    "{mode:?} {period} ms case {case}: {} sent, {} echoed, {} abandoned with \
                     their socket, errors {:?}, longest gap {} ms",
                    seen.sent, seen.echoed, seen.abandoned, seen.errors, seen.longest_gap
                );
                assert_eq!(
                    seen.lost, 0,
                    "{mode:?} {period} ms case {case}: datagrams lost with no error: {seen:?}"
                );
                sent += seen.sent;
                echoed += seen.echoed;
                abandoned += seen.abandoned;
                faults.extend(seen.faults);
            }
        }
    }
    eprintln!("total: {sent} sent, {echoed} echoed, {abandoned} abandoned; faults met {faults:?}");
    assert_faults_met(
        &faults,
        &[
            "ERROR",
            "SEND FAIL",
            "buff full",
            "chunked",
            "delay",
            "noise line",
            "open damaged",
            "open fail",
            "reboot",
        ],
    );
}

#[test]
fn udp_from_a_slow_superloop_against_every_fault_never_corrupts_or_repeats_a_datagram() {
    all_cases(&[1, 300, 5_000, 60_000], None);
}

/// The same against a module that sleeps after a second of silence (awake long enough for
/// these periods: README, "Sleep").
#[test]
fn udp_from_a_slow_superloop_against_a_sleeping_module_with_every_fault() {
    all_cases(&[1, 100, 300], Some(1_000));
}
