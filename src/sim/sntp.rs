//! A minimal SNTP client (RFC 4330) for `AT+QNTP`, and the module's time format.

use std::format;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::string::String;
use std::time::Duration;

use super::services::{Resolver, resolve};
use crate::types::QiError;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An SNTP v4 client request: 48 bytes, LI 0, VN 4, mode 3.
pub fn request() -> [u8; 48] {
    let mut r = [0u8; 48];
    r[0] = 0x23;
    r
}

/// The transmit time of a server reply, as Unix seconds. `None` unless `reply` is a 48-byte
/// (or longer) server (mode 4) or broadcast (mode 5) packet with a non-zero time.
pub fn parse_reply(reply: &[u8]) -> Option<u64> {
    if reply.len() < 48 || !matches!(reply[0] & 0x07, 4 | 5) {
        return None;
    }
    let secs = u64::from(u32::from_be_bytes([
        reply[40], reply[41], reply[42], reply[43],
    ]));
    // Era 1 starts in 2036: treat times before 1970 as era 1.
    let secs = if secs < NTP_UNIX_OFFSET {
        secs + (1u64 << 32)
    } else {
        secs
    };
    (secs != 0).then(|| secs - NTP_UNIX_OFFSET)
}

/// `YY/MM/DD,hh:mm:ss±zz` for Unix time `unix` shown in the zone `tz` quarter hours east.
pub fn format_time(unix: u64, tz_quarters: i8) -> String {
    let local = unix as i64 + i64::from(tz_quarters) * 15 * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // Civil from days, after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if tz_quarters < 0 { '-' } else { '+' };
    format!(
        "{:02}/{:02}/{:02},{:02}:{:02}:{:02}{}{:02}",
        year.rem_euclid(100),
        month,
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        sign,
        tz_quarters.unsigned_abs()
    )
}

/// Ask `server:port` for the time. Err is the code to report: 565 when the name does not
/// resolve, 569 when no valid answer came within `timeout`.
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
    sock.connect(SocketAddrV4::new(ip, port))
        .map_err(|_| timed_out)?;
    sock.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
        .map_err(|_| timed_out)?;
    sock.send(&request()).map_err(|_| timed_out)?;
    let mut buf = [0u8; 128];
    let n = sock.recv(&mut buf).map_err(|_| timed_out)?;
    parse_reply(&buf[..n]).ok_or(timed_out)
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
    }

    #[test]
    fn parses_server_replies_only() {
        let mut r = [0u8; 48];
        r[0] = 0x24;
        r[40..44].copy_from_slice(&((NTP_UNIX_OFFSET + 100) as u32).to_be_bytes());
        assert_eq!(parse_reply(&r), Some(100));
        r[0] = 0x23;
        assert_eq!(parse_reply(&r), None);
        assert_eq!(parse_reply(&r[..40]), None);
    }
}
