//! Engine fuzz harness: a well-behaved module with echo peers, and no silent loss.
//!
//! The module is a model of the BC20 written from the manual (and the emulator's decisions
//! where the manual is silent): echo until `ATE0`, NVRAM settings the engine must overwrite,
//! `AT+QIOPEN`/`QISEND`/`QISENDEX`/`QIRD`/`QICLOSE` in buffer access and direct push, view
//! modes 0 and 1, show length on and off, text and hex receive format, the recv URC re-armed
//! only by a read that answers `+QIRD: 0`. Behind each socket a peer echoes what it receives
//! (TCP: as a byte stream, split anew; UDP: datagram for datagram) after a network delay.
//!
//! The input chooses the settings, the sockets (one to three, TCP or UDP, written with `send`
//! or `queue_send`), how much each one sends, and all the timing: the module's latency for
//! every frame (up to 1.5 s, below the command timeout), frames cut into pieces with gaps as
//! on a line of 9600 baud or faster (never a pause of the quiet time inside a frame: a module
//! finishes what it starts), echo sent with the answer it precedes, benign URC lines between
//! frames, the sizes in which the UART hands bytes to the engine, the application's write and
//! read sizes, and whether it is a superloop that polls every 1 ms to 5 s or an event loop
//! that sleeps until `poll_timeout`, the UART or its own next step.
//!
//! Checked: every byte sent comes back exactly once and in order (UDP: every datagram whole,
//! in order; in direct push the engine may drop whole datagrams when its boundary store is
//! full, and then counts exactly those); no error, timeout, resynchronisation or bad payload;
//! `poll_timeout` never in the past after a full round; everything done, and every socket
//! closed again, within bounded virtual time.
//!
//! Shared by `fuzz/fuzz_targets/engine_echo.rs` (and `engine_echo_small.rs`, with socket
//! buffers smaller than the pushes) and the replay test `tests/engine_fuzz.rs`.
#![allow(dead_code)]

use std::collections::VecDeque;

use quectel_bc20::engine::{Config, Engine, Event, SocketPhase};
use quectel_bc20::{AccessMode, ConnectId, DataFormat, ServiceType, ViewMode};

/// Longest latency of a module frame, ms (the command timeout is 2 s).
const MAX_LATENCY_MS: u64 = 1_500;

/// A frame is out within this long after it was due to start, ms: an answer completes
/// within the command timeout (2 s).
const ANSWER_WITHIN_MS: u64 = 1_900;

/// Virtual time allowed for a whole run, ms.
const MAX_RUN_MS: u64 = 4 * 3_600_000;

/// Most rounds of the main loop. Every round moves virtual time on by at least 1 ms (a
/// deadline in the past is a failure of its own), so this only backs up [`MAX_RUN_MS`]: a
/// slow module (1.5 s a frame) with many small UDP datagrams, polled every millisecond,
/// legitimately takes hundreds of thousands of rounds.
const MAX_ROUNDS: u64 = MAX_RUN_MS + 1;

/// Benign URCs a module prints between frames.
const NOISE: [&str; 5] = [
    "+CEREG: 1",
    "+QNBIOTEVENT: \"ENTER PSM\"",
    "+QNBIOTEVENT: \"EXIT PSM\"",
    "+CSCON: 0",
    "+CEREG: 5",
];

/// True when the environment asks for a trace (`ECHO_TRACE=1`, for reproducing a failure).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ECHO_TRACE").is_some())
}

/// The fuzz input, read a byte at a time; zeros once it is exhausted. Sizes are drawn so that
/// zeros give the largest, so an exhausted input finishes quickly.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
}

/// One socket of the module.
#[derive(Debug, Default)]
struct ModSocket {
    udp: bool,
    push: bool,
    /// Buffer access: received data, one node per arrival.
    nodes: VecDeque<Vec<u8>>,
    /// A recv URC was printed and no read has answered `+QIRD: 0` since.
    notified: bool,
}

/// The module's settings (NVRAM).
#[derive(Debug, Clone, Copy)]
struct ModCfg {
    echo: bool,
    comma: bool,
    show_length: bool,
    hex: bool,
    crlf_after_push: bool,
    push_chunk: usize,
    /// Per 256: chance of a noise line before a frame.
    noise: u8,
}

/// The module model: commands in, frames out, each frame due at its own instant and never
/// before the one queued ahead of it (a UART is a FIFO).
struct Module {
    cfg: ModCfg,
    /// Host bytes not yet a whole command.
    line: Vec<u8>,
    /// The echo of the command being answered.
    echo: Option<Vec<u8>>,
    /// Queued output: (due, bytes), due non-decreasing.
    out: VecDeque<(u64, Vec<u8>)>,
    last_due: u64,
    /// Bytes that reached the UART, not read yet.
    wire: VecDeque<u8>,
    sockets: [Option<ModSocket>; 5],
    /// Data in the network on its way back: (due, socket, bytes).
    net: Vec<(u64, usize, Vec<u8>)>,
    noise_lines: u32,
}

impl Module {
    /// Queue `frame` with a latency and piece cuts drawn from the input.
    fn emit(&mut self, now: u64, mut frame: Vec<u8>, input: &mut Input<'_>) {
        if frame.is_empty() {
            return;
        }
        if let Some(mut echo) = self.echo.take() {
            echo.extend_from_slice(&frame);
            frame = echo;
        }
        if input.byte() < self.cfg.noise {
            let line = NOISE[usize::from(input.byte()) % NOISE.len()];
            self.noise_lines += 1;
            self.queue(now, format!("\r\n{line}\r\n").into_bytes());
        }
        let latency = u64::from(input.byte()) * MAX_LATENCY_MS / 255;
        let due = (now + latency).max(self.last_due);
        let cut = input.byte();
        if cut & 0x80 == 0 || frame.len() < 2 {
            self.queue_at(due, frame);
            return;
        }
        // Pieces of 1..=16 (or up to 128) bytes, each followed by a gap of up to a
        // millisecond a byte: the line runs at 9600 baud or faster, and never pauses for
        // the quiet time inside a frame. A well-behaved module has its answer out within
        // the command timeout: the gaps shrink when the frame would end later than that.
        let max = if cut & 0x40 != 0 { 128 } else { 16 };
        let budget_us = (now + ANSWER_WITHIN_MS).saturating_sub(due) * 1000;
        let per_byte_us = (u64::from(cut & 0x3F) * 1000 / 63).min(budget_us / frame.len() as u64);
        let mut t_us = due * 1000;
        let mut rest = &frame[..];
        while !rest.is_empty() {
            let n = (1 + usize::from(input.byte()) % max).min(rest.len());
            self.queue_at(t_us / 1000, rest[..n].to_vec());
            rest = &rest[n..];
            t_us += n as u64 * per_byte_us;
        }
    }

    fn queue(&mut self, now: u64, bytes: Vec<u8>) {
        let due = now.max(self.last_due);
        self.queue_at(due, bytes);
    }

    fn queue_at(&mut self, due: u64, bytes: Vec<u8>) {
        let due = due.max(self.last_due);
        self.last_due = due;
        self.out.push_back((due, bytes));
    }

    /// When the module next does something on its own.
    fn next_due(&self) -> Option<u64> {
        let out = self.out.front().map(|(d, _)| *d);
        let net = self.net.iter().map(|(d, _, _)| *d).min();
        match (out, net) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Move time on to `now`: data arrives from the peers, frames reach the UART.
    fn advance(&mut self, now: u64, input: &mut Input<'_>) {
        let mut arrived: Vec<(u64, usize, Vec<u8>)> = Vec::new();
        self.net.retain(|(d, id, data)| {
            if *d <= now {
                arrived.push((*d, *id, data.clone()));
                false
            } else {
                true
            }
        });
        arrived.sort_by_key(|(d, _, _)| *d);
        for (_, id, data) in arrived {
            self.arrive(now, id, data, input);
        }
        while let Some((due, _)) = self.out.front() {
            if *due > now {
                break;
            }
            let (_, bytes) = self.out.pop_front().unwrap_or_default();
            self.wire.extend(bytes);
        }
    }

    /// Data from the peer of socket `id`.
    fn arrive(&mut self, now: u64, id: usize, data: Vec<u8>, input: &mut Input<'_>) {
        let cfg = self.cfg;
        let Some(s) = self.sockets[id].as_mut() else {
            return;
        };
        if s.push {
            // A datagram is pushed whole; a stream in chunks of at most `push_chunk`.
            let chunk = if s.udp { data.len() } else { cfg.push_chunk };
            for c in data.chunks(chunk.max(1)) {
                let mut f = format!("\r\n+QIURC: \"recv\",{id},{}", c.len()).into_bytes();
                f.extend_from_slice(if cfg.comma { b"," } else { b"\r\n" });
                append(&mut f, c, cfg.hex);
                if cfg.comma || cfg.crlf_after_push {
                    f.extend_from_slice(b"\r\n");
                }
                self.emit(now, f, input);
            }
            return;
        }
        let n = data.len();
        s.nodes.push_back(data);
        if !s.notified {
            s.notified = true;
            let line = if cfg.show_length {
                format!("\r\n+QIURC: \"recv\",{id},{n}\r\n")
            } else {
                format!("\r\n+QIURC: \"recv\",{id}\r\n")
            };
            self.emit(now, line.into_bytes(), input);
        }
    }

    /// Bytes the host wrote.
    fn host_bytes(&mut self, now: u64, bytes: &[u8], input: &mut Input<'_>) {
        for &b in bytes {
            if b != b'\r' {
                self.line.push(b);
                continue;
            }
            let cmd =
                String::from_utf8(std::mem::take(&mut self.line)).expect("commands are ASCII");
            if self.cfg.echo {
                // The echo goes out with the first frame of the answer: a lone echo is not
                // a line until what follows shows it ended, and a pause after it would make
                // it noise (the engine drops unfinished lines after a quiet time).
                self.echo = Some(format!("{cmd}\r").into_bytes());
            }
            self.execute(now, &cmd, input);
        }
    }

    fn ok(&mut self, now: u64, input: &mut Input<'_>) {
        self.emit(now, b"\r\nOK\r\n".to_vec(), input);
    }

    fn urc(&mut self, now: u64, line: &str, input: &mut Input<'_>) {
        self.emit(now, format!("\r\n{line}\r\n").into_bytes(), input);
    }

    fn execute(&mut self, now: u64, cmd: &str, input: &mut Input<'_>) {
        let args = |s: &str| -> Vec<String> { s.split(',').map(str::to_owned).collect() };
        if cmd == "AT" || cmd == "AT+CMEE=1" || cmd == "AT+QISTATE?" {
            self.ok(now, input);
        } else if cmd == "ATE0" {
            self.cfg.echo = false;
            self.ok(now, input);
        } else if let Some(rest) = cmd.strip_prefix("AT+QICFG=") {
            let a = args(rest);
            let on = a.last().is_some_and(|v| v == "1");
            match a[0].as_str() {
                "\"dataformat\"" => self.cfg.hex = on,
                "\"viewmode\"" => self.cfg.comma = on,
                "\"showlength\"" => self.cfg.show_length = on,
                other => panic!("unexpected setting {other}"),
            }
            self.ok(now, input);
        } else if let Some(rest) = cmd.strip_prefix("AT+QIOPEN=") {
            let a = args(rest);
            let id: usize = a[1].parse().expect("id");
            assert!(self.sockets[id].is_none(), "socket {id} opened twice");
            self.sockets[id] = Some(ModSocket {
                udp: a[2] == "\"UDP\"",
                push: a[6] == "1",
                ..ModSocket::default()
            });
            self.ok(now, input);
            self.urc(now, &format!("+QIOPEN: {id},0"), input);
        } else if let Some(rest) = cmd
            .strip_prefix("AT+QISENDEX=")
            .or_else(|| cmd.strip_prefix("AT+QISEND="))
        {
            let hex = cmd.starts_with("AT+QISENDEX=");
            let mut parts = rest.splitn(3, ',');
            let id: usize = parts.next().and_then(|v| v.parse().ok()).expect("id");
            let len: usize = parts.next().and_then(|v| v.parse().ok()).expect("len");
            let body = parts.next().expect("data").as_bytes();
            let data = if hex { unhex(body) } else { body.to_vec() };
            assert_eq!(data.len(), len, "{cmd}: length field and data disagree");
            let Some(s) = &self.sockets[id] else {
                panic!("send on socket {id}, which is not open");
            };
            let udp = s.udp;
            self.ok(now, input);
            self.urc(now, "SEND OK", input);
            // The peer echoes after a network delay, in order; a stream may come back cut
            // anew.
            let last = self
                .net
                .iter()
                .filter(|(_, i, _)| *i == id)
                .map(|(d, _, _)| *d)
                .max()
                .unwrap_or(0);
            let mut t = (now + u64::from(input.byte()) * 8).max(last);
            if udp || input.byte() & 1 == 0 {
                self.net.push((t, id, data));
            } else {
                let mut rest = &data[..];
                while !rest.is_empty() {
                    let n = (700 - usize::from(input.u16()) % 700).min(rest.len());
                    self.net.push((t, id, rest[..n].to_vec()));
                    rest = &rest[n..];
                    t += u64::from(input.byte());
                }
            }
        } else if let Some(rest) = cmd.strip_prefix("AT+QIRD=") {
            let a = args(rest);
            let id: usize = a[0].parse().expect("id");
            let len: usize = a[1].parse().expect("len");
            let cfg = self.cfg;
            let Some(s) = self.sockets[id].as_mut() else {
                panic!("read on socket {id}, which is not open");
            };
            let Some(node) = s.nodes.front_mut() else {
                s.notified = false;
                self.emit(now, b"\r\n+QIRD: 0\r\n".to_vec(), input);
                self.ok(now, input);
                return;
            };
            let n = len.min(node.len());
            let data: Vec<u8> = node.drain(..n).collect();
            let remaining = node.len();
            if remaining == 0 {
                s.nodes.pop_front();
            }
            let mut f = format!("\r\n+QIRD: {n}").into_bytes();
            if cfg.show_length {
                f.extend_from_slice(format!(",{remaining}").as_bytes());
            }
            f.extend_from_slice(if cfg.comma { b"," } else { b"\r\n" });
            append(&mut f, &data, cfg.hex);
            f.extend_from_slice(b"\r\n");
            self.emit(now, f, input);
            self.ok(now, input);
        } else if let Some(rest) = cmd.strip_prefix("AT+QICLOSE=") {
            let id: usize = rest.parse().expect("id");
            self.sockets[id] = None;
            self.net.retain(|(_, i, _)| *i != id);
            self.ok(now, input);
            self.urc(now, "CLOSE OK", input);
        } else {
            panic!("unexpected command {cmd:?}");
        }
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

fn unhex(text: &[u8]) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    text.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).expect("hex is ASCII");
            u8::from_str_radix(s, 16).expect("hex digits")
        })
        .collect()
}

/// What the application does with one socket.
#[derive(Debug)]
struct AppSocket {
    id: ConnectId,
    udp: bool,
    /// Write with `queue_send` (TCP only) instead of `send`.
    queued: bool,
    /// TCP: the stream to send. UDP: the datagrams, concatenated (see `datagrams`).
    data: Vec<u8>,
    /// UDP: datagram lengths.
    datagrams: Vec<usize>,
    /// UDP: where each datagram starts in `data`.
    starts: Vec<usize>,
    /// Bytes (TCP) or datagrams (UDP) handed over and accepted so far.
    sent: usize,
    /// Length of the `send` whose result is due.
    pending: Option<usize>,
    /// TCP: bytes received.
    got: Vec<u8>,
    /// UDP: index of the next datagram expected.
    next_datagram: usize,
    /// UDP: datagrams skipped (dropped whole by the engine).
    skipped: usize,
    opened: bool,
}

impl AppSocket {
    fn datagram(&self, i: usize) -> &[u8] {
        &self.data[self.starts[i]..self.starts[i] + self.datagrams[i]]
    }

    fn all_sent(&self) -> bool {
        if self.udp {
            self.sent == self.datagrams.len()
        } else {
            self.sent == self.data.len()
        }
    }

    fn all_back(&self) -> bool {
        if self.udp {
            self.next_datagram == self.datagrams.len()
        } else {
            self.got.len() == self.data.len()
        }
    }
}

/// Run one fuzz input through the harness; panics when a check fails.
pub fn run(data: &[u8]) {
    run_sized::<{ quectel_bc20::engine::DEFAULT_RX }>(data);
}

/// [`run`] with receive buffers of 256 bytes, smaller than most pushes (up to 1,021 bytes
/// here): pushed data is handed on as it comes, held back in the middle while a buffer is full.
pub fn run_small(data: &[u8]) {
    run_sized::<256>(data);
}

/// The engine the harness drives: five sockets of `RX`-byte receive buffers.
type Sized<const RX: usize> = Engine<5, RX>;

fn run_sized<const RX: usize>(data: &[u8]) {
    let mut input = Input { data, pos: 0 };
    let a = input.byte();
    let b = input.byte();
    let c = input.byte();
    let d = input.byte();
    let mut config = Config::default();
    let push = a & 1 != 0;
    if push {
        config.access_mode = AccessMode::DirectPush;
    }
    if a & 2 != 0 {
        config.view_mode = ViewMode::HeaderCommaData;
    }
    config.show_length = a & 4 == 0;
    if a & 8 != 0 {
        config.recv_format = DataFormat::Hex;
    }
    config.send_text_when_possible = a & 16 != 0;
    let event_loop = a & 32 != 0;
    // The module starts with its own NVRAM settings, which the engine must overwrite.
    let cfg = ModCfg {
        echo: a & 64 != 0,
        comma: b & 1 != 0,
        show_length: b & 2 != 0,
        hex: b & 4 != 0,
        crlf_after_push: a & 128 != 0,
        push_chunk: 1 + usize::from(c) * 4,
        noise: d,
    };
    let period = 1 + u64::from(b >> 3) * 160;
    let mut module = Module {
        cfg,
        line: Vec::new(),
        echo: None,
        out: VecDeque::new(),
        last_due: 0,
        wire: VecDeque::new(),
        sockets: Default::default(),
        net: Vec::new(),
        noise_lines: 0,
    };
    let mut e: Sized<RX> = Sized::<RX>::sized(config);

    // The sockets and what each one sends.
    let s = input.byte();
    let count = 1 + usize::from(s % 3);
    let mut app: Vec<AppSocket> = (0..count)
        .map(|i| {
            let udp = s & (8 << i) != 0;
            let queued = !udp && s & (64 << (i % 2)) != 0;
            let total = usize::from(input.u16() % 4096);
            let seed = input.byte();
            let bytes: Vec<u8> = (0..total)
                .map(|k| (k as u8).wrapping_mul(167).wrapping_add(seed) ^ (k >> 8) as u8)
                .collect();
            let mut datagrams = Vec::new();
            let mut starts = Vec::new();
            if udp {
                let mut left = total;
                while left > 0 {
                    // No larger than the receive buffer, which would truncate it.
                    let most = RX.min(512);
                    let n = (most - usize::from(input.u16()) % most).min(left);
                    starts.push(total - left);
                    datagrams.push(n);
                    left -= n;
                }
            }
            AppSocket {
                id: ConnectId::ALL[0],
                udp,
                queued,
                data: bytes,
                datagrams,
                starts,
                sent: 0,
                pending: None,
                got: Vec::new(),
                next_datagram: 0,
                skipped: 0,
                opened: false,
            }
        })
        .collect();
    let mut allocated = 0;
    let mut now: u64 = 0;
    let mut closing = false;
    for round in 0.. {
        assert!(round < MAX_ROUNDS, "{round} rounds: no end in sight");
        assert!(now <= MAX_RUN_MS, "not done after {now} virtual ms");
        module.advance(now, &mut input);
        // The UART hands over what arrived, in reads of arbitrary sizes.
        while !module.wire.is_empty() {
            let n = (2048 - usize::from(input.byte()) * 8).min(module.wire.len());
            let chunk: Vec<u8> = module.wire.iter().take(n).copied().collect();
            let took = e.handle_rx(&chunk, now);
            if tracing() {
                let s = String::from_utf8_lossy(&chunk[..took]);
                eprintln!("[{now}] module > {s:?}");
            }
            module.wire.drain(..took);
            if took < n {
                // Held back: the application must read first.
                break;
            }
        }
        e.handle_timeout(now);
        while let Some(ev) = e.poll_event() {
            if tracing() {
                eprintln!("[{now}] event {ev:?}");
            }
            match ev {
                Event::Desync { .. }
                | Event::BadPayload(_)
                | Event::Failed(..)
                | Event::Rebooted
                | Event::Unresponsive
                | Event::PeerClosed(_)
                | Event::PdpDeactivated => panic!("{ev:?} from a well-behaved module at {now}"),
                Event::DatagramsDropped(_) => assert!(push, "datagrams dropped in buffer mode"),
                _ => {}
            }
        }

        // The application.
        if e.is_ready() {
            while allocated < app.len() {
                let service = if app[allocated].udp {
                    ServiceType::Udp
                } else {
                    ServiceType::Tcp
                };
                let id = e.allocate(service).expect("a free socket");
                app[allocated].id = id;
                allocated += 1;
            }
        }
        if !closing {
            for s in app.iter_mut().take(allocated) {
                step(&mut e, s, now, &mut input);
            }
        }
        // Datagrams at the end that the engine dropped never come: a UDP socket is done
        // once the module and the engine have nothing more for it (checked against the
        // engine's count of dropped datagrams below).
        let quiet = module.out.is_empty()
            && module.net.is_empty()
            && module.wire.is_empty()
            && module.sockets.iter().flatten().all(|s| s.nodes.is_empty());
        let done = allocated == app.len()
            && app.iter().all(|s| {
                s.all_sent()
                    && (s.all_back() || (s.udp && quiet && e.available(s.id) == 0))
                    && s.pending.is_none()
                    && (!s.queued || e.poll_flush(s.id) == Some(Ok(())))
            });
        if done && !closing {
            closing = true;
            for s in &app {
                e.close(s.id).expect("close");
            }
        }
        if closing && app.iter().all(|s| e.phase(s.id) == SocketPhase::Free) {
            break;
        }

        // Write what the engine has; the module takes it at once.
        while let Some(bytes) = e.poll_transmit(now) {
            let bytes = bytes.to_vec();
            e.transmitted(bytes.len(), now);
            if tracing() {
                eprintln!("[{now}] engine > {:?}", String::from_utf8_lossy(&bytes));
            }
            module.host_bytes(now, &bytes, &mut input);
        }
        let deadline = e.poll_timeout();
        if let Some(t) = deadline {
            assert!(
                t > now,
                "poll_timeout {t} not later than now {now}: a caller would spin"
            );
        }
        now = if event_loop {
            // Sleep until the engine's deadline, the UART or the application's next step.
            let mut next = now + period;
            if let Some(t) = deadline {
                next = next.min(t);
            }
            if let Some(t) = module.next_due() {
                next = next.min(t.max(now + 1));
            }
            next
        } else {
            now + period
        };
    }

    let traffic = e.traffic();
    assert_eq!(traffic.timeouts, 0, "timeouts with a well-behaved module");
    let skipped: usize = app
        .iter()
        .map(|s| s.skipped + s.datagrams.len() - s.next_datagram)
        .sum();
    assert_eq!(
        skipped as u64, traffic.datagrams_dropped,
        "datagrams missing beyond those the engine says it dropped"
    );
    assert_eq!(e.parse_stats().malformed, 0);
}

/// One application step on socket `s`: open it, read everything there is, write more.
fn step<const RX: usize>(e: &mut Sized<RX>, s: &mut AppSocket, now: u64, input: &mut Input<'_>) {
    let id = s.id;
    if !s.opened {
        match e.open(id, "127.0.0.1", 7) {
            Ok(()) => s.opened = true,
            Err(quectel_bc20::Error::Busy) => {}
            Err(err) => panic!("open {id}: {err:?}"),
        }
        return;
    }
    match e.phase(id) {
        SocketPhase::Opening => return,
        SocketPhase::Connected => {}
        p => panic!("{id} is {p:?} at {now}"),
    }
    // Read until there is nothing more.
    loop {
        let size = if s.udp {
            2048
        } else {
            2048 - usize::from(input.byte()) * 8
        };
        let mut buf = vec![0u8; size];
        let n = match e.recv(id, &mut buf) {
            Ok(n) => n,
            Err(err) => panic!("recv {id}: {err:?}"),
        };
        if n == 0 {
            break;
        }
        let got = &buf[..n];
        if tracing() {
            eprintln!("[{now}] app < {id}: {n} bytes");
        }
        if s.udp {
            // One datagram, whole: the next expected one, or one after datagrams the engine
            // dropped whole.
            let mut i = s.next_datagram;
            while i < s.datagrams.len() && s.datagram(i) != got {
                i += 1;
            }
            assert!(
                i < s.datagrams.len(),
                "{id}: a datagram of {n} bytes that was never sent (or not whole, or out of order)"
            );
            s.skipped += i - s.next_datagram;
            s.next_datagram = i + 1;
        } else {
            let at = s.got.len();
            assert!(
                at + n <= s.data.len() && s.data[at..at + n] == *got,
                "{id}: received bytes {at}..{} differ from what was sent",
                at + n
            );
            s.got.extend_from_slice(got);
        }
    }
    if let Some(r) = e.take_send_result(id) {
        let want = s.pending.take().expect("a send result with no send");
        assert_eq!(r, Ok(want), "{id}: send result");
        s.sent += if s.udp { 1 } else { want };
    }
    if s.all_sent() || s.pending.is_some() {
        if s.queued
            && s.all_sent()
            && let Some(r) = e.poll_flush(id)
        {
            assert_eq!(r, Ok(()), "{id}: flush");
        }
        return;
    }
    if s.udp {
        let dgram = s.datagram(s.sent).to_vec();
        match e.send(id, &dgram) {
            Ok(n) => {
                assert_eq!(n, dgram.len(), "a datagram cut by send");
                s.pending = Some(n);
            }
            Err(quectel_bc20::Error::Busy) => {}
            Err(err) => panic!("send {id}: {err:?}"),
        }
        return;
    }
    let max = 1100 - usize::from(input.u16()) % 1100;
    let end = (s.sent + max).min(s.data.len());
    let chunk = &s.data[s.sent..end];
    if s.queued {
        match e.queue_send(id, chunk) {
            Ok(n) => s.sent += n,
            Err(err) => panic!("queue_send {id}: {err:?}"),
        }
    } else {
        match e.send(id, chunk) {
            Ok(0) => {}
            Ok(n) => s.pending = Some(n),
            Err(quectel_bc20::Error::Busy) => {}
            Err(err) => panic!("send {id}: {err:?}"),
        }
    }
}
