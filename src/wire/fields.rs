//! A cursor over the parameters of a complete line, field by field.
//!
//! Parameters are a comma-separated list: before every field but the first comes a comma, with
//! any spaces and tabs after it (spec 6.13); a field method takes that separator and the field
//! together. [`Fields::byte`] takes another separator instead (the `/`, `,` and `:` inside a
//! `+QNTP` time, which allow no spaces).
//!
//! Every method takes its field and returns it, or returns `None` and leaves the cursor where
//! it was, so a caller can try another form from the same place. Nothing here can panic:
//! slices are cut with checked splits, numbers with checked arithmetic.

/// The unread rest of a line's parameters.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
    /// A field has been taken: the next one needs a comma before it.
    comma_due: bool,
}

impl<'a> Fields<'a> {
    /// A cursor at the first field of `input`.
    pub(crate) const fn new(input: &'a [u8]) -> Self {
        Fields {
            rest: input,
            comma_due: false,
        }
    }

    /// `Some` when every byte has been taken.
    pub(crate) const fn done(&self) -> Option<()> {
        if self.rest.is_empty() { Some(()) } else { None }
    }

    /// Run `parse`, keeping what it took only when it succeeds: an optional field or group,
    /// or one of several forms.
    pub(crate) fn attempt<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let mut f = *self;
        let value = parse(&mut f)?;
        *self = f;
        Some(value)
    }

    /// `parse` over all of the rest: `None` unless it succeeds and leaves nothing.
    pub(crate) fn all<T>(mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let value = parse(&mut self)?;
        self.done()?;
        Some(value)
    }

    /// The byte `c` as the separator before the next field (instead of a comma).
    pub(crate) fn byte(&mut self, c: u8) -> Option<()> {
        match self.rest.split_first() {
            Some((&b, tail)) if b == c => {
                self.rest = tail;
                self.comma_due = false;
                Some(())
            }
            _ => None,
        }
    }

    /// A field: everything that is left (maybe nothing).
    pub(crate) fn rest(&mut self) -> Option<&'a [u8]> {
        self.separator()?;
        Some(core::mem::take(&mut self.rest))
    }

    /// A field: a double-quoted string (anything up to the next `"`), without its quotes.
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
        let mut f = *self;
        f.separator()?;
        f.byte(b'"')?;
        let inner = f.span(|b| b != b'"');
        f.byte(b'"')?;
        f.comma_due = true;
        *self = f;
        Some(inner)
    }

    /// A field: one or more bytes up to the next comma (or the end).
    pub(crate) fn until_comma(&mut self) -> Option<&'a [u8]> {
        self.span1(|b| b != b',')
    }

    /// A field: one or more ASCII digits, as they are.
    pub(crate) fn digits(&mut self) -> Option<&'a [u8]> {
        self.span1(|b| b.is_ascii_digit())
    }

    /// A field: a decimal `u8`, one or more digits (all of them) and no sign. Too large a
    /// number is no number.
    #[inline(never)]
    pub(crate) fn u8(&mut self) -> Option<u8> {
        // At most `u8::MAX`: the cast keeps the value.
        self.number(u8::MAX.into()).map(|n| n as u8)
    }

    /// A field: a decimal `u16`, as [`Fields::u8`].
    #[inline(never)]
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.number(u16::MAX.into()).map(|n| n as u16)
    }

    /// A field: a decimal `u32`, as [`Fields::u8`].
    #[inline(never)]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.number(u32::MAX)
    }

    /// A field: a decimal `i16`, an optional `-` or `+` and then digits as [`Fields::u8`].
    pub(crate) fn i16(&mut self) -> Option<i16> {
        let mut f = *self;
        f.separator()?;
        let negative = f.eat(b'-');
        if !negative {
            f.eat(b'+');
        }
        let magnitude = i32::try_from(f.number(0x8000)?).ok()?;
        let n = i16::try_from(if negative { -magnitude } else { magnitude }).ok()?;
        *self = f;
        Some(n)
    }

    /// A field: the number in the digits at the cursor, if it is at most `max`. The one digit
    /// loop of every number type.
    #[inline(never)]
    fn number(&mut self, max: u32) -> Option<u32> {
        let before = *self;
        let mut n: u32 = 0;
        for &d in self.digits()? {
            // `d` is an ASCII digit: its low four bits are its value.
            match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u32::from(d & 0x0f)))
            {
                Some(next) if next <= max => n = next,
                _ => {
                    *self = before;
                    return None;
                }
            }
        }
        Some(n)
    }

    /// The separator due before the next field, if one is (`None` leaves the cursor alone).
    fn separator(&mut self) -> Option<()> {
        if self.comma_due {
            self.byte(b',')?;
            self.span(|b| b == b' ' || b == b'\t');
        }
        Some(())
    }

    /// Take `c` if it is the next byte; true if it was.
    fn eat(&mut self, c: u8) -> bool {
        self.byte(c).is_some()
    }

    /// The bytes while `keep` holds (maybe none), not as a field.
    fn span(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let len = self
            .rest
            .iter()
            .position(|&b| !keep(b))
            .unwrap_or(self.rest.len());
        let (head, tail) = self.rest.split_at_checked(len).unwrap_or((self.rest, &[]));
        self.rest = tail;
        head
    }

    /// A field: one or more bytes while `keep` holds.
    fn span1(&mut self, keep: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let mut f = *self;
        f.separator()?;
        let head = f.span(keep);
        if head.is_empty() {
            return None;
        }
        f.comma_due = true;
        *self = f;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    /// The number and how many bytes are left.
    fn u8s(s: &[u8]) -> (Option<u8>, usize) {
        let mut f = Fields::new(s);
        (f.u8(), f.rest.len())
    }

    fn i16s(s: &[u8]) -> (Option<i16>, usize) {
        let mut f = Fields::new(s);
        (f.i16(), f.rest.len())
    }

    #[test]
    fn unsigned_numbers() {
        assert_eq!(u8s(b"0"), (Some(0), 0));
        assert_eq!(u8s(b"255"), (Some(255), 0));
        assert_eq!(u8s(b"000000000000000000255x"), (Some(255), 1));
        // Too large, also with digits to spare: nothing is taken.
        assert_eq!(u8s(b"256"), (None, 3));
        assert_eq!(u8s(b"2550"), (None, 4));
        assert_eq!(u8s(b"99999999999999999999"), (None, 20));
        assert_eq!(u8s(b"+1"), (None, 2));
        assert_eq!(u8s(b"-1"), (None, 2));
        assert_eq!(u8s(b" 1"), (None, 2));
        assert_eq!(u8s(b""), (None, 0));
        assert_eq!(Fields::new(b"65535").u16(), Some(65535));
        assert_eq!(Fields::new(b"65536").u16(), None);
        assert_eq!(Fields::new(b"4294967295").u32(), Some(u32::MAX));
        assert_eq!(Fields::new(b"4294967296").u32(), None);
    }

    #[test]
    fn signed_numbers() {
        assert_eq!(i16s(b"-32768"), (Some(i16::MIN), 0));
        assert_eq!(i16s(b"+32767,"), (Some(i16::MAX), 1));
        assert_eq!(i16s(b"32767"), (Some(i16::MAX), 0));
        assert_eq!(i16s(b"-0"), (Some(0), 0));
        assert_eq!(i16s(b"32768"), (None, 5));
        assert_eq!(i16s(b"+32768"), (None, 6));
        assert_eq!(i16s(b"-32769"), (None, 6));
        assert_eq!(i16s(b"-"), (None, 1));
        assert_eq!(i16s(b"+"), (None, 1));
        assert_eq!(i16s(b"+-1"), (None, 3));
        assert_eq!(i16s(b"--1"), (None, 3));
        assert_eq!(i16s(b""), (None, 0));
    }

    #[test]
    fn separators_and_strings() {
        let mut f = Fields::new(b"1, \t -2,\"a,b\",\"x,y");
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.i16(), Some(-2));
        assert_eq!(f.quoted(), Some(&b"a,b"[..]));
        // No closing quote: nothing is taken; then the bytes up to the next comma.
        assert_eq!(f.quoted(), None);
        assert_eq!(f.until_comma(), Some(&b"\"x"[..]));
        assert_eq!(f.until_comma(), Some(&b"y"[..]));
        assert_eq!(f.done(), Some(()));
        assert_eq!(f.until_comma(), None);
        assert_eq!(f.rest(), None, "a comma is due");
        let mut f = Fields::new(b"1 ,2");
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.u8(), None);
        assert_eq!(Fields::new(b"\"\"").quoted(), Some(&b""[..]));
        assert_eq!(Fields::new(b"").rest(), Some(&b""[..]));
    }

    #[test]
    fn other_separators() {
        let mut f = Fields::new(b"21/3:+4");
        assert_eq!(f.digits(), Some(&b"21"[..]));
        assert_eq!(f.u8(), None, "a comma is due");
        assert_eq!(f.byte(b'/'), Some(()));
        assert_eq!(f.u8(), Some(3));
        assert_eq!(f.byte(b','), None);
        assert_eq!(f.byte(b':'), Some(()));
        assert_eq!(f.byte(b'+'), Some(()));
        assert_eq!(f.u8(), Some(4));
        assert_eq!(f.done(), Some(()));
        let mut f = Fields::new(b"1/ 2");
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.byte(b'/'), Some(()));
        assert_eq!(f.u8(), None, "no spaces after other separators");
    }

    #[test]
    fn attempt_rolls_back() {
        let mut f = Fields::new(b"1,x");
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.attempt(|f| f.u8()), None);
        assert_eq!(f.attempt(|f| f.rest()), Some(&b"x"[..]));
        let mut f = Fields::new(b"1,2,x");
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.attempt(|f| f.u8().zip(f.u8())), None);
        assert_eq!(f.u8(), Some(2));
    }
}
