//! What the TLS tests share: throwaway PKIs from rcgen (a CA, optionally an intermediate, and a
//! server certificate whose CN is the host name, since embedded-tls matches the CN only),
//! an HTTPS server (hyper 1 over tokio-rustls with the ring provider), a raw rustls server
//! that closes mid-record, an embedded-tls crypto provider with certificate verification, and
//! mosquitto with a TLS listener.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use embedded_tls::pki::CertVerifier;
use embedded_tls::{Aes128GcmSha256, CryptoProvider, NoClock, TlsError, TlsVerifier};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use quectel_bc20::sim;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRngCore, OsRng, RngCore, SeedableRng};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::async_support::pattern;

/// The host name the tests connect to; the emulator resolves it to 127.0.0.1.
pub const NAME: &str = "secure.bc20.test";

/// The TLS read buffer: a full record (16 KiB of plaintext and 256 bytes of expansion), as
/// embedded-tls asks; anything smaller fails on the first large record.
pub const TLS_RX: usize = 16_640;
/// The TLS write buffer: records of up to 384 bytes of plaintext (128 bytes are reserved).
pub const TLS_TX: usize = 512;

/// An emulator that resolves [`NAME`] to 127.0.0.1 and never asks the host resolver.
pub fn sim_config() -> sim::Config {
    let mut c = sim::Config {
        use_host_resolver: false,
        ..sim::Config::default()
    };
    c.dns_overrides
        .insert(NAME.into(), vec![Ipv4Addr::LOCALHOST]);
    c
}

/// A seed for reqwless's ChaCha8 from the OS (a firmware takes it from its TRNG).
pub fn seed() -> u64 {
    OsRng.next_u64()
}

/// A throwaway PKI: a CA and a server certificate for one name.
pub struct Pki {
    /// The CA certificate (DER), the trust anchor the client is given.
    pub ca_der: Vec<u8>,
    /// The CA certificate (PEM), for mosquitto's `cafile`.
    pub ca_pem: String,
    /// The server's chain, leaf first (leaf, or leaf and intermediate).
    pub chain: Vec<CertificateDer<'static>>,
    /// The server's private key (PKCS#8 DER).
    pub key_der: Vec<u8>,
    /// The chain (leaf first) and the key in PEM, for mosquitto.
    pub chain_pem: String,
    pub key_pem: String,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

impl Pki {
    /// A CA and a server certificate with CN and DNS name `name` (ECDSA P-256, as
    /// embedded-tls verifies without its `rsa` feature), signed by the CA directly or, with
    /// `intermediate`, through an intermediate CA that the server sends along. `padding`
    /// bytes of a private extension make the leaf that much larger (a long real chain).
    pub fn build(name: &str, intermediate: bool, padding: usize) -> Pki {
        let ca = CertifiedIssuer::self_signed(
            ca_params("BC20 test root CA"),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let mut leaf = CertificateParams::new(vec![name.to_owned()]).unwrap();
        leaf.distinguished_name = rcgen::DistinguishedName::new();
        leaf.distinguished_name.push(DnType::CommonName, name);
        if padding > 0 {
            // An unregistered, non-critical extension: verifiers skip it.
            leaf.custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 55555, 1],
                    der_octet_string(&vec![0x5a; padding]),
                ));
        }
        let leaf_key = KeyPair::generate().unwrap();
        let (chain, chain_pem) = if intermediate {
            let mid = CertifiedIssuer::signed_by(
                ca_params("BC20 test intermediate CA"),
                KeyPair::generate().unwrap(),
                &ca,
            )
            .unwrap();
            let cert = leaf.signed_by(&leaf_key, &mid).unwrap();
            (
                vec![cert.der().clone(), mid.der().clone()],
                cert.pem() + &mid.pem(),
            )
        } else {
            let cert = leaf.signed_by(&leaf_key, &ca).unwrap();
            (vec![cert.der().clone()], cert.pem())
        };
        Pki {
            ca_der: ca.der().to_vec(),
            ca_pem: ca.pem(),
            chain,
            key_der: leaf_key.serialize_der(),
            chain_pem,
            key_pem: leaf_key.serialize_pem(),
        }
    }

    /// A forged chain: a CA, an ordinary server certificate it issued to someone else (CN
    /// `other.example`, not a CA), and a certificate for `name` signed with that server's key.
    /// A verifier that checks basicConstraints refuses it.
    pub fn forged_by_a_leaf(name: &str) -> Pki {
        let ca = CertifiedIssuer::self_signed(
            ca_params("BC20 test root CA"),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let mut other = CertificateParams::new(vec!["other.example".to_owned()]).unwrap();
        other.distinguished_name = rcgen::DistinguishedName::new();
        other
            .distinguished_name
            .push(DnType::CommonName, "other.example");
        other.is_ca = IsCa::ExplicitNoCa;
        let other = CertifiedIssuer::signed_by(other, KeyPair::generate().unwrap(), &ca).unwrap();
        let mut forged = CertificateParams::new(vec![name.to_owned()]).unwrap();
        forged.distinguished_name = rcgen::DistinguishedName::new();
        forged.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = forged.signed_by(&key, &other).unwrap();
        Pki {
            ca_der: ca.der().to_vec(),
            ca_pem: ca.pem(),
            chain: vec![cert.der().clone(), other.der().clone()],
            key_der: key.serialize_der(),
            chain_pem: cert.pem() + &other.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The usual test PKI: CA and leaf for [`NAME`].
    pub fn new() -> Pki {
        Pki::build(NAME, false, 0)
    }

    /// The chain's size as the server sends it (certificate DER bytes).
    pub fn chain_len(&self) -> usize {
        self.chain.iter().map(|c| c.len()).sum()
    }

    /// A rustls server configuration (ring provider) for this chain.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(self.chain.clone(), key)
        .unwrap();
        Arc::new(config)
    }
}

/// A DER OCTET STRING around `data`.
fn der_octet_string(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x04];
    let n = data.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend([0x81, n as u8]);
    } else {
        v.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(data);
    v
}

/// An HTTPS server (hyper 1 over tokio-rustls) on 127.0.0.1 (port 0) with `pki`'s chain:
/// `GET /bytes/N` answers `pattern(N, N)`, `POST /echo` the request body. Runs until the
/// runtime ends.
pub async fn https_server(pki: &Pki) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (wrong CA on the client's side) ends here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let io = hyper_util::rt::TokioIo::new(tls);
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

/// Where [`cutting_server`] closes the connection.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// Halfway through the server's first flight (ServerHello .. Finished).
    Handshake,
    /// After the handshake and the request, halfway through the record of the response.
    Response,
    /// As `Response`, but the rest of the record follows a second later, then the close.
    Pause,
}

/// A TLS server (rustls on a thread, blocking sockets) that accepts one connection and closes
/// it (or pauses) mid-record at `cut`. Reports on the returned channel what it sent.
pub fn cutting_server(pki: &Pki, cut: Cut) -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let config = pki.server_config();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, reports) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut tls = rustls::ServerConnection::new(config).unwrap();
        let mut out = Vec::new();
        match cut {
            Cut::Handshake => {
                // Read until the ClientHello is processed and the first flight is ready.
                while !tls.wants_write() {
                    if tls.read_tls(&mut tcp).unwrap() == 0 {
                        return;
                    }
                    tls.process_new_packets().unwrap();
                }
                while tls.wants_write() {
                    tls.write_tls(&mut out).unwrap();
                }
            }
            Cut::Response | Cut::Pause => {
                while tls.is_handshaking() {
                    tls.complete_io(&mut tcp).unwrap();
                }
                // The request: everything up to the blank line.
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut b = [0u8; 1024];
                    match tls.reader().read(&mut b) {
                        Ok(n) => request.extend_from_slice(&b[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if tls.read_tls(&mut tcp).unwrap() == 0 {
                                return;
                            }
                            tls.process_new_packets().unwrap();
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                let body = pattern(4096, 4096);
                let mut plain =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                        .into_bytes();
                plain.extend_from_slice(&body);
                // One write: one record of about 4.2 KB.
                tls.writer().write_all(&plain).unwrap();
                while tls.wants_write() {
                    tls.write_tls(&mut out).unwrap();
                }
            }
        }
        let half = out.len() / 2;
        tcp.write_all(&out[..half]).unwrap();
        tcp.flush().unwrap();
        if let Cut::Pause = cut {
            std::thread::sleep(Duration::from_secs(1));
            tcp.write_all(&out[half..]).unwrap();
            let _ = report.send(format!(
                "sent {half} bytes, a second later the other {}, then closed",
                out.len() - half
            ));
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            return;
        }
        let _ = report.send(format!("sent {half} of {} bytes, then closed", out.len()));
        let _ = tcp.shutdown(std::net::Shutdown::Both);
    });
    (addr, reports)
}

/// An embedded-tls crypto provider that verifies the server against the CA given in the
/// `TlsConfig` (`CertVerifier`: signatures up the chain, CN against the server name, no
/// validity dates without a clock) and draws from a ChaCha20 seeded with 256 bits.
pub struct VerifyingProvider {
    rng: ChaCha20Rng,
    verifier: CertVerifier<Aes128GcmSha256, NoClock, 4096>,
}

impl VerifyingProvider {
    /// A provider seeded from the OS (a firmware seeds from its TRNG).
    pub fn from_os_entropy() -> Self {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        VerifyingProvider {
            rng: ChaCha20Rng::from_seed(seed),
            verifier: CertVerifier::new(),
        }
    }
}

impl CryptoProvider for VerifyingProvider {
    type CipherSuite = Aes128GcmSha256;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Self::CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// mosquitto with one TLS listener on a free 127.0.0.1 port (`pki`'s chain and key; clients
/// without certificates, anonymous), killed when dropped.
pub struct TlsMosquitto {
    child: std::process::Child,
    dir: std::path::PathBuf,
    pub port: u16,
}

impl TlsMosquitto {
    /// Start it (from `PATH` or `/usr/sbin`) and wait until it accepts TCP connections.
    pub fn start(pki: &Pki) -> TlsMosquitto {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir =
            std::env::temp_dir().join(format!("bc20-mosquitto-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), &pki.ca_pem).unwrap();
        std::fs::write(dir.join("server.pem"), &pki.chain_pem).unwrap();
        std::fs::write(dir.join("server.key"), &pki.key_pem).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_type all\n\
                 listener {port} 127.0.0.1\n\
                 cafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
                ca = dir.join("ca.pem").display(),
                cert = dir.join("server.pem").display(),
                key = dir.join("server.key").display(),
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
            .stderr(std::fs::File::create(dir.join("mosquitto.log")).unwrap())
            .spawn()
            .expect("start mosquitto");
        let guard = TlsMosquitto { child, dir, port };
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < end,
                "mosquitto did not start:\n{}",
                guard.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        guard
    }

    /// The broker's log so far (`log_type all`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for TlsMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
