//! What goes out: the command in flight, a piece at a time.
//!
//! A command without data is encoded whole into `tx` (at most
//! [`MAX_CONTROL_LEN`](crate::wire::MAX_CONTROL_LEN) bytes). A send command is its head
//! (`AT+QISENDEX=<id>,<len>,`), then its data read in place from the socket's send queue, as
//! text or hex, a piece at a time, then `\r`: no buffer holds a whole send command.

use super::jobs::Job;
use super::{State, TxBody};
use crate::error::Error;
use crate::types::ConnectId;
use crate::wire::{Command, MAX_CONTROL_LEN, encode_send_head, hex};

/// Data bytes read from a send queue at a time for hex encoding.
const HEX_CHUNK: usize = 32;

/// A length within the transmit buffer, as the state keeps it (two bytes: the buffer is
/// [`MAX_CONTROL_LEN`] long, far below 64 KiB).
fn tx_len(n: usize) -> u16 {
    const { assert!(MAX_CONTROL_LEN <= u16::MAX as usize) };
    n.min(MAX_CONTROL_LEN) as u16
}

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// True while a command is still being written.
    pub(super) fn tx_busy(&self) -> bool {
        self.tx_pos < self.tx_len || self.tx_body.is_some()
    }

    /// Encode a command without data as the next thing to write.
    pub(super) fn load_command(&mut self, cmd: &Command<'_>) -> Result<(), Error> {
        let n = cmd.encode(&mut self.tx)?;
        crate::fmt::trace!("bc20 > {}", crate::fmt::Printable(&self.tx[..n]));
        self.tx_len = tx_len(n);
        self.tx_pos = 0;
        self.tx_body = None;
        self.tx_fresh = true;
        self.tx_last = true;
        Ok(())
    }

    /// Load the head of a send of the first `len` queued bytes of `id`; the data follows.
    pub(super) fn load_send(&mut self, id: ConnectId, len: usize, hex: bool) -> Result<(), Error> {
        let n = encode_send_head(id, len, hex, &mut self.tx)?;
        crate::fmt::trace!(
            "bc20 > {}<{} bytes>",
            crate::fmt::Printable(&self.tx[..n]),
            len
        );
        self.tx_len = tx_len(n);
        self.tx_pos = 0;
        self.tx_body = Some(TxBody {
            id,
            offset: 0,
            left: len,
            hex,
        });
        self.tx_fresh = true;
        self.tx_last = false;
        Ok(())
    }

    /// Start writing the command in flight again from its first byte (it was lost to sleep).
    pub(super) fn reload(&mut self) {
        match self.inflight.as_ref().map(|f| f.job) {
            Some(Job::Send { id, len, hex }) => {
                if self.load_send(id, len, hex).is_err() {
                    self.tx_pos = 0;
                }
            }
            _ => {
                self.tx_pos = 0;
                self.tx_fresh = true;
            }
        }
    }

    /// When the piece in `tx` is written: the next piece of the data, or the next command.
    pub(super) fn next_piece(&mut self) {
        if self.waking.is_some() || self.tx_pos < self.tx_len {
            return;
        }
        let Some(body) = self.tx_body else {
            self.schedule();
            return;
        };
        if body.left == 0 {
            self.tx[0] = b'\r';
            self.tx_len = 1;
            self.tx_pos = 0;
            self.tx_body = None;
            self.tx_last = true;
            return;
        }
        let Some(queue) = self.sockets.get(body.id.index()).map(|s| &s.tx) else {
            self.end_early();
            return;
        };
        let mut filled = 0;
        let mut taken = 0;
        if body.hex {
            let mut chunk = [0u8; HEX_CHUNK];
            while taken < body.left && filled + 2 * HEX_CHUNK <= self.tx.len() {
                let want = (body.left - taken).min(HEX_CHUNK);
                let k = queue.peek_at(body.offset + taken, &mut chunk[..want]);
                if k == 0 {
                    break;
                }
                let out = self.tx.get_mut(filled..).unwrap_or_default();
                filled += hex::encode_into(&chunk[..k], out).unwrap_or(0);
                taken += k;
            }
        } else {
            let want = body.left.min(self.tx.len());
            taken = queue.peek_at(body.offset, &mut self.tx[..want]);
            filled = taken;
        }
        if taken == 0 {
            // The queue no longer holds what the head announced: end the line, so the module
            // answers (an error) instead of waiting for data that never comes.
            self.end_early();
            return;
        }
        self.tx_len = tx_len(filled);
        self.tx_pos = 0;
        self.tx_body = Some(TxBody {
            offset: body.offset + taken,
            left: body.left - taken,
            ..body
        });
    }

    fn end_early(&mut self) {
        crate::fmt::error!("bc20: send data missing; ending the command early");
        self.tx[0] = b'\r';
        self.tx_len = 1;
        self.tx_pos = 0;
        self.tx_body = None;
        self.tx_last = true;
    }

    /// `n` bytes of the current piece were written.
    pub(super) fn wrote(&mut self, n: usize) {
        let n = n.min(usize::from(self.tx_len.saturating_sub(self.tx_pos)));
        self.tx_pos += tx_len(n);
        if n > 0 {
            self.tx_fresh = false;
        }
        if self.tx_pos == self.tx_len && self.tx_last && self.tx_body.is_none() && n > 0 {
            self.sent_out();
        }
    }
}
