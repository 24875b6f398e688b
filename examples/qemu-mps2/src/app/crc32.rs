//! CRC-32 (IEEE 802.3, as zlib's `crc32`), bitwise: no table, a few dozen bytes of code.

/// A running CRC-32.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    /// The CRC of nothing yet.
    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Add `data`.
    pub fn update(&mut self, data: &[u8]) {
        let mut crc = self.0;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        self.0 = crc;
    }

    /// The CRC of everything added.
    pub const fn value(&self) -> u32 {
        !self.0
    }
}

/// Checked against zlib's value at start-up by both firmwares (a wrong CRC must not pass).
pub fn self_test() -> bool {
    let mut c = Crc32::new();
    c.update(b"123456789");
    c.value() == 0xCBF4_3926
}
