//! Several tasks using the stack at once, the five-socket limit, connected UDP, and what the
//! BC20 cannot do (UDP servers, IPv6 DNS).
#![cfg(feature = "sim")]

mod async_support;
mod sim_support;

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use async_support::{
    Harness, STEP, assert_same, engine_config, loopback, pattern, start_default, within,
};
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, ConnectedUdp, Dns, TcpConnect, UdpStack};
use quectel_bc20::{AccessMode, Error, sim};

/// Write `data` and read the echo back, reading while writing (the echo must not pile up).
async fn echo<C: Read + Write>(conn: &mut C, data: &[u8]) -> Vec<u8>
where
    C::Error: std::fmt::Debug,
{
    let mut got = Vec::with_capacity(data.len());
    let mut buf = [0u8; 700];
    let mut sent = 0;
    while sent < data.len() {
        let n = conn
            .write(&data[sent..(sent + 1500).min(data.len())])
            .await
            .unwrap();
        assert!(n > 0);
        sent += n;
        conn.flush().await.unwrap();
    }
    while got.len() < data.len() {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection ended after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    got
}

async fn five_tasks<const S: usize>(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h: Harness<S> = async_support::start(sim::Config::default(), engine_config(mode)).await;
    let stack = h.stack;
    let tasks: Vec<_> = (0..5u64)
        .map(|i| {
            tokio::spawn(async move {
                let data = pattern(8 * 1024, 77 + i);
                let mut conn = TcpConnect::connect(stack, loopback(port)).await.unwrap();
                let got = echo(&mut conn, &data).await;
                assert_same(&got, &data, &format!("task {i}"));
                conn.id()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(within(STEP * 2, "echo task", t).await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "five distinct sockets were in use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_tasks_echo_different_data_at_once_buffer_mode() {
    five_tasks::<1536>(AccessMode::Buffer).await;
}

/// In direct push one socket's full buffer holds the UART for all five, and each task writes
/// its 8 KiB (awaiting `SEND OK`s) before it reads: every socket buffer holds a whole echo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_tasks_echo_different_data_at_once_direct_push() {
    five_tasks::<{ 8 * 1024 }>(AccessMode::DirectPush).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_connection_needs_a_free_socket() {
    let port = sim_support::tcp_echo();
    let h = start_default().await;
    let mut conns = Vec::new();
    for _ in 0..5 {
        conns.push(
            within(
                STEP,
                "connect",
                TcpConnect::connect(h.stack, loopback(port)),
            )
            .await
            .unwrap(),
        );
    }
    let sixth = within(
        STEP,
        "sixth connect",
        TcpConnect::connect(h.stack, loopback(port)),
    )
    .await;
    assert_eq!(sixth.err(), Some(Error::NoSocket));
    let freed = conns.remove(2).id();
    // The close is queued for the runner; the socket is free once `CLOSE OK` came back.
    let mut sixth = within(STEP, "connect after a drop", async {
        loop {
            match TcpConnect::connect(h.stack, loopback(port)).await {
                Ok(c) => break c,
                Err(Error::NoSocket) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(e) => panic!("connect: {e:?}"),
            }
        }
    })
    .await;
    assert_eq!(sixth.id(), freed);
    let data = pattern(3000, 6);
    let got = within(STEP, "echo", echo(&mut sixth, &data)).await;
    assert_same(&got, &data, "sixth connection");
    for c in &mut conns {
        let d = pattern(600, u64::from(c.id().get()));
        let got = within(STEP, "echo", echo(c, &d)).await;
        assert_same(&got, &d, "older connection");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_keep_their_boundaries() {
    let port = sim_support::udp_echo();
    let h = start_default().await;
    let (_, mut udp) = within(
        STEP,
        "udp connect",
        UdpStack::connect(h.stack, loopback(port)),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 1024];
    for len in (1..=512).step_by(37).chain([511, 512]) {
        let d = pattern(len, len as u64);
        within(STEP, "send", udp.send(&d)).await.unwrap();
        let n = within(STEP, "receive", udp.receive_into(&mut buf))
            .await
            .unwrap();
        assert_same(&buf[..n], &d, &format!("datagram of {len}"));
    }
    // Two datagrams in a row come back as two reads, not one merged read.
    let (a, b) = (pattern(100, 1), pattern(200, 2));
    within(STEP, "send", udp.send(&a)).await.unwrap();
    within(STEP, "send", udp.send(&b)).await.unwrap();
    let n = within(STEP, "receive", udp.receive_into(&mut buf))
        .await
        .unwrap();
    assert_same(&buf[..n], &a, "first of two");
    let n = within(STEP, "receive", udp.receive_into(&mut buf))
        .await
        .unwrap();
    assert_same(&buf[..n], &b, "second of two");

    let r = udp.send(&pattern(513, 3)).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    // The refused datagram did not go out, and the socket still works.
    let d = pattern(64, 4);
    within(STEP, "send", udp.send(&d)).await.unwrap();
    let n = within(STEP, "receive", udp.receive_into(&mut buf))
        .await
        .unwrap();
    assert_same(&buf[..n], &d, "after the refused datagram");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_bc20_cannot_do_is_unsupported() {
    let h = start_default().await;
    let any = loopback(0);
    assert_eq!(
        h.stack.bind_single(any).await.err(),
        Some(Error::Unsupported)
    );
    assert_eq!(
        h.stack.bind_multiple(any).await.err(),
        Some(Error::Unsupported)
    );
    assert_eq!(
        h.stack
            .get_host_by_name("localhost", AddrType::IPv6)
            .await
            .err(),
        Some(Error::Unsupported)
    );
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 80));
    assert_eq!(
        TcpConnect::connect(&h.stack, v6).await.err(),
        Some(Error::Unsupported)
    );
    // IPv4 still resolves (an IP literal needs no module round trip, a name does).
    let ip = within(
        STEP,
        "dns",
        h.stack.get_host_by_name("127.0.0.1", AddrType::Either),
    )
    .await;
    assert_eq!(ip, Ok(loopback(0).ip()));
}
