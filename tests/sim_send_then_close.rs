//! A server that reads a request and hangs up at once: the request's send still succeeds.
//!
//! The bytes left the module before the peer closed, so a real module prints `SEND OK`; the
//! emulator used to print `SEND FAIL` when the close came within its `SEND OK` delay (seen
//! with mosquitto, which closes as soon as it reads DISCONNECT).
#![cfg(feature = "sim")]

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embedded_io_async::Write;
use embedded_nal_async::TcpConnect;
use quectel_bc20::asynch::{self, State};
use quectel_bc20::engine::Config;
use quectel_bc20::host::StdDelay;
use quectel_bc20::{StdClock, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_the_peer_read_before_closing_is_send_ok() {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut got = [0u8; 10];
        c.read_exact(&mut got).unwrap();
        got // dropping `c` closes at once
    });
    let config = sim::Config {
        send_ok_delay: Duration::from_millis(200),
        ..sim::Config::default()
    };
    let (host, _emu) = sim::start(config);
    let (rx, tx) = host.split();
    let state: &'static State<CriticalSectionRawMutex> =
        Box::leak(Box::new(State::new(Config::default())));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    tokio::spawn(async move { runner.run().await });
    let remote = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut conn = tokio::time::timeout(Duration::from_secs(10), stack.connect(remote))
        .await
        .expect("connect in time")
        .expect("connected");
    let sent = tokio::time::timeout(Duration::from_secs(10), async {
        conn.write_all(b"DISCONNECT").await?;
        conn.flush().await
    })
    .await
    .expect("SEND OK or SEND FAIL in time");
    assert_eq!(server.join().unwrap(), *b"DISCONNECT");
    sent.expect("the send succeeded");
}
