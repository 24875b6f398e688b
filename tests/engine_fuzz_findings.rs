//! What the engine fuzz target (`fuzz/fuzz_targets/engine.rs`) found, each reduced to a
//! scripted exchange with the engine.

mod engine_support;

use engine_support::{LATE, Rig, STEP_MS};
use quectel_bc20::engine::{Config, Reply, Request, SocketPhase, WakePolicy};
use quectel_bc20::{Error, RegistrationStatus, ServiceType};

/// A final result that comes while a wake-up `AT` is still to be written is not the answer to
/// the command waiting behind it (which has not been written either). It used to be taken as
/// that command's answer: the command "succeeded" unsent, and the wake-up went on for a
/// command that no longer existed, with `poll_timeout` in the past all along (a spinning
/// event loop).
#[test]
fn a_late_answer_to_a_wake_up_at_is_not_the_commands() {
    let mut r = Rig::idle_with_wake(1_000);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT");
    // Unanswered in time: a second `AT` is due...
    r.advance(300 + LATE);
    // ...and before it is written, the first one's answer comes.
    r.rx("\r\nOK\r\n");
    assert_eq!(r.e.take_reply(t), None, "AT+CEREG? was never sent");
    assert!(r.e.poll_timeout().is_none_or(|d| d > r.now));
    r.expect("AT");
    r.rx("\r\nOK\r\n");
    // Woken by a second attempt: the line must be quiet before the command goes out.
    r.idle();
    r.advance(300 + LATE);
    r.expect("AT+CEREG?");
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(RegistrationStatus::Home)))
    );
}

/// A module that answers the wake-up `AT` later than the idle threshold: the command still
/// goes out after the wake-up. It used to measure the idle from the wake-up `AT` itself and
/// wake the module again, and again, for as long as the module answered that slowly (with
/// `AfterIdle(0)`, always): the command never went out.
#[test]
fn a_slow_wake_up_answer_does_not_start_another_wake_up() {
    let mut r = Rig::idle_with_wake(100);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT");
    r.advance(150);
    r.rx("\r\nOK\r\n");
    r.expect("AT+CEREG?");
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(RegistrationStatus::Home)))
    );

    // `AfterIdle(0)`: one wake-up before each command, not one after another.
    let mut r = Rig::new(Config {
        wake: WakePolicy::AfterIdle(0),
        ..Config::default()
    });
    r.expect("AT");
    r.rx("\r\nOK\r\n");
    r.advance(10);
    r.expect("AT");
    r.advance(10);
    r.rx("\r\nOK\r\n");
    r.expect("ATE0");
}

/// Let `ms` pass, looking every [`STEP_MS`] as a polling caller does, and check after each
/// look that `poll_timeout` does not ask for a look now again: a deadline in the past that
/// `handle_timeout` does not act on has an event loop spin (and the async runner, whose
/// transmit half then never yields, starves its receive half).
fn watch(r: &mut Rig, ms: u64) {
    let end = r.now + ms;
    while r.now < end {
        r.now += STEP_MS;
        r.e.handle_timeout(r.now);
        if let Some(d) = r.e.poll_timeout() {
            assert!(
                d > r.now,
                "poll_timeout {d} at {}: the caller would spin",
                r.now
            );
        }
    }
}

/// After a bare line end, the command's deadline waits for the quiet line that tells a
/// sleeping module; it used to be reported meanwhile although it had passed.
#[test]
fn a_deadline_held_back_for_a_sleeping_module_is_not_reported() {
    let mut r = Rig::ready();
    // A module can only have slept after a spell of silence.
    r.advance(1_000);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    r.advance(1_900);
    r.rx("\r\n");
    watch(&mut r, 400 + LATE);
    // Asleep: woken, then the command goes out again.
    r.expect("AT");
    r.rx("\r\nOK\r\n");
    r.expect("AT+CEREG?");
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(RegistrationStatus::Home)))
    );
}

/// Once a command has been sent again as often as it may be, a bare line end no longer
/// holds its deadline back; the quiet line after it used to be reported still (and passed).
#[test]
fn a_bare_answer_after_the_last_resend_reports_the_deadline_only() {
    let mut r = Rig::ready();
    // A module can only have slept after a spell of silence.
    r.advance(1_000);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    for _ in 0..2 {
        r.rx("\r\n");
        watch(&mut r, 300 + LATE);
        r.expect("AT");
        r.rx("\r\nOK\r\n");
        r.expect("AT+CEREG?");
    }
    r.rx("\r\n");
    watch(&mut r, 2_000 + LATE);
    assert_eq!(r.e.take_reply(t), Some(Err(Error::Timeout)));
}

/// A socket closed while it was opening: its open deadline no longer counts, and it used to
/// be reported when it passed while the close was under way.
#[test]
fn the_open_deadline_of_a_closing_socket_is_not_reported() {
    let mut r = Rig::ready();
    let id = r.e.allocate(ServiceType::Tcp).unwrap();
    r.e.open(id, "127.0.0.1", 8062).unwrap();
    r.expect("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",8062,0,0");
    r.rx("\r\nOK\r\n");
    r.advance(59_000);
    r.e.close(id).unwrap();
    r.expect("AT+QICLOSE=0");
    // The module does not answer the close; the open deadline passes meanwhile.
    watch(&mut r, 2_000 + LATE);
    assert_eq!(r.e.phase(id), SocketPhase::Free);
}

/// A failed `AT+QIRD` is retried once its pause is over and the command slot is free. While
/// another command held the slot, the passed retry time used to be reported: the async runner
/// spun without reading the UART, so the answer that would free the slot was never read.
#[test]
fn a_due_read_retry_is_not_reported_while_the_slot_is_taken() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0,5\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\nERROR\r\n");
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    watch(&mut r, 1_000);
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert!(r.e.take_reply(t).is_some());
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 5,0\r\nhello\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), b"hello");
}

/// An answer that is still coming in when its command's deadline passes (a long `+QIRD` over
/// a slow UART: 512 bytes in hex are over a second at 9600 baud) is waited for while bytes
/// keep coming. It used to be dropped half read, the read retried: the bytes it carried,
/// which the module no longer held, were lost from the stream without an error.
#[test]
fn an_answer_still_coming_in_at_the_deadline_is_not_dropped() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0,400\r\n");
    r.expect("AT+QIRD=0,512");
    let data: Vec<u8> = (0..400u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut answer = b"\r\n+QIRD: 400,0\r\n".to_vec();
    answer.extend_from_slice(&data);
    // The module starts answering after 1.5 s and needs a second to get it all out; the
    // `OK` follows the data at once.
    r.advance(1_500);
    for piece in answer.chunks(10) {
        r.rx_bytes(piece);
        watch(&mut r, 25);
    }
    r.rx("\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), data, "the data is all there");
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
    assert_eq!(r.e.traffic().timeouts, 0);
}

/// A connection closed while its last send waited for `SEND OK` (the application had its
/// echo back already, and the module drops the `SEND OK` with the socket). The wait used to
/// outlive the socket: the next connection on the same id could not send for 30 s, and then
/// got that old send's timeout as the result of its own first send.
#[test]
fn a_send_ok_awaited_at_close_does_not_carry_over_to_the_next_connection() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.send(id, b"hello"), Ok(5));
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\r\nOK\r\n");
    r.advance(20_000);
    r.e.close(id).unwrap();
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Free);
    let again = r.open();
    assert_eq!(again, id);
    assert!(!r.e.send_pending(id));
    assert_eq!(r.e.send(id, b"world"), Ok(5));
    r.expect("AT+QISENDEX=0,5,776F726C64");
    r.rx("\r\nOK\r\n");
    // Past the old send's deadline, not the new one's.
    r.advance(15_000);
    r.rx("\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(5)));
}

/// A send whose `SEND OK` came before its `OK` has its outcome (taken here), and still waits
/// for the `OK`. Forgetting it then used to mark its outcome, long delivered, to be dropped
/// when it came: the next send's outcome was dropped instead, and its caller waited for one
/// until its own limit (found by the engine target).
#[test]
fn forgetting_a_send_whose_outcome_came_does_not_drop_the_next_ones() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.send(id, b"hello"), Ok(5));
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(5)));
    r.e.forget_send(id);
    r.rx("\r\nOK\r\n");
    assert_eq!(r.e.send(id, b"world"), Ok(5));
    r.expect("AT+QISENDEX=0,5,776F726C64");
    r.rx("\r\nOK\r\n\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(5)));
}

/// A final result that came while a command with a late part (DNS) was still being written,
/// then a bare line end: not a sleeping module (an answer came), so the quiet line after the
/// blank no longer counts; it used to be reported as a deadline anyway, and passed.
#[test]
fn a_blank_after_an_early_result_reports_no_quiet_deadline() {
    let mut r = Rig::ready();
    let _t = r.e.start(Request::Dns("example.com")).unwrap();
    let len = r.e.poll_transmit(r.now).map(<[u8]>::len).unwrap();
    r.e.transmitted(3, r.now);
    r.rx("\r\nOK\r\n");
    r.e.transmitted(len - 3, r.now);
    r.rx("\r\n");
    watch(&mut r, 1_500);
}

/// `SEND OK` twice before the `OK` of one send: the send is done once. Each used to complete
/// it again, counting its bytes again in `sent_total` and `Traffic::payload_sent` (and, on a
/// queued socket, leaving a send result nobody asked for).
#[test]
fn a_repeated_send_ok_counts_the_send_once() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.send(id, b"hello"), Ok(5));
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\r\nSEND OK\r\n\r\nSEND OK\r\n\r\nOK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(5)));
    assert_eq!(r.e.sent_total(id), 5);
    assert_eq!(r.e.traffic().payload_sent, 5);
}

/// Sibling firmware ends pushed data with a line end (spec 6.16). When that line end came
/// just after a command was written and the module then took longer than the quiet time to
/// answer, it was taken for the bare answer of a sleeping module: the command was sent again,
/// and a send went out twice (its bytes duplicated at the peer, without an error).
#[test]
fn the_line_end_after_pushed_data_is_not_a_sleeping_module() {
    let (mut r, id) = Rig::direct_push();
    // Idle first, long enough for a module to fall asleep: else a bare line end is never
    // taken for sleep, and this would test nothing.
    r.advance(1_000);
    assert_eq!(r.e.send(id, b"hello"), Ok(5));
    // Pushed data arrives as the command goes out; its line end just after.
    r.rx("\r\n+QIURC: \"recv\",0,3\r\nabc\r");
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\n");
    // The module answers after 800 ms.
    r.advance(800);
    r.idle();
    r.rx("\r\nOK\r\n\r\nSEND OK\r\n");
    r.idle();
    assert_eq!(r.e.take_send_result(id), Some(Ok(5)));
    assert_eq!(r.e.traffic().resent, 0);
    assert_eq!(r.recv_all(id), b"abc");
}

/// A socket freed at once (the PDP context was lost while a send waited for `SEND OK`) is not
/// handed out again while that send is on its way: its outcome used to land on the next
/// connection on the id, whose first send then reported it (a `Timeout` here; an `Ok` for
/// bytes the new connection never sent, had the `SEND OK` come).
#[test]
fn a_socket_with_a_send_on_its_way_is_not_handed_out_again() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.send(id, b"hello"), Ok(5));
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\r\nOK\r\n");
    r.rx("\r\n+QIURC: \"pdpdeact\",1\r\n");
    r.expect("AT+QICLOSE=0");
    r.rx("\r\nOK\r\n\r\nCLOSE OK\r\n");
    r.e.close(id).unwrap();
    assert_eq!(r.e.phase(id), SocketPhase::Free);
    let again = r.open();
    r.advance(30_000 + LATE);
    assert_eq!(
        r.e.take_send_result(again),
        None,
        "a result for a send never made"
    );
}

/// `SEND FAIL` then `ERROR` for one queued send: the send fails once. The `ERROR` used to
/// complete it a second time, as if it were a direct send, leaving a send result on a queued
/// socket (and a second `SendDone`).
#[test]
fn an_error_after_send_fail_does_not_complete_the_send_again() {
    let mut r = Rig::ready();
    let id = r.open();
    assert_eq!(r.e.queue_send(id, b"hello"), Ok(5));
    r.expect("AT+QISENDEX=0,5,68656C6C6F");
    r.rx("\r\nSEND FAIL\r\n\r\nERROR\r\n");
    let done = r
        .events()
        .iter()
        .filter(|e| matches!(e, quectel_bc20::engine::Event::SendDone(_)))
        .count();
    assert_eq!(done, 1);
    assert_eq!(r.e.take_send_result(id), None);
    assert_eq!(
        r.e.poll_flush(id),
        Some(Err(Error::Modem(quectel_bc20::ModemError::SendFail)))
    );
}

/// A direct-push engine (view mode 1) brought up, with socket 0 connected over TCP.
fn push_rig() -> (Rig, quectel_bc20::ConnectId) {
    push_rig_for(ServiceType::Tcp)
}

/// [`push_rig`] for a TCP or a UDP socket.
fn push_rig_for(service: ServiceType) -> (Rig, quectel_bc20::ConnectId) {
    let mut r = Rig::new(Config {
        access_mode: quectel_bc20::AccessMode::DirectPush,
        view_mode: quectel_bc20::ViewMode::HeaderCommaData,
        ..Config::default()
    });
    for cmd in [
        "AT",
        "ATE0",
        "AT+CMEE=1",
        "AT+QICFG=\"dataformat\",0,0",
        "AT+QICFG=\"viewmode\",1",
        "AT+QICFG=\"showlength\",1",
        "AT+QISTATE?",
    ] {
        r.expect(cmd);
        r.rx("\r\nOK\r\n");
    }
    let id = r.e.allocate(service).unwrap();
    r.e.open(id, "127.0.0.1", 7).unwrap();
    r.expect(&format!(
        "AT+QIOPEN=1,0,\"{}\",\"127.0.0.1\",7,0,1",
        service.as_str()
    ));
    r.rx("\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    (r, id)
}

/// Pushed data of `n` bytes for socket 0, on the same line as its header (view mode 1).
fn push(n: usize) -> Vec<u8> {
    let mut f = format!("\r\n+QIURC: \"recv\",0,{n},").into_bytes();
    f.extend(std::iter::repeat_n(b'x', n));
    f.extend_from_slice(b"\r\n");
    f
}

/// Push 1000 bytes more than the socket's buffer has room for: the rest of them is held back
/// in the UART (not taken, not dropped). Returns the bytes and how many were taken.
fn push_beyond_room(r: &mut Rig) -> (Vec<u8>, usize) {
    let more = push(1_000);
    let taken = r.e.handle_rx(&more, r.now);
    assert!(
        taken < more.len(),
        "pushed data beyond the buffer was taken"
    );
    (more, taken)
}

/// A socket whose buffer is full when it fails (here with a reboot) must not hold the UART
/// back for data pushed after. It once did until `close` (which had to release it: the engine
/// read nothing more, and no deadline ran, a deadlock when it did not); now data for a failed
/// socket is dropped as it comes, so an application that neither reads nor closes the socket
/// cannot hold every other answer back (see `data_for_a_failed_socket_does_not_hold_the_uart`).
#[test]
fn a_failed_socket_with_a_full_buffer_does_not_hold_the_uart() {
    let (mut r, id) = push_rig();
    r.rx_bytes(&push(1_000));
    r.rx("\r\nRDY\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Failed(Error::Reset));
    let more = push(1_000);
    assert_eq!(r.e.handle_rx(&more, r.now), more.len(), "held back");
    assert!(!r.e.rx_space().is_empty());
    // What came before the reboot is still there for the application, and closing works.
    assert_eq!(r.e.available(id), 1_000);
    r.e.close(id).unwrap();
    assert_eq!(r.e.phase(id), SocketPhase::Free);
}

/// Bytes offered while output is held back are not taken, and so not counted: a caller
/// offers them again, and `Traffic::rx_bytes` counted them every time (the hostile fuzz
/// target found it as "an application round that never settles": the counter was the only
/// thing that changed).
#[test]
fn bytes_held_back_are_counted_once() {
    let (mut r, id) = push_rig();
    r.rx_bytes(&push(1_000));
    let more = push(1_000);
    let before = r.e.traffic().rx_bytes;
    let taken = r.e.handle_rx(&more, r.now);
    assert!(taken < more.len(), "the buffer is full: some is held back");
    assert_eq!(r.e.traffic().rx_bytes, before + taken as u64);
    for _ in 0..3 {
        assert_eq!(r.e.handle_rx(&more[taken..], r.now), 0);
    }
    assert_eq!(
        r.e.traffic().rx_bytes,
        before + taken as u64,
        "offered again, counted again"
    );
    // Read the socket: the rest is taken, and counted, once.
    let mut buf = [0u8; 2048];
    assert_eq!(r.e.recv(id, &mut buf).unwrap(), 1_000);
    let rest = &more[taken..];
    assert_eq!(r.e.handle_rx(rest, r.now), rest.len());
    assert_eq!(r.e.traffic().rx_bytes, before + more.len() as u64);
}

/// A UDP read into an empty buffer dropped the datagram at the head and said `Ok(0)`, and as
/// it read nothing it did not release the UART held back for that socket: a datagram lost
/// without a word, then a stall for good (the hostile fuzz target: "a request has no reply").
/// An empty read takes nothing now, and any read that makes room releases the UART.
#[test]
fn an_empty_udp_read_drops_nothing_and_a_read_that_makes_room_releases_the_uart() {
    let (mut r, id) = push_rig_for(ServiceType::Udp);
    r.rx_bytes(&push(1_000));
    let more = push(1_000);
    let taken = r.e.handle_rx(&more, r.now);
    assert!(
        taken < more.len(),
        "no room for the second datagram: held back"
    );
    assert_eq!(r.e.recv(id, &mut []), Ok(0));
    assert_eq!(r.e.available(id), 1_000, "an empty read dropped a datagram");
    assert!(r.e.rx_space().is_empty(), "still held back");
    // A short read takes the datagram (its rest is dropped, as UDP does): room, so the
    // second datagram comes in.
    let mut small = [0u8; 10];
    assert_eq!(r.e.recv(id, &mut small), Ok(10));
    let rest = &more[taken..];
    assert_eq!(r.e.handle_rx(rest, r.now), rest.len());
    let mut buf = [0u8; 2048];
    assert_eq!(r.e.recv(id, &mut buf), Ok(1_000));
}

/// A command whose deadline passes while output is held back (its answer may be behind the
/// data waiting for a reader) is judged again only after a fresh look once the reader makes
/// room. Looks taken while nothing was read used to count: right after the read, the
/// deadline was reported as passed (the echo fuzz target: "poll_timeout not later than now:
/// a caller would spin"), and a look before the answer reached the UART's buffer timed the
/// command out although its answer was on its way.
#[test]
fn a_deadline_held_back_with_the_uart_gets_a_fresh_look_after_the_read() {
    let (mut r, id) = push_rig();
    r.rx_bytes(&push(1_000));
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    let (more, taken) = push_beyond_room(&mut r);
    // Long past the command's deadline, with the UART held back all along.
    r.advance(5_000);
    assert_eq!(r.e.take_reply(t), None, "no timeout while held back");
    let mut buf = [0u8; 2048];
    assert_eq!(r.e.recv(id, &mut buf), Ok(1_000));
    assert!(
        r.e.poll_timeout().is_none_or(|d| d > r.now),
        "a deadline in the past right after the read: {:?} at {}",
        r.e.poll_timeout(),
        r.now
    );
    // A look before the rest reached the UART's buffer: the answer is still on its way.
    r.e.handle_timeout(r.now);
    assert_eq!(
        r.e.take_reply(t),
        None,
        "timed out with the answer on its way"
    );
    let rest = &more[taken..];
    assert_eq!(r.e.handle_rx(rest, r.now), rest.len());
    r.rx("\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(RegistrationStatus::Home)))
    );
    assert_eq!(r.e.traffic().timeouts, 0);
}

/// Data for a socket that failed must not hold the UART. Its buffer full, the socket failed
/// (here: a damaged push header named it), and the application had not read or closed it yet.
/// Data the module pushed for it next waited for room that only a read or a close would make;
/// with the UART held, no answer got through and every request waited on that application.
/// (Found with a UDP socket that failed with `Reset` holding part of a datagram, which no
/// read can take: the start-up after the reboot never got its answers.)
#[test]
fn data_for_a_failed_socket_does_not_hold_the_uart() {
    let (mut r, id) = Rig::direct_push();
    let data = vec![b'x'; 1500];
    r.rx("\r\n+QIURC: \"recv\",0,1500\r\n");
    r.rx_bytes(&data);
    r.rx("\r\n\r\n+QIURC: \"recv\",0,4294967296\r\n");
    assert_eq!(r.e.phase(id), SocketPhase::Failed(Error::Malformed));
    // More data for it than its buffer has room for: dropped, not held.
    r.rx("\r\n+QIURC: \"recv\",0,100\r\n");
    r.rx_bytes(&[b'y'; 100]);
    r.rx("\r\n");
    r.at_is_answered();
    // The application still reads what came before the failure, then learns why it ended.
    assert_eq!(r.recv_all(id), data);
    let mut buf = [0u8; 8];
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Malformed));
}
