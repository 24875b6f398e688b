//! Cancellation safety (issue 6 item 4): futures of the stack dropped mid-operation at many
//! points, by `tokio::time::timeout` and `select!`. After each, a connection that was open all
//! along (the witness) still echoes byte-exact, and new connections work.
#![cfg(feature = "sim")]

mod async_support;
mod sim_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use async_support::{Harness, STEP, assert_same, loopback, pattern, tcp_echo_reporting, within};
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use quectel_bc20::asynch::TcpConnection;
use quectel_bc20::{AccessMode, Error, sim};

/// Socket buffer of these tests. In direct push the echo is pushed whether or not the test
/// reads, and a `flush` waits for a `SEND OK` that comes after it; the tests read between
/// writes, but a dropped read may leave a few kilobytes of echo unread for a while.
const SOCK_RX: usize = 16 * 1024;
type H = Harness<SOCK_RX>;
type Conn = TcpConnection<'static, async_support::Mx, 5, SOCK_RX>;
type Stack = quectel_bc20::asynch::Stack<'static, async_support::Mx, 5, SOCK_RX>;

/// One `#[tokio::test]` per access mode for `$body(mode)`.
macro_rules! both_modes {
    ($body:ident: $buffer:ident, $push:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $buffer() {
            $body(AccessMode::Buffer).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $push() {
            $body(AccessMode::DirectPush).await;
        }
    };
}

/// Cut points in microseconds, from a seeded generator: 0 (dropped at the first await) up to
/// `max_us`.
fn cut_points(n: usize, max_us: u64, seed: u64) -> Vec<Duration> {
    pattern(n * 2, seed)
        .chunks(2)
        .map(|p| {
            let r = u64::from(u16::from_le_bytes([p[0], p[1]]));
            Duration::from_micros(r * max_us / 65_535)
        })
        .collect()
}

/// Echo `data` through `conn` (writes, flushes, reads it all back), byte-exact.
async fn echo_ok(conn: &mut Conn, data: &[u8], what: &str) {
    within(STEP, what, async {
        conn.write_all(data).await.unwrap();
        conn.flush().await.unwrap();
        let mut got = vec![0u8; data.len()];
        conn.read_exact(&mut got).await.unwrap();
        assert_same(&got, data, what);
    })
    .await;
}

/// Connect, retrying while every socket is still busy closing (a close is queued for the
/// runner, so a socket is free only once the module confirmed it). Bounded by `STEP`.
async fn connect_when_free(h: &H, port: u16) -> Conn {
    within(
        STEP,
        "connect when a socket is free",
        retry_connect(h.stack, port),
    )
    .await
}

async fn retry_connect(stack: &'static Stack, port: u16) -> Conn {
    loop {
        match stack.connect(loopback(port)).await {
            Ok(c) => break c,
            Err(Error::NoSocket) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => panic!("connect: {e:?}"),
        }
    }
}

/// All five sockets can be connected (so nothing leaked), and each echoes.
async fn all_five_work(h: &H, port: u16) {
    let mut conns = Vec::new();
    for i in 0..5 {
        let mut c = connect_when_free(h, port).await;
        echo_ok(&mut c, &pattern(300, 500 + i), "one of five").await;
        conns.push(c);
    }
}

fn sim_config() -> sim::Config {
    let mut c = sim::Config {
        use_host_resolver: false,
        // Connects there never complete (until the emulator's connect timeout).
        blackhole: vec![Ipv4Addr::new(127, 0, 0, 66)],
        ..sim::Config::default()
    };
    c.dns_overrides
        .insert("echo.bc20.test".into(), vec![Ipv4Addr::LOCALHOST]);
    c.dns_overrides
        .insert("other.bc20.test".into(), vec![Ipv4Addr::new(127, 0, 0, 2)]);
    c
}

async fn harness(mode: AccessMode) -> H {
    async_support::start(sim_config(), async_support::engine_config(mode)).await
}

both_modes!(a_dropped_connect_releases_its_socket: a_dropped_connect_releases_its_socket_buffer_mode, a_dropped_connect_releases_its_socket_direct_push);

async fn a_dropped_connect_releases_its_socket(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h = harness(mode).await;
    let mut witness = connect_when_free(&h, port).await;
    // A connect that cannot complete, dropped while the module is opening.
    for _ in 0..3 {
        let r = tokio::time::timeout(
            Duration::from_millis(100),
            h.stack
                .connect(std::net::SocketAddr::from(([127, 0, 0, 66], 9))),
        )
        .await;
        assert!(r.is_err(), "a blackholed connect cannot succeed");
        echo_ok(&mut witness, &pattern(200, 1), "witness").await;
    }
    // Connects to a real server, dropped at many points (before, during, after `+QIOPEN`).
    for (i, cut) in cut_points(20, 20_000, 3).into_iter().enumerate() {
        if let Ok(c) = tokio::time::timeout(cut, h.stack.connect(loopback(port))).await {
            // It completed before the cut: a usable connection, dropped right away.
            drop(c.unwrap());
        }
        echo_ok(&mut witness, &pattern(100, i as u64), "witness").await;
    }
    drop(witness);
    all_five_work(&h, port).await;
}

both_modes!(a_dropped_read_loses_nothing: a_dropped_read_loses_nothing_buffer_mode, a_dropped_read_loses_nothing_direct_push);

async fn a_dropped_read_loses_nothing(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h = harness(mode).await;
    let mut conn = connect_when_free(&h, port).await;
    let mut witness = connect_when_free(&h, port).await;
    let data = pattern(6000, 9);
    let mut got = Vec::new();
    let mut buf = [0u8; 333];
    let cuts = cut_points(60, 5_000, 4);
    for (chunk, cut) in data.chunks(100).zip(cuts) {
        // A read dropped while nothing is there (or while data is on its way).
        if let Ok(r) = tokio::time::timeout(cut, conn.read(&mut buf)).await {
            let n = r.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        within(STEP, "write", conn.write_all(chunk)).await.unwrap();
        within(STEP, "flush", conn.flush()).await.unwrap();
    }
    echo_ok(&mut witness, &pattern(500, 2), "witness").await;
    within(STEP, "rest of the echo", async {
        while got.len() < data.len() {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "end of stream after {}", got.len());
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert_same(&got, &data, "reads with dropped reads in between");
    // Nothing duplicated: no byte is left over either.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf))
            .await
            .is_err()
    );
}

both_modes!(dropped_writes_and_flushes_lose_and_duplicate_nothing: dropped_writes_and_flushes_lose_and_duplicate_nothing_buffer_mode, dropped_writes_and_flushes_lose_and_duplicate_nothing_direct_push);

async fn dropped_writes_and_flushes_lose_and_duplicate_nothing(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h = harness(mode).await;
    let mut conn = connect_when_free(&h, port).await;
    let mut witness = connect_when_free(&h, port).await;
    let data = pattern(20_000, 5);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    for cut in cut_points(400, 3_000, 6).into_iter().cycle() {
        if sent == data.len() {
            break;
        }
        let end = (sent + 900).min(data.len());
        // A write only counts when it returned; a dropped one took nothing.
        if let Ok(r) = tokio::time::timeout(cut, conn.write(&data[sent..end])).await {
            sent += r.unwrap();
        }
        let _ = tokio::time::timeout(cut, conn.flush()).await;
        while conn.available() > 0 {
            let n = within(STEP, "read", conn.read(&mut buf)).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
    }
    within(STEP, "flush", conn.flush()).await.unwrap();
    echo_ok(&mut witness, &pattern(700, 3), "witness").await;
    within(STEP, "rest of the echo", async {
        while got.len() < data.len() {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert_same(
        &got,
        &data,
        "echo of writes with dropped writes and flushes",
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf))
            .await
            .is_err()
    );
}

both_modes!(a_dropped_dns_request_gives_up_its_reply: a_dropped_dns_request_gives_up_its_reply_buffer_mode, a_dropped_dns_request_gives_up_its_reply_direct_push);

async fn a_dropped_dns_request_gives_up_its_reply(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h = harness(mode).await;
    let mut witness = connect_when_free(&h, port).await;
    for cut in cut_points(20, 10_000, 7) {
        let _ = tokio::time::timeout(
            cut,
            h.stack.get_host_by_name("other.bc20.test", AddrType::IPv4),
        )
        .await;
        // A later request gets its own answer, not the dropped one's (another address).
        let ip = within(
            STEP,
            "dns",
            h.stack.get_host_by_name("echo.bc20.test", AddrType::IPv4),
        )
        .await;
        assert_eq!(ip, Ok(Ipv4Addr::LOCALHOST.into()));
        echo_ok(&mut witness, &pattern(50, 8), "witness").await;
    }
    let mut c = connect_when_free(&h, port).await;
    echo_ok(&mut c, &pattern(1000, 9), "new connection").await;
}

both_modes!(a_dropped_connection_still_delivers_what_it_queued_then_closes: a_dropped_connection_still_delivers_what_it_queued_then_closes_buffer_mode, a_dropped_connection_still_delivers_what_it_queued_then_closes_direct_push);

async fn a_dropped_connection_still_delivers_what_it_queued_then_closes(mode: AccessMode) {
    let (port, mut seen) = tcp_echo_reporting().await;
    let h = harness(mode).await;
    let mut witness = connect_when_free(&h, port).await;
    for (i, len) in [1usize, 100, 511, 512].into_iter().enumerate() {
        let mut c = connect_when_free(&h, port).await;
        let data = pattern(len, 40 + i as u64);
        // Queued (the send queue holds 512 bytes), not flushed: the drop must not lose it.
        let n = within(STEP, "write", c.write(&data)).await.unwrap();
        assert_eq!(n, len);
        drop(c);
        // The server sees exactly the queued bytes, then end of stream.
        let report = within(STEP, "server sees EOF", seen.recv()).await.unwrap();
        assert_same(&report, &data, "delivered before close");
        echo_ok(&mut witness, &pattern(100, i as u64), "witness").await;
    }
    let mut c = connect_when_free(&h, port).await;
    echo_ok(&mut c, &pattern(2000, 11), "new connection").await;
}

both_modes!(whole_connections_dropped_from_a_select_loop: whole_connections_dropped_from_a_select_loop_buffer_mode, whole_connections_dropped_from_a_select_loop_direct_push);

async fn whole_connections_dropped_from_a_select_loop(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h = harness(mode).await;
    let mut witness = connect_when_free(&h, port).await;
    for (i, cut) in cut_points(20, 60_000, 12).into_iter().enumerate() {
        let stack = h.stack;
        let job = async move {
            let mut c = retry_connect(stack, port).await;
            let data = pattern(3000, 100 + i as u64);
            c.write_all(&data).await.unwrap();
            c.flush().await.unwrap();
            let mut got = vec![0u8; data.len()];
            c.read_exact(&mut got).await.unwrap();
            assert_same(&got, &data, "job");
        };
        tokio::select! {
            () = job => {}
            () = tokio::time::sleep(cut) => {}
        }
        echo_ok(&mut witness, &pattern(64, i as u64), "witness").await;
    }
    drop(witness);
    all_five_work(&h, port).await;
}

// A connect dropped while the module is still opening: the module's late `+QIOPEN` failure
// for that id (when its own connect gives up) must not touch the connection that reuses the
// id meanwhile.
both_modes!(
    a_late_open_failure_does_not_hit_the_socket_that_reuses_the_id:
        a_late_open_failure_does_not_hit_the_socket_that_reuses_the_id_buffer_mode,
        a_late_open_failure_does_not_hit_the_socket_that_reuses_the_id_direct_push
);

async fn a_late_open_failure_does_not_hit_the_socket_that_reuses_the_id(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let give_up = Duration::from_millis(300);
    let h: H = async_support::start(
        sim::Config {
            connect_timeout: give_up,
            ..sim_config()
        },
        async_support::engine_config(mode),
    )
    .await;
    for round in 0..3u64 {
        let r = tokio::time::timeout(
            Duration::from_millis(50),
            h.stack
                .connect(std::net::SocketAddr::from(([127, 0, 0, 66], 9))),
        )
        .await;
        assert!(r.is_err(), "a blackholed connect cannot succeed");
        // The dropped connect had socket 0 (nothing else is open). Connect until socket 0 is
        // in use again (the others hold the ids taken while it was closing).
        let mut others = Vec::new();
        let mut c = within(STEP, "socket 0 again", async {
            loop {
                let c = connect_when_free(&h, port).await;
                if c.id().get() == 0 {
                    break c;
                }
                others.push(c);
            }
        })
        .await;
        drop(others);
        echo_ok(&mut c, &pattern(100, round), "new connection").await;
        // Past the moment the module gives up on the dropped connect.
        tokio::time::sleep(give_up * 2).await;
        echo_ok(&mut c, &pattern(100, 10 + round), "after the late failure").await;
    }
}

/// A TCP server on 127.0.0.1 that sends `len` bytes to every client, then waits for EOF.
async fn source_server(len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(&pattern(len, 99)).await;
                let mut b = [0u8; 64];
                while matches!(s.read(&mut b).await, Ok(n) if n > 0) {}
            });
        }
    });
    port
}

both_modes!(
    a_connection_dropped_with_unread_data_does_not_stall_the_driver:
        a_connection_dropped_with_unread_data_does_not_stall_the_driver_buffer_mode,
        a_connection_dropped_with_unread_data_does_not_stall_the_driver_direct_push
);

/// A connection whose peer keeps sending more than the socket buffer holds (the default
/// 1536 bytes), dropped without reading: the driver must throw its data away rather than
/// hold the module's output back for a reader that is gone.
async fn a_connection_dropped_with_unread_data_does_not_stall_the_driver(mode: AccessMode) {
    let echo_port = sim_support::tcp_echo();
    let flood_port = source_server(64 * 1024).await;
    let h: Harness = async_support::start(sim_config(), async_support::engine_config(mode)).await;
    let mut witness = within(STEP, "connect", h.stack.connect(loopback(echo_port)))
        .await
        .unwrap();
    for round in 0..3u64 {
        let flood = within(STEP, "connect", h.stack.connect(loopback(flood_port)))
            .await
            .unwrap();
        within(STEP, "data arrives", async {
            while flood.available() == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        drop(flood);
        within(STEP, "witness echo", async {
            let d = pattern(1000, round);
            witness.write_all(&d).await.unwrap();
            witness.flush().await.unwrap();
            let mut got = vec![0u8; d.len()];
            witness.read_exact(&mut got).await.unwrap();
            assert_same(&got, &d, "witness");
        })
        .await;
    }
}
