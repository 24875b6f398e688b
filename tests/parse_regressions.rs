//! Regressions: inputs that once made the parser misbehave, each with what went wrong.

mod support;

use quectel_bc20::wire::{Frame, Malformed, Parse, ParseContext, Parser};
use support::{debug_frames, parse_chunked};

/// Frame a whole stream as at the end of a capture: `parse` until it needs more, then
/// `parse_eof`. Returns the frames and the unframed tail length.
fn parse_to_eof(ctx: ParseContext, bytes: &[u8]) -> (Vec<Frame<'_>>, usize, Parser) {
    let mut p = Parser::new(ctx);
    let mut frames = Vec::new();
    let mut pos = p.feed(bytes, |f| frames.push(f));
    while pos < bytes.len() {
        match p.parse_eof(&bytes[pos..]) {
            Parse::Frame { frame, consumed } => {
                frames.push(frame);
                pos += consumed;
            }
            Parse::Skipped { consumed } => pos += consumed,
            Parse::NeedMore => break,
        }
    }
    (frames, bytes.len() - pos, p)
}

/// A malformed last line without its line end was returned by `parse_eof` but not counted in
/// `ParseStats::malformed`, so a capture ending in one looked clean.
#[test]
fn malformed_line_at_eof_is_counted() {
    let (frames, tail, p) = parse_to_eof(ParseContext::default(), b"\r\nOK\r\n+QIOPEN: x");
    assert_eq!(tail, 0);
    assert!(matches!(
        frames.last(),
        Some(Frame::Malformed {
            why: Malformed::Fields,
            ..
        })
    ));
    assert_eq!(p.stats().malformed, 1);
    assert_eq!(p.stats().frames, frames.len() as u64);
}

/// An overlong line ended by a lone `\r` at the end of the capture left that `\r` unframed.
#[test]
fn overlong_line_ending_in_cr_at_eof_is_skipped() {
    let ctx = ParseContext {
        max_line: 8,
        ..Default::default()
    };
    let (frames, tail, p) = parse_to_eof(ctx, b"\r\n0123456789ABCDEF\r");
    assert_eq!(frames, [Frame::Blank, Frame::Overlong]);
    assert_eq!(tail, 0);
    assert_eq!(p.stats().skipped_bytes, 8);
}

/// Found by fuzzing (fuzz/fuzz_targets/parse.rs): with `max_line` shorter than a payload
/// header's prefix, a read that ended inside `+QIRD: ` or `+QIURC: "recv",` made that partial
/// prefix an overlong line, while the whole stream parsed as a `+QIRD` frame: the frames
/// depended on where reads ended.
#[test]
fn partial_payload_header_prefix_waits_for_more() {
    // `+QIRD: 3,2,xyz`: three bytes read, two remaining (showlength 1), data on the line.
    let bytes = b"\r\nOK\r\n+QIRD: 3,2,xyz\r\n\r\nOK\r\n\r\n+QIURC: \"recv\",1,2\r\nab\r\n";
    for max_line in [0, 2, 5, 14] {
        let mut ctx = ParseContext {
            max_line,
            show_length: true,
            view_mode: quectel_bc20::ViewMode::HeaderCommaData,
            ..Default::default()
        };
        ctx.set_access_mode(
            quectel_bc20::ConnectId::new(1).unwrap(),
            quectel_bc20::AccessMode::DirectPush,
        );
        let whole = debug_frames(ctx, bytes);
        assert!(whole.iter().any(|f| f.starts_with("QiRd")), "{whole:?}");
        assert!(whole.iter().any(|f| f.starts_with("RecvData")), "{whole:?}");
        for size in 1..8 {
            let (chunked, left) = parse_chunked(ctx, bytes, &[size]);
            assert_eq!(left, 0, "max_line {max_line}, reads of {size}");
            assert_eq!(chunked, whole, "max_line {max_line}, reads of {size}");
        }
    }
}
