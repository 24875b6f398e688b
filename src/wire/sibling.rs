//! Payload-header forms of the BC20's siblings that the framing layer must tell apart from the
//! BC20's own before it may take any byte as data.
//!
//! These matchers work on a header that may still be arriving: they answer
//! [`Shape::NeedMore`] while the bytes seen so far could still become the form, and decide as
//! soon as they cannot, so the answer never depends on where a read ended. They take no byte
//! as data themselves; `parse.rs` frames the payload of a recognised header by its length.
//!
//! # `+QIRD:` forms and how they coexist
//!
//! After `+QIRD: ` the parser tries, in this order (`EOL` is the line end):
//!
//! | shape | context | frame |
//! |---|---|---|
//! | `(`... | any | the test answer, a line |
//! | `<total>,<read>,<unread>` EOL, three plain numbers | view mode 0 | [`Frame::QiRdQuery`], no data |
//! | `<len>,"<ip>",<port>` EOL | any | [`Frame::QiRdFrom`]: `len` bytes after the EOL |
//! | `<len>` EOL | any | [`Frame::QiRd`]: `len` bytes after the EOL |
//! | `<len>,<remaining>` EOL with showlength | any | [`Frame::QiRd`] with `remaining` |
//! | `<len>[,<remaining>],<data>` | view mode 1 | [`Frame::QiRd`]: `len` bytes after the comma |
//! | anything else | | [`Frame::BadPayload`]: no byte is taken as data |
//!
//! Decisions:
//! - **Three plain numbers are the query answer in view mode 0.** The BC20 with showlength prints
//!   two numbers at most before a line end, so in view mode 0 the third number can only be the
//!   sibling query answer (BG96, EC600S answer `AT+QIRD=<id>,0` so). Its fields may exceed the
//!   five digits a payload length has (the totals are cumulative).
//! - **In view mode 1 they are data.** `+QIRD: 3,1,5` is a read of `1,5` there (and with
//!   showlength `+QIRD: 1,0,5` a read of `5`); the modules that have view mode (BC20, BC26,
//!   BC66, BC660K) have no `AT+QIRD=<id>,0` query, and the driver never sends one.
//! - **Same-line data only in view mode 1.** In view mode 0 a header that goes on after its
//!   numbers with anything but a line end, the query answer or the UDP-service address is
//!   [`Frame::BadPayload`] (`Malformed::Layout`): taking bytes after it as data would turn a
//!   header the parser does not know (a mutated field, an extra field, a sibling form) into a
//!   payload of the wrong bytes. (Before sibling forms existed the parser took view mode 1 data
//!   in either view mode, as the layout was unambiguous then.)
//! - **A quoted second field followed by `,<port>` is the UDP-service address**, in any view
//!   mode. The address must be an IPv4 or IPv6 literal and the port fit 16 bits, else the header
//!   is [`Frame::BadPayload`]. Quoted hex data (`+QIRD: 4,"54657374"`, hex receive mode, view
//!   mode 1) has no `,<port>` after the quote, so it stays data.
//!
//! The same address form after a direct-push recv URC (`+QIURC: "recv",<id>,<len>,"<ip>",<port>`)
//! is [`Frame::RecvFrom`].
//!
//! [`Frame::QiRdQuery`]: super::Frame::QiRdQuery
//! [`Frame::QiRdFrom`]: super::Frame::QiRdFrom
//! [`Frame::QiRd`]: super::Frame::QiRd
//! [`Frame::BadPayload`]: super::Frame::BadPayload
//! [`Frame::RecvFrom`]: super::Frame::RecvFrom

use super::frame::Remote;

/// What a matcher decided about the header bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The bytes so far could still become the form.
    NeedMore,
    /// Not this form (the caller goes on with the BC20's own forms).
    No,
    /// `<total>,<read>,<unread>` and a line end; `end` is the index just past the line end.
    Query {
        total: u32,
        read: u32,
        unread: u32,
        end: usize,
    },
    /// `[<len>,]"<ip>",<port>` and a line end; `eol` is the index of the line end, where the
    /// view mode 0 payload layout starts.
    From {
        len: u32,
        remote: Remote,
        eol: usize,
    },
    /// The shape of the address form with a field that does not decode: the header announces
    /// data the parser cannot frame.
    Bad,
}

/// One step of a match.
enum Step<T> {
    Ok(T),
    More,
    No,
}

/// Shorthand: return `NeedMore` or `No` unless the step matched.
macro_rules! step {
    ($e:expr) => {
        match $e {
            Step::Ok(v) => v,
            Step::More => return Shape::NeedMore,
            Step::No => return Shape::No,
        }
    };
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    /// A decimal number of 1..=`max` digits.
    fn num(&mut self, max: usize) -> Step<u64> {
        let digits = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > max {
            return Step::No;
        }
        if self.i + digits == self.b.len() {
            return Step::More;
        }
        if digits == 0 {
            return Step::No;
        }
        let v = self.b[self.i..self.i + digits]
            .iter()
            .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
        self.i += digits;
        Step::Ok(v)
    }

    fn byte(&mut self, c: u8) -> Step<()> {
        match self.b.get(self.i) {
            None => Step::More,
            Some(&x) if x == c => {
                self.i += 1;
                Step::Ok(())
            }
            Some(_) => Step::No,
        }
    }

    /// The index just past the line end at the cursor (`\r\n`, `\n`, or a bare `\r` followed
    /// by something else, as the parser's own line ends).
    fn eol(&self) -> Step<usize> {
        match (self.b.get(self.i), self.b.get(self.i + 1)) {
            (None, _) | (Some(b'\r'), None) => Step::More,
            (Some(b'\n'), _) => Step::Ok(self.i + 1),
            (Some(b'\r'), Some(b'\n')) => Step::Ok(self.i + 2),
            (Some(b'\r'), Some(_)) => Step::Ok(self.i + 1),
            _ => Step::No,
        }
    }

    /// `"<address>"`: up to 45 characters of an IP literal (digits, hex letters, `.` and `:`).
    fn address(&mut self) -> Step<&'a str> {
        match self.byte(b'"') {
            Step::Ok(()) => {}
            Step::More => return Step::More,
            Step::No => return Step::No,
        }
        let start = self.i;
        let n = self.b[start..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == b'.' || **c == b':')
            .count();
        if n > 45 {
            return Step::No;
        }
        self.i += n;
        match self.byte(b'"') {
            Step::Ok(()) if n > 0 => {}
            Step::Ok(()) => return Step::No,
            Step::More => return Step::More,
            Step::No => return Step::No,
        }
        // Only the characters checked above: ASCII.
        match core::str::from_utf8(&self.b[start..start + n]) {
            Ok(s) => Step::Ok(s),
            Err(_) => Step::No,
        }
    }
}

/// True when `s` is an IPv4 or IPv6 literal.
/// The sibling forms of a `+QIRD:` header; `rest` starts after `+QIRD: `. `view1`: the context
/// is in view mode 1, where three plain numbers are data, not the query answer.
pub(crate) fn qird(rest: &[u8], view1: bool) -> Shape {
    let mut s = Scan { b: rest, i: 0 };
    // Query totals are cumulative: up to 10 digits (u32).
    let first = step!(s.num(10));
    step!(s.byte(b','));
    match rest.get(s.i) {
        None => Shape::NeedMore,
        Some(b'"') => address_tail(&mut s, first),
        Some(c) if c.is_ascii_digit() && !view1 => {
            let read = step!(s.num(10));
            step!(s.byte(b','));
            let unread = step!(s.num(10));
            let end = step!(s.eol());
            match (
                u32::try_from(first),
                u32::try_from(read),
                u32::try_from(unread),
            ) {
                (Ok(total), Ok(read), Ok(unread)) => Shape::Query {
                    total,
                    read,
                    unread,
                    end,
                },
                _ => Shape::No,
            }
        }
        Some(_) => Shape::No,
    }
}

/// The address form after a recv URC's length: `rest` starts after `+QIURC: "recv",<id>,<len>,`.
pub(crate) fn recv_from(rest: &[u8], len: u32) -> Shape {
    let mut s = Scan { b: rest, i: 0 };
    address_tail(&mut s, u64::from(len))
}

/// `"<ip>",<port>` and a line end, at the cursor, for a header whose length is `len`.
fn address_tail(s: &mut Scan<'_>, len: u64) -> Shape {
    let ip = step!(s.address());
    step!(s.byte(b','));
    // More digits than a port has, or a sign, still make the address form: a broken one.
    let port = match s.num(10) {
        Step::Ok(p) => p,
        Step::More => return Shape::NeedMore,
        Step::No => return Shape::Bad,
    };
    let eol = s.i;
    match s.eol() {
        Step::Ok(_) => {}
        Step::More => return Shape::NeedMore,
        Step::No => return Shape::Bad,
    }
    let (Ok(port), Ok(len)) = (u16::try_from(port), u32::try_from(len)) else {
        return Shape::Bad;
    };
    let Some(ip) = super::addr::ip(ip.as_bytes()) else {
        return Shape::Bad;
    };
    Shape::From {
        len,
        remote: Remote { ip, port },
        eol,
    }
}

#[cfg(test)]
mod tests {
    use super::{Shape, qird, recv_from};

    #[test]
    fn query_only_in_view_mode_0() {
        assert!(matches!(
            qird(b"1396,1396,0\r\n", false),
            Shape::Query {
                total: 1396,
                read: 1396,
                unread: 0,
                end: 13
            }
        ));
        assert_eq!(qird(b"3,1,5\r\n", true), Shape::No);
        assert_eq!(qird(b"1396,1396,0", false), Shape::NeedMore);
        assert_eq!(qird(b"1396,1396,0\r", false), Shape::NeedMore);
        assert_eq!(qird(b"5,0\r\n", false), Shape::No);
        assert_eq!(qird(b"5,0,5x\r\n", false), Shape::No);
        assert_eq!(qird(b"12345678901,0,0\r\n", false), Shape::No);
    }

    #[test]
    fn address_form() {
        match qird(b"5,\"10.7.0.1\",5000\r\nhello", false) {
            Shape::From { len, remote, eol } => {
                assert_eq!(
                    (len, remote.socket_addr(), eol),
                    (5, "10.7.0.1:5000".parse().unwrap(), 17)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            qird(b"5,\"2001:db8::1\",53\r\n", true),
            Shape::From { .. }
        ));
        assert_eq!(qird(b"5,\"10.7.0", false), Shape::NeedMore);
        assert_eq!(qird(b"5,\"10.7.0.1\",", false), Shape::NeedMore);
        assert_eq!(qird(b"5,\"999.7.0.1\",5000\r\n", false), Shape::Bad);
        assert_eq!(qird(b"5,\"10.7.0.1\",70000\r\n", false), Shape::Bad);
        assert_eq!(qird(b"5,\"10.7.0.1\",-1\r\n", false), Shape::Bad);
        assert_eq!(qird(b"5,\"10.7.0.1\",50x\r\n", false), Shape::Bad);
        // Quoted hex data: no `,<port>` after the quote.
        assert_eq!(qird(b"4,\"54657374\"\r\n", true), Shape::No);
        assert_eq!(qird(b"4,\"hello\"\r\n", true), Shape::No);
        assert!(matches!(
            recv_from(b"\"1.2.3.4\",7\r\nabc", 3),
            Shape::From { len: 3, .. }
        ));
    }
}
