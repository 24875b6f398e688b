//! The async stack on embassy: bring-up, a DNS lookup through the module, then two tasks on
//! two sockets at once: a reqwless GET of a page from the host's HTTP server (checked by length
//! and CRC-32) and a minimq 0.13 publish/subscribe round trip through the host's mosquitto.
//!
//! The sockets overlap by construction: the MQTT task publishes once the HTTP response has
//! begun (each message prints how much of the page had arrived when it came back), then asks
//! the module for its sockets (`AT+QISTATE`) and expects both open (connected, or closed by
//! the server with data still to read); the HTTP task keeps its connection until then.
//!
//! Then TLS on the target: once the MQTT task is done, the HTTP task GETs the same page from
//! the host's HTTPS server with reqwless and embedded-tls 0.18 (TLS 1.3), the server's
//! certificate verified against the test CA the build was given and its CN against the name
//! the module resolved; checked by length and CRC-32 like the plain one.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::{IpAddr, SocketAddr};
use core::sync::atomic::{AtomicUsize, Ordering};

use bc20_qemu_mps2::app::clock::BoardClock;
use bc20_qemu_mps2::app::config::{self, HOST_IP, HOST_NAME};
use bc20_qemu_mps2::app::crc32::{self, Crc32};
use bc20_qemu_mps2::app::{self, logger};
use bc20_qemu_mps2::board::{self, time, uart};
use cortex_m_semihosting::hprintln;
use embassy_executor::Spawner;
use embassy_futures::join::join;
use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex};
use embassy_sync::signal::Signal;
use embassy_time::{Delay, Duration, with_timeout};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use minimq::{Buffers, ConfigBuilder, Publication, QoS, Session, SubscriptionOptions, TopicFilter};
use quectel_bc20::asynch::{self, Runner, Stack, State};
use quectel_bc20::engine::Config;
use quectel_bc20::{ServiceType, SocketState};
use reqwless::client::{HttpClient, TlsConfig, TlsVerify};
use reqwless::request::Method;
use static_cell::{ConstStaticCell, StaticCell};

const NAME: &str = "bc20-async";

/// The whole run must be over by then (QEMU's own timeout is longer).
const RUN_TIMEOUT_S: u64 = 120;

/// One executor and no driver state in interrupts: the driver needs no critical sections.
type M = NoopRawMutex;
type Bc20Stack = Stack<'static, M>;
type Modem = Runner<'static, M, uart::UartRx, uart::UartTx, BoardClock, Delay>;

/// Between the tasks: `true` when the event happened, `false` when that task failed.
type Flag = Signal<CriticalSectionRawMutex, bool>;
/// The HTTP response has begun: its socket is open.
static HTTP_OPEN: Flag = Signal::new();
/// The MQTT task is done with its checks (the HTTP task may close).
static MQTT_DONE: Flag = Signal::new();
/// Body bytes of the page received so far.
static PAGE_PROGRESS: AtomicUsize = AtomicUsize::new(0);

type Outcome = Signal<CriticalSectionRawMutex, Result<(), &'static str>>;
static HTTP_RESULT: Outcome = Signal::new();
static MQTT_RESULT: Outcome = Signal::new();

#[embassy_executor::task]
async fn modem(mut runner: Modem) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn http_task(stack: Bc20Stack) {
    let r = http_get(stack).await;
    if r.is_err() {
        HTTP_OPEN.signal(false);
    }
    // Then the HTTPS GET, in this task rather than a task of its own: with reqwless's
    // `embedded-tls` feature the future of every `HttpClient::request`, plain or not, has room
    // for the TLS handshake (about 12 KiB), and two GETs one after the other in one task
    // share that room.
    let r = match r {
        Ok(()) => https_get(stack).await,
        Err(e) => Err(e),
    };
    HTTP_RESULT.signal(r);
}

#[embassy_executor::task]
async fn mqtt_task(stack: Bc20Stack) {
    let r = mqtt_round_trip(stack).await;
    if r.is_err() {
        MQTT_DONE.signal(false);
    }
    MQTT_RESULT.signal(r);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(uart) = board::init(115_200) else {
        app::finish(NAME, Err("board init"))
    };
    logger::init();
    hprintln!("{}: quectel-bc20 async stack on embassy, mps2-an386", NAME);
    if !crc32::self_test() {
        app::finish(NAME, Err("CRC-32 self-test"));
    }

    let state = driver_state();
    let (rx, tx) = uart.split();
    let (stack, runner) = asynch::new(state, rx, tx, BoardClock, Delay);
    spawner.spawn(modem(runner).expect("one modem task"));
    board::stack::start_up_done();

    let result = match with_timeout(Duration::from_secs(RUN_TIMEOUT_S), run(spawner, stack)).await {
        Ok(r) => r,
        Err(_) => Err("run timed out"),
    };
    let t = stack.traffic();
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

/// The driver's state in a `static`, built at start-up. `State::new` is a `const fn`, but a
/// `ConstStaticCell` would put the whole 15 KB value, buffers included, in `.data`: a 15 KB
/// image in flash. Built here, it goes through the stack once (a frame of its size); in a
/// function of its own, that temporary lives in this frame only, not in the main task's
/// frame on every poll.
#[inline(never)]
fn driver_state() -> &'static State<M> {
    static STATE: StaticCell<State<M>> = StaticCell::new();
    STATE.init_with(|| State::new(Config::default()))
}

async fn run(spawner: Spawner, stack: Bc20Stack) -> Result<(), &'static str> {
    stack.bring_up(30_000).await.map_err(|e| {
        hprintln!("bring-up: {:?}", e);
        "bring-up"
    })?;
    hprintln!("module ready after {} ms", time::now_ms());

    let ip = stack
        .get_host_by_name(HOST_NAME, AddrType::IPv4)
        .await
        .map_err(|e| {
            hprintln!("DNS lookup of {}: {:?}", HOST_NAME, e);
            "DNS lookup"
        })?;
    hprintln!("{} is {} (AT+QIDNSGIP)", HOST_NAME, ip);
    if ip != IpAddr::V4(HOST_IP) {
        return Err("DNS lookup gave the wrong address");
    }

    spawner.spawn(http_task(stack).map_err(|_| "spawn HTTP task")?);
    spawner.spawn(mqtt_task(stack).map_err(|_| "spawn MQTT task")?);
    let (http, mqtt) = join(HTTP_RESULT.wait(), MQTT_RESULT.wait()).await;
    http.and(mqtt)
}

/// The buffers of the one TLS connection (README, "TLS", "Buffers and RAM"): the read buffer
/// holds a whole record (16 KiB of plaintext and 256 bytes; the server fills records that
/// large with a 20 KiB page), the write buffer records of up to 384 bytes of plaintext.
struct TlsBuffers {
    /// TLS records in.
    read: [u8; 16_640],
    /// TLS records out.
    write: [u8; 512],
    /// The response's status line and headers.
    headers: [u8; 1024],
}

/// Const-initialised to zeros: in `.bss` from the start, never built on a task's stack or
/// copied from flash.
static TLS_BUFFERS: ConstStaticCell<TlsBuffers> = ConstStaticCell::new(TlsBuffers {
    read: [0; 16_640],
    write: [0; 512],
    headers: [0; 1024],
});

/// GET `/page` over HTTPS with reqwless and embedded-tls by the module-resolved name: the
/// server's certificate must chain to [`config::TLS_CA`] and carry that name as its CN.
/// Check the page's length and CRC-32. A build without a seed or a CA fails here, saying so.
///
/// The stack's sockets are in buffer access mode (the driver's default), which TLS wants: the
/// module keeps what the server sends until the driver reads it, so the handshake's flight
/// and the response need not fit in the socket's receive buffer (README, "Why buffer access
/// mode").
async fn https_get(stack: Bc20Stack) -> Result<(), &'static str> {
    let Some(seed) = config::TLS_SEED else {
        hprintln!("https: no TLS seed: build with BC20_QEMU_TLS_SEED (scripts/qemu-test does)");
        return Err("HTTPS without a TLS seed");
    };
    if config::TLS_CA.is_empty() {
        hprintln!(
            "https: no CA certificate: build with BC20_QEMU_TLS_CA=path/to/ca.der (scripts/qemu-test does)"
        );
        return Err("HTTPS without a CA certificate");
    }
    let buffers = TLS_BUFFERS.try_take().ok_or("TLS buffers already taken")?;
    let mut url = heapless::String::<64>::new();
    write!(url, "https://{}:{}/page", HOST_NAME, config::HTTPS_PORT).map_err(|_| "URL")?;

    let started = time::now_ms();
    let verify = TlsVerify::Certificate {
        ca: config::TLS_CA,
        cert: None,
        key: None,
    };
    // One client for this one connection: reqwless seeds every connection of a client with
    // the same seed, which would repeat the handshake's ephemeral key.
    let tls = TlsConfig::new(seed, &mut buffers.read, &mut buffers.write, verify);
    let mut client = HttpClient::new_with_tls(&stack, &stack, tls);
    // DNS, TCP connect and the TLS handshake.
    let mut request = client.request(Method::GET, &url).await.map_err(|e| {
        hprintln!("GET {}: {:?}", url, e);
        "HTTPS connect and handshake"
    })?;
    let handshake_ms = time::now_ms().saturating_sub(started);
    hprintln!(
        "https: TLS 1.3 handshake with {} done in {} ms, server verified against the test CA",
        HOST_NAME,
        handshake_ms
    );
    let response = request.send(&mut buffers.headers).await.map_err(|e| {
        hprintln!("GET {}: {:?}", url, e);
        "HTTPS request"
    })?;
    hprintln!(
        "GET {}: status {}, content-length {:?}",
        url,
        response.status.0,
        response.content_length
    );
    if !response.status.is_successful() {
        return Err("HTTPS status");
    }

    let (len, crc) = read_body(&mut response.body().reader(), "HTTPS body", |_| {}).await?;
    let ms = time::now_ms().saturating_sub(started);
    let ok = len >= 16 * 1024 && len == config::PAGE_LEN && crc == config::PAGE_CRC;
    hprintln!(
        "https: {} bytes, CRC {} ({:08x}; expected {} bytes, {:08x}), handshake+GET in {} ms (handshake {} ms)",
        len,
        if ok { "ok" } else { "WRONG" },
        crc,
        config::PAGE_LEN,
        config::PAGE_CRC,
        ms,
        handshake_ms
    );
    if !ok {
        return Err("HTTPS page length or CRC-32");
    }
    Ok(())
}

/// GET `/page` with reqwless by the module-resolved name; check its length and CRC-32.
async fn http_get(stack: Bc20Stack) -> Result<(), &'static str> {
    let mut url = heapless::String::<64>::new();
    write!(url, "http://{}:{}/page", HOST_NAME, config::HTTP_PORT).map_err(|_| "URL")?;
    let mut client = HttpClient::new(&stack, &stack);
    let mut request = client.request(Method::GET, &url).await.map_err(|e| {
        hprintln!("GET {}: {:?}", url, e);
        "HTTP connect"
    })?;
    let mut header_buf = [0u8; 1024];
    let response = request.send(&mut header_buf).await.map_err(|e| {
        hprintln!("GET {}: {:?}", url, e);
        "HTTP request"
    })?;
    hprintln!(
        "GET {}: status {}, content-length {:?}",
        url,
        response.status.0,
        response.content_length
    );
    if !response.status.is_successful() {
        return Err("HTTP status");
    }
    HTTP_OPEN.signal(true);

    let started = time::now_ms();
    let (len, crc) = read_body(&mut response.body().reader(), "HTTP body", |len| {
        PAGE_PROGRESS.store(len, Ordering::Relaxed)
    })
    .await?;
    let ms = time::now_ms().saturating_sub(started).max(1);
    hprintln!(
        "body: {} bytes in {} ms ({} B/s), CRC-32 {:08x}; expected {} bytes, {:08x}",
        len,
        ms,
        len as u64 * 1000 / ms,
        crc,
        config::PAGE_LEN,
        config::PAGE_CRC
    );
    // Keep the connection until the MQTT task has seen both sockets.
    if !MQTT_DONE.wait().await {
        return Err("MQTT task failed");
    }
    if len < 16 * 1024 || len != config::PAGE_LEN || crc != config::PAGE_CRC {
        return Err("HTTP page length or CRC-32");
    }
    Ok(())
}

/// minimq 0.13: connect and subscribe; once the HTTP response has begun, publish two messages
/// at QoS 1 and receive them back byte for byte; then check that both sockets are open.
async fn mqtt_round_trip(stack: Bc20Stack) -> Result<(), &'static str> {
    const TOPIC: &str = "bc20/qemu/async";
    let broker = SocketAddr::new(IpAddr::V4(HOST_IP), config::MQTT_PORT);
    let tcp = stack.connect(broker).await.map_err(|e| {
        hprintln!("TCP connect to {}: {:?}", broker, e);
        "MQTT TCP connect"
    })?;
    hprintln!("mqtt: TCP connected to {} (socket {:?})", broker, tcp.id());
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let config = ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
        .client_id("bc20-qemu-async")
        .map_err(|_| "MQTT client id")?
        .keepalive_interval(60);
    let mut session = Session::new(config);
    let mut conn = session.connect(tcp).await.map_err(|e| {
        hprintln!("MQTT connect: {:?}", e);
        "MQTT connect"
    })?;
    let filter = [TopicFilter::new(TOPIC)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce))];
    let sub = conn.subscribe(&filter, &[]).await.map_err(|e| {
        hprintln!("MQTT subscribe: {:?}", e);
        "MQTT subscribe"
    })?;
    while !conn.is_complete(&sub) {
        conn.poll().await.map_err(|e| {
            hprintln!("MQTT SUBACK: {:?}", e);
            "MQTT SUBACK"
        })?;
    }
    hprintln!("mqtt: connected and subscribed to {}", TOPIC);

    if !HTTP_OPEN.wait().await {
        return Err("HTTP task failed");
    }
    let mut payload = [0u8; 300];
    for (i, b) in payload.iter_mut().enumerate() {
        *b = i as u8;
    }
    for round in 0..2u8 {
        payload[0] = round;
        let op = conn
            .publish(Publication::bytes(TOPIC, &payload[..]).qos(QoS::AtLeastOnce))
            .await
            .map_err(|e| {
                hprintln!("MQTT publish: {:?}", e);
                "MQTT publish"
            })?;
        let m = conn.recv().await.map_err(|e| {
            hprintln!("MQTT receive: {:?}", e);
            "MQTT receive"
        })?;
        if m.topic() != TOPIC || m.payload() != &payload[..] {
            hprintln!(
                "mqtt: got {} bytes on {}, not the {} published",
                m.payload().len(),
                m.topic(),
                payload.len()
            );
            return Err("MQTT message differs");
        }
        if let Some(op) = op {
            while !conn.is_complete(&op) {
                conn.poll().await.map_err(|e| {
                    hprintln!("MQTT PUBACK: {:?}", e);
                    "MQTT PUBACK"
                })?;
            }
        }
        hprintln!(
            "mqtt: message {} ({} bytes, QoS 1) came back intact; page at {} of {} bytes",
            round,
            payload.len(),
            PAGE_PROGRESS.load(Ordering::Relaxed),
            config::PAGE_LEN
        );
    }

    // Both sockets at once, as the module sees them.
    let asked = time::now_ms();
    let sockets = stack.socket_state(None).await.map_err(|e| {
        hprintln!("AT+QISTATE: {:?}", e);
        "AT+QISTATE"
    })?;
    hprintln!(
        "AT+QISTATE answered in {} ms:",
        time::now_ms().saturating_sub(asked)
    );
    for s in &sockets {
        hprintln!(
            "  socket {:?}: {:?} {}:{} {:?}",
            s.id,
            s.service,
            s.remote.as_str(),
            s.remote_port,
            s.state
        );
    }
    // Closing: the server has closed (the HTTP server does after the page) and data may still
    // wait in the module; the socket is ours until we close it.
    let open = sockets
        .iter()
        .filter(|s| {
            s.service == ServiceType::Tcp
                && matches!(s.state, SocketState::Connected | SocketState::Closing)
        })
        .count();
    hprintln!("mqtt: {} TCP sockets open at once", open);
    if open < 2 {
        return Err("fewer than two sockets in use at once");
    }
    conn.disconnect().await.map_err(|e| {
        hprintln!("MQTT disconnect: {:?}", e);
        "MQTT disconnect"
    })?;
    MQTT_DONE.signal(true);
    Ok(())
}

/// Read a response body to its end: its length and CRC-32. `progress` hears the length so
/// far after each read; `what` names the failure.
async fn read_body<R: embedded_io_async::Read>(
    reader: &mut R,
    what: &'static str,
    mut progress: impl FnMut(usize),
) -> Result<(usize, u32), &'static str> {
    let mut chunk = [0u8; 512];
    let mut crc = Crc32::new();
    let mut len = 0usize;
    loop {
        let n = reader.read(&mut chunk).await.map_err(|e| {
            hprintln!("{} after {} bytes: {:?}", what, len, e);
            what
        })?;
        if n == 0 {
            return Ok((len, crc.value()));
        }
        crc.update(&chunk[..n]);
        len += n;
        progress(len);
    }
}
