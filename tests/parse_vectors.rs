//! Test vectors: the module output of the manual's chapter 4 and of every example in spec
//! section 2, bytes in, frames out.

mod support;

use std::net::Ipv4Addr;

use quectel_bc20::wire::{CeReg, Frame, Malformed, Payload, PingLine, TestCommand};
use quectel_bc20::*;
use support::{frames, step, wrap};

use quectel_bc20::wire::ParseContext;

fn id(n: u8) -> ConnectId {
    ConnectId::new(n).unwrap()
}

fn raw(b: &[u8]) -> Payload<'_> {
    Payload::raw(b)
}

#[test]
fn manual_4_1_buffer_access_mode() {
    let mut ctx = ParseContext::default();
    // 4.1.1 open and query.
    assert_eq!(
        step(&ctx, b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"),
        [
            Frame::Ok,
            Frame::QiOpen {
                id: id(0),
                result: ResultCode::Success
            }
        ]
    );
    let state = step(
        &ctx,
        b"\r\n+QISTATE: 0,\"TCP\",\"220.180.239.212\",8062,1234,2,1,0\r\n\r\nOK\r\n",
    );
    assert_eq!(
        state,
        [
            Frame::QiState(SocketStatus {
                id: id(0),
                service: ServiceType::Tcp,
                remote: "220.180.239.212",
                remote_port: 8062,
                local_port: 1234,
                state: SocketState::Connected,
                context: ContextId::DEFAULT,
                access_mode: AccessMode::Buffer,
            }),
            Frame::Ok
        ]
    );
    // 4.1.2 sends, the second send before SEND OK answered by ERROR.
    assert_eq!(
        step(
            &ctx,
            &wrap(&["OK", "SEND OK", "OK", "SEND OK", "OK", "ERROR", "SEND OK"])
        ),
        [
            Frame::Ok,
            Frame::SendOk,
            Frame::Ok,
            Frame::SendOk,
            Frame::Ok,
            Frame::Error,
            Frame::SendOk
        ]
    );
    // 4.1.3 receive.
    assert_eq!(
        step(&ctx, b"\r\n+QIURC: \"recv\",0\r\n"),
        [Frame::RecvNotify {
            id: id(0),
            len: None
        }]
    );
    assert_eq!(
        step(&ctx, b"\r\n+QIRD: 10\r\n1234567890\r\n\r\nOK\r\n"),
        [
            Frame::QiRd {
                data: raw(b"1234567890"),
                remaining: None
            },
            Frame::Ok
        ]
    );
    assert_eq!(
        step(&ctx, b"\r\n+QIRD: 0\r\n\r\nOK\r\n"),
        [
            Frame::QiRd {
                data: raw(b""),
                remaining: None
            },
            Frame::Ok
        ]
    );
    // AT+QICFG="showlength",1
    assert_eq!(step(&ctx, b"\r\nOK\r\n"), [Frame::Ok]);
    ctx.show_length = true;
    assert_eq!(
        step(&ctx, b"\r\n+QIURC: \"recv\",0,12\r\n"),
        [Frame::RecvNotify {
            id: id(0),
            len: Some(12)
        }]
    );
    assert_eq!(
        step(&ctx, b"\r\n+QIRD: 10,2\r\n1234567890\r\n\r\nOK\r\n"),
        [
            Frame::QiRd {
                data: raw(b"1234567890"),
                remaining: Some(2)
            },
            Frame::Ok
        ]
    );
    assert_eq!(
        step(&ctx, b"\r\n+QIURC: \"recv\",0,\"buff full\"\r\n"),
        [Frame::BuffFull(id(0))]
    );
    // AT+QICFG="viewmode",1
    assert_eq!(step(&ctx, b"\r\nOK\r\n"), [Frame::Ok]);
    ctx.view_mode = ViewMode::HeaderCommaData;
    assert_eq!(
        step(
            &ctx,
            b"\r\nOK\r\n\r\nSEND OK\r\n\r\n+QIURC: \"recv\",0,12\r\n\r\n+QIRD: 10,2,0123456789\r\n\r\nOK\r\n"
        ),
        [
            Frame::Ok,
            Frame::SendOk,
            Frame::RecvNotify {
                id: id(0),
                len: Some(12)
            },
            Frame::QiRd {
                data: raw(b"0123456789"),
                remaining: Some(2)
            },
            Frame::Ok
        ]
    );
    // 4.1.4 close.
    assert_eq!(
        step(&ctx, b"\r\nOK\r\n\r\nCLOSE OK\r\n"),
        [Frame::Ok, Frame::CloseOk]
    );
}

#[test]
fn manual_4_2_direct_push_mode() {
    let mut ctx = ParseContext::default();
    ctx.set_access_mode(id(0), AccessMode::DirectPush);
    assert_eq!(
        step(
            &ctx,
            b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n\r\n+QISTATE: 0,\"TCP\",\"220.180.239.212\",8062,0,2,1,1\r\n"
        )[2],
        Frame::QiState(SocketStatus {
            id: id(0),
            service: ServiceType::Tcp,
            remote: "220.180.239.212",
            remote_port: 8062,
            local_port: 0,
            state: SocketState::Connected,
            context: ContextId::DEFAULT,
            access_mode: AccessMode::DirectPush,
        })
    );
    // 4.2.2: SEND OK with no OK first, then OK + SEND OK.
    assert_eq!(
        step(&ctx, &wrap(&["SEND OK", "OK", "SEND OK"])),
        [Frame::SendOk, Frame::Ok, Frame::SendOk]
    );
    // 4.2.3: pushed data, with the extra line end siblings send after it.
    assert_eq!(
        step(&ctx, b"\r\n+QIURC: \"recv\",0,5\r\n12345\r\n"),
        [Frame::RecvData {
            id: id(0),
            data: raw(b"12345")
        }]
    );
    ctx.view_mode = ViewMode::HeaderCommaData;
    assert_eq!(
        step(
            &ctx,
            b"\r\nOK\r\n\r\nOK\r\n\r\nSEND OK\r\n\r\n+QIURC: \"recv\",0,12,012345678901\r\n"
        ),
        [
            Frame::Ok,
            Frame::Ok,
            Frame::SendOk,
            Frame::RecvData {
                id: id(0),
                data: raw(b"012345678901")
            }
        ]
    );
    assert_eq!(
        step(&ctx, b"\r\nOK\r\n\r\nCLOSE OK\r\n"),
        [Frame::Ok, Frame::CloseOk]
    );
}

#[test]
fn manual_4_3_ping() {
    let ctx = ParseContext::default();
    let ip = Ipv4Addr::new(220, 180, 239, 212);
    let out = wrap(&[
        "OK",
        "OK",
        "+QPING: 0,\"220.180.239.212\",32,192,255",
        "+QPING: 0,\"220.180.239.212\",32,240,255",
        "+QPING: 0,\"220.180.239.212\",32,241,255",
        "+QPING: 0,\"220.180.239.212\",32,479,255",
        "+QPING: 0,4,4,0,192,479,287",
    ]);
    let f = step(&ctx, &out);
    assert_eq!(f.len(), 7);
    assert_eq!(
        f[2],
        Frame::Ping(PingLine::Echo(PingReply {
            ip,
            bytes: 32,
            time_ms: 192,
            ttl: 255
        }))
    );
    assert_eq!(
        f[5],
        Frame::Ping(PingLine::Echo(PingReply {
            ip,
            bytes: 32,
            time_ms: 479,
            ttl: 255
        }))
    );
    assert_eq!(
        f[6],
        Frame::Ping(PingLine::Summary(PingSummary {
            result: ResultCode::Success,
            sent: 4,
            received: 4,
            lost: 0,
            min_ms: 192,
            max_ms: 479,
            avg_ms: 287
        }))
    );
}

#[test]
fn manual_4_4_ntp_with_extra_field() {
    let f = step(
        &ParseContext::default(),
        b"\r\nOK\r\n\r\n+QNTP: 0,\"18/04/20,11:08:20:35+32\"\r\n",
    );
    assert_eq!(
        f[1],
        Frame::Ntp {
            result: ResultCode::Success,
            time: Some(NtpTime {
                year: 2018,
                month: 4,
                day: 20,
                hour: 11,
                minute: 8,
                second: 20,
                offset_quarters: 32
            })
        }
    );
}

#[test]
fn manual_4_5_last_error() {
    assert_eq!(
        step(
            &ParseContext::default(),
            &wrap(&["ERROR", "+QIGETERROR: 552,invalid parameters", "OK"])
        ),
        [
            Frame::Error,
            Frame::QiGetError {
                result: ResultCode::Qi(QiError::InvalidParameters),
                description: "invalid parameters"
            },
            Frame::Ok
        ]
    );
}

#[test]
fn spec_2_test_forms() {
    let cases: &[(&str, TestCommand)] = &[
        (
            "+QIOPEN: (1-3),(0-4),\"TCP/UDP\",\"<ip_address>/<domain_name>\",<remote_port>,<local_port>,(0-1)[,(0-1)]",
            TestCommand::QiOpen,
        ),
        ("+QICLOSE: (0-4)", TestCommand::QiClose),
        ("+QISEND: (0-4),(1-1024),<data>", TestCommand::QiSend),
        (
            "+QISENDEX: (0-4),(1-512),<hex_string>",
            TestCommand::QiSendEx,
        ),
        ("+QIRD: (0-4),(1-512)", TestCommand::QiRd),
        ("+QISWTMD: (0-4),(0-1)", TestCommand::QiSwtmd),
        (
            "+QPING: (1-3),\"<host>\"[,(1-255)[,(1-10)[,(32-200)]]]",
            TestCommand::QPing,
        ),
        (
            "+QNTP: (1-3),\"<server>\"[,<port>[,(0-1)]]",
            TestCommand::QNtp,
        ),
        ("+QIDNSGIP: (1-3),\"<hostname>\"", TestCommand::QiDnsGip),
        ("+QICFG: \"dataformat\",(0,1),(0,1)", TestCommand::QiCfg),
        ("+QICFG: \"viewmode\",(0,1)", TestCommand::QiCfg),
        ("+QICFG: \"showlength\",(0,1)", TestCommand::QiCfg),
    ];
    for (line, command) in cases {
        let bytes = wrap(&[line, "OK"]);
        let f = step(&ParseContext::default(), &bytes);
        let params = &line[line.find(": ").unwrap() + 2..];
        assert_eq!(
            f,
            [
                Frame::Test {
                    command: *command,
                    params
                },
                Frame::Ok
            ],
            "{line}"
        );
    }
}

#[test]
fn spec_2_qicfg_answers() {
    let out = wrap(&[
        "+QICFG: \"dataformat\",0,1",
        "OK",
        "+QICFG: \"viewmode\",1",
        "OK",
        "+QICFG: \"showlength\",0",
        "OK",
    ]);
    let f = step(&ParseContext::default(), &out);
    assert_eq!(
        f,
        [
            Frame::QiCfg(QiCfg::DataFormat {
                send: DataFormat::Text,
                recv: DataFormat::Hex
            }),
            Frame::Ok,
            Frame::QiCfg(QiCfg::ViewMode(ViewMode::HeaderCommaData)),
            Frame::Ok,
            Frame::QiCfg(QiCfg::ShowLength(false)),
            Frame::Ok
        ]
    );
}

#[test]
fn spec_3_urcs_and_dns() {
    let ctx = ParseContext::default();
    let out = wrap(&[
        "OK",
        "+QIURC: \"dnsgip\",0,2,600",
        "+QIURC: \"dnsgip\",\"127.0.0.1\"",
        "+QIURC: \"dnsgip\",\"10.1.2.3\"",
        "+QIURC: \"dnsgip\",565,0,0",
        "+QIURC: \"closed\",3",
        "+QIURC: \"pdpdeact\",1",
        "+QIURC: \"recv\",4",
        "+CME ERROR: 568",
        "+CME ERROR: SIM not inserted",
        "+QIOPEN: 2,566",
    ]);
    let f = step(&ctx, &out);
    assert_eq!(
        f,
        [
            Frame::Ok,
            Frame::DnsHead {
                result: ResultCode::Success,
                count: 2,
                ttl: 600
            },
            Frame::DnsAddr(Ipv4Addr::LOCALHOST),
            Frame::DnsAddr(Ipv4Addr::new(10, 1, 2, 3)),
            Frame::DnsHead {
                result: ResultCode::Qi(QiError::DnsParseFailed),
                count: 0,
                ttl: 0
            },
            Frame::Closed(id(3)),
            Frame::PdpDeact(1),
            Frame::RecvNotify {
                id: id(4),
                len: None
            },
            Frame::CmeError(CmeError(568)),
            Frame::CmeErrorText("SIM not inserted"),
            Frame::QiOpen {
                id: id(2),
                result: ResultCode::Qi(QiError::SocketConnectFailed)
            },
        ]
    );
}

#[test]
fn spec_1_hex_receive_mode() {
    let mut ctx = ParseContext {
        recv_format: DataFormat::Hex,
        ..Default::default()
    };
    ctx.set_access_mode(id(0), AccessMode::DirectPush);
    let f = step(
        &ctx,
        b"\r\n+QIURC: \"recv\",0,4,\"54657374\"\r\n\r\n+QIURC: \"recv\",0,4,54657374\r\n\r\n+QIURC: \"recv\",0,2\r\n00ff\r\n\r\n+QIRD: 5\r\n3031323334\r\n\r\nOK\r\n",
    );
    let mut buf = [0u8; 8];
    let mut decoded = Vec::new();
    for frame in &f {
        match frame {
            Frame::RecvData { data, .. } | Frame::QiRd { data, .. } => {
                assert!(data.is_hex());
                let n = data.decode_into(&mut buf).unwrap();
                decoded.push(buf[..n].to_vec());
            }
            Frame::Ok => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        decoded,
        [
            b"Test".to_vec(),
            b"Test".to_vec(),
            vec![0x00, 0xff],
            b"01234".to_vec()
        ]
    );
}

#[test]
fn spec_5_bring_up_and_6_real_world() {
    let ctx = ParseContext::default();
    // Echo on (6.1): the echoed command ends in a bare CR.
    assert_eq!(
        frames(ctx, b"AT\r\r\nOK\r\nATE0\r\r\nOK\r\n"),
        [
            Frame::Echo(b"AT"),
            Frame::Ok,
            Frame::Echo(b"ATE0"),
            Frame::Ok
        ]
    );
    let out = wrap(&[
        "+CPIN: READY",
        "+CEREG: 0,1",
        "+CEREG: 4,5,\"0001\",\"0000ABCD\",9,,,\"00100011\",\"00101010\"",
        "+CEREG: 2",
        "+CEREG: 1,\"0001\",\"0000ABCD\",9",
        "+CGATT: 1",
        "+CGPADDR: 1,10.0.0.7",
        "+CGPADDR: 1,\"10.0.0.8\"",
        "+CGPADDR: 1",
        "RDY",
        "F1: 0000 0000",
        "V0: 0000 0000 [0001]",
        "Leaving the BROM",
    ]);
    let f = step(&ctx, &out);
    assert_eq!(
        f,
        [
            Frame::CPin("READY"),
            Frame::CeReg(CeReg::Read {
                n: 0,
                stat: RegistrationStatus::Home
            }),
            Frame::CeReg(CeReg::Read {
                n: 4,
                stat: RegistrationStatus::Roaming
            }),
            Frame::CeReg(CeReg::Urc {
                stat: RegistrationStatus::Searching
            }),
            Frame::CeReg(CeReg::Urc {
                stat: RegistrationStatus::Home
            }),
            Frame::CgAtt(true),
            Frame::CgPAddr {
                cid: 1,
                addr: Some("10.0.0.7")
            },
            Frame::CgPAddr {
                cid: 1,
                addr: Some("10.0.0.8")
            },
            Frame::CgPAddr { cid: 1, addr: None },
            Frame::Ready,
            Frame::BootRom("F1: 0000 0000"),
            Frame::BootRom("V0: 0000 0000 [0001]"),
            Frame::BootRom("Leaving the BROM"),
        ]
    );
    assert!(f[9].is_reboot() && f[12].is_reboot() && !f[0].is_reboot());
    // ATI text (6.2: lines separated by one CRLF).
    assert_eq!(
        step(
            &ctx,
            b"\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20JAR01A04\r\n\r\nOK\r\n"
        ),
        [
            Frame::Identification("Quectel_Ltd"),
            Frame::Identification("Quectel_BC20"),
            Frame::Revision("BC20JAR01A04"),
            Frame::Ok
        ]
    );
    // 6.2: doubled blank line before a late URC; 6.6: lone ping error; 6.7: four-digit year.
    let f = step(
        &ctx,
        b"\r\nOK\r\n\r\n\r\n+QPING: 569\r\n\r\n+QNTP: 0,\"2026/07/03,00:56:27+32\"\r\n",
    );
    assert_eq!(
        f[1],
        Frame::Ping(PingLine::Result(ResultCode::Qi(QiError::Timeout)))
    );
    match f[2] {
        Frame::Ntp {
            time: Some(t),
            result: ResultCode::Success,
        } => assert_eq!(t.unix_timestamp(), 1_783_011_387),
        other => panic!("{other:?}"),
    }
    // 6.5: CLOSE OK late and on its own.
    assert_eq!(step(&ctx, b"\r\nOK\r\n"), [Frame::Ok]);
    assert_eq!(step(&ctx, b"\r\nCLOSE OK\r\n"), [Frame::CloseOk]);
}

#[test]
fn payload_that_looks_like_protocol_is_data() {
    let mut ctx = ParseContext::default();
    let evil = b"\r\nOK\r\n+QIURC: \"closed\",0\r\nERROR\r\n";
    let mut bytes = format!("\r\n+QIRD: {}\r\n", evil.len()).into_bytes();
    bytes.extend_from_slice(evil);
    bytes.extend_from_slice(b"\r\n\r\nOK\r\n");
    assert_eq!(
        step(&ctx, &bytes),
        [
            Frame::QiRd {
                data: raw(evil),
                remaining: None
            },
            Frame::Ok
        ]
    );
    ctx.set_access_mode(id(1), AccessMode::DirectPush);
    let mut bytes = format!("\r\n+QIURC: \"recv\",1,{}\r\n", evil.len()).into_bytes();
    bytes.extend_from_slice(evil);
    assert_eq!(
        step(&ctx, &bytes),
        [Frame::RecvData {
            id: id(1),
            data: raw(evil)
        }]
    );
}

#[test]
fn hostile_lines_are_typed_not_fatal() {
    let mut ctx = ParseContext::default();
    ctx.set_access_mode(id(0), AccessMode::DirectPush);
    let (f, stats) = support::parse_all(
        ctx,
        b"\r\n+QIURC: \"recv\",7,5\r\n+QIURC: \"recv\",0,99999\r\n+QIOPEN: 9,0\r\n+QPING: x\r\nOK\r\n",
    );
    let f: Vec<_> = f.into_iter().filter(|f| *f != Frame::Blank).collect();
    assert!(matches!(
        f[0],
        Frame::Malformed {
            why: Malformed::ConnectId,
            ..
        }
    ));
    // The socket is known: the frame says which one lost its data.
    assert!(matches!(
        f[1],
        Frame::BadPayload {
            id: Some(_),
            why: Malformed::LengthTooLarge,
            ..
        }
    ));
    assert!(matches!(
        f[2],
        Frame::Malformed {
            why: Malformed::ConnectId,
            ..
        }
    ));
    assert!(matches!(
        f[3],
        Frame::Malformed {
            why: Malformed::Fields,
            ..
        }
    ));
    assert_eq!(f[4], Frame::Ok);
    assert_eq!(stats.malformed, 4);
}
