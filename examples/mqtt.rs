//! MQTT through a BC20: minimq 0.13 (MQTT 5) on a `TcpConnect` connection of the async stack.
//!
//! `cargo run --example mqtt -- --broker 127.0.0.1:1883` connects through the emulated module
//! to a broker (mosquitto, say), subscribes to a topic, publishes a few messages to it at QoS 1
//! and prints each message as it goes out and comes back. `--port /dev/ttyUSB0` does the same
//! through a real module (the broker's name is resolved by the module); `--help` lists it all.
//!
//! Why minimq 0.13 on the async stack rather than minimq 0.10 on the blocking `Bc20`: 0.13 is
//! the maintained line; it is cancel-safe and waits for the transport instead of being polled,
//! so a read that waits on the module costs nothing; and its keepalive runs on `embassy-time`,
//! which firmware on embassy already has. (minimq 0.10's `poll` loop over the blocking stack's
//! `nb` sockets works too; the blocking stack's docs show it.) On the host `embassy-time` needs
//! its `std` driver, a dev-dependency of this crate.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use embedded_nal_async::{AddrType, Dns, TcpConnect};
use lexopt::{Arg, Parser, ValueExt as _};
use minimq::{
    Buffers, ConfigBuilder, ConnectEvent, Publication, QoS, Session, SubscriptionOptions,
    TopicFilter,
};
use quectel_bc20::engine::Config;
use quectel_bc20::sim;

use common::Common;

const HELP_HEAD: &str = "\
mqtt: publish and subscribe through a Quectel BC20 (minimq 0.13 over the async stack)

USAGE:
    mqtt [--broker HOST:PORT] [--topic T] [--count N] [--client-id ID] [MODULE OPTIONS]

    Connects to the broker (default 127.0.0.1:1883; start one with `mosquitto -p 1883`),
    subscribes to the topic (default bc20/demo), publishes N messages (default 3) to it at
    QoS 1, and prints what it sends and receives, then the UART traffic. The emulated module
    reaches the broker over the host's network; a real one over NB-IoT, so the broker must be
    reachable from the internet.

";

struct Options {
    broker: String,
    topic: String,
    count: u32,
    client_id: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            broker: "127.0.0.1:1883".into(),
            topic: "bc20/demo".into(),
            count: 3,
            client_id: format!("bc20-example-{}", std::process::id()),
        }
    }
}

/// This example's own options.
fn own(o: &mut Options, arg: Arg<'_>, p: &mut Parser) -> Result<(), lexopt::Error> {
    match arg {
        Arg::Long("broker") => o.broker = p.value()?.string()?,
        Arg::Long("topic") => o.topic = p.value()?.string()?,
        Arg::Long("count") => o.count = p.value()?.parse()?,
        Arg::Long("client-id") => o.client_id = p.value()?.string()?,
        _ => return Err(arg.unexpected()),
    }
    Ok(())
}

async fn run(common: &Common, o: &Options) -> Result<(), String> {
    let (host, port) = o
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or(format!("--broker {}: expected HOST:PORT", o.broker))?;
    if common.is_emulated() {
        println!("module: BC20 emulator on an in-process pipe");
    }
    let (stack, _emulator) =
        common::start(common, sim::Config::default(), Config::default()).await?;
    let ip = match host.parse::<Ipv4Addr>() {
        Ok(ip) => ip.into(),
        Err(_) => stack
            .get_host_by_name(host, AddrType::IPv4)
            .await
            .map_err(|e| format!("DNS lookup of {host}: {e:?}"))?,
    };
    let remote = SocketAddr::new(ip, port);
    let tcp = stack
        .connect(remote)
        .await
        .map_err(|e| format!("TCP connect to {remote}: {e:?} (is a broker running there?)"))?;
    println!("TCP connected to {remote} (socket {})", tcp.id());

    let (mut rx, mut tx) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut session = Session::new(
        ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
            .client_id(&o.client_id)
            .map_err(|e| format!("client id: {e:?}"))?
            .keepalive_interval(60),
    );
    let mut conn = session
        .connect(tcp)
        .await
        .map_err(|e| format!("MQTT connect: {e:?}"))?;
    if conn.connect_event() != ConnectEvent::Connected {
        println!("MQTT session resumed as {}", o.client_id);
    } else {
        println!("MQTT connected as {}", o.client_id);
    }

    let filter = [TopicFilter::new(&o.topic)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce))];
    let sub = conn
        .subscribe(&filter, &[])
        .await
        .map_err(|e| format!("subscribe: {e:?}"))?;
    while !conn.is_complete(&sub) {
        if let Some(m) = conn.poll().await.map_err(|e| format!("SUBACK: {e:?}"))? {
            // A retained message of the topic, from before.
            println!(
                "< {} (retained): {}",
                m.topic(),
                String::from_utf8_lossy(m.payload())
            );
        }
    }
    println!("subscribed to {}", o.topic);

    for i in 1..=o.count {
        let text = format!("hello #{i} from a BC20");
        let op = conn
            .publish(Publication::bytes(&o.topic, text.as_bytes()).qos(QoS::AtLeastOnce))
            .await
            .map_err(|e| format!("publish: {e:?}"))?;
        println!("> {} (QoS 1): {text}", o.topic);
        loop {
            let m = conn.recv().await.map_err(|e| format!("receive: {e:?}"))?;
            let got = String::from_utf8_lossy(m.payload()).into_owned();
            println!("< {} (QoS {}): {got}", m.topic(), m.qos() as u8);
            if got == text {
                break;
            }
        }
        if let Some(op) = op {
            while !conn.is_complete(&op) {
                conn.poll().await.map_err(|e| format!("PUBACK: {e:?}"))?;
            }
        }
    }
    conn.disconnect()
        .await
        .map_err(|e| format!("disconnect: {e:?}"))?;
    println!("disconnected");
    println!("{}", common::traffic_report(&stack.traffic()));
    Ok(())
}

fn main() -> ExitCode {
    match common::begin("mqtt", HELP_HEAD, Options::default(), own) {
        Ok((common, options)) => {
            common::block_on_with_timeout("mqtt", common.timeout, run(&common, &options))
        }
        Err(code) => code,
    }
}
