//! Real captures of BC20-family modules (tests/fixtures/traces, copied from shared/traces),
//! turned back into the byte streams the modules sent: every frame decodes, nothing is skipped
//! or malformed, and every chunking of each stream gives the same frames.

mod support;

use quectel_bc20::wire::{CeReg, Frame, ParseContext, PingLine};
use quectel_bc20::{QiError, RegistrationStatus, ResultCode};
use support::{debug_frames, parse_all, parse_chunked};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/traces/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap()
}

/// Undo a logger's escapes: `\r`, `\n`, `\"`, `\\`.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b'r') => out.push(b'\r'),
                Some(b'n') => out.push(b'\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// 006: JSON lines whose "reply" holds the exact bytes received.
fn bc660k_dashboard() -> Vec<u8> {
    let mut out = Vec::new();
    for line in read("006-bc660k-dashboard-real-capture.jsonl.txt").lines() {
        let Some(start) = line.find("\"reply\": \"") else {
            continue;
        };
        let rest = &line[start + 10..];
        let end = rest.find("\", \"delay\"").unwrap();
        out.extend(unescape(&rest[..end]));
    }
    out
}

/// 001: pppd chat output; `^M` is a CR, a printed line end is an LF. chat stops reading at the
/// `OK` it waits for, so the CR LF after an `OK` is printed at the start of the next exchange.
fn bc66_chat() -> Vec<u8> {
    let mut out = Vec::new();
    let body = read("001-bc66-pppd-chat-echo-atz.txt");
    for line in body.lines().skip_while(|l| !l.starts_with("send (AT^M)")) {
        if line.starts_with("send (")
            || line.starts_with("expect (")
            || line.starts_with(" -- got it")
            || line.is_empty()
        {
            continue;
        }
        if line.starts_with("ATDT") {
            break;
        }
        out.extend(line.replace("^M", "\r").bytes());
        if line != "OK" {
            out.push(b'\n');
        }
    }
    out
}

/// 011: `[RECV][len][bytes]` with `\r` and `\n` escaped; the length checks the unescaping.
fn bg96_exact() -> Vec<u8> {
    let mut out = Vec::new();
    for line in read("011-bg96-azure-ewf20-exact-bytes.txt").lines() {
        let Some(rest) = line.strip_prefix("[RECV][") else {
            continue;
        };
        let (len, rest) = rest.split_once("][").unwrap();
        let bytes = unescape(rest.strip_suffix(']').unwrap());
        // The reporter masked addresses as XXX.YYY, which changed those lines' lengths.
        if !line.contains("XXX") {
            assert_eq!(bytes.len(), len.trim().parse::<usize>().unwrap(), "{line}");
        }
        out.extend(bytes);
    }
    out
}

/// 021: `AT RX (n): ...` with `<cr>`/`<ln>`; returns the reads as they arrived.
fn bg96_mbed_reads() -> Vec<Vec<u8>> {
    read("021-bg96-mbed218-at-rx-chunking.txt")
        .lines()
        .filter(|l| l.starts_with('['))
        .filter_map(|l| l.split_once("AT RX (").map(|(_, r)| r))
        .map(|r| {
            let (len, data) = r.split_once("): ").unwrap();
            let bytes = data
                .replace("<cr>", "\r")
                .replace("<ln>", "\n")
                .into_bytes();
            assert_eq!(bytes.len(), len.trim().parse::<usize>().unwrap());
            bytes
        })
        .collect()
}

/// 022: `recvline: <text>..` where the trailing `..` stands for CR LF.
fn ec200u_quecpython() -> Vec<u8> {
    let mut out = Vec::new();
    for line in read("022-ec200u-quecpython-dnsgip-qntp-qisend-directpush.txt").lines() {
        let Some((_, text)) = line.split_once("recvline: ") else {
            continue;
        };
        match text.strip_suffix("..") {
            Some(t) => {
                out.extend(t.bytes());
                out.extend(b"\r\n");
            }
            // The `> ` send prompt: the logger printed it without its trailing space, which
            // comes back as the next line's " ..".
            None => out.extend(text.bytes()),
        }
    }
    out
}

fn assert_clean(name: &str, bytes: &[u8]) -> Vec<String> {
    let (frames, stats) = parse_all(ParseContext::default(), bytes);
    assert!(!frames.is_empty(), "{name}");
    assert_eq!(stats.skipped_bytes, 0, "{name}: noise");
    assert_eq!(stats.malformed, 0, "{name}: malformed {frames:?}");
    assert_eq!(stats.overlong, 0, "{name}");
    let whole = debug_frames(ParseContext::default(), bytes);
    for sizes in [&[1][..], &[2], &[3, 7], &[64], &[5, 1, 13, 2]] {
        let (chunked, left) = parse_chunked(ParseContext::default(), bytes, sizes);
        assert_eq!(left, 0, "{name}");
        assert_eq!(chunked, whole, "{name}: chunks {sizes:?}");
    }
    whole
}

#[test]
fn bc660k_dashboard_capture() {
    let bytes = bc660k_dashboard();
    assert_clean("006", &bytes);
    let (frames, stats) = parse_all(ParseContext::default(), &bytes);
    let oks = frames.iter().filter(|f| **f == Frame::Ok).count();
    assert_eq!(
        oks, 47,
        "every command but AT+QTEMP and the sleeping first AT answered OK"
    );
    assert!(frames.contains(&Frame::Error));
    assert!(frames.contains(&Frame::CPin("READY")));
    assert!(frames.contains(&Frame::CgAtt(true)));
    assert!(frames.contains(&Frame::CgPAddr { cid: 1, addr: None }));
    assert!(frames.contains(&Frame::CeReg(CeReg::Read {
        n: 4,
        stat: RegistrationStatus::Roaming
    })));
    assert!(
        frames.contains(&Frame::Ping(PingLine::Result(ResultCode::Qi(
            QiError::Timeout
        ))))
    );
    assert!(frames.contains(&Frame::Revision("BC660KGLAAR01A05")));
    assert!(frames.contains(&Frame::Identification("Quectel_BC660K-GL")));
    // +CSQ, +QENG, +CBC, the IMSI … are lines this crate does not need: Unknown, not errors.
    assert!(stats.unknown > 0);
}

#[test]
fn bc66_chat_capture_with_echo_and_atz() {
    let bytes = bc66_chat();
    assert_clean("001", &bytes);
    let (frames, _) = parse_all(ParseContext::default(), &bytes);
    let echoes: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Echo(e) => Some(String::from_utf8_lossy(e).into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(
        echoes,
        ["AT", "ATE0", "AT+CGDCONT=3D1,\"IP\",\"iot.1nce.net\",,0,0"]
    );
    assert!(frames.contains(&Frame::Identification("Quectel_BC66")));
    assert!(frames.contains(&Frame::Revision("BC66NBR01A10")));
    // AT, ATE0, ATI, AT+CSQ, AT+CPIN?, AT+COPS?, AT+CGREG?, ATZ, AT+CGDCONT.
    assert_eq!(frames.iter().filter(|f| **f == Frame::Ok).count(), 9);
}

#[test]
fn bg96_exact_bytes_capture() {
    let bytes = bg96_exact();
    assert_clean("011", &bytes);
    let (frames, _) = parse_all(ParseContext::default(), &bytes);
    assert_eq!(
        frames
            .iter()
            .filter(|f| matches!(f, Frame::Echo(b"AT")))
            .count(),
        8
    );
    assert_eq!(frames.iter().filter(|f| **f == Frame::Error).count(), 1);
    // Two power-ups, one SIM check each.
    assert_eq!(
        frames
            .iter()
            .filter(|f| **f == Frame::CPin("READY"))
            .count(),
        2
    );
}

#[test]
fn bg96_reads_split_mid_line() {
    let reads = bg96_mbed_reads();
    let sizes: Vec<usize> = reads.iter().map(Vec::len).collect();
    let bytes = reads.concat();
    let whole = assert_clean("021", &bytes);
    let (as_read, left) = parse_chunked(ParseContext::default(), &bytes, &sizes);
    assert_eq!(left, 0);
    assert_eq!(as_read, whole);
    assert_eq!(whole.iter().filter(|f| *f == "Ok").count(), 4);
}

#[test]
fn ec200u_dns_ntp_and_recv() {
    let bytes = ec200u_quecpython();
    let whole = assert_clean("022", &bytes);
    for expected in [
        "DnsHead { result: Success, count: 1, ttl: 0 }",
        "DnsAddr(172.188.83.251)",
        "QiOpen { id: ConnectId(0), result: Success }",
        "SendOk",
        "RecvNotify { id: ConnectId(0), len: Some(1500) }",
        "RecvNotify { id: ConnectId(0), len: Some(1001) }",
        // The `> ` send prompt (issue 13: it used to be an unknown line).
        "Prompt",
    ] {
        assert!(
            whole.iter().any(|f| f == expected),
            "{expected} in {whole:?}"
        );
    }
    assert!(whole.iter().any(|f| f.starts_with("Ntp { result: Success, time: Some(NtpTime { year: 2026, month: 7, day: 3, hour: 0, minute: 56, second: 27, offset_quarters: 32 })")));
}
