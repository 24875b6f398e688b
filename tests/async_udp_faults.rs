//! UDP on the async stack against a module with every fault that applies to UDP: each
//! datagram that arrives is one that was sent, whole and unchanged, never split, merged,
//! altered or delivered twice; no datagram goes out twice; none is lost while its socket
//! stays open (the loopback loses none); and every send and receive ends, with the datagram
//! or a typed error, within a bounded time.
#![cfg(feature = "sim")]

mod async_support;
mod udp_support;

use std::collections::BTreeSet;
use std::time::Duration;

use async_support::{engine_config, loopback, within};
use embedded_nal_async::{ConnectedUdp, UdpStack};
use quectel_bc20::sim::{self, FaultKind, Faults, Rate};
use quectel_bc20::{AccessMode, Error};
use udp_support::{assert_none_sent_twice, check, datagram, echo_server};

/// Datagrams per case.
const DATAGRAMS: u32 = 40;
/// Longest a connect or a send may take: the driver's own limits (an open 60 s, a send 30 s)
/// with room. They take milliseconds here; only a hang reaches this.
const BOUND: Duration = Duration::from_secs(90);
/// Datagrams sent on one socket before it is closed and another opened.
const REOPEN_EVERY: u32 = 10;
/// How long an echo is waited for before it counts as lost (the loopback loses none, and the
/// faults delay an answer by 30 ms at most: an echo this late was lost by the driver).
const ECHO_WAIT: Duration = Duration::from_secs(5);

fn faulty(seed: u64) -> sim::Config {
    sim::Config {
        faults: Faults {
            seed,
            delay: Rate::PerMille(50),
            delay_range: (Duration::from_millis(1), Duration::from_millis(30)),
            chunking: Rate::PerMille(200),
            chunk_max: 7,
            chunk_gap: Duration::from_micros(300),
            noise: Rate::PerMille(50),
            noise_lines: vec!["+CEREG: 1".into(), "+QNBIOTEVENT: \"EXIT PSM\"".into()],
            open_fail: Rate::PerMille(250),
            send_fail: Rate::PerMille(30),
            error_on: Rate::PerMille(15),
            error_on_command: String::new(),
            // Buffer access only (a pushed datagram is never held back), so more often.
            buff_full: Rate::PerMille(100),
            reboot: Rate::PerMille(8),
            ..Faults::default()
        },
        ..sim::Config::default()
    }
}

/// What a case saw.
#[derive(Debug, Default)]
struct Seen {
    sent: u32,
    echoed: u32,
    /// Datagrams whose echo did not come while their socket stayed open.
    lost: Vec<u32>,
    errors: Vec<Error>,
    faults: BTreeSet<&'static str>,
}

async fn case(mode: AccessMode, seed: u64) -> Seen {
    let name = format!("async UDP {mode:?}, seed {seed}");
    let (port, server) = echo_server();
    let h = async_support::start::<1536>(faulty(seed), engine_config(mode)).await;
    let mut seen = Seen::default();
    let mut echoed = BTreeSet::new();
    let mut conn = None;
    let mut buf = [0u8; 1024];
    for seq in 0..DATAGRAMS {
        if seq.is_multiple_of(REOPEN_EVERY) {
            // A fresh socket now and then: opens meet their faults too.
            conn = None;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match within(BOUND, "UDP connect", h.stack.connect(loopback(port))).await {
                Ok((_, c)) => conn.insert(c),
                Err(e) => {
                    seen.errors.push(e);
                    continue;
                }
            },
        };
        let d = datagram(seed, seq);
        let mut failed = within(BOUND, "UDP send", c.send(&d)).await.err();
        if failed.is_none() {
            seen.sent += 1;
            // Take echoes until this one is in, or it counts as lost.
            while !echoed.contains(&seq) {
                match tokio::time::timeout(ECHO_WAIT, c.receive_into(&mut buf)).await {
                    Err(_) => {
                        seen.lost.push(seq);
                        break;
                    }
                    Ok(Ok(n)) => {
                        let got = check(&name, seed, &buf[..n]);
                        assert!(got <= seq, "{name}: datagram {got} before it was sent");
                        assert!(echoed.insert(got), "{name}: datagram {got} delivered twice");
                        seen.echoed += 1;
                    }
                    Ok(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        if let Some(e) = failed {
            // A socket that failed is dropped (its close is the stack's) and a new one made.
            seen.errors.push(e);
            conn = None;
        }
    }
    drop(conn);
    // Let stragglers reach the server before counting.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_none_sent_twice(&name, &server);
    for ev in h.emu.fault_log().events() {
        seen.faults.insert(match ev.kind {
            FaultKind::OpenFail { .. } => "open fail",
            FaultKind::SendFail(_) => "SEND FAIL",
            FaultKind::Error(_) => "ERROR",
            FaultKind::BuffFull(_) => "buff full",
            FaultKind::Reboot => "reboot",
            _ => "framing",
        });
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_under_every_fault_never_corrupts_or_repeats_a_datagram() {
    let (mut sent, mut echoed) = (0, 0);
    let mut faults = BTreeSet::new();
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        for seed in [3u64, 4, 5] {
            let seen = within(
                Duration::from_secs(600),
                "a case",
                case(mode, seed * 11 + u64::from(mode == AccessMode::DirectPush)),
            )
            .await;
            eprintln!(
                "{mode:?} seed {seed}: {} sent, {} echoed, errors {:?}",
                seen.sent, seen.echoed, seen.errors
            );
            assert!(
                seen.lost.is_empty(),
                "{mode:?} seed {seed}: datagrams lost with no error: {:?}",
                seen.lost
            );
            sent += seen.sent;
            echoed += seen.echoed;
            faults.extend(seen.faults);
        }
    }
    eprintln!("total: {sent} sent, {echoed} echoed; faults met {faults:?}");
    let met: Vec<_> = faults.into_iter().collect();
    assert_eq!(
        met,
        [
            "ERROR",
            "SEND FAIL",
            "buff full",
            "framing",
            "open fail",
            "reboot"
        ],
        "faults met"
    );
}
