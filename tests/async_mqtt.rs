//! minimq 0.13 (MQTT 5) over a `TcpConnect` connection of the stack, against a real mosquitto:
//! connect, subscribe, publish at QoS 0 and QoS 1, and receive its own messages.
#![cfg(feature = "sim")]

mod async_support;

use async_support::{Harness, Mosquitto, STEP, loopback, pattern, start, start_default, within};
use embedded_nal_async::TcpConnect;
use minimq::{
    Buffers, ConfigBuilder, ConnectEvent, Publication, QoS, Session, SubscriptionOptions,
    TopicFilter,
};
use quectel_bc20::engine;
use quectel_bc20::sim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mosquitto"]
async fn minimq_subscribes_and_receives_its_own_publications() {
    let h = start_default().await;
    round_trip(&h, "bc20-async-test").await;
}

/// The same against the BC660K emulator, brought up with `bring_up` (which checks the
/// identity against the profile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mosquitto"]
async fn minimq_round_trip_on_a_bc660k() {
    let module = engine::Module::Bc660k;
    let h: Harness = start(
        sim::Config {
            module,
            revision: sim::Config::for_module(module).revision,
            ..sim::Config::default()
        },
        engine::Config {
            module,
            ..engine::Config::default()
        },
    )
    .await;
    within(STEP, "bring-up", h.stack.bring_up(5_000))
        .await
        .unwrap();
    assert_eq!(h.stack.identity(), Some(engine::IdentityCheck::Matches));
    round_trip(&h, "bc660k-async-test").await;
}

async fn round_trip(h: &Harness, client_id: &str) {
    let broker = Mosquitto::start();
    let io = within(STEP, "tcp connect", h.stack.connect(loopback(broker.port)))
        .await
        .unwrap();

    let (mut rx, mut tx) = (vec![0u8; 2048], vec![0u8; 4096]);
    let mut session = Session::new(
        ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
            .client_id(client_id)
            .unwrap()
            .keepalive_interval(60),
    );
    let mut conn = within(STEP, "mqtt connect", session.connect(io))
        .await
        .unwrap();
    assert_eq!(conn.connect_event(), ConnectEvent::Connected);

    let topic = &format!("{client_id}/echo");
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

    // Binary payloads, one of them larger than one AT send (512 bytes).
    for (qos, payload) in [
        (QoS::AtMostOnce, pattern(17, 1)),
        (QoS::AtLeastOnce, pattern(300, 2)),
        (QoS::AtMostOnce, pattern(1200, 3)),
        (QoS::AtLeastOnce, pattern(1200, 4)),
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
        assert_eq!(&got_topic, topic);
        assert_eq!(got_qos, qos);
        async_support::assert_same(&got, &payload, "MQTT payload");
        if let Some(op) = op {
            // The PUBACK arrives too (possibly already handled while waiting for the message).
            within(STEP, "PUBACK", async {
                while !conn.is_complete(&op) {
                    assert!(conn.poll().await.unwrap().is_none());
                }
            })
            .await;
        }
    }
    // The broker closes the connection as soon as it has the DISCONNECT. The emulator reports
    // `SEND FAIL` for a send whose peer closed within its `SEND OK` delay (2 ms), even though
    // the bytes went out, so the flush may report that; what counts is what the broker saw.
    let r = within(STEP, "disconnect", conn.disconnect()).await;
    assert!(
        matches!(
            r,
            Ok(())
                | Err(minimq::Error::Transport(quectel_bc20::Error::Modem(
                    quectel_bc20::ModemError::SendFail
                )))
        ),
        "{r:?}"
    );
    let log = within(STEP, "broker log", async {
        loop {
            let log = broker.log();
            if log.contains(&format!("Client {client_id} disconnected.")) {
                break log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        log.contains(&format!("as {client_id} (p5")),
        "an MQTT 5 session:\n{log}"
    );
}
