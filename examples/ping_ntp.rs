//! The module's own network tools: `AT+QPING` and `AT+QNTP` through the async stack.
//!
//! `cargo run --example ping_ntp` pings 127.0.0.1 through the emulated module and synchronises
//! its clock from a small SNTP responder it starts on a loopback UDP port, printing each echo's
//! round trip and the time the module took, which it checks against the host clock (exit 1
//! when they differ by more than `--max-offset`, 5 s by default). `--port /dev/ttyUSB0` does
//! the same through a real module (default targets 8.8.8.8 and pool.ntp.org); `--help` lists
//! the options.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexopt::{Arg, Parser, ValueExt as _};
use quectel_bc20::engine::Config;
use quectel_bc20::sim;

use common::Common;

const HELP_HEAD: &str = "\
ping_ntp: ping and NTP time synchronisation by a Quectel BC20 (AT+QPING, AT+QNTP)

USAGE:
    ping_ntp [--ping HOST] [--count N] [--size BYTES] [--ntp SERVER[:PORT]]
             [--max-offset S] [MODULE OPTIONS]

    Pings HOST N times (default 4; 127.0.0.1 emulated, 8.8.8.8 on a real module) with
    BYTES-byte echoes (default 32) and prints each round trip and the summary; then has the
    module synchronise its clock from SERVER (emulated: an SNTP responder this program starts
    on loopback; real: pool.ntp.org:123), prints the time it got and compares it with the
    host clock. The emulated module measures a ping as a TCP connect probe (ICMP needs
    privileges); a refused port is a reply.

    --max-offset S   fail when the module's time and the host clock differ by more than S
                     seconds (default 5; the module gives whole seconds, so expect up to 1)

    Exit status: 0 when an echo came back and the module's time is within --max-offset of
    the host clock; 1 otherwise, on any error or after --timeout; 2 on bad usage.

";

struct Options {
    ping: Option<String>,
    count: u8,
    size: u8,
    ntp: Option<(String, u16)>,
    /// Largest accepted difference between the module's time and the host clock, seconds.
    max_offset: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ping: None,
            count: 4,
            size: 32,
            ntp: None,
            max_offset: 5.0,
        }
    }
}

/// This example's own options.
fn own(o: &mut Options, arg: Arg<'_>, p: &mut Parser) -> Result<(), lexopt::Error> {
    match arg {
        Arg::Long("ping") => o.ping = Some(p.value()?.string()?),
        Arg::Long("count") => {
            o.count = p.value()?.parse()?;
            if o.count == 0 {
                return Err("--count must be at least 1".into());
            }
        }
        Arg::Long("size") => o.size = p.value()?.parse()?,
        Arg::Long("max-offset") => {
            o.max_offset = p.value()?.parse()?;
            if o.max_offset.is_nan() || o.max_offset < 0.0 {
                return Err("--max-offset must be a number of seconds, 0 or more".into());
            }
        }
        Arg::Long("ntp") => {
            let v = p.value()?.string()?;
            o.ntp = Some(match v.rsplit_once(':') {
                Some((h, port)) => (h.into(), port.parse().map_err(|e| format!("--ntp: {e}"))?),
                None => (v, 123),
            });
        }
        _ => return Err(arg.unexpected()),
    }
    Ok(())
}

/// An SNTP server (RFC 4330, server mode 4) on a free loopback UDP port, answering with the
/// host's clock. Returns its port. (Ours: sntpc, which the emulator asks with, is a client
/// only, and the NTP servers on crates.io are whole daemons. The emulator's sntpc checks
/// every reply of this one: originate time, mode, stratum, version, root distance.)
fn sntp_responder() -> std::io::Result<u16> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = sock.local_addr()?.port();
    std::thread::spawn(move || {
        let mut req = [0u8; 68];
        while let Ok((n, from)) = sock.recv_from(&mut req) {
            if n < 48 {
                continue;
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            let mut stamp = [0u8; 8];
            let secs = now.as_secs() + sim::sntp::NTP_UNIX_OFFSET;
            stamp[..4].copy_from_slice(&(secs as u32).to_be_bytes());
            let frac = (u64::from(now.subsec_nanos()) << 32) / 1_000_000_000;
            stamp[4..].copy_from_slice(&(frac as u32).to_be_bytes());
            let mut reply = [0u8; 48];
            let version = (req[0] >> 3) & 7;
            reply[0] = (version.max(3) << 3) | 4; // no leap warning, server mode
            reply[1] = 1; // stratum 1: a primary reference
            reply[2] = req[2]; // poll interval, echoed
            reply[3] = 0xEC; // precision: about 60 ns
            reply[12..16].copy_from_slice(b"LOCL"); // reference id
            reply[16..24].copy_from_slice(&stamp); // reference time
            reply[24..32].copy_from_slice(&req[40..48]); // originate = the client's transmit
            reply[32..40].copy_from_slice(&stamp); // receive time
            reply[40..48].copy_from_slice(&stamp); // transmit time
            let _ = sock.send_to(&reply, from);
        }
    });
    Ok(port)
}

async fn run(common: &Common, o: &Options) -> Result<(), String> {
    let emulated = common.is_emulated();
    let ntp = match (&o.ntp, emulated) {
        (Some(s), _) => s.clone(),
        (None, true) => {
            let port = sntp_responder().map_err(|e| format!("SNTP responder: {e}"))?;
            println!("SNTP responder on 127.0.0.1:{port} (UDP)");
            ("127.0.0.1".into(), port)
        }
        (None, false) => ("pool.ntp.org".into(), 123),
    };
    let target = match (&o.ping, emulated) {
        (Some(h), _) => h.clone(),
        (None, true) => "127.0.0.1".into(),
        (None, false) => "8.8.8.8".into(),
    };
    if emulated {
        println!("module: BC20 emulator on an in-process pipe");
    }
    let (stack, _emulator) =
        common::start(common, sim::Config::default(), Config::default()).await?;

    println!("PING {target}: {} echoes of {} bytes", o.count, o.size);
    let p = stack
        .ping(&target, 4, o.count, o.size)
        .await
        .map_err(|e| format!("ping {target}: {e:?}"))?;
    for (i, r) in p.replies().enumerate() {
        println!(
            "  echo {}: reply from {}: bytes={} time={} ms ttl={}",
            i + 1,
            r.ip,
            r.bytes,
            r.time_ms,
            r.ttl
        );
    }
    if p.failures() > 0 {
        println!("  {} echoes failed", p.failures());
    }
    match p.summary {
        Some(s) => println!(
            "  {} sent, {} received, {} lost; round trip min/avg/max = {}/{}/{} ms",
            s.sent, s.received, s.lost, s.min_ms, s.avg_ms, s.max_ms
        ),
        None => println!("  (no summary)"),
    }
    let pinged = p.replies().next().is_some();

    println!("NTP {}:{}", ntp.0, ntp.1);
    let t = stack
        .ntp(&ntp.0, ntp.1)
        .await
        .map_err(|e| format!("NTP sync with {}:{}: {e:?}", ntp.0, ntp.1))?;
    println!("  module clock synchronised: {t}");
    let host = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("host clock: {e}"))?;
    // The module's time is whole seconds, local at its offset; unix_timestamp counts that.
    let offset = t.unix_timestamp() as f64 - host.as_secs_f64();
    let within = offset.abs() <= o.max_offset;
    println!(
        "  module time - host clock = {offset:+.2} s ({} the {} s tolerance)",
        if within { "within" } else { "OUTSIDE" },
        o.max_offset
    );
    println!("{}", common::traffic_report(&stack.traffic()));
    if !pinged {
        Err(format!("no echo reply from {target}"))
    } else if !within {
        Err(format!(
            "the module's time is {offset:+.2} s off the host clock (--max-offset {})",
            o.max_offset
        ))
    } else {
        Ok(())
    }
}

fn main() -> ExitCode {
    match common::begin("ping_ntp", HELP_HEAD, Options::default(), own) {
        Ok((common, options)) => {
            common::block_on_with_timeout("ping_ntp", common.timeout, run(&common, &options))
        }
        Err(code) => code,
    }
}
