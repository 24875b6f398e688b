//! The main job: an HTTP GET through a BC20, with reqwless 0.14 on the async stack.
//!
//! `cargo run --example http_get` runs it all in one process: the emulated module on an
//! in-process pipe, a small HTTP server on a free loopback port, and a GET of a 4 KiB page by a
//! host name that the emulated module resolves (`AT+QIDNSGIP`, emulator `dns_overrides`). It
//! prints the status, the body's size and CRC-32 (checked against the server's `X-Body-CRC32`
//! header, or said to be not checked when a server sends none), and what it cost on the UART.
//! `--port /dev/ttyUSB0 URL` does the same through a real module; `--help` says how to wire
//! one. Exit status: 0 when the page arrived intact (as far as the server let it be checked),
//! 1 on failure or timeout, 2 on bad usage.

mod common;

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use embedded_io_async::Read as _;
use embedded_nal_async::{AddrType, Dns};
use http::header::CONTENT_TYPE;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lexopt::{Arg, Parser, ValueExt as _};
use nourl::{Url, UrlScheme};
use quectel_bc20::engine::Config;
use quectel_bc20::sim;

use common::Common;

const HELP_HEAD: &str = "\
http_get: an HTTP GET through a Quectel BC20 (reqwless over the async embedded-nal stack)

USAGE:
    http_get                          emulated module, local server, a 4 KiB page
    http_get --port PATH [--baud N] URL
                                      a real module; the module resolves the URL's host

    Only plain http:// URLs (no TLS). The output: the status, the body's size and CRC-32,
    and the UART traffic: bytes each way, AT commands, payload bytes / UART bytes. The CRC-32
    is checked against the server's X-Body-CRC32 header; a server that sends none (any
    server but the built-in demo one) gets it printed as \"not checked\".

    Exit status: 0 when the status is 2xx, the body has the length the server announced
    (when it did), and the CRC-32 matches X-Body-CRC32 when the server sent one (the demo
    page must come with it); 1 otherwise, on any error or after --timeout; 2 on bad usage.

";

/// The name the emulated module resolves to the loopback server.
const DEMO_HOST: &str = "bc20-demo.example";
/// The response header that carries the body's CRC-32 (8 hex digits).
const CRC_HEADER: &str = "X-Body-CRC32";
/// Size of the demo page.
const PAGE_SIZE: usize = 4096;

/// The demo page: numbered lines of text, exactly `PAGE_SIZE` bytes.
fn page() -> Vec<u8> {
    let mut body = Vec::with_capacity(PAGE_SIZE + 64);
    let mut i = 0;
    while body.len() < PAGE_SIZE {
        let _ = writeln!(
            body,
            "line {i:03}: served over NB-IoT (emulated), framed by length"
        );
        i += 1;
    }
    body.truncate(PAGE_SIZE);
    body
}

/// A one-page HTTP/1.1 server (hyper) on a free loopback port; `GET /page` answers [`page`]
/// with its CRC-32 in `X-Body-CRC32`, anything else 404. Runs on the caller's tokio runtime.
async fn serve() -> std::io::Result<u16> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = listener.local_addr()?.port();
    let body = Bytes::from(page());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let body = body.clone();
            let service = service_fn(move |req| answer(req, body.clone()));
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Ok(port)
}

/// Answer one request: the page at `/page`, 404 elsewhere.
async fn answer(req: Request<Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, http::Error> {
    if req.uri().path() == "/page" {
        Response::builder()
            .header(CONTENT_TYPE, "text/plain")
            .header(CRC_HEADER, format!("{:08x}", crc32fast::hash(&body)))
            .body(Full::new(body))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::default())
    }
}

async fn run(common: &Common, url: Option<String>) -> Result<(), String> {
    let started = Instant::now();
    let mut sim_config = sim::Config::default();
    // The built-in demo page always comes with its CRC; any other server may not send one.
    let demo = common.is_emulated() && url.is_none();
    let url = match (common.is_emulated(), url) {
        (true, url) => {
            let port = serve().await.map_err(|e| format!("HTTP server: {e}"))?;
            sim_config
                .dns_overrides
                .insert(DEMO_HOST.into(), vec![Ipv4Addr::LOCALHOST]);
            sim_config.use_host_resolver = false;
            println!("module: BC20 emulator on an in-process pipe");
            println!("server: 127.0.0.1:{port}, name {DEMO_HOST} (resolved by the module)");
            url.unwrap_or(format!("http://{DEMO_HOST}:{port}/page"))
        }
        (false, Some(url)) => url,
        (false, None) => return Err("a real module needs a URL (try --help)".into()),
    };

    let (stack, _emulator) = common::start(common, sim_config, Config::default()).await?;
    println!(
        "module ready after {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Show the lookup the module does for us (reqwless resolves the name again).
    let host = check_url(&url)?.host();
    let ip = stack
        .get_host_by_name(host, AddrType::IPv4)
        .await
        .map_err(|e| format!("DNS lookup of {host}: {e:?}"))?;
    println!("{host} is {ip} (AT+QIDNSGIP)");

    println!("GET {url}");
    let mut client = reqwless::client::HttpClient::new(&stack, &stack);
    let mut header_buf = vec![0u8; 4096];
    let mut req = client
        .request(reqwless::request::Method::GET, &url)
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let resp = req
        .send(&mut header_buf)
        .await
        .map_err(|e| format!("request: {e:?}"))?;
    let status = resp.status.0;
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    println!("HTTP/1.1 {status} {reason}");
    // The CRC the server announced: absent, or its header's text (a CRC-32 in hex or not).
    let expected_crc = resp
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case(CRC_HEADER))
        .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned());
    let announced = resp.content_length;

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
    let crc = crc.finalize();
    let elapsed = started.elapsed().as_secs_f64();

    // What went wrong, if anything: the exit status is 1 unless this stays empty.
    let mut failed = Vec::new();
    if !(200..300).contains(&status) {
        failed.push(format!("status {status}"));
    }
    print!("body: {size} bytes");
    if let Some(n) = announced
        && n != size
    {
        print!(" (Content-Length said {n})");
        failed.push(format!("{size} of {n} bytes"));
    }
    print!(", CRC-32 {crc:08x}");
    match expected_crc {
        Some(text) => match u32::from_str_radix(&text, 16) {
            Ok(e) if e == crc => println!(" (matches the server's)"),
            Ok(e) => {
                println!(" (MISMATCH: the server sent {e:08x})");
                failed.push("CRC-32 mismatch".into());
            }
            Err(_) => {
                println!(" (NOT CHECKED: the server's {CRC_HEADER} {text:?} is not a CRC-32)");
                failed.push(format!("unreadable {CRC_HEADER}"));
            }
        },
        None if demo => {
            println!(" (NOT CHECKED: the demo server's {CRC_HEADER} header is missing)");
            failed.push(format!("no {CRC_HEADER} from the demo server"));
        }
        None => println!(" (not checked: the server sent no {CRC_HEADER} header)"),
    }
    println!("{}", common::traffic_report(&stack.traffic()));
    println!("time: {elapsed:.2} s");
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the page did not arrive intact: {}",
            failed.join(", ")
        ))
    }
}

/// `url` split by nourl (the parser reqwless uses, so its host is the one reqwless connects
/// to); only plain `http://`.
fn check_url(url: &str) -> Result<Url<'_>, String> {
    let parsed = Url::parse(url).map_err(|e| format!("URL {url}: {e:?}"))?;
    if parsed.scheme() != UrlScheme::HTTP {
        return Err(format!("URL {url}: only plain http:// URLs (no TLS)"));
    }
    Ok(parsed)
}

/// The one optional positional argument: the URL (a real module only).
fn own(url: &mut Option<String>, arg: Arg<'_>, _: &mut Parser) -> Result<(), lexopt::Error> {
    match arg {
        Arg::Value(v) if url.is_none() => {
            let v = v.string()?;
            check_url(&v)?;
            *url = Some(v);
        }
        _ => return Err(arg.unexpected()),
    }
    Ok(())
}

fn main() -> ExitCode {
    match common::begin("http_get", HELP_HEAD, None, own) {
        Ok((common, url)) => {
            common::block_on_with_timeout("http_get", common.timeout, run(&common, url))
        }
        Err(code) => code,
    }
}
