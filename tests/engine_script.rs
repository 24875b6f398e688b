//! The engine against a scripted module: each test reads as a short exchange, with explicit
//! time. Expect these bytes, answer those, inject this URC.

mod engine_support;

use engine_support::{LATE, Rig};
use quectel_bc20::engine::{Config, Event, Reply, Request, SocketPhase};
use quectel_bc20::{Error, ModemError, QiError, ResultCode, ServiceType};

#[test]
fn start_up_retries_at_until_the_module_wakes() {
    let mut r = Rig::new(Config::default());
    r.expect("AT");
    r.rx("\r\n"); // spec 6.3: the first command after sleep gets a bare line end
    r.advance(10);
    r.idle();
    // Nothing but that, through a briefly quiet line: the module slept; `AT` again at once,
    // not after the command timeout, nor after `quiet_ms`, during which a module that sleeps
    // after a short idle would fall asleep again.
    r.advance(LATE);
    r.expect("AT");
    r.rx("AT\r\r\nOK\r\n"); // echo still on
    r.expect("ATE0");
    r.rx("ATE0\r\r\nOK\r\n");
    for cmd in [
        "AT+CMEE=1",
        "AT+QICFG=\"dataformat\",0,0",
        "AT+QICFG=\"viewmode\",0",
        "AT+QICFG=\"showlength\",1",
        "AT+QISTATE?",
    ] {
        assert!(
            r.e.start(Request::At).is_err(),
            "no request before start-up"
        );
        r.expect(cmd);
        r.rx("\r\nOK\r\n");
    }
    assert!(r.e.is_ready());
    assert!(r.events().contains(&Event::Ready));
}

#[test]
fn buffer_mode_exchange_of_manual_4_1() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.send(id, b"1234567890"), Ok(10));
    r.expect("AT+QISENDEX=0,10,31323334353637383930");
    r.rx("\r\nOK\r\n");
    assert_eq!(r.e.take_send_result(id), None, "waits for SEND OK");
    assert_eq!(r.e.send(id, b"x"), Err(Error::Busy));
    r.rx("\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(10)));

    // The URC makes the engine read until +QIRD: 0.
    r.rx("\r\n+QIURC: \"recv\",0,12\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 10,2\r\n1234567890\r\n\r\nOK\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 2,0\r\n\r\n\r\n\r\nOK\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 0\r\n\r\nOK\r\n");
    r.idle();
    assert_eq!(r.recv_all(id), b"1234567890\r\n");

    r.e.close(id).unwrap();
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n");
    assert_eq!(
        r.e.phase(id),
        SocketPhase::Closing,
        "CLOSE OK still to come"
    );
    r.advance(50);
    r.rx("\r\nCLOSE OK\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Free);
}

#[test]
fn direct_push_holds_the_uart_when_the_buffer_is_full() {
    let (mut r, id) = Rig::direct_push();
    let chunk: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let mut stream = Vec::new();
    for _ in 0..5 {
        stream.extend(b"\r\n+QIURC: \"recv\",0,1000\r\n");
        stream.extend(&chunk);
        stream.extend(b"\r\n");
    }
    stream.extend(b"\r\n+QIURC: \"closed\",0\r\n");
    // The first push fits the socket's 1536-byte buffer; the second does not: it waits in
    // staging, which then fills, and the engine takes no more bytes.
    let mut taken = r.e.handle_rx(&stream, r.now);
    assert!(taken < stream.len());
    assert!(r.events().contains(&Event::Stalled(id)));
    assert_eq!(r.e.handle_rx(&stream[taken..], r.now), 0, "held back");
    let mut got = Vec::new();
    while taken < stream.len() {
        let before = got.len();
        got.extend(r.recv_all(id));
        let more = r.e.handle_rx(&stream[taken..], r.now);
        assert!(
            more > 0 || got.len() > before,
            "progress once the application reads"
        );
        taken += more;
    }
    got.extend(r.recv_all(id));
    assert_eq!(got, chunk.repeat(5));
    let mut buf = [0u8; 8];
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Closed));
}

#[test]
fn closing_a_stalled_socket_lets_the_held_output_flow() {
    let (mut r, id) = Rig::direct_push();
    let chunk = [0x5au8; 1000];
    let mut pushes = Vec::new();
    for _ in 0..2 {
        pushes.extend(b"\r\n+QIURC: \"recv\",0,1000\r\n");
        pushes.extend(&chunk);
    }
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    // While held back, the command in flight has no deadline: its answer cannot come.
    r.e.close(id).unwrap();
    // The application went away without reading: the hold is lifted and its data dropped.
    r.expect("AT+QICLOSE=0");
    assert_eq!(r.e.poll_timeout(), Some(r.now + 2_000));
    let rest = [&pushes[taken..], b"\r\nOK\r\n\r\nCLOSE OK\r\n"].concat();
    r.rx_bytes(&rest);
    assert_eq!(r.e.phase(id), SocketPhase::Free);
    r.idle();
}

#[test]
fn no_passed_command_deadline_is_reported_while_the_uart_is_held_back() {
    let (mut r, id) = Rig::direct_push();
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    assert_eq!(r.e.poll_timeout(), Some(r.now + 2_000));
    let chunk = [0xa5u8; 1000];
    let mut pushes = Vec::new();
    for _ in 0..2 {
        pushes.extend(b"\r\n+QIURC: \"recv\",0,1000\r\n");
        pushes.extend(&chunk);
    }
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    // The answer to AT+CEREG? is behind the held-back data; expire() waits, and so must the
    // deadline a caller sleeps until (a deadline in the past would have it spin): the next
    // is when the hold, if it lasts, gives way (see `hold_broken_by_a_command_waiting_…`).
    let limit = u64::from(Config::DEFAULT.hold_limit_ms);
    assert_eq!(r.e.poll_timeout(), Some(r.now + 2_000 + limit));
    r.advance(10_000);
    assert_eq!(r.e.take_reply(t), None);
    let mut buf = [0u8; 1000];
    assert_eq!(r.e.recv(id, &mut buf), Ok(1000));
    let rest = [&pushes[taken..], b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"].concat();
    r.rx_bytes(&rest);
    assert!(matches!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(_)))
    ));
}

/// Two pushes of 1000 bytes for socket 0: the first fits the default buffer, the second not.
fn two_pushes(byte: u8) -> Vec<u8> {
    let mut pushes = Vec::new();
    for _ in 0..2 {
        pushes.extend(b"\r\n+QIURC: \"recv\",0,1000\r\n");
        pushes.extend([byte; 1000]);
    }
    pushes
}

/// Output held back for socket `id` with something due in `due_ms` behind it: nothing gives
/// way until `Config::hold_limit_ms` past that (`meanwhile` checks the rig just before),
/// then the socket fails with `Overflow` within 200 ms.
fn hold_gives_way(
    r: &mut Rig,
    id: quectel_bc20::ConnectId,
    due_ms: u64,
    meanwhile: impl FnOnce(&mut Rig),
) {
    let limit = u64::from(Config::DEFAULT.hold_limit_ms);
    r.advance(due_ms + limit - 100);
    meanwhile(r);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    let mut waited = 0;
    while r.e.phase(id) == SocketPhase::Connected {
        assert!(waited < 200, "the hold gives way past its limit");
        r.advance(10);
        waited += 10;
    }
    assert_eq!(r.e.phase(id), SocketPhase::Failed(Error::Overflow));
}

#[test]
fn hold_broken_by_a_command_waiting_behind_a_socket_nobody_reads() {
    let (mut r, id) = Rig::direct_push();
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    let pushes = two_pushes(0x3c);
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    // The command's deadline (2 s) passes while output is held: that is no timeout, nor is
    // anything else up to the limit past that deadline (the application never reads socket
    // 0); then the socket fails, rather than the request waiting for good.
    let held_at = r.now;
    hold_gives_way(&mut r, id, 2_000, |r| {
        assert_eq!(r.e.take_reply(t), None);
        assert!(r.events().is_empty());
    });
    let limit = u64::from(Config::DEFAULT.hold_limit_ms);
    assert!(
        r.e.poll_timeout()
            .is_some_and(|d| d > held_at + 2_000 + limit)
    );
    assert!(r.events().contains(&Event::Failed(id, Error::Overflow)));
    // The held-back output flows again: the push for the failed socket is dropped, the
    // answer behind it is the request's.
    let rest = [&pushes[taken..], b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"].concat();
    r.rx_bytes(&rest);
    assert!(matches!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(_)))
    ));
    // The data received before the hold is read first, then the error; the socket is closed
    // at the module.
    let mut buf = [0u8; 2000];
    assert_eq!(r.e.recv(id, &mut buf), Ok(1000));
    assert!(buf[..1000].iter().all(|&b| b == 0x3c));
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Overflow));
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    r.at_is_answered();
}

/// Socket 1 opened beside [`Rig::direct_push`]'s socket 0, then two pushes for socket 0
/// that hold the output back and one for socket 1 behind them. Returns the rig, socket 1
/// and the bytes not taken.
fn hold_with_a_second_socket() -> (Rig, quectel_bc20::ConnectId, Vec<u8>) {
    let (mut r, _) = Rig::direct_push();
    let other = r.e.allocate(quectel_bc20::ServiceType::Tcp).unwrap();
    r.e.open(other, "127.0.0.1", 81).unwrap();
    r.expect("AT+QIOPEN=1,1,\"TCP\",\"127.0.0.1\",81,0,1");
    r.rx("\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n");
    assert_eq!(r.e.phase(other), SocketPhase::Connected);
    let mut pushes = two_pushes(0x77);
    pushes.extend(b"\r\n+QIURC: \"recv\",1,5\r\nhello\r\n");
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(
        r.events()
            .contains(&Event::Stalled(quectel_bc20::ConnectId::new(0).unwrap()))
    );
    let rest = pushes[taken..].to_vec();
    (r, other, rest)
}

#[test]
fn a_reader_of_another_socket_breaks_a_hold_nobody_reads() {
    // Nothing but a read of socket 1 waits behind socket 0's unread data: socket 1's data is
    // behind the hold. Its reader finds nothing for the hold limit, then socket 0 fails
    // rather than socket 1 waiting for good without an error.
    let (mut r, other, rest) = hold_with_a_second_socket();
    let id = quectel_bc20::ConnectId::new(0).unwrap();
    // Nothing waits at first: no deadline, and the hold lasts (an hour here).
    assert_eq!(r.e.poll_timeout(), None);
    r.jump(3_600_000);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    // The first read of socket 1 after that hour does not find the hold old: its wait
    // starts at the next look.
    let mut buf = [0u8; 16];
    assert_eq!(r.e.recv(other, &mut buf), Ok(0));
    let mut reads = |r: &mut Rig| assert_eq!(r.e.recv(other, &mut buf), Ok(0));
    r.jump(1);
    reads(&mut r);
    hold_gives_way(&mut r, id, 0, |r| reads(r));
    assert!(r.events().contains(&Event::Failed(id, Error::Overflow)));
    // Output flows: socket 0's push is dropped, socket 1's data behind it arrives.
    r.rx_bytes(&rest);
    assert_eq!(r.recv_all(other), b"hello");
    let mut buf = [0u8; 2000];
    assert_eq!(r.e.recv(id, &mut buf), Ok(1000), "the data before the hold");
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Overflow));
}

#[test]
fn a_hold_with_a_reader_of_another_socket_lasts_while_the_socket_is_read() {
    // The held socket's reader comes every minute, the other socket's every 10 ms, for three
    // holds in a row (longer than the hold limit in all): no data is dropped, because each
    // hold starts the other reader's wait anew.
    let (mut r, other, rest) = hold_with_a_second_socket();
    let id = quectel_bc20::ConnectId::new(0).unwrap();
    let mut buf = [0u8; 16];
    let (mut got, mut other_got) = (Vec::new(), Vec::new());
    let mut held = rest;
    for round in 1..=3u8 {
        for _ in 0..(60_000 / 10) {
            let n = r.e.recv(other, &mut buf).unwrap();
            other_got.extend_from_slice(&buf[..n]);
            r.advance(10);
        }
        assert_eq!(r.e.phase(id), SocketPhase::Connected, "round {round}");
        got.extend(r.recv_all(id));
        let taken = r.e.handle_rx(&held, r.now);
        got.extend(r.recv_all(id));
        assert_eq!(taken, held.len());
        if round < 3 {
            // The next two pushes hold the output back again.
            let pushes = two_pushes(0x77 + round);
            let taken = r.e.handle_rx(&pushes, r.now);
            assert!(taken < pushes.len(), "round {round}: held again");
            held = pushes[taken..].to_vec();
        }
    }
    let want: Vec<u8> = (0..3u8).flat_map(|i| [0x77 + i; 2000]).collect();
    assert_eq!(got, want);
    assert_eq!(other_got, b"hello");
    assert!(r.events().iter().all(|e| !matches!(e, Event::Failed(..))));
}

#[test]
fn a_reader_that_comes_every_minute_never_loses_held_data() {
    // A superloop polled every minute reads the socket on every round, but its other call
    // (here the look) comes first: a hold of a minute with a command waiting is no reason
    // to drop data.
    let (mut r, id) = Rig::direct_push();
    let mut got = Vec::new();
    for round in 0..5u8 {
        let t = r.e.start(Request::Registration).unwrap();
        r.expect("AT+CEREG?");
        let pushes = two_pushes(round);
        let taken = r.e.handle_rx(&pushes, r.now);
        assert!(taken < pushes.len(), "held back");
        r.jump(60_000);
        r.jump(1);
        got.extend(r.recv_all(id));
        let rest = [&pushes[taken..], b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"].concat();
        r.rx_bytes(&rest);
        got.extend(r.recv_all(id));
        assert!(matches!(
            r.e.take_reply(t),
            Some(Ok(Reply::Registration(_)))
        ));
        assert_eq!(r.e.phase(id), SocketPhase::Connected);
    }
    let want: Vec<u8> = (0..5u8).flat_map(|b| [b; 2000]).collect();
    assert_eq!(got, want);
}

/// A queued write whose `OK` came, then pushes that fill socket 0 and hold the output back
/// with the write's `SEND OK` behind them; the rest of the output to feed once read.
fn flush_held_back_by_own_data(r: &mut Rig, id: quectel_bc20::ConnectId) -> Vec<u8> {
    assert_eq!(r.e.queue_send(id, b"GET /"), Ok(5));
    r.expect("AT+QISENDEX=0,5,474554202F");
    r.rx("\r\nOK\r\n");
    assert_eq!(r.e.poll_flush(id), None, "SEND OK to come");
    let pushes = two_pushes(0x77);
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(taken < pushes.len());
    assert!(r.events().contains(&Event::Stalled(id)));
    pushes[taken..].to_vec()
}

#[test]
fn flush_does_not_wait_for_a_send_ok_behind_the_sockets_own_data() {
    // An HTTP client flushes its request, then reads the response. Pushed before the
    // request's `SEND OK` and larger than the buffer, the response would hold that
    // `SEND OK` back, and the client would never read.
    let (mut r, id) = Rig::direct_push();
    let rest = flush_held_back_by_own_data(&mut r, id);
    assert_eq!(r.e.poll_flush(id), Some(Ok(())));
    // Longer than the send timeout (30 s): a `SEND OK` held back is not late.
    r.advance(45_000);
    let mut got = r.recv_all(id);
    r.rx_bytes(&[&rest[..], b"\r\nSEND OK\r\n"].concat());
    got.extend(r.recv_all(id));
    assert_eq!(got, [0x77u8; 2000]);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    assert_eq!(r.e.sent_total(id), 5);
    assert_eq!(r.e.poll_flush(id), Some(Ok(())));
    assert_eq!(r.e.traffic().timeouts, 0);
}

#[test]
fn flush_does_not_wait_for_an_ok_behind_the_sockets_own_data() {
    // The peer was already sending: its data came before the send command's `OK`.
    let (mut r, id) = Rig::direct_push();
    assert_eq!(r.e.queue_send(id, b"PING"), Ok(4));
    r.expect("AT+QISENDEX=0,4,50494E47");
    assert_eq!(r.e.poll_flush(id), None, "answer to come");
    let pushes = two_pushes(0x44);
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    // The command went out whole: every byte is in the module.
    assert_eq!(r.e.poll_flush(id), Some(Ok(())));
    r.advance(5_000);
    let mut got = r.recv_all(id);
    r.rx_bytes(&[&pushes[taken..], b"\r\nOK\r\n\r\nSEND OK\r\n"].concat());
    got.extend(r.recv_all(id));
    assert_eq!(got, [0x44u8; 2000]);
    assert_eq!(r.e.sent_total(id), 4);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    assert_eq!(r.e.traffic().timeouts, 0);
}

#[test]
fn a_send_fail_behind_the_sockets_own_data_fails_the_socket_after_its_data() {
    let (mut r, id) = Rig::direct_push();
    let rest = flush_held_back_by_own_data(&mut r, id);
    assert_eq!(r.e.poll_flush(id), Some(Ok(())));
    let mut got = r.recv_all(id);
    r.rx_bytes(&[&rest[..], b"\r\nSEND FAIL\r\n"].concat());
    let mut buf = [0u8; 2000];
    while let Ok(n) = r.e.recv(id, &mut buf) {
        assert!(n > 0);
        got.extend(&buf[..n]);
    }
    assert_eq!(got, [0x77u8; 2000]);
    assert_eq!(
        r.e.recv(id, &mut buf),
        Err(Error::Modem(ModemError::SendFail))
    );
    assert_eq!(
        r.e.queue_send(id, b"x"),
        Err(Error::Modem(ModemError::SendFail))
    );
}

#[test]
fn a_send_ok_held_back_by_a_socket_nobody_reads_breaks_the_hold() {
    let (mut r, id) = Rig::direct_push();
    let rest = flush_held_back_by_own_data(&mut r, id);
    // `SEND OK` was due 30 s after the `OK`; the hold gives way the limit after that.
    hold_gives_way(&mut r, id, 30_000, |_| {});
    r.rx_bytes(&[&rest[..], b"\r\nSEND OK\r\n"].concat());
    assert_eq!(r.e.sent_total(id), 5, "the SEND OK behind the hold is read");
    assert_eq!(r.recv_all(id), [0x77u8; 1000]);
    r.expect("AT+QICLOSE=0");
}

#[test]
fn open_failure_closes_the_socket_as_the_manual_requires() {
    let mut r = Rig::ready();
    let id = r.e.allocate(ServiceType::Udp).unwrap();
    r.e.open(id, "127.0.0.1", 9).unwrap();
    r.expect("AT+QIOPEN=1,0,\"UDP\",\"127.0.0.1\",9,0,0");
    r.rx("\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n");
    let err = Error::Modem(ModemError::Result(ResultCode::Qi(
        QiError::SocketConnectFailed,
    )));
    assert_eq!(r.e.phase(id), SocketPhase::Failed(err));
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    assert_eq!(
        r.e.phase(id),
        SocketPhase::Failed(err),
        "the user still sees why"
    );
    r.e.close(id).unwrap();
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Free);
}

#[test]
fn send_fail_is_an_error_and_send_ok_without_ok_is_accepted() {
    let mut r = Rig::ready();
    let id = r.open();
    r.e.send(id, b"ab").unwrap();
    r.expect("AT+QISENDEX=0,2,6162");
    r.rx("\r\nOK\r\n\r\nSEND FAIL\r\n");
    assert_eq!(
        r.e.take_send_result(id),
        Some(Err(Error::Modem(ModemError::SendFail)))
    );
    // The module says the bytes did not go: the stream is intact, the socket carries on.
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    // Manual 4.2.2: SEND OK with no OK before it.
    r.e.send(id, b"cd").unwrap();
    r.expect("AT+QISENDEX=0,2,6364");
    r.rx("\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(2)));
    assert_eq!(r.e.send(id, b"e"), Err(Error::Busy), "OK may still come");
    r.advance(2_000 + LATE);
    r.e.send(id, b"e").unwrap();
    r.expect("AT+QISENDEX=0,1,65");
}

#[test]
fn timeout_resynchronises_and_the_next_command_works() {
    let mut r = Rig::ready();
    let t = r.e.start(Request::LastError).unwrap();
    r.expect("AT+QIGETERROR");
    r.rx("\r\n+QIGETERR"); // and then nothing
    r.advance(2_000 + LATE);
    assert_eq!(r.e.take_reply(t), Some(Err(Error::Timeout)));
    assert!(
        r.events()
            .iter()
            .any(|e| matches!(e, Event::Desync { dropped } if *dropped > 0))
    );
    // The late answer turns up; the engine waits for the line to go quiet before `AT`.
    r.rx("OR: 552,invalid parameters\r\n\r\nOK\r\n");
    r.advance(200);
    r.idle();
    r.advance(300 + LATE);
    r.expect("AT");
    r.rx("\r\nOK\r\n");
    // The `AT`'s answer settles (had the `OK` been a late one, its own would come now).
    assert_eq!(r.e.start(Request::LastError), Err(Error::Busy));
    r.advance(300);
    let t = r.e.start(Request::LastError).unwrap();
    r.expect("AT+QIGETERROR");
    r.rx("\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n");
    match r.e.take_reply(t) {
        Some(Ok(Reply::LastError {
            result,
            description,
        })) => {
            assert_eq!(result, ResultCode::Qi(QiError::InvalidParameters));
            assert_eq!(description.as_str(), "invalid parameters");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reboot_mid_transfer_fails_every_socket_and_starts_over() {
    let mut r = Rig::ready();
    let a = r.open();
    let b = r.open();
    r.e.send(a, b"data").unwrap();
    r.expect("AT+QISENDEX=0,4,64617461");
    r.rx("\r\nOK\r\n");
    r.rx("\r\n+QIURC: \"recv\",1,3\r\n");
    r.rx("F1: 0000 0000\r\nV0: 0000 0000 [0001]\r\nLeaving the BROM\r\n");
    assert_eq!(r.e.take_send_result(a), Some(Err(Error::Reset)));
    assert_eq!(r.e.phase(a), SocketPhase::Failed(Error::Reset));
    assert_eq!(r.e.phase(b), SocketPhase::Failed(Error::Reset));
    let mut buf = [0u8; 4];
    assert_eq!(r.e.recv(b, &mut buf), Err(Error::Reset), "never stale data");
    assert!(r.events().contains(&Event::Rebooted));
    r.advance(300);
    r.bring_up_after_reboot();
    r.e.close(a).unwrap();
    r.e.close(b).unwrap();
    assert_eq!(r.e.phase(a), SocketPhase::Free);
    r.idle();
}

#[test]
fn dns_ping_and_ntp() {
    let mut r = Rig::ready();
    let t = r.e.start(Request::Dns("example.test")).unwrap();
    r.expect("AT+QIDNSGIP=1,\"example.test\"");
    r.rx("\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,2,600\r\n\r\n+QIURC: \"dnsgip\",\"10.0.0.1\"\r\n");
    assert_eq!(r.e.take_reply(t), None);
    r.rx("\r\n+QIURC: \"dnsgip\",\"10.0.0.2\"\r\n");
    match r.e.take_reply(t) {
        Some(Ok(Reply::Dns(a))) => assert_eq!(a.len(), 2),
        other => panic!("{other:?}"),
    }
    // Manual 4.3 prints OK twice.
    let t =
        r.e.start(Request::Ping {
            host: "127.0.0.1",
            timeout_s: 4,
            count: 2,
            size: 32,
        })
        .unwrap();
    r.expect("AT+QPING=1,\"127.0.0.1\",4,2,32");
    r.rx("\r\nOK\r\n\r\nOK\r\n\r\n+QPING: 0,\"127.0.0.1\",32,5,255\r\n\r\n+QPING: 0,\"127.0.0.1\",32,7,255\r\n\r\n+QPING: 0,2,2,0,5,7,6\r\n");
    match r.e.take_reply(t) {
        Some(Ok(Reply::Ping(p))) => {
            assert_eq!(p.replies().count(), 2);
            assert_eq!(p.summary.unwrap().avg_ms, 6);
        }
        other => panic!("{other:?}"),
    }
    r.idle();
    // Spec 6.6: a lone error.
    let t =
        r.e.start(Request::Ping {
            host: "10.9.9.9",
            timeout_s: 1,
            count: 1,
            size: 32,
        })
        .unwrap();
    r.expect("AT+QPING=1,\"10.9.9.9\",1,1,32");
    r.rx("\r\nOK\r\n\r\n\r\n+QPING: 569\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Err(Error::Modem(ModemError::Result(ResultCode::Qi(
            QiError::Timeout
        )))))
    );
    // Manual 4.4: +QNTP with no OK at all.
    let t =
        r.e.start(Request::Ntp {
            server: "127.0.0.1",
            port: 123,
        })
        .unwrap();
    r.expect("AT+QNTP=1,\"127.0.0.1\",123");
    r.rx("\r\n+QNTP: 0,\"18/04/20,11:08:20:35+32\"\r\n");
    assert_eq!(r.e.take_reply(t), None, "waits a command time for an OK");
    r.advance(2_000 + LATE);
    match r.e.take_reply(t) {
        Some(Ok(Reply::Ntp(time))) => assert_eq!(time.year, 2018),
        other => panic!("{other:?}"),
    }
}

#[test]
fn peer_close_keeps_buffered_data_readable() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0,5\r\n\r\n+QIURC: \"closed\",0\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 5,0\r\nhello\r\n\r\nOK\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 0\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), b"hello");
    let mut buf = [0u8; 8];
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Closed));
}

#[test]
fn a_lying_module_cannot_overfill_a_read() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0\r\n");
    r.expect("AT+QIRD=0,512");
    let mut lie = b"\r\n+QIRD: 600\r\n".to_vec();
    lie.extend([b'x'; 600]);
    lie.extend(b"\r\n\r\nOK\r\n");
    r.rx_bytes(&lie);
    assert_eq!(r.e.phase(id), SocketPhase::Failed(Error::Malformed));
    r.expect("AT+QICLOSE=0");
    // Garbage and noise never panic and the engine keeps going.
    r.rx_bytes(b"\x00\xff\xfe garbage \x01\r\n+QIURC: \"recv\",9,5\r\n\r\nOK\r\n\r\nCLOSE OK\r\n");
    r.at_is_answered();
}

#[test]
fn commands_from_hostile_hosts_are_refused_before_anything_is_sent() {
    let mut r = Rig::ready();
    let id = r.e.allocate(ServiceType::Tcp).unwrap();
    assert!(matches!(
        r.e.open(id, "evil\"\r\nAT+QPOWD=1", 80),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        r.e.start(Request::Dns("a\rb")),
        Err(Error::InvalidArgument(_))
    ));
    r.idle();
    assert_eq!(r.e.phase(id), SocketPhase::Reserved);
}

#[test]
fn an_answer_that_crosses_a_reboot_does_not_shift_later_answers() {
    let mut r = Rig::new(Config::default());
    r.expect("AT");
    // The module boots while the first AT is on the wire, then answers it.
    r.rx("\r\nRDY\r\n");
    r.advance(20);
    r.rx("\r\nOK\r\n");
    r.advance(100);
    r.idle();
    r.advance(300);
    r.bring_up_after_reboot();
    assert_eq!(r.e.traffic().reboots, 0, "RDY at power-up is no reboot");
    assert!(!r.events().contains(&Event::Rebooted));
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(
            quectel_bc20::RegistrationStatus::Home
        )))
    );
}

#[test]
fn queued_sends_coalesce_small_writes_and_linger_on_close() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.queue_send(id, b"GET"), Ok(3));
    assert_eq!(r.e.queue_send(id, b" / HTTP/1.1\r\n\r\n"), Ok(15));
    assert_eq!(r.e.unsent(id), 18);
    r.expect("AT+QISENDEX=0,18,474554202F20485454502F312E310D0A0D0A");
    // The queue holds DEFAULT_TX bytes, those in flight (kept until `SEND OK`) included.
    let room = quectel_bc20::engine::DEFAULT_TX - 18;
    assert_eq!(r.e.queue_send(id, &vec![0xAB; room + 100]), Ok(room));
    r.rx("\r\nOK\r\n");
    assert_eq!(r.e.unsent(id), 18 + room, "SEND OK still outstanding");
    r.rx("\r\nSEND OK\r\n");
    assert_eq!(r.e.unsent(id), room);
    // Closing with bytes queued: they go out first, 512 at a time, then AT+QICLOSE.
    r.e.close(id).unwrap();
    let mut left = room;
    while left > 0 {
        let n = left.min(512);
        let hex: String = std::iter::repeat_n("AB", n).collect();
        r.expect(&format!("AT+QISENDEX=0,{n},{hex}"));
        r.rx("\r\nOK\r\n");
        r.idle();
        r.rx("\r\nSEND OK\r\n");
        left -= n;
    }
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Free);
}

#[test]
fn a_failed_queued_send_breaks_the_stream_loudly() {
    let mut r = Rig::ready();
    let id = r.open();
    r.e.queue_send(id, b"abc").unwrap();
    r.expect("AT+QISENDEX=0,3,616263");
    r.rx("\r\nOK\r\n\r\nSEND FAIL\r\n");
    let err = Error::Modem(ModemError::SendFail);
    assert_eq!(r.e.phase(id), SocketPhase::Failed(err));
    assert_eq!(r.e.unsent(id), 0);
    assert_eq!(r.e.queue_send(id, b"more"), Err(err));
}

#[test]
fn a_reboot_frees_a_socket_that_was_closing() {
    let mut r = Rig::ready();
    let id = r.open();
    r.e.queue_send(id, b"bye").unwrap();
    r.e.close(id).unwrap();
    r.expect("AT+QISENDEX=0,3,627965");
    r.rx("\r\nRDY\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Free, "nothing left to close");
    r.advance(300);
    r.bring_up_after_reboot();
    r.idle();
}

#[test]
fn no_wake_up_is_lost_behind_output_held_back() {
    // A module that pushes data is awake; while that data holds the output back, the answers
    // of wake-up `AT`s would wait behind it, and must not be taken for lost (nor, once they
    // come, for the answer of the command after them).
    let (mut r, id) = Rig::direct_push_with(Config {
        wake: quectel_bc20::engine::WakePolicy::AfterIdle(1_000),
        ..Config::default()
    });
    let pushes = two_pushes(0x11);
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    r.advance(2_000);
    let t = r.e.start(Request::Registration).unwrap();
    // Whatever goes out while the output is held, its answers come after the data.
    let mut written = Vec::new();
    for _ in 0..600 {
        while let Some(b) = r.e.poll_transmit(r.now) {
            let b = b.to_vec();
            r.e.transmitted(b.len(), r.now);
            written.extend(b);
        }
        r.advance(10);
    }
    let text = String::from_utf8_lossy(&written).into_owned();
    let commands: Vec<&str> = text.split('\r').filter(|c| !c.is_empty()).collect();
    assert!(commands.len() <= 2, "{commands:?}");
    let mut answers = Vec::new();
    for c in &commands {
        answers.extend(if *c == "AT+CEREG?" {
            &b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"[..]
        } else {
            &b"\r\nOK\r\n"[..]
        });
    }
    let got = r.recv_all(id);
    r.rx_bytes(&[&pushes[taken..], &answers[..]].concat());
    let mut got2 = r.recv_all(id);
    // Now the command goes out if it has not yet.
    if !commands.contains(&"AT+CEREG?") {
        r.advance(400);
        r.expect("AT+CEREG?");
        r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    }
    got2.extend(r.recv_all(id));
    assert_eq!([got, got2].concat(), [0x11u8; 2000]);
    assert!(
        matches!(r.e.take_reply(t), Some(Ok(Reply::Registration(_)))),
        "{commands:?}"
    );
    assert_eq!(
        commands,
        ["AT+CEREG?"],
        "no wake-up while output is held back"
    );
    assert_eq!(r.e.traffic().timeouts, 0);
    r.idle();
}

/// A direct-push rig that wakes the module after a second of idle, socket 0 connected, idle
/// for two seconds, a registration query started and its wake-up `AT` written; then pushes
/// hold the output back before that `AT`'s answer. Returns the rig, the query and what
/// the module printed after the pushes that fit.
fn wake_up_then_held_back() -> (Rig, quectel_bc20::engine::Ticket, Vec<u8>) {
    let (mut r, id) = Rig::direct_push_with(Config {
        wake: quectel_bc20::engine::WakePolicy::AfterIdle(1_000),
        ..Config::default()
    });
    r.advance(2_000);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT");
    let pushes = two_pushes(0x22);
    let taken = r.e.handle_rx(&pushes, r.now);
    assert!(r.events().contains(&Event::Stalled(id)));
    (r, t, pushes[taken..].to_vec())
}

/// Once the wake-up `AT` is answered and the line has settled, the registration query `t`
/// goes out and gets its answer.
fn query_goes_out_after_the_wake_up(r: &mut Rig, t: quectel_bc20::engine::Ticket) {
    r.advance(400);
    r.expect("AT+CEREG?");
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert!(matches!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(_)))
    ));
}

#[test]
fn a_wake_up_answered_behind_held_output_is_waited_for() {
    let (mut r, t, rest) = wake_up_then_held_back();
    r.advance(5_000);
    r.idle();
    let mut got = r.recv_all(quectel_bc20::ConnectId::new(0).unwrap());
    r.rx_bytes(&[&rest[..], b"\r\nOK\r\n"].concat());
    got.extend(r.recv_all(quectel_bc20::ConnectId::new(0).unwrap()));
    assert_eq!(got, [0x22u8; 2000]);
    query_goes_out_after_the_wake_up(&mut r, t);
    assert_eq!(r.e.traffic().timeouts, 0);
}

#[test]
fn a_wake_up_held_back_by_a_socket_nobody_reads_breaks_the_hold() {
    let (mut r, t, rest) = wake_up_then_held_back();
    let id = quectel_bc20::ConnectId::new(0).unwrap();
    hold_gives_way(&mut r, id, 300, |r| r.idle());
    r.rx_bytes(&[&rest[..], b"\r\nOK\r\n"].concat());
    query_goes_out_after_the_wake_up(&mut r, t);
}

#[test]
fn a_push_resumed_after_a_hold_is_not_taken_for_an_abandoned_one() {
    // The blocking stack stages what it reads: when the hold starts, a header and the start
    // of its data may be staged. Once the reader makes room they are framed, and the rest of
    // the data is still on its way: the line was not quiet meanwhile, nobody was listening.
    let (mut r, id) = Rig::direct_push();
    let mut stream = Vec::new();
    for b in [0x31u8, 0x32] {
        stream.extend(b"\r\n+QIURC: \"recv\",0,1000\r\n");
        stream.extend([b; 1000]);
    }
    let split = stream.len() - 900;
    let taken = r.feed_staged(&stream[..split]);
    assert!(r.events().contains(&Event::Stalled(id)));
    r.advance(2_000);
    let mut got = r.recv_all(id);
    // A look before the rest of the push has come.
    r.advance(LATE);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    let rest = [&stream[taken..], b"\r\n"].concat();
    assert_eq!(r.feed_staged(&rest), rest.len());
    got.extend(r.recv_all(id));
    assert_eq!(got, [[0x31u8; 1000], [0x32; 1000]].concat());
}
