//! The module's output stage: whole frames in, bytes out when they are due.
//!
//! Faults that act on the output (delay, chunking, noise lines, line noise) act here, on whole
//! frames, so a noise line can only ever land between two frames, never inside a line or a
//! payload. UART pacing (when a baud rate is set) limits how fast the bytes leave.

use std::collections::VecDeque;
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::faults::{DEFAULT_NOISE, FaultKind, Injector, Which};

/// Time a UART takes per byte at `baud` (10 bits a byte: start, 8 data, stop).
pub(crate) fn byte_time(baud: u32) -> Duration {
    Duration::from_nanos(10_000_000_000 / u64::from(baud.max(1)))
}

/// A byte-rate limiter.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    byte_time: Duration,
    free_at: Instant,
}

impl Pace {
    pub(crate) fn new(baud: u32, now: Instant) -> Self {
        Pace {
            byte_time: byte_time(baud),
            free_at: now,
        }
    }

    /// How many of `want` bytes have been on the wire by `now`, when the first of them could
    /// start at `floor` at the earliest. Counts them as sent.
    pub(crate) fn take(&mut self, now: Instant, floor: Instant, want: usize) -> usize {
        if self.free_at < floor {
            self.free_at = floor;
        }
        if now < self.free_at {
            return 0;
        }
        let bt = self.byte_time.as_nanos().max(1);
        let n = ((now - self.free_at).as_nanos() / bt).min(want as u128) as usize;
        self.free_at += self.byte_time * n as u32;
        n
    }

    /// One byte's time.
    pub(crate) fn byte_time(&self) -> Duration {
        self.byte_time
    }
}

#[derive(Debug)]
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
    sent: usize,
}

/// The queue of module output.
#[derive(Debug)]
pub(crate) struct Output {
    queue: VecDeque<Chunk>,
    last_due: Option<Instant>,
    pace: Option<Pace>,
    queued: usize,
    /// Bytes ever queued, and ever sent or dropped (to tell when a given frame has gone out).
    enqueued_total: u64,
    done_total: u64,
}

impl Output {
    pub(crate) fn new(pace: Option<Pace>) -> Self {
        Output {
            queue: VecDeque::new(),
            last_due: None,
            pace,
            queued: 0,
            enqueued_total: 0,
            done_total: 0,
        }
    }

    /// Bytes waiting to go out.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// A mark that [`Output::is_past`] compares with: everything queued so far.
    pub(crate) fn mark(&self) -> u64 {
        self.enqueued_total
    }

    /// True once everything queued before `mark` has been sent (or dropped).
    pub(crate) fn is_past(&self, mark: u64) -> bool {
        self.done_total >= mark
    }

    /// Drop everything not yet sent (a reboot).
    pub(crate) fn clear(&mut self) {
        self.done_total = self.enqueued_total;
        self.queue.clear();
        self.queued = 0;
        self.last_due = None;
    }

    /// Queue one frame, no earlier than `now + min_delay` and after everything queued before.
    /// Faults may delay, chunk or corrupt it, or put a noise line before it. Returns true when
    /// the noise line put before it was a `pdpdeact` URC (the caller must then drop every
    /// socket, as the module would).
    pub(crate) fn push(
        &mut self,
        now: Instant,
        min_delay: Duration,
        mut bytes: Vec<u8>,
        inj: &mut Injector,
    ) -> bool {
        let mut pdp_lost = false;
        if bytes.is_empty() {
            return pdp_lost;
        }
        let mut due = (now + min_delay).max(self.last_due.unwrap_or(now));
        if inj.fire(Which::Noise) {
            let line: String = if inj.cfg.noise_lines.is_empty() {
                let i = inj.rng.below(DEFAULT_NOISE.len() as u64) as usize;
                DEFAULT_NOISE[i].into()
            } else {
                let i = inj.rng.below(inj.cfg.noise_lines.len() as u64) as usize;
                inj.cfg.noise_lines[i].clone()
            };
            pdp_lost = line.contains("\"pdpdeact\"");
            inj.record(now, FaultKind::Noise(line.clone()));
            self.enqueue(due, std::format!("\r\n{line}\r\n").into_bytes());
        }
        if inj.fire(Which::LineNoise) {
            let offset = inj.rng.below(bytes.len() as u64) as usize;
            let mask = if inj.rng.below(2) == 0 {
                bytes.remove(offset);
                0
            } else {
                let m = 1u8 << inj.rng.below(8);
                bytes[offset] ^= m;
                m
            };
            inj.record(now, FaultKind::LineNoise { offset, mask });
            if bytes.is_empty() {
                return pdp_lost;
            }
        }
        if inj.fire(Which::Delay) {
            let (lo, hi) = inj.cfg.delay_range;
            let d = inj.rng.duration(lo, hi);
            inj.record(now, FaultKind::Delay(d));
            due += d;
        }
        if inj.fire(Which::Chunking) && bytes.len() > 1 {
            let max = inj.cfg.chunk_max.max(1);
            let gap = inj.cfg.chunk_gap;
            let len = bytes.len();
            let mut rest = bytes.as_slice();
            let mut chunks = 0;
            while !rest.is_empty() {
                let n = (1 + inj.rng.below(max as u64) as usize).min(rest.len());
                self.enqueue(due, rest[..n].to_vec());
                rest = &rest[n..];
                chunks += 1;
                due += inj.rng.duration(Duration::ZERO, gap);
            }
            inj.record(now, FaultKind::Chunked { len, chunks });
        } else {
            self.enqueue(due, bytes);
        }
        pdp_lost
    }

    fn enqueue(&mut self, due: Instant, bytes: Vec<u8>) {
        self.queued += bytes.len();
        self.enqueued_total += bytes.len() as u64;
        self.last_due = Some(due);
        self.queue.push_back(Chunk {
            due,
            bytes,
            sent: 0,
        });
    }

    /// Copy the bytes due by `now` into `buf` (at most one chunk's worth, so gaps between
    /// chunks reach the host as separate reads). Returns how many.
    pub(crate) fn poll(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        let Some(front) = self.queue.front_mut() else {
            self.last_due = None;
            return 0;
        };
        if front.due > now {
            return 0;
        }
        let mut n = (front.bytes.len() - front.sent).min(buf.len());
        if let Some(p) = &mut self.pace {
            n = p.take(now, front.due, n);
        }
        buf[..n].copy_from_slice(&front.bytes[front.sent..front.sent + n]);
        front.sent += n;
        self.queued -= n;
        self.done_total += n as u64;
        if front.sent == front.bytes.len() {
            self.queue.pop_front();
            if self.queue.is_empty() {
                self.last_due = None;
            }
        }
        n
    }

    /// When the next byte may be due (for a caller that wants to sleep).
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|c| c.due)
    }
}
