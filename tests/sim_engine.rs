//! The crate's own sans-IO engine driven against the emulator (both sans-IO, no threads
//! between them): bring-up from power-up with echo and RDY, a TCP echo round trip in both
//! access modes, and the same with output chunking, noise lines and delays switched on.
#![cfg(feature = "sim")]

mod sim_support;

use std::time::{Duration, Instant};

use quectel_bc20::engine::{self, Engine, Event, SocketPhase};
use quectel_bc20::sim::{BootStyle, Config, Faults, Rate, Sim};
use quectel_bc20::{AccessMode, ServiceType};
use sim_support::tcp_echo;

struct Bench {
    sim: Sim,
    eng: Engine<5, 4096>,
    start: Instant,
    pending: Vec<u8>,
    events: Vec<Event>,
}

impl Bench {
    fn new(sim: Config, eng: engine::Config) -> Bench {
        Bench {
            sim: Sim::new(sim),
            eng: Engine::sized(eng),
            start: Instant::now(),
            pending: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Move bytes both ways once; true when anything moved.
    fn step(&mut self) -> bool {
        let now = Instant::now();
        let ms = now.duration_since(self.start).as_millis() as u64;
        let mut moved = false;
        if let Some(b) = self.eng.poll_transmit(ms) {
            let b = b.to_vec();
            let n = self.sim.handle_host_bytes(now, &b);
            self.eng.transmitted(n, ms);
            moved |= n > 0;
        }
        self.sim.tick(now);
        if self.pending.is_empty() {
            let mut buf = [0u8; 2048];
            let n = self.sim.poll_output(now, &mut buf);
            self.pending.extend_from_slice(&buf[..n]);
        }
        if !self.pending.is_empty() {
            let k = self.eng.handle_rx(&self.pending, ms);
            self.pending.drain(..k);
            moved |= k > 0;
        }
        if self.eng.poll_timeout().is_some_and(|t| t <= ms) {
            self.eng.handle_timeout(ms);
        }
        while let Some(e) = self.eng.poll_event() {
            self.events.push(e);
        }
        moved
    }

    fn run_until(&mut self, what: &str, mut cond: impl FnMut(&mut Self) -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        while !cond(self) {
            assert!(
                Instant::now() < end,
                "timed out: {what}; events {:?}",
                self.events
            );
            if !self.step() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

fn round_trip(sim: Config, mode: AccessMode, len: usize) -> Bench {
    let port = tcp_echo();
    let mut b = Bench::new(
        sim,
        engine::Config {
            access_mode: mode,
            ..engine::Config::default()
        },
    );
    b.run_until("ready", |b| b.eng.is_ready());
    let id = b.eng.allocate(ServiceType::Tcp).unwrap();
    b.run_until("open accepted", |b| {
        b.eng.open(id, "127.0.0.1", port).is_ok()
    });
    b.run_until("connected", |b| b.eng.phase(id) == SocketPhase::Connected);
    let data: Vec<u8> = (0..len).map(|i| (i * 151 + 3) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    b.run_until("echoed", |b| {
        if sent < data.len() && !b.eng.send_pending(id) {
            if let Some(r) = b.eng.take_send_result(id) {
                r.unwrap();
            }
            if let Ok(n) = b.eng.send(id, &data[sent..]) {
                sent += n;
            }
        }
        let n = b.eng.recv(id, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        got.len() >= data.len()
    });
    assert!(got == data, "data differs");
    b.eng.close(id).unwrap();
    b.run_until("closed", |b| b.eng.phase(id) == SocketPhase::Free);
    b
}

#[test]
fn engine_brings_the_emulator_up_from_power_up() {
    let mut b = Bench::new(
        Config {
            boot: BootStyle::BootRom,
            ..Config::default()
        },
        engine::Config::default(),
    );
    b.run_until("ready", |b| b.eng.is_ready());
    // The engine switched echo off and set the framing; the module keeps them in NVRAM.
    assert!(!b.sim.nvram().echo);
    assert!(b.sim.nvram().show_length);
}

#[test]
fn engine_round_trip_buffer_mode() {
    round_trip(Config::default(), AccessMode::Buffer, 20_000);
}

#[test]
fn engine_round_trip_direct_push() {
    round_trip(Config::default(), AccessMode::DirectPush, 20_000);
}

#[test]
fn engine_survives_chunking_noise_and_delays() {
    for (seed, mode) in [(1, AccessMode::Buffer), (2, AccessMode::DirectPush)] {
        let b = round_trip(
            Config {
                faults: Faults {
                    seed,
                    chunking: Rate::PerMille(500),
                    chunk_max: 7,
                    chunk_gap: Duration::from_millis(1),
                    noise: Rate::PerMille(150),
                    // pdpdeact would (rightly) end the connection: leave it out here.
                    noise_lines: vec![
                        "+CEREG: 1".into(),
                        "+QNBIOTEVENT: \"ENTER PSM\"".into(),
                        "+CSCON: 1".into(),
                    ],
                    delay: Rate::PerMille(100),
                    delay_range: (Duration::from_millis(1), Duration::from_millis(5)),
                    ..Faults::default()
                },
                ..Config::default()
            },
            mode,
            8_000,
        );
        let log = b.sim.fault_log().events();
        assert!(log.len() > 10, "faults were injected: {}", log.len());
    }
}

#[test]
fn engine_notices_a_reboot() {
    let port = tcp_echo();
    let mut b = Bench::new(Config::default(), engine::Config::default());
    b.run_until("ready", |b| b.eng.is_ready());
    let id = b.eng.allocate(ServiceType::Tcp).unwrap();
    b.run_until("open accepted", |b| {
        b.eng.open(id, "127.0.0.1", port).is_ok()
    });
    b.run_until("connected", |b| b.eng.phase(id) == SocketPhase::Connected);
    let now = Instant::now();
    b.sim.reboot(now);
    b.run_until("reboot seen", |b| b.events.contains(&Event::Rebooted));
    let mut buf = [0u8; 8];
    b.run_until("socket reset", |b| b.eng.recv(id, &mut buf).is_err());
}

#[test]
fn engine_accepts_either_qicfg_answer_and_late_close_ok() {
    let b = round_trip(
        Config {
            qicfg_write_prints_setting: true,
            close_ok_delay: Some(Duration::from_millis(30)),
            doubled_blank_before_late_urcs: true,
            crlf_after_push: true,
            ..Config::default()
        },
        AccessMode::DirectPush,
        3_000,
    );
    assert!(b.eng.is_ready());
}

#[test]
fn engine_survives_an_at_that_crosses_rdy() {
    // The module answers the engine's first AT after printing RDY (it was listening already):
    // the engine must not stay one answer behind.
    let port = tcp_echo();
    let mut b = Bench::new(
        Config {
            listen_while_booting: true,
            ..Config::default()
        },
        engine::Config::default(),
    );
    b.run_until("ready", |b| b.eng.is_ready());
    let mut ticket = None;
    let mut reply = None;
    b.run_until("sim status", |b| {
        match ticket {
            None => ticket = b.eng.start(engine::Request::SimStatus).ok(),
            Some(t) => reply = b.eng.take_reply(t),
        }
        reply.is_some()
    });
    assert!(
        matches!(reply, Some(Ok(engine::Reply::Sim(ref s))) if s.as_str() == "READY"),
        "{reply:?}"
    );
    let id = b.eng.allocate(ServiceType::Tcp).unwrap();
    b.run_until("open accepted", |b| {
        b.eng.open(id, "127.0.0.1", port).is_ok()
    });
    b.run_until("connected", |b| b.eng.phase(id) == SocketPhase::Connected);
}
