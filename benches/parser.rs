//! Parser throughput on two deterministic ~1 MiB streams of module output, against a `memchr`
//! line scan of the same bytes as the machine's baseline.
//!
//! - control: short responses and URCs, small direct pushes (1..=32 bytes) and reads;
//! - bulk: mostly 512-byte payloads, from `AT+QIRD` and from direct push.
//!
//! Each stream is parsed five ways:
//! - `parser_whole` / `parser_chunked_64`: the whole-frame API (`Parser::parse`), over the whole
//!   stream, and in 64-byte reads through an accumulating buffer that must hold a whole frame;
//! - `stream_whole`: the streaming API the engine uses (`Parser::stream`) over the whole
//!   stream, as it lies in memory;
//! - `stream_chunked_64`: the same in 64-byte reads, the way the engine takes reads it is
//!   handed (`Engine::handle_rx`, the async stack): each read is framed where it lies and only
//!   an unfinished line is staged, so payload pieces come straight out of the reads;
//! - `stream_staged_64`: the same in 64-byte reads that land in the staging buffer first
//!   (`Engine::rx_space` / `rx_commit`, the blocking stack): the copy into the buffer stands
//!   for the UART read, which `stream_whole` does not pay for.
//!
//! The goal is `stream_chunked_64` at 90 % or more of `stream_whole` on bulk traffic: the
//! parser's cost per read must be small beside its cost per frame. Baselines: `memchr`
//! counting the line ends of the same stream, `memchr` visiting each line end, and
//! `reads_64`: the 64-byte reads of `stream_staged_64` copied into its buffer and handed on
//! without parsing, the part of that loop that is not the parser's.
//! Run with `cargo bench --bench parser`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quectel_bc20::wire::{Frame, ParseContext, Parser, Stream};
use quectel_bc20::{AccessMode, ConnectId};

const STREAM_LEN: usize = 1 << 20;
const READ: usize = 64;
/// The driver's receive buffer: a frame plus a read always fits.
const BUF_LEN: usize = 4096;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, out: &mut Vec<u8>, n: usize) {
        // Mostly text, with line ends and binary bytes in it: payloads are framed by length.
        for _ in 0..n {
            let r = self.next();
            out.push(match r % 16 {
                0 => b'\r',
                1 => b'\n',
                2 => (r >> 8) as u8,
                _ => b' ' + ((r >> 8) % 95) as u8,
            });
        }
    }
}

/// Sockets 0 and 1 in buffer access mode, 2..=4 in direct push.
fn context() -> ParseContext {
    let mut ctx = ParseContext::default();
    for id in 2..5 {
        ctx.set_access_mode(ConnectId::new(id).unwrap(), AccessMode::DirectPush);
    }
    ctx
}

/// What a stream should parse to.
struct Expected {
    payload_bytes: u64,
}

fn push(out: &mut Vec<u8>, rng: &mut Rng, id: u64, len: usize) -> u64 {
    out.extend(format!("\r\n+QIURC: \"recv\",{id},{len}\r\n").bytes());
    rng.bytes(out, len);
    out.extend(b"\r\n");
    len as u64
}

fn read(out: &mut Vec<u8>, rng: &mut Rng, len: usize) -> u64 {
    out.extend(format!("\r\n+QIRD: {len}\r\n").bytes());
    rng.bytes(out, len);
    out.extend(b"\r\n\r\nOK\r\n");
    len as u64
}

fn control_stream() -> (Vec<u8>, Expected) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(STREAM_LEN + 1024);
    let mut payload_bytes = 0;
    while out.len() < STREAM_LEN {
        let id = rng.below(2);
        match rng.below(14) {
            0 => out.extend(b"\r\nOK\r\n"),
            1 => out.extend(b"\r\nSEND OK\r\n"),
            2 => out.extend(format!("AT+QISEND={},8,abcdefgh\r\r\nOK\r\n", 2 + id).bytes()),
            3 => out.extend(format!("\r\n+QIURC: \"recv\",{id}\r\n").bytes()),
            4 => out.extend(format!("\r\n+QIOPEN: {},0\r\n", rng.below(5)).bytes()),
            5 => out.extend(
                format!(
                    "\r\n+QISTATE: {id},\"TCP\",\"220.180.239.212\",8062,{},2,1,0\r\n\r\nOK\r\n",
                    1024 + rng.below(60000)
                )
                .bytes(),
            ),
            6 => out.extend(
                b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,600\r\n\r\n+QIURC: \"dnsgip\",\"93.184.216.34\"\r\n",
            ),
            7 => out.extend(b"\r\n+CEREG: 1,\"0001\",\"0000ABCD\",9\r\n"),
            8 => out.extend(format!("\r\n+QIURC: \"closed\",{id}\r\n").bytes()),
            9 => out.extend(b"\r\n+QPING: 0,\"220.180.239.212\",32,192,255\r\n"),
            10 | 11 => {
                let (id, len) = (2 + rng.below(3), 1 + rng.below(32) as usize);
                payload_bytes += push(&mut out, &mut rng, id, len);
            }
            12 => {
                let len = 1 + rng.below(32) as usize;
                payload_bytes += read(&mut out, &mut rng, len);
            }
            _ => out.extend(b"\r\n+QIRD: 0\r\n\r\nOK\r\n"),
        }
    }
    (out, Expected { payload_bytes })
}

fn bulk_stream() -> (Vec<u8>, Expected) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = Vec::with_capacity(STREAM_LEN + 1024);
    let mut payload_bytes = 0;
    while out.len() < STREAM_LEN {
        match rng.below(10) {
            0..=4 => payload_bytes += read(&mut out, &mut rng, 512),
            5..=8 => {
                let id = 2 + rng.below(3);
                payload_bytes += push(&mut out, &mut rng, id, 512);
            }
            _ => out.extend(b"\r\n+QIURC: \"recv\",0\r\n\r\nSEND OK\r\n"),
        }
    }
    (out, Expected { payload_bytes })
}

/// Frames and a checksum of their payload bytes (position-sensitive).
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    frames: u64,
    payload_bytes: u64,
    checksum: u64,
}

impl Tally {
    fn add(&mut self, frame: &Frame<'_>) {
        self.frames += 1;
        if let Frame::QiRd { data, .. } | Frame::RecvData { data, .. } = frame {
            for &b in data.wire_bytes() {
                self.checksum = self.checksum.wrapping_mul(0x100_0000_01b3) ^ u64::from(b);
            }
            self.payload_bytes += data.len() as u64;
        }
    }
}

/// The timed work: count frames and payload bytes only, so the parser dominates.
fn whole(ctx: ParseContext, stream: &[u8]) -> (u64, usize) {
    let mut parser = Parser::new(ctx);
    let mut frames = 0u64;
    let used = parser.feed(stream, |f| {
        black_box(&f);
        frames += 1;
    });
    (frames, used)
}

/// A driver's loop: 64-byte reads appended to a fixed buffer, consumed bytes moved out.
fn chunked(ctx: ParseContext, stream: &[u8], mut on_frame: impl FnMut(&Frame<'_>)) -> usize {
    let mut parser = Parser::new(ctx);
    let mut buf = [0u8; BUF_LEN];
    let mut filled = 0;
    for read in stream.chunks(READ) {
        buf[filled..filled + read.len()].copy_from_slice(read);
        filled += read.len();
        let used = parser.feed(&buf[..filled], |f| on_frame(&f));
        if used > 0 {
            buf.copy_within(used..filled, 0);
            filled -= used;
        }
    }
    filled
}

/// The streaming API over the whole stream: items and payload bytes.
fn stream_whole(ctx: ParseContext, stream: &[u8]) -> (u64, u64) {
    let mut parser = Parser::new(ctx);
    let (mut items, mut payload) = (0u64, 0u64);
    let mut pos = 0;
    loop {
        let item = parser.stream(&stream[pos..]);
        match item {
            Stream::NeedMore => break,
            Stream::Data { data, .. } => payload += black_box(data.len()) as u64,
            other => {
                black_box(&other);
            }
        }
        items += 1;
        pos += item.consumed();
    }
    (items, payload)
}

/// Items of `input` until `NeedMore` or until it is used up; `on_data` sees every payload
/// piece. Returns the bytes used.
#[inline(always)]
fn run_items(parser: &mut Parser, input: &[u8], on_data: &mut impl FnMut(&[u8])) -> usize {
    let mut pos = 0;
    while pos < input.len() {
        let item = parser.stream(&input[pos..]);
        match item {
            Stream::NeedMore => break,
            Stream::Data { data, .. } => on_data(data.wire_bytes()),
            other => {
                black_box(&other);
            }
        }
        pos += item.consumed();
    }
    // (An `End` that needs no input comes with the next call; these streams have none.)
    pos
}

/// The engine's loop for reads it is handed (`Engine::handle_rx`, the async runner's): each
/// 64-byte read is framed where it lies, payload pieces are handed on from it, and only an
/// unfinished item is staged, in a buffer that needs to hold a line at most. A staged item is
/// finished a field at a time, so the payload after a header is taken in place again.
fn stream_chunked(ctx: ParseContext, stream: &[u8], mut on_data: impl FnMut(&[u8])) -> usize {
    let mut parser = Parser::new(ctx);
    let mut staged = [0u8; STREAM_BUF_LEN];
    let mut len = 0;
    for read in stream.chunks(READ) {
        let mut taken = 0;
        while taken < read.len() {
            let rest = &read[taken..];
            if len > 0 {
                let k = rest
                    .iter()
                    .position(|&b| b == b'\n' || b == b',')
                    .map_or(rest.len(), |i| i + 1)
                    .min(STREAM_BUF_LEN - len);
                staged[len..len + k].copy_from_slice(&rest[..k]);
                len += k;
                taken += k;
                let used = run_items(&mut parser, &staged[..len], &mut on_data);
                staged.copy_within(used..len, 0);
                len -= used;
                continue;
            }
            taken += run_items(&mut parser, rest, &mut on_data);
            let left = &read[taken..];
            if !left.is_empty() {
                // An unfinished item: stage it.
                staged[..left.len()].copy_from_slice(left);
                len = left.len();
                taken = read.len();
            }
        }
    }
    len
}

/// The engine's loop for reads into its staging buffer (`Engine::rx_space` and
/// `rx_commit`, the blocking stack's): each 64-byte read lands after the staged bytes (the
/// copy stands for the UART read), the buffer is framed, and what was not consumed moves
/// to its front.
fn stream_staged(ctx: ParseContext, stream: &[u8], mut on_data: impl FnMut(&[u8])) -> usize {
    let mut parser = Parser::new(ctx);
    let mut buf = [0u8; STREAM_BUF_LEN];
    let mut filled = 0;
    for read in stream.chunks(READ) {
        buf[filled..filled + read.len()].copy_from_slice(read);
        filled += read.len();
        let used = run_items(&mut parser, &buf[..filled], &mut on_data);
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
    filled
}

/// The reads of `stream_staged` without the parser: each 64-byte read is copied into the
/// buffer and handed on whole, as if it were one payload piece.
fn reads_only(stream: &[u8], mut on_data: impl FnMut(&[u8])) -> usize {
    let mut buf = [0u8; STREAM_BUF_LEN];
    let mut total = 0;
    for read in stream.chunks(READ) {
        buf[..read.len()].copy_from_slice(read);
        on_data(&buf[..read.len()]);
        total += read.len();
    }
    total
}

/// The streaming buffer: the longest line of these streams and a read fit.
const STREAM_BUF_LEN: usize = 256;

fn check(name: &str, ctx: ParseContext, stream: &[u8], expected: &Expected) {
    let mut a = Tally::default();
    let mut parser = Parser::new(ctx);
    let used = parser.feed(stream, |f| a.add(&f));
    assert_eq!(used, stream.len(), "{name}: whole feed left bytes");
    let stats = parser.stats();
    assert_eq!(
        stats.skipped_bytes + stats.malformed + stats.overlong,
        0,
        "{name}: {stats:?}"
    );
    assert_eq!(
        a.payload_bytes, expected.payload_bytes,
        "{name}: payload bytes"
    );

    let mut b = Tally::default();
    let left = chunked(ctx, stream, |f| b.add(f));
    assert_eq!(left, 0, "{name}: chunked feed left bytes");
    assert_eq!(a, b, "{name}: whole and chunked feeds differ");
    assert_eq!(whole(ctx, stream), (a.frames, stream.len()));

    // The streaming paths give the same payload bytes, in the same order.
    type Loop = fn(ParseContext, &[u8], &mut dyn FnMut(&[u8])) -> usize;
    let loops: [(&str, Loop); 2] = [
        ("in place", |c, s, f| stream_chunked(c, s, f)),
        ("staged", |c, s, f| stream_staged(c, s, f)),
    ];
    for (loop_name, run) in loops {
        let mut sum = 0u64;
        let mut streamed = 0u64;
        let mut on_data = |d: &[u8]| {
            for &b in d {
                sum = sum.wrapping_mul(0x100_0000_01b3) ^ u64::from(b);
            }
            streamed += d.len() as u64;
        };
        let left = run(ctx, stream, &mut on_data);
        assert_eq!(left, 0, "{name} {loop_name}: streaming left bytes");
        assert_eq!(
            streamed, a.payload_bytes,
            "{name} {loop_name}: payload bytes"
        );
        assert_eq!(sum, a.checksum, "{name} {loop_name}: payload differs");
    }
    assert_eq!(stream_whole(ctx, stream).1, a.payload_bytes);
    eprintln!(
        "{name}: {} bytes, {} frames, {} payload bytes, checksum {:016x}",
        stream.len(),
        a.frames,
        a.payload_bytes,
        a.checksum
    );
}

fn bench(c: &mut Criterion) {
    let ctx = context();
    for (name, (stream, expected)) in [("control", control_stream()), ("bulk", bulk_stream())] {
        check(name, ctx, &stream, &expected);
        let mut group = c.benchmark_group(name);
        group
            .throughput(Throughput::Bytes(stream.len() as u64))
            .sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("parser_whole", |b| {
            b.iter(|| whole(ctx, black_box(&stream)))
        });
        group.bench_function("parser_chunked_64", |b| {
            b.iter(|| {
                let mut frames = 0u64;
                let left = chunked(ctx, black_box(&stream), |f| {
                    black_box(f);
                    frames += 1;
                });
                (frames, left)
            })
        });
        group.bench_function("stream_whole", |b| {
            b.iter(|| stream_whole(ctx, black_box(&stream)))
        });
        group.bench_function("stream_chunked_64", |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                let left = stream_chunked(ctx, black_box(&stream), |d| {
                    bytes += black_box(d).len();
                });
                (bytes, left)
            })
        });
        group.bench_function("stream_staged_64", |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                let left = stream_staged(ctx, black_box(&stream), |d| {
                    bytes += black_box(d).len();
                });
                (bytes, left)
            })
        });
        // What `stream_staged_64` spends on its reads alone.
        group.bench_function("reads_64", |b| {
            b.iter(|| {
                reads_only(black_box(&stream), |d| {
                    black_box(d);
                })
            })
        });
        // The baseline: a vectorised count of line ends (memchr's `count` does no per-line work).
        group.bench_function("memchr_count", |b| {
            b.iter(|| memchr::memchr_iter(b'\n', black_box(&stream)).count())
        });
        // A second baseline that visits every line end, as any line splitter must.
        group.bench_function("memchr_visit", |b| {
            b.iter(|| {
                memchr::memchr_iter(b'\n', black_box(&stream))
                    .fold(0usize, |acc, i| acc ^ black_box(i))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
