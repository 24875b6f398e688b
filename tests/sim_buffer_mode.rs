//! Manual chapter 4.1: a TCP client in buffer access mode, byte for byte, against a scripted
//! loopback peer. Also the recv-URC rule, buff full, and a peer close with data left.
#![cfg(feature = "sim")]

mod sim_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use quectel_bc20::sim::Config;
use sim_support::{Item, Modem, Peer, quiet};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_exact(s: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    s.read_exact(&mut v).unwrap();
    v
}

#[test]
fn chapter_4_1_tcp_client_in_buffer_access_mode() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        rx_buffer_size: 16,
        ..quiet()
    });
    let lp = free_port();
    let p = peer.port;

    // 4.1.1 Set up a TCP client connection in buffer access mode.
    m.send(&format!("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",{p},{lp},0"));
    let mut s = peer.accept();
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    assert_eq!(
        s.peer_addr().unwrap().port(),
        lp,
        "bound to the local port asked for"
    );
    m.send("AT+QISTATE=1,0");
    m.expect(
        format!("\r\n+QISTATE: 0,\"TCP\",\"127.0.0.1\",{p},{lp},2,1,0\r\n\r\nOK\r\n").as_bytes(),
    );

    // 4.1.2 Send data.
    m.send("AT+QISEND=0,10,1234567890");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    assert_eq!(read_exact(&mut s, 10), b"1234567890");
    m.send("AT+QISENDEX=0,5,3031323334");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    assert_eq!(read_exact(&mut s, 5), b"01234");
    // A send while SEND OK is pending: ERROR, then the first one's SEND OK.
    m.send_bytes(b"AT+QISEND=0,10,1234567890\rAT+QISEND=0,10,abcdefghij\r");
    m.expect(b"\r\nOK\r\n\r\nERROR\r\n\r\nSEND OK\r\n");
    assert_eq!(read_exact(&mut s, 10), b"1234567890");

    // 4.1.3 Receive data.
    s.write_all(b"1234567890").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0\r\n");
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 10\r\n1234567890\r\n\r\nOK\r\n");
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 0\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"showlength\",1");
    m.expect(b"\r\nOK\r\n");
    s.write_all(b"123456789012").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,12\r\n");
    m.send("AT+QIRD=0,10");
    m.expect(b"\r\n+QIRD: 10,2\r\n1234567890\r\n\r\nOK\r\n");
    // More than the 16-byte buffer holds: buff full, and reading resumes once the host reads.
    let big: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    s.write_all(&big).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,\"buff full\"\r\n");
    m.show = true;
    let mut got = Vec::new();
    let mut urcs = Vec::new();
    while got.len() < 2 + big.len() {
        let mut zero = false;
        for it in m.ok("AT+QIRD=0,512") {
            match it {
                Item::Data { header, data } => {
                    assert!(header.starts_with(&format!("+QIRD: {},", data.len())));
                    got.extend(data);
                }
                Item::Line(l) if l == "+QIRD: 0" => zero = true,
                Item::Line(l) if l == "OK" => {}
                Item::Line(l) => urcs.push(l),
            }
        }
        if zero {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Everything arrives, in order; the buffer filled up again while the host was reading.
    assert!(
        urcs.iter().all(
            |u| u == "+QIURC: \"recv\",0,\"buff full\"" || u.starts_with("+QIURC: \"recv\",0,")
        ),
        "{urcs:?}"
    );
    let mut want = b"12".to_vec();
    want.extend_from_slice(&big);
    assert_eq!(
        String::from_utf8(got).unwrap(),
        String::from_utf8(want).unwrap()
    );
    // Read until +QIRD: 0, which re-arms the recv URC.
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 0\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"viewmode\",1");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QISEND=0,12,\"012345678901\"");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let echo = read_exact(&mut s, 12);
    assert_eq!(echo, b"012345678901");
    s.write_all(&echo).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,12\r\n");
    m.send("AT+QIRD=0,10");
    m.expect(b"\r\n+QIRD: 10,2,0123456789\r\n\r\nOK\r\n");

    // 4.1.4 Close the connection.
    m.send("AT+QICLOSE=0");
    m.expect(b"\r\nOK\r\n\r\nCLOSE OK\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the peer sees the close");
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
}

#[test]
fn no_new_recv_urc_until_the_host_read_until_zero() {
    let peer = Peer::new();
    let mut m = Modem::new(quiet());
    let mut s = peer.open(&mut m, 2, 0);
    s.write_all(b"abc").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",2\r\n");
    s.write_all(b"def").unwrap();
    m.expect_silence(Duration::from_millis(50));
    // A partial read does not re-arm the URC...
    m.send("AT+QIRD=2,2");
    m.expect(b"\r\n+QIRD: 2\r\nab\r\n\r\nOK\r\n");
    s.write_all(b"ghi").unwrap();
    m.expect_silence(Duration::from_millis(50));
    // ...reading everything and seeing +QIRD: 0 does.
    let mut got = Vec::new();
    loop {
        m.send("AT+QIRD=2,512");
        m.until(b"\r\n+QIRD: ");
        let n: usize = String::from_utf8(m.until(b"\r\n"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if n == 0 {
            m.expect(b"\r\nOK\r\n");
            break;
        }
        let d = m.until(b"\r\n\r\nOK\r\n");
        got.extend_from_slice(&d[..n]);
    }
    assert_eq!(got, b"cdefghi");
    s.write_all(b"jk").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",2\r\n");
}

#[test]
fn peer_close_keeps_buffered_data_readable_until_qiclose() {
    let peer = Peer::new();
    let mut m = Modem::new(quiet());
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    let mut s = peer.open(&mut m, 1, 0);
    s.write_all(b"bye").unwrap();
    drop(s);
    m.expect(b"\r\n+QIURC: \"recv\",1\r\n\r\n+QIURC: \"closed\",1\r\n");
    m.send("AT+QISTATE=1,1");
    m.expect(
        format!(
            "\r\n+QISTATE: 1,\"TCP\",\"127.0.0.1\",{},0,3,1,0\r\n\r\nOK\r\n",
            peer.port
        )
        .as_bytes(),
    );
    m.send("AT+QISEND=1,1,x");
    m.expect(b"\r\nOK\r\n\r\nSEND FAIL\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 567,socket has been closed\r\n\r\nOK\r\n");
    m.send("AT+QIRD=1,512");
    m.expect(b"\r\n+QIRD: 3\r\nbye\r\n\r\nOK\r\n");
    m.send("AT+QICLOSE=1");
    m.expect(b"\r\nOK\r\n\r\nCLOSE OK\r\n");
    m.send("AT+QIRD=1,512");
    m.expect(b"\r\n+CME ERROR: 567\r\n");
}
