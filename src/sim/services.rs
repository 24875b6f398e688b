//! Asynchronous services: `AT+QIDNSGIP`, `AT+QPING`, `AT+QNTP`, and the results of helper
//! threads (connects included) coming back to the state machine.

use std::collections::HashMap;
use std::format;
use std::net::{Ipv4Addr, ToSocketAddrs};
use std::string::String;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::Sim;
use super::net::Conn;
use crate::types::QiError;

/// A result from a helper thread.
#[derive(Debug)]
pub(crate) enum Done {
    /// A connect finished.
    Open {
        id: usize,
        token: u64,
        result: Result<(Conn, Ipv4Addr), u16>,
    },
    /// A late line to print; `last` ends the operation `op`.
    Line {
        op: Op,
        line: String,
        doubled: bool,
        last: bool,
    },
}

/// Which one-at-a-time operation a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Dns,
    Ping,
    Ntp,
}

/// Name resolution as the emulator does it: test overrides first, then (optionally) the host
/// resolver; IPv4 only.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolver {
    pub(crate) overrides: HashMap<String, Vec<Ipv4Addr>>,
    pub(crate) use_host: bool,
    pub(crate) blackhole: Vec<Ipv4Addr>,
    pub(crate) ttl: u32,
}

/// Resolve `host` (an IPv4 literal or a name). Err is the code to report (565).
pub(crate) fn resolve(r: &Resolver, host: &str) -> Result<Vec<Ipv4Addr>, u16> {
    let fail = QiError::DnsParseFailed.code();
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(std::vec![ip]);
    }
    if let Some(list) = r.overrides.get(host) {
        return if list.is_empty() {
            Err(fail)
        } else {
            Ok(list.clone())
        };
    }
    if !r.use_host {
        return Err(fail);
    }
    let addrs = (host, 0u16).to_socket_addrs().map_err(|_| fail)?;
    let mut v: Vec<Ipv4Addr> = Vec::new();
    for a in addrs {
        if let std::net::SocketAddr::V4(a) = a
            && !v.contains(a.ip())
        {
            v.push(*a.ip());
        }
    }
    if v.is_empty() { Err(fail) } else { Ok(v) }
}

/// The answer of `AT+QIDNSGIP` for `host`, as late lines.
fn report_dns(r: &Resolver, host: &str, rep: &Reporter) {
    match resolve(r, host) {
        Ok(ips) => {
            let ttl = if host.parse::<Ipv4Addr>().is_ok() {
                0
            } else {
                r.ttl
            };
            rep.line(format!("+QIURC: \"dnsgip\",0,{},{ttl}", ips.len()));
            for (k, ip) in ips.iter().enumerate() {
                let l = format!("+QIURC: \"dnsgip\",\"{ip}\"");
                if k + 1 == ips.len() {
                    rep.finish(l, false);
                } else {
                    rep.line(l);
                }
            }
        }
        Err(code) => rep.finish(format!("+QIURC: \"dnsgip\",{code},0,0"), false),
    }
}

/// Sends the late lines of one operation back to the state machine.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    tx: Sender<(u64, Done)>,
    epoch: u64,
    op: Op,
}

impl Reporter {
    pub(crate) fn line(&self, line: String) {
        self.send(line, false, false);
    }

    pub(crate) fn finish(&self, line: String, doubled: bool) {
        self.send(line, doubled, true);
    }

    /// The operation is over and prints nothing more.
    pub(crate) fn end(&self) {
        self.send(String::new(), false, true);
    }

    fn send(&self, line: String, doubled: bool, last: bool) {
        let _ = self.tx.send((
            self.epoch,
            Done::Line {
                op: self.op,
                line,
                doubled,
                last,
            },
        ));
    }
}

impl Sim {
    fn reporter(&self, op: Op) -> Reporter {
        Reporter {
            tx: self.done_tx.clone(),
            epoch: self.epoch,
            op,
        }
    }

    pub(crate) fn handle_done(&mut self, now: Instant, done: Done) {
        match done {
            Done::Open { id, token, result } => self.open_done(now, id, token, result),
            Done::Line {
                op,
                line,
                doubled,
                last,
            } => {
                if !line.is_empty() {
                    self.late_urc(now, &line, doubled);
                }
                if last {
                    match op {
                        Op::Dns => self.dns_busy = false,
                        Op::Ping => self.ping_busy = false,
                        Op::Ntp => self.ntp_busy = false,
                    }
                }
            }
        }
    }

    pub(crate) fn qidnsgip(&mut self, now: Instant, host: String) -> Result<(), QiError> {
        if self.dns_busy {
            return Err(QiError::DnsBusy);
        }
        self.dns_busy = true;
        self.ok(now);
        let rep = self.reporter(Op::Dns);
        let r = self.cfg.net_view().resolver;
        // A name the host resolver is not asked for is answered at once, so the answer's
        // place in (virtual) time does not depend on when a helper thread gets to run; only
        // the host resolver, which may block, runs on one.
        if r.use_host && host.parse::<Ipv4Addr>().is_err() && !r.overrides.contains_key(&host) {
            std::thread::spawn(move || report_dns(&r, &host, &rep));
        } else {
            report_dns(&r, &host, &rep);
        }
        Ok(())
    }

    pub(crate) fn qping(
        &mut self,
        now: Instant,
        host: String,
        timeout_s: u8,
        count: u8,
        size: u8,
    ) -> Result<(), QiError> {
        if self.ping_busy {
            return Err(QiError::Busy);
        }
        self.ping_busy = true;
        self.ok(now);
        // The dice are rolled here, on the emulator's thread, so the losses stay
        // deterministic per seed.
        let lost = (0..count)
            .map(|k| {
                let fire = self.inj.fire(super::faults::Which::PingLoss);
                if fire {
                    self.inj.record(now, super::faults::FaultKind::PingLoss(k));
                }
                fire
            })
            .collect();
        let job = super::ping::PingJob {
            lost,
            host,
            timeout: Duration::from_secs(u64::from(timeout_s)).min(self.cfg.ping_timeout_cap),
            count,
            size,
            port: self.cfg.ping_port,
            interval: self.cfg.ping_interval,
            ttl: self.cfg.ping_ttl,
            resolver: self.cfg.net_view().resolver,
        };
        let rep = self.reporter(Op::Ping);
        std::thread::spawn(move || job.run(&rep));
        Ok(())
    }

    pub(crate) fn qntp(&mut self, now: Instant, server: String, port: u16) -> Result<(), QiError> {
        if self.ntp_busy {
            return Err(QiError::Busy);
        }
        self.ntp_busy = true;
        self.ok(now);
        let rep = self.reporter(Op::Ntp);
        let resolver = self.cfg.net_view().resolver;
        let timeout = self.cfg.ntp_timeout;
        let tz = self.cfg.timezone_quarters;
        let long_year = self.cfg.ntp_four_digit_year;
        std::thread::spawn(move || {
            let line = match super::sntp::query(&resolver, &server, port, timeout) {
                Ok(unix) => {
                    let t = super::sntp::format_time_with(unix, tz, long_year);
                    format!("+QNTP: 0,\"{t}\"")
                }
                Err(code) => format!("+QNTP: {code}"),
            };
            rep.finish(line, false);
        });
        Ok(())
    }
}
