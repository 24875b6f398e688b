//! Shared harness of the async-stack tests under tokio: the emulator, a leaked `State`, the
//! runner on its own task, deterministic data, a hyper HTTP server and a mosquitto guard.
//! Every wait of a test goes through [`within`], so a bug fails instead of hanging.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use quectel_bc20::asynch::{self, State};
use quectel_bc20::host::StdDelay;
use quectel_bc20::sim::{self, Emulator};
use quectel_bc20::{AccessMode, StdClock, engine};

pub type Mx = CriticalSectionRawMutex;
/// The stack with the default buffer sizes.
pub type Stack = asynch::Stack<'static, Mx>;

/// How long any single step of a test may take before it counts as hung.
pub const STEP: Duration = Duration::from_secs(10);

/// Await `f` for at most `d`; panic with `what` when it does not finish.
pub async fn within<F: Future>(d: Duration, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(d, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// The stack over an emulated module, its runner spawned on the tokio runtime.
pub struct Harness<const SOCK_RX: usize = 1536> {
    /// Leaked, so connections (which borrow the stack) can move into spawned tasks.
    pub stack: &'static asynch::Stack<'static, Mx, 5, SOCK_RX>,
    pub emu: Emulator,
    runner: tokio::task::JoinHandle<()>,
}

impl<const SOCK_RX: usize> Drop for Harness<SOCK_RX> {
    fn drop(&mut self) {
        self.runner.abort();
    }
}

/// An engine config with `mode` for new sockets.
pub fn engine_config(mode: AccessMode) -> engine::Config {
    engine::Config {
        access_mode: mode,
        ..engine::Config::default()
    }
}

/// Start the emulator with `sim_config`, the driver with `config`, and wait until the module
/// is ready.
pub async fn start<const SOCK_RX: usize>(
    sim_config: sim::Config,
    config: engine::Config,
) -> Harness<SOCK_RX> {
    let (host, emu) = sim::start(sim_config);
    let (rx, tx) = host.split();
    let state: &'static State<Mx, 5, SOCK_RX> = Box::leak(Box::new(State::sized(config)));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    let runner = tokio::spawn(async move {
        runner.run().await;
    });
    within(STEP, "module ready", stack.wait_ready())
        .await
        .expect("module ready");
    let stack = Box::leak(Box::new(stack));
    Harness { stack, emu, runner }
}

/// The default harness: default emulator, buffer access mode, default buffer sizes.
pub async fn start_default() -> Harness {
    start(sim::Config::default(), engine::Config::default()).await
}

/// `len` deterministic pseudo-random bytes (xorshift64*, seeded), different for each seed.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Panic with the first differing offset instead of dumping kilobytes.
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: {} bytes received, {} expected, first difference at {at}",
            got.len(),
            want.len()
        );
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A hyper 1 HTTP/1.1 server on 127.0.0.1 (port 0): `GET /bytes/N` answers
/// `pattern(N, N)`, `POST /echo` answers the request body. Runs until the runtime ends.
pub async fn http_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, hyper::service::service_fn(serve))
                    .await;
            });
        }
    });
    addr
}

async fn serve(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        Ok(r)
    };
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, p) if p.starts_with("/bytes/") => match p[7..].parse::<usize>() {
            Ok(n) => reply(StatusCode::OK, pattern(n, n as u64)),
            Err(_) => reply(StatusCode::BAD_REQUEST, Vec::new()),
        },
        (Method::POST, "/echo") => match req.into_body().collect().await {
            Ok(b) => reply(StatusCode::OK, b.to_bytes().to_vec()),
            Err(_) => reply(StatusCode::BAD_REQUEST, Vec::new()),
        },
        _ => reply(StatusCode::NOT_FOUND, Vec::new()),
    }
}

/// A TCP echo server on 127.0.0.1 (tokio) that also reports, per connection, every byte it
/// received once the client closed (EOF). Returns its port and the receiver of those reports.
pub async fn tcp_echo_reporting() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut b = [0u8; 4096];
                loop {
                    match s.read(&mut b).await {
                        Ok(0) => {
                            let _ = tx.send(seen);
                            return;
                        }
                        Ok(n) => {
                            seen.extend_from_slice(&b[..n]);
                            if s.write_all(&b[..n]).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (port, rx)
}

/// A mosquitto broker on a free 127.0.0.1 port, killed when dropped.
pub struct Mosquitto {
    child: std::process::Child,
    dir: std::path::PathBuf,
    pub port: u16,
}

impl Mosquitto {
    /// Start mosquitto (from `PATH` or `/usr/sbin`) and wait until it accepts connections.
    pub fn start() -> Mosquitto {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir =
            std::env::temp_dir().join(format!("bc20-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_type all\n"
            ),
        )
        .unwrap();
        let bin = ["mosquitto", "/usr/sbin/mosquitto"]
            .into_iter()
            .find(|b| {
                std::process::Command::new(b)
                    .arg("-h")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok()
            })
            .expect("mosquitto not installed (apt-get install -y mosquitto)");
        let child = std::process::Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            // Opened here, so the broker can write it even when it drops root privileges.
            .stderr(std::fs::File::create(dir.join("mosquitto.log")).unwrap())
            .spawn()
            .expect("start mosquitto");
        let guard = Mosquitto { child, dir, port };
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < end, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        guard
    }
}

impl Mosquitto {
    /// The broker's log so far (`log_type all`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
