//! minimq 0.10, unchanged, on the blocking stack over the emulator's pipe, against a real
//! mosquitto on loopback: connect, subscribe, publish at QoS 0 and QoS 1, and receive its own
//! messages byte for byte. Needs `mosquitto` (`apt-get install -y mosquitto`).
#![cfg(feature = "sim")]

mod blocking_support;

use core::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use blocking_support::{Mosquitto, driver, payload};
use embedded_time::fraction::Fraction;
use minimq_010::broker::IpBroker;
use minimq_010::types::{SubscriptionOptions, TopicFilter};
use minimq_010::{Broker, ConfigBuilder, Minimq, Publication, QoS};
use quectel_bc20::AccessMode;
use quectel_bc20::engine;
use quectel_bc20::sim;

/// Milliseconds since creation, as minimq's `embedded_time::Clock`.
struct MsClock(Instant);

impl embedded_time::Clock for MsClock {
    type T = u32;
    const SCALING_FACTOR: Fraction = Fraction::new(1, 1000);

    fn try_now(&self) -> Result<embedded_time::Instant<Self>, embedded_time::clock::Error> {
        Ok(embedded_time::Instant::new(
            self.0.elapsed().as_millis() as u32
        ))
    }
}

fn mqtt_round_trip(mode: AccessMode) {
    mqtt_round_trip_on(engine::Module::Bc20, mode);
}

/// [`mqtt_round_trip`] against the emulator of `module`, the engine configured for it.
fn mqtt_round_trip_on(module: engine::Module, mode: AccessMode) {
    let broker = Mosquitto::start();
    let (sim_config, engine_config) = blocking_support::for_module(
        module,
        sim::Config::default(),
        engine::Config {
            access_mode: mode,
            ..engine::Config::default()
        },
    );
    let (mut d, _emu, written) = driver(sim_config, engine_config);
    let mut addr = IpBroker::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    addr.set_port(broker.port);
    let mut buffer = [0u8; 8192];
    let client_id = format!("{module}-{mode:?}-{}", std::process::id());
    let mut mqtt: Minimq<'_, _, _, IpBroker> = Minimq::new(
        &mut d,
        MsClock(Instant::now()),
        ConfigBuilder::new(addr, &mut buffer)
            .client_id(&client_id)
            .unwrap()
            .keepalive_interval(30),
    );

    let topic = format!("bc20/{client_id}");
    // A QoS 0 message with every byte value, a QoS 1 message over three send chunks.
    let qos0: Vec<u8> = (0..=255u8).collect();
    let qos1 = payload(1300, 8);
    let mut subscribed = false;
    let mut sent0 = false;
    let mut sent1 = false;
    let mut got: Vec<(String, Vec<u8>)> = Vec::new();
    let end = Instant::now() + Duration::from_secs(15);
    while got.len() < 2 || mqtt.client().pending_messages() {
        assert!(
            Instant::now() < end,
            "subscribed {subscribed}, sent {sent0}/{sent1}, got {}",
            got.len()
        );
        while let Some(m) = mqtt
            .poll(|_client, topic, data, _props| (topic.to_string(), data.to_vec()))
            .unwrap()
        {
            got.push(m);
        }
        if !mqtt.client().is_connected() {
            continue;
        }
        if !subscribed {
            // Deliveries to us at QoS 0: minimq 0.10 answers an inbound QoS 1 PUBLISH with a
            // PUBACK and asserts that no write of its own is pending then. On this stack a
            // write is pending until the module's `SEND OK` (and for every 512-byte chunk
            // but the last), and the broker's echo of our own QoS 1 publication overtakes it
            // on loopback, so minimq would panic (`pending_write.is_none()`). Our QoS 1
            // publication is still acknowledged by the broker (PUBACK, checked below).
            let filter = TopicFilter::new(&topic)
                .options(SubscriptionOptions::default().maximum_qos(QoS::AtMostOnce));
            // `NotReady` while the CONNECT's last chunk still waits for its `SEND OK` (the
            // CONNACK can overtake it): minimq's way of saying "again later".
            match mqtt.client().subscribe(&[filter], &[]) {
                Ok(()) => subscribed = true,
                Err(minimq_010::Error::NotReady) => continue,
                Err(e) => panic!("subscribe: {e:?}"),
            }
        }
        if mqtt.client().subscriptions_pending() {
            continue;
        }
        if !sent0 && mqtt.client().can_publish(QoS::AtMostOnce) {
            mqtt.client()
                .publish(Publication::new(&topic, &qos0[..]).qos(QoS::AtMostOnce))
                .unwrap();
            sent0 = true;
        }
        if sent0 && !sent1 && mqtt.client().can_publish(QoS::AtLeastOnce) {
            mqtt.client()
                .publish(Publication::new(&topic, &qos1[..]).qos(QoS::AtLeastOnce))
                .unwrap();
            sent1 = true;
        }
    }
    assert!(sent0 && sent1);
    assert_eq!(got.len(), 2, "exactly the two messages");
    assert_eq!(got[0].0, topic);
    assert!(got[0].1 == qos0, "QoS 0 payload");
    assert_eq!(got[1].0, topic);
    assert!(got[1].1 == qos1, "QoS 1 payload");
    // The broker acknowledged the QoS 1 publication (nothing left to republish).
    assert!(!mqtt.client().pending_messages());
    drop(mqtt);
    let t = d.engine().traffic();
    assert!(t.payload_received >= (qos0.len() + qos1.len()) as u64);
    blocking_support::assert_spoke_as(&d, &written, module);
}

#[test]
#[ignore = "needs mosquitto"]
fn minimq_round_trip_on_bc26_and_bc66() {
    for module in [engine::Module::Bc26, engine::Module::Bc66] {
        mqtt_round_trip_on(module, AccessMode::Buffer);
    }
}

#[test]
#[ignore = "needs mosquitto"]
fn minimq_round_trip_on_a_bc660k_both_modes() {
    mqtt_round_trip_on(engine::Module::Bc660k, AccessMode::Buffer);
    mqtt_round_trip_on(engine::Module::Bc660k, AccessMode::DirectPush);
}

#[test]
#[ignore = "needs mosquitto"]
fn minimq_publishes_and_receives_its_own_messages_buffer_mode() {
    mqtt_round_trip(AccessMode::Buffer);
}

#[test]
#[ignore = "needs mosquitto"]
fn minimq_publishes_and_receives_its_own_messages_direct_push() {
    mqtt_round_trip(AccessMode::DirectPush);
}
