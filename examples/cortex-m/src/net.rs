//! The firmware's network code, generic over the UART halves (`embedded_io_async::Read` and
//! `Write`) and the mutex: nothing here knows the chip, so it moves to another board or HAL
//! unchanged.

use core::net::SocketAddr;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Delay;
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use quectel_bc20::asynch::{self, Runner, Stack, State};
use quectel_bc20::{EmbassyClock, Error};

/// The runner for UART halves `R`/`W`, with embassy-time for the clock (the crate's
/// `EmbassyClock`) and delays. The driver's sizes are its defaults: nothing to name.
pub type ModemRunner<'a, M, R, W> = Runner<'a, M, R, W, EmbassyClock, Delay>;

/// Split the state into the stack and its runner over any UART.
pub fn start<M: RawMutex, R: Read, W: Write>(
    state: &State<M>,
    rx: R,
    tx: W,
) -> (Stack<'_, M>, ModemRunner<'_, M, R, W>) {
    asynch::new(state, rx, tx, EmbassyClock, Delay)
}

/// What [`http_get`] found.
#[cfg_attr(feature = "tls", allow(dead_code))]
pub struct Fetched {
    /// The server's address, as the module resolved it.
    pub remote: SocketAddr,
    /// The status code of the response.
    pub status: u16,
    /// Bytes received in all, headers included.
    pub bytes: usize,
}

/// Wait for the network, resolve `host` through the module, connect to port 80, send a GET
/// for `path` and read the response to its end.
#[cfg_attr(feature = "tls", allow(dead_code))]
pub async fn http_get<M: RawMutex>(
    stack: Stack<'_, M>,
    host: &str,
    path: &str,
) -> Result<Fetched, Error> {
    stack.bring_up(120_000).await?;
    let ip = stack.get_host_by_name(host, AddrType::IPv4).await?;
    let remote = SocketAddr::new(ip, 80);
    let mut conn = stack.connect(remote).await?;
    for part in [
        "GET ",
        path,
        " HTTP/1.1\r\nHost: ",
        host,
        "\r\nConnection: close\r\n\r\n",
    ] {
        conn.write_all(part.as_bytes()).await?;
    }
    conn.flush().await?;

    // The status line is in the first bytes: "HTTP/1.1 200 ...".
    let mut buf = [0u8; 512];
    let mut head = [0u8; 12];
    let mut bytes = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if bytes < head.len() {
            let k = (head.len() - bytes).min(n);
            head[bytes..bytes + k].copy_from_slice(&buf[..k]);
        }
        bytes += n;
    }
    let status = core::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Fetched {
        remote,
        status,
        bytes,
    })
}

/// Buffers of one TLS connection: the read buffer holds a whole record (16 KiB of plaintext
/// and 256 bytes), the write buffer records of up to 384 bytes of plaintext.
#[cfg(feature = "tls")]
pub struct TlsBuffers {
    /// TLS records in.
    pub read: [u8; 16_640],
    /// TLS records out.
    pub write: [u8; 512],
    /// The response's status line and headers.
    pub headers: [u8; 2048],
}

/// What [`https_get`] found.
#[cfg(feature = "tls")]
pub struct HttpsFetched {
    /// The status code of the response.
    pub status: u16,
    /// Body bytes received.
    pub bytes: usize,
}

/// An HTTPS GET of `url` with reqwless and embedded-tls: the server's chain is verified up to
/// `ca` (DER) and its CN against the URL's host; `seed` seeds the handshake's ChaCha8 and must
/// come from a true random source, a fresh one for every connection.
#[cfg(feature = "tls")]
pub async fn https_get<M: RawMutex>(
    stack: Stack<'_, M>,
    buffers: &mut TlsBuffers,
    seed: u64,
    ca: &[u8],
    url: &str,
) -> Result<HttpsFetched, reqwless::Error> {
    use reqwless::client::{HttpClient, TlsConfig, TlsVerify};
    use reqwless::request::Method;

    stack
        .bring_up(120_000)
        .await
        .map_err(|e| reqwless::Error::Network(embedded_io_async::Error::kind(&e)))?;
    let verify = TlsVerify::Certificate {
        ca,
        cert: None,
        key: None,
    };
    let tls = TlsConfig::new(seed, &mut buffers.read, &mut buffers.write, verify);
    let mut client = HttpClient::new_with_tls(&stack, &stack, tls);
    let mut request = client.request(Method::GET, url).await?;
    let response = request.send(&mut buffers.headers).await?;
    let status = response.status.0;
    let mut body = response.body().reader();
    let mut chunk = [0u8; 512];
    let mut bytes = 0;
    loop {
        let n = body.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        bytes += n;
    }
    Ok(HttpsFetched { status, bytes })
}
