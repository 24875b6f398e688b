//! Parameters of a host command line: splitting at commas outside quotes, and typed reads
//! with the range checks of the manual (out of range, missing or malformed gives 552).

use std::string::String;
use std::vec::Vec;

use super::commands::Reject;
use crate::types::{ConnectId, QiError};

pub(crate) const BAD: Reject = Reject::Invalid(QiError::InvalidParameters);
pub(crate) const UNSUPPORTED: Reject = Reject::Invalid(QiError::NotSupported);

type Parsed<T> = Result<T, Reject>;

/// One parameter of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg<'a> {
    /// Nothing between two commas.
    Empty,
    /// An unquoted value (spaces around it removed).
    Bare(&'a [u8]),
    /// A quoted string, without its quotes.
    Quoted(&'a [u8]),
}

/// Split `s` at commas outside quotes. An unterminated quote makes the whole line invalid.
pub(crate) fn split_args(s: &[u8]) -> Parsed<Vec<Arg<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let t = trim(rest);
        let (arg, after) = if let Some(inner) = t.strip_prefix(b"\"") {
            let end = inner.iter().position(|&c| c == b'"').ok_or(BAD)?;
            let after = trim(&inner[end + 1..]);
            (Arg::Quoted(&inner[..end]), after)
        } else {
            let end = t.iter().position(|&c| c == b',').unwrap_or(t.len());
            let v = trim(&t[..end]);
            let arg = if v.is_empty() {
                Arg::Empty
            } else {
                Arg::Bare(v)
            };
            (arg, &t[end..])
        };
        out.push(arg);
        match after.first() {
            None => return Ok(out),
            Some(b',') => rest = &after[1..],
            Some(_) => return Err(BAD),
        }
    }
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ', r @ ..] = s {
        s = r;
    }
    while let [r @ .., b' '] = s {
        s = r;
    }
    s
}

pub(crate) fn num(arg: Option<&Arg<'_>>, min: u32, max: u32) -> Parsed<u32> {
    match arg {
        Some(Arg::Bare(v)) if !v.is_empty() && v.len() <= 9 && v.iter().all(u8::is_ascii_digit) => {
            let n = v.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            if (min..=max).contains(&n) {
                Ok(n)
            } else {
                Err(BAD)
            }
        }
        _ => Err(BAD),
    }
}

/// An optional trailing number: absent or empty gives the default.
pub(crate) fn opt_num(arg: Option<&Arg<'_>>, min: u32, max: u32, default: u32) -> Parsed<u32> {
    match arg {
        None | Some(Arg::Empty) => Ok(default),
        a => num(a, min, max),
    }
}

pub(crate) fn text(arg: Option<&Arg<'_>>) -> Parsed<String> {
    match arg {
        Some(Arg::Quoted(v)) if !v.is_empty() => {
            let s = core::str::from_utf8(v).map_err(|_| BAD)?;
            if s.chars().any(char::is_control) {
                return Err(BAD);
            }
            Ok(String::from(s))
        }
        _ => Err(BAD),
    }
}

pub(crate) fn connect_id(arg: Option<&Arg<'_>>) -> Parsed<ConnectId> {
    let n = num(arg, 0, 4)?;
    ConnectId::new(n as u8).ok_or(BAD)
}

/// `contextID`: 1..=3 in syntax (0..=3 on a module whose context is 0; else 552), only the
/// module's own supported (else 555): 1, or 0 on the BC660K (see
/// [`super::commands::parse_for`]).
pub(crate) fn context(arg: Option<&Arg<'_>>, want: u8) -> Parsed<()> {
    let n = num(arg, u32::from(want.min(1)), 3)?;
    if n == u32::from(want) {
        Ok(())
    } else {
        Err(UNSUPPORTED)
    }
}

pub(crate) fn arity(args: &[Arg<'_>], min: usize, max: usize) -> Parsed<()> {
    if (min..=max).contains(&args.len()) {
        Ok(())
    } else {
        Err(BAD)
    }
}
