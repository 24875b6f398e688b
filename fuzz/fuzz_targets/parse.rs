//! The parser on arbitrary bytes, in an arbitrary context and chunking.
//!
//! Input layout: 8 header bytes, then the stream.
//! - byte 0: bits 0..=4 direct push for connectID 0..=4, bit 5 view mode 1, bit 6 show length,
//!   bit 7 hex receive mode;
//! - byte 1: bit 0 small limits (max_line = byte 2, max_payload = byte 3, both may be 0),
//!   bit 1 large reads (chunk sizes up to 256 instead of up to 16);
//! - bytes 4..=7: read sizes, cycled.
//!
//! Checked: no panic; every answer but `NeedMore` consumes at least one byte and no more than
//! it was given; the bytes kept between reads stay bounded; the whole stream fed at once and
//! fed in reads give the same frames, the same counters and the same unframed tail, `parse_eof`
//! included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quectel_bc20::wire::{Parse, ParseContext, Parser};
use quectel_bc20::{AccessMode, ConnectId, DataFormat, ViewMode};

fn context(h: &[u8; 8]) -> ParseContext {
    let mut ctx = ParseContext::default();
    for id in ConnectId::ALL {
        if h[0] & (1 << id.index()) != 0 {
            ctx.set_access_mode(id, AccessMode::DirectPush);
        }
    }
    if h[0] & 0x20 != 0 {
        ctx.view_mode = ViewMode::HeaderCommaData;
    }
    ctx.show_length = h[0] & 0x40 != 0;
    if h[0] & 0x80 != 0 {
        ctx.recv_format = DataFormat::Hex;
    }
    if h[1] & 1 != 0 {
        ctx.max_line = usize::from(h[2]);
        ctx.max_payload = usize::from(h[3]);
    }
    ctx
}

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
    let Some((head, stream)) = data.split_first_chunk::<8>() else {
        return;
    };
    let ctx = context(head);
    let span = if head[1] & 2 != 0 { 256 } else { 16 };
    let sizes: Vec<usize> = head[4..]
        .iter()
        .map(|&b| 1 + usize::from(b) % span)
        .collect();

    // Whole stream at once.
    let mut whole = Parser::new(ctx);
    let mut whole_frames = Vec::new();
    let used = drain(&mut whole, stream, false, &mut whole_frames);
    let tail = &stream[used..];
    let used_eof = drain(&mut whole, tail, true, &mut whole_frames);
    let whole_left = tail.len() - used_eof;

    // In reads through an accumulating buffer, as a driver does.
    let bound = ctx.max_line + 2 * ctx.max_payload + 64;
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
