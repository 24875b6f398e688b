//! The emulator's seeded fault switches under the async stack: byte-exact 64 KiB echoes in
//! both access modes with chunked, delayed and noisy module output; and a module reboot in the
//! middle of a transfer, which the connection reports as `Error::Reset`, never as stale data.
#![cfg(feature = "sim")]

mod async_support;
mod sim_support;

use std::time::Duration;

use async_support::{Harness, STEP, assert_same, engine_config, loopback, pattern, within};
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use quectel_bc20::sim::{self, FaultKind, Faults, Rate};
use quectel_bc20::{AccessMode, Error};

/// Socket buffer of the driver in these tests. In direct push the module pushes the echo
/// whether or not the application reads; a writer that awaits `flush` while unread echo fills
/// this buffer waits for a `SEND OK` that sits behind the held-back data. The tests read what
/// has arrived after every flush, so the buffer needs to hold about two chunks of echo.
const SOCK_RX: usize = 8192;
const CHUNK: usize = 1000;

fn faulty(seed: u64) -> sim::Config {
    sim::Config {
        faults: Faults {
            seed,
            chunking: Rate::PerMille(300),
            chunk_max: 7,
            chunk_gap: Duration::from_micros(300),
            delay: Rate::PerMille(50),
            delay_range: (Duration::from_millis(1), Duration::from_millis(20)),
            noise: Rate::PerMille(50),
            noise_lines: vec!["+CEREG: 1".into(), "+QNBIOTEVENT: \"EXIT PSM\"".into()],
            ..Faults::default()
        },
        ..sim::Config::default()
    }
}

/// Echo `data` in chunks, reading what came back after every flush; returns what was read.
async fn echo<C: Read<Error = Error> + Write<Error = Error>>(
    conn: &mut C,
    data: &[u8],
    mut after_chunk: impl FnMut(usize),
) -> (Vec<u8>, Result<(), Error>) {
    let mut got = Vec::with_capacity(data.len());
    let mut buf = [0u8; 1024];
    let r: Result<(), Error> = async {
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            conn.write_all(chunk).await?;
            conn.flush().await?;
            after_chunk(i);
            // Take what is there without waiting (a zero timeout still polls once).
            while let Ok(r) = tokio::time::timeout(Duration::ZERO, conn.read(&mut buf)).await {
                let n = r?;
                assert!(n > 0, "end of stream after {} bytes", got.len());
                got.extend_from_slice(&buf[..n]);
            }
        }
        while got.len() < data.len() {
            let n = conn.read(&mut buf).await?;
            assert!(n > 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }
    .await;
    (got, r)
}

async fn echo_64k_under_faults(mode: AccessMode, seed: u64) {
    let port = sim_support::tcp_echo();
    let h: Harness<SOCK_RX> = async_support::start(faulty(seed), engine_config(mode)).await;
    let data = pattern(64 * 1024, seed);
    let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
        .await
        .unwrap();
    let (got, r) = within(STEP * 3, "64 KiB echo", echo(&mut conn, &data, |_| {})).await;
    r.unwrap();
    assert_same(&got, &data, "64 KiB echo under faults");
    // The faults did fire (the test is not passing on a clean line).
    let log = h.emu.fault_log().events();
    let count = |f: fn(&FaultKind) -> bool| log.iter().filter(|e| f(&e.kind)).count();
    assert!(
        count(|k| matches!(k, FaultKind::Chunked { .. })) > 10,
        "{log:?}"
    );
    assert!(count(|k| matches!(k, FaultKind::Noise(_))) > 0, "{log:?}");
    assert!(count(|k| matches!(k, FaultKind::Delay(_))) > 0, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_64k_buffer_mode_under_faults() {
    echo_64k_under_faults(AccessMode::Buffer, 21).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_64k_direct_push_under_faults() {
    echo_64k_under_faults(AccessMode::DirectPush, 22).await;
}

/// The module reboots in the middle of a transfer: the connection's reads and writes report
/// `Error::Reset` from then on, what was read before is an exact prefix of the data, and a new
/// connection works once the driver has brought the module up again.
async fn reboot_mid_transfer(mode: AccessMode) {
    let port = sim_support::tcp_echo();
    let h: Harness<SOCK_RX> =
        async_support::start(sim::Config::default(), engine_config(mode)).await;
    let data = pattern(64 * 1024, 5);
    let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
        .await
        .unwrap();
    let emu = &h.emu;
    let (got, r) = within(
        STEP * 2,
        "echo until the reboot",
        echo(&mut conn, &data, |i| {
            if i == 8 {
                emu.reboot();
            }
        }),
    )
    .await;
    assert_eq!(r, Err(Error::Reset), "after {} bytes", got.len());
    assert!(got.len() < data.len());
    assert_same(&got, &data[..got.len()], "data before the reboot");
    let mut buf = [0u8; 64];
    assert_eq!(
        within(STEP, "read", conn.read(&mut buf)).await,
        Err(Error::Reset)
    );
    let w = within(STEP, "write", async {
        conn.write_all(b"x").await?;
        conn.flush().await
    })
    .await;
    assert_eq!(w, Err(Error::Reset));
    drop(conn);

    let mut conn = within(
        STEP,
        "connect after the reboot",
        h.stack.connect(loopback(port)),
    )
    .await
    .unwrap();
    let data = pattern(5000, 6);
    let (got, r) = within(
        STEP,
        "echo after the reboot",
        echo(&mut conn, &data, |_| {}),
    )
    .await;
    r.unwrap();
    assert_same(&got, &data, "echo after the reboot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_mid_transfer_buffer_mode() {
    reboot_mid_transfer(AccessMode::Buffer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_mid_transfer_direct_push() {
    reboot_mid_transfer(AccessMode::DirectPush).await;
}

/// The module reboots without a word (its boot output lost) while the application only waits
/// to read (an HTTP client awaiting its response): the driver looks at the connections once
/// the line has been quiet for `idle_audit_ms`, and the read ends with `Unexpected` instead of
/// waiting for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_reader_learns_of_a_silent_reboot() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let port = sim_support::quiet_server();
        let h: Harness = async_support::start(
            sim::Config {
                boot: sim::BootStyle::Silent,
                ..sim::Config::default()
            },
            quectel_bc20::engine::Config {
                idle_audit_ms: 1_000,
                ..engine_config(mode)
            },
        )
        .await;
        // (No bring-up: the module is taken for the configured BC20, which lists every
        // connection it holds, until an `ATI` says otherwise.)
        let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
            .await
            .unwrap();
        h.emu.reboot();
        let mut buf = [0u8; 64];
        let got = within(STEP, "the read ends", conn.read(&mut buf)).await;
        assert_eq!(got, Err(Error::Unexpected), "{mode:?}");
    }
}

/// Bytes that had reached the driver before the module rebooted were sent by the peer: they
/// are read out unchanged, then the reset is reported (reads and writes), and nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_read_before_a_reboot_then_reset() {
    let port = sim_support::tcp_echo();
    let h: Harness = async_support::start_default().await;
    let mut conn = within(STEP, "connect", h.stack.connect(loopback(port)))
        .await
        .unwrap();
    let data = pattern(300, 7);
    within(STEP, "write", async {
        conn.write_all(&data).await?;
        conn.flush().await
    })
    .await
    .unwrap();
    within(STEP, "echo arrives", async {
        while conn.available() < data.len() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    h.emu.reboot();
    within(STEP, "the driver notices the reboot (RDY)", async {
        while h.stack.traffic().reboots == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let mut buf = [0u8; 512];
    let n = within(STEP, "read", conn.read(&mut buf)).await.unwrap();
    assert_same(&buf[..n], &data, "bytes received before the reboot");
    assert_eq!(
        within(STEP, "read", conn.read(&mut buf)).await,
        Err(Error::Reset)
    );
    assert_eq!(
        within(STEP, "write", conn.write(b"x")).await,
        Err(Error::Reset)
    );
    assert_eq!(within(STEP, "flush", conn.flush()).await, Err(Error::Reset));
}
