//! Exact bytes of every variant, and every refusal.

extern crate std;

use super::*;
use crate::types::{DataFormat, ViewMode};

const SENTINEL: u8 = 0xA5;

fn id(n: u8) -> ConnectId {
    ConnectId::new(n).unwrap()
}

fn ctx(n: u8) -> ContextId {
    ContextId::new(n).unwrap()
}

/// Encode into a sentinel-filled buffer; check `encoded_len` agrees and nothing past the
/// command was written.
fn enc(cmd: Command<'_>) -> std::vec::Vec<u8> {
    let mut buf = [SENTINEL; MAX_COMMAND_LEN + 8];
    let n = cmd
        .encode(&mut buf)
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert_eq!(cmd.encoded_len(), Ok(n), "{cmd:?}");
    assert!(buf[n..].iter().all(|&b| b == SENTINEL), "{cmd:?}");
    buf[..n].to_vec()
}

/// The command is refused with `err`, by `validate`, `encoded_len` and `encode`, and the
/// buffer stays untouched.
fn refused(cmd: Command<'_>, err: EncodeError) {
    assert_eq!(cmd.validate(), Err(err), "{cmd:?}");
    assert_eq!(cmd.encoded_len(), Err(err), "{cmd:?}");
    let mut buf = [SENTINEL; MAX_COMMAND_LEN + 8];
    assert_eq!(cmd.encode(&mut buf), Err(err), "{cmd:?}");
    assert!(buf.iter().all(|&b| b == SENTINEL), "{cmd:?} wrote on error");
}

fn open(remote: &str, remote_port: u16) -> Command<'_> {
    Command::QiOpen {
        context: ctx(1),
        id: id(0),
        service: ServiceType::Tcp,
        remote,
        remote_port,
        local_port: 1234,
        access_mode: AccessMode::Buffer,
    }
}

fn ping(host: &str, timeout_s: Option<u8>, count: Option<u8>, size: Option<u8>) -> Command<'_> {
    Command::QPing {
        context: ctx(1),
        host,
        timeout_s,
        count,
        size,
    }
}

fn ntp(server: &str, port: Option<u16>, auto_set: Option<bool>) -> Command<'_> {
    Command::QNtp {
        context: ctx(1),
        server,
        port,
        auto_set,
    }
}

#[test]
fn bring_up_commands() {
    assert_eq!(enc(Command::At), b"AT\r");
    assert_eq!(enc(Command::Echo(false)), b"ATE0\r");
    assert_eq!(enc(Command::Echo(true)), b"ATE1\r");
    assert_eq!(enc(Command::Reset), b"ATZ\r");
    assert_eq!(enc(Command::Identify), b"ATI\r");
    assert_eq!(enc(Command::Cmee(0)), b"AT+CMEE=0\r");
    assert_eq!(enc(Command::Cmee(1)), b"AT+CMEE=1\r");
    assert_eq!(enc(Command::Cmee(2)), b"AT+CMEE=2\r");
    assert_eq!(enc(Command::CpinRead), b"AT+CPIN?\r");
    assert_eq!(enc(Command::CeregRead), b"AT+CEREG?\r");
    assert_eq!(enc(Command::CeregSet(0)), b"AT+CEREG=0\r");
    assert_eq!(enc(Command::CeregSet(5)), b"AT+CEREG=5\r");
    assert_eq!(enc(Command::CgattRead), b"AT+CGATT?\r");
    assert_eq!(enc(Command::CgpaddrRead(ctx(1))), b"AT+CGPADDR=1\r");
    assert_eq!(enc(Command::CgpaddrRead(ctx(3))), b"AT+CGPADDR=3\r");
}

#[test]
fn qiopen() {
    assert_eq!(
        enc(open("220.180.239.212", 8062)),
        b"AT+QIOPEN=1,0,\"TCP\",\"220.180.239.212\",8062,1234,0\r"
    );
    let udp = Command::QiOpen {
        context: ctx(3),
        id: id(4),
        service: ServiceType::Udp,
        remote: "ntp_1.example-host.org",
        remote_port: 65_535,
        local_port: 0,
        access_mode: AccessMode::DirectPush,
    };
    assert_eq!(
        enc(udp),
        b"AT+QIOPEN=3,4,\"UDP\",\"ntp_1.example-host.org\",65535,0,1\r"
    );
    assert_eq!(enc(open("a", 1)), b"AT+QIOPEN=1,0,\"TCP\",\"a\",1,1234,0\r");
    assert_eq!(enc(Command::QiOpenTest), b"AT+QIOPEN=?\r");
}

#[test]
fn qiclose_and_qistate() {
    assert_eq!(enc(Command::QiClose(id(0))), b"AT+QICLOSE=0\r");
    assert_eq!(enc(Command::QiClose(id(4))), b"AT+QICLOSE=4\r");
    assert_eq!(enc(Command::QiCloseTest), b"AT+QICLOSE=?\r");
    assert_eq!(enc(Command::QiStateRead), b"AT+QISTATE?\r");
    assert_eq!(enc(Command::QiStateTest), b"AT+QISTATE=?\r");
    assert_eq!(enc(Command::QiStateByContext(ctx(1))), b"AT+QISTATE=0,1\r");
    assert_eq!(enc(Command::QiStateById(id(0))), b"AT+QISTATE=1,0\r");
    assert_eq!(enc(Command::QiStateById(id(3))), b"AT+QISTATE=1,3\r");
}

#[test]
fn qisend_writes_bare_text() {
    let send = |n, data| Command::QiSend { id: id(n), data };
    assert_eq!(enc(send(0, b"1234567890")), b"AT+QISEND=0,10,1234567890\r");
    assert_eq!(enc(send(2, b"x")), b"AT+QISEND=2,1,x\r");
    // Every allowed byte class: space, punctuation (comma included), digits, letters, `~`.
    assert_eq!(
        enc(send(1, b" !#,.09AZaz~'\\")),
        b"AT+QISEND=1,14, !#,.09AZaz~'\\\r"
    );
    let full = [b'a'; MAX_SEND_TEXT];
    let out = enc(send(4, &full));
    assert_eq!(&out[..17], b"AT+QISEND=4,1024,");
    assert_eq!(out.len(), 17 + 1024 + 1);
    assert_eq!(enc(Command::QiSendTest), b"AT+QISEND=?\r");
}

#[test]
fn qisendex_writes_upper_case_hex() {
    let sendex = |data| Command::QiSendEx { id: id(0), data };
    assert_eq!(enc(sendex(b"01234")), b"AT+QISENDEX=0,5,3031323334\r");
    assert_eq!(
        enc(sendex(&[0x00, 0x0d, 0x0a, 0x22, 0xab, 0xff])),
        b"AT+QISENDEX=0,6,000D0A22ABFF\r"
    );
    let full = [0xC3; MAX_SEND_HEX];
    let out = enc(Command::QiSendEx {
        id: id(4),
        data: &full,
    });
    assert_eq!(&out[..18], b"AT+QISENDEX=4,512,");
    assert_eq!(&out[18..22], b"C3C3");
    assert_eq!(out.len(), MAX_COMMAND_LEN, "the longest command");
    assert_eq!(enc(Command::QiSendExTest), b"AT+QISENDEX=?\r");
}

#[test]
fn qird_and_qiswtmd() {
    assert_eq!(
        enc(Command::QiRd {
            id: id(0),
            len: 512
        }),
        b"AT+QIRD=0,512\r"
    );
    assert_eq!(enc(Command::QiRd { id: id(0), len: 10 }), b"AT+QIRD=0,10\r");
    assert_eq!(enc(Command::QiRd { id: id(4), len: 1 }), b"AT+QIRD=4,1\r");
    assert_eq!(enc(Command::QiRdTest), b"AT+QIRD=?\r");
    let swtmd = |mode| Command::QiSwtmd { id: id(1), mode };
    assert_eq!(enc(swtmd(AccessMode::Buffer)), b"AT+QISWTMD=1,0\r");
    assert_eq!(enc(swtmd(AccessMode::DirectPush)), b"AT+QISWTMD=1,1\r");
    assert_eq!(enc(Command::QiSwtmdRead), b"AT+QISWTMD?\r");
    assert_eq!(enc(Command::QiSwtmdTest), b"AT+QISWTMD=?\r");
}

#[test]
fn qping_writes_up_to_the_last_given_parameter() {
    let h = "hf.quectel.com";
    assert_eq!(
        enc(ping(h, None, None, None)),
        b"AT+QPING=1,\"hf.quectel.com\"\r"
    );
    assert_eq!(
        enc(ping(h, Some(10), None, None)),
        b"AT+QPING=1,\"hf.quectel.com\",10\r"
    );
    assert_eq!(
        enc(ping(h, None, Some(2), None)),
        b"AT+QPING=1,\"hf.quectel.com\",4,2\r"
    );
    assert_eq!(
        enc(ping(h, None, None, Some(64))),
        b"AT+QPING=1,\"hf.quectel.com\",4,4,64\r"
    );
    assert_eq!(
        enc(ping(h, Some(1), None, Some(200))),
        b"AT+QPING=1,\"hf.quectel.com\",1,4,200\r"
    );
    assert_eq!(
        enc(ping(h, Some(255), Some(10), Some(32))),
        b"AT+QPING=1,\"hf.quectel.com\",255,10,32\r"
    );
    assert_eq!(enc(Command::QPingTest), b"AT+QPING=?\r");
}

#[test]
fn qntp_writes_the_default_port_before_autosettime() {
    let s = "ntp5.aliyun.com";
    assert_eq!(enc(ntp(s, None, None)), b"AT+QNTP=1,\"ntp5.aliyun.com\"\r");
    assert_eq!(
        enc(ntp(s, Some(1123), None)),
        b"AT+QNTP=1,\"ntp5.aliyun.com\",1123\r"
    );
    assert_eq!(
        enc(ntp(s, None, Some(false))),
        b"AT+QNTP=1,\"ntp5.aliyun.com\",123,0\r"
    );
    assert_eq!(
        enc(ntp(s, Some(65_535), Some(true))),
        b"AT+QNTP=1,\"ntp5.aliyun.com\",65535,1\r"
    );
    assert_eq!(enc(Command::QNtpTest), b"AT+QNTP=?\r");
}

#[test]
fn qidnsgip() {
    let dns = Command::QiDnsGip {
        context: ctx(1),
        host: "www.example.com",
    };
    assert_eq!(enc(dns), b"AT+QIDNSGIP=1,\"www.example.com\"\r");
    assert_eq!(enc(Command::QiDnsGipTest), b"AT+QIDNSGIP=?\r");
}

#[test]
fn qicfg() {
    let set = |cfg| enc(Command::QiCfgSet(cfg));
    assert_eq!(
        set(QiCfg::DataFormat {
            send: DataFormat::Text,
            recv: DataFormat::Hex
        }),
        b"AT+QICFG=\"dataformat\",0,1\r"
    );
    assert_eq!(
        set(QiCfg::DataFormat {
            send: DataFormat::Hex,
            recv: DataFormat::Text
        }),
        b"AT+QICFG=\"dataformat\",1,0\r"
    );
    assert_eq!(
        set(QiCfg::ViewMode(ViewMode::HeaderCommaData)),
        b"AT+QICFG=\"viewmode\",1\r"
    );
    assert_eq!(
        set(QiCfg::ViewMode(ViewMode::HeaderCrLfData)),
        b"AT+QICFG=\"viewmode\",0\r"
    );
    assert_eq!(set(QiCfg::ShowLength(true)), b"AT+QICFG=\"showlength\",1\r");
    assert_eq!(
        set(QiCfg::ShowLength(false)),
        b"AT+QICFG=\"showlength\",0\r"
    );
    let query = |key| enc(Command::QiCfgQuery(key));
    assert_eq!(query(QiCfgKey::DataFormat), b"AT+QICFG=\"dataformat\"\r");
    assert_eq!(query(QiCfgKey::ViewMode), b"AT+QICFG=\"viewmode\"\r");
    assert_eq!(query(QiCfgKey::ShowLength), b"AT+QICFG=\"showlength\"\r");
    assert_eq!(enc(Command::QiCfgTest), b"AT+QICFG=?\r");
}

#[test]
fn qigeterror() {
    assert_eq!(enc(Command::QiGetError), b"AT+QIGETERROR\r");
    assert_eq!(enc(Command::QiGetErrorTest), b"AT+QIGETERROR=?\r");
}

#[test]
fn names_and_kinds_match_the_bytes() {
    let data = [0u8; 1];
    let all = [
        Command::At,
        Command::Echo(false),
        Command::Reset,
        Command::Identify,
        Command::Cmee(1),
        Command::CpinRead,
        Command::CeregRead,
        Command::CeregSet(2),
        Command::CgattRead,
        Command::CgpaddrRead(ctx(1)),
        open("h", 1),
        Command::QiOpenTest,
        Command::QiClose(id(0)),
        Command::QiCloseTest,
        Command::QiStateRead,
        Command::QiStateTest,
        Command::QiStateByContext(ctx(1)),
        Command::QiStateById(id(0)),
        Command::QiSend {
            id: id(0),
            data: b"a",
        },
        Command::QiSendTest,
        Command::QiSendEx {
            id: id(0),
            data: &data,
        },
        Command::QiSendExTest,
        Command::QiRd { id: id(0), len: 1 },
        Command::QiRdTest,
        Command::QiSwtmd {
            id: id(0),
            mode: AccessMode::Buffer,
        },
        Command::QiSwtmdRead,
        Command::QiSwtmdTest,
        ping("h", None, None, None),
        Command::QPingTest,
        ntp("h", None, None),
        Command::QNtpTest,
        Command::QiDnsGip {
            context: ctx(1),
            host: "h",
        },
        Command::QiDnsGipTest,
        Command::QiCfgSet(QiCfg::ShowLength(true)),
        Command::QiCfgQuery(QiCfgKey::ViewMode),
        Command::QiCfgTest,
        Command::QiGetError,
        Command::QiGetErrorTest,
    ];
    for cmd in all {
        let out = enc(cmd);
        let name = cmd.name().as_bytes();
        assert!(out.starts_with(name), "{cmd:?}");
        let rest = &out[name.len()..out.len() - 1];
        let kind = match rest {
            b"=?" => CommandKind::Test,
            b"?" => CommandKind::Read,
            [b'=', ..] => CommandKind::Write,
            _ => CommandKind::Execute,
        };
        assert_eq!(cmd.kind(), kind, "{cmd:?}");
        assert_eq!(out.iter().filter(|&&b| b == b'\r').count(), 1);
        assert!(!out.contains(&b'\n'));
        assert!(out.len() <= MAX_COMMAND_LEN);
    }
    assert_eq!(Command::QiOpenTest.name(), "AT+QIOPEN");
    assert_eq!(Command::Echo(true).name(), "ATE");
    assert_eq!(Command::Echo(true).kind(), CommandKind::Execute);
    assert_eq!(
        Command::QiCfgQuery(QiCfgKey::ViewMode).kind(),
        CommandKind::Write
    );
}

#[test]
fn max_command_len_is_tight() {
    assert_eq!(MAX_COMMAND_LEN, 1043);
    let host = "h".repeat(MAX_HOST_LEN);
    let longest_open = Command::QiOpen {
        context: ctx(3),
        id: id(4),
        service: ServiceType::Tcp,
        remote: &host,
        remote_port: 65_535,
        local_port: 65_535,
        access_mode: AccessMode::DirectPush,
    };
    assert_eq!(longest_open.encoded_len(), Ok(QIOPEN_MAX));
    let longest_ping = Command::QPing {
        context: ctx(3),
        host: &host,
        timeout_s: Some(255),
        count: Some(10),
        size: Some(200),
    };
    assert_eq!(longest_ping.encoded_len(), Ok(QPING_MAX));
    let longest_ntp = Command::QNtp {
        context: ctx(3),
        server: &host,
        port: Some(65_535),
        auto_set: Some(true),
    };
    assert_eq!(longest_ntp.encoded_len(), Ok(QNTP_MAX));
    let text = [b'~'; MAX_SEND_TEXT];
    let longest_send = Command::QiSend {
        id: id(4),
        data: &text,
    };
    assert_eq!(longest_send.encoded_len(), Ok(QISEND_MAX));
    assert_eq!(QISEND_MAX, 1042);
    for n in [QIOPEN_MAX, QPING_MAX, QNTP_MAX, QISEND_MAX] {
        assert!(n <= MAX_COMMAND_LEN);
    }
}

#[test]
fn refuses_numbers_out_of_range() {
    use EncodeError::OutOfRange;
    let oor = |field, value| OutOfRange { field, value };
    refused(Command::Cmee(3), oor(Field::CmeeMode, 3));
    refused(Command::Cmee(255), oor(Field::CmeeMode, 255));
    refused(Command::CeregSet(6), oor(Field::CeregMode, 6));
    refused(open("h", 0), oor(Field::Port, 0));
    refused(
        Command::QiRd { id: id(0), len: 0 },
        oor(Field::ReadLength, 0),
    );
    refused(
        Command::QiRd {
            id: id(0),
            len: 513,
        },
        oor(Field::ReadLength, 513),
    );
    refused(
        Command::QiRd {
            id: id(0),
            len: u16::MAX,
        },
        oor(Field::ReadLength, 65_535),
    );
    refused(ping("h", Some(0), None, None), oor(Field::Timeout, 0));
    refused(ping("h", None, Some(0), None), oor(Field::PingCount, 0));
    refused(ping("h", None, Some(11), None), oor(Field::PingCount, 11));
    refused(ping("h", None, None, Some(31)), oor(Field::PingSize, 31));
    refused(ping("h", None, None, Some(201)), oor(Field::PingSize, 201));
    refused(ntp("h", Some(0), None), oor(Field::Port, 0));
    refused(ntp("h", Some(0), Some(true)), oor(Field::Port, 0));
}

#[test]
fn refuses_empty_and_too_long_strings() {
    use EncodeError::{Empty, TooLong};
    refused(open("", 80), Empty { field: Field::Host });
    refused(ping("", None, None, None), Empty { field: Field::Host });
    refused(
        ntp("", None, None),
        Empty {
            field: Field::Server,
        },
    );
    let dns = |host| Command::QiDnsGip {
        context: ctx(1),
        host,
    };
    refused(dns(""), Empty { field: Field::Host });

    let long = "a".repeat(MAX_HOST_LEN + 1);
    let too_long = |field| TooLong {
        field,
        len: 256,
        max: 255,
    };
    refused(open(&long, 80), too_long(Field::Host));
    refused(ping(&long, None, None, None), too_long(Field::Host));
    refused(ntp(&long, None, None), too_long(Field::Server));
    refused(dns(&long), too_long(Field::Host));
    assert!(dns(&long[1..]).validate().is_ok(), "255 bytes are fine");

    let send = |data| Command::QiSend { id: id(0), data };
    let sendex = |data| Command::QiSendEx { id: id(0), data };
    refused(send(b""), Empty { field: Field::Data });
    refused(sendex(b""), Empty { field: Field::Data });
    let big = [b'a'; MAX_SEND_TEXT + 1];
    refused(
        send(&big),
        TooLong {
            field: Field::Data,
            len: 1025,
            max: 1024,
        },
    );
    refused(
        sendex(&big[..MAX_SEND_HEX + 1]),
        TooLong {
            field: Field::Data,
            len: 513,
            max: 512,
        },
    );
}

#[test]
fn refuses_every_forbidden_byte_in_hosts() {
    for b in 0..=255u8 {
        if is_host_byte(b) {
            continue;
        }
        let mut text = *b"ab.c-d_e0";
        text[3] = b;
        // Bytes >= 0x80 cannot sit alone in a `str`: test them inside a UTF-8 sequence.
        let mut utf8 = [0u8; 4];
        let host: &str = match core::str::from_utf8(&text) {
            Ok(s) => s,
            Err(_) => char::from_u32(0x80 + u32::from(b & 0x3f))
                .unwrap()
                .encode_utf8(&mut utf8),
        };
        let bad = host
            .as_bytes()
            .iter()
            .position(|&c| !is_host_byte(c))
            .unwrap();
        let byte = host.as_bytes()[bad];
        let err = |field| EncodeError::InvalidByte {
            field,
            position: bad,
            byte,
        };
        refused(open(host, 80), err(Field::Host));
        refused(ping(host, None, None, None), err(Field::Host));
        refused(ntp(host, None, None), err(Field::Server));
        refused(
            Command::QiDnsGip {
                context: ctx(1),
                host,
            },
            err(Field::Host),
        );
    }
}

#[test]
fn host_injection_attempts_are_refused() {
    let cases: [(&str, usize, u8); 6] = [
        ("evil.com\"\r\nAT+QICLOSE=0", 8, b'"'),
        ("evil.com\rAT", 8, b'\r'),
        ("evil.com\nAT", 8, b'\n'),
        ("a,b", 1, b','),
        ("a b", 1, b' '),
        ("h\u{7f}", 1, 0x7f),
    ];
    for (host, position, byte) in cases {
        let err = EncodeError::InvalidByte {
            field: Field::Host,
            position,
            byte,
        };
        refused(open(host, 80), err);
    }
    let utf8 = "héllo";
    refused(
        ping(utf8, None, None, None),
        EncodeError::InvalidByte {
            field: Field::Host,
            position: 1,
            byte: 0xC3,
        },
    );
}

#[test]
fn refuses_every_forbidden_byte_in_text_data() {
    let mut forbidden = 0;
    for b in 0..=255u8 {
        let data = [b'x', b'y', b, b'z'];
        let cmd = Command::QiSend {
            id: id(0),
            data: &data,
        };
        let control_or_high = !(0x20..0x7F).contains(&b);
        if control_or_high || b == b'"' {
            forbidden += 1;
            refused(
                cmd,
                EncodeError::InvalidByte {
                    field: Field::Data,
                    position: 2,
                    byte: b,
                },
            );
        } else {
            assert!(is_text_byte(b));
            assert_eq!(enc(cmd).len(), "AT+QISEND=0,4,xy?z\r".len());
        }
    }
    // 32 controls, DEL, 128 high bytes and `"`.
    assert_eq!(forbidden, 32 + 1 + 128 + 1);
}

#[test]
fn hex_data_takes_any_byte() {
    let data: [u8; 256] = core::array::from_fn(|i| i as u8);
    let out = enc(Command::QiSendEx {
        id: id(0),
        data: &data,
    });
    assert!(out.starts_with(b"AT+QISENDEX=0,256,000102"));
    assert!(out.ends_with(b"FEFF\r"));
}

#[test]
fn buffer_too_small_leaves_it_untouched() {
    let cmds = [
        Command::At,
        open("220.180.239.212", 8062),
        Command::QiSend {
            id: id(0),
            data: b"1234567890",
        },
        Command::QiSendEx {
            id: id(0),
            data: b"01234",
        },
        ping("hf.quectel.com", Some(1), Some(2), Some(33)),
    ];
    for cmd in cmds {
        let needed = cmd.encoded_len().unwrap();
        for size in [0, 1, needed / 2, needed - 1] {
            let mut buf = std::vec![SENTINEL; size];
            assert_eq!(
                cmd.encode(&mut buf),
                Err(EncodeError::BufferTooSmall { needed }),
                "{cmd:?} into {size}"
            );
            assert!(buf.iter().all(|&b| b == SENTINEL), "{cmd:?} into {size}");
        }
        let mut exact = std::vec![SENTINEL; needed];
        assert_eq!(cmd.encode(&mut exact), Ok(needed));
        assert_eq!(exact.last(), Some(&b'\r'));
    }
}

#[test]
fn validation_errors_come_before_buffer_errors() {
    let mut buf = [SENTINEL; 2];
    assert_eq!(
        open("a\"b", 80).encode(&mut buf),
        Err(EncodeError::InvalidByte {
            field: Field::Host,
            position: 1,
            byte: b'"'
        })
    );
    assert_eq!(buf, [SENTINEL; 2]);
}

#[test]
fn errors_display() {
    use std::string::ToString;
    let cases = [
        (
            EncodeError::BufferTooSmall { needed: 12 },
            "output buffer too small: command needs 12 bytes",
        ),
        (
            EncodeError::InvalidByte {
                field: Field::Host,
                position: 3,
                byte: b'\r',
            },
            "invalid byte 0x0D at position 3 in host",
        ),
        (
            EncodeError::Empty {
                field: Field::Server,
            },
            "NTP server is empty",
        ),
        (
            EncodeError::TooLong {
                field: Field::Data,
                len: 1025,
                max: 1024,
            },
            "data too long: 1025 bytes, at most 1024",
        ),
        (
            EncodeError::OutOfRange {
                field: Field::PingSize,
                value: 31,
            },
            "ping size 31 out of range 32..=200",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}
