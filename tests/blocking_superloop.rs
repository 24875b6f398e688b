//! The blocking stack as a superloop drives it (issue 11): the driver is called once every
//! poll period, from a millisecond to a minute, while the module's bytes arrive at 115200
//! baud into the MCU's receive buffer. Nothing may stall, nothing may be lost, and a dead or
//! sleeping module must end in data or a typed error. Time is virtual (see
//! `superloop_support`), so a 30 s period costs nothing.

mod superloop_support;

use embedded_nal::TcpClientStack;
use quectel_bc20::blocking::TcpSocket;
use quectel_bc20::engine::{self, WakePolicy};
use quectel_bc20::{AccessMode, Error, sim};
use superloop_support::{Rig, Wire, echo_server, payload, sender};

const TRANSFER: usize = 8 * 1024;

fn config(mode: AccessMode) -> engine::Config {
    engine::Config {
        access_mode: mode,
        ..engine::Config::default()
    }
}

fn connect(r: &mut Rig, port: u16) -> TcpSocket {
    let mut s = TcpClientStack::socket(&mut r.d).expect("socket");
    let remote = core::net::SocketAddr::from(([127, 0, 0, 1], port));
    let got = r.nb(120_000, |d| TcpClientStack::connect(d, &mut s, remote));
    assert_eq!(got, Some(Ok(())), "connect");
    s
}

/// Receive `want` bytes calling `receive` once a `period`; returns the virtual time it took.
fn receive_every(r: &mut Rig, s: &mut TcpSocket, want: &[u8], period: u64) -> u64 {
    let start = r.now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let limit = start + 200 * period.max(1_000);
    while got.len() < want.len() {
        assert!(
            r.now() < limit,
            "period {period} ms: {} of {} bytes after {} s; traffic {:?}",
            got.len(),
            want.len(),
            (r.now() - start) / 1000,
            r.d.engine().traffic()
        );
        r.work(period);
        match TcpClientStack::receive(&mut r.d, s, &mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => panic!("period {period} ms: {e} after {} bytes", got.len()),
        }
    }
    assert!(got == want, "period {period} ms: the data differs");
    r.now() - start
}

fn slow_receive(wire: Wire, mode: AccessMode, period: u64) {
    let data = payload(TRANSFER, period);
    let port = sender(data.clone());
    // Direct push puts everything on the wire at once: the MCU buffer must hold it between
    // two polls (buffer access needs only one answer's worth).
    let rx_cap = match mode {
        AccessMode::Buffer => 2048,
        AccessMode::DirectPush => 16 * 1024,
    };
    let mut r = Rig::new(wire, rx_cap, sim::Config::default(), config(mode));
    let mut s = connect(&mut r, port);
    receive_every(&mut r, &mut s, &data, period);
    assert_eq!(r.overruns(), 0, "the MCU buffer overflowed");
    assert_eq!(r.d.engine().traffic().timeouts, 0, "period {period} ms");
}

macro_rules! periods {
    ($($name:ident: $wire:expr, $mode:expr, $period:expr;)*) => {$(
        #[test]
        fn $name() {
            slow_receive($wire, $mode, $period);
        }
    )*};
}

periods! {
    buffer_mode_polled_every_2_001_s: Wire::Continuous, AccessMode::Buffer, 2_001;
    buffer_mode_polled_every_5_s: Wire::Continuous, AccessMode::Buffer, 5_000;
    buffer_mode_polled_every_30_s: Wire::Continuous, AccessMode::Buffer, 30_000;
    buffer_mode_polled_every_2_001_s_lazy_wire: Wire::Lazy, AccessMode::Buffer, 2_001;
    buffer_mode_polled_every_5_s_lazy_wire: Wire::Lazy, AccessMode::Buffer, 5_000;
    buffer_mode_polled_every_30_s_lazy_wire: Wire::Lazy, AccessMode::Buffer, 30_000;
    direct_push_polled_every_2_001_s: Wire::Continuous, AccessMode::DirectPush, 2_001;
    direct_push_polled_every_5_s: Wire::Continuous, AccessMode::DirectPush, 5_000;
    direct_push_polled_every_30_s: Wire::Continuous, AccessMode::DirectPush, 30_000;
    direct_push_polled_every_5_s_lazy_wire: Wire::Lazy, AccessMode::DirectPush, 5_000;
    direct_push_polled_every_30_s_lazy_wire: Wire::Lazy, AccessMode::DirectPush, 30_000;
}

#[test]
fn buffer_mode_at_many_periods_around_the_command_timeout() {
    for period in [1, 50, 499, 1_999, 2_000, 2_001, 2_100, 4_001, 9_999] {
        slow_receive(Wire::Lazy, AccessMode::Buffer, period);
    }
}

#[test]
fn a_slow_superloop_echoes_in_both_modes() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        for period in [5_000, 30_000] {
            let port = echo_server();
            let mut r = Rig::new(
                Wire::Continuous,
                16 * 1024,
                sim::Config::default(),
                config(mode),
            );
            let mut s = connect(&mut r, port);
            let data = payload(2048, period);
            let mut sent = 0;
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let limit = r.now() + 200 * period;
            while got.len() < data.len() {
                assert!(
                    r.now() < limit,
                    "{mode:?} {period}: {sent} sent, {} back",
                    got.len()
                );
                r.work(period);
                if sent < data.len() {
                    match TcpClientStack::send(&mut r.d, &mut s, &data[sent..]) {
                        Ok(n) => sent += n,
                        Err(nb::Error::WouldBlock) => {}
                        Err(nb::Error::Other(e)) => panic!("{mode:?} {period}: send: {e}"),
                    }
                }
                match TcpClientStack::receive(&mut r.d, &mut s, &mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(e)) => panic!("{mode:?} {period}: receive: {e}"),
                }
            }
            assert!(got == data, "{mode:?} {period}: the echo differs");
            assert_eq!(r.d.engine().traffic().timeouts, 0, "{mode:?} {period}");
        }
    }
}

#[test]
fn receive_on_a_dead_module_ends_in_an_error() {
    for wire in [Wire::Continuous, Wire::Lazy] {
        let data = payload(4096, 9);
        let port = sender(data);
        let mut r = Rig::new(
            wire,
            2048,
            sim::Config::default(),
            config(AccessMode::Buffer),
        );
        let mut s = connect(&mut r, port);
        // The recv URC arrives, then the module dies before it answers AT+QIRD.
        let mut buf = [0u8; 256];
        let mut asked = false;
        for _ in 0..10_000 {
            r.work(1);
            let _ = TcpClientStack::receive(&mut r.d, &mut s, &mut buf);
            if r.world.borrow().unsent(b"AT+QIRD=") {
                asked = true;
                break;
            }
        }
        assert!(asked, "{wire:?}: no data came");
        r.world.borrow_mut().dead = true;
        let start = r.now();
        let got = loop {
            r.work(1_000);
            match TcpClientStack::receive(&mut r.d, &mut s, &mut buf) {
                Ok(_) | Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(e)) => break e,
            }
            assert!(
                r.now() - start < 120_000,
                "{wire:?}: still WouldBlock after {} s on a dead module",
                (r.now() - start) / 1000
            );
        };
        assert_eq!(got, Error::Timeout, "{wire:?}");
        let bound = u64::from(engine::Config::default().unresponsive_ms) + 10_000;
        assert!(
            r.now() - start <= bound,
            "{wire:?}: took {} ms",
            r.now() - start
        );
    }
}

#[test]
fn a_sleeping_module_loses_nothing_across_long_idle() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        for wake in [
            WakePolicy::Learn,
            WakePolicy::Never,
            WakePolicy::AfterIdle(1_000),
        ] {
            let port = echo_server();
            let sim_config = sim::Config {
                sleep_after: Some(std::time::Duration::from_millis(2_000)),
                ..sim::Config::default()
            };
            let config = engine::Config {
                wake,
                ..config(mode)
            };
            let mut r = Rig::new(Wire::Continuous, 16 * 1024, sim_config, config);
            let mut s = connect(&mut r, port);
            let mut buf = [0u8; 512];
            for round in 0..6u64 {
                // Long idle between every operation: the module is asleep each time.
                r.work(10_000);
                let data = payload(300, round);
                let sent = r.nb(60_000, |d| TcpClientStack::send(d, &mut s, &data));
                assert_eq!(sent, Some(Ok(300)), "{mode:?} {wake:?} round {round}: send");
                r.work(10_000);
                let mut got = Vec::new();
                while got.len() < data.len() {
                    let n = r.nb(60_000, |d| TcpClientStack::receive(d, &mut s, &mut buf));
                    match n {
                        Some(Ok(n)) => got.extend_from_slice(&buf[..n]),
                        other => panic!("{mode:?} {wake:?} round {round}: {other:?}"),
                    }
                }
                assert!(got == data, "{mode:?} {wake:?} round {round}: echo differs");
            }
            let t = r.d.engine().traffic();
            assert_eq!(t.timeouts, 0, "{mode:?} {wake:?}: {t:?}");
            assert!(
                t.wakes > 0 || t.resent > 0,
                "{mode:?} {wake:?}: never asleep? {t:?}"
            );
            let closed = TcpClientStack::close(&mut r.d, s);
            assert!(closed.is_ok(), "{closed:?}");
        }
    }
}

/// A sleeping module under a superloop that calls the driver only every `period` ms. Each
/// step of a wake-up needs a look at the line; across calls that needs a module that stays
/// awake for about two periods (until 2026-12-03 the cases of 200 and 600 ms below ended in
/// `Timeout`), so a call that comes 50 ms or more after the last finishes the wake-up before
/// it returns. The data moves with the default configuration, no command timing out, for
/// modules that sleep after 80 ms to 1 s and superloops of 1 ms to a minute.
#[test]
fn a_sleeping_module_under_a_slow_superloop_moves_data() {
    for (sleep_ms, period) in [
        (80u64, 1u64),
        (300, 100),
        (300, 140),
        (1_000, 450),
        (300, 200),
        (1_000, 600),
        (80, 2_000),
        (100, 2_000),
        (400, 2_000),
        (300, 60_000),
    ] {
        let port = echo_server();
        let sim_config = sim::Config {
            sleep_after: Some(std::time::Duration::from_millis(sleep_ms)),
            ..sim::Config::default()
        };
        let mut r = Rig::new(
            Wire::Continuous,
            16 * 1024,
            sim_config,
            config(AccessMode::Buffer),
        );
        let mut s = connect(&mut r, port);
        let mut buf = [0u8; 512];
        let case = format!("sleep {sleep_ms} ms, poll every {period} ms");
        let outcome: Result<(), Error> = (|| {
            for round in 0..3u64 {
                r.work(2_000); // asleep by now
                let data = payload(200, round);
                slow(&mut r, period, |d| TcpClientStack::send(d, &mut s, &data))?;
                let mut got = Vec::new();
                while got.len() < data.len() {
                    let n = slow(&mut r, period, |d| {
                        TcpClientStack::receive(d, &mut s, &mut buf)
                    })?;
                    got.extend_from_slice(&buf[..n]);
                }
                assert!(got == data, "{case}: round {round}: echo differs");
            }
            Ok(())
        })();
        assert_eq!(outcome, Ok(()), "{case}");
        let t = r.d.engine().traffic();
        assert_eq!(t.timeouts, 0, "{case}: {t:?}");
        assert!(t.wakes > 0 || t.resent > 0, "{case}: never asleep? {t:?}");
    }
}

/// Call `f` once every `period` virtual ms until it is done; `WouldBlock` for two virtual
/// minutes, or for 12 calls if that is longer, is a stall (a panic).
fn slow<T>(
    r: &mut Rig,
    period: u64,
    mut f: impl FnMut(
        &mut quectel_bc20::Bc20<superloop_support::Uart, superloop_support::VClock, 5, 4096>,
    ) -> nb::Result<T, Error>,
) -> Result<T, Error> {
    let start = r.now();
    loop {
        match f(&mut r.d) {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(e),
            Err(nb::Error::WouldBlock) => {
                let calls = (r.now() - start) / period.max(1);
                assert!(
                    r.now() - start < 120_000 || calls < 12,
                    "period {period} ms: WouldBlock for {calls} calls, {} s",
                    (r.now() - start) / 1000
                );
                r.work(period);
            }
        }
    }
}
