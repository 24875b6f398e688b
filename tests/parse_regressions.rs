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

/// Stream `bytes` with `Parser::stream`, split into reads at `cut`; returns the frames (as
/// text), the wire bytes of payloads that ended well, the counters and the unframed tail.
fn stream_at(
    ctx: ParseContext,
    bytes: &[u8],
    cut: usize,
) -> (Vec<String>, Vec<u8>, quectel_bc20::wire::ParseStats, usize) {
    use quectel_bc20::wire::Stream;
    let mut p = Parser::new(ctx);
    let (mut frames, mut good, mut piece) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = Vec::new();
    for read in [&bytes[..cut], &bytes[cut..]] {
        buf.extend_from_slice(read);
        let mut pos = 0;
        loop {
            let r = p.stream(&buf[pos..]);
            match r {
                Stream::NeedMore => break,
                Stream::Frame { frame, .. } => frames.push(format!("{frame:?}")),
                Stream::Data { data, .. } => piece.extend_from_slice(data.wire_bytes()),
                Stream::End { result, .. } => {
                    frames.push(format!("End({result:?})"));
                    if result.is_ok() {
                        good.append(&mut piece);
                    }
                    piece.clear();
                }
                Stream::Dropped { .. } | Stream::Skipped { .. } => {}
            }
            pos += r.consumed();
        }
        buf.drain(..pos);
    }
    (frames, good, p.stats(), buf.len())
}

/// Found by the `stream` fuzz target: in hex receive mode and view mode 1, an empty payload
/// (`+QIRD: 0,3,""`) whose opening quote came in the next read was framed without its quote,
/// which then ended the payload as malformed: the read boundary changed the frames.
#[test]
fn empty_hex_payload_quote_in_the_next_read() {
    let ctx = ParseContext {
        view_mode: quectel_bc20::ViewMode::HeaderCommaData,
        show_length: true,
        recv_format: quectel_bc20::DataFormat::Hex,
        ..ParseContext::default()
    };
    let bytes = b"+QIRD: 0,3,\"\"\r\n\r\nOK\r\n";
    let whole = stream_at(ctx, bytes, bytes.len());
    assert!(whole.0.iter().any(|f| f == "End(Ok(()))"), "{:?}", whole.0);
    for cut in 0..bytes.len() {
        assert_eq!(stream_at(ctx, bytes, cut), whole, "split at {cut}");
    }
}

/// Found by the `stream` fuzz target: `ParseStats::payload_bytes` counted the pieces of a
/// payload as they were handed out, so a hex payload with a bad digit counted whatever came
/// before the read that held the bad digit: the counters depended on the reads. Bytes are now
/// counted when a payload ends well.
#[test]
fn payload_counter_does_not_depend_on_the_reads() {
    let ctx = ParseContext {
        recv_format: quectel_bc20::DataFormat::Hex,
        ..ParseContext::default()
    };
    let bytes = b"+QIRD: 3\r\n4142zz\r\n\r\nOK\r\n+QIRD: 2\r\n4142\r\n\r\nOK\r\n";
    let whole = stream_at(ctx, bytes, bytes.len());
    assert_eq!(whole.2.payload_bytes, 2);
    assert_eq!(whole.2.malformed, 1);
    for cut in 0..bytes.len() {
        assert_eq!(stream_at(ctx, bytes, cut), whole, "split at {cut}");
    }
}

/// A payload header is decided (framed, or found broken) within 90 bytes whatever
/// `max_line` is: the longest undecided forms are the sibling address forms with every
/// number at its longest. The parser's calling contract and the fuzz targets' buffering bound
/// (a floor of 128 bytes, and the engine's smallest staging) rest on it.
#[test]
fn a_payload_header_is_decided_within_90_bytes() {
    use quectel_bc20::{AccessMode, ConnectId, DataFormat, ViewMode};
    let addr = "1".repeat(45);
    let headers = [
        format!("+QIURC: \"recv\",  00001,  00001,\"{addr}\",1234567890\r"),
        format!("+QIRD: 1234567890,\"{addr}\",1234567890\r"),
        "+QIRD: 1234567890,1234567890,1234567890\r".to_string(),
        "+QIURC: \"recv\",  00001,\"buff ful".to_string(),
    ];
    let mut longest = 0;
    for view_mode in [ViewMode::HeaderCrLfData, ViewMode::HeaderCommaData] {
        for recv_format in [DataFormat::Text, DataFormat::Hex] {
            let mut ctx = ParseContext {
                max_line: 1,
                max_payload: 0,
                view_mode,
                recv_format,
                ..ParseContext::default()
            };
            for id in ConnectId::ALL {
                ctx.set_access_mode(id, AccessMode::DirectPush);
            }
            for h in &headers {
                let b = h.as_bytes();
                for n in 1..=b.len() {
                    if Parser::new(ctx).parse(&b[..n]) == Parse::NeedMore {
                        longest = longest.max(n);
                    }
                }
                // One byte more decides it.
                let mut whole = b.to_vec();
                whole.push(b'x');
                assert_ne!(Parser::new(ctx).parse(&whole), Parse::NeedMore, "{h:?}");
            }
        }
    }
    assert_eq!(longest, 90);
}
