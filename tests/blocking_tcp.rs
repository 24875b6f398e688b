//! The blocking stack's TCP through the plain `embedded_nal::TcpClientStack` API over the
//! emulator: byte-exact echoes from 1 byte to 64 KiB in both access modes and with hex receive,
//! five sockets at once, connect failures, a peer that closes with data still buffered,
//! `SEND FAIL`, a module reboot mid-transfer, and a 64 KiB echo under injected output faults.
#![cfg(feature = "sim")]

mod blocking_support;
mod sim_support;

use std::time::{Duration, Instant};

use blocking_support::{Driver, Echo, block_for, connect, driver, echo, local, payload};
use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind};
use quectel_bc20::engine::{self, SocketPhase};
use quectel_bc20::sim::{self, FaultKind, Faults, Rate};
use quectel_bc20::{AccessMode, DataFormat, Error, ModemError, QiError, ResultCode};
use sim_support::{closed_port, quiet_server, tcp_echo};

const SIZES: [usize; 8] = [1, 2, 511, 512, 513, 1500, 4096, 65536];

fn engine_config(mode: AccessMode, recv_format: DataFormat) -> engine::Config {
    engine::Config {
        access_mode: mode,
        recv_format,
        ..engine::Config::default()
    }
}

/// Every size over one connection, each payload different, byte-exact.
fn echo_sizes(mode: AccessMode, format: DataFormat) {
    echo_sizes_on(engine::Module::Bc20, mode, format);
}

/// [`echo_sizes`] against the emulator of `module`, the engine configured for it.
fn echo_sizes_on(module: engine::Module, mode: AccessMode, format: DataFormat) {
    let port = tcp_echo();
    let (sim_config, engine_config) =
        blocking_support::for_module(module, sim::Config::default(), engine_config(mode, format));
    let (mut d, _emu, written) = driver(sim_config, engine_config);
    let mut s = connect(&mut d, port);
    let mut would_block = 0;
    for (i, len) in SIZES.into_iter().enumerate() {
        let e = echo(&mut d, &mut s, payload(len, i as u64 + 1), 10_000);
        would_block += e.would_block;
    }
    // Every chunk was taken only after its SEND OK: the caller saw WouldBlock and retried.
    assert!(would_block >= SIZES.iter().map(|n| n.div_ceil(512)).sum::<usize>());
    let total: usize = SIZES.iter().sum();
    let t = d.engine().traffic();
    assert_eq!(
        t.payload_sent, total as u64,
        "payload bytes the module accepted"
    );
    assert_eq!(t.payload_received, total as u64, "payload bytes received");
    // Binary data goes out as hex, at most 512 bytes a command.
    let w = String::from_utf8_lossy(&written.lock().unwrap()).into_owned();
    let sends = w.matches("AT+QISENDEX=").count();
    assert_eq!(sends, SIZES.iter().map(|n| n.div_ceil(512)).sum::<usize>());
    if format == DataFormat::Hex {
        assert!(
            w.contains("AT+QICFG=\"dataformat\",0,1"),
            "hex receive applied"
        );
    }
    TcpClientStack::close(&mut d, s).unwrap();
    blocking_support::assert_spoke_as(&d, &written, module);
}

#[test]
fn echo_sizes_bc660k_buffer_mode() {
    echo_sizes_on(engine::Module::Bc660k, AccessMode::Buffer, DataFormat::Text);
}

#[test]
fn echo_sizes_bc660k_direct_push_hex_receive() {
    echo_sizes_on(
        engine::Module::Bc660k,
        AccessMode::DirectPush,
        DataFormat::Hex,
    );
}

#[test]
fn echo_sizes_bc66_and_bc26_buffer_mode() {
    echo_sizes_on(engine::Module::Bc66, AccessMode::Buffer, DataFormat::Text);
    echo_sizes_on(
        engine::Module::Bc26,
        AccessMode::DirectPush,
        DataFormat::Text,
    );
}

#[test]
fn echo_sizes_buffer_mode() {
    echo_sizes(AccessMode::Buffer, DataFormat::Text);
}

#[test]
fn echo_sizes_direct_push() {
    echo_sizes(AccessMode::DirectPush, DataFormat::Text);
}

#[test]
fn echo_sizes_buffer_mode_hex_receive() {
    echo_sizes(AccessMode::Buffer, DataFormat::Hex);
}

#[test]
fn echo_sizes_direct_push_hex_receive() {
    echo_sizes(AccessMode::DirectPush, DataFormat::Hex);
}

#[test]
fn five_sockets_at_once() {
    let port = tcp_echo();
    let (mut d, _emu, _) = driver(sim::Config::default(), engine::Config::default());
    let mut socks: Vec<_> = (0..5).map(|_| connect(&mut d, port)).collect();
    let mut ids: Vec<_> = socks.iter().map(|s| s.id().index()).collect();
    ids.sort();
    assert_eq!(ids, [0, 1, 2, 3, 4], "five distinct connectIDs");
    assert_eq!(TcpClientStack::socket(&mut d), Err(Error::NoSocket));

    // Interleaved: one step of each echo in turn, until all are done.
    let mut echoes: Vec<_> = (0..5)
        .map(|i| Echo::new(payload(3000 + 700 * i, 100 + i as u64)))
        .collect();
    let mut buf = [0u8; 600];
    let end = Instant::now() + Duration::from_secs(10);
    while echoes.iter().any(|e| !e.done()) {
        for (e, s) in echoes.iter_mut().zip(socks.iter_mut()) {
            if !e.done() {
                e.step(&mut d, s, &mut buf).unwrap();
            }
        }
        assert!(Instant::now() < end, "interleaved echoes did not finish");
    }
    for e in &echoes {
        e.check();
    }
    // Closing one frees exactly one.
    let first = socks.remove(0);
    TcpClientStack::close(&mut d, first).unwrap();
    let again = TcpClientStack::socket(&mut d).unwrap();
    assert_eq!(TcpClientStack::socket(&mut d), Err(Error::NoSocket));
    socks.push(again);
    for s in socks {
        TcpClientStack::close(&mut d, s).unwrap();
    }
}

#[test]
fn connect_to_closed_port_fails_then_the_socket_is_reused() {
    let (mut d, _emu, _) = driver(sim::Config::default(), engine::Config::default());
    let mut s = TcpClientStack::socket(&mut d).unwrap();
    let id = s.id();
    let err = block_for(10_000, || {
        TcpClientStack::connect(&mut d, &mut s, local(closed_port()))
    })
    .unwrap_err();
    assert_eq!(
        err,
        Error::Modem(ModemError::Result(ResultCode::Qi(
            QiError::SocketConnectFailed
        )))
    );
    assert_eq!(
        embedded_io::Error::kind(&err),
        embedded_io::ErrorKind::ConnectionRefused
    );
    // The failure sticks until the socket is closed.
    let again = block_for(1_000, || TcpClientStack::send(&mut d, &mut s, b"x")).unwrap_err();
    assert_ne!(again, Error::Busy);
    TcpClientStack::close(&mut d, s).unwrap();
    assert_eq!(d.engine().phase(id), SocketPhase::Free);

    let port = tcp_echo();
    let mut s = connect(&mut d, port);
    assert_eq!(s.id(), id, "the freed connectID is handed out again");
    echo(&mut d, &mut s, payload(1000, 9), 5_000);
    TcpClientStack::close(&mut d, s).unwrap();
}

#[test]
fn injected_open_failure_is_the_module_code() {
    let port = tcp_echo();
    let (mut d, emu, _) = driver(
        sim::Config {
            faults: Faults {
                seed: 3,
                open_fail: Rate::Nth(1),
                ..Faults::default()
            },
            ..sim::Config::default()
        },
        engine::Config::default(),
    );
    let mut s = TcpClientStack::socket(&mut d).unwrap();
    let err = block_for(10_000, || {
        TcpClientStack::connect(&mut d, &mut s, local(port))
    })
    .unwrap_err();
    let log = emu.fault_log().events();
    assert_eq!(log.len(), 1, "{log:?}");
    let FaultKind::OpenFail { id, code } = log[0].kind else {
        panic!("{log:?}")
    };
    assert_eq!(id, s.id().index() as u8);
    assert_eq!(
        err,
        Error::Modem(ModemError::Result(ResultCode::from_code(code)))
    );
    TcpClientStack::close(&mut d, s).unwrap();
    // The fault fired once; the next open connects.
    let mut s = connect(&mut d, port);
    echo(&mut d, &mut s, payload(700, 4), 5_000);
    TcpClientStack::close(&mut d, s).unwrap();
}

/// The server writes `len` bytes and closes before the client reads anything.
fn peer_close_with_buffered_data(mode: AccessMode) {
    let data = payload(3000, 77);
    let port = blocking_support::send_then_close(data.clone());
    let (mut d, _emu, _) = driver(
        sim::Config::default(),
        engine_config(mode, DataFormat::Text),
    );
    let mut s = connect(&mut d, port);
    let id = s.id();
    let end = Instant::now() + Duration::from_secs(5);
    while d.engine().phase(id) != SocketPhase::PeerClosed {
        d.poll().unwrap();
        assert!(
            Instant::now() < end,
            "no peer close: {:?}",
            d.engine().phase(id)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let err = loop {
        match block_for(5_000, || TcpClientStack::receive(&mut d, &mut s, &mut buf)) {
            Ok(n) => {
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) => break e,
        }
    };
    assert!(
        got == data,
        "got {} of {} bytes before the close",
        got.len(),
        data.len()
    );
    assert_eq!(err, Error::Closed);
    assert_eq!(TcpError::kind(&err), TcpErrorKind::PipeClosed);
    // It stays closed.
    assert_eq!(
        TcpClientStack::receive(&mut d, &mut s, &mut buf),
        Err(nb::Error::Other(Error::Closed))
    );
    TcpClientStack::close(&mut d, s).unwrap();
    assert_eq!(d.engine().phase(id), SocketPhase::Free);
}

/// The connection is made, and the peer has sent its data and closed before the caller polls
/// `connect` again: `connect` succeeded (the data is there to read), it did not fail.
fn connect_then_peer_closed_before_next_poll(mode: AccessMode) {
    let data = payload(1000, 78);
    let port = blocking_support::send_then_close(data.clone());
    let (mut d, _emu, _) = driver(
        sim::Config::default(),
        engine_config(mode, DataFormat::Text),
    );
    let mut s = TcpClientStack::socket(&mut d).unwrap();
    assert_eq!(
        TcpClientStack::connect(&mut d, &mut s, local(port)),
        Err(nb::Error::WouldBlock)
    );
    // `+QIOPEN: <id>,0` and `+QIURC: "closed",<id>` are both on the line by now.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        block_for(5_000, || TcpClientStack::connect(
            &mut d,
            &mut s,
            local(port)
        )),
        Ok(())
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let err = loop {
        match block_for(5_000, || TcpClientStack::receive(&mut d, &mut s, &mut buf)) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert!(got == data, "got {} of {} bytes", got.len(), data.len());
    assert_eq!(err, Error::Closed);
    TcpClientStack::close(&mut d, s).unwrap();
}

#[test]
fn connect_succeeds_when_the_peer_closed_at_once_buffer_mode() {
    connect_then_peer_closed_before_next_poll(AccessMode::Buffer);
}

#[test]
fn connect_succeeds_when_the_peer_closed_at_once_direct_push() {
    connect_then_peer_closed_before_next_poll(AccessMode::DirectPush);
}

/// The server writes its data and closes, and the module's `+QIURC: "closed"` comes damaged:
/// the driver learns of the close from an audit of the connections all the same, so a caller
/// that only reads gets all the data and then `Closed`, never `WouldBlock` for good.
fn peer_close_announced_damaged(mode: AccessMode) {
    let data = payload(2000, 79);
    let port = blocking_support::send_then_close(data.clone());
    let (mut d, emu, _) = driver(
        sim::Config {
            faults: Faults {
                close_damage: Rate::Always,
                ..Faults::default()
            },
            ..sim::Config::default()
        },
        engine_config(mode, DataFormat::Text),
    );
    let mut s = connect(&mut d, port);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    // Two audits two seconds apart at most, and the reads before them.
    let err = loop {
        match block_for(10_000, || TcpClientStack::receive(&mut d, &mut s, &mut buf)) {
            Ok(n) => {
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            Err(e) => break e,
        }
    };
    assert!(got == data, "got {} of {} bytes", got.len(), data.len());
    assert_eq!(err, Error::Closed);
    assert!(
        emu.fault_log()
            .events()
            .iter()
            .any(|e| matches!(e.kind, FaultKind::CloseDamage(_))),
        "the close was announced damaged"
    );
    TcpClientStack::close(&mut d, s).unwrap();
}

/// The module's `+QIOPEN: <id>,0` comes damaged (`+QIOPxN`): `connect` still succeeds, the
/// connection found made by two audits within seconds, where it failed with `Timeout` after
/// `open_timeout_ms` (a minute) before; and the connection carries data both ways.
fn open_announced_damaged(mode: AccessMode) {
    let port = tcp_echo();
    let (mut d, emu, _) = driver(
        sim::Config {
            faults: Faults {
                open_damage: Rate::Always,
                ..Faults::default()
            },
            ..sim::Config::default()
        },
        engine_config(mode, DataFormat::Text),
    );
    let mut s = connect(&mut d, port);
    echo(&mut d, &mut s, payload(3000, 83), 10_000);
    assert!(
        emu.fault_log()
            .events()
            .iter()
            .any(|e| matches!(e.kind, FaultKind::OpenDamage(_))),
        "the open was announced damaged"
    );
    TcpClientStack::close(&mut d, s).unwrap();
}

#[test]
fn open_announced_damaged_buffer_mode() {
    open_announced_damaged(AccessMode::Buffer);
}

#[test]
fn open_announced_damaged_direct_push() {
    open_announced_damaged(AccessMode::DirectPush);
}

#[test]
fn peer_close_announced_damaged_buffer_mode() {
    peer_close_announced_damaged(AccessMode::Buffer);
}

#[test]
fn peer_close_announced_damaged_direct_push() {
    peer_close_announced_damaged(AccessMode::DirectPush);
}

/// The module reboots without a word (its boot output lost) while one connection waits for
/// data and another sends: the send is refused (the module holds no socket any more), which has
/// the connections audited, and the waiting reader learns its connection is gone
/// (`Unexpected`) instead of waiting for good.
#[test]
fn a_reader_learns_of_a_silent_reboot() {
    let quiet_port = quiet_server();
    let (mut d, emu, _) = driver(
        sim::Config {
            boot: sim::BootStyle::Silent,
            ..sim::Config::default()
        },
        engine_config(AccessMode::DirectPush, DataFormat::Text),
    );
    let mut reader = connect(&mut d, quiet_port);
    let mut writer = connect(&mut d, tcp_echo());
    emu.reboot();
    // (The emulator takes the reboot on its own thread: a send that went before it is
    // accepted, and the next one is refused.)
    let refused = (0..10).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        block_for(10_000, || {
            TcpClientStack::send(&mut d, &mut writer, b"ping")
        })
        .is_err()
    });
    assert!(refused, "the module holds no socket any more");
    let mut buf = [0u8; 64];
    let got = block_for(10_000, || {
        TcpClientStack::receive(&mut d, &mut reader, &mut buf)
    });
    assert_eq!(got, Err(Error::Unexpected));
}

/// The same with nothing but the reader (an HTTP client awaiting its response): nothing
/// else makes the driver talk to the module, so it looks on its own once the line has been
/// quiet for `idle_audit_ms` while the reader waits, and the reader learns its connection is
/// gone.
#[test]
fn a_lone_reader_learns_of_a_silent_reboot() {
    for mode in [AccessMode::Buffer, AccessMode::DirectPush] {
        let quiet_port = quiet_server();
        let (mut d, emu, _) = driver(
            sim::Config {
                boot: sim::BootStyle::Silent,
                ..sim::Config::default()
            },
            engine::Config {
                idle_audit_ms: 1_000,
                ..engine_config(mode, DataFormat::Text)
            },
        );
        let mut reader = connect(&mut d, quiet_port);
        let mut buf = [0u8; 64];
        let first = TcpClientStack::receive(&mut d, &mut reader, &mut buf);
        assert!(matches!(first, Err(nb::Error::WouldBlock)), "{mode:?}");
        emu.reboot();
        let got = block_for(15_000, || {
            TcpClientStack::receive(&mut d, &mut reader, &mut buf)
        });
        assert_eq!(got, Err(Error::Unexpected), "{mode:?}");
    }
}

/// The quiet-line look against a module that sleeps between looks (one that answers the
/// command that wakes it with a bare line end, and one that answers it nothing): each look
/// wakes it first or sends again, a live connection is never taken for gone, and it still
/// moves data after several looks.
#[test]
fn a_reader_waiting_on_a_sleeping_module_keeps_its_connection() {
    for silent in [false, true] {
        let (mut d, _emu, _) = driver(
            sim::Config {
                sleep_after: Some(Duration::from_millis(400)),
                sleep_silent: silent,
                ..sim::Config::default()
            },
            engine::Config {
                idle_audit_ms: 700,
                ..engine_config(AccessMode::Buffer, DataFormat::Text)
            },
        );
        let mut s = connect(&mut d, tcp_echo());
        let mut buf = [0u8; 64];
        let before = d.engine().traffic().commands;
        // Five seconds of a reader waiting: a look once the line has been quiet for 0.7 s, at
        // most every 2 s (the audits' gap), each after the module fell asleep.
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            let got = TcpClientStack::receive(&mut d, &mut s, &mut buf);
            assert!(
                matches!(got, Err(nb::Error::WouldBlock)),
                "silent {silent}: {got:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let looks = d.engine().traffic().commands - before;
        assert!(looks >= 2, "silent {silent}: {looks} commands in 5 s");
        echo(&mut d, &mut s, payload(300, 3), 10_000);
    }
}

#[test]
fn peer_close_with_data_buffered_buffer_mode() {
    peer_close_with_buffered_data(AccessMode::Buffer);
}

#[test]
fn peer_close_with_data_buffered_direct_push() {
    peer_close_with_buffered_data(AccessMode::DirectPush);
}

#[test]
fn send_fail_is_returned_not_lost() {
    let port = tcp_echo();
    let (mut d, emu, _) = driver(
        sim::Config {
            faults: Faults {
                seed: 11,
                send_fail: Rate::Nth(2),
                ..Faults::default()
            },
            ..sim::Config::default()
        },
        engine::Config::default(),
    );
    let mut s = connect(&mut d, port);
    echo(&mut d, &mut s, b"first".to_vec(), 5_000);
    let err = block_for(5_000, || TcpClientStack::send(&mut d, &mut s, b"lost")).unwrap_err();
    assert_eq!(err, Error::Modem(ModemError::SendFail));
    let log = emu.fault_log().events();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].kind, FaultKind::SendFail(s.id().index() as u8));
    // The caller knows the bytes did not go; the next send on the socket works, and the peer
    // saw only what was reported sent.
    echo(&mut d, &mut s, b"second".to_vec(), 5_000);
    std::thread::sleep(Duration::from_millis(100));
    let mut buf = [0u8; 64];
    assert_eq!(
        TcpClientStack::receive(&mut d, &mut s, &mut buf),
        Err(nb::Error::WouldBlock),
        "nothing beyond the reported sends came back"
    );
    TcpClientStack::close(&mut d, s).unwrap();
}

fn run_until_error(
    d: &mut Driver,
    s: &mut quectel_bc20::blocking::TcpSocket,
    e: &mut Echo,
) -> Error {
    let mut buf = [0u8; 700];
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Err(err) = e.step(d, s, &mut buf) {
            return err;
        }
        assert!(!e.done(), "the echo finished across a reboot");
        assert!(Instant::now() < end, "no error after the reboot");
    }
}

#[test]
fn reboot_mid_transfer_resets_sockets() {
    let port = tcp_echo();
    let (mut d, emu, _) = driver(sim::Config::default(), engine::Config::default());
    let mut a = connect(&mut d, port);
    let mut b = connect(&mut d, port);
    // The power-up `RDY` counts too.
    let reboots = d.engine().traffic().reboots;
    let mut e = Echo::new(payload(65536, 5));
    let mut buf = [0u8; 700];
    let end = Instant::now() + Duration::from_secs(5);
    while e.got.len() < 8192 {
        e.step(&mut d, &mut a, &mut buf).unwrap();
        assert!(Instant::now() < end);
    }
    emu.reboot();
    let err = run_until_error(&mut d, &mut a, &mut e);
    assert_eq!(err, Error::Reset);
    assert_eq!(TcpError::kind(&err), TcpErrorKind::PipeClosed);
    // What did arrive is a true prefix of what was sent: nothing stale, nothing invented.
    assert!(
        e.got[..] == e.data[..e.got.len()],
        "data before the reboot differs"
    );
    // Afterwards only the error, on every call and on the idle socket too.
    for _ in 0..3 {
        match TcpClientStack::receive(&mut d, &mut a, &mut buf) {
            Ok(n) => {
                e.got.extend_from_slice(&buf[..n]);
                assert!(
                    e.got[..] == e.data[..e.got.len()],
                    "data after the reset differs"
                );
            }
            Err(err) => assert_eq!(err, nb::Error::Other(Error::Reset)),
        }
        assert_eq!(
            TcpClientStack::send(&mut d, &mut a, b"more"),
            Err(nb::Error::Other(Error::Reset))
        );
    }
    assert_eq!(
        block_for(2_000, || TcpClientStack::receive(&mut d, &mut b, &mut buf)),
        Err(Error::Reset)
    );
    assert_eq!(d.engine().traffic().reboots, reboots + 1);
    TcpClientStack::close(&mut d, a).unwrap();
    TcpClientStack::close(&mut d, b).unwrap();
    // Fresh sockets on the rebooted module carry only their own data.
    let mut c = connect(&mut d, port);
    echo(&mut d, &mut c, payload(4096, 6), 5_000);
    TcpClientStack::close(&mut d, c).unwrap();
    assert_eq!(emu.fault_log().events().len(), 0);
}

/// A 64 KiB echo while the module's output is chunked, interleaved with noise lines and
/// delayed; every injected fault is accounted for.
fn echo_under_faults(mode: AccessMode, seed: u64) {
    let port = tcp_echo();
    let (mut d, emu, _) = driver(
        sim::Config {
            faults: Faults {
                seed,
                chunking: Rate::PerMille(300),
                chunk_max: 7,
                chunk_gap: Duration::from_micros(200),
                noise: Rate::PerMille(100),
                noise_lines: vec!["+XNOISE: 1".into(), "+XNOISE: \"two\",2".into()],
                delay: Rate::PerMille(50),
                delay_range: (Duration::ZERO, Duration::from_millis(3)),
                ..Faults::default()
            },
            ..sim::Config::default()
        },
        engine_config(mode, DataFormat::Text),
    );
    let mut s = connect(&mut d, port);
    echo(&mut d, &mut s, payload(65536, seed), 20_000);
    TcpClientStack::close(&mut d, s).unwrap();
    // Take in whatever the module still prints (a noise line after the last frame, a delayed
    // frame): until 100 ms pass without a byte.
    let end = Instant::now() + Duration::from_secs(2);
    let mut quiet_since = Instant::now();
    let mut rx = d.engine().traffic().rx_bytes;
    while quiet_since.elapsed() < Duration::from_millis(100) {
        d.poll().unwrap();
        let now_rx = d.engine().traffic().rx_bytes;
        if now_rx != rx {
            rx = now_rx;
            quiet_since = Instant::now();
        }
        assert!(Instant::now() < end, "the module keeps talking");
        std::thread::sleep(Duration::from_millis(1));
    }

    let t = d.engine().traffic();
    assert_eq!(t.payload_sent, 65536, "nothing sent twice");
    assert_eq!(t.payload_received, 65536, "nothing received twice");
    let log = emu.fault_log().events();
    let count = |f: fn(&FaultKind) -> bool| log.iter().filter(|e| f(&e.kind)).count();
    let noise = count(|k| matches!(k, FaultKind::Noise(_)));
    let chunked = count(|k| matches!(k, FaultKind::Chunked { .. }));
    let delayed = count(|k| matches!(k, FaultKind::Delay(_)));
    assert!(
        noise > 0 && chunked > 0 && delayed > 0,
        "{noise} {chunked} {delayed}"
    );
    assert_eq!(
        noise + chunked + delayed,
        log.len(),
        "only the switched-on faults fired"
    );
    // Each noise line was seen as one unknown line, and nothing else was (from power-up on).
    let stats = d.engine().parse_stats();
    assert_eq!(stats.unknown, noise as u64, "{stats:?}");
    assert_eq!(stats.malformed, 0, "{stats:?}");
    assert_eq!(stats.skipped_bytes, 0, "{stats:?}");
    // The chunked frames arrived whole: total chunks exceed the frames chunked.
    let chunks: usize = log
        .iter()
        .filter_map(|e| match e.kind {
            FaultKind::Chunked { chunks, .. } => Some(chunks),
            _ => None,
        })
        .sum();
    assert!(chunks > chunked);
}

#[test]
fn echo_64k_under_faults_buffer_mode() {
    echo_under_faults(AccessMode::Buffer, 21);
}

#[test]
fn echo_64k_under_faults_direct_push() {
    echo_under_faults(AccessMode::DirectPush, 22);
}

/// Direct push into 256-byte socket buffers, smaller than the emulator's pushes (up to 1,024
/// bytes): each push is handed on as it comes and the UART held back in the middle of it until
/// the application reads. Echoes of every size arrive whole and in order, raw and hex, from a
/// loop that polls as fast as it can and from a superloop that polls every 20 ms.
#[test]
fn echo_sizes_direct_push_into_256_byte_buffers() {
    for (format, period) in [
        (DataFormat::Text, Duration::ZERO),
        (DataFormat::Hex, Duration::ZERO),
        (DataFormat::Text, Duration::from_millis(20)),
    ] {
        let port = tcp_echo();
        let (uart, _emu) = sim::start(sim::Config::default());
        let mut d: quectel_bc20::Bc20<_, _, 1, 256, 512> = quectel_bc20::Bc20::sized(
            uart,
            quectel_bc20::StdClock::default(),
            engine_config(AccessMode::DirectPush, format),
        );
        d.set_wait_limit(10_000);
        d.bring_up(5_000).expect("bring-up");
        let mut s = TcpClientStack::socket(&mut d).unwrap();
        block_for(10_000, || {
            TcpClientStack::connect(&mut d, &mut s, local(port))
        })
        .unwrap();
        let mut buf = [0u8; 100];
        for (i, len) in [1, 255, 256, 257, 1024, 1500, 4096].into_iter().enumerate() {
            let data = payload(len, 50 + i as u64);
            let (mut sent, mut got) = (0, Vec::new());
            let end = Instant::now() + Duration::from_secs(20);
            // Until the echo is back and the send reported (its result belongs to this data).
            while got.len() < len || sent < len {
                assert!(
                    Instant::now() < end,
                    "{format:?}/{period:?}: {len} bytes, {sent} sent, {} back",
                    got.len()
                );
                if sent < len {
                    match TcpClientStack::send(&mut d, &mut s, &data[sent..]) {
                        Ok(n) => sent += n,
                        Err(nb::Error::WouldBlock) => {}
                        Err(nb::Error::Other(e)) => panic!("send: {e:?}"),
                    }
                }
                match TcpClientStack::receive(&mut d, &mut s, &mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(e)) => panic!("receive: {e:?}"),
                }
                std::thread::sleep(period);
            }
            assert!(
                got == data,
                "{format:?}/{period:?}: echo of {len} bytes differs"
            );
        }
        assert_eq!(d.engine().traffic().timeouts, 0, "{format:?}/{period:?}");
        TcpClientStack::close(&mut d, s).unwrap();
    }
}
