//! A fixed-size byte ring: the receive buffer of one socket.

/// A FIFO of at most `N` bytes, no allocation.
#[derive(Debug, Clone)]
pub struct Ring<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Ring {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }
}

impl<const N: usize> Ring<N> {
    /// Bytes stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room left.
    pub fn free(&self) -> usize {
        N - self.len
    }

    /// Drop everything.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Append as much of `data` as fits; returns how much was taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let tail = (self.head + self.len) % N.max(1);
        let first = n.min(N - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// Move up to `out.len()` bytes out; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let first = n.min(N - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        out[first..n].copy_from_slice(&self.buf[..n - first]);
        self.head = if N == 0 { 0 } else { (self.head + n) % N };
        self.len -= n;
        n
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
        assert_eq!(r.read(&mut [0u8; 4]), 0);
    }
}
