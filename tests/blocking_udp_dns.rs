//! The blocking stack's UDP and DNS over the emulator: datagram boundaries, the 512-byte
//! limit, host-resolver and override lookups, lookup failures, what the BC20 cannot do, and
//! host names that try to smuggle a command onto the wire.
#![cfg(feature = "sim")]

mod blocking_support;
mod sim_support;

use core::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blocking_support::{Driver, block_for, driver, local};
use embedded_nal::{AddrType, Dns, UdpClientStack};
use quectel_bc20::engine;
use quectel_bc20::sim::{self, Emulator};
use quectel_bc20::wire::EncodeError;
use quectel_bc20::wire::encode::Field;
use quectel_bc20::{AccessMode, Error, ModemError, QiError, ResultCode};
use sim_support::{sntp_server, udp_echo};

fn dns_driver(use_host_resolver: bool) -> (Driver, Emulator, Arc<Mutex<Vec<u8>>>) {
    dns_driver_on(engine::Module::Bc20, use_host_resolver)
}

fn dns_driver_on(
    module: engine::Module,
    use_host_resolver: bool,
) -> (Driver, Emulator, Arc<Mutex<Vec<u8>>>) {
    let (sim_config, engine_config) = blocking_support::for_module(
        module,
        sim::Config {
            dns_overrides: [
                (
                    "multi.test".to_string(),
                    vec![Ipv4Addr::new(10, 9, 8, 7), Ipv4Addr::new(10, 9, 8, 8)],
                ),
                ("gone.test".to_string(), vec![]),
            ]
            .into(),
            use_host_resolver,
            ..sim::Config::default()
        },
        engine::Config::default(),
    );
    driver(sim_config, engine_config)
}

fn lookup(d: &mut Driver, name: &str) -> Result<IpAddr, Error> {
    block_for(10_000, || d.get_host_by_name(name, AddrType::IPv4))
}

fn udp_boundaries(mode: AccessMode) {
    udp_boundaries_on(engine::Module::Bc20, mode);
}

/// [`udp_boundaries`] against the emulator of `module`, the engine configured for it.
fn udp_boundaries_on(module: engine::Module, mode: AccessMode) {
    let port = udp_echo();
    let (sim_config, engine_config) = blocking_support::for_module(
        module,
        sim::Config::default(),
        engine::Config {
            access_mode: mode,
            ..engine::Config::default()
        },
    );
    let (mut d, _emu, written) = driver(sim_config, engine_config);
    let mut u = UdpClientStack::socket(&mut d).unwrap();
    UdpClientStack::connect(&mut d, &mut u, local(port)).unwrap();
    let sizes = [1usize, 100, 512, 37, 300];
    let grams: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| blocking_support::payload(n, 40 + i as u64))
        .collect();
    // All out before reading any: the echoes queue up and must come back one by one.
    for g in &grams {
        block_for(5_000, || UdpClientStack::send(&mut d, &mut u, g)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut buf = [0u8; 2048];
    for g in &grams {
        let (n, from) =
            block_for(5_000, || UdpClientStack::receive(&mut d, &mut u, &mut buf)).unwrap();
        assert_eq!(n, g.len(), "one receive is one datagram");
        assert!(buf[..n] == g[..], "datagram content");
        assert_eq!(from, local(port));
    }
    assert_eq!(
        UdpClientStack::receive(&mut d, &mut u, &mut buf),
        Err(nb::Error::WouldBlock)
    );
    UdpClientStack::close(&mut d, u).unwrap();
    blocking_support::assert_spoke_as(&d, &written, module);
}

#[test]
fn udp_echo_keeps_datagram_boundaries_bc660k_both_modes() {
    udp_boundaries_on(engine::Module::Bc660k, AccessMode::Buffer);
    udp_boundaries_on(engine::Module::Bc660k, AccessMode::DirectPush);
}

#[test]
fn udp_echo_and_dns_on_every_module() {
    for module in engine::Module::ALL {
        udp_boundaries_on(module, AccessMode::Buffer);
        let (mut d, _emu, written) = dns_driver_on(module, false);
        assert_eq!(
            lookup(&mut d, "multi.test"),
            Ok(Ipv4Addr::new(10, 9, 8, 7).into()),
            "{module}"
        );
        blocking_support::assert_spoke_as(&d, &written, module);
    }
}

#[test]
fn dns_on_a_bc660k_names_context_0() {
    let (mut d, _emu, written) = dns_driver_on(engine::Module::Bc660k, false);
    assert_eq!(
        lookup(&mut d, "multi.test"),
        Ok(Ipv4Addr::new(10, 9, 8, 7).into())
    );
    // A failed lookup is still the typed error, whatever the module prints for errors.
    assert_eq!(
        lookup(&mut d, "gone.test"),
        Err(Error::Modem(ModemError::Result(ResultCode::Qi(
            QiError::DnsParseFailed
        ))))
    );
    let w = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    assert!(w.contains("AT+QIDNSGIP=0,\"multi.test\"\r"), "{w}");
    blocking_support::assert_spoke_as(&d, &written, engine::Module::Bc660k);
}

#[test]
fn udp_echo_keeps_datagram_boundaries_buffer_mode() {
    udp_boundaries(AccessMode::Buffer);
}

#[test]
fn udp_echo_keeps_datagram_boundaries_direct_push() {
    udp_boundaries(AccessMode::DirectPush);
}

#[test]
fn udp_datagram_over_512_is_refused_unsent() {
    let port = udp_echo();
    let (mut d, _emu, written) = driver(sim::Config::default(), engine::Config::default());
    let mut u = UdpClientStack::socket(&mut d).unwrap();
    UdpClientStack::connect(&mut d, &mut u, local(port)).unwrap();
    let before = written.lock().unwrap().len();
    let big = vec![0x5Au8; 513];
    assert_eq!(
        UdpClientStack::send(&mut d, &mut u, &big),
        Err(nb::Error::Other(Error::InvalidArgument(
            EncodeError::TooLong {
                field: Field::Data,
                len: 513,
                max: 512
            }
        )))
    );
    assert_eq!(written.lock().unwrap().len(), before, "nothing was written");
    // The socket is still good.
    block_for(5_000, || UdpClientStack::send(&mut d, &mut u, &big[..512])).unwrap();
    let mut buf = [0u8; 1024];
    let (n, _) = block_for(5_000, || UdpClientStack::receive(&mut d, &mut u, &mut buf)).unwrap();
    assert_eq!(&buf[..n], &big[..512]);
    UdpClientStack::close(&mut d, u).unwrap();
}

#[test]
fn dns_localhost_through_the_host_resolver() {
    let (mut d, _emu, written) = dns_driver(true);
    assert_eq!(lookup(&mut d, "localhost"), Ok(Ipv4Addr::LOCALHOST.into()));
    let w = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    assert!(w.contains("AT+QIDNSGIP=1,\"localhost\"\r"), "{w}");
}

#[test]
fn dns_override_gives_its_first_address() {
    let (mut d, _emu, written) = dns_driver(false);
    assert_eq!(
        lookup(&mut d, "multi.test"),
        Ok(Ipv4Addr::new(10, 9, 8, 7).into())
    );
    // A dotted address is answered without asking the module.
    let before = written.lock().unwrap().len();
    assert_eq!(
        lookup(&mut d, "192.0.2.1"),
        Ok(Ipv4Addr::new(192, 0, 2, 1).into())
    );
    assert_eq!(written.lock().unwrap().len(), before);
}

#[test]
fn dns_failure_is_a_typed_error() {
    let (mut d, _emu, _) = dns_driver(false);
    let dns_failed = Error::Modem(ModemError::Result(ResultCode::Qi(QiError::DnsParseFailed)));
    // A name the override table fails, and a name nobody knows.
    assert_eq!(lookup(&mut d, "gone.test"), Err(dns_failed));
    assert_eq!(lookup(&mut d, "unknown.test"), Err(dns_failed));
    // The stack is fine afterwards.
    assert_eq!(
        lookup(&mut d, "multi.test"),
        Ok(Ipv4Addr::new(10, 9, 8, 7).into())
    );
}

#[test]
fn ipv6_and_reverse_lookup_are_unsupported() {
    let (mut d, _emu, written) = dns_driver(true);
    let before = written.lock().unwrap().len();
    assert_eq!(
        d.get_host_by_name("localhost", AddrType::IPv6),
        Err(nb::Error::Other(Error::Unsupported))
    );
    let mut out = [0u8; 64];
    assert_eq!(
        d.get_host_by_address(Ipv4Addr::LOCALHOST.into(), &mut out),
        Err(nb::Error::Other(Error::Unsupported))
    );
    assert_eq!(
        written.lock().unwrap().len(),
        before,
        "the module was not asked"
    );
    // `Either` is answered with IPv4.
    assert_eq!(
        block_for(5_000, || d.get_host_by_name("localhost", AddrType::Either)),
        Ok(Ipv4Addr::LOCALHOST.into())
    );
}

#[test]
fn host_names_cannot_inject_commands() {
    const EVIL: &str = "evil\"\r\nAT+QPOWD=1";
    let (nport, _) = sntp_server(1_783_011_387);
    let (mut d, emu, written) = dns_driver(true);
    let before = written.lock().unwrap().len();
    let bad = |field| {
        Error::InvalidArgument(EncodeError::InvalidByte {
            field,
            position: 4,
            byte: b'"',
        })
    };
    assert_eq!(
        d.get_host_by_name(EVIL, AddrType::IPv4),
        Err(nb::Error::Other(bad(Field::Host)))
    );
    assert_eq!(d.ntp(EVIL, nport), Err(bad(Field::Server)));
    assert_eq!(d.ping(EVIL, 1, 1, 32), Err(bad(Field::Host)));
    assert_eq!(
        written.lock().unwrap().len(),
        before,
        "nothing went on the wire"
    );
    // The next command goes out alone and is answered; the module is still up.
    assert!(d.registration().unwrap().is_registered());
    let w = written.lock().unwrap()[before..].to_vec();
    assert_eq!(String::from_utf8_lossy(&w), "AT+CEREG?\r");
    assert!(emu.is_running());
    let t = d.ntp("127.0.0.1", nport).unwrap();
    assert_eq!(t.unix_timestamp(), 1_783_011_387);
    let all = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    assert!(!all.contains("QPOWD") && !all.contains("evil"), "{all}");
}

/// Issue 11: a first echo that times out while later ones succeed is one echo's failure, kept
/// in the result; every echo failing is the ping's error.
#[test]
fn ping_keeps_per_echo_failures() {
    use quectel_bc20::engine::PingEcho;
    use quectel_bc20::sim::{Faults, Rate};
    let cases = [
        (Rate::Nth(1), Some(2)), // the first echo lost, the two others answered
        (Rate::Always, None),    // every echo lost
    ];
    for (rate, answered) in cases {
        let (mut d, emu, _) = driver(
            sim::Config {
                ping_port: sim_support::closed_port(),
                ping_interval: Duration::from_millis(1),
                ping_timeout_cap: Duration::from_millis(300),
                faults: Faults {
                    seed: 3,
                    ping_loss: rate,
                    ..Faults::default()
                },
                ..sim::Config::default()
            },
            engine::Config::default(),
        );
        let got = d.ping("127.0.0.1", 1, 3, 32);
        match (answered, got) {
            (Some(n), Ok(p)) => {
                assert_eq!(p.replies().count(), n);
                assert_eq!(p.failures(), 1);
                assert_eq!(
                    p.echoes[0],
                    PingEcho::Failed(ResultCode::Qi(QiError::Timeout))
                );
                assert!(
                    p.echoes[1..]
                        .iter()
                        .all(|e| matches!(e, PingEcho::Reply(_)))
                );
                let s = p.summary.expect("summary");
                assert_eq!((s.sent, s.received, s.lost), (3, 2, 1));
            }
            (None, Err(e)) => assert_eq!(
                e,
                Error::Modem(ModemError::Result(ResultCode::Qi(QiError::Timeout)))
            ),
            (want, got) => panic!("{rate:?}: want {want:?} replies, got {got:?}"),
        }
        assert!(!emu.fault_log().events().is_empty(), "the fault fired");
    }
}
