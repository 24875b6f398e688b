//! The async runner on an executor that other work holds up: on a single-threaded runtime a
//! task that blocks the thread for 20 to 600 ms at a time delays every wake-up of the runner
//! (as a busy task of the same priority does on an embassy executor). The module keeps
//! talking meanwhile, with every fault on. Each connection must echo its data whole, or end
//! with a typed error after a correct prefix, and nothing may hang.
#![cfg(feature = "sim")]

mod async_support;
mod sim_support;

use std::time::Duration;

use async_support::{Harness, assert_same, engine_config, loopback, pattern, within};
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use quectel_bc20::sim::{self, Faults, Rate};
use quectel_bc20::{AccessMode, Error};

/// Every fault that does not destroy data by design.
fn faulty(seed: u64) -> sim::Config {
    sim::Config {
        faults: Faults {
            seed,
            delay: Rate::PerMille(20),
            delay_range: (Duration::ZERO, Duration::from_millis(200)),
            chunking: Rate::PerMille(50),
            chunk_max: 16,
            chunk_gap: Duration::from_micros(500),
            noise: Rate::PerMille(10),
            noise_lines: vec!["+CEREG: 1".into(), "+QNBIOTEVENT: \"EXIT PSM\"".into()],
            // The faults that end a connection, rarely enough that most get through.
            open_fail: Rate::PerMille(20),
            send_fail: Rate::PerMille(3),
            error_on: Rate::PerMille(5),
            peer_close: Rate::PerMille(2),
            buff_full: Rate::PerMille(20),
            reboot: Rate::PerMille(1),
            ..Faults::default()
        },
        ..sim::Config::default()
    }
}

/// Write `data` in 700-byte chunks and read the echo; what came back, and how it ended.
async fn echo<C: Read<Error = Error> + Write<Error = Error>>(
    conn: &mut C,
    data: &[u8],
) -> (Vec<u8>, Result<(), Error>) {
    let mut got = Vec::with_capacity(data.len());
    let mut buf = [0u8; 1024];
    let r: Result<(), Error> = async {
        for chunk in data.chunks(700) {
            conn.write_all(chunk).await?;
            conn.flush().await?;
            while let Ok(r) = tokio::time::timeout(Duration::ZERO, conn.read(&mut buf)).await {
                take(&mut got, &buf, r?)?;
            }
        }
        while got.len() < data.len() {
            let n = conn.read(&mut buf).await?;
            take(&mut got, &buf, n)?;
        }
        Ok(())
    }
    .await;
    (got, r)
}

/// `n` bytes read into `buf`; none is the end of the stream (the peer closed).
fn take(got: &mut Vec<u8>, buf: &[u8], n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::Closed);
    }
    got.extend_from_slice(&buf[..n]);
    Ok(())
}

async fn starved(mode: AccessMode, hog_ms: u64, seed: u64) -> (u32, u32) {
    let port = sim_support::tcp_echo();
    let h: Harness<8192> = async_support::start(faulty(seed), engine_config(mode)).await;
    let hog = tokio::spawn(async move {
        loop {
            std::thread::sleep(Duration::from_millis(hog_ms));
            tokio::task::yield_now().await;
        }
    });
    let (mut whole, mut errors) = (0, 0);
    for n in 0..2u64 {
        let case = format!("{mode:?}, held up {hog_ms} ms at a time, seed {seed}, connection {n}");
        let data = pattern(3000 + 700 * n as usize, seed * 10 + n);
        let limit = Duration::from_secs(240);
        let conn = within(limit, &case, h.stack.connect(loopback(port))).await;
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{case}: connect: {e:?}");
                errors += 1;
                continue;
            }
        };
        let (got, r) = within(limit, &case, echo(&mut conn, &data)).await;
        match r {
            Ok(()) => {
                assert_same(&got, &data, &case);
                whole += 1;
            }
            Err(e) => {
                assert_same(&got, &data[..got.len()], &case);
                eprintln!("{case}: {e:?} after {} bytes", got.len());
                errors += 1;
            }
        }
    }
    hog.abort();
    (whole, errors)
}

#[tokio::test(flavor = "current_thread")]
async fn a_held_up_runner_moves_data_or_says_why() {
    let (mut whole, mut errors) = (0, 0);
    for hog_ms in [20, 150, 600] {
        for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
            let (w, e) = starved(mode, hog_ms, hog_ms + mode as u64).await;
            whole += w;
            errors += e;
        }
    }
    eprintln!("{whole} whole, {errors} errors");
    assert!(whole > errors, "{whole} whole, {errors} errors");
}
