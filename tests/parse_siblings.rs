//! The dialect of the BC20's siblings (BC26, BC66, BC660K) and of the BG96-class modules whose
//! field logs users decode: every form of issue 13 as a typed frame, in every parse context,
//! and the rule that a payload header the parser does not fully understand never yields data.

mod support;

use proptest::prelude::*;
use quectel_bc20::wire::{
    AtPort, ExtService, Frame, Malformed, ParseContext, Payload, Remote, SocketStatusExt,
};
use quectel_bc20::{AccessMode, ConnectId, DataFormat, ViewMode};
use std::net::{IpAddr, Ipv4Addr};
use support::{debug_frames, parse_all, parse_chunked, step};

fn id(n: u8) -> ConnectId {
    ConnectId::new(n).unwrap()
}

/// Every parse context: access modes, view mode, show length, receive format.
fn contexts() -> Vec<ParseContext> {
    let mut out = Vec::new();
    for push in [false, true] {
        for view1 in [false, true] {
            for show in [false, true] {
                for hex in [false, true] {
                    let mut ctx = ParseContext {
                        view_mode: if view1 {
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
                    };
                    if push {
                        for i in 0..5 {
                            ctx.set_access_mode(id(i), AccessMode::DirectPush);
                        }
                    }
                    out.push(ctx);
                }
            }
        }
    }
    out
}

/// Frames and chunking: the whole stream and every small chunking agree.
fn frames_everywhere<'a>(ctx: &ParseContext, bytes: &'a [u8]) -> Vec<Frame<'a>> {
    let whole = debug_frames(*ctx, bytes);
    for sizes in [&[1][..], &[2], &[3, 7], &[5, 1, 13, 2]] {
        let (chunked, left) = parse_chunked(*ctx, bytes, sizes);
        assert_eq!(left, 0);
        assert_eq!(chunked, whole, "chunks {sizes:?}");
    }
    step(ctx, bytes)
}

#[test]
fn ten_field_qistate_in_every_context() {
    let bytes = b"\r\n+QISTATE: 0,\"TCP\",\"220.180.239.201\",8705,65344,2,1,0,0,\"uart1\"\r\n\
        \r\n+QISTATE: 11,\"TCP LISTENER\",\"0.0.0.0\",0,3030,3,1,11,0,\"usbat\"\r\n\
        \r\n+QISTATE: 2,\"UDP SERVICE\",\"127.0.0.1\",0,3030,2,1,-1,1,\"usbmodem\"\r\n\r\nOK\r\n";
    for ctx in contexts() {
        let f = frames_everywhere(&ctx, bytes);
        assert_eq!(f.len(), 4);
        let Frame::QiStateExt(s) = f[0] else {
            panic!("{f:?}")
        };
        assert_eq!(
            s,
            SocketStatusExt {
                id: 0,
                service: ExtService::Tcp,
                remote: "220.180.239.201",
                remote_port: 8705,
                local_port: 65344,
                state: 2,
                context: 1,
                server_id: 0,
                access_mode: 0,
                at_port: AtPort::Uart1,
            }
        );
        assert_eq!(s.as_bc20().unwrap().id, id(0));
        let Frame::QiStateExt(l) = f[1] else {
            panic!("{f:?}")
        };
        assert_eq!(
            (l.id, l.service, l.at_port),
            (11, ExtService::TcpListener, AtPort::UsbAt)
        );
        assert!(l.as_bc20().is_none(), "socket 11 is not one of the BC20's");
        let Frame::QiStateExt(u) = f[2] else {
            panic!("{f:?}")
        };
        assert_eq!(
            (u.service, u.server_id, u.access_mode, u.at_port),
            (ExtService::UdpService, -1, 1, AtPort::UsbModem)
        );
        assert_eq!(f[3], Frame::Ok);
    }
    // Nine fields are neither form.
    let (f, stats) = parse_all(
        ParseContext::default(),
        b"\r\n+QISTATE: 0,\"TCP\",\"1.2.3.4\",1,2,2,1,0,0\r\n",
    );
    assert_eq!(stats.malformed, 1, "{f:?}");
}

#[test]
fn qird_query_answer_in_view_mode_0() {
    for ctx in contexts()
        .into_iter()
        .filter(|c| c.view_mode == ViewMode::HeaderCrLfData)
    {
        let f = frames_everywhere(&ctx, b"\r\n+QIRD: 1396,1396,0\r\n\r\nOK\r\n");
        assert_eq!(
            f,
            [
                Frame::QiRdQuery {
                    total: 1396,
                    read: 1396,
                    unread: 0
                },
                Frame::Ok
            ]
        );
        // Cumulative totals go past the five digits of a payload length.
        let f = frames_everywhere(&ctx, b"\r\n+QIRD: 4000000,3999995,5\r\n\r\nOK\r\n");
        assert_eq!(
            f[0],
            Frame::QiRdQuery {
                total: 4_000_000,
                read: 3_999_995,
                unread: 5
            }
        );
    }
}

#[test]
fn three_numbers_are_data_in_view_mode_1() {
    let ctx = ParseContext {
        view_mode: ViewMode::HeaderCommaData,
        ..Default::default()
    };
    let f = frames_everywhere(&ctx, b"\r\n+QIRD: 3,1,5\r\n\r\nOK\r\n");
    assert_eq!(
        f,
        [
            Frame::QiRd {
                data: Payload::raw(b"1,5"),
                remaining: None
            },
            Frame::Ok
        ]
    );
    let ctx = ParseContext {
        show_length: true,
        ..ctx
    };
    let f = frames_everywhere(&ctx, b"\r\n+QIRD: 1,0,5\r\n\r\nOK\r\n");
    assert_eq!(
        f[0],
        Frame::QiRd {
            data: Payload::raw(b"5"),
            remaining: Some(0)
        }
    );
}

#[test]
fn udp_service_qird_carries_the_sender_in_every_context() {
    for ctx in contexts() {
        let hex = ctx.recv_format == DataFormat::Hex;
        let data: &[u8] = if hex { b"68656C6C6F" } else { b"he\r\nO" };
        let mut bytes = b"\r\n+QIRD: 5,\"10.7.76.34\",7687\r\n".to_vec();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n\r\nOK\r\n");
        let f = frames_everywhere(&ctx, &bytes);
        let Frame::QiRdFrom { data: got, from } = f[0] else {
            panic!("{ctx:?}: {f:?}")
        };
        let mut out = [0u8; 5];
        assert_eq!(got.decode_into(&mut out), Some(5));
        assert_eq!(&out, if hex { b"hello" } else { b"he\r\nO" });
        assert_eq!(
            from,
            Remote {
                ip: IpAddr::V4(Ipv4Addr::new(10, 7, 76, 34)),
                port: 7687
            }
        );
        assert_eq!(f[1], Frame::Ok);
    }
    // IPv6 senders too.
    let f = step(
        &ParseContext::default(),
        b"\r\n+QIRD: 2,\"2001:db8::1\",53\r\nab\r\n\r\nOK\r\n",
    );
    let Frame::QiRdFrom { from, .. } = f[0] else {
        panic!("{f:?}")
    };
    assert_eq!(from.socket_addr(), "[2001:db8::1]:53".parse().unwrap());
}

#[test]
fn udp_service_push_carries_the_sender() {
    for ctx in contexts() {
        let hex = ctx.recv_format == DataFormat::Hex;
        let data: &[u8] = if hex { b"616263" } else { b"a\nc" };
        let mut bytes = b"\r\n+QIURC: \"recv\",2,3,\"10.0.0.9\",5000\r\n".to_vec();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n\r\nOK\r\n");
        let f = frames_everywhere(&ctx, &bytes);
        let Frame::RecvFrom {
            id: i,
            data: got,
            from,
        } = f[0]
        else {
            panic!("{ctx:?}: {f:?}")
        };
        assert_eq!(i, id(2));
        assert_eq!(got.len(), 3);
        assert_eq!(
            from,
            Remote {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
                port: 5000
            }
        );
    }
}

#[test]
fn qisend_query_answer() {
    for ctx in contexts() {
        let f = frames_everywhere(&ctx, b"\r\n+QISEND: 147,147,0\r\n\r\nOK\r\n");
        assert_eq!(
            f,
            [
                Frame::QiSendQuery {
                    total: 147,
                    acked: 147,
                    unacked: 0
                },
                Frame::Ok
            ]
        );
    }
    // The test answer stays one.
    let f = step(
        &ParseContext::default(),
        b"\r\n+QISEND: (0-4),(1-1024),<data>\r\n",
    );
    assert!(matches!(f[0], Frame::Test { .. }));
}

#[test]
fn send_prompt_is_framed_before_its_data() {
    for ctx in contexts() {
        // The module prints `\r\n> ` and waits: no line end comes until the data is sent.
        let (frames, _) = parse_all(ctx, b"\r\n> ");
        assert_eq!(frames, [Frame::Blank, Frame::Prompt]);
        let f = frames_everywhere(&ctx, b"\r\n> \r\nSEND OK\r\n");
        assert_eq!(f, [Frame::Prompt, Frame::SendOk]);
        // `>` on a line of its own (a model that ends the prompt with a line end).
        let f = frames_everywhere(&ctx, b"\r\n>\r\n\r\nSEND OK\r\n");
        assert_eq!(f, [Frame::Prompt, Frame::SendOk]);
    }
}

/// True for a frame (in `Debug` form) that hands out payload bytes.
fn carries_data(f: &str) -> bool {
    (f.starts_with("QiRd {") && !f.contains("wire: []"))
        || f.starts_with("QiRdFrom")
        || f.starts_with("RecvData")
        || f.starts_with("RecvFrom")
}

/// A header that did not decode: the bytes after it are lines, none is data.
fn assert_no_payload(ctx: &ParseContext, bytes: &[u8]) -> Vec<String> {
    let whole = debug_frames(*ctx, bytes);
    for f in &whole {
        assert!(
            !carries_data(f),
            "{ctx:?}: payload taken from {:?}: {whole:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    for sizes in [&[1][..], &[3, 7]] {
        let (chunked, _) = parse_chunked(*ctx, bytes, sizes);
        assert_eq!(chunked, whole);
    }
    whole
}

#[test]
fn broken_headers_yield_no_data() {
    let show = ParseContext {
        show_length: true,
        ..Default::default()
    };
    // The lead's example: showlength on, a third field that is not a number.
    let f = assert_no_payload(&show, b"\r\n+QIRD: 10,0,5x\r\n0123456789\r\n\r\nOK\r\n");
    assert!(f.iter().any(|f| f.starts_with("BadPayload")), "{f:?}");
    // Three numbers in view mode 0: the query answer, no data.
    let f = assert_no_payload(&show, b"\r\n+QIRD: 10,0,5\r\n0123456789\r\n\r\nOK\r\n");
    assert!(f.iter().any(|f| f.starts_with("QiRdQuery")), "{f:?}");
    // Data on the header's line in view mode 0.
    for ctx in [ParseContext::default(), show] {
        let f = assert_no_payload(&ctx, b"\r\n+QIRD: 5,hello\r\n\r\nOK\r\n");
        assert!(f.iter().any(|f| f.contains("why: Layout")), "{f:?}");
    }
    // The address form with a bad address, port or trailer.
    for header in [
        &b"+QIRD: 5,\"10.7.76\",7687"[..],
        b"+QIRD: 5,\"10.7.76.300\",7687",
        b"+QIRD: 5,\"10.7.76.34\",76870",
        b"+QIRD: 5,\"10.7.76.34\",-7687",
        b"+QIRD: 5,\"10.7.76.34\",7687,1",
        b"+QIURC: \"recv\",1,5,\"10.7.76.34\",99999",
    ] {
        let mut bytes = b"\r\n".to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(b"\r\nhello\r\n\r\nOK\r\n");
        let mut ctx = ParseContext::default();
        ctx.set_access_mode(id(1), AccessMode::DirectPush);
        let f = assert_no_payload(&ctx, &bytes);
        assert!(f.iter().any(|f| f.starts_with("BadPayload")), "{f:?}");
    }
    // Raw data on a push URC's line in view mode 0.
    let mut ctx = ParseContext::default();
    ctx.set_access_mode(id(0), AccessMode::DirectPush);
    let f = assert_no_payload(&ctx, b"\r\n+QIURC: \"recv\",0,5,hello\r\n");
    assert!(
        f.iter()
            .any(|f| f.contains("BadPayload { id: Some(ConnectId(0))")),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|f| f.contains(&format!("{:?}", Malformed::Layout)))
    );
}

/// One header of a real form, as fields; `fields[0]` is the name with its first value.
#[derive(Debug, Clone)]
enum Form {
    /// `+QIRD: <len>[,<remaining>]` then the data after the line end.
    Read,
    /// `+QIRD: <len>,"<ip>",<port>` then the data.
    ReadFrom,
    /// `+QIURC: "recv",<id>,<len>` then the data (direct push).
    Push,
    /// `+QIURC: "recv",<id>,<len>,"<ip>",<port>` then the data.
    PushFrom,
}

/// How one field of a header is broken.
#[derive(Debug, Clone)]
enum Mutation {
    /// A sign before it.
    Sign(char),
    /// Quotes around a number, or none around the address.
    Quote,
    /// A number of 6 to 12 digits.
    Huge(u64),
    /// Letters after it.
    Junk(String),
    /// One more field that is not a plain number after the header.
    Extra(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::sample::select(vec!['-', '+']).prop_map(Mutation::Sign),
        Just(Mutation::Quote),
        (100_000u64..1_000_000_000_000).prop_map(Mutation::Huge),
        "[a-zG-Z]{1,3}".prop_map(Mutation::Junk),
        prop::sample::select(vec!["", "x7", "\"x\"", "\"1.2.3.4\"", " ", "-1"])
            .prop_map(|s| Mutation::Extra(s.to_owned())),
    ]
}

/// Render `form` for `ctx` with field `which` broken by `m`; the data is `data`.
fn render(form: &Form, ctx: &ParseContext, which: usize, m: &Mutation, data: &[u8]) -> Vec<u8> {
    let hex = ctx.recv_format == DataFormat::Hex;
    let wire: Vec<u8> = if hex {
        data.iter()
            .flat_map(|b| format!("{b:02X}").into_bytes())
            .collect()
    } else {
        data.to_vec()
    };
    let len = data.len().to_string();
    let (head, mut fields): (&str, Vec<String>) = match form {
        Form::Read if ctx.show_length => ("+QIRD: ", vec![len, "0".into()]),
        Form::Read => ("+QIRD: ", vec![len]),
        Form::ReadFrom => ("+QIRD: ", vec![len, "\"10.7.0.1\"".into(), "5000".into()]),
        Form::Push => ("+QIURC: \"recv\",", vec!["0".into(), len]),
        Form::PushFrom => (
            "+QIURC: \"recv\",",
            vec!["0".into(), len, "\"10.7.0.1\"".into(), "5000".into()],
        ),
    };
    let which = which % fields.len();
    let f = &mut fields[which];
    match m {
        Mutation::Sign(c) => f.insert(0, *c),
        Mutation::Quote if f.starts_with('"') => *f = f.trim_matches('"').to_owned(),
        Mutation::Quote => *f = format!("\"{f}\""),
        Mutation::Huge(n) if f.starts_with('"') => *f = format!("\"{n}\""),
        Mutation::Huge(n) => *f = n.to_string(),
        Mutation::Junk(j) => f.push_str(j),
        Mutation::Extra(e) => fields.push(e.clone()),
    }
    let mut out = b"\r\n".to_vec();
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(fields.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&wire);
    out.extend_from_slice(b"\r\n\r\nOK\r\n");
    out
}

fn any_context() -> impl Strategy<Value = ParseContext> {
    prop::sample::select(contexts())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The rule of issue 13: a payload header the parser does not fully understand never
    /// yields payload bytes. Real headers of every payload form, with one field mutated
    /// (a sign, quotes added or removed, a huge number, letters after it, an extra field), in
    /// every context where the mutation cannot make another valid header: none of their bytes
    /// becomes data, whatever the data (no `+`, so no header hides in it) and the chunking.
    #[test]
    fn mutated_headers_never_yield_data(
        ctx in any_context(),
        form in prop::sample::select(vec![Form::Read, Form::ReadFrom, Form::Push, Form::PushFrom]),
        which in 0usize..4,
        m in mutation(),
        data in prop::collection::vec(
            prop_oneof![any::<u8>().prop_filter("no header inside", |b| *b != b'+'),
                        prop::sample::select(b"\r\nOK0123,\"".to_vec())],
            1..40,
        ),
    ) {
        let fields = match form {
            Form::Read => 1 + usize::from(ctx.show_length),
            Form::Push => 2,
            Form::ReadFrom => 3,
            Form::PushFrom => 4,
        };
        let first_field_only = which % fields == 0 && !matches!(m, Mutation::Extra(_));
        // View mode 1 takes whatever follows `<len>,` as data: only the length itself can be
        // checked there (the same holds for a push URC's id and length in view mode 1).
        prop_assume!(ctx.view_mode == ViewMode::HeaderCrLfData || first_field_only
            || (matches!(form, Form::Push | Form::PushFrom) && which % fields <= 1 && !matches!(m, Mutation::Extra(_))));
        let mut ctx = ctx;
        ctx.set_access_mode(ConnectId::new(0).unwrap(), AccessMode::DirectPush);
        let bytes = render(&form, &ctx, which, &m, &data);
        let whole = debug_frames(ctx, &bytes);
        for f in &whole {
            prop_assert!(
                !carries_data(f),
                "payload taken from {:?}: {:?}", String::from_utf8_lossy(&bytes), whole
            );
        }
        let (chunked, _) = parse_chunked(ctx, &bytes, &[3, 1, 7]);
        prop_assert_eq!(chunked, whole);
    }

    /// The unmutated headers, for contrast: every one frames exactly its data.
    #[test]
    fn real_headers_yield_their_data(
        ctx in any_context(),
        form in prop::sample::select(vec![Form::Read, Form::ReadFrom, Form::Push, Form::PushFrom]),
        data in prop::collection::vec(any::<u8>().prop_filter("no header inside", |b| *b != b'+'), 1..40),
    ) {
        let mut ctx = ctx;
        ctx.set_access_mode(ConnectId::new(0).unwrap(), AccessMode::DirectPush);
        let bytes = render(&form, &ctx, 0, &Mutation::Junk(String::new()), &data);
        let (frames, stats) = parse_all(ctx, &bytes);
        prop_assert_eq!(stats.malformed, 0, "{:?}", frames);
        let got: Vec<Vec<u8>> = frames.iter().filter_map(|f| match f {
            Frame::QiRd { data, .. } | Frame::QiRdFrom { data, .. } | Frame::RecvData { data, .. } | Frame::RecvFrom { data, .. } => {
                let mut out = vec![0; data.len()];
                data.decode_into(&mut out).map(|_| out)
            }
            _ => None,
        }).collect();
        prop_assert_eq!(got, vec![data.clone()]);
    }
}

/// Settings and URC kinds of siblings this crate does not use are unknown lines, not broken
/// ones: a BG96 log with a TCP listener or its own `AT+QICFG` keys decodes cleanly.
#[test]
fn sibling_settings_and_urc_kinds_are_unknown_not_malformed() {
    let bytes = b"\r\n+QICFG: \"transpktsize\",1024\r\n\r\nOK\r\n\
        \r\n+QIURC: \"incoming full\"\r\n\
        \r\n+QIURC: \"incoming\",1,0,\"10.7.0.1\",5000\r\n";
    let (f, stats) = parse_all(ParseContext::default(), bytes);
    assert_eq!(stats.malformed, 0, "{f:?}");
    assert_eq!(stats.unknown, 3, "{f:?}");
    // A kind this crate knows, with broken fields, stays malformed.
    let (_, stats) = parse_all(ParseContext::default(), b"\r\n+QIURC: \"closed\",x\r\n");
    assert_eq!(stats.malformed, 1);
}
