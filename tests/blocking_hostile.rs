//! The blocking stack against a lying module: a scripted fake UART over in-memory queues that
//! answers the start-up sequence and then lies about lengths, sends garbage, random bytes,
//! overlong lines, or nothing at all. Time is virtual (each idle of the driver is 1 ms), so
//! long deadlines cost nothing. The driver must never panic, every call must return within
//! its wait limit with `Ok` or a typed error, and once the module behaves again the next call
//! must work.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::{Duration, Instant};

use core::net::{Ipv4Addr, SocketAddr};
use embedded_nal::{TcpClientStack, UdpClientStack};
use proptest::prelude::*;
use quectel_bc20::blocking::TcpSocket;
use quectel_bc20::engine::{self, SocketPhase};
use quectel_bc20::{AccessMode, Bc20, Clock, Error};

// ----- the fake module -----

#[derive(Default)]
struct Module {
    /// Module to host.
    out: VecDeque<u8>,
    /// Host bytes of the line being written.
    line: Vec<u8>,
    /// Every command line the host wrote.
    commands: Vec<String>,
    /// Answer nothing at all.
    silent: bool,
    /// One-shot answers: the first command line starting with the prefix gets these bytes
    /// instead of the good answer.
    lies: Vec<(String, Vec<u8>)>,
    /// Data waiting per socket for `AT+QIRD`.
    rx: [VecDeque<u8>; 5],
    /// Sockets are opened in direct push mode: data comes with its URC.
    push: bool,
}

impl Module {
    fn say(&mut self, s: &[u8]) {
        self.out.extend(s);
    }

    fn command(&mut self, line: &str) {
        self.commands.push(line.to_string());
        if self.silent {
            return;
        }
        if let Some(i) = self
            .lies
            .iter()
            .position(|(p, _)| line.starts_with(p.as_str()))
        {
            let (_, bytes) = self.lies.remove(i);
            self.say(&bytes);
            return;
        }
        let arg = |n: usize| -> usize {
            line.split_once('=')
                .and_then(|(_, a)| a.split(',').nth(n))
                .and_then(|v| v.trim_matches('"').parse().ok())
                .unwrap_or(0)
        };
        if line == "AT+CPIN?" {
            self.say(b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
        } else if line == "AT+CEREG?" {
            self.say(b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
        } else if line.starts_with("AT+QIOPEN=") {
            let id = arg(1);
            self.say(format!("\r\nOK\r\n\r\n+QIOPEN: {id},0\r\n").as_bytes());
        } else if line.starts_with("AT+QICLOSE=") {
            self.rx[arg(0)].clear();
            self.say(b"\r\nOK\r\n\r\nCLOSE OK\r\n");
        } else if line.starts_with("AT+QISENDEX=") || line.starts_with("AT+QISEND=") {
            self.say(b"\r\nOK\r\n\r\nSEND OK\r\n");
        } else if line.starts_with("AT+QIRD=") {
            let (id, want) = (arg(0), arg(1));
            let n = want.min(self.rx[id].len());
            if n == 0 {
                self.say(b"\r\n+QIRD: 0\r\n\r\nOK\r\n");
            } else {
                let data: Vec<u8> = self.rx[id].drain(..n).collect();
                let rem = self.rx[id].len();
                self.say(format!("\r\n+QIRD: {n},{rem}\r\n").as_bytes());
                self.say(&data);
                self.say(b"\r\n\r\nOK\r\n");
            }
        } else if line.starts_with("AT") {
            self.say(b"\r\nOK\r\n");
        }
    }
}

/// The host end of the fake module.
#[derive(Clone)]
struct Fake(Rc<RefCell<Module>>);

impl Fake {
    fn inject(&self, b: &[u8]) {
        self.0.borrow_mut().say(b);
    }
    fn lie(&self, prefix: &str, answer: &[u8]) {
        self.0
            .borrow_mut()
            .lies
            .push((prefix.to_string(), answer.to_vec()));
    }
    fn silent(&self, on: bool) {
        self.0.borrow_mut().silent = on;
    }
    fn commands(&self) -> Vec<String> {
        self.0.borrow().commands.clone()
    }
    /// Peer data arrives on socket `id`: in buffer access mode the URC, and the data waits
    /// for `AT+QIRD`; in direct push mode the URC and the data.
    fn peer_sends(&self, id: usize, data: &[u8]) {
        let mut m = self.0.borrow_mut();
        let urc = format!("\r\n+QIURC: \"recv\",{id},{}\r\n", data.len());
        m.say(urc.as_bytes());
        if m.push {
            m.say(data);
        } else {
            m.rx[id].extend(data);
        }
    }
}

impl embedded_io::ErrorType for Fake {
    type Error = Infallible;
}

impl embedded_io::Read for Fake {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut m = self.0.borrow_mut();
        let n = buf.len().min(m.out.len());
        for (b, v) in buf.iter_mut().zip(m.out.drain(..n)) {
            *b = v;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Fake {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.0.borrow().out.is_empty())
    }
}

impl embedded_io::Write for Fake {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut m = self.0.borrow_mut();
        for &b in buf {
            if b == b'\r' {
                let line = String::from_utf8_lossy(&std::mem::take(&mut m.line)).into_owned();
                m.command(&line);
            } else {
                m.line.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Virtual milliseconds; each idle of the driver is one.
#[derive(Clone, Default)]
struct VClock(Rc<Cell<u64>>);

impl Clock for VClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
    fn idle(&self) {
        self.0.set(self.0.get() + 1);
    }
}

// ----- the rig -----

/// One quiet line: how long the engine waits for silence before it resynchronises (the
/// line must be seen quiet for `quiet_ms`, confirmed by a second look).
fn quiet() -> u64 {
    u64::from(config().quiet_ms) + 2 * engine::LOOK_GRACE_MS + 1
}

const WAIT_LIMIT: u64 = 5_000;

fn config() -> engine::Config {
    engine::Config {
        command_timeout_ms: 300,
        open_timeout_ms: 2_000,
        send_timeout_ms: 2_000,
        close_timeout_ms: 1_000,
        dns_timeout_ms: 2_000,
        ..engine::Config::default()
    }
}

struct Rig {
    d: Bc20<Fake, VClock>,
    fake: Fake,
    clock: VClock,
}

impl Rig {
    fn new() -> Rig {
        let fake = Fake(Rc::new(RefCell::new(Module::default())));
        let clock = VClock::default();
        let mut d = Bc20::new(fake.clone(), clock.clone(), config());
        d.set_wait_limit(WAIT_LIMIT);
        let mut r = Rig { d, fake, clock };
        r.timed(|d| d.bring_up(1_000)).expect("bring-up");
        r
    }

    /// Run one blocking call: it must return within the wait limit (virtual) and promptly.
    fn timed<T>(&mut self, f: impl FnOnce(&mut Bc20<Fake, VClock>) -> T) -> T {
        let (v0, t0) = (self.clock.now_ms(), Instant::now());
        let r = f(&mut self.d);
        let took = self.clock.now_ms() - v0;
        assert!(took <= WAIT_LIMIT + 2, "a call took {took} virtual ms");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "a call took {:?}",
            t0.elapsed()
        );
        r
    }

    /// Retry an `nb` call, one virtual millisecond apart, for at most `ms`; `None` if it was
    /// still `WouldBlock` then.
    fn nb<T>(
        &mut self,
        ms: u64,
        mut f: impl FnMut(&mut Bc20<Fake, VClock>) -> nb::Result<T, Error>,
    ) -> Option<Result<T, Error>> {
        for _ in 0..ms {
            match f(&mut self.d) {
                Ok(v) => return Some(Ok(v)),
                Err(nb::Error::Other(e)) => return Some(Err(e)),
                Err(nb::Error::WouldBlock) => self.clock.idle(),
            }
        }
        None
    }

    fn connect(&mut self) -> TcpSocket {
        let mut s = TcpClientStack::socket(&mut self.d).unwrap();
        let r = self.nb(3_000, |d| TcpClientStack::connect(d, &mut s, remote()));
        assert_eq!(
            r,
            Some(Ok(())),
            "commands {:?}, phase {:?}, stats {:?}",
            self.fake.commands(),
            self.d.engine().phase(s.id()),
            self.d.engine().parse_stats()
        );
        s
    }

    /// The module behaves: a command is answered, and a socket opens, sends and closes.
    fn works(&mut self) {
        let reg = self.timed(|d| d.registration());
        assert!(reg.is_ok_and(|r| r.is_registered()), "{reg:?}");
        let mut s = self.connect();
        let r = self.nb(3_000, |d| TcpClientStack::send(d, &mut s, b"ping"));
        assert_eq!(r, Some(Ok(4)));
        self.fake.peer_sends(s.id().index(), b"pong");
        let mut buf = [0u8; 16];
        let r = self.nb(3_000, |d| TcpClientStack::receive(d, &mut s, &mut buf));
        assert_eq!(r, Some(Ok(4)));
        assert_eq!(&buf[..4], b"pong");
        self.timed(|d| TcpClientStack::close(d, s)).unwrap();
    }

    /// Let the driver run for `ms` virtual milliseconds.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.d.poll().unwrap();
            self.clock.idle();
        }
    }
}

fn remote() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(192, 0, 2, 7).into(), 5000)
}

/// A typed error that lying output may legitimately cause.
fn is_lie_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Timeout | Error::Malformed | Error::Unexpected | Error::Modem(_) | Error::Closed
    )
}

// ----- the tests -----

#[test]
fn the_fake_module_works() {
    let mut r = Rig::new();
    r.works();
    r.works();
}

#[test]
fn qird_longer_than_its_data() {
    let mut r = Rig::new();
    let mut s = r.connect();
    let id = s.id().index();
    // `+QIRD: 600` with only 10 bytes after it, then nothing. The module still holds the
    // peer's real 10 bytes and hands them out honestly once it behaves again.
    r.fake
        .lie("AT+QIRD=", b"\r\n+QIRD: 600,0\r\nLIELIELIE!\r\n\r\nOK\r\n");
    r.fake.peer_sends(id, b"0123456789");
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    let mut left = WAIT_LIMIT;
    while left > 0 {
        let t0 = r.clock.now_ms();
        match r.nb(left, |d| TcpClientStack::receive(d, &mut s, &mut buf)) {
            None => break,
            Some(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Some(Err(e)) => {
                assert!(is_lie_error(&e), "{e:?}");
                break;
            }
        }
        left = left.saturating_sub(r.clock.now_ms() - t0 + 1);
    }
    // Never the lie's bytes (nor the OK after them) as data: the real data or nothing.
    assert!(
        got.is_empty() || got == b"0123456789",
        "delivered {:?}",
        String::from_utf8_lossy(&got)
    );
    r.timed(|d| TcpClientStack::close(d, s)).unwrap();
    r.works();
}

#[test]
fn push_urc_with_a_huge_length() {
    let fake = Fake(Rc::new(RefCell::new(Module::default())));
    let clock = VClock::default();
    let mut d = Bc20::new(
        fake.clone(),
        clock.clone(),
        engine::Config {
            access_mode: AccessMode::DirectPush,
            ..config()
        },
    );
    d.set_wait_limit(WAIT_LIMIT);
    fake.0.borrow_mut().push = true;
    let mut r = Rig { d, fake, clock };
    r.timed(|d| d.bring_up(1_000)).unwrap();
    let mut s = r.connect();
    let id = s.id().index();
    r.fake
        .inject(format!("\r\n+QIURC: \"recv\",{id},4294967296\r\nABC").as_bytes());
    r.fake
        .inject(format!("\r\n+QIURC: \"recv\",{id},99999999\r\nABC").as_bytes());
    let mut buf = [0u8; 1024];
    match r.nb(WAIT_LIMIT, |d| TcpClientStack::receive(d, &mut s, &mut buf)) {
        None => {}
        Some(Ok(n)) => panic!("{n} bytes of a lying push delivered: {:?}", &buf[..n]),
        Some(Err(e)) => assert!(is_lie_error(&e), "{e:?}"),
    }
    r.timed(|d| TcpClientStack::close(d, s)).unwrap();
    r.works();
}

#[test]
fn garbage_and_overlong_lines_between_answers() {
    let mut r = Rig::new();
    r.fake
        .inject(&[0, 0xFF, 0x80, b'\r', 0x1B, b'\n', 0xC3, 0x28, b'\r', b'\n']);
    r.fake.inject(&vec![b'A'; 10_000]);
    r.fake.inject(b"\r\n");
    r.fake
        .inject(b"\r\n+QIURC: \"recv\",9,5\r\n+QIOPEN: 7,0\r\n+QIRD: -1\r\nSEND OK\r\n");
    r.run(10);
    r.works();
    // Garbage in front of an answer, and an overlong line as the answer.
    r.fake.lie(
        "AT+CEREG?",
        &[&[0xFEu8, 0xFF, 0x00][..], b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"].concat(),
    );
    let reg = r.timed(|d| d.registration());
    assert!(reg.is_ok_and(|s| s.is_registered()), "{reg:?}");
    let long = [
        b"\r\n+CEREG: 0,".as_slice(),
        &vec![b'1'; 5_000],
        b"\r\n\r\nOK\r\n",
    ]
    .concat();
    r.fake.lie("AT+CEREG?", &long);
    let reg = r.timed(|d| d.registration());
    assert!(reg.as_ref().is_err_and(is_lie_error), "{reg:?}");
    r.works();
    let stats = r.d.engine().parse_stats();
    assert!(stats.overlong >= 2, "{stats:?}");
}

#[test]
fn a_module_that_never_answers() {
    let mut r = Rig::new();
    let mut live = r.connect();
    r.fake.silent(true);
    assert_eq!(r.timed(|d| d.registration()), Err(Error::Timeout));
    assert_eq!(
        r.timed(|d| d.ping("192.0.2.1", 1, 1, 32)),
        Err(Error::Timeout)
    );
    // The nb calls end too: the driver's wait limit bounds a wait for the command slot that
    // never comes free (the module is not answering the resynchronising AT).
    let got = r.nb(WAIT_LIMIT + 10, |d| {
        TcpClientStack::send(d, &mut live, b"x")
    });
    assert_eq!(got, Some(Err(Error::Timeout)), "send to a dead module");
    let mut s = TcpClientStack::socket(&mut r.d).unwrap();
    let got = r.nb(WAIT_LIMIT + 10, |d| {
        TcpClientStack::connect(d, &mut s, remote())
    });
    assert_eq!(got, Some(Err(Error::Timeout)), "connect to a dead module");
    let got = r.nb(WAIT_LIMIT + 10, |d| {
        embedded_nal::Dns::get_host_by_name(d, "dead.test", embedded_nal::AddrType::IPv4)
    });
    assert_eq!(got, Some(Err(Error::Timeout)), "DNS with a dead module");
    let mut u = UdpClientStack::socket(&mut r.d).unwrap();
    assert_eq!(
        r.timed(|d| UdpClientStack::connect(d, &mut u, remote())),
        Err(Error::Timeout)
    );
    // Closing what the module never confirms still ends, typed.
    for c in [
        r.timed(|d| TcpClientStack::close(d, s)),
        r.timed(|d| UdpClientStack::close(d, u)),
        r.timed(|d| TcpClientStack::close(d, live)),
    ] {
        assert!(c.is_ok() || c == Err(Error::Timeout), "{c:?}");
    }
    r.fake.silent(false);
    r.works();
}

#[test]
fn unterminated_garbage_does_not_join_the_next_answer() {
    // A stray "OK" with no line end, then a quiet line: the module finishes every line it
    // starts, so this is noise, and the next answer must not be read as "OK" + its own CR LF.
    let mut r = Rig::new();
    r.fake.inject(b"OK");
    r.run(quiet());
    let reg = r.timed(|d| d.registration());
    assert!(reg.is_ok_and(|s| s.is_registered()), "{reg:?}");
    r.fake.inject(b"+CEREG: 0,5");
    r.run(quiet());
    r.works();
}

#[test]
fn send_ok_that_never_comes() {
    let mut r = Rig::new();
    let mut s = r.connect();
    r.fake.lie("AT+QISENDEX=", b"\r\nOK\r\n");
    let got = r.nb(WAIT_LIMIT, |d| TcpClientStack::send(d, &mut s, &[1, 2, 3]));
    assert_eq!(got, Some(Err(Error::Timeout)), "a send with no SEND OK");
    r.timed(|d| TcpClientStack::close(d, s)).unwrap();
    r.works();
}

#[test]
fn every_command_after_a_lie_is_answered_for_itself() {
    // After an unanswered command times out, its late answer must not be taken for the next
    // command's answer.
    let mut r = Rig::new();
    r.fake.lie("AT+CEREG?", b"");
    assert_eq!(r.timed(|d| d.registration()), Err(Error::Timeout));
    r.fake.inject(b"\r\n+CEREG: 0,4\r\n\r\nOK\r\n");
    r.works();
    assert_eq!(
        r.d.engine().phase(quectel_bc20::ConnectId::ALL[0]),
        SocketPhase::Free
    );
}

// ----- random module output -----

#[derive(Debug, Clone)]
enum Op {
    Registration,
    Connect,
    Send(Vec<u8>),
    Receive,
    Close,
    Poll(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Registration),
        Just(Op::Connect),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Op::Send),
        Just(Op::Receive),
        Just(Op::Close),
        (1u16..400).prop_map(Op::Poll),
    ]
}

/// Random bytes: plain noise, or noise made of the module's own vocabulary.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        &b"\r\n"[..],
        b"OK",
        b"ERROR",
        b"+CME ERROR: 567",
        b"+QIRD: ",
        b"+QIURC: \"recv\",0,",
        b"+QIURC: \"closed\",0",
        b"+QIOPEN: 0,",
        b"SEND OK",
        b"SEND FAIL",
        b"CLOSE OK",
        b"+CEREG: ",
        b"512",
        b"0",
        b",",
        b"\r",
        b"\n",
        b"\"",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(words, 0..60).prop_map(|w| w.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_module_output_never_breaks_the_driver(
        steps in prop::collection::vec((noise(), op()), 1..8)
    ) {
        random_run(steps)?;
    }
}

fn random_run(steps: Vec<(Vec<u8>, Op)>) -> Result<(), TestCaseError> {
    let mut r = Rig::new();
    let mut sock: Option<TcpSocket> = None;
    let mut buf = [0u8; 600];
    for (bytes, op) in steps {
        r.fake.inject(&bytes);
        match op {
            Op::Registration => {
                let x = r.timed(|d| d.registration());
                prop_assert!(x.is_ok() || x.as_ref().is_err_and(is_typed), "{x:?}");
            }
            Op::Connect => {
                if sock.is_none()
                    && let Ok(s) = TcpClientStack::socket(&mut r.d)
                {
                    sock = Some(s);
                }
                if let Some(s) = sock.as_mut()
                    && let Some(Err(e)) = r.nb(3_000, |d| TcpClientStack::connect(d, s, remote()))
                {
                    prop_assert!(is_typed(&e), "{e:?}");
                }
            }
            Op::Send(data) => {
                if let Some(s) = sock.as_mut()
                    && let Some(x) = r.nb(3_000, |d| TcpClientStack::send(d, s, &data))
                {
                    let fine = x.as_ref().is_ok_and(|&n| n <= data.len());
                    prop_assert!(fine || x.as_ref().is_err_and(is_typed), "{x:?}");
                }
            }
            Op::Receive => {
                if let Some(s) = sock.as_mut()
                    && let Some(x) = r.nb(50, |d| TcpClientStack::receive(d, s, &mut buf))
                {
                    let fine = x.as_ref().is_ok_and(|&n| n <= buf.len());
                    prop_assert!(fine || x.as_ref().is_err_and(is_typed), "{x:?}");
                }
            }
            Op::Close => {
                if let Some(s) = sock.take() {
                    let x = r.timed(|d| TcpClientStack::close(d, s));
                    prop_assert!(x.is_ok() || x.as_ref().is_err_and(is_typed), "{x:?}");
                }
            }
            Op::Poll(ms) => {
                for _ in 0..ms {
                    prop_assert!(r.d.poll().is_ok());
                    r.clock.idle();
                }
            }
        }
    }
    // The module behaves from now on: after the line has been quiet, the next call works.
    if let Some(s) = sock.take() {
        let _ = r.timed(|d| TcpClientStack::close(d, s));
    }
    r.run(quiet());
    let reg = r.timed(|d| d.registration());
    prop_assert!(reg.is_ok_and(|s| s.is_registered()), "{reg:?}");
    Ok(())
}

/// Errors a lying module may cause; never `Busy` (the shell waits that out), never a transport
/// error (the fake UART cannot fail).
fn is_typed(e: &Error) -> bool {
    is_lie_error(e) || matches!(e, Error::Reset | Error::PdpDeactivated | Error::NoSocket)
}
