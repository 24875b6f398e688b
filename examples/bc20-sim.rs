//! Run the BC20 emulator behind a pseudo-terminal or a TCP port.
//!
//! `cargo run --features sim --example bc20-sim -- --pty` prints the device path to open as
//! the modem's serial port; `--tcp 127.0.0.1:PORT` serves one host connection at a time.
//! `--help` lists every option.

use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use lexopt::{Arg, Parser, ValueExt as _};
use quectel_bc20::engine::Module;
use quectel_bc20::sim::{self, BootStyle, Config, Emulator, Rate};

const HELP: &str = "\
bc20-sim: a Quectel BC20 NB-IoT modem emulator (AT commands over a pty or TCP)

USAGE:
    bc20-sim (--pty | --tcp ADDR) [OPTIONS]

ENDPOINT:
    --pty                    create a pseudo-terminal and print its path (unix)
    --tcp ADDR               listen on ADDR (e.g. 127.0.0.1:5555), one host at a time

MODULE:
    --module NAME            the module emulated: bc20 (default), bc26, bc66, bc660k. Sets its
                             ATI model, revision and boot output, the PDP context its TCP/IP
                             commands take (0 on the BC660K), prompt-mode sends and the
                             AT+QISEND=<id>,0 query (bc66, bc660k), plain ERROR for failed
                             TCP/IP commands (bc66, bc660k); --boot overrides the boot output
    --boot STYLE             power-up output: rdy (default), brom (MT2625 boot-ROM lines), silent
    --echo-off               start with echo off (as if ATE0 had been saved)
    --listen-while-booting   take host bytes before the boot lines are out (default: lost)
    --baud N                 pace output and input like a UART at N baud (10 bits a byte)
    --rx-buffer N            receive buffer per socket in buffer mode, bytes (default 4096)
    --push-chunk N           largest direct-push chunk, bytes (default 1024)
    --send-ok-delay MS       SEND OK this long after a send (default 2)
    --close-ok-delay MS      print CLOSE OK this long after the OK of AT+QICLOSE
    --sleep-after MS         sleep after MS of host silence; the next command gets a bare CRLF
    --sleep-silent           with --sleep-after: the next command gets no answer at all
    --doubled-blank          doubled blank line before late URCs (+QIOPEN, +QPING, +QNTP, dnsgip)
    --crlf-after-push        CRLF after direct-push data in view mode 0 (sibling firmware)
    --qicfg-echo             answer AT+QICFG writes with the new setting before OK
    --dns NAME=IP[,IP...]    answer NAME with these IPv4 addresses (repeatable; no IP = failure)
    --no-host-resolver       resolve only names given with --dns
    --blackhole IP           treat IP as unreachable without sending anything (repeatable)
    --tz QUARTERS            time zone of +QNTP times, quarter hours east of UTC, -48..=56
                             (default 0)
    --ntp-long-year          four-digit year in +QNTP times (sibling firmware)
    --ping-port PORT         TCP port AT+QPING probes (default 7; a refusal counts as a reply)

FAULTS (seeded and deterministic; every injected fault is printed to stderr):
    --seed N                 PRNG seed (default 0; xoshiro256++, same seed same faults)
    --fault NAME=RATE        switch a fault on (repeatable). NAME is one of
                             delay, chunking, noise, open-fail, send-fail, error-on, peer-close,
                             buff-full, reboot, line-noise, ping-loss, close-damage,
                             open-damage. RATE is
                             never, always, pm:N (per mille), nth:N (the N-th chance only) or
                             every:N
    --delay-range MIN-MAX    extra delay range for 'delay', ms (default 10-100)
    --chunk-max N            largest chunk for 'chunking' (default 4)
    --chunk-gap MS           longest gap between chunks (default 2)
    --error-on-command CMD   command prefix 'error-on' applies to (default: every command)
    --noise-line TEXT        a noise line for 'noise' (repeatable; default: a built-in list)

    -h, --help               print this help
";

enum Endpoint {
    Pty,
    Tcp(String),
}

/// A number of milliseconds.
fn ms(v: &str) -> Result<Duration, std::num::ParseIntError> {
    v.parse().map(Duration::from_millis)
}

/// The command line; `None` when help was asked for.
fn parse(mut p: Parser) -> Result<Option<(Endpoint, Config)>, lexopt::Error> {
    let mut c = Config::default();
    c.faults.delay_range = (Duration::from_millis(10), Duration::from_millis(100));
    c.faults.chunk_max = 4;
    c.faults.chunk_gap = Duration::from_millis(2);
    let mut endpoint = None;
    let mut module = None;
    let mut boot = None;
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(None),
            Arg::Long("pty") => endpoint = Some(Endpoint::Pty),
            Arg::Long("tcp") => endpoint = Some(Endpoint::Tcp(p.value()?.string()?)),
            Arg::Long("module") => {
                let v = p.value()?.string()?;
                module = Some(
                    Module::from_name(&v)
                        .ok_or(format!("--module {v}: expected bc20, bc26, bc66 or bc660k"))?,
                );
            }
            Arg::Long("boot") => {
                boot = Some(match p.value()?.string()?.as_str() {
                    "rdy" => BootStyle::Rdy,
                    "brom" => BootStyle::BootRom,
                    "silent" => BootStyle::Silent,
                    v => return Err(format!("--boot {v}: expected rdy, brom or silent").into()),
                })
            }
            Arg::Long("echo-off") => c.nvram.echo = false,
            Arg::Long("listen-while-booting") => c.listen_while_booting = true,
            Arg::Long("baud") => c.baud = Some(p.value()?.parse()?),
            Arg::Long("rx-buffer") => c.rx_buffer_size = p.value()?.parse()?,
            Arg::Long("push-chunk") => c.push_chunk = p.value()?.parse()?,
            Arg::Long("send-ok-delay") => c.send_ok_delay = p.value()?.parse_with(ms)?,
            Arg::Long("close-ok-delay") => c.close_ok_delay = Some(p.value()?.parse_with(ms)?),
            Arg::Long("sleep-after") => c.sleep_after = Some(p.value()?.parse_with(ms)?),
            Arg::Long("sleep-silent") => c.sleep_silent = true,
            Arg::Long("doubled-blank") => c.doubled_blank_before_late_urcs = true,
            Arg::Long("crlf-after-push") => c.crlf_after_push = true,
            Arg::Long("qicfg-echo") => c.qicfg_write_prints_setting = true,
            Arg::Long("dns") => {
                let v = p.value()?.string()?;
                let (name, ips) = v.split_once('=').ok_or(format!("--dns {v}: NAME=IP,..."))?;
                let ips = ips
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|ip| ip.parse().map_err(|e| format!("--dns {ip}: {e}")))
                    .collect::<Result<Vec<Ipv4Addr>, _>>()?;
                c.dns_overrides.insert(name.to_string(), ips);
            }
            Arg::Long("no-host-resolver") => c.use_host_resolver = false,
            Arg::Long("blackhole") => c.blackhole.push(p.value()?.parse()?),
            Arg::Long("tz") => c.timezone_quarters = p.value()?.parse()?,
            Arg::Long("ntp-long-year") => c.ntp_four_digit_year = true,
            Arg::Long("ping-port") => c.ping_port = p.value()?.parse()?,
            Arg::Long("seed") => c.faults.seed = p.value()?.parse()?,
            Arg::Long("fault") => {
                let v = p.value()?.string()?;
                let (name, rate) = v.split_once('=').ok_or(format!("--fault {v}: NAME=RATE"))?;
                let rate: Rate = rate.parse()?;
                let f = &mut c.faults;
                match name {
                    "delay" => f.delay = rate,
                    "chunking" => f.chunking = rate,
                    "noise" => f.noise = rate,
                    "open-fail" => f.open_fail = rate,
                    "send-fail" => f.send_fail = rate,
                    "error-on" => f.error_on = rate,
                    "peer-close" => f.peer_close = rate,
                    "buff-full" => f.buff_full = rate,
                    "reboot" => f.reboot = rate,
                    "line-noise" => f.line_noise = rate,
                    "ping-loss" => f.ping_loss = rate,
                    "close-damage" => f.close_damage = rate,
                    "open-damage" => f.open_damage = rate,
                    _ => return Err(format!("--fault {name}: unknown fault").into()),
                }
            }
            Arg::Long("delay-range") => {
                let v = p.value()?.string()?;
                let bad = |e| format!("--delay-range {v}: {e}");
                let (lo, hi) = v.split_once('-').ok_or(bad("expected MIN-MAX".into()))?;
                c.faults.delay_range = (
                    ms(lo).map_err(|e| bad(e.to_string()))?,
                    ms(hi).map_err(|e| bad(e.to_string()))?,
                );
            }
            Arg::Long("chunk-max") => c.faults.chunk_max = p.value()?.parse()?,
            Arg::Long("chunk-gap") => c.faults.chunk_gap = p.value()?.parse_with(ms)?,
            Arg::Long("error-on-command") => c.faults.error_on_command = p.value()?.string()?,
            Arg::Long("noise-line") => c.faults.noise_lines.push(p.value()?.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    let endpoint = endpoint.ok_or("choose an endpoint: --pty or --tcp ADDR")?;
    if let Some(m) = module {
        let profile = Config::for_module(m);
        c.module = m;
        c.boot = profile.boot;
        c.revision = profile.revision;
    }
    if let Some(b) = boot {
        c.boot = b;
    }
    Ok(Some((endpoint, c)))
}

fn start(endpoint: Endpoint, config: Config) -> Result<Emulator, String> {
    match endpoint {
        #[cfg(unix)]
        Endpoint::Pty => {
            let (path, emu) = sim::start_pty(config).map_err(|e| format!("pty: {e}"))?;
            println!("{}", path.display());
            Ok(emu)
        }
        #[cfg(not(unix))]
        Endpoint::Pty => Err("--pty needs a unix host".into()),
        Endpoint::Tcp(addr) => {
            let l = TcpListener::bind(&addr).map_err(|e| format!("{addr}: {e}"))?;
            println!(
                "listening on {}",
                l.local_addr().map_err(|e| e.to_string())?
            );
            sim::serve_tcp(l, config).map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    let (endpoint, config) = match parse(Parser::from_env()) {
        Ok(Some(v)) => v,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bc20-sim: {e} (try --help)");
            return ExitCode::from(2);
        }
    };
    let emu = match start(endpoint, config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bc20-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log = emu.fault_log();
    let mut seen = 0;
    while emu.is_running() {
        std::thread::sleep(Duration::from_millis(100));
        let events = log.events();
        for ev in &events[seen.min(events.len())..] {
            eprintln!("fault at {:?}: {:?}", ev.at, ev.kind);
        }
        seen = events.len();
    }
    ExitCode::SUCCESS
}
