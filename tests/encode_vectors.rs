//! Command encoder test vectors: every host command of the manual's chapter 4 and of the spec's
//! sections 2 and 5 (Command in, exact bytes out), and properties over arbitrary input.

use proptest::prelude::*;
use quectel_bc20::wire::encode::{CommandKind, Field, MAX_HOST_LEN};
use quectel_bc20::wire::{Command, EncodeError, MAX_COMMAND_LEN, hex};
use quectel_bc20::{
    AccessMode, ConnectId, ContextId, DataFormat, MAX_SEND_HEX, MAX_SEND_TEXT, QiCfg, QiCfgKey,
    ServiceType, ViewMode,
};

const SENTINEL: u8 = 0xA5;

fn id(n: u8) -> ConnectId {
    ConnectId::new(n).unwrap()
}

fn ctx1() -> ContextId {
    ContextId::DEFAULT
}

/// Encode and return the bytes without the trailing `\r` (checked here), so vectors read like
/// the manual's lines.
fn line(cmd: Command<'_>) -> String {
    let mut buf = [SENTINEL; MAX_COMMAND_LEN];
    let n = cmd
        .encode(&mut buf)
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert_eq!(cmd.encoded_len(), Ok(n));
    let (body, cr) = buf[..n].split_at(n - 1);
    assert_eq!(cr, b"\r", "{cmd:?} ends with CR");
    String::from_utf8(body.to_vec()).unwrap()
}

fn open(remote: &str, local_port: u16, access_mode: AccessMode) -> Command<'_> {
    Command::QiOpen {
        context: ctx1(),
        id: id(0),
        service: ServiceType::Tcp,
        remote,
        remote_port: 8062,
        local_port,
        access_mode,
    }
}

/// Manual chapter 4, in order.
#[test]
fn manual_chapter_4_examples() {
    // 4.1.1 Set up a TCP client connection in buffer access mode.
    assert_eq!(
        line(open("220.180.239.212", 1234, AccessMode::Buffer)),
        r#"AT+QIOPEN=1,0,"TCP","220.180.239.212",8062,1234,0"#
    );
    assert_eq!(line(Command::QiStateById(id(0))), "AT+QISTATE=1,0");
    // 4.1.2 Send data in buffer access mode.
    let send10 = Command::QiSend {
        id: id(0),
        data: b"1234567890",
    };
    assert_eq!(line(send10), "AT+QISEND=0,10,1234567890");
    let sendex = Command::QiSendEx {
        id: id(0),
        data: b"01234",
    };
    assert_eq!(line(sendex), "AT+QISENDEX=0,5,3031323334");
    // 4.1.3 Receive data in buffer access mode.
    let rd = |len| Command::QiRd { id: id(0), len };
    assert_eq!(line(rd(512)), "AT+QIRD=0,512");
    assert_eq!(
        line(Command::QiCfgSet(QiCfg::ShowLength(true))),
        r#"AT+QICFG="showlength",1"#
    );
    assert_eq!(line(rd(10)), "AT+QIRD=0,10");
    assert_eq!(
        line(Command::QiCfgSet(QiCfg::ViewMode(
            ViewMode::HeaderCommaData
        ))),
        r#"AT+QICFG="viewmode",1"#
    );
    // The manual also sends `AT+QISEND=0,12,"012345678901"` (data in quotes). This encoder
    // writes data bare, as in the first example, and refuses `"` in text data, so the same
    // payload goes out as:
    let send12 = Command::QiSend {
        id: id(0),
        data: b"012345678901",
    };
    assert_eq!(line(send12), "AT+QISEND=0,12,012345678901");
    // 4.1.4 Close a connection.
    assert_eq!(line(Command::QiClose(id(0))), "AT+QICLOSE=0");
    // 4.2.1 Set up a TCP client connection in direct push mode.
    assert_eq!(
        line(open("220.180.239.212", 0, AccessMode::DirectPush)),
        r#"AT+QIOPEN=1,0,"TCP","220.180.239.212",8062,0,1"#
    );
    // 4.3 Ping, 4.4 NTP.
    let ping = Command::QPing {
        context: ctx1(),
        host: "hf.quectel.com",
        timeout_s: None,
        count: None,
        size: None,
    };
    assert_eq!(line(ping), r#"AT+QPING=1,"hf.quectel.com""#);
    let ntp = Command::QNtp {
        context: ctx1(),
        server: "ntp5.aliyun.com",
        port: None,
        auto_set: None,
    };
    assert_eq!(line(ntp), r#"AT+QNTP=1,"ntp5.aliyun.com""#);
    // 4.5 `AT+QIOPEN=1,"UDP",...` (connectID left out) cannot be built: the id is not optional.
    assert_eq!(line(Command::QiGetError), "AT+QIGETERROR");
}

#[test]
fn manual_quoted_send_is_refused_not_passed_through() {
    let quoted = Command::QiSend {
        id: id(0),
        data: br#""012345678901""#,
    };
    assert_eq!(
        quoted.validate(),
        Err(EncodeError::InvalidByte {
            field: Field::Data,
            position: 0,
            byte: b'"'
        })
    );
}

/// Spec section 2: test, read and write forms of every TCP/IP command.
#[test]
fn spec_section_2_forms() {
    let vectors: [(Command<'_>, &str); 25] = [
        (Command::QiOpenTest, "AT+QIOPEN=?"),
        (Command::QiCloseTest, "AT+QICLOSE=?"),
        (Command::QiClose(id(4)), "AT+QICLOSE=4"),
        (Command::QiStateTest, "AT+QISTATE=?"),
        (Command::QiStateRead, "AT+QISTATE?"),
        (Command::QiStateByContext(ctx1()), "AT+QISTATE=0,1"),
        (Command::QiStateById(id(2)), "AT+QISTATE=1,2"),
        (Command::QiSendTest, "AT+QISEND=?"),
        (Command::QiSendExTest, "AT+QISENDEX=?"),
        (Command::QiRdTest, "AT+QIRD=?"),
        (Command::QiSwtmdTest, "AT+QISWTMD=?"),
        (Command::QiSwtmdRead, "AT+QISWTMD?"),
        (
            Command::QiSwtmd {
                id: id(0),
                mode: AccessMode::DirectPush,
            },
            "AT+QISWTMD=0,1",
        ),
        (Command::QPingTest, "AT+QPING=?"),
        (Command::QNtpTest, "AT+QNTP=?"),
        (Command::QiDnsGipTest, "AT+QIDNSGIP=?"),
        (
            Command::QiDnsGip {
                context: ctx1(),
                host: "www.quectel.com",
            },
            r#"AT+QIDNSGIP=1,"www.quectel.com""#,
        ),
        (Command::QiCfgTest, "AT+QICFG=?"),
        (
            Command::QiCfgSet(QiCfg::DataFormat {
                send: DataFormat::Text,
                recv: DataFormat::Hex,
            }),
            r#"AT+QICFG="dataformat",0,1"#,
        ),
        (
            Command::QiCfgQuery(QiCfgKey::DataFormat),
            r#"AT+QICFG="dataformat""#,
        ),
        (
            Command::QiCfgQuery(QiCfgKey::ViewMode),
            r#"AT+QICFG="viewmode""#,
        ),
        (
            Command::QiCfgQuery(QiCfgKey::ShowLength),
            r#"AT+QICFG="showlength""#,
        ),
        (Command::QiGetErrorTest, "AT+QIGETERROR=?"),
        (
            Command::QPing {
                context: ctx1(),
                host: "220.180.239.212",
                timeout_s: Some(10),
                count: Some(2),
                size: Some(64),
            },
            r#"AT+QPING=1,"220.180.239.212",10,2,64"#,
        ),
        (
            Command::QNtp {
                context: ctx1(),
                server: "pool.ntp.org",
                port: Some(123),
                auto_set: Some(false),
            },
            r#"AT+QNTP=1,"pool.ntp.org",123,0"#,
        ),
    ];
    for (cmd, text) in vectors {
        assert_eq!(line(cmd), text, "{cmd:?}");
    }
}

/// Spec section 5 (bring-up) and the reset of section 6.
#[test]
fn spec_section_5_bring_up() {
    let vectors: [(Command<'_>, &str, CommandKind); 11] = [
        (Command::At, "AT", CommandKind::Execute),
        (Command::Echo(false), "ATE0", CommandKind::Execute),
        (Command::Echo(true), "ATE1", CommandKind::Execute),
        (Command::Reset, "ATZ", CommandKind::Execute),
        (Command::Identify, "ATI", CommandKind::Execute),
        (Command::Cmee(1), "AT+CMEE=1", CommandKind::Write),
        (Command::CpinRead, "AT+CPIN?", CommandKind::Read),
        (Command::CeregRead, "AT+CEREG?", CommandKind::Read),
        (Command::CeregSet(2), "AT+CEREG=2", CommandKind::Write),
        (Command::CgattRead, "AT+CGATT?", CommandKind::Read),
        (
            Command::CgpaddrRead(ctx1()),
            "AT+CGPADDR=1",
            CommandKind::Write,
        ),
    ];
    for (cmd, text, kind) in vectors {
        assert_eq!(line(cmd), text, "{cmd:?}");
        assert_eq!(cmd.kind(), kind, "{cmd:?}");
    }
}

// ----- properties -----

/// Independent statement of the host rule of spec section 7.
fn host_ok(host: &str) -> bool {
    (1..=255).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Independent statement of the `AT+QISEND` text rule.
fn text_ok(data: &[u8]) -> bool {
    (1..=MAX_SEND_TEXT).contains(&data.len())
        && data
            .iter()
            .all(|&b| (0x20..=0x7E).contains(&b) && b != b'"')
}

/// Mostly-allowed bytes with the troublemakers mixed in, so both outcomes are common.
fn nasty_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => prop::sample::select(b"abcXYZ019.-_".to_vec()),
        1 => prop::sample::select(b"\"\r\n, \t\0\x7f\x1b;=?+".to_vec()),
    ]
}

fn host_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9._-]{0,300}",
        prop::collection::vec(nasty_byte(), 0..=260)
            .prop_map(|bytes| String::from_utf8(bytes).unwrap()),
    ]
}

fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=1100),
        prop::collection::vec(0x20u8..=0x7E, 0..=1100),
        prop::collection::vec(nasty_byte(), 0..=40),
    ]
}

/// Encode into `size` bytes of a sentinel-filled buffer and check the outcome: either a
/// single-line command whose only `\r` is its last byte, or an error with nothing written.
/// Returns the command bytes on success.
fn encode_checked(cmd: &Command<'_>, size: usize) -> Result<Vec<u8>, EncodeError> {
    let mut buf = vec![SENTINEL; size];
    match cmd.encode(&mut buf) {
        Ok(n) => {
            assert_eq!(cmd.encoded_len(), Ok(n));
            assert!(n <= MAX_COMMAND_LEN && n <= size);
            let out = &buf[..n];
            assert_eq!(out.last(), Some(&b'\r'));
            assert_eq!(out.iter().filter(|&&b| b == b'\r').count(), 1);
            assert!(!out.contains(&b'\n'));
            assert!(
                buf[n..].iter().all(|&b| b == SENTINEL),
                "wrote past the end"
            );
            Ok(out.to_vec())
        }
        Err(e) => {
            assert!(buf.iter().all(|&b| b == SENTINEL), "wrote on error {e}");
            if cmd.validate().is_ok() {
                let needed = cmd.encoded_len().unwrap();
                assert_eq!(e, EncodeError::BufferTooSmall { needed });
                assert!(needed > size);
            } else {
                assert_eq!(cmd.validate(), Err(e));
            }
            Err(e)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hosts_never_break_the_line(
        host in host_strategy(),
        which in 0..4usize,
        port in any::<u16>(),
        nums in (any::<Option<u8>>(), any::<Option<u8>>(), any::<Option<u8>>()),
        size in prop_oneof![Just(MAX_COMMAND_LEN), 0..=MAX_COMMAND_LEN + 4],
    ) {
        let cmd = match which {
            0 => Command::QiOpen {
                context: ContextId::DEFAULT,
                id: id(1),
                service: ServiceType::Udp,
                remote: &host,
                remote_port: port,
                local_port: port,
                access_mode: AccessMode::Buffer,
            },
            1 => Command::QPing {
                context: ContextId::DEFAULT,
                host: &host,
                timeout_s: nums.0,
                count: nums.1,
                size: nums.2,
            },
            2 => Command::QNtp {
                context: ContextId::DEFAULT,
                server: &host,
                port: Some(port),
                auto_set: nums.0.map(|n| n % 2 == 0),
            },
            _ => Command::QiDnsGip { context: ContextId::DEFAULT, host: &host },
        };
        let result = encode_checked(&cmd, size);
        if !host_ok(&host) {
            let field = if which == 2 { Field::Server } else { Field::Host };
            let refused_for_host = matches!(
                result,
                Err(EncodeError::Empty { field: f }
                    | EncodeError::TooLong { field: f, .. }
                    | EncodeError::InvalidByte { field: f, .. }) if f == field
            );
            prop_assert!(refused_for_host, "{host:?} gave {result:?}");
        }
        if let Ok(out) = result {
            prop_assert!(host_ok(&host));
            // The host stays inside its quotes: the quotes are the command's own.
            let quotes = out.iter().filter(|&&b| b == b'"').count();
            prop_assert_eq!(quotes, if which == 0 { 4 } else { 2 });
            let quoted = format!("\"{host}\"");
            prop_assert!(out.windows(quoted.len()).any(|w| w == quoted.as_bytes()));
        }
    }

    #[test]
    fn text_data_never_breaks_the_line(data in text_strategy(), size in 0..=MAX_COMMAND_LEN + 4) {
        let cmd = Command::QiSend { id: id(3), data: &data };
        let ok = text_ok(&data);
        match encode_checked(&cmd, size) {
            Ok(out) => {
                prop_assert!(ok);
                let head = format!("AT+QISEND=3,{},", data.len());
                prop_assert!(out.starts_with(head.as_bytes()));
                prop_assert_eq!(&out[head.len()..out.len() - 1], &data[..]);
            }
            Err(EncodeError::BufferTooSmall { .. }) => prop_assert!(ok),
            Err(_) => prop_assert!(!ok),
        }
    }

    #[test]
    fn sendex_hex_decodes_back(data in prop::collection::vec(any::<u8>(), 1..=MAX_SEND_HEX)) {
        let cmd = Command::QiSendEx { id: id(4), data: &data };
        let out = encode_checked(&cmd, MAX_COMMAND_LEN).unwrap();
        let head = format!("AT+QISENDEX=4,{},", data.len());
        prop_assert!(out.starts_with(head.as_bytes()));
        let text = &out[head.len()..out.len() - 1];
        prop_assert_eq!(text.len(), 2 * data.len());
        prop_assert!(text.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
        let mut back = vec![0u8; data.len()];
        prop_assert_eq!(hex::decode_into(text, &mut back), Some(data.len()));
        prop_assert_eq!(back, data);
    }

    #[test]
    fn sendex_length_limits(len in 0..=MAX_SEND_HEX + 64, size in 0..=MAX_COMMAND_LEN) {
        let data = vec![0x0Du8; len];
        let cmd = Command::QiSendEx { id: id(0), data: &data };
        match encode_checked(&cmd, size) {
            Ok(_) => prop_assert!((1..=MAX_SEND_HEX).contains(&len)),
            Err(EncodeError::Empty { field: Field::Data }) => prop_assert_eq!(len, 0),
            Err(EncodeError::TooLong { field: Field::Data, len: l, max }) => {
                prop_assert_eq!((l, max), (len, MAX_SEND_HEX));
            }
            Err(EncodeError::BufferTooSmall { .. }) => {
                prop_assert!((1..=MAX_SEND_HEX).contains(&len));
            }
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn numbers_are_range_checked(
        cmee in any::<u8>(),
        cereg in any::<u8>(),
        rd in any::<u16>(),
        ping in (any::<Option<u8>>(), any::<Option<u8>>(), any::<Option<u8>>()),
    ) {
        prop_assert_eq!(encode_checked(&Command::Cmee(cmee), MAX_COMMAND_LEN).is_ok(), cmee <= 2);
        prop_assert_eq!(
            encode_checked(&Command::CeregSet(cereg), MAX_COMMAND_LEN).is_ok(),
            cereg <= 5
        );
        let read = Command::QiRd { id: id(0), len: rd };
        prop_assert_eq!(
            encode_checked(&read, MAX_COMMAND_LEN).is_ok(),
            (1..=512).contains(&rd)
        );
        let (timeout_s, count, size) = ping;
        let cmd = Command::QPing { context: ContextId::DEFAULT, host: "h", timeout_s, count, size };
        let ok = timeout_s.is_none_or(|t| t >= 1)
            && count.is_none_or(|c| (1..=10).contains(&c))
            && size.is_none_or(|s| (32..=200).contains(&s));
        prop_assert_eq!(encode_checked(&cmd, MAX_COMMAND_LEN).is_ok(), ok);
    }
}

#[test]
fn longest_host_fits_max_command_len() {
    let host = "x".repeat(MAX_HOST_LEN);
    let cmd = Command::QiOpen {
        context: ContextId::new(3).unwrap(),
        id: id(4),
        service: ServiceType::Tcp,
        remote: &host,
        remote_port: 65_535,
        local_port: 65_535,
        access_mode: AccessMode::DirectPush,
    };
    assert!(cmd.encoded_len().unwrap() <= MAX_COMMAND_LEN);
    let data = [b'~'; MAX_SEND_TEXT];
    let send = Command::QiSend {
        id: id(4),
        data: &data,
    };
    assert!(send.encoded_len().unwrap() <= MAX_COMMAND_LEN);
}
