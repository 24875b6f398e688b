//! Manual chapter 4.2: a TCP client in direct push mode, byte for byte; hex receive format;
//! push chunking; switching access modes; UDP.
#![cfg(feature = "sim")]

mod sim_support;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::time::Duration;

use quectel_bc20::sim::Config;
use sim_support::{Modem, Peer, quiet};

fn open_push(m: &mut Modem, peer: &Peer, id: u8, mode: u8) -> std::net::TcpStream {
    m.send(&format!(
        "AT+QIOPEN=1,{id},\"TCP\",\"127.0.0.1\",{},0,{mode}",
        peer.port
    ));
    let s = peer.accept();
    m.expect(format!("\r\nOK\r\n\r\n+QIOPEN: {id},0\r\n").as_bytes());
    s
}

#[test]
fn chapter_4_2_tcp_client_in_direct_push_mode() {
    let peer = Peer::new();
    let mut m = Modem::new(quiet());
    let p = peer.port;
    // 4.2.1
    let mut s = open_push(&mut m, &peer, 0, 1);
    m.send("AT+QISTATE=1,0");
    m.expect(format!("\r\n+QISTATE: 0,\"TCP\",\"127.0.0.1\",{p},0,2,1,1\r\n\r\nOK\r\n").as_bytes());
    // 4.2.2
    m.send("AT+QISEND=0,10,1234567890");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    m.send("AT+QISENDEX=0,5,3031323334");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let mut got = [0u8; 15];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"123456789001234");
    // 4.2.3
    s.write_all(b"12345").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,5\r\n12345");
    m.send("AT+QICFG=\"viewmode\",1");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QISEND=0,12,\"012345678901\"");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let mut echo = [0u8; 12];
    s.read_exact(&mut echo).unwrap();
    s.write_all(&echo).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,12,012345678901\r\n");
    // In direct push mode there is nothing to read with AT+QIRD.
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 0\r\n\r\nOK\r\n");
    // 4.2.4
    m.send("AT+QICLOSE=0");
    m.expect(b"\r\nOK\r\n\r\nCLOSE OK\r\n");
}

#[test]
fn hex_receive_format_in_both_modes_and_views() {
    let peer = Peer::new();
    let mut m = Modem::new(quiet());
    m.send("AT+QICFG=\"dataformat\",0,1");
    m.expect(b"\r\nOK\r\n");
    let mut s = open_push(&mut m, &peer, 3, 1);
    s.write_all(b"Test").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",3,4\r\n54657374");
    m.send("AT+QICFG=\"viewmode\",1");
    m.expect(b"\r\nOK\r\n");
    s.write_all(&[0, 0xff, b'\r', b'\n']).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",3,4,00FF0D0A\r\n");
    // Buffer mode, hex: <n> counts bytes, the data is 2n hex digits.
    m.send("AT+QISWTMD=3,0");
    m.expect(b"\r\nOK\r\n");
    s.write_all(b"OK\r\n").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",3\r\n");
    m.send("AT+QIRD=3,512");
    m.expect(b"\r\n+QIRD: 4,4F4B0D0A\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"viewmode\",0");
    m.expect(b"\r\nOK\r\n");
    s.write_all(b"xy").unwrap();
    // Not drained to +QIRD: 0 yet: no URC; the data is there all the same.
    std::thread::sleep(Duration::from_millis(30));
    m.send("AT+QIRD=3,512");
    m.expect(b"\r\n+QIRD: 2\r\n7879\r\n\r\nOK\r\n");
}

#[test]
fn push_is_chunked_and_switching_to_push_flushes_the_buffer() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        push_chunk: 8,
        ..quiet()
    });
    let mut s = open_push(&mut m, &peer, 0, 0);
    let data: Vec<u8> = (b'a'..=b'z').collect();
    s.write_all(&data).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0\r\n");
    std::thread::sleep(Duration::from_millis(30));
    m.send("AT+QISWTMD=0,1");
    m.expect(b"\r\nOK\r\n");
    // Everything buffered comes at once, in chunks of at most 8 bytes.
    m.push[0] = true;
    let mut got = Vec::new();
    while got.len() < data.len() {
        match m.item() {
            sim_support::Item::Data { header, data } => {
                assert!(data.len() <= 8, "{header}");
                assert_eq!(header, format!("+QIURC: \"recv\",0,{}", data.len()));
                got.extend(data);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, data);
    // Fresh data in push mode is chunked too.
    s.write_all(&data[..20]).unwrap();
    let mut got = Vec::new();
    let mut urcs = 0;
    while got.len() < 20 {
        if let sim_support::Item::Data { data, .. } = m.item() {
            assert!(data.len() <= 8);
            got.extend(data);
            urcs += 1;
        }
    }
    assert!(urcs >= 3);
    assert_eq!(got, &data[..20]);
    // Back to buffer mode: a recv URC again.
    m.send("AT+QISWTMD=0,0");
    m.expect(b"\r\nOK\r\n");
    s.write_all(b"!").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0\r\n");
    m.send("AT+QISTATE?");
    m.expect(
        format!(
            "\r\n+QISTATE: 0,\"TCP\",\"127.0.0.1\",{},0,2,1,0\r\n\r\nOK\r\n",
            peer.port
        )
        .as_bytes(),
    );
}

#[test]
fn crlf_after_push_option() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        crlf_after_push: true,
        ..quiet()
    });
    let mut s = open_push(&mut m, &peer, 0, 1);
    s.write_all(b"12345").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0,5\r\n12345\r\n");
}

#[test]
fn udp_client_in_direct_push_and_buffer_mode() {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let p = u.local_addr().unwrap().port();
    let mut m = Modem::new(quiet());
    m.send(&format!("AT+QIOPEN=1,4,\"UDP\",\"127.0.0.1\",{p},0,1"));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 4,0\r\n");
    m.send("AT+QISEND=4,5,hello");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let mut b = [0u8; 64];
    let (n, from) = u.recv_from(&mut b).unwrap();
    assert_eq!(&b[..n], b"hello");
    u.send_to(b"world!", from).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",4,6\r\nworld!");
    m.send("AT+QISWTMD=4,0");
    m.expect(b"\r\nOK\r\n");
    u.send_to(b"dgram", from).unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",4\r\n");
    m.send("AT+QIRD=4,512");
    m.expect(b"\r\n+QIRD: 5\r\ndgram\r\n\r\nOK\r\n");
    m.send("AT+QISTATE=0,1");
    m.expect(format!("\r\n+QISTATE: 4,\"UDP\",\"127.0.0.1\",{p},0,2,1,0\r\n\r\nOK\r\n").as_bytes());
}

#[test]
fn a_large_udp_datagram_is_pushed_in_chunks() {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = u.local_addr().unwrap().port();
    let mut m = Modem::new(quiet());
    m.send(&format!("AT+QIOPEN=1,0,\"UDP\",\"127.0.0.1\",{p},0,1"));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    m.send("AT+QISEND=0,1,x");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let mut b = [0u8; 8];
    let (_, from) = u.recv_from(&mut b).unwrap();
    let big: Vec<u8> = (0..3000).map(|i| b'a' + (i % 26) as u8).collect();
    u.send_to(&big, from).unwrap();
    let mut want = Vec::new();
    for c in big.chunks(1024) {
        want.extend_from_slice(format!("\r\n+QIURC: \"recv\",0,{}\r\n", c.len()).as_bytes());
        want.extend_from_slice(c);
    }
    m.expect(&want);
}
