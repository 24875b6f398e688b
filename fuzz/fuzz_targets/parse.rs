//! The parser on arbitrary bytes, in an arbitrary context and chunking.
//!
//! Input layout: see `common.rs`.
//!
//! Checked: no panic; every answer but `NeedMore` consumes at least one byte and no more than
//! it was given; the bytes kept between reads stay bounded; the whole stream fed at once and
//! fed in reads give the same frames, the same counters and the same unframed tail, `parse_eof`
//! included.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use quectel_bc20::wire::{Parse, Parser};

/// Parse `input` until the parser needs more, checking progress; returns the bytes consumed.
fn drain(p: &mut Parser, input: &[u8], eof: bool, out: &mut Vec<String>) -> usize {
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        let r = if eof {
            p.parse_eof(rest)
        } else {
            p.parse(rest)
        };
        match r {
            Parse::NeedMore => return pos,
            Parse::Frame { frame, consumed } => {
                assert!(consumed > 0 && consumed <= rest.len(), "{r:?} on {rest:?}");
                out.push(format!("{frame:?}"));
                pos += consumed;
            }
            // How noise is split into skips may depend on the reads; the total (in the
            // counters) may not.
            Parse::Skipped { consumed } => {
                assert!(consumed > 0 && consumed <= rest.len(), "{r:?} on {rest:?}");
                pos += consumed;
            }
        }
        if pos == input.len() {
            return pos;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((ctx, sizes, stream)) = common::split(data) else {
        return;
    };

    // Whole stream at once.
    let mut whole = Parser::new(ctx);
    let mut whole_frames = Vec::new();
    let used = drain(&mut whole, stream, false, &mut whole_frames);
    let tail = &stream[used..];
    let used_eof = drain(&mut whole, tail, true, &mut whole_frames);
    let whole_left = tail.len() - used_eof;

    // In reads through an accumulating buffer, as a driver does. It holds at most a payload
    // frame (up to twice the payload in hex) and a line, or a payload header still undecided:
    // that takes up to about 90 bytes (the sibling address form) whatever `max_line` is, so
    // 128 stands for it under a smaller limit, as in `stream.rs`.
    let bound = ctx.max_line.max(128) + 2 * ctx.max_payload + 64;
    let mut chunked = Parser::new(ctx);
    let mut chunked_frames = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    for &n in sizes.iter().cycle() {
        if pos == stream.len() {
            break;
        }
        let n = n.min(stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        let used = drain(&mut chunked, &buf, false, &mut chunked_frames);
        buf.drain(..used);
        assert!(
            buf.len() <= bound,
            "buffered {} bytes (bound {bound})",
            buf.len()
        );
    }
    let used = drain(&mut chunked, &buf, true, &mut chunked_frames);
    let chunked_left = buf.len() - used;

    assert_eq!(whole_frames, chunked_frames, "chunking changed the frames");
    assert_eq!(
        whole.stats(),
        chunked.stats(),
        "chunking changed the counters"
    );
    assert_eq!(
        whole_left, chunked_left,
        "chunking changed the unframed tail"
    );
});
