//! reqwless 0.14 through the emulated module to a real HTTP server (hyper 1 on tokio): GET and
//! POST bodies of several sizes compared byte for byte, the host given as a name (resolved by
//! the stack's `Dns` through `AT+QIDNSGIP`) and as an IP literal, in both access modes.
#![cfg(feature = "sim")]

mod async_support;

use std::net::{Ipv4Addr, SocketAddr};

use async_support::{Harness, STEP, assert_same, engine_config, http_server, pattern, within};
use quectel_bc20::{AccessMode, sim};
use reqwless::client::HttpClient;
use reqwless::headers::ContentType;
use reqwless::request::{Method, RequestBuilder};
use reqwless::response::StatusCode;

const SIZES: [usize; 7] = [0, 1, 511, 512, 513, 4096, 100 * 1024];
const NAME: &str = "files.bc20.test";

/// An emulator that resolves `NAME` to 127.0.0.1 and never asks the host resolver.
fn sim_config() -> sim::Config {
    let mut c = sim::Config {
        use_host_resolver: false,
        ..sim::Config::default()
    };
    c.dns_overrides
        .insert(NAME.into(), vec![Ipv4Addr::LOCALHOST]);
    c
}

/// GET `/bytes/N` and POST `/echo` for every size, one request per connection.
async fn get_and_post<const S: usize>(h: &Harness<S>, server: SocketAddr, host: &str) {
    let mut client = HttpClient::new(h.stack, h.stack);
    let mut rx_buf = vec![0u8; 128 * 1024];
    for n in SIZES {
        let url = format!("http://{host}:{}/bytes/{n}", server.port());
        let body = within(STEP * 3, &format!("GET {n}"), async {
            let mut req = client.request(Method::GET, &url).await.unwrap();
            let resp = req.send(&mut rx_buf).await.unwrap();
            assert_eq!(resp.status, StatusCode(200));
            assert_eq!(resp.content_length, Some(n));
            resp.body().read_to_end().await.unwrap().to_vec()
        })
        .await;
        assert_same(&body, &pattern(n, n as u64), &format!("GET {n} via {host}"));

        let data = pattern(n, 1_000 + n as u64);
        let url = format!("http://{host}:{}/echo", server.port());
        let body = within(STEP * 3, &format!("POST {n}"), async {
            let mut req = client
                .request(Method::POST, &url)
                .await
                .unwrap()
                .body(&data[..])
                .content_type(ContentType::ApplicationOctetStream);
            let resp = req.send(&mut rx_buf).await.unwrap();
            assert_eq!(resp.status, StatusCode(200));
            resp.body().read_to_end().await.unwrap().to_vec()
        })
        .await;
        assert_same(&body, &data, &format!("POST {n} via {host}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_post_buffer_mode_by_name_and_by_ip() {
    let server = http_server().await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    get_and_post(&h, server, NAME).await;
    get_and_post(&h, server, "127.0.0.1").await;
}

/// In direct push the module pushes a response as it arrives, whether or not the application
/// reads, and the driver never drops data. Over loopback the whole response arrives before
/// the request's `SEND OK`; with a socket buffer that holds the largest response (100 KiB and
/// headers) nothing is ever held back.
const PUSH_SOCK_RX: usize = 100 * 1024 + 4096;

/// The same with the default 1,536-byte socket buffers: a response larger than the buffer
/// holds the module's output back, with the request's `SEND OK` behind it, while reqwless
/// awaits `flush` before it reads. The flush does not wait for a `SEND OK` held back by the
/// socket's own data (every byte is in the module), so reqwless reads and the output flows
/// again. `SEND OK` comes 20 ms after each send, so every response is pushed before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_post_direct_push_with_default_socket_buffers() {
    let server = http_server().await;
    let c = sim::Config {
        send_ok_delay: std::time::Duration::from_millis(20),
        ..sim_config()
    };
    let h: Harness = async_support::start(c, engine_config(AccessMode::DirectPush)).await;
    get_and_post(&h, server, NAME).await;
    assert_eq!(h.stack.traffic().timeouts, 0);
}

#[test]
fn get_and_post_direct_push_by_name_and_by_ip() {
    // Five socket buffers of 104 KiB are built on the stack before they are boxed.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let server = http_server().await;
                    let h: Harness<PUSH_SOCK_RX> =
                        async_support::start(sim_config(), engine_config(AccessMode::DirectPush))
                            .await;
                    get_and_post(&h, server, NAME).await;
                    get_and_post(&h, server, "127.0.0.1").await;
                })
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A name the module cannot resolve fails the request instead of connecting somewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_name_fails_with_a_dns_error() {
    let server = http_server().await;
    let mut c = sim_config();
    c.dns_overrides.insert("nowhere.bc20.test".into(), vec![]);
    let h: Harness = async_support::start(c, engine_config(AccessMode::Buffer)).await;
    let mut client = HttpClient::new(h.stack, h.stack);
    let url = format!("http://nowhere.bc20.test:{}/bytes/1", server.port());
    let r = within(STEP, "request", client.request(Method::GET, &url)).await;
    assert!(matches!(r, Err(reqwless::Error::Dns)), "{:?}", r.err());
}
