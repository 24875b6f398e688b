//! Helpers shared by the parser tests.
#![allow(dead_code)]

use quectel_bc20::wire::{Frame, ParseContext, ParseStats, Parser};

/// Parse a whole stream; every byte must be consumed.
pub fn parse_all(ctx: ParseContext, bytes: &[u8]) -> (Vec<Frame<'_>>, ParseStats) {
    let mut p = Parser::new(ctx);
    let mut frames = Vec::new();
    let used = p.feed(bytes, |f| frames.push(f));
    assert_eq!(
        used,
        bytes.len(),
        "unconsumed tail: {:?}",
        String::from_utf8_lossy(&bytes[used..])
    );
    (frames, p.stats())
}

/// The frames of a whole stream, blank lines left out.
pub fn frames(ctx: ParseContext, bytes: &[u8]) -> Vec<Frame<'_>> {
    let (f, _) = parse_all(ctx, bytes);
    f.into_iter().filter(|f| *f != Frame::Blank).collect()
}

/// Feed `bytes` in chunks of the given sizes (cycled) through an accumulating buffer, as a
/// driver does, and return every frame in `Debug` form plus the bytes left unconsumed.
pub fn parse_chunked(ctx: ParseContext, bytes: &[u8], sizes: &[usize]) -> (Vec<String>, usize) {
    let mut p = Parser::new(ctx);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while pos < bytes.len() {
        let n = sizes[k % sizes.len()].max(1).min(bytes.len() - pos);
        k += 1;
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
        let used = p.feed(&buf, |f| out.push(format!("{f:?}")));
        buf.drain(..used);
    }
    (out, buf.len())
}

/// Every frame of a whole stream in `Debug` form.
pub fn debug_frames(ctx: ParseContext, bytes: &[u8]) -> Vec<String> {
    let mut p = Parser::new(ctx);
    let mut out = Vec::new();
    p.feed(bytes, |f| out.push(format!("{f:?}")));
    out
}

/// Module output: each line wrapped as `\r\n<line>\r\n`.
pub fn wrap(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Parse one whole step: `bytes` with `ctx`, no noise, no leftovers; blank lines left out.
pub fn step<'a>(ctx: &ParseContext, bytes: &'a [u8]) -> Vec<Frame<'a>> {
    let (f, stats) = parse_all(*ctx, bytes);
    assert_eq!(
        stats.skipped_bytes,
        0,
        "noise in {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(stats.malformed, 0, "malformed in {f:?}");
    f.into_iter().filter(|f| *f != Frame::Blank).collect()
}
