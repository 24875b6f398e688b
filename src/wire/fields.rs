//! A cursor over the parameters of a complete line: numbers, separators, quoted strings.
//!
//! Every method takes one field off the front and returns it, or returns `None` and leaves the
//! cursor where it was, so a caller can try another form of the field from the same place.
//! Nothing here can panic: slices are cut with checked splits, numbers with checked arithmetic.

/// The unread rest of a line's parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// A cursor at the start of `input`.
    pub(crate) const fn new(input: &'a [u8]) -> Self {
        Fields { rest: input }
    }

    /// `Some` when every byte has been taken.
    pub(crate) const fn done(&self) -> Option<()> {
        if self.rest.is_empty() { Some(()) } else { None }
    }

    /// Everything not taken yet (the cursor is then done).
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Take `c` if it is the next byte; true if it was.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        match self.rest.split_first() {
            Some((&b, tail)) if b == c => {
                self.rest = tail;
                true
            }
            _ => false,
        }
    }

    /// The byte `c`.
    pub(crate) fn byte(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// A separator: a comma, with any spaces and tabs after it (spec 6.13).
    pub(crate) fn comma(&mut self) -> Option<()> {
        self.byte(b',')?;
        self.span(|b| b == b' ' || b == b'\t');
        Some(())
    }

    /// A double-quoted string (anything up to the next `"`), without its quotes.
    pub(crate) fn quoted(&mut self) -> Option<&'a [u8]> {
        let mut f = *self;
        f.byte(b'"')?;
        let inner = f.span(|b| b != b'"');
        f.byte(b'"')?;
        *self = f;
        Some(inner)
    }

    /// One or more bytes up to the next comma (or the end).
    pub(crate) fn until_comma(&mut self) -> Option<&'a [u8]> {
        self.span1(|b| b != b',')
    }

    /// One or more ASCII digits, as they are.
    pub(crate) fn digits(&mut self) -> Option<&'a [u8]> {
        self.span1(|b| b.is_ascii_digit())
    }

    /// A decimal `u8`: one or more digits (all of them), no sign; too large a number is no
    /// number.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.uint(u8::MAX.into()).and_then(|n| n.try_into().ok())
    }

    /// A decimal `u16`, as [`Fields::u8`].
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.uint(u16::MAX.into()).and_then(|n| n.try_into().ok())
    }

    /// A decimal `u32`, as [`Fields::u8`].
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.uint(u32::MAX)
    }

    /// A decimal `i16`: an optional `-` or `+`, then digits as [`Fields::u8`]; -32768 to 32767.
    pub(crate) fn i16(&mut self) -> Option<i16> {
        let mut f = *self;
        let negative = f.eat(b'-');
        if !negative {
            f.eat(b'+');
        }
        let magnitude = i32::try_from(f.uint(0x8000)?).ok()?;
        let n = i16::try_from(if negative { -magnitude } else { magnitude }).ok()?;
        *self = f;
        Some(n)
    }

    /// Run `parse`, keeping what it took only when it succeeds: an optional or an alternative
    /// group of fields.
    pub(crate) fn attempt<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let mut f = *self;
        let value = parse(&mut f)?;
        *self = f;
        Some(value)
    }

    /// The number in the digits at the cursor, if it is at most `max`. The one digit loop of
    /// every number type.
    #[inline(never)]
    fn uint(&mut self, max: u32) -> Option<u32> {
        let mut f = *self;
        let mut n: u32 = 0;
        for &d in f.digits()? {
            // `d` is an ASCII digit: its low four bits are its value.
            n = n.checked_mul(10)?.checked_add(u32::from(d & 0x0f))?;
        }
        if n > max {
            return None;
        }
        *self = f;
        Some(n)
    }

    /// The bytes while `keep` holds (maybe none).
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

    /// As [`Fields::span`], but at least one byte.
    fn span1(&mut self, keep: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let mut f = *self;
        let head = f.span(keep);
        if head.is_empty() {
            return None;
        }
        *self = f;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    fn u8s(s: &[u8]) -> (Option<u8>, usize) {
        let mut f = Fields::new(s);
        (f.u8(), f.rest().len())
    }

    fn i16s(s: &[u8]) -> (Option<i16>, usize) {
        let mut f = Fields::new(s);
        (f.i16(), f.rest().len())
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
        let mut f = Fields::new(b", \t 1,\"a,b\",\"x,y");
        assert_eq!(f.comma(), Some(()));
        assert_eq!(f.u8(), Some(1));
        assert_eq!(f.comma(), Some(()));
        assert_eq!(f.quoted(), Some(&b"a,b"[..]));
        assert_eq!(f.comma(), Some(()));
        // No closing quote: nothing is taken; then the bytes up to the end.
        assert_eq!(f.quoted(), None);
        assert_eq!(f.until_comma(), Some(&b"\"x"[..]));
        assert_eq!(f.comma(), Some(()));
        assert_eq!(f.until_comma(), Some(&b"y"[..]));
        assert_eq!(f.done(), Some(()));
        assert_eq!(f.until_comma(), None);
        assert_eq!(Fields::new(b" ,").comma(), None);
        assert_eq!(Fields::new(b"\"\"").quoted(), Some(&b""[..]));
    }

    #[test]
    fn attempt_rolls_back() {
        let mut f = Fields::new(b",x");
        assert_eq!(f.attempt(|f| f.comma().and_then(|()| f.u8())), None);
        assert_eq!(f.rest(), b",x");
    }
}
