//! The crate's async embedded-nal-async stack over the emulator's pipe, split the way it is
//! meant to be: the runner owns the receive half and writes the transmit half, the application
//! uses the stack handle. No runtime: a small parking executor and a polling delay.
#![cfg(feature = "sim")]

mod sim_support;

use core::future::Future;
use core::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use quectel_bc20::sim::{self, Config, Faults, Rate};
use quectel_bc20::{AccessMode, StdClock, asynch, engine};
use sim_support::tcp_echo;

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `f` to completion on this thread, parking between polls (at most 1 ms, so the
/// polling delay below makes progress without a timer thread).
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(Instant::now() < deadline, "async test timed out");
        std::thread::park_timeout(Duration::from_millis(1));
    }
}

/// A `DelayNs` that completes once its time has passed (re-polled by `block_on`).
struct PollDelay;

impl embedded_hal_async::delay::DelayNs for PollDelay {
    async fn delay_ns(&mut self, ns: u32) {
        let end = Instant::now() + Duration::from_nanos(u64::from(ns));
        core::future::poll_fn(|_| {
            if Instant::now() >= end {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

fn echo_over_async_stack(config: Config, mode: AccessMode, len: usize) {
    let port = tcp_echo();
    let (host, emu) = sim::start(config);
    let (rx, tx) = host.split();
    // The socket buffer holds the whole echo: in direct push, a writer that awaits `flush`
    // (SEND OK) while echoed data fills a smaller buffer deadlocks, because the SEND OK sits
    // behind the pushed data that nobody reads (as it would on hardware).
    let state: asynch::State<NoopRawMutex, 5, 16384> = asynch::State::sized(engine::Config {
        access_mode: mode,
        ..engine::Config::default()
    });
    let (stack, mut runner) = asynch::new(&state, rx, tx, StdClock::default(), PollDelay);
    let data: Vec<u8> = (0..len).map(|i| (i * 29 + 1) as u8).collect();
    let app = async {
        stack.wait_ready().await.expect("module ready");
        let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        let mut conn = stack.connect(addr).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        // Read what has come back between writes: in direct push a driver that only writes
        // would fill its receive buffer and stall behind the echoed data (as on hardware).
        for chunk in data.chunks(1000) {
            conn.write_all(chunk).await.unwrap();
            conn.flush().await.unwrap();
            while conn.available() > 0 {
                let n = conn.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
        }
        while got.len() < data.len() {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection ended early");
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    let got = match block_on(select(runner.run(), app)) {
        Either::First(never) => match never {},
        Either::Second(got) => got,
    };
    assert!(got == data, "data differs");
    drop(emu);
}

#[test]
fn async_stack_echo_buffer_mode() {
    echo_over_async_stack(Config::default(), AccessMode::Buffer, 8_000);
}

#[test]
fn async_stack_echo_direct_push_with_faults() {
    echo_over_async_stack(
        Config {
            faults: Faults {
                seed: 11,
                chunking: Rate::PerMille(300),
                chunk_max: 9,
                noise: Rate::PerMille(100),
                noise_lines: vec!["+CEREG: 1".into()],
                ..Faults::default()
            },
            ..Config::default()
        },
        AccessMode::DirectPush,
        8_000,
    );
}
