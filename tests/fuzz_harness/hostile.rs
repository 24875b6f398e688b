//! Engine fuzz harness: a hostile module.
//!
//! The input is decoded into a sequence of operations: bytes from the module (raw bytes, lines
//! of the BC20 dialect with fuzzed fields, payload frames with fuzzed or lying lengths, plausible
//! answers to the last command written), their delivery in arbitrary chunks, time steps from
//! 0 ms to ten minutes, and calls of the engine's API (allocate, open, send, queue_send, recv,
//! close, poll_flush, start/take_reply/abandon, ...). Whatever the module says, these must hold:
//!
//! - nothing panics (arithmetic overflow included when built with debug assertions);
//! - every command written is `AT...` ended by `\r`, printable ASCII only, no longer than
//!   `MAX_COMMAND_LEN`;
//! - after a full round of the calling contract (read what is there, `handle_timeout(now)`,
//!   write what `poll_transmit` gives), `poll_timeout` is `None` or later than `now`: a deadline
//!   in the past would have an event loop spin (the async runner never yields then);
//! - received data is accounted for: the bytes `recv` hands out never exceed the payload bytes
//!   the engine stored, which never exceed what the parser framed; a UDP read is at most one
//!   receive buffer; a send result is for the chunk that was started, and only when one was;
//!   `sent_total` never exceeds what the application handed over on that connection, and a
//!   flush's `Unsent { sent, unsent }` agrees with it;
//! - liveness: once the input is exhausted the module falls silent and a well-behaved caller
//!   keeps stepping to each deadline for an hour of virtual time: then no send, flush, open or
//!   request may still be pending (each ended, with a typed error if need be), and no socket
//!   may still be closing unless the engine has declared the module unresponsive;
//! - recovery: then a well-behaved module answers every command; within ten virtual minutes the
//!   engine must be ready and responsive, every socket closed by the application must be free,
//!   `AT` must succeed, and a new socket must connect and send.
//!
//! Shared by `fuzz/fuzz_targets/engine.rs` and the replay test `tests/engine_fuzz.rs`.
#![allow(dead_code)]

use std::collections::VecDeque;

use quectel_bc20::engine::{Config, Engine, Reply, Request, SocketPhase, Ticket, WakePolicy};
use quectel_bc20::wire::MAX_COMMAND_LEN;
use quectel_bc20::{
    AccessMode, ConnectId, DataFormat, Error, QiCfg, QiCfgKey, ServiceType, ViewMode,
};

/// Each socket's receive buffer in the default engine.
const SOCK_RX: usize = 1536;

/// How long the silent module is waited on after the input (virtual ms): longer than any
/// deadline the engine can set (a ping here is at most 10 s × 4 echoes).
const SILENT_MS: u64 = 3_600_000;

/// How long the well-behaved module is given to bring everything back (virtual ms).
const RECOVER_MS: u64 = 600_000;

/// Most rounds of a settling loop (a loop that needs more is spinning).
const MAX_ROUNDS: u32 = 200_000;

/// The fuzz input, read a byte at a time; zeros once it is exhausted.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let end = (self.pos + n).min(self.data.len());
        let v = self.data.get(self.pos..end).unwrap_or_default().to_vec();
        self.pos = self.pos.saturating_add(n);
        v
    }
}

/// What the application did on one connection (from `allocate` to the next `allocate` of the
/// same id).
#[derive(Debug, Default, Clone, Copy)]
struct Life {
    udp: bool,
    /// Payload bytes the engine took for sending (`send`'s chunks, `queue_send`'s counts).
    accepted: u64,
    /// `send` was used (true) or `queue_send` (false); the two do not mix on one socket.
    direct: Option<bool>,
    /// Length of the direct send whose result is due.
    pending_send: Option<usize>,
    /// The application closed the socket: whatever the engine still says about it is moot
    /// (a send result left on the freed socket is dropped when it is handed out again).
    closed: bool,
}

/// The time steps an operation may take, ms.
const STEPS: [u64; 16] = [
    0, 1, 10, 49, 50, 51, 100, 300, 1_000, 2_000, 2_100, 5_000, 30_000, 60_000, 61_000, 600_000,
];

struct Harness {
    e: Engine,
    now: u64,
    /// Module output not yet read by the engine.
    out: VecDeque<u8>,
    /// The command being written.
    cur: Vec<u8>,
    /// Complete commands the module has not answered (the well-behaved module answers them).
    cmds: VecDeque<Vec<u8>>,
    /// The last complete command (for plausible answers in the hostile phase).
    last_cmd: Vec<u8>,
    lives: [Option<Life>; 5],
    /// The request whose reply is due (`None` once taken or abandoned).
    ticket: Option<Ticket>,
    /// Bytes `recv` handed out, all sockets.
    received: u64,
    /// Bytes the engine took for sending, all sockets.
    accepted: u64,
    /// The module answers each command well (recovery phase).
    responder: bool,
    /// The last reply taken.
    reply: Option<Result<Reply, Error>>,
}

/// Run one fuzz input through the harness; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut input = Input { data, pos: 0 };
    let config = config(&mut input);
    let mut h = Harness {
        e: Engine::new(config),
        now: 0,
        out: VecDeque::new(),
        cur: Vec::new(),
        cmds: VecDeque::new(),
        last_cmd: Vec::new(),
        lives: [None; 5],
        ticket: None,
        received: 0,
        accepted: 0,
        responder: false,
        reply: None,
    };
    let mut ops = 0;
    while !input.is_empty() && ops < 4096 {
        ops += 1;
        h.op(&mut input);
        h.check_accounts();
    }
    h.silent_phase();
    h.recovery_phase();
}

/// The engine's configuration from the first two bytes.
fn config(input: &mut Input<'_>) -> Config {
    let a = input.byte();
    let b = input.byte();
    let mut c = Config::default();
    if a & 1 != 0 {
        c.access_mode = AccessMode::DirectPush;
    }
    if a & 2 != 0 {
        c.view_mode = ViewMode::HeaderCommaData;
    }
    if a & 4 != 0 {
        c.show_length = false;
    }
    if a & 8 != 0 {
        c.recv_format = DataFormat::Hex;
    }
    c.send_text_when_possible = a & 16 != 0;
    c.wake = match (a >> 5) & 3 {
        0 => WakePolicy::Learn,
        1 => WakePolicy::Never,
        _ => WakePolicy::AfterIdle(u32::from(b) * 100),
    };
    if a & 128 != 0 {
        // Short waits, down to none at all.
        c.quiet_ms = u32::from(b) * 4;
        c.command_timeout_ms = 300;
        c.wake_answer_ms = 100;
    }
    c
}

fn id_of(b: u8) -> ConnectId {
    ConnectId::ALL[usize::from(b) % 5]
}

/// True when the environment asks for a trace (`HOSTILE_TRACE=1`, for reproducing a failure).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HOSTILE_TRACE").is_some())
}

impl Harness {
    /// The engine's state for a failure message, without its byte buffers.
    fn dump(&self) -> String {
        let full = format!("{:?}", self.e);
        let mut out = String::new();
        let mut chars = full.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '[' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                }
                out.push_str("..]");
            }
        }
        format!("at {} ms: {out}", self.now)
    }

    fn op(&mut self, input: &mut Input<'_>) {
        let op = input.byte() % 20;
        if tracing() {
            eprintln!("[{} ms] op {op}", self.now);
        }
        match op {
            0 => {
                let n = usize::from(input.byte() % 64) + 1;
                let raw = input.bytes(n);
                self.out.extend(raw);
            }
            1 | 2 => {
                let line = vocabulary(input);
                self.out.extend(b"\r\n");
                self.out.extend(line.as_bytes());
                self.out.extend(b"\r\n");
            }
            3 => {
                let frame = self.payload_frame(input);
                self.out.extend(frame);
            }
            4 => {
                let n = usize::from(input.byte()) + 1;
                self.deliver(n);
            }
            5 => {
                let dt = STEPS[usize::from(input.byte() % 16)];
                self.now = self.now.saturating_add(dt);
                self.e.handle_timeout(self.now);
                self.events();
            }
            6 => {
                let dt = u64::from(input.u16());
                self.now = self.now.saturating_add(dt);
            }
            7 | 8 => {
                let limit = usize::from(input.byte() % 8);
                self.round(limit);
            }
            9 => {
                let service = if input.byte() & 1 == 0 {
                    ServiceType::Tcp
                } else {
                    ServiceType::Udp
                };
                if let Ok(id) = self.e.allocate(service) {
                    assert_eq!(self.e.phase(id), SocketPhase::Reserved);
                    self.lives[id.index()] = Some(Life {
                        udp: service == ServiceType::Udp,
                        ..Life::default()
                    });
                }
            }
            10 => {
                let id = id_of(input.byte());
                let hosts = ["127.0.0.1", "10.0.0.1", "example.com", "a\"b", ""];
                let host = hosts[usize::from(input.byte()) % hosts.len()];
                let port = input.u16();
                let _ = self.e.open(id, host, port);
            }
            11 => {
                let id = id_of(input.byte());
                let data = payload(input);
                self.send(id, &data);
            }
            12 => {
                let id = id_of(input.byte());
                let data = payload(input);
                self.queue_send(id, &data);
            }
            13 => {
                let id = id_of(input.byte());
                let n = usize::from(input.byte()) * 8;
                self.recv(id, n);
            }
            14 => {
                let id = id_of(input.byte());
                if self.e.close(id).is_ok()
                    && let Some(l) = &mut self.lives[id.index()]
                {
                    l.closed = true;
                }
            }
            15 => {
                let id = id_of(input.byte());
                self.take_send_result(id);
                if input.byte() & 1 != 0 {
                    self.e.forget_send(id);
                    if let Some(l) = &mut self.lives[id.index()] {
                        l.pending_send = None;
                    }
                }
            }
            16 => {
                let req = request(input);
                self.start(req);
            }
            17 => match input.byte() % 3 {
                0 => self.take_reply(),
                1 => {
                    if let Some(t) = self.ticket.take() {
                        self.e.abandon(t);
                    }
                }
                _ => {
                    self.e.note_uart_error();
                    let _ = self.e.take_wake_request();
                }
            },
            _ => {
                let answer = self.answer(&self.last_cmd.clone(), input.byte());
                self.out.extend(answer);
            }
        }
    }

    /// Offer up to `n` bytes of module output (fewer are taken while output is held back).
    fn deliver(&mut self, n: usize) {
        let n = n.min(self.out.len());
        if n == 0 {
            return;
        }
        let chunk: Vec<u8> = self.out.iter().take(n).copied().collect();
        let took = self.e.handle_rx(&chunk, self.now);
        if tracing() {
            eprintln!(
                "[{} ms] module > {:?}",
                self.now,
                String::from_utf8_lossy(&chunk[..took])
            );
        }
        assert!(took <= chunk.len());
        self.out.drain(..took);
        self.events();
    }

    /// One round of the calling contract: read what is there, look at the deadlines, write
    /// what the engine has (at most `limit` bytes a write when `limit` > 0, else all of it).
    fn round(&mut self, limit: usize) {
        // Everything the UART holds, a staging buffer at a time, until the engine holds
        // output back.
        loop {
            let before = self.out.len();
            self.deliver(before);
            if self.out.len() == before || self.out.is_empty() {
                break;
            }
        }
        self.e.handle_timeout(self.now);
        self.events();
        self.transmit(limit);
        if let Some(t) = self.e.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t} is not later than now {} after a full round: a caller would \
                 spin\n{}",
                self.now,
                self.dump()
            );
        }
    }

    fn transmit(&mut self, limit: usize) {
        let mut writes = 0;
        while let Some(bytes) = self.e.poll_transmit(self.now) {
            assert!(!bytes.is_empty(), "poll_transmit gave an empty write");
            let n = if limit == 0 {
                bytes.len()
            } else {
                bytes.len().min(limit)
            };
            let chunk = bytes[..n].to_vec();
            self.e.transmitted(n, self.now);
            for b in chunk {
                self.wrote(b);
            }
            writes += 1;
            assert!(writes < 100_000, "poll_transmit never runs dry");
        }
    }

    /// One byte written to the UART: check each command as it completes.
    fn wrote(&mut self, b: u8) {
        if b != b'\r' {
            assert!(
                (0x20..=0x7E).contains(&b),
                "control or non-ASCII byte {b:#04x} in command {:?}",
                String::from_utf8_lossy(&self.cur)
            );
            self.cur.push(b);
            assert!(
                self.cur.len() < MAX_COMMAND_LEN,
                "command longer than MAX_COMMAND_LEN"
            );
            return;
        }
        let cmd = std::mem::take(&mut self.cur);
        if tracing() {
            eprintln!(
                "[{} ms] engine > {}",
                self.now,
                String::from_utf8_lossy(&cmd)
            );
        }
        assert!(
            cmd.starts_with(b"AT"),
            "command does not start with AT: {:?}",
            String::from_utf8_lossy(&cmd)
        );
        if self.responder {
            self.cmds.push_back(cmd.clone());
        }
        self.last_cmd = cmd;
    }

    fn events(&mut self) {
        while let Some(ev) = self.e.poll_event() {
            if tracing() {
                eprintln!("[{} ms] event {ev:?}", self.now);
            }
        }
    }

    fn send(&mut self, id: ConnectId, data: &[u8]) {
        let Some(life) = &mut self.lives[id.index()] else {
            let _ = self.e.send(id, data);
            return;
        };
        if life.direct == Some(false) {
            return;
        }
        if let Ok(n) = self.e.send(id, data) {
            assert!(n <= data.len(), "send took {n} of {} bytes", data.len());
            life.direct = Some(true);
            // An empty send is done at once (`Ok(0)`), pending send or not.
            if n > 0 {
                assert!(
                    life.pending_send.is_none(),
                    "send started over a pending one"
                );
                life.accepted += n as u64;
                self.accepted += n as u64;
                life.pending_send = Some(n);
            }
        }
    }

    fn queue_send(&mut self, id: ConnectId, data: &[u8]) {
        let Some(life) = &mut self.lives[id.index()] else {
            let _ = self.e.queue_send(id, data);
            return;
        };
        if life.direct == Some(true) {
            return;
        }
        if let Ok(n) = self.e.queue_send(id, data) {
            assert!(n <= data.len());
            life.direct = Some(false);
            life.accepted += n as u64;
            self.accepted += n as u64;
        }
    }

    fn take_send_result(&mut self, id: ConnectId) {
        let r = self.e.take_send_result(id);
        let life = self.lives[id.index()].as_mut();
        match (r, life) {
            (None, _) => {}
            (Some(_), Some(life)) if life.closed => {}
            (Some(r), Some(life)) => {
                let Some(want) = life.pending_send.take() else {
                    panic!("send result {r:?} on {id} with no send started (or it was forgotten)");
                };
                if let Ok(n) = r {
                    assert_eq!(n, want, "send result for another chunk");
                }
            }
            (Some(r), None) => panic!("send result {r:?} on {id}, never allocated"),
        }
    }

    fn recv(&mut self, id: ConnectId, n: usize) {
        let mut buf = vec![0u8; n];
        let avail = self.e.available(id);
        assert!(avail <= SOCK_RX, "{avail} bytes buffered on {id}");
        if let Ok(k) = self.e.recv(id, &mut buf) {
            assert!(k <= n);
            if k > 0 {
                assert!(k <= avail, "recv gave {k} of {avail} available");
            }
            self.received += k as u64;
            if self.lives[id.index()].is_some_and(|l| l.udp) {
                assert!(k <= SOCK_RX, "UDP read of {k} bytes");
            }
        }
    }

    fn start(&mut self, req: Request<'_>) {
        if let Ok(t) = self.e.start(req) {
            assert!(
                self.ticket.is_none(),
                "a request started while another's reply was due"
            );
            self.ticket = Some(t);
        }
    }

    fn take_reply(&mut self) {
        if let Some(t) = self.ticket
            && let Some(r) = self.e.take_reply(t)
        {
            self.ticket = None;
            self.reply = Some(r);
        }
    }

    /// What must hold after every operation.
    fn check_accounts(&mut self) {
        let traffic = self.e.traffic();
        let stats = self.e.parse_stats();
        assert!(
            self.received <= traffic.payload_received,
            "recv handed out {} bytes, the engine stored {}",
            self.received,
            traffic.payload_received
        );
        assert!(
            traffic.payload_received <= stats.payload_bytes,
            "stored {} payload bytes, the parser framed {}",
            traffic.payload_received,
            stats.payload_bytes
        );
        assert!(
            traffic.payload_sent <= self.accepted,
            "the module accepted {} bytes, the application handed over {}",
            traffic.payload_sent,
            self.accepted
        );
        for id in ConnectId::ALL {
            let Some(life) = self.lives[id.index()] else {
                continue;
            };
            let sent = self.e.sent_total(id);
            assert!(
                sent <= life.accepted,
                "{id}: sent_total {sent} beyond the {} bytes handed over",
                life.accepted
            );
            if let Some(Err(Error::Unsent { sent: s, unsent })) = self.e.poll_flush(id) {
                // Unsent saturates at u32::MAX (documented); sent_total does not.
                let s = u64::from(s);
                assert_eq!(
                    s,
                    sent.min(u64::from(u32::MAX)),
                    "{id}: Unsent.sent differs from sent_total"
                );
                assert!(
                    s + u64::from(unsent) <= life.accepted,
                    "{id}: {s} sent + {unsent} unsent beyond {} handed over",
                    life.accepted
                );
            }
        }
    }

    /// A well-behaved application's round: contract round, then read every socket dry and
    /// take every result, again while that changes anything (reading may let held-back
    /// output through, an answer that frees the command slot, say: a caller writes what the
    /// engine has after every call).
    fn app_round(&mut self) {
        // Rounds that change something without taking any module output or handing out any
        // data: a hundred in a row is a livelock. (A module with a lot to say is not: every
        // round that takes its output or reads data is progress, and the output is finite.)
        let mut idle = 0;
        while idle < 100 {
            let before = (
                self.e.traffic(),
                self.received,
                self.ticket,
                self.reply.clone(),
            );
            let (out_before, received_before) = (self.out.len(), self.received);
            self.round(0);
            for id in ConnectId::ALL {
                loop {
                    let got = self.received;
                    self.recv(id, 2048);
                    if self.received == got {
                        break;
                    }
                }
                self.take_send_result(id);
            }
            self.take_reply();
            self.check_accounts();
            if before
                == (
                    self.e.traffic(),
                    self.received,
                    self.ticket,
                    self.reply.clone(),
                )
            {
                return;
            }
            if self.out.len() < out_before || self.received > received_before {
                idle = 0;
            } else {
                idle += 1;
            }
        }
        panic!("an application round that never settles");
    }

    /// Step from deadline to deadline until `done` holds or `limit` ms passed; returns `done`.
    fn settle(&mut self, limit: u64, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let end = self.now.saturating_add(limit);
        for _ in 0..MAX_ROUNDS {
            self.app_round();
            if self.responder {
                self.answer_all();
                self.app_round();
            }
            if done(self) {
                return true;
            }
            let next = match self.e.poll_timeout() {
                Some(t) => t,
                // Nothing will happen on its own any more.
                None if !self.responder => return done(self),
                None => self.now.saturating_add(100),
            };
            // A well-behaved module answers within 10 ms; look at least that often then.
            let next = if self.responder {
                next.min(self.now + 10)
            } else {
                next
            };
            if next > end {
                return done(self);
            }
            self.now = next.max(self.now + 1);
        }
        panic!("no quiescence after {MAX_ROUNDS} rounds: the engine keeps asking to be polled");
    }

    /// What is still pending (empty once every operation has ended).
    fn pending(&self) -> Vec<String> {
        let mut v = Vec::new();
        let unresponsive = self.e.is_unresponsive();
        for id in ConnectId::ALL {
            let phase = self.e.phase(id);
            if self.e.send_pending(id) {
                v.push(format!("{id}: send pending"));
            }
            if self.e.poll_flush(id).is_none() {
                v.push(format!("{id}: flush unresolved ({phase:?})"));
            }
            if phase == SocketPhase::Opening {
                v.push(format!("{id}: opening"));
            }
            if phase == SocketPhase::Closing && !unresponsive {
                v.push(format!("{id}: closing"));
            }
        }
        if self.ticket.is_some() {
            v.push("a request has no reply".into());
        }
        v
    }

    /// The module falls silent: everything pending must end, each with a typed error if need
    /// be, within an hour.
    fn silent_phase(&mut self) {
        // Until nothing is pending and the engine is idle (no deadline left: staged bytes
        // dropped, resynchronised) or has given up on the module.
        self.settle(SILENT_MS, |h| {
            h.pending().is_empty() && (h.e.poll_timeout().is_none() || h.e.is_unresponsive())
        });
        let pending = self.pending();
        assert!(
            pending.is_empty(),
            "after an hour of silence: {pending:?}\n{}",
            self.dump()
        );
    }

    /// The module behaves: the engine must come back to a usable state.
    fn recovery_phase(&mut self) {
        self.responder = true;
        self.out.clear();
        let ok = self.settle(RECOVER_MS, |h| h.e.is_ready() && !h.e.is_unresponsive());
        assert!(
            ok,
            "not ready after a well-behaved module answered for 10 min\n{}",
            self.dump()
        );
        for id in ConnectId::ALL {
            let _ = self.e.close(id);
            self.lives[id.index()] = None;
        }
        let ok = self.settle(RECOVER_MS, |h| {
            ConnectId::ALL
                .iter()
                .all(|&id| h.e.phase(id) == SocketPhase::Free)
        });
        assert!(
            ok,
            "sockets not freed: {:?}",
            ConnectId::ALL.map(|id| self.e.phase(id))
        );
        // `AT` until it succeeds, a few times at most: a request may still fail once with a
        // typed error while the engine resynchronises (it sent it with bytes of the hostile
        // phase staged, say), but not for good.
        for attempt in 1..=3 {
            self.reply = None;
            let mut started = false;
            let ok = self.settle(RECOVER_MS, |h| {
                if !started && let Ok(t) = h.e.start(Request::At) {
                    started = true;
                    h.ticket = Some(t);
                }
                h.reply.is_some()
            });
            assert!(ok, "AT got no reply from a well-behaved module");
            if self.reply == Some(Ok(Reply::Done)) {
                break;
            }
            assert!(attempt < 3, "AT failed three times: {:?}", self.reply);
        }
        let id = self.e.allocate(ServiceType::Tcp).expect("a free socket");
        self.lives[id.index()] = Some(Life::default());
        let mut opened = false;
        let ok = self.settle(RECOVER_MS, |h| {
            if !opened {
                opened = h.e.open(id, "127.0.0.1", 7).is_ok();
            }
            h.e.phase(id) == SocketPhase::Connected
        });
        assert!(ok, "no connection: {:?}", self.e.phase(id));
        let mut started = false;
        let ok = self.settle(RECOVER_MS, |h| {
            if !started {
                started = h.e.send(id, b"hello").is_ok();
                if started {
                    h.lives[id.index()] = Some(Life {
                        pending_send: Some(5),
                        accepted: 5,
                        direct: Some(true),
                        ..Life::default()
                    });
                    h.accepted += 5;
                }
            }
            started && h.e.sent_total(id) == 5
        });
        assert!(ok, "hello was not sent");
    }

    /// The well-behaved module answers every complete command.
    fn answer_all(&mut self) {
        while let Some(cmd) = self.cmds.pop_front() {
            let a = self.answer(&cmd, 0);
            self.out.extend(a);
        }
    }

    /// A plausible answer to `cmd`; `v` picks among variants (0: plain success).
    fn answer(&self, cmd: &[u8], v: u8) -> Vec<u8> {
        let c = String::from_utf8_lossy(cmd);
        let arg = |i: usize| c.as_bytes().get(i).map_or('0', |&b| b as char);
        let mut a = String::new();
        if let Some(rest) = c.strip_prefix("AT+QIOPEN=1,") {
            let id = rest.chars().next().unwrap_or('0');
            let code = [0, 0, 566, 563][usize::from(v % 4)];
            a += &format!("\r\nOK\r\n\r\n+QIOPEN: {id},{code}\r\n");
        } else if c.starts_with("AT+QISEND") {
            let fin = if v % 5 == 4 { "SEND FAIL" } else { "SEND OK" };
            a += &format!("\r\nOK\r\n\r\n{fin}\r\n");
        } else if c.starts_with("AT+QICLOSE=") {
            a += "\r\nOK\r\n\r\nCLOSE OK\r\n";
        } else if c.starts_with("AT+QIRD=") {
            let _ = arg(8);
            a += "\r\n+QIRD: 0\r\n\r\nOK\r\n";
            if v % 2 == 1 {
                // Data for the read, framed as the engine's settings say.
                let mut f = self.qird_frame(b"0123456789", 0);
                f.extend_from_slice(b"\r\nOK\r\n");
                return f;
            }
        } else if c.starts_with("AT+QIDNSGIP") {
            a += "\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,600\r\n\r\n+QIURC: \"dnsgip\",\"10.0.0.1\"\r\n";
        } else if c.starts_with("AT+QPING") {
            a += "\r\nOK\r\n\r\n+QPING: 0,\"10.0.0.1\",32,20,255\r\n\r\n+QPING: 0,1,1,0,20,20,20\r\n";
        } else if c.starts_with("AT+QNTP") {
            a += "\r\nOK\r\n\r\n+QNTP: 0,\"26/01/01,00:00:00+00\"\r\n";
        } else if c.starts_with("AT+CEREG?") {
            a += "\r\n+CEREG: 0,1\r\n\r\nOK\r\n";
        } else if c.starts_with("AT+QISTATE?") {
            // A module lists the connections it holds (the engine audits them, and a BC20
            // that lists none has none): those the engine has connected, in order.
            for id in ConnectId::ALL {
                if self.e.phase(id) == SocketPhase::Connected {
                    a += &format!("\r\n+QISTATE: {id},\"TCP\",\"127.0.0.1\",7,4000,2,1,0");
                }
            }
            a += "\r\n\r\nOK\r\n";
        } else if c.starts_with("ATI") {
            a += "\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: X\r\n\r\nOK\r\n";
        } else if v % 7 == 6 {
            a += "\r\nERROR\r\n";
        } else if v % 7 == 5 {
            // A module that slept: a bare line end.
            a += "\r\n";
        } else {
            a += "\r\nOK\r\n";
        }
        a.into_bytes()
    }

    /// `+QIRD: <n>[,<rem>]` and `data`, as the engine's current settings frame it.
    fn qird_frame(&self, data: &[u8], rem: usize) -> Vec<u8> {
        let c = self.e.config();
        let mut f = format!("\r\n+QIRD: {}", data.len()).into_bytes();
        if c.show_length {
            f.extend_from_slice(format!(",{rem}").as_bytes());
        }
        let comma = c.view_mode == ViewMode::HeaderCommaData;
        f.extend_from_slice(if comma { b"," } else { b"\r\n" });
        append(&mut f, data, c.recv_format == DataFormat::Hex);
        f.extend_from_slice(b"\r\n");
        f
    }

    /// A payload frame with fuzzed socket, data and (possibly lying) length.
    fn payload_frame(&mut self, input: &mut Input<'_>) -> Vec<u8> {
        let kind = input.byte();
        let id = input.byte() % 6;
        let data = payload(input);
        let declared = if kind & 0x80 != 0 {
            usize::from(input.u16())
        } else {
            data.len()
        };
        let c = self.e.config();
        let hex = (c.recv_format == DataFormat::Hex) != (kind & 0x40 != 0);
        let comma = (c.view_mode == ViewMode::HeaderCommaData) != (kind & 0x20 != 0);
        let mut f = if kind & 1 == 0 {
            format!("\r\n+QIURC: \"recv\",{id},{declared}").into_bytes()
        } else {
            let mut f = format!("\r\n+QIRD: {declared}").into_bytes();
            if c.show_length != (kind & 0x10 != 0) {
                f.extend_from_slice(format!(",{}", input.byte() % 4).as_bytes());
            }
            f
        };
        f.extend_from_slice(if comma { b"," } else { b"\r\n" });
        append(&mut f, &data, hex);
        if kind & 1 == 1 || comma || kind & 8 != 0 {
            f.extend_from_slice(b"\r\n");
        }
        f
    }
}

fn append(f: &mut Vec<u8>, data: &[u8], hex: bool) {
    if hex {
        for b in data {
            f.extend_from_slice(format!("{b:02X}").as_bytes());
        }
    } else {
        f.extend_from_slice(data);
    }
}

/// Payload bytes: taken from the input, or a long pattern (to reach the chunk limits).
fn payload(input: &mut Input<'_>) -> Vec<u8> {
    let n = input.byte();
    if n & 0x80 != 0 {
        let len = usize::from(n & 0x7F) * 16;
        let seed = input.byte();
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    } else {
        input.bytes(usize::from(n))
    }
}

/// A line the BC20 prints, with fuzzed fields.
fn vocabulary(input: &mut Input<'_>) -> String {
    let k = input.byte();
    let id = input.byte() % 6;
    let n = input.u16();
    match k % 36 {
        0 => "OK".into(),
        1 => "ERROR".into(),
        2 => format!("+CME ERROR: {n}"),
        3 => "SEND OK".into(),
        4 => "SEND FAIL".into(),
        5 => "CLOSE OK".into(),
        6 => "RDY".into(),
        7 => format!("+QIOPEN: {id},0"),
        8 => format!("+QIOPEN: {id},{}", [566, 561, 563, 569][usize::from(n % 4)]),
        9 => format!("+QIURC: \"closed\",{id}"),
        10 => format!("+QIURC: \"recv\",{id}"),
        11 => format!("+QIURC: \"recv\",{id},{n}"),
        12 => format!("+QIURC: \"recv\",{id},\"buff full\""),
        13 => "+QIURC: \"pdpdeact\",1".into(),
        14 => "+QIRD: 0".into(),
        15 => format!("+QIURC: \"dnsgip\",0,{},600", n % 6),
        16 => format!("+QIURC: \"dnsgip\",\"10.0.{}.{}\"", n >> 8, n & 0xFF),
        17 => "+QIURC: \"dnsgip\",565,0,0".into(),
        18 => format!("+QPING: 0,\"10.0.0.1\",32,{n},255"),
        19 => format!("+QPING: {}", [569, 565, 0][usize::from(n % 3)]),
        20 => format!("+QPING: 0,{},{},0,1,2,1", n % 5, (n >> 4) % 5),
        21 => "+QNTP: 0,\"26/01/01,00:00:00+00\"".into(),
        22 => format!("+QNTP: {}", [569, 565][usize::from(n % 2)]),
        23 => format!("+QISTATE: {id},\"TCP\",\"10.0.0.1\",80,{n},2,1,{id}"),
        24 => format!("+CEREG: {}", n % 6),
        25 => format!("+CEREG: 0,{}", n % 6),
        26 => "+CPIN: READY".into(),
        27 => format!("+CGATT: {}", n % 2),
        28 => "+CGPADDR: 1,10.0.0.2".into(),
        29 => "Quectel_BC20".into(),
        30 => "Revision: BC20JAR01A04".into(),
        31 => format!("+QICFG: \"viewmode\",{}", n % 2),
        32 => "+QIGETERROR: 552,invalid parameters".into(),
        33 => "F1: 0000 0000".into(),
        34 => "Leaving the BROM".into(),
        _ => String::new(),
    }
}

/// A request with fuzzed fields (some invalid, to exercise validation).
fn request(input: &mut Input<'_>) -> Request<'static> {
    let k = input.byte();
    let id = id_of(input.byte());
    let n = input.byte();
    match k % 16 {
        0 => Request::At,
        1 => Request::Dns(["example.com", "", "bad\"name"][usize::from(n % 3)]),
        2 => Request::Ping {
            host: "10.0.0.1",
            timeout_s: n % 11,
            count: (n >> 4) % 5,
            size: 32,
        },
        3 => Request::Ntp {
            server: "pool.ntp.org",
            port: 123,
        },
        4 => Request::State(None),
        5 => Request::State(Some(id)),
        6 => Request::LastError,
        7 => Request::SetCfg(match n % 4 {
            0 => QiCfg::ViewMode(if n & 4 != 0 {
                ViewMode::HeaderCommaData
            } else {
                ViewMode::HeaderCrLfData
            }),
            1 => QiCfg::ShowLength(n & 4 != 0),
            _ => QiCfg::DataFormat {
                send: DataFormat::Text,
                recv: if n & 4 != 0 {
                    DataFormat::Hex
                } else {
                    DataFormat::Text
                },
            },
        }),
        8 => Request::QueryCfg(
            [
                QiCfgKey::DataFormat,
                QiCfgKey::ViewMode,
                QiCfgKey::ShowLength,
            ][usize::from(n % 3)],
        ),
        9 => Request::SwitchMode(
            id,
            if n & 1 != 0 {
                AccessMode::DirectPush
            } else {
                AccessMode::Buffer
            },
        ),
        10 => Request::SimStatus,
        11 => Request::Registration,
        12 => Request::Attached,
        13 => Request::Address,
        _ => Request::Identify,
    }
}
