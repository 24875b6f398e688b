//! The async stack over the emulator's pipe under tokio: reqwless GET through the module.
#![cfg(feature = "sim")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use quectel_bc20::StdClock;
use quectel_bc20::asynch::{self, State};
use quectel_bc20::engine::Config;
use quectel_bc20::host::StdDelay;
use quectel_bc20::sim;

/// A tiny HTTP/1.1 server: `GET /bytes/N` answers N deterministic bytes.
fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { break };
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let n: usize = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.strip_prefix("/bytes/"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() <= 2 {
                        break;
                    }
                }
                let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                c.write_all(&body).unwrap();
                let _ = c.read(&mut [0u8; 1]);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwless_get_through_the_emulated_module() {
    let port = http_server();
    let (host, _emu) = sim::start(sim::Config::default());
    let (rx, tx) = host.split();
    let state: &'static State<CriticalSectionRawMutex> =
        Box::leak(Box::new(State::new(Config::default())));
    let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
    tokio::spawn(async move { runner.run().await });
    tokio::time::timeout(std::time::Duration::from_secs(10), stack.wait_ready())
        .await
        .expect("module ready");

    let mut client = reqwless::client::HttpClient::new(&stack, &stack);
    let url = format!("http://127.0.0.1:{port}/bytes/3000");
    let mut rx_buf = vec![0u8; 8192];
    let mut req = client
        .request(reqwless::request::Method::GET, &url)
        .await
        .unwrap();
    let resp = req.send(&mut rx_buf).await.unwrap();
    assert_eq!(resp.status, reqwless::response::StatusCode(200));
    let body = resp.body().read_to_end().await.unwrap();
    let expected: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
    assert_eq!(body, &expected[..]);
}
