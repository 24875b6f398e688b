//! An HTTPS GET through a BC20: reqwless 0.14 with embedded-tls 0.18 (TLS 1.3) on the
//! microcontroller's side of the async stack; the module carries the encrypted bytes.
//!
//! `cargo run --example https_get` runs it all in one process: the emulated module on an
//! in-process pipe, a TLS server (rustls) on a free loopback port with a certificate from a
//! throwaway CA made at start, and a GET of a 4 KiB page by a host name the emulated module
//! resolves. The server's certificate is verified against that CA and the page's length and
//! CRC-32 against the server's; the same page over plain HTTP first gives the UART cost that
//! TLS adds. `--port /dev/ttyUSB0 --ca root.pem https://host/path` does the GET through a real
//! module, verified against the CA you give. Buffer access mode (the default) throughout: see
//! README, "TLS". Exit status: 0 on success, 1 on failure or timeout, 2 on bad usage.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use embedded_io_async::Read as _;
use quectel_bc20::engine::{Config, Traffic};
use quectel_bc20::sim;
use rand_core::{OsRng, RngCore};
use reqwless::client::{HttpClient, TlsConfig, TlsVerify};
use reqwless::request::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use common::{Common, Net};
use lexopt::{Arg, Parser, ValueExt};

const HELP_HEAD: &str = "\
https_get: an HTTPS GET through a Quectel BC20 (reqwless + embedded-tls over the async stack)

USAGE:
    https_get                         emulated module, local TLS server with a throwaway CA,
                                      a 4 KiB page
    https_get --port PATH [--baud N] --ca FILE URL
                                      a real module; https:// URL, the module resolves its host

    --ca FILE        the CA certificate (PEM or DER) that signed the top of the server's chain;
                     the server is verified against it. Required with --port; emulated, it
                     replaces the local server's CA, so the handshake must fail.

    TLS runs here (TLS 1.3, TLS_AES_128_GCM_SHA256, P-256 key exchange, ECDSA certificates);
    the module only carries bytes. embedded-tls checks the signatures up to the CA and the
    URL's host against the certificate's CN (not subjectAltName), and no validity dates
    (no clock). The output: the status, the body's size and CRC-32 (checked against the
    server's X-Body-CRC32 header when it sends one), and the UART traffic with the share of
    it that TLS costs.

";

/// The name the emulated module resolves to the loopback servers.
const DEMO_HOST: &str = "bc20-demo.example";
/// Size of the demo page.
const PAGE_SIZE: usize = 4096;
/// The TLS read buffer must hold a whole record: 16 KiB of plaintext and 256 bytes.
const TLS_RX: usize = 16_640;
/// The TLS write buffer: records of up to 384 bytes of plaintext (128 bytes are reserved).
const TLS_TX: usize = 512;

struct Options {
    ca: Option<String>,
    url: Option<String>,
}

/// The example's own options (lexopt, through `common::begin`).
fn own(o: &mut Options, arg: Arg<'_>, p: &mut Parser) -> Result<(), lexopt::Error> {
    match arg {
        Arg::Long("ca") => o.ca = Some(p.value()?.string()?),
        Arg::Value(v) if o.url.is_none() => o.url = Some(v.string()?),
        _ => return Err(arg.unexpected()),
    }
    Ok(())
}

/// The demo page: numbered lines of text, exactly `PAGE_SIZE` bytes.
fn page() -> Vec<u8> {
    let mut body = Vec::with_capacity(PAGE_SIZE + 64);
    let mut i = 0;
    while body.len() < PAGE_SIZE {
        let _ = writeln!(body, "line {i:03}: served over TLS over NB-IoT (emulated)");
        i += 1;
    }
    body.truncate(PAGE_SIZE);
    body
}

/// A CA made now, and a server certificate for `host` signed by it (ECDSA P-256, CN and
/// DNS name `host`). Returns the CA (DER) and the server's rustls configuration.
fn throwaway_pki(host: &str) -> Result<(Vec<u8>, Arc<rustls::ServerConfig>), String> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let e = |e: rcgen::Error| format!("certificates: {e}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.distinguished_name
        .push(DnType::CommonName, "https_get throwaway CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(e)?).map_err(e)?;
    let mut leaf = CertificateParams::new(vec![host.to_owned()]).map_err(e)?;
    // embedded-tls compares the host with the CN only.
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CommonName, host);
    let key = KeyPair::generate().map_err(e)?;
    let cert = leaf.signed_by(&key, &ca).map_err(e)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS server: {e}"))?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .map_err(|e| format!("TLS server: {e}"))?;
    Ok((ca.der().to_vec(), Arc::new(config)))
}

/// Serve the page on two loopback ports, over TLS and plain (threads and blocking sockets:
/// the examples' runtime has no I/O driver); returns the (TLS, plain) ports.
fn serve(config: Arc<rustls::ServerConfig>) -> std::io::Result<(u16, u16)> {
    let body: &'static [u8] = page().leak();
    let tls = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let plain = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let ports = (tls.local_addr()?.port(), plain.local_addr()?.port());
    std::thread::spawn(move || {
        for tcp in tls.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                let r = answer(&mut stream, body);
                if let Err(e) = &r {
                    log::warn!("server: {e}");
                }
                stream.conn.send_close_notify();
                stream.flush()?;
                r
            });
        }
    });
    std::thread::spawn(move || {
        for mut tcp in plain.incoming().flatten() {
            std::thread::spawn(move || answer(&mut tcp, body));
        }
    });
    Ok(ports)
}

/// Answer one request: `GET /page` with the page and its CRC-32 in `X-Body-CRC32`, anything
/// else 404 (then the caller closes).
fn answer<S: Read + Write>(s: &mut S, body: &[u8]) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf)? {
            0 => return Ok(()),
            n => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    if line.split_whitespace().nth(1) == Some("/page") {
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             X-Body-CRC32: {:08x}\r\nConnection: close\r\n\r\n",
            body.len(),
            crc32fast::hash(body)
        )?;
        s.write_all(body)?;
    } else {
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    }
    s.flush()
}

/// The CA certificate from a PEM or DER file.
fn load_ca(path: &str) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        CertificateDer::from_pem_slice(&bytes)
            .map(|c| c.to_vec())
            .map_err(|e| format!("{path}: no PEM certificate: {e}"))
    } else {
        Ok(bytes)
    }
}

/// What a GET returned: status, body size and CRC-32, the CRC the server announced, and
/// the traffic of the connection and handshake phase and of the whole GET.
struct Got {
    status: u16,
    size: usize,
    crc: u32,
    announced_len: Option<usize>,
    expected_crc: Option<u32>,
    connect: Traffic,
    total: Traffic,
}

fn uart(t: &Traffic) -> u64 {
    t.tx_bytes + t.rx_bytes
}

/// GET `url` through `stack` (over TLS when `ca` is given, verified against it) and read
/// the body to the end.
async fn get(stack: &Net, url: &str, ca: Option<&[u8]>) -> Result<Got, String> {
    let start = stack.traffic();
    let (mut tls_rx, mut tls_tx) = (vec![0u8; TLS_RX], vec![0u8; TLS_TX]);
    let mut client = match ca {
        Some(ca) => {
            // A fresh seed for every connection, from the OS here (a firmware uses its TRNG):
            // reqwless seeds its ChaCha8 from this u64 on each connection of one client.
            let verify = TlsVerify::Certificate {
                ca,
                cert: None,
                key: None,
            };
            let tls = TlsConfig::new(OsRng.next_u64(), &mut tls_rx, &mut tls_tx, verify);
            HttpClient::new_with_tls(stack, stack, tls)
        }
        None => HttpClient::new(stack, stack),
    };
    let mut req = client
        .request(Method::GET, url)
        .await
        .map_err(|e| format!("connect: {e:?}{}", hint(&e)))?;
    let connect = stack.traffic().since(&start);
    let mut header_buf = vec![0u8; 4096];
    let resp = req
        .send(&mut header_buf)
        .await
        .map_err(|e| format!("request: {e:?}{}", hint(&e)))?;
    let status = resp.status.0;
    let expected_crc = resp
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-body-crc32"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .and_then(|v| u32::from_str_radix(v.trim(), 16).ok());
    let announced_len = resp.content_length;
    let mut body = resp.body().reader();
    let (mut size, mut crc) = (0usize, crc32fast::Hasher::new());
    let mut chunk = [0u8; 1024];
    loop {
        let n = body
            .read(&mut chunk)
            .await
            .map_err(|e| format!("body after {size} bytes: {e:?}"))?;
        if n == 0 {
            break;
        }
        size += n;
        crc.update(&chunk[..n]);
    }
    drop(req);
    Ok(Got {
        status,
        size,
        crc: crc.finalize(),
        announced_len,
        expected_crc,
        connect,
        total: stack.traffic().since(&start),
    })
}

/// What a reqwless error most likely means, for the errors a TLS user meets first.
fn hint(e: &reqwless::Error) -> &'static str {
    use embedded_tls::TlsError;
    match e {
        reqwless::Error::Tls(TlsError::InvalidCertificate) => {
            "\n  the server's certificate is not signed (through the chain it sends) by the CA \
             given, or its CN is not the URL's host: embedded-tls matches the CN only, so a \
             URL by IP address fails unless the CN is that address"
        }
        reqwless::Error::Tls(TlsError::OutOfMemory) => {
            "\n  the server's certificate chain is larger than the 4 KiB reqwless keeps for it"
        }
        reqwless::Error::Tls(TlsError::InvalidSignatureScheme) => {
            "\n  an RSA certificate: reqwless's `rsa` feature (with alloc) is needed for it"
        }
        reqwless::Error::Network(_) => {
            "\n  (reqwless reports errors of the TCP connection, and of the TLS connection after the \
             handshake, by kind only: --log debug shows the module's and embedded-tls's)"
        }
        _ => "",
    }
}

/// Status line, body and CRC; `false` when something does not match.
fn report(got: &Got) -> bool {
    let mut ok = (200..300).contains(&got.status);
    let reason = if got.status == 200 { " OK" } else { "" };
    println!("HTTP/1.1 {}{reason}", got.status);
    print!("body: {} bytes", got.size);
    if let Some(n) = got.announced_len
        && n != got.size
    {
        print!(" (Content-Length said {n})");
        ok = false;
    }
    print!(", CRC-32 {:08x}", got.crc);
    match got.expected_crc {
        Some(e) if e == got.crc => println!(" (matches the server's)"),
        Some(e) => {
            println!(" (MISMATCH: the server sent {e:08x})");
            ok = false;
        }
        None => println!(),
    }
    ok
}

async fn run(common: &Common, options: Options) -> Result<(), String> {
    let started = Instant::now();
    let mut sim_config = sim::Config::default();
    // (URL, CA, plain URL of the same page for the comparison)
    let (url, ca, plain) = if common.is_emulated() {
        let (ca, config) = throwaway_pki(DEMO_HOST)?;
        let (tls_port, plain_port) = serve(config).map_err(|e| format!("servers: {e}"))?;
        sim_config
            .dns_overrides
            .insert(DEMO_HOST.into(), vec![Ipv4Addr::LOCALHOST]);
        sim_config.use_host_resolver = false;
        println!("module: BC20 emulator on an in-process pipe");
        println!(
            "server: 127.0.0.1:{tls_port} (TLS) and :{plain_port} (plain), name {DEMO_HOST} \
             (resolved by the module), certificate from a throwaway CA"
        );
        let url = options
            .url
            .unwrap_or(format!("https://{DEMO_HOST}:{tls_port}/page"));
        let plain = format!("http://{DEMO_HOST}:{plain_port}/page");
        // Another CA given: the server's certificate must be refused.
        let ca = match options.ca {
            Some(path) => {
                println!("trusting the CA in {path} instead of the server's");
                load_ca(&path)?
            }
            None => ca,
        };
        (url, ca, Some(plain))
    } else {
        let url = options
            .url
            .ok_or("a real module needs a URL (try --help)")?;
        let ca = options
            .ca
            .ok_or("a real module needs --ca FILE (try --help)")?;
        (url, load_ca(&ca)?, None)
    };
    if !url.starts_with("https://") {
        return Err(format!("{url}: not an https:// URL"));
    }

    let config = Config::default(); // buffer access mode
    let (stack, _emulator) = common::start(common, sim_config, config).await?;
    println!(
        "module ready after {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let plain = match plain {
        Some(plain) => {
            let got = get(&stack, &plain, None).await?;
            println!(
                "GET {plain}: {} bytes, {} UART bytes",
                got.size,
                uart(&got.total)
            );
            Some(got)
        }
        None => None,
    };

    println!("GET {url}");
    let got = get(&stack, &url, Some(&ca)).await?;
    let handshake = got.connect.payload_sent + got.connect.payload_received;
    println!(
        "TLS 1.3 handshake: server verified against the CA; {} bytes sent, {} received \
         (DNS, connect and handshake: {} UART bytes)",
        got.connect.payload_sent,
        got.connect.payload_received,
        uart(&got.connect)
    );
    let mut ok = report(&got);
    println!("{}", common::traffic_report(&got.total));
    match &plain {
        Some(p) => {
            let (tls, clear) = (uart(&got.total), uart(&p.total));
            let cost = tls.saturating_sub(clear);
            println!(
                "TLS share: {cost} of {tls} UART bytes ({:.1} %); the same page over plain HTTP \
                 took {clear}",
                100.0 * cost as f64 / tls as f64
            );
            println!(
                "  the handshake's {handshake} payload bytes, then session tickets, record \
                 headers and tags, close_notify, and the AT commands and hex that carry them"
            );
            ok &= p.crc == got.crc && p.size == got.size;
        }
        None => println!(
            "TLS share: the handshake alone is {handshake} payload bytes, {:.1} % of all \
             payload",
            100.0 * handshake as f64
                / (got.total.payload_sent + got.total.payload_received).max(1) as f64
        ),
    }
    println!("time: {:.2} s", started.elapsed().as_secs_f64());
    if ok {
        Ok(())
    } else {
        Err("the page did not arrive intact".into())
    }
}

fn main() -> ExitCode {
    let options = Options {
        ca: None,
        url: None,
    };
    match common::begin("https_get", HELP_HEAD, options, own) {
        Ok((common, options)) => {
            common::block_on_with_timeout("https_get", common.timeout, run(&common, options))
        }
        Err(code) => code,
    }
}
