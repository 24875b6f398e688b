//! AT+QIDNSGIP, AT+QNTP (against a loopback SNTP responder) and AT+QPING (TCP connect probe).
#![cfg(feature = "sim")]

mod sim_support;

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use quectel_bc20::sim::Config;
use sim_support::{Modem, closed_port, quiet, sntp_server, tcp_echo};

fn with_dns() -> Config {
    Config {
        dns_overrides: [
            (
                "two.test".to_string(),
                vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)],
            ),
            ("broken.test".to_string(), vec![]),
            ("lo.test".to_string(), vec![Ipv4Addr::LOCALHOST]),
        ]
        .into(),
        use_host_resolver: false,
        blackhole: vec![Ipv4Addr::new(192, 0, 2, 7)],
        ..quiet()
    }
}

#[test]
fn dnsgip_answers_from_the_override_table() {
    let mut m = Modem::new(with_dns());
    m.send("AT+QIDNSGIP=1,\"two.test\"");
    m.expect(
        b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,2,600\r\n\r\n+QIURC: \"dnsgip\",\"127.0.0.1\"\r\n\
          \r\n+QIURC: \"dnsgip\",\"127.0.0.2\"\r\n",
    );
    m.send("AT+QIDNSGIP=1,\"broken.test\"");
    m.expect(b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",565,0,0\r\n");
    // Not in the table and the host resolver is off: fails too.
    m.send("AT+QIDNSGIP=1,\"other.test\"");
    m.expect(b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",565,0,0\r\n");
    // An IP literal resolves to itself with TTL 0 (as a sibling's trace shows).
    m.send("AT+QIDNSGIP=1,\"10.1.2.3\"");
    m.expect(b"\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,0\r\n\r\n+QIURC: \"dnsgip\",\"10.1.2.3\"\r\n");
}

#[test]
fn dnsgip_uses_the_host_resolver_and_a_second_lookup_is_busy() {
    let mut m = Modem::new(quiet());
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    m.send_bytes(b"AT+QIDNSGIP=1,\"localhost\"\rAT+QIDNSGIP=1,\"localhost\"\r");
    m.expect(b"\r\nOK\r\n\r\n+CME ERROR: 564\r\n\r\n+QIURC: \"dnsgip\",0,");
    let rest = m.until(b"\"127.0.0.1\"\r\n");
    assert!(
        rest.starts_with(b"1,600\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn qiopen_resolves_domain_names() {
    let port = tcp_echo();
    let mut m = Modem::new(with_dns());
    m.send(&format!("AT+QIOPEN=1,0,\"TCP\",\"lo.test\",{port},0,1"));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    m.send("AT+QISTATE?");
    m.expect(
        format!("\r\n+QISTATE: 0,\"TCP\",\"127.0.0.1\",{port},0,2,1,1\r\n\r\nOK\r\n").as_bytes(),
    );
}

#[test]
fn qntp_asks_a_real_sntp_server() {
    // 2026-07-02T16:56:27Z
    let (port, count) = sntp_server(1_783_011_387);
    let mut m = Modem::new(Config {
        timezone_quarters: 32,
        ..with_dns()
    });
    m.send(&format!("AT+QNTP=1,\"lo.test\",{port}"));
    m.expect(b"\r\nOK\r\n\r\n+QNTP: 0,\"26/07/03,00:56:27+32\"\r\n");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let mut m = Modem::new(Config {
        timezone_quarters: -20,
        ..with_dns()
    });
    m.send(&format!("AT+QNTP=1,\"127.0.0.1\",{port},0"));
    m.expect(b"\r\nOK\r\n\r\n+QNTP: 0,\"26/07/02,11:56:27-20\"\r\n");
}

#[test]
fn qntp_failures() {
    let mut m = Modem::new(Config {
        ntp_timeout: Duration::from_millis(100),
        ..with_dns()
    });
    m.send("AT+QNTP=1,\"broken.test\"");
    m.expect(b"\r\nOK\r\n\r\n+QNTP: 565\r\n");
    // No server there.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    m.send(&format!("AT+QNTP=1,\"127.0.0.1\",{port}"));
    m.expect(b"\r\nOK\r\n\r\n+QNTP: 569\r\n");
    m.send("AT+QNTP=1,\"192.0.2.7\"");
    m.expect(b"\r\nOK\r\n\r\n+QNTP: 569\r\n");
}

#[test]
fn qping_measures_a_round_trip_with_a_connect_probe() {
    // Refused connections prove reachability as well as accepted ones.
    for port in [tcp_echo(), closed_port()] {
        let mut m = Modem::new(Config {
            ping_port: port,
            ping_interval: Duration::from_millis(1),
            ..with_dns()
        });
        m.send("AT+QPING=1,\"lo.test\",4,3,64");
        m.expect(b"\r\nOK\r\n");
        let mut times = Vec::new();
        for _ in 0..3 {
            m.expect(b"\r\n+QPING: 0,\"127.0.0.1\",64,");
            let t = m.until(b",255\r\n");
            let t: u32 = std::str::from_utf8(&t[..t.len() - 6])
                .unwrap()
                .parse()
                .unwrap();
            assert!(t < 1000);
            times.push(t);
        }
        let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        let avg = times.iter().sum::<u32>() / 3;
        m.expect(format!("\r\n+QPING: 0,3,3,0,{min},{max},{avg}\r\n").as_bytes());
    }
}

#[test]
fn qping_failures_are_a_lone_result_after_a_doubled_blank_line() {
    let mut m = Modem::new(Config {
        ping_timeout_cap: Duration::from_millis(30),
        ping_interval: Duration::from_millis(1),
        ..with_dns()
    });
    m.send("AT+QPING=1,\"192.0.2.7\",1,2");
    m.expect(b"\r\nOK\r\n\r\n\r\n+QPING: 569\r\n");
    m.send("AT+QPING=1,\"broken.test\"");
    m.expect(b"\r\nOK\r\n\r\n\r\n+QPING: 565\r\n");
    m.expect_silence(Duration::from_millis(30));
}
