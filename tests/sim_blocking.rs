//! The crate's blocking embedded-nal stack ([`quectel_bc20::Bc20`]) over the emulator's pipe,
//! through embedded-io `Read + Write + ReadReady`: bring-up from power-up, TCP and UDP echo
//! round trips, DNS, ping and NTP, with and without injected faults.
#![cfg(feature = "sim")]

mod sim_support;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use embedded_nal::{Dns, TcpClientStack, UdpClientStack};
use quectel_bc20::engine;
use quectel_bc20::sim::{self, BootStyle, Config, Faults, HostPort, Rate};
use quectel_bc20::{AccessMode, Bc20, StdClock};
use sim_support::{sntp_server, tcp_echo, udp_echo};

type Driver = Bc20<HostPort, StdClock, 5, 4096>;

fn driver(config: Config, mode: AccessMode) -> (Driver, sim::Emulator) {
    let (host, emu) = sim::start(config);
    let mut d = Driver::sized(
        host,
        StdClock::default(),
        engine::Config {
            access_mode: mode,
            ..engine::Config::default()
        },
    );
    d.set_wait_limit(10_000);
    d.bring_up(5_000).unwrap();
    (d, emu)
}

fn tcp_round_trip(d: &mut Driver, port: u16, len: usize) {
    let mut s = TcpClientStack::socket(d).unwrap();
    nb::block!(TcpClientStack::connect(
        d,
        &mut s,
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)
    ))
    .unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 700];
    while got.len() < len {
        if sent < len {
            match TcpClientStack::send(d, &mut s, &data[sent..]) {
                Ok(n) => sent += n,
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(e)) => panic!("send: {e:?}"),
            }
        }
        match TcpClientStack::receive(d, &mut s, &mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => panic!("receive: {e:?}"),
        }
    }
    assert!(got == data, "data differs");
    TcpClientStack::close(d, s).unwrap();
}

#[test]
fn blocking_stack_tcp_both_modes() {
    let port = tcp_echo();
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let (mut d, _emu) = driver(
            Config {
                boot: BootStyle::BootRom,
                ..Config::default()
            },
            mode,
        );
        tcp_round_trip(&mut d, port, 10_000);
    }
}

#[test]
fn blocking_stack_survives_injected_faults() {
    let port = tcp_echo();
    for (seed, mode) in [(5, AccessMode::Buffer), (6, AccessMode::DirectPush)] {
        let (mut d, emu) = driver(
            Config {
                faults: Faults {
                    seed,
                    chunking: Rate::PerMille(500),
                    chunk_max: 5,
                    chunk_gap: Duration::from_millis(1),
                    noise: Rate::PerMille(200),
                    noise_lines: vec!["+CEREG: 1".into(), "+QNBIOTEVENT: \"EXIT PSM\"".into()],
                    delay: Rate::PerMille(100),
                    delay_range: (Duration::ZERO, Duration::from_millis(4)),
                    ..Faults::default()
                },
                baud: Some(921_600),
                ..Config::default()
            },
            mode,
        );
        tcp_round_trip(&mut d, port, 6_000);
        assert!(emu.fault_log().events().len() > 10);
    }
}

#[test]
fn blocking_stack_udp_dns_ping_ntp() {
    let uport = udp_echo();
    let (nport, _) = sntp_server(1_783_011_387);
    let (mut d, _emu) = driver(
        Config {
            dns_overrides: [("echo.test".to_string(), vec![Ipv4Addr::LOCALHOST])].into(),
            use_host_resolver: false,
            ping_port: uport,
            ping_interval: Duration::from_millis(1),
            ..Config::default()
        },
        AccessMode::Buffer,
    );
    let ip = nb::block!(d.get_host_by_name("echo.test", embedded_nal::AddrType::IPv4)).unwrap();
    assert_eq!(ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut u = UdpClientStack::socket(&mut d).unwrap();
    UdpClientStack::connect(&mut d, &mut u, SocketAddr::new(ip, uport)).unwrap();
    nb::block!(UdpClientStack::send(&mut d, &mut u, b"datagram")).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = nb::block!(UdpClientStack::receive(&mut d, &mut u, &mut buf)).unwrap();
    assert_eq!(&buf[..n], b"datagram");
    assert_eq!(from.port(), uport);
    UdpClientStack::close(&mut d, u).unwrap();
    let p = d.ping("echo.test", 2, 2, 32).unwrap();
    assert!(format!("{p:?}").contains('2'), "{p:?}");
    let t = d.ntp("127.0.0.1", nport).unwrap();
    assert_eq!(t.unix_timestamp(), 1_783_011_387);
}

#[test]
fn blocking_stack_reads_sibling_ntp_times() {
    let (nport, _) = sntp_server(1_783_011_387);
    let (mut d, _emu) = driver(
        Config {
            timezone_quarters: -14,
            ntp_four_digit_year: true,
            ..Config::default()
        },
        AccessMode::Buffer,
    );
    let t = d.ntp("127.0.0.1", nport).unwrap();
    assert_eq!((t.year, t.offset_quarters), (2026, -14));
    assert_eq!(t.unix_timestamp(), 1_783_011_387);
}
