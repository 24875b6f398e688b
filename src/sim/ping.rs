//! `AT+QPING` without raw sockets.
//!
//! Sending ICMP echo needs raw sockets (root or a capability), which tests do not have. The
//! emulator measures a real round trip with a TCP connect probe instead: a SYN answered by a
//! SYN-ACK (connection accepted) or an RST (connection refused) both prove the host is reachable
//! and take one round trip. A probe that times out, or fails with anything else, counts as lost.

use std::format;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::services::{Reporter, Resolver, resolve};
use crate::types::QiError;

/// One `AT+QPING` run.
#[derive(Debug)]
pub(crate) struct PingJob {
    pub(crate) host: String,
    pub(crate) timeout: Duration,
    pub(crate) count: u8,
    pub(crate) size: u8,
    pub(crate) port: u16,
    pub(crate) interval: Duration,
    pub(crate) ttl: u8,
    pub(crate) resolver: Resolver,
    /// Echoes lost by fault injection (`Faults::ping_loss`), by index.
    pub(crate) lost: Vec<bool>,
}

impl PingJob {
    /// Probe, print one line per reply and a summary; a lone `+QPING: <err>` after a doubled
    /// blank line when nothing answered (as real modules do).
    pub(crate) fn run(&self, rep: &Reporter) {
        let ip = match resolve(&self.resolver, &self.host) {
            Ok(ips) => ips[0],
            Err(code) => return rep.finish(format!("+QPING: {code}"), true),
        };
        let (mut rcvd, mut min, mut max, mut sum) = (0u32, u32::MAX, 0u32, 0u32);
        let mut injected = false;
        for k in 0..self.count {
            if k > 0 {
                std::thread::sleep(self.interval);
            }
            if self.lost.get(usize::from(k)).copied().unwrap_or(false) {
                // An injected loss: this echo times out and says so.
                std::thread::sleep(self.timeout);
                rep.line(format!("+QPING: {}", QiError::Timeout.code()));
                injected = true;
                continue;
            }
            if let Some(ms) = self.probe(ip) {
                rcvd += 1;
                min = min.min(ms);
                max = max.max(ms);
                sum += ms;
                rep.line(format!(
                    "+QPING: 0,\"{ip}\",{},{ms},{}",
                    self.size, self.ttl
                ));
            }
        }
        if rcvd == 0 && injected {
            // Every echo already said it failed.
            return rep.end();
        }
        if rcvd == 0 {
            return rep.finish(format!("+QPING: {}", QiError::Timeout.code()), true);
        }
        let sent = u32::from(self.count);
        rep.finish(
            format!(
                "+QPING: 0,{sent},{rcvd},{},{min},{max},{}",
                sent - rcvd,
                sum / rcvd
            ),
            false,
        );
    }

    /// Round trip in ms, or `None` when lost.
    fn probe(&self, ip: Ipv4Addr) -> Option<u32> {
        if self.resolver.blackhole.contains(&ip) {
            std::thread::sleep(self.timeout);
            return None;
        }
        let start = Instant::now();
        let r = TcpStream::connect_timeout(&SocketAddrV4::new(ip, self.port).into(), self.timeout);
        let reached = match r {
            Ok(_) => true,
            Err(e) => e.kind() == io::ErrorKind::ConnectionRefused,
        };
        reached.then(|| start.elapsed().as_millis().min(u128::from(u32::MAX)) as u32)
    }
}
