//! HTTPS through the emulated module: reqwless 0.14 with embedded-tls 0.18 over the async
//! stack, against a real TLS server (hyper 1 over tokio-rustls, ring provider) whose
//! certificates come from a throwaway rcgen CA. Bodies are compared byte for byte; every
//! server certificate is verified against the test's CA; refusals and truncated servers must
//! end in errors, within bounded time.
#![cfg(feature = "sim")]

mod async_support;
mod tls_support;

use std::net::SocketAddr;
use std::time::Duration;

use async_support::{Harness, STEP, assert_same, engine_config, pattern, within};
use embedded_tls::TlsError;
use quectel_bc20::AccessMode;
use reqwless::client::{HttpClient, HttpRequestHandle, TlsConfig, TlsVerify};
use reqwless::headers::ContentType;
use reqwless::request::{Method, RequestBody, RequestBuilder};
use tls_support::{Cut, NAME, Pki, TLS_RX, TLS_TX, cutting_server, https_server, seed, sim_config};

/// What one request through the module returned: status and body.
type Fetched = Result<(u16, Vec<u8>), reqwless::Error>;

/// One HTTPS request on a connection of its own, the server verified against `ca`. A fresh
/// client (and so a fresh seed) for every connection: reqwless seeds its RNG from the same
/// `u64` on every connection of one client.
async fn fetch<const S: usize>(
    h: &Harness<S>,
    ca: &[u8],
    method: Method,
    url: &str,
    body: Option<&[u8]>,
) -> Fetched {
    fetch_with(h, TLS_RX, ca, method, url, body).await
}

/// [`fetch`] with a TLS read buffer of `tls_rx` bytes.
async fn fetch_with<const S: usize>(
    h: &Harness<S>,
    tls_rx: usize,
    ca: &[u8],
    method: Method,
    url: &str,
    body: Option<&[u8]>,
) -> Fetched {
    let (mut tls_rx, mut tls_tx) = (vec![0u8; tls_rx], vec![0u8; TLS_TX]);
    let verify = TlsVerify::Certificate {
        ca,
        cert: None,
        key: None,
    };
    let tls = TlsConfig::new(seed(), &mut tls_rx, &mut tls_tx, verify);
    let mut client = HttpClient::new_with_tls(h.stack, h.stack, tls);
    let req = client.request(method, url).await?;
    match body {
        Some(b) => {
            let req = req
                .body(b)
                .content_type(ContentType::ApplicationOctetStream);
            finish(req).await
        }
        None => finish(req).await,
    }
}

/// Send the request and read the whole response.
async fn finish<C, B>(mut req: HttpRequestHandle<'_, C, B>) -> Fetched
where
    C: embedded_io_async::Read + embedded_io_async::Write,
    B: RequestBody,
{
    let mut buf = vec![0u8; 128 * 1024];
    let resp = req.send(&mut buf).await?;
    let status = resp.status.0;
    let announced = resp.content_length;
    let body = resp.body().read_to_end().await?.to_vec();
    if let Some(n) = announced {
        assert_eq!(n, body.len(), "Content-Length");
    }
    Ok((status, body))
}

/// GET `/bytes/N` and POST `/echo` of N bytes for every size, each on its own connection.
async fn get_and_post<const S: usize>(
    h: &Harness<S>,
    pki: &Pki,
    server: SocketAddr,
    sizes: &[usize],
) {
    for &n in sizes {
        let url = format!("https://{NAME}:{}/bytes/{n}", server.port());
        let (status, body) = within(
            STEP * 3,
            &format!("GET {n}"),
            fetch(h, &pki.ca_der, Method::GET, &url, None),
        )
        .await
        .unwrap_or_else(|e| panic!("GET {n}: {e:?}"));
        assert_eq!(status, 200);
        assert_same(&body, &pattern(n, n as u64), &format!("GET {n}"));

        let data = pattern(n, 7_000 + n as u64);
        let url = format!("https://{NAME}:{}/echo", server.port());
        let (status, body) = within(
            STEP * 3,
            &format!("POST {n}"),
            fetch(h, &pki.ca_der, Method::POST, &url, Some(&data)),
        )
        .await
        .unwrap_or_else(|e| panic!("POST {n}: {e:?}"));
        assert_eq!(status, 200);
        assert_same(&body, &data, &format!("POST {n}"));
    }
}

/// Around the write record (384 bytes of plaintext), the 512-byte AT send, a full TLS record
/// (16 KiB) and beyond it.
const SIZES: [usize; 10] = [0, 1, 383, 384, 385, 512, 4096, 16_384, 16_385, 100 * 1024];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_post_0_to_100_kib_verified_against_the_test_ca() {
    let pki = Pki::new();
    let server = https_server(&pki).await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    get_and_post(&h, &pki, server, &SIZES).await;
}

/// Real chains have intermediates: the server sends leaf and intermediate, the client holds
/// the root only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_through_an_intermediate_ca_is_verified() {
    let pki = Pki::build(NAME, true, 0);
    assert_eq!(pki.chain.len(), 2);
    let server = https_server(&pki).await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    get_and_post(&h, &pki, server, &[4096]).await;
}

/// The certificate of a server signed by another CA is refused during the handshake, with an
/// error that says so (`Tls(InvalidCertificate)`), and no request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_of_another_ca_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let server = https_server(&pki).await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let url = format!("https://{NAME}:{}/bytes/16", server.port());
    let r = within(
        STEP,
        "handshake",
        fetch(&h, &other.ca_der, Method::GET, &url, None),
    )
    .await;
    assert!(
        matches!(r, Err(reqwless::Error::Tls(TlsError::InvalidCertificate))),
        "{r:?}"
    );
    // The same server, the right CA: the refusal was the CA's doing.
    let (status, body) = within(STEP, "GET", fetch(&h, &pki.ca_der, Method::GET, &url, None))
        .await
        .unwrap();
    assert_eq!((status, body), (200, pattern(16, 16)));
}

/// embedded-tls compares the host name with the certificate's CN only (subjectAltName is not
/// read): a URL by IP address is refused for a certificate whose CN is a name, even from the
/// right CA, and accepted when the CN is that address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_is_matched_against_the_cn_only() {
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let by_name = Pki::new();
    let server = https_server(&by_name).await;
    let url = format!("https://127.0.0.1:{}/bytes/16", server.port());
    let r = within(
        STEP,
        "handshake",
        fetch(&h, &by_name.ca_der, Method::GET, &url, None),
    )
    .await;
    assert!(
        matches!(r, Err(reqwless::Error::Tls(TlsError::InvalidCertificate))),
        "{r:?}"
    );

    let by_ip = Pki::build("127.0.0.1", false, 0);
    let server = https_server(&by_ip).await;
    let url = format!("https://127.0.0.1:{}/bytes/16", server.port());
    let (status, body) = within(
        STEP,
        "GET",
        fetch(&h, &by_ip.ca_der, Method::GET, &url, None),
    )
    .await
    .unwrap();
    assert_eq!((status, body), (200, pattern(16, 16)));
}

/// embedded-tls 0.18 checks the signatures up the chain but not basicConstraints: a
/// certificate the CA issued to any server can sign a certificate for another host, and it
/// is accepted. Pinned here because it decides which CA a device may trust (README, "TLS"):
/// a private one whose certificates all belong to the servers the device talks to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_constraints_are_not_checked() {
    let forged = Pki::forged_by_a_leaf(NAME);
    let server = https_server(&forged).await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let url = format!("https://{NAME}:{}/bytes/16", server.port());
    let r = within(
        STEP,
        "GET",
        fetch(&h, &forged.ca_der, Method::GET, &url, None),
    )
    .await;
    assert_eq!(
        r.expect("a chain through a non-CA certificate is accepted by embedded-tls 0.18"),
        (200, pattern(16, 16))
    );
}

/// reqwless keeps the server's chain in a 4 KiB copy for the signature check: a chain of
/// about 3.5 KB is verified, one of about 4.5 KB is refused (`OutOfMemory`), not truncated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_up_to_4_kib_are_verified() {
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    for (padding, fits) in [(3_000, true), (4_000, false)] {
        let pki = Pki::build(NAME, true, padding);
        let server = https_server(&pki).await;
        let url = format!("https://{NAME}:{}/bytes/16", server.port());
        let r = within(STEP, "GET", fetch(&h, &pki.ca_der, Method::GET, &url, None)).await;
        let what = format!("chain of {} bytes", pki.chain_len());
        if fits {
            assert!(pki.chain_len() < 4000, "{what}");
            assert_eq!(r.expect(&what), (200, pattern(16, 16)), "{what}");
        } else {
            assert!(pki.chain_len() > 4096, "{what}");
            assert!(
                matches!(r, Err(reqwless::Error::Tls(TlsError::OutOfMemory))),
                "{what}: {r:?}"
            );
        }
    }
}

/// A server that closes halfway through a record, in the handshake or in the response,
/// gives an error at once: never a hang, never a truncated body taken for a whole one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closing_mid_record_is_an_error_not_a_hang() {
    let pki = Pki::new();
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    for cut in [Cut::Handshake, Cut::Response] {
        let (server, report) = cutting_server(&pki, cut);
        let url = format!("https://{NAME}:{}/bytes/4096", server.port());
        let r = within(
            STEP,
            &format!("{cut:?} cut"),
            fetch(&h, &pki.ca_der, Method::GET, &url, None),
        )
        .await;
        let sent = report.recv_timeout(Duration::from_secs(1)).unwrap();
        match (cut, &r) {
            // The handshake's records cannot be completed.
            (Cut::Handshake, Err(reqwless::Error::Tls(TlsError::IoError))) => {}
            // reqwless reports errors of an open TLS connection by kind only.
            (Cut::Response, Err(reqwless::Error::Network(_))) => {}
            _ => panic!("{cut:?} ({sent}): {r:?}"),
        }
    }
}

/// Direct push with TLS: the module pushes whatever arrives, and reqwless (like embedded-tls
/// during the handshake) waits for `SEND OK` before it reads. That is safe when the socket
/// buffer holds all the server can send before the client reads: the handshake flight and
/// the largest response with its record overhead. Over loopback everything arrives before
/// `SEND OK`, so this is the tight case.
const PUSH_SOCK_RX: usize = 20 * 1024;

#[test]
fn direct_push_works_with_a_socket_buffer_for_the_largest_response() {
    // Five socket buffers of 20 KiB are built on the stack before they are boxed.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let pki = Pki::new();
                    let server = https_server(&pki).await;
                    let h: Harness<PUSH_SOCK_RX> =
                        async_support::start(sim_config(), engine_config(AccessMode::DirectPush))
                            .await;
                    get_and_post(&h, &pki, server, &[0, 4096, 16_384]).await;
                })
        })
        .unwrap()
        .join()
        .unwrap();
}

/// The read buffer must hold a whole record: with 4 KiB the handshake passes (its records are
/// small) and the first larger record fails, reported by reqwless as `Network(Other)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_buffer_smaller_than_a_record_is_an_error() {
    let pki = Pki::new();
    let server = https_server(&pki).await;
    let h: Harness = async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let url = format!("https://{NAME}:{}/bytes/8192", server.port());
    let r = within(
        STEP,
        "GET",
        fetch_with(&h, 4096, &pki.ca_der, Method::GET, &url, None),
    )
    .await;
    assert!(matches!(r, Err(reqwless::Error::Network(_))), "{r:?}");
    // 4 KiB is enough for small records.
    let url = format!("https://{NAME}:{}/bytes/1024", server.port());
    let (status, body) = within(
        STEP,
        "GET",
        fetch_with(&h, 4096, &pki.ca_der, Method::GET, &url, None),
    )
    .await
    .unwrap();
    assert_eq!((status, body), (200, pattern(1024, 1024)));
}

/// The other side of the coin: with the default 1,536-byte socket buffers, direct push and
/// a response larger than the buffer, the response arrives before the request's `SEND OK`
/// and the runner stops reading the UART with `SEND OK` behind the data. The flush that
/// embedded-tls and reqwless await before they read does not wait for that `SEND OK` (every
/// byte is in the module; see `Engine::poll_flush`), so the client reads, and the output
/// flows again. (It used to wait until the send timeout and fail.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_push_with_default_socket_buffers_takes_responses_larger_than_them() {
    let pki = Pki::new();
    let server = https_server(&pki).await;
    let h: Harness =
        async_support::start(sim_config(), engine_config(AccessMode::DirectPush)).await;
    for n in [512, 4096, 16 * 1024] {
        let url = format!("https://{NAME}:{}/bytes/{n}", server.port());
        let (status, body) = within(
            STEP,
            &format!("GET {n}"),
            fetch(&h, &pki.ca_der, Method::GET, &url, None),
        )
        .await
        .unwrap();
        assert_eq!((status, body), (200, pattern(n, n as u64)));
    }
    assert_eq!(h.stack.traffic().timeouts, 0);
}
