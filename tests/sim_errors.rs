//! Error codes as spec section 4 decides them, AT+QIGETERROR, AT+CMEE, input quirks.
#![cfg(feature = "sim")]

mod sim_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use quectel_bc20::sim::Config;
use sim_support::{Modem, Peer, closed_port, quiet};

#[test]
fn chapter_4_5_last_error_code() {
    let mut m = Modem::new(quiet());
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 0,operation successful\r\n\r\nOK\r\n");
    m.send("AT+QIOPEN=1,\"UDP\",\"220.180.239.212\",8063,0,1");
    m.expect(b"\r\nERROR\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n");
    // A successful TCP/IP command clears it; a bring-up command does not touch it.
    m.send("AT+QIRD=0,0");
    m.expect(b"\r\nERROR\r\n");
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n");
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 0,operation successful\r\n\r\nOK\r\n");
}

#[test]
fn cmee_modes_print_the_code_or_its_description() {
    let mut m = Modem::new(quiet());
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    let cases: &[(&str, &[u8])] = &[
        ("AT+QIOPEN=1,\"UDP\",\"1.2.3.4\",8063,0,1", b"552"),
        ("AT+QIOPEN=2,0,\"TCP\",\"127.0.0.1\",80", b"555"),
        ("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",80,0,0,1", b"555"),
        ("AT+QIOPEN=0,0,\"TCP\",\"127.0.0.1\",80", b"552"),
        ("AT+QIOPEN=1,5,\"TCP\",\"127.0.0.1\",80", b"552"),
        ("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",65536", b"552"),
        ("AT+QIOPEN=1,0,TCP,\"127.0.0.1\",80", b"552"),
        ("AT+QISEND=0,10,12345", b"552"),
        ("AT+QISEND=0,0,", b"552"),
        ("AT+QISENDEX=0,2,303", b"552"),
        ("AT+QISENDEX=0,513,00", b"552"),
        ("AT+QISEND=0,1,x", b"567"),
        ("AT+QIRD=0,512", b"567"),
        ("AT+QIRD=0,513", b"552"),
        ("AT+QISWTMD=0,1", b"567"),
        ("AT+QISWTMD=0,2", b"552"),
        ("AT+QICFG=\"bogus\",1", b"552"),
        ("AT+QICFG=\"viewmode\",2", b"552"),
        ("AT+QICLOSE=5", b"552"),
        ("AT+QPING=2,\"127.0.0.1\"", b"555"),
        ("AT+QPING=1,\"127.0.0.1\",0", b"552"),
        ("AT+QNTP=3,\"127.0.0.1\"", b"555"),
        ("AT+QIDNSGIP=1,", b"552"),
        ("AT+QISTATE=2,1", b"552"),
        ("AT+QISTATE=0,2", b"555"),
        ("AT+QISTATE=0,4", b"552"),
    ];
    for (cmd, code) in cases {
        m.send(cmd);
        let mut want = b"\r\n+CME ERROR: ".to_vec();
        want.extend_from_slice(code);
        want.extend_from_slice(b"\r\n");
        m.expect(&want);
    }
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n");
    m.send("AT+CMEE=2");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QIRD=0,1");
    m.expect(b"\r\n+CME ERROR: Socket has been closed\r\n");
    // Unknown commands stay a plain ERROR whatever CMEE says.
    m.send("AT+QFOO");
    m.expect(b"\r\nERROR\r\n");
}

#[test]
fn open_failures_come_in_the_qiopen_urc() {
    let peer = Peer::new();
    let refused = closed_port();
    let mut m = Modem::new(Config {
        dns_overrides: [("nowhere.test".to_string(), vec![])].into(),
        blackhole: vec![Ipv4Addr::new(192, 0, 2, 1)],
        connect_timeout: Duration::from_millis(100),
        ..quiet()
    });
    m.send(&format!(
        "AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",{},0,0",
        peer.port
    ));
    let _s = peer.accept();
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    // The id is in use.
    m.send(&format!(
        "AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",{},0,0",
        peer.port
    ));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,563\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 563,socket identity has been used\r\n\r\nOK\r\n");
    // Refused.
    m.send(&format!(
        "AT+QIOPEN=1,1,\"TCP\",\"127.0.0.1\",{refused},0,0"
    ));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 1,566\r\n");
    m.send("AT+QISTATE=1,1");
    m.expect(
        format!("\r\n+QISTATE: 1,\"TCP\",\"127.0.0.1\",{refused},0,0,1,0\r\n\r\nOK\r\n").as_bytes(),
    );
    m.send("AT+QICLOSE=1");
    m.expect(b"\r\nOK\r\n\r\nCLOSE OK\r\n");
    // The name does not resolve.
    m.send("AT+QIOPEN=1,2,\"TCP\",\"nowhere.test\",80,0,0");
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 2,565\r\n");
    // Unreachable (nothing is sent): times out.
    m.send("AT+QIOPEN=1,3,\"UDP\",\"192.0.2.1\",80,0,0");
    m.expect(b"\r\nOK\r\n");
    m.expect_silence(Duration::from_millis(50));
    m.expect(b"\r\n+QIOPEN: 3,566\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 566,socket connect failed\r\n\r\nOK\r\n");
}

#[test]
fn send_while_send_ok_is_pending_is_568_and_spaces_after_commas_are_fine() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        send_ok_delay: Duration::from_millis(40),
        ..quiet()
    });
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    m.send(&format!(
        "AT+QIOPEN=1, 0, \"TCP\", \"127.0.0.1\", {}, 0, 0",
        peer.port
    ));
    let _s = peer.accept();
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    m.send("AT+QISEND=0, 5, hello");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QISENDEX=0,1,00");
    m.expect(b"\r\n+CME ERROR: 568\r\n\r\nSEND OK\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 568,operation busy\r\n\r\nOK\r\n");
    m.send("AT+QISENDEX=0,1,00");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
}

#[test]
fn late_close_ok_and_doubled_blank_lines_before_late_urcs() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        close_ok_delay: Some(Duration::from_millis(60)),
        doubled_blank_before_late_urcs: true,
        ..quiet()
    });
    m.send(&format!(
        "AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",{},0,0",
        peer.port
    ));
    let _s = peer.accept();
    m.expect(b"\r\nOK\r\n\r\n\r\n+QIOPEN: 0,0\r\n");
    m.send("AT+QICLOSE=0");
    m.expect(b"\r\nOK\r\n");
    m.expect_silence(Duration::from_millis(30));
    m.expect(b"\r\nCLOSE OK\r\n");
}
