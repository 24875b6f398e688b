//! A serial port through `host::split`, end to end: the emulator behind a pseudo-terminal,
//! opened with the `serialport` crate as the examples open a real module's port, driving the
//! async stack under tokio (DNS, TCP echo).
#![cfg(all(feature = "sim", unix))]

mod sim_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use quectel_bc20::asynch::{self, State};
use quectel_bc20::engine::Config;
use quectel_bc20::host::{self, StdDelay};
use quectel_bc20::{StdClock, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_stack_over_a_serial_port() {
    let echo = sim_support::tcp_echo();
    let mut config = sim::Config::default();
    config
        .dns_overrides
        .insert("echo.test".into(), vec![Ipv4Addr::LOCALHOST]);
    let (path, _emu) = sim::start_pty(config).expect("pty");
    let port = serialport::new(path.to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open()
        .expect("open the pty as a serial port");
    let (rx, tx) = host::split(port.try_clone().expect("clone"), port);
    let state: &'static State<CriticalSectionRawMutex> =
        Box::leak(Box::new(State::new(Config::default())));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    tokio::spawn(async move { runner.run().await });

    tokio::time::timeout(Duration::from_secs(20), async {
        stack.bring_up(10_000).await.expect("bring-up");
        let ip = stack
            .get_host_by_name("echo.test", AddrType::IPv4)
            .await
            .expect("DNS");
        let mut conn = stack
            .connect(std::net::SocketAddr::new(ip, echo))
            .await
            .expect("connect");
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 256) as u8).collect();
        conn.write_all(&data).await.expect("write");
        conn.flush().await.expect("flush");
        let mut got = vec![0u8; data.len()];
        conn.read_exact(&mut got).await.expect("read back");
        assert_eq!(got, data);
    })
    .await
    .expect("within 20 s");
}
