//! Byte-exact data through the emulator to real loopback echo servers: 1 byte to 64 KiB,
//! text (AT+QISEND) and binary (AT+QISENDEX), raw and hex receive, buffer access and direct
//! push, TCP and UDP.
#![cfg(feature = "sim")]

mod sim_support;

use quectel_bc20::sim::Config;
use sim_support::{Item, Modem, hex, open, quiet, tcp_echo, udp_echo};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Binary,
}

fn payload(len: usize, kind: Kind) -> Vec<u8> {
    match kind {
        Kind::Text => (0..len).map(|i| b' ' + (i * 7 % 95) as u8).collect(),
        Kind::Binary => (0..len).map(|i| (i * 131 + 7) as u8).collect(),
    }
}

/// Collect pushed data from items; panic on errors.
fn take_data(items: Vec<Item>, got: &mut Vec<u8>) {
    for it in items {
        match it {
            Item::Data { header, data } => {
                if header.starts_with("+QIURC") {
                    got.extend(data)
                }
            }
            Item::Line(l) => assert!(
                !(l.contains("ERROR") || l == "SEND FAIL" || l.contains("closed")),
                "{l}"
            ),
        }
    }
}

/// Read everything buffered on `id` (until +QIRD: 0).
fn drain(m: &mut Modem, id: u8, got: &mut Vec<u8>) {
    loop {
        let items = m.ok(&format!("AT+QIRD={id},512"));
        let mut more = false;
        for it in items {
            if let Item::Data { header, data } = it
                && header.starts_with("+QIRD")
            {
                assert!(data.len() <= 512);
                got.extend(data);
                more = true;
            }
        }
        if !more {
            return;
        }
    }
}

fn round_trip(m: &mut Modem, id: u8, data: &[u8], kind: Kind, push: bool, max_chunk: usize) {
    let mut got = Vec::new();
    for chunk in data.chunks(max_chunk) {
        let cmd = match kind {
            Kind::Text => format!(
                "AT+QISEND={id},{},{}",
                chunk.len(),
                String::from_utf8(chunk.to_vec()).unwrap()
            ),
            Kind::Binary => format!("AT+QISENDEX={id},{},{}", chunk.len(), hex(chunk)),
        };
        let items = m.ok(&cmd);
        take_data(items, &mut got);
        let items = m.wait_line(|l| l == "SEND OK");
        take_data(items, &mut got);
        if !push {
            drain(m, id, &mut got);
        }
    }
    let deadline = std::time::Instant::now() + sim_support::T;
    while got.len() < data.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {}",
            got.len(),
            data.len()
        );
        if push {
            if let Some(it) = m.item_within(std::time::Duration::from_millis(50)) {
                take_data(vec![it], &mut got);
            }
        } else {
            drain(m, id, &mut got);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "data differs");
}

const SIZES: &[usize] = &[1, 2, 100, 511, 512, 1023, 1024, 1025, 4097, 65536];

fn tcp_case(kind: Kind, push: bool, hex_recv: bool) {
    let port = tcp_echo();
    let mut m = Modem::new(quiet());
    if hex_recv {
        m.ok("AT+QICFG=\"dataformat\",0,1");
        m.hex = true;
    }
    open(&mut m, 1, "TCP", port, u8::from(push));
    let max = match kind {
        Kind::Text => 1024,
        Kind::Binary => 512,
    };
    for &n in SIZES {
        round_trip(&mut m, 1, &payload(n, kind), kind, push, max);
    }
}

#[test]
fn tcp_text_buffer_mode_raw() {
    tcp_case(Kind::Text, false, false);
}

#[test]
fn tcp_binary_buffer_mode_raw() {
    tcp_case(Kind::Binary, false, false);
}

#[test]
fn tcp_binary_buffer_mode_hex() {
    tcp_case(Kind::Binary, false, true);
}

#[test]
fn tcp_text_direct_push_raw() {
    tcp_case(Kind::Text, true, false);
}

#[test]
fn tcp_binary_direct_push_raw() {
    tcp_case(Kind::Binary, true, false);
}

#[test]
fn tcp_binary_direct_push_hex() {
    tcp_case(Kind::Binary, true, true);
}

#[test]
fn tcp_view_mode_1_with_show_length_both_modes() {
    let port = tcp_echo();
    let mut m = Modem::new(quiet());
    m.ok("AT+QICFG=\"viewmode\",1");
    m.ok("AT+QICFG=\"showlength\",1");
    m.view1 = true;
    m.show = true;
    open(&mut m, 0, "TCP", port, 0);
    round_trip(
        &mut m,
        0,
        &payload(5000, Kind::Binary),
        Kind::Binary,
        false,
        512,
    );
    m.ok("AT+QISWTMD=0,1");
    m.push[0] = true;
    round_trip(
        &mut m,
        0,
        &payload(5000, Kind::Binary),
        Kind::Binary,
        true,
        512,
    );
}

#[test]
fn udp_both_modes_raw_and_hex() {
    let port = udp_echo();
    let mut m = Modem::new(Config {
        rx_buffer_size: 8192,
        ..quiet()
    });
    open(&mut m, 2, "UDP", port, 0);
    for n in [1, 100, 1024] {
        round_trip(&mut m, 2, &payload(n, Kind::Text), Kind::Text, false, 1024);
    }
    m.ok("AT+QISWTMD=2,1");
    m.push[2] = true;
    for n in [1, 100, 1024] {
        round_trip(&mut m, 2, &payload(n, Kind::Text), Kind::Text, true, 1024);
    }
    m.ok("AT+QICFG=\"dataformat\",0,1");
    m.hex = true;
    for n in [1, 512] {
        round_trip(
            &mut m,
            2,
            &payload(n, Kind::Binary),
            Kind::Binary,
            true,
            512,
        );
    }
}
