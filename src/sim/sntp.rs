//! A minimal SNTP client (RFC 4330) for `AT+QNTP`, and the module's time format.

use std::format;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::string::String;
use std::time::Duration;

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

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
