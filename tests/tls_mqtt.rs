//! MQTT over TLS: minimq 0.13 over an embedded-tls 0.18 connection on a `TcpConnect`
//! connection of the stack, against mosquitto with a TLS listener whose certificate comes
//! from a throwaway rcgen CA. minimq takes any `embedded_io_async::Read + Write`, which
//! embedded-tls's `TlsConnection` is.
//!
//! One caveat, pinned by the last test: minimq cancels its pending read at its keepalive
//! deadlines and wants a cancel-safe transport; the stack's reads are, embedded-tls 0.18's are
//! not (a read cancelled mid-record loses the record header it had read). README, "TLS".
#![cfg(feature = "sim")]

mod async_support;
mod tls_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_support::{STEP, assert_same, engine_config, pattern, within};
use embedded_io_async::Write as _;
use embedded_nal_async::TcpConnect;
use embedded_tls::{Aes128GcmSha256, Certificate, TlsConfig, TlsConnection, TlsContext, TlsError};
use minimq::{
    Buffers, ConfigBuilder, ConnectEvent, Publication, QoS, Session, SubscriptionOptions,
    TopicFilter,
};
use quectel_bc20::AccessMode;
use tls_support::{
    Cut, NAME, Pki, TLS_RX, TLS_TX, TlsMosquitto, VerifyingProvider, cutting_server, sim_config,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mosquitto"]
async fn minimq_over_embedded_tls_publishes_and_receives() {
    let pki = Pki::new();
    let broker = TlsMosquitto::start(&pki);
    let h: async_support::Harness =
        async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, broker.port));
    let tcp = within(STEP, "tcp connect", h.stack.connect(addr))
        .await
        .unwrap();

    // The TLS session, verified against the test CA and the broker's CN.
    let (mut tls_rx, mut tls_tx) = (vec![0u8; TLS_RX], vec![0u8; TLS_TX]);
    let mut tls = TlsConnection::<_, Aes128GcmSha256>::new(tcp, &mut tls_rx, &mut tls_tx);
    let config = TlsConfig::new()
        .with_server_name(NAME)
        .with_ca(Certificate::X509(&pki.ca_der));
    within(
        STEP,
        "TLS handshake",
        tls.open(TlsContext::new(
            &config,
            VerifyingProvider::from_os_entropy(),
        )),
    )
    .await
    .unwrap_or_else(|e| panic!("handshake: {e:?}\n{}", broker.log()));

    let (mut rx, mut tx) = (vec![0u8; 2048], vec![0u8; 4096]);
    let mut session = Session::new(
        ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
            .client_id("bc20-tls-test")
            .unwrap()
            .keepalive_interval(60),
    );
    let mut conn = within(STEP, "mqtt connect", session.connect(tls))
        .await
        .unwrap();
    assert_eq!(conn.connect_event(), ConnectEvent::Connected);

    let topic = "bc20/test/tls";
    let filter = [TopicFilter::new(topic)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce))];
    let sub = within(STEP, "subscribe", conn.subscribe(&filter, &[]))
        .await
        .unwrap();
    within(STEP, "SUBACK", async {
        while !conn.is_complete(&sub) {
            assert!(
                conn.poll().await.unwrap().is_none(),
                "a message before any publish"
            );
        }
    })
    .await;

    // Binary payloads, some larger than one TLS write record (384 bytes) and one AT send.
    for (qos, payload) in [
        (QoS::AtMostOnce, pattern(17, 1)),
        (QoS::AtLeastOnce, pattern(300, 2)),
        (QoS::AtMostOnce, pattern(1200, 3)),
        (QoS::AtLeastOnce, pattern(1500, 4)),
    ] {
        let op = within(
            STEP,
            "publish",
            conn.publish(Publication::bytes(topic, &payload).qos(qos)),
        )
        .await
        .unwrap();
        assert_eq!(op.is_some(), qos == QoS::AtLeastOnce);
        let (got_topic, got, got_qos) = within(STEP, "own message", async {
            let m = conn.recv().await.unwrap();
            (m.topic().to_owned(), m.payload().to_vec(), m.qos())
        })
        .await;
        assert_eq!(got_topic, topic);
        assert_eq!(got_qos, qos);
        assert_same(&got, &payload, "MQTT payload over TLS");
        if let Some(op) = op {
            within(STEP, "PUBACK", async {
                while !conn.is_complete(&op) {
                    assert!(conn.poll().await.unwrap().is_none());
                }
            })
            .await;
        }
    }
    // As over plain TCP (tests/async_mqtt.rs), the broker may close before `SEND OK`.
    let r = within(STEP, "disconnect", conn.disconnect()).await;
    assert!(
        matches!(r, Ok(()) | Err(minimq::Error::Transport(TlsError::Io(_)))),
        "{r:?}"
    );
    let log = within(STEP, "broker log", async {
        loop {
            let log = broker.log();
            if log.contains("Client bc20-tls-test disconnected.") {
                break log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        log.contains("as bc20-tls-test (p5"),
        "an MQTT 5 session:\n{log}"
    );
}

/// A broker of another CA is refused before any MQTT byte is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mosquitto"]
async fn broker_of_another_ca_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = TlsMosquitto::start(&pki);
    let h: async_support::Harness =
        async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, broker.port));
    let tcp = within(STEP, "tcp connect", h.stack.connect(addr))
        .await
        .unwrap();
    let (mut tls_rx, mut tls_tx) = (vec![0u8; TLS_RX], vec![0u8; TLS_TX]);
    let mut tls = TlsConnection::<_, Aes128GcmSha256>::new(tcp, &mut tls_rx, &mut tls_tx);
    let config = TlsConfig::new()
        .with_server_name(NAME)
        .with_ca(Certificate::X509(&other.ca_der));
    let r = within(
        STEP,
        "TLS handshake",
        tls.open(TlsContext::new(
            &config,
            VerifyingProvider::from_os_entropy(),
        )),
    )
    .await;
    assert!(matches!(r, Err(TlsError::InvalidCertificate)), "{r:?}");
}

/// embedded-tls 0.18's `read` is not cancel-safe: dropped in the middle of a record (as
/// minimq drops its read at a keepalive deadline), it loses the record header it had read,
/// and the connection is out of step with the record stream: the next read fails (never
/// data). The same server with an uncancelled read delivers the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_tls_read_cancelled_mid_record_breaks_the_connection() {
    let pki = Pki::new();
    let h: async_support::Harness =
        async_support::start(sim_config(), engine_config(AccessMode::Buffer)).await;
    for cancel in [false, true] {
        let (server, report) = cutting_server(&pki, Cut::Pause);
        let tcp = within(STEP, "tcp connect", h.stack.connect(server))
            .await
            .unwrap();
        // Leaked: the last read runs in a task of its own, so that a panic is caught too.
        let tls_rx: &'static mut [u8] = Vec::leak(vec![0u8; TLS_RX]);
        let tls_tx: &'static mut [u8] = Vec::leak(vec![0u8; TLS_TX]);
        let mut tls = TlsConnection::<_, Aes128GcmSha256>::new(tcp, tls_rx, tls_tx);
        let config = TlsConfig::new()
            .with_server_name(NAME)
            .with_ca(Certificate::X509(&pki.ca_der));
        within(
            STEP,
            "TLS handshake",
            tls.open(TlsContext::new(
                &config,
                VerifyingProvider::from_os_entropy(),
            )),
        )
        .await
        .unwrap();
        let request = format!("GET /bytes/4096 HTTP/1.1\r\nHost: {NAME}\r\n\r\n");
        within(STEP, "request", async {
            tls.write_all(request.as_bytes()).await.unwrap();
            tls.flush().await.unwrap();
        })
        .await;
        if cancel {
            // Half the record is there, the rest comes a second later: a deadline now.
            let mut buf = [0u8; 64];
            let r = tokio::time::timeout(Duration::from_millis(500), tls.read(&mut buf)).await;
            assert!(r.is_err(), "the read should still wait: {r:?}");
        }
        // A task of its own (local: embedded-tls's read future is not `Send`), so that a
        // panic inside it is reported as such.
        let local = tokio::task::LocalSet::new();
        let read_all = local.spawn_local(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 8192];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) => return Ok(got),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if got.is_empty() => return Err(e),
                    // The server closes without close_notify after the response.
                    Err(_) => return Ok(got),
                }
            }
        });
        let outcome = within(STEP, "read", local.run_until(read_all)).await;
        let sent = report.recv_timeout(Duration::from_secs(2)).unwrap();
        match (cancel, outcome) {
            (false, Ok(Ok(got))) => {
                assert!(got.ends_with(&pattern(4096, 4096)), "{sent}");
                assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{sent}");
            }
            // An error, or embedded-tls indexing past its buffer on a garbage length.
            (true, Ok(Err(_))) => {}
            (true, Err(join)) if join.is_panic() => {}
            (cancel, outcome) => panic!("cancel {cancel} ({sent}): {outcome:?}"),
        }
    }
}
