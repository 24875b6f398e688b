//! `AT+QNTP`'s side in the emulator: a real SNTP exchange (the sntpc crate) and the module's
//! time format.

use std::format;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::string::String;
use std::time::Duration;

use sntpc::{NtpContext, NtpUdpSocket, StdTimestampGen};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::services::{Resolver, resolve};
use crate::types::QiError;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// `YY/MM/DD,hh:mm:ss±zz` for Unix time `unix` shown in the zone `tz_quarters` quarter hours
/// east of UTC.
pub fn format_time(unix: u64, tz_quarters: i8) -> String {
    format_time_with(unix, tz_quarters, false)
}

/// As [`format_time`], with a four-digit year (`YYYY/MM/DD,...`) when `long_year` is set, as
/// sibling firmware prints it (spec 6.7).
///
/// The calendar is the `time` crate's. A zone outside the module's range, -48..=56 quarter
/// hours, is clamped to it; a time past 9999-12-31T23:59:59Z shows as that.
pub fn format_time_with(unix: u64, tz_quarters: i8, long_year: bool) -> String {
    let quarters = tz_quarters.clamp(-48, 56);
    // -12..=14 hours: always a valid offset.
    let offset =
        UtcOffset::from_whole_seconds(i32::from(quarters) * 15 * 60).unwrap_or(UtcOffset::UTC);
    let latest = PrimitiveDateTime::MAX.assume_utc();
    let t = i64::try_from(unix)
        .ok()
        .and_then(|u| OffsetDateTime::from_unix_timestamp(u).ok())
        .unwrap_or(latest)
        .to_offset(offset);
    let year = if long_year {
        format!("{:04}", t.year())
    } else {
        format!("{:02}", t.year().rem_euclid(100))
    };
    let sign = if quarters < 0 { '-' } else { '+' };
    format!(
        "{year}/{:02}/{:02},{:02}:{:02}:{:02}{sign}{:02}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        quarters.unsigned_abs()
    )
}

/// Ask `server:port` for the time, as Unix seconds. The exchange is sntpc's (RFC 4330 and
/// RFC 5905: the reply must echo the request's transmit time, come from the server asked, be
/// in server mode with a sane stratum, version and root distance, and not be a kiss-o'-death;
/// its era is the one nearest the host clock). Err is the code to report: 565 when the name
/// does not resolve, 569 when no valid answer came within `timeout`.
pub(crate) fn query(r: &Resolver, server: &str, port: u16, timeout: Duration) -> Result<u64, u16> {
    let ip = *resolve(r, server)?
        .first()
        .ok_or(QiError::DnsParseFailed.code())?;
    let timed_out = QiError::Timeout.code();
    if r.blackhole.contains(&ip) {
        std::thread::sleep(timeout);
        return Err(timed_out);
    }
    let sock =
        UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).map_err(|_| timed_out)?;
    sock.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
        .map_err(|_| timed_out)?;
    let context = NtpContext::new(StdTimestampGen::default());
    let to = SocketAddr::V4(SocketAddrV4::new(ip, port));
    // The socket blocks (with the timeout above), so the future completes on its first poll.
    embassy_futures::block_on(sntpc::get_time(to, &Blocking(sock), context))
        .map(|t| t.sec())
        .map_err(|e| {
            log::debug!("bc20-sim: SNTP {to}: {e:?}");
            timed_out
        })
}

/// A blocking std socket as sntpc's (async) socket.
struct Blocking(UdpSocket);

impl NtpUdpSocket for Blocking {
    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> sntpc::Result<usize> {
        self.0.send_to(buf, addr).map_err(|_| sntpc::Error::Network)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf).map_err(|_| sntpc::Error::Network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_module() {
        // 2018-04-20 03:08:20 UTC shown at +08:00 (32 quarters).
        assert_eq!(format_time(1_524_193_700, 32), "18/04/20,11:08:20+32");
        assert_eq!(format_time(0, 0), "70/01/01,00:00:00+00");
        assert_eq!(format_time(0, -8), "69/12/31,22:00:00-08");
        assert_eq!(format_time(951_782_400, 0), "00/02/29,00:00:00+00");
        assert_eq!(
            format_time_with(1_783_011_387, 32, true),
            "2026/07/03,00:56:27+32"
        );
        // The module's extremes of time zone, and past them.
        assert_eq!(format_time(0, 56), "70/01/01,14:00:00+56");
        assert_eq!(format_time(0, -48), "69/12/31,12:00:00-48");
        assert_eq!(format_time(0, 127), "70/01/01,14:00:00+56");
        // Past what the calendar holds.
        assert_eq!(
            format_time_with(u64::MAX, 0, true),
            "9999/12/31,23:59:59+00"
        );
    }

    /// One answer to the first request on a loopback socket: `reply` made from the request.
    fn answer_once(reply: impl FnOnce(&[u8]) -> [u8; 48] + Send + 'static) -> u16 {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut req = [0u8; 128];
            if let Ok((_, from)) = sock.recv_from(&mut req) {
                let _ = sock.send_to(&reply(&req), from);
            }
        });
        port
    }

    /// A server reply at Unix time `unix`: mode 4, stratum 1, the request's transmit time as
    /// originate time.
    fn server_reply(req: &[u8], unix: u64) -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0] = 0x24;
        r[1] = 1;
        r[24..32].copy_from_slice(&req[40..48]);
        let secs = ((unix + NTP_UNIX_OFFSET) as u32).to_be_bytes();
        r[32..36].copy_from_slice(&secs);
        r[40..44].copy_from_slice(&secs);
        r
    }

    fn ask(port: u16) -> Result<u64, u16> {
        let r = Resolver {
            use_host: false,
            ..Resolver::default()
        };
        query(&r, "127.0.0.1", port, Duration::from_millis(500))
    }

    #[test]
    fn takes_a_server_reply() {
        let port = answer_once(|req| server_reply(req, 1_783_011_387));
        assert_eq!(ask(port), Ok(1_783_011_387));
    }

    #[test]
    fn refuses_what_is_not_the_answer_to_its_request() {
        let timed_out = QiError::Timeout.code();
        // Client mode instead of server mode.
        let port = answer_once(|req| {
            let mut r = server_reply(req, 1_783_011_387);
            r[0] = 0x23;
            r
        });
        assert_eq!(ask(port), Err(timed_out));
        // Not the originate time the request carried.
        let port = answer_once(|req| {
            let mut r = server_reply(req, 1_783_011_387);
            r[31] ^= 1;
            r
        });
        assert_eq!(ask(port), Err(timed_out));
        // A kiss-o'-death (stratum 0).
        let port = answer_once(|req| {
            let mut r = server_reply(req, 1_783_011_387);
            r[1] = 0;
            r
        });
        assert_eq!(ask(port), Err(timed_out));
    }
}
