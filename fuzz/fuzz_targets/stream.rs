//! The streaming parser (`Parser::stream`, what the engine uses) on arbitrary bytes, in an
//! arbitrary context and chunking.
//!
//! Input layout: see `common.rs`.
//!
//! Checked: no panic; every answer consumes no more than it was given, and only `End` may
//! consume nothing (and never twice in a row); a payload's pieces are within its announced
//! length; the bytes a driver must keep between reads (an unfinished line or header, never a
//! payload) stay within the line limit; and the whole stream and the same stream in reads give
//! the same frames, the same payload bytes (of every payload that ended well), the same
//! outcome of every payload, the same counters and the same unframed tail.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use quectel_bc20::DataFormat;
use quectel_bc20::wire::{Frame, Malformed, Parser, Stream};

/// What the stream said, independent of where the reads ended.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Frame(String),
    /// A payload: its wire bytes when it ended well (a payload that ended badly may have
    /// handed out a different part of itself before the parser saw what was wrong, which the
    /// caller throws away), the wire bytes it took in all, and how it ended.
    Payload {
        data: Option<Vec<u8>>,
        took: usize,
        result: Result<(), Malformed>,
    },
}

#[derive(Default)]
struct Run {
    events: Vec<Event>,
    /// The payload in progress: wire bytes handed out, wire bytes taken in all.
    data: Vec<u8>,
    took: usize,
    /// Wire bytes the payload's header announced.
    announced: usize,
    hex: bool,
    /// The previous answer consumed nothing.
    idle: bool,
}

impl Run {
    /// Stream `input` until the parser needs more; returns the bytes consumed.
    fn drain(&mut self, p: &mut Parser, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            let r = p.stream(rest);
            let consumed = r.consumed();
            assert!(consumed <= rest.len(), "{r:?} consumed more than {rest:?}");
            match r {
                Stream::NeedMore => return pos,
                Stream::End { result, .. } => {
                    assert!(!(consumed == 0 && self.idle), "two answers took nothing");
                    assert!(
                        self.took <= self.announced,
                        "payload of {} wire bytes took {}",
                        self.announced,
                        self.took
                    );
                    if result.is_ok() {
                        assert_eq!(self.took, self.announced, "payload ended early");
                    }
                    self.events.push(Event::Payload {
                        data: result.is_ok().then(|| core::mem::take(&mut self.data)),
                        took: self.took,
                        result,
                    });
                    self.data.clear();
                    self.took = 0;
                }
                Stream::Frame { frame, .. } => {
                    assert!(consumed > 0, "{r:?} took nothing");
                    match frame {
                        Frame::QiRdHeader { len, .. } | Frame::RecvHeader { len, .. } => {
                            assert!(p.in_payload(), "{frame:?} without a payload");
                            self.hex = p.ctx.recv_format == DataFormat::Hex;
                            self.announced = usize::from(len) * if self.hex { 2 } else { 1 };
                        }
                        _ => {}
                    }
                    self.events.push(Event::Frame(format!("{frame:?}")));
                }
                Stream::Data { data, .. } => {
                    assert!(consumed > 0, "{r:?} took nothing");
                    assert_eq!(data.wire_bytes().len(), consumed);
                    assert_eq!(data.is_hex(), self.hex);
                    self.data.extend_from_slice(data.wire_bytes());
                    self.took += consumed;
                }
                Stream::Dropped { .. } => {
                    assert!(consumed > 0, "{r:?} took nothing");
                    self.took += consumed;
                }
                Stream::Skipped { .. } => assert!(consumed > 0, "{r:?} took nothing"),
            }
            self.idle = consumed == 0;
            pos += consumed;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((ctx, sizes, stream)) = common::split(data) else {
        return;
    };

    // The whole stream at once.
    let mut whole = Parser::new(ctx);
    let mut a = Run::default();
    let used = a.drain(&mut whole, stream);
    let whole_left = stream.len() - used;

    // In reads through a buffer that keeps only what was not consumed, as the engine does.
    // What it keeps is an unfinished line or payload header, a hex digit waiting for its
    // partner, or the line end after a payload: never payload bytes that could be handed out.
    let bound = ctx.max_line.max(128) + 2;
    let mut chunked = Parser::new(ctx);
    let mut b = Run::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    for &n in sizes.iter().cycle() {
        if pos == stream.len() {
            break;
        }
        let n = n.min(stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        let used = b.drain(&mut chunked, &buf);
        buf.drain(..used);
        assert!(
            buf.len() <= bound,
            "kept {} bytes between reads (bound {bound}): {:?}",
            buf.len(),
            String::from_utf8_lossy(&buf)
        );
    }

    assert_eq!(a.events, b.events, "reads changed the frames or payloads");
    assert_eq!(a.took, b.took, "reads changed the payload in progress");
    assert_eq!(whole.stats(), chunked.stats(), "reads changed the counters");
    assert_eq!(whole_left, buf.len(), "reads changed the unframed tail");
    assert_eq!(whole.in_payload(), chunked.in_payload());
});
