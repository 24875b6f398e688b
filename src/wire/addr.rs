//! IP addresses in module output, parsed by hand.
//!
//! `core`'s `FromStr` for IP addresses is a general parser (it reads IPv4 inside IPv6, ports,
//! scopes) and costs about 2 KB of flash on a Cortex-M; the module prints plain dotted
//! decimal, and a BG96-class sibling plain colon-hex. These accept exactly the strings `core`
//! accepts for those two forms (tested against it), except IPv6 with an embedded IPv4 tail
//! (`::ffff:1.2.3.4`), which no module here prints: refused.

use core::net::Ipv4Addr;
#[cfg(feature = "siblings")]
use core::net::{IpAddr, Ipv6Addr};

/// Dotted decimal: four numbers of 0 to 255, no leading zeros (as `core` parses it).
pub(crate) fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        let mut v: u16 = 0;
        for &c in p {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(c - b'0');
        }
        *o = u8::try_from(v).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(feature = "siblings")]
/// Colon-hex IPv6: eight groups of 1 to 4 hex digits, or fewer around one `::`.
pub(crate) fn ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    // Groups before and after the `::` (if any).
    let (head, tail) = match find_double_colon(s) {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let mut groups = [0u16; 8];
    let n_head = groups_of(head, &mut groups)?;
    match tail {
        None => (n_head == 8).then(|| Ipv6Addr::from(groups)),
        Some(tail) => {
            let mut back = [0u16; 8];
            let n_tail = groups_of(tail, &mut back)?;
            // `::` stands for at least one group.
            if n_head + n_tail > 7 {
                return None;
            }
            let at = 8 - n_tail;
            groups[at..].copy_from_slice(back.get(..n_tail)?);
            Some(Ipv6Addr::from(groups))
        }
    }
}

#[cfg(feature = "siblings")]
/// An address of either family: IPv6 when it has a colon.
pub(crate) fn ip(s: &[u8]) -> Option<IpAddr> {
    if s.contains(&b':') {
        ipv6(s).map(IpAddr::V6)
    } else {
        ipv4(s).map(IpAddr::V4)
    }
}

#[cfg(feature = "siblings")]
fn find_double_colon(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"::")
}

/// Parse `s` (no `::` in it) as colon-separated groups into `out`; how many. Empty `s` is
/// none (either side of a `::` may be empty).
#[cfg(feature = "siblings")]
fn groups_of(s: &[u8], out: &mut [u16; 8]) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for g in s.split(|&b| b == b':') {
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        let mut v: u16 = 0;
        for &c in g {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return None,
            };
            v = (v << 4) | u16::from(d);
        }
        *out.get_mut(n)? = v;
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    use super::*;

    /// The strings `core` parses, with the embedded-IPv4 IPv6 form left out.
    fn core_ip(s: &str) -> Option<IpAddr> {
        if s.contains(':') && s.contains('.') {
            return None;
        }
        s.parse().ok()
    }

    #[test]
    fn agrees_with_core_on_examples() {
        for s in [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "1.2.3.4 ",
            "",
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8",
            "1:::2",
            "1::2::3",
            "fe80::1ff:fe23:4567:890a",
            "FE80::AbCd",
            "12345::",
            ":1::",
            "1:",
            ":",
            "2001:db8::",
        ] {
            assert_eq!(ip(s.as_bytes()), core_ip(s), "{s:?}");
        }
    }

    #[test]
    fn agrees_with_core_on_random_strings() {
        // A seeded walk over strings of the characters that matter.
        let alphabet = b"0123456789abcdefABCDEF.:";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let mut s = Vec::with_capacity(len);
            let mut y = x;
            for _ in 0..len {
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Mostly digits and separators, so that many strings are addresses.
                let k = (y >> 33) as usize;
                s.push(if k.is_multiple_of(3) {
                    alphabet[k % alphabet.len()]
                } else if k % 3 == 1 {
                    b"0123456789"[k % 10]
                } else {
                    b".:"[k % 2]
                });
            }
            let s = String::from_utf8(s).unwrap();
            assert_eq!(ip(s.as_bytes()), core_ip(&s), "{s:?}");
        }
    }

    #[test]
    fn every_ipv4_round_trips() {
        for a in [0u8, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255] {
            let addr = Ipv4Addr::new(a, 255 - a, a / 2, 7);
            let s = std::format!("{addr}");
            assert_eq!(ipv4(s.as_bytes()), Some(addr));
        }
    }
}
