//! Properties of the parser: chunking never changes the frames, encoded commands come back as
//! their echo, and arbitrary bytes never panic, never stall and never make it buffer without
//! bound.

mod support;

use proptest::prelude::*;
use quectel_bc20::wire::{Command, Frame, Malformed, Parse, ParseContext, Parser, Stream};
use quectel_bc20::{AccessMode, ConnectId, ContextId, DataFormat, ServiceType, ViewMode};
use support::{debug_frames, parse_chunked};

/// Frames (as `Debug` text), payloads (or why they were bad), and the peak buffer length.
type Streamed = (Vec<String>, Vec<Result<Vec<u8>, Malformed>>, usize);

/// What the streaming parser gives for `bytes` fed in reads of `sizes` (cycled) through a
/// buffer that keeps only what was not consumed: the frames (payload headers included, as
/// `Debug` text), and each payload's bytes once its end said it was good (`Err` when it said
/// not). The buffer never holds more than a line and a read.
fn stream_chunked(ctx: ParseContext, bytes: &[u8], sizes: &[usize]) -> Streamed {
    let mut p = Parser::new(ctx);
    let (mut frames, mut payloads) = (Vec::new(), Vec::new());
    let mut current: Vec<u8> = Vec::new();
    let mut buf = Vec::new();
    let (mut pos, mut k, mut peak) = (0, 0, 0);
    while pos < bytes.len() {
        let n = sizes[k % sizes.len()].min(bytes.len() - pos);
        k += 1;
        buf.extend_from_slice(&bytes[pos..pos + n]);
        pos += n;
        peak = peak.max(buf.len());
        loop {
            let item = p.stream(&buf);
            match item {
                Stream::NeedMore => break,
                Stream::Frame { frame, .. } => frames.push(format!("{frame:?}")),
                Stream::Data { data, .. } => {
                    let mut out = vec![0; data.len()];
                    data.decode_into(&mut out).unwrap();
                    current.extend(out);
                }
                Stream::End { result, .. } => {
                    let payload = result.map(|()| std::mem::take(&mut current));
                    if payload.as_ref().is_err() || payload.as_ref().is_ok_and(|p| !p.is_empty()) {
                        payloads.push(payload);
                    }
                    current.clear();
                }
                Stream::Dropped { .. } | Stream::Skipped { .. } => {}
            }
            let used = item.consumed();
            buf.drain(..used);
        }
    }
    (frames, payloads, peak)
}

/// One item of module output, rendered for a given context.
#[derive(Debug, Clone)]
enum Item {
    Line(&'static str),
    Echo(String),
    Push(u8, Vec<u8>),
    Read(Vec<u8>, u16),
    Notify(u8, Option<u16>),
    /// Sibling forms (issue 13): a UDP-service read and push with the sender, the `+QIRD`
    /// byte counts (view mode 0 only), the `> ` prompt.
    ReadFrom(Vec<u8>, u16),
    PushFrom(u8, Vec<u8>, u16),
    Counts(u32, u32),
    Prompt,
}

fn item() -> impl Strategy<Value = Item> {
    let lines = prop::sample::select(vec![
        "OK",
        "ERROR",
        "SEND OK",
        "SEND FAIL",
        "CLOSE OK",
        "+CME ERROR: 568",
        "+QIOPEN: 1,0",
        "+QIURC: \"closed\",2",
        "+QIURC: \"recv\",3,\"buff full\"",
        "+QIURC: \"dnsgip\",0,1,600",
        "+QIURC: \"dnsgip\",\"127.0.0.1\"",
        "+QIURC: \"pdpdeact\",1",
        "+QPING: 0,\"127.0.0.1\",32,5,255",
        "+QPING: 0,4,4,0,1,9,5",
        "+QNTP: 0,\"26/11/29,15:52:00+04\"",
        "+CEREG: 1",
        "+QISTATE: 0,\"TCP\",\"127.0.0.1\",8062,1234,2,1,0",
        "+QICFG: \"viewmode\",1",
        "+QIGETERROR: 552,invalid parameters",
        "RDY",
        "F1: 0000 0000",
        "Some unknown line",
        "+QNBIOTEVENT: \"ENTER PSM\"",
        "+QISEND: 147,147,0",
        "+QISTATE: 0,\"TCP\",\"10.0.0.1\",8705,65344,2,1,0,0,\"uart1\"",
        "+QICFG: \"transpktsize\",1024",
        "+QIURC: \"incoming full\"",
        "",
    ]);
    prop_oneof![
        4 => lines.prop_map(Item::Line),
        1 => "AT\\+Q[A-Z]{2,6}=[0-9,]{0,12}".prop_map(Item::Echo),
        2 => (0u8..5, prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(i, d)| Item::Push(i, d)),
        2 => (prop::collection::vec(any::<u8>(), 0..300), 0u16..600).prop_map(|(d, r)| Item::Read(d, r)),
        1 => (0u8..5, prop::option::of(1u16..1500)).prop_map(|(i, l)| Item::Notify(i, l)),
        1 => (prop::collection::vec(any::<u8>(), 1..300), 1u16..).prop_map(|(d, p)| Item::ReadFrom(d, p)),
        1 => (0u8..5, prop::collection::vec(any::<u8>(), 1..300), 1u16..).prop_map(|(i, d, p)| Item::PushFrom(i, d, p)),
        1 => (0u32..100_000, 0u32..100_000).prop_map(|(a, b)| Item::Counts(a, b)),
        1 => Just(Item::Prompt),
    ]
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02X}")).collect()
}

/// Render items as a module would for `ctx` (pushes go to direct-push sockets only).
fn render(items: &[Item], ctx: &ParseContext) -> Vec<u8> {
    let mut out = Vec::new();
    let same_line = ctx.view_mode == ViewMode::HeaderCommaData;
    let hex_mode = ctx.recv_format == DataFormat::Hex;
    let data = |out: &mut Vec<u8>, d: &[u8]| {
        if hex_mode {
            out.extend(hex(d).bytes())
        } else {
            out.extend(d)
        }
    };
    for item in items {
        match item {
            Item::Line(l) => out.extend(format!("\r\n{l}\r\n").bytes()),
            Item::Echo(e) => out.extend(format!("{e}\r").bytes()),
            Item::Push(id, d) => {
                let id = ConnectId::new(*id).unwrap();
                if ctx.access_mode(id) != AccessMode::DirectPush {
                    continue;
                }
                out.extend(format!("\r\n+QIURC: \"recv\",{},{}", id, d.len()).bytes());
                out.extend(if same_line { &b","[..] } else { b"\r\n" });
                data(&mut out, d);
                out.extend(b"\r\n");
            }
            Item::Read(d, rem) => {
                out.extend(format!("\r\n+QIRD: {}", d.len()).bytes());
                if ctx.show_length {
                    out.extend(format!(",{rem}").bytes());
                }
                if !d.is_empty() {
                    out.extend(if same_line { &b","[..] } else { b"\r\n" });
                    data(&mut out, d);
                }
                out.extend(b"\r\n\r\nOK\r\n");
            }
            Item::ReadFrom(d, port) => {
                out.extend(format!("\r\n+QIRD: {},\"10.7.0.1\",{port}\r\n", d.len()).bytes());
                data(&mut out, d);
                out.extend(b"\r\n\r\nOK\r\n");
            }
            Item::PushFrom(id, d, port) => {
                out.extend(
                    format!(
                        "\r\n+QIURC: \"recv\",{id},{},\"10.7.0.1\",{port}\r\n",
                        d.len()
                    )
                    .bytes(),
                );
                data(&mut out, d);
                out.extend(b"\r\n");
            }
            Item::Counts(read, unread) if !same_line => out.extend(
                format!("\r\n+QIRD: {},{read},{unread}\r\n\r\nOK\r\n", read + unread).bytes(),
            ),
            Item::Counts(..) => {}
            Item::Prompt => out.extend(b"\r\n> "),
            Item::Notify(id, len) => {
                let id = ConnectId::new(*id).unwrap();
                if ctx.access_mode(id) != AccessMode::Buffer {
                    continue;
                }
                match (ctx.show_length, len) {
                    (true, Some(l)) => {
                        out.extend(format!("\r\n+QIURC: \"recv\",{id},{l}\r\n").bytes())
                    }
                    _ => out.extend(format!("\r\n+QIURC: \"recv\",{id}\r\n").bytes()),
                }
            }
        }
    }
    // A module always answers after an echo; a stream never ends on one.
    out.extend(b"\r\nOK\r\n");
    out
}

fn context() -> impl Strategy<Value = ParseContext> {
    (
        prop::array::uniform5(prop::bool::ANY),
        prop::bool::ANY,
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(push, view, show, hex)| ParseContext {
            access_modes: push.map(|p| {
                if p {
                    AccessMode::DirectPush
                } else {
                    AccessMode::Buffer
                }
            }),
            view_mode: if view {
                ViewMode::HeaderCommaData
            } else {
                ViewMode::HeaderCrLfData
            },
            show_length: show,
            recv_format: if hex {
                DataFormat::Hex
            } else {
                DataFormat::Text
            },
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any split of a valid stream gives the frames of the whole, and payloads come out intact.
    #[test]
    fn any_chunking_gives_the_same_frames(
        ctx in context(),
        items in prop::collection::vec(item(), 1..40),
        sizes in prop::collection::vec(1usize..80, 1..8),
    ) {
        let bytes = render(&items, &ctx);
        let mut p = Parser::new(ctx);
        let mut payloads = Vec::new();
        let used = p.feed(&bytes, |f| if let Frame::RecvData { data, .. } | Frame::QiRd { data, .. } | Frame::QiRdFrom { data, .. } | Frame::RecvFrom { data, .. } = f {
            let mut buf = vec![0; data.len()];
            data.decode_into(&mut buf).unwrap();
            payloads.push(buf);
        });
        prop_assert_eq!(used, bytes.len());
        let stats = p.stats();
        prop_assert_eq!(stats.skipped_bytes, 0);
        prop_assert_eq!(stats.malformed, 0);
        let expected: Vec<Vec<u8>> = items.iter().filter_map(|i| match i {
            Item::Push(id, d) if ctx.access_mode(ConnectId::new(*id).unwrap()) == AccessMode::DirectPush => Some(d.clone()),
            Item::Read(d, _) | Item::ReadFrom(d, _) | Item::PushFrom(_, d, _) => Some(d.clone()),
            _ => None,
        }).collect();
        prop_assert_eq!(payloads, expected);

        let whole = debug_frames(ctx, &bytes);
        let (chunked, left) = parse_chunked(ctx, &bytes, &sizes);
        prop_assert_eq!(left, 0);
        prop_assert_eq!(chunked, whole);
    }

    /// The streaming parser gives the same frames and payload bytes whatever the reads, the
    /// payloads of the whole-frame parser, and buffers no more than a line and a read.
    #[test]
    fn streaming_in_any_reads_gives_the_payloads_of_the_whole(
        ctx in context(),
        items in prop::collection::vec(item(), 1..40),
        sizes in prop::collection::vec(1usize..80, 1..8),
    ) {
        let bytes = render(&items, &ctx);
        let mut whole = Vec::new();
        Parser::new(ctx).feed(&bytes, |f| if let Frame::RecvData { data, .. } | Frame::QiRd { data, .. } | Frame::QiRdFrom { data, .. } | Frame::RecvFrom { data, .. } = f {
            let mut buf = vec![0; data.len()];
            data.decode_into(&mut buf).unwrap();
            if !buf.is_empty() {
                whole.push(Ok(buf));
            }
        });
        let (frames, payloads, peak) = stream_chunked(ctx, &bytes, &[bytes.len()]);
        prop_assert_eq!(&payloads, &whole, "streamed whole");
        let (frames_in_reads, payloads_in_reads, peak_in_reads) = stream_chunked(ctx, &bytes, &sizes);
        prop_assert_eq!(frames_in_reads, frames);
        prop_assert_eq!(payloads_in_reads, payloads);
        let longest_read = sizes.iter().max().copied().unwrap_or(0);
        prop_assert!(peak_in_reads <= 200 + longest_read, "buffered {} bytes", peak_in_reads);
        let _ = peak;
    }

    /// Arbitrary bytes streamed in any reads: the same items as streamed whole.
    #[test]
    fn streaming_arbitrary_bytes_does_not_depend_on_reads(
        ctx in context(),
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), prop::sample::select(b"\r\n,\"+QIURC: recv0123456789ABCDEF".to_vec())],
            0..3000,
        ),
        sizes in prop::collection::vec(1usize..200, 1..6),
    ) {
        let whole = stream_chunked(ctx, &bytes, &[bytes.len().max(1)]);
        let chunked = stream_chunked(ctx, &bytes, &sizes);
        prop_assert_eq!(chunked.0, whole.0);
        prop_assert_eq!(chunked.1, whole.1);
    }

    /// Arbitrary bytes, in any chunking: no panic, progress on every call, bounded buffering.
    #[test]
    fn arbitrary_bytes_never_stall(
        ctx in context(),
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), prop::sample::select(b"\r\n,\"+QIURC: recv0123456789ABCDEF".to_vec())],
            0..3000,
        ),
        sizes in prop::collection::vec(1usize..200, 1..6),
    ) {
        let bound = ctx.max_line + 2 * ctx.max_payload + 64;
        let mut p = Parser::new(ctx);
        let mut buf = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < bytes.len() {
            let n = sizes[k % sizes.len()].min(bytes.len() - pos);
            k += 1;
            buf.extend_from_slice(&bytes[pos..pos + n]);
            pos += n;
            loop {
                match p.parse(&buf) {
                    Parse::NeedMore => break,
                    r => {
                        prop_assert!(r.consumed() > 0, "no progress on {:?}", r);
                        prop_assert!(r.consumed() <= buf.len());
                        buf.drain(..r.consumed());
                    }
                }
            }
            prop_assert!(buf.len() <= bound, "buffered {} bytes", buf.len());
        }
        // At the end of the stream everything but a cut-short payload is framed.
        while !buf.is_empty() {
            match p.parse_eof(&buf) {
                Parse::NeedMore => break,
                r => { prop_assert!(r.consumed() > 0); buf.drain(..r.consumed()); }
            }
        }
    }

    /// An encoded command, echoed by the module, parses back as its own echo.
    #[test]
    fn encoded_commands_come_back_as_their_echo(
        host in "[a-z0-9.-]{1,60}",
        port in 1u16..,
        id in 0u8..5,
        text in "[ -!#-~]{1,200}",
        data in prop::collection::vec(any::<u8>(), 1..512),
        len in 1u16..=512,
    ) {
        let id = ConnectId::new(id).unwrap();
        let commands = [
            Command::QiOpen { context: ContextId::DEFAULT, id, service: ServiceType::Tcp, remote: &host, remote_port: port, local_port: 0, access_mode: AccessMode::Buffer },
            Command::QiSend { id, data: text.as_bytes() },
            Command::QiSendEx { id, data: &data },
            Command::QiRd { id, len },
            Command::QiDnsGip { context: ContextId::DEFAULT, host: &host },
            Command::QiClose(id),
        ];
        for cmd in commands {
            let mut out = vec![0u8; cmd.encoded_len().unwrap()];
            let n = cmd.encode(&mut out).unwrap();
            let mut stream = out[..n].to_vec();
            stream.extend_from_slice(b"\r\nOK\r\n");
            let (frames, _) = support::parse_all(ParseContext::default(), &stream);
            prop_assert_eq!(frames, vec![Frame::Echo(&out[..n - 1]), Frame::Blank, Frame::Ok]);
        }
    }
}
