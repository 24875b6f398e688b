//! A fixed-size byte ring: a socket's receive buffer or send queue.
//!
//! Received payloads are written straight into it as the parser hands them out, *pending*
//! until the payload is known good: [`Ring::commit`] makes them readable, [`Ring::abort`]
//! forgets them (a payload whose announced length was wrong). Queued sends are read in place
//! ([`Ring::peek_at`]) while their command goes out and dropped ([`Ring::discard`]) once the
//! module has answered, so a command can be sent again whole.

/// A FIFO of at most `N` bytes, no allocation.
#[derive(Debug, Clone)]
pub struct Ring<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
    /// Bytes written after the readable ones, not committed yet.
    pending: usize,
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::NEW
    }
}

impl<const N: usize> Ring<N> {
    /// An empty ring.
    pub const NEW: Self = Ring {
        buf: [0; N],
        head: 0,
        len: 0,
        pending: 0,
    };

    /// Readable bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room left (pending bytes take room too).
    pub fn free(&self) -> usize {
        N - self.len - self.pending
    }

    /// Drop everything, pending bytes included.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.pending = 0;
    }

    /// The free room after the pending bytes, as up to two slices (it may wrap).
    fn room(&mut self) -> (&mut [u8], &mut [u8]) {
        let used = self.len + self.pending;
        if N == 0 || used >= N {
            return (&mut [], &mut []);
        }
        let tail = (self.head + used) % N;
        if tail >= self.head {
            // Free: tail..N, then 0..head.
            let (front, back) = self.buf.split_at_mut(tail);
            let head = self.head;
            (back, front.get_mut(..head).unwrap_or_default())
        } else {
            // Free: tail..head.
            let head = self.head;
            (self.buf.get_mut(tail..head).unwrap_or_default(), &mut [])
        }
    }

    /// Append as much of `data` as fits, readable at once; returns how much was taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = self.write_pending(data);
        self.commit();
        n
    }

    /// Append as much of `data` as fits as pending bytes; returns how much was taken.
    pub fn write_pending(&mut self, data: &[u8]) -> usize {
        let (a, b) = self.room();
        let first = data.len().min(a.len());
        a[..first].copy_from_slice(&data[..first]);
        let second = (data.len() - first).min(b.len());
        b[..second].copy_from_slice(&data[first..first + second]);
        let n = first + second;
        self.pending += n;
        n
    }

    /// Decode whole digit pairs of hex `text` into pending bytes, as many as fit; returns the
    /// bytes written. The caller has checked that `text` is hex.
    pub fn decode_hex_pending(&mut self, text: &[u8]) -> usize {
        let (a, b) = self.room();
        let mut pairs = text.chunks_exact(2);
        let mut n = 0;
        for slot in a.iter_mut().chain(b.iter_mut()) {
            let Some(pair) = pairs.next() else {
                break;
            };
            *slot = (crate::wire::hex::nibble(pair[0]) << 4) | crate::wire::hex::nibble(pair[1]);
            n += 1;
        }
        self.pending += n;
        n
    }

    /// Make the pending bytes readable; returns how many.
    pub fn commit(&mut self) -> usize {
        let n = self.pending;
        self.len += n;
        self.pending = 0;
        n
    }

    /// Forget the pending bytes.
    pub fn abort(&mut self) {
        self.pending = 0;
    }

    /// Copy readable bytes from `offset` on into `out`, without taking them; returns how many.
    pub fn peek_at(&self, offset: usize, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len.saturating_sub(offset));
        if N == 0 || n == 0 {
            return 0;
        }
        let start = (self.head + offset) % N;
        let first = n.min(N - start);
        out[..first].copy_from_slice(&self.buf[start..start + first]);
        out[first..n].copy_from_slice(&self.buf[..n - first]);
        n
    }

    /// Drop up to `n` readable bytes from the front; returns how many.
    #[inline(never)] // one copy for its callers (flash)
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.head = if N == 0 { 0 } else { (self.head + n) % N };
        self.len -= n;
        n
    }

    /// Keep only the first `n` readable bytes (drop the newest ones and any pending).
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
        self.pending = 0;
    }

    /// Move up to `out.len()` readable bytes out; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek_at(0, out);
        self.discard(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_keeps_order() {
        let mut r = Ring::<8>::default();
        let mut out = [0u8; 8];
        assert_eq!(r.write(b"abcdef"), 6);
        assert_eq!(r.read(&mut out[..4]), 4);
        assert_eq!(&out[..4], b"abcd");
        assert_eq!(r.write(b"ghijklmn"), 6, "only the free room is taken");
        assert_eq!(r.free(), 0);
        assert_eq!(r.read(&mut out), 8);
        assert_eq!(&out, b"efghijkl");
        assert_eq!(r.len(), 0);
        assert_eq!(r.read(&mut out), 0);
    }

    #[test]
    fn zero_sized_ring_takes_nothing() {
        let mut r = Ring::<0>::default();
        assert_eq!(r.write(b"abc"), 0);
        assert_eq!(r.write_pending(b"abc"), 0);
        assert_eq!(r.decode_hex_pending(b"4142"), 0);
        assert_eq!(r.read(&mut [0u8; 4]), 0);
        assert_eq!(r.peek_at(0, &mut [0u8; 4]), 0);
    }

    #[test]
    fn pending_bytes_are_invisible_until_committed_and_gone_when_aborted() {
        let mut r = Ring::<8>::default();
        let mut out = [0u8; 8];
        r.write(b"ab");
        assert_eq!(r.read(&mut out[..1]), 1);
        assert_eq!(r.write_pending(b"cdefghij"), 7, "wraps; room is 7");
        assert_eq!(r.len(), 1);
        assert_eq!(r.free(), 0);
        r.abort();
        assert_eq!(r.free(), 7);
        assert_eq!(r.decode_hex_pending(b"63646566"), 4);
        assert_eq!(r.commit(), 4);
        assert_eq!(r.read(&mut out), 5);
        assert_eq!(&out[..5], b"bcdef");
    }

    #[test]
    fn peek_and_discard_take_nothing_twice() {
        let mut r = Ring::<4>::default();
        r.write(b"xyzw");
        r.discard(2);
        r.write(b"uv");
        let mut out = [0u8; 3];
        assert_eq!(r.peek_at(1, &mut out), 3);
        assert_eq!(&out, b"wuv");
        assert_eq!(r.peek_at(4, &mut out), 0);
        assert_eq!(r.discard(9), 4);
        assert_eq!(r.len(), 0);
    }
}
