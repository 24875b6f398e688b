//! The blocking stack in a superloop, the way superloop and RTIC users drive it: the loop does
//! other work and calls the driver only every 50 to 500 ms (the period varies, deterministic),
//! never spinning on it. Between calls the UART's receive interrupt buffers what the module
//! sends. Over one driver, shared by `embedded_nal::SharableStack`:
//!
//! - minimq 0.10: connect, subscribe, publish a QoS 0 and a QoS 1 message to its own topic
//!   and receive both back byte for byte (the QoS 1 one also acknowledged by the broker);
//! - a TCP echo of 20 KiB through the host's echo server, checked byte for byte.
//!
//! Both run side by side on two sockets. Only bring-up uses a blocking call (the driver's own
//! wait loop, which idles with `wfi`); closing the echo socket is the trait's blocking `close`.
#![no_std]
#![no_main]

use core::net::{IpAddr, SocketAddr};

use bc20_qemu_mps2::app::clock::BoardClock;
use bc20_qemu_mps2::app::config::{self, HOST_IP};
use bc20_qemu_mps2::app::crc32::Crc32;
use bc20_qemu_mps2::app::{self, logger};
use bc20_qemu_mps2::board::{self, time, uart::BlockingUart};
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embedded_nal::{SharableStack, TcpClientStack};
use minimq_010::broker::IpBroker;
use minimq_010::types::{SubscriptionOptions, TopicFilter};
use minimq_010::{Broker, ConfigBuilder, Minimq, Publication, QoS};
use quectel_bc20::Bc20;
use quectel_bc20::engine::Config;
use static_cell::StaticCell;

const NAME: &str = "bc20-blocking";

/// The driver, with the crate's default buffer sizes.
type Driver = Bc20<BlockingUart, BoardClock>;
/// What the clients take: the driver shared between them.
type Net<'a> = embedded_nal::SharedStack<'a, &'a mut Driver>;

/// Bytes sent through the echo server and checked on their way back.
const ECHO_LEN: usize = 20 * 1024;
/// Bytes handed to `send` at a time (the driver sends at most 512 a command anyway).
const ECHO_CHUNK: usize = 512;

/// The whole superloop must be done by then (QEMU's own timeout is longer).
const RUN_TIMEOUT_MS: u64 = 240_000;

const TOPIC: &str = "bc20/qemu/blocking";
/// Published at QoS 0: every byte value.
const QOS0_PAYLOAD: [u8; 256] = pattern::<256>(0);
/// Published at QoS 1: long enough to need two send commands.
const QOS1_PAYLOAD: [u8; 1000] = pattern::<1000>(1);

/// `N` bytes of a seeded, every-value pattern (`echo_byte` with an offset per seed).
const fn pattern<const N: usize>(seed: usize) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = echo_byte(i + seed * 65_536);
        i += 1;
    }
    out
}

/// Byte `i` of the echo stream: every value, not periodic over the stream's length.
const fn echo_byte(i: usize) -> u8 {
    let x = (i as u32).wrapping_mul(0x9E37_79B1);
    (x >> 24) as u8 ^ i as u8
}

#[entry]
fn main() -> ! {
    let Some(uart) = board::init(115_200) else {
        app::finish(NAME, Err("board init"))
    };
    logger::init();
    hprintln!(
        "{}: quectel-bc20 blocking stack in a superloop, mps2-an386",
        NAME
    );
    let driver = driver(uart.blocking());
    board::stack::start_up_done();
    let result = run(driver);
    let t = driver.engine().traffic();
    hprintln!(
        "traffic: {} UART bytes out, {} in, {} AT commands, {} timeouts; payload {} sent, {} received",
        t.tx_bytes,
        t.rx_bytes,
        t.commands,
        t.timeouts,
        t.payload_sent,
        t.payload_received
    );
    app::finish(NAME, result)
}

/// The driver in a `static` (it holds the engine's buffers, about 12 KiB), built in a frame of
/// its own so that `main`'s frame stays small.
#[inline(never)]
fn driver(uart: BlockingUart) -> &'static mut Driver {
    static DRIVER: StaticCell<Driver> = StaticCell::new();
    DRIVER.init_with(|| Bc20::new(uart, BoardClock, Config::default()))
}

/// The superloop's pace: each turn waits a period of 50 to 500 ms, from a fixed sequence that
/// visits the whole range, doing other work meanwhile.
struct Pace {
    lcg: u32,
    next_turn: u64,
    turns: u32,
    shortest: u64,
    longest: u64,
    /// Other work done while waiting (CRC-32 rounds over a small block).
    work: u32,
    crc: Crc32,
}

impl Pace {
    fn new() -> Self {
        Pace {
            lcg: 2026,
            next_turn: time::now_ms(),
            turns: 0,
            shortest: u64::MAX,
            longest: 0,
            work: 0,
            crc: Crc32::new(),
        }
    }

    /// Do other work until the next turn is due, then return: the caller may use the driver.
    fn wait_for_turn(&mut self) {
        let last = self.next_turn;
        self.lcg = self.lcg.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let period = 50 + u64::from(self.lcg >> 8) % 451;
        self.next_turn = last + period;
        while time::now_ms() < self.next_turn {
            // "Other work": a CRC over a block, then sleep until the next interrupt (the
            // tick, or a byte from the module, which the UART interrupt buffers).
            self.crc.update(&self.work.to_le_bytes());
            self.work = self.work.wrapping_add(1);
            cortex_m::asm::wfi();
        }
        // The gap since the previous turn, as it really was.
        if self.turns > 0 {
            let gap = time::now_ms() - last;
            self.shortest = self.shortest.min(gap);
            self.longest = self.longest.max(gap);
        }
        self.turns += 1;
    }
}

fn run(driver: &mut Driver) -> Result<(), &'static str> {
    driver.set_wait_limit(30_000);
    driver.bring_up(30_000).map_err(|e| {
        hprintln!("bring-up: {:?}", e);
        "bring-up"
    })?;
    hprintln!("module ready after {} ms", time::now_ms());

    let shared = SharableStack::new(driver);
    let mut broker = IpBroker::new(IpAddr::V4(HOST_IP));
    broker.set_port(config::MQTT_PORT);
    static MQTT_BUFFER: StaticCell<[u8; 4096]> = StaticCell::new();
    let mqtt_config = ConfigBuilder::new(broker, MQTT_BUFFER.init([0; 4096]))
        .client_id("bc20-qemu-blocking")
        .map_err(|_| "MQTT client id")?
        .keepalive_interval(60);
    let mut mqtt = Minimq::new(shared.acquire(), BoardClock, mqtt_config);
    let mut round = MqttRound::default();
    let mut echo = Echo::default();
    let mut echo_net = shared.acquire();

    let started = time::now_ms();
    let mut pace = Pace::new();
    let outcome = loop {
        pace.wait_for_turn();
        let now = time::now_ms();
        if now - started > RUN_TIMEOUT_MS {
            hprintln!(
                "superloop: out of time; mqtt {:?}, echo {} sent, {} received",
                round,
                echo.sent,
                echo.received
            );
            break Err("superloop timed out");
        }
        let mqtt_done = match round.step(&mut mqtt, pace.turns) {
            Ok(done) => done,
            Err(e) => break Err(e),
        };
        let echo_done = match echo.step(&mut echo_net, pace.turns) {
            Ok(done) => done,
            Err(e) => break Err(e),
        };
        if mqtt_done && echo_done {
            break Ok(());
        }
    };
    hprintln!(
        "superloop: {} turns in {} ms, driver called every {} to {} ms; other work: {} rounds (CRC {:08x})",
        pace.turns,
        time::now_ms() - started,
        pace.shortest,
        pace.longest,
        pace.work,
        pace.crc.value()
    );
    outcome
}

/// The MQTT exchange, one step a turn.
#[derive(Debug, Default)]
struct MqttRound {
    connected: bool,
    subscribed: bool,
    sent_qos0: bool,
    sent_qos1: bool,
    got_qos0: bool,
    got_qos1: bool,
}

/// What a received message was.
enum Received {
    Qos0,
    Qos1,
    Other(usize),
}

impl MqttRound {
    /// One turn: let minimq work (it calls the driver), then take the next step. `Ok(true)`
    /// once both messages came back and the broker acknowledged the QoS 1 one.
    fn step(
        &mut self,
        mqtt: &mut Minimq<'_, Net<'_>, BoardClock, IpBroker>,
        turn: u32,
    ) -> Result<bool, &'static str> {
        loop {
            let received = mqtt
                .poll(|_client, topic, payload, _props| {
                    if topic != TOPIC {
                        Received::Other(payload.len())
                    } else if payload == &QOS0_PAYLOAD[..] {
                        Received::Qos0
                    } else if payload == &QOS1_PAYLOAD[..] {
                        Received::Qos1
                    } else {
                        Received::Other(payload.len())
                    }
                })
                .map_err(|e| {
                    hprintln!("mqtt: {:?}", e);
                    "MQTT poll"
                })?;
            match received {
                None => break,
                Some(Received::Qos0) => {
                    hprintln!(
                        "mqtt: turn {}: QoS 0 message (256 bytes) came back intact",
                        turn
                    );
                    self.got_qos0 = true;
                }
                Some(Received::Qos1) => {
                    hprintln!(
                        "mqtt: turn {}: QoS 1 message (1000 bytes) came back intact",
                        turn
                    );
                    self.got_qos1 = true;
                }
                Some(Received::Other(len)) => {
                    hprintln!("mqtt: turn {}: unexpected message of {} bytes", turn, len);
                    return Err("MQTT message differs");
                }
            }
        }
        let client = mqtt.client();
        if !client.is_connected() {
            return Ok(false);
        }
        if !self.connected {
            self.connected = true;
            hprintln!("mqtt: turn {}: connected", turn);
        }
        if !self.subscribed {
            // QoS 0 deliveries, as minimq 0.10 needs on this stack (see the crate's README).
            let filter = TopicFilter::new(TOPIC)
                .options(SubscriptionOptions::default().maximum_qos(QoS::AtMostOnce));
            match client.subscribe(&[filter], &[]) {
                Ok(()) => self.subscribed = true,
                // The CONNECT's last bytes still wait for their SEND OK: next turn.
                Err(minimq_010::Error::NotReady) => return Ok(false),
                Err(e) => {
                    hprintln!("mqtt: subscribe: {:?}", e);
                    return Err("MQTT subscribe");
                }
            }
        }
        if client.subscriptions_pending() {
            return Ok(false);
        }
        if !self.sent_qos0 && client.can_publish(QoS::AtMostOnce) {
            match client.publish(Publication::new(TOPIC, &QOS0_PAYLOAD[..]).qos(QoS::AtMostOnce)) {
                Ok(()) => {
                    self.sent_qos0 = true;
                    hprintln!("mqtt: turn {}: subscribed; published at QoS 0", turn);
                }
                Err(minimq_010::PubError::Error(minimq_010::Error::NotReady)) => {}
                Err(e) => {
                    hprintln!("mqtt: publish: {:?}", e);
                    return Err("MQTT publish");
                }
            }
        } else if self.sent_qos0 && !self.sent_qos1 && client.can_publish(QoS::AtLeastOnce) {
            match client.publish(Publication::new(TOPIC, &QOS1_PAYLOAD[..]).qos(QoS::AtLeastOnce)) {
                Ok(()) => {
                    self.sent_qos1 = true;
                    hprintln!("mqtt: turn {}: published at QoS 1", turn);
                }
                Err(minimq_010::PubError::Error(minimq_010::Error::NotReady)) => {}
                Err(e) => {
                    hprintln!("mqtt: publish: {:?}", e);
                    return Err("MQTT publish");
                }
            }
        }
        Ok(self.got_qos0 && self.got_qos1 && self.sent_qos1 && !client.pending_messages())
    }
}

/// The echo: send [`ECHO_LEN`] bytes, read them back, compare each.
#[derive(Default)]
struct Echo {
    socket: Option<<Driver as TcpClientStack>::TcpSocket>,
    connected: bool,
    sent: usize,
    received: usize,
    done: bool,
}

impl Echo {
    /// One turn: at most one `nb` call of each kind, and reads until the driver has nothing
    /// more. `Ok(true)` once everything came back and the socket is closed.
    fn step(&mut self, net: &mut Net<'_>, turn: u32) -> Result<bool, &'static str> {
        if self.done {
            return Ok(true);
        }
        let remote = SocketAddr::new(IpAddr::V4(HOST_IP), config::ECHO_PORT);
        let socket = match &mut self.socket {
            Some(s) => s,
            None => self.socket.insert(net.socket().map_err(|e| {
                hprintln!("echo: socket: {:?}", e);
                "echo socket"
            })?),
        };
        if !self.connected {
            match net.connect(socket, remote) {
                Ok(()) => {
                    self.connected = true;
                    hprintln!("echo: turn {}: connected to {}", turn, remote);
                }
                Err(nb::Error::WouldBlock) => return Ok(false),
                Err(nb::Error::Other(e)) => {
                    hprintln!("echo: connect to {}: {:?}", remote, e);
                    return Err("echo connect");
                }
            }
        }
        if self.sent < ECHO_LEN {
            // The same bytes on every retry of this chunk, as `nb` requires.
            let mut chunk = [0u8; ECHO_CHUNK];
            let n = ECHO_CHUNK.min(ECHO_LEN - self.sent);
            for (k, b) in chunk[..n].iter_mut().enumerate() {
                *b = echo_byte(self.sent + k);
            }
            match net.send(socket, &chunk[..n]) {
                Ok(k) => self.sent += k,
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(e)) => {
                    hprintln!("echo: send at {}: {:?}", self.sent, e);
                    return Err("echo send");
                }
            }
        }
        let mut buf = [0u8; 512];
        loop {
            match net.receive(socket, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for (k, &b) in buf[..n].iter().enumerate() {
                        let at = self.received + k;
                        if at >= ECHO_LEN || b != echo_byte(at) {
                            hprintln!("echo: byte {} is {:#04x}, not what was sent", at, b);
                            return Err("echo differs");
                        }
                    }
                    self.received += n;
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => {
                    hprintln!("echo: receive at {}: {:?}", self.received, e);
                    return Err("echo receive");
                }
            }
        }
        if self.received == ECHO_LEN {
            if let Some(s) = self.socket.take() {
                net.close(s).map_err(|e| {
                    hprintln!("echo: close: {:?}", e);
                    "echo close"
                })?;
            }
            hprintln!(
                "echo: turn {}: {} bytes sent and received back intact",
                turn,
                ECHO_LEN
            );
            self.done = true;
        }
        Ok(self.done)
    }
}
