//! A microcontroller's view of the emulated module, in virtual time: the blocking stack over a
//! UART whose bytes cross the wire at 115200 baud into a bounded MCU receive buffer (an
//! interrupt handler's ring; bytes that find it full are lost, as on hardware, and the read
//! that reaches the place where they were lost fails, as a UART reports an overrun), while a
//! superloop does other work and calls the driver only now and then.
//!
//! The emulator ([`Sim`]) is sans-IO towards the host, so it runs on virtual instants. Two
//! models of the wire:
//! - [`Wire::Continuous`]: the UART hardware runs all the time (the world is stepped every few
//!   virtual milliseconds while the loop does other work), as with an RX interrupt;
//! - [`Wire::Lazy`]: the world moves only when the driver touches the UART: a command written
//!   reaches the module when the UART is next read, and the module's answer is in the MCU's
//!   buffer at the read after that. Each exchange then spans two polls, and a poll period
//!   longer than a command's timeout puts the answer in the UART just after the deadline.
//!
//! Behind the emulator are real loopback sockets, so peers are ordinary threads.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use quectel_bc20::sim::{self, FaultKind, Faults, Rate, Sim};
use quectel_bc20::{Bc20, Clock, engine};

/// How the bytes cross the wire between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The UART moves bytes all the time.
    Continuous,
    /// The world moves only when the driver touches the UART.
    Lazy,
}

/// The module, the wire and the MCU's receive buffer.
pub struct World {
    pub sim: Sim,
    base: Instant,
    clock: Rc<Cell<u64>>,
    to_module: VecDeque<u8>,
    rx: VecDeque<u8>,
    rx_cap: usize,
    /// Bytes lost because the MCU's receive buffer was full.
    pub overruns: usize,
    /// Where in the received stream bytes were lost (counted in bytes that made it into the
    /// buffer): the read that reaches such a place fails, as a UART reports an overrun.
    gaps: VecDeque<u64>,
    /// Bytes that made it into the buffer, and bytes read from it.
    kept: u64,
    taken: u64,
    /// The last byte was lost (one gap for a run of lost bytes).
    losing: bool,
    /// The module is dead: it takes bytes and says nothing.
    pub dead: bool,
    wire: Wire,
}

impl World {
    fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.clock.get())
    }

    /// Move what the wire has carried by now, both ways.
    pub fn step(&mut self) {
        let now = self.now();
        if self.dead {
            self.to_module.clear();
            return;
        }
        match self.wire {
            // The bytes cross the wire as time passes between steps.
            Wire::Continuous => {
                let mut idle_calls = 0;
                while !self.to_module.is_empty() && idle_calls < 2 {
                    let (a, _) = self.to_module.as_slices();
                    let n = self.sim.handle_host_bytes(now, a);
                    self.to_module.drain(..n);
                    idle_calls = if n == 0 { idle_calls + 1 } else { 0 };
                }
            }
            // The bytes start across the wire now, one byte time apart: the module has the
            // command a moment after this touch, and its answer follows at the baud rate.
            Wire::Lazy => {
                let byte = Duration::from_nanos(10_000_000_000 / 115_200);
                let mut t = now;
                let mut spins = 0;
                while !self.to_module.is_empty() && spins < 100_000 {
                    let (a, _) = self.to_module.as_slices();
                    let n = self.sim.handle_host_bytes(t, a);
                    self.to_module.drain(..n);
                    if n == 0 {
                        t += byte;
                        spins += 1;
                    }
                }
            }
        }
        self.sim.tick(now);
        let mut buf = [0u8; 512];
        loop {
            let n = self.sim.poll_output(now, &mut buf);
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if self.rx.len() < self.rx_cap {
                    self.rx.push_back(b);
                    self.kept += 1;
                    self.losing = false;
                } else {
                    self.overruns += 1;
                    if !self.losing {
                        self.gaps.push_back(self.kept);
                        self.losing = true;
                    }
                }
            }
        }
    }
}

impl World {
    /// True when the driver wrote `needle` and the module has not taken it yet.
    pub fn unsent(&self, needle: &[u8]) -> bool {
        let (a, b) = self.to_module.as_slices();
        [a, b].concat().windows(needle.len()).any(|w| w == needle)
    }
}

/// The driver's UART: the MCU side of [`World`].
#[derive(Clone)]
pub struct Uart(pub Rc<RefCell<World>>);

impl Uart {
    fn touch(&self) {
        if self.0.borrow().wire == Wire::Lazy {
            self.0.borrow_mut().step();
        }
    }
}

/// The UART's report of bytes lost to a full receive buffer (an STM32's ORE, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun;

impl std::fmt::Display for Overrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UART overrun")
    }
}

impl std::error::Error for Overrun {}

impl embedded_io::Error for Overrun {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Overrun;
}

impl embedded_io::Read for Uart {
    /// The bytes up to the next place where bytes were lost; at that place, `Overrun` once.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Overrun> {
        self.touch();
        let mut w = self.0.borrow_mut();
        let mut n = buf.len().min(w.rx.len());
        if let Some(&gap) = w.gaps.front() {
            if gap == w.taken {
                w.gaps.pop_front();
                return Err(Overrun);
            }
            n = n.min(usize::try_from(gap - w.taken).unwrap_or(usize::MAX));
        }
        for (b, v) in buf.iter_mut().zip(w.rx.drain(..n)) {
            *b = v;
        }
        w.taken += n as u64;
        Ok(n)
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Overrun> {
        self.touch();
        let w = self.0.borrow();
        Ok(!w.rx.is_empty() || w.gaps.front() == Some(&w.taken))
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Overrun> {
        self.0.borrow_mut().to_module.extend(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Overrun> {
        Ok(())
    }
}

/// Virtual milliseconds. Each idle of the driver (inside its own blocking waits) is one, and
/// moves the wire as hardware would.
#[derive(Clone)]
pub struct VClock {
    ms: Rc<Cell<u64>>,
    world: Rc<RefCell<World>>,
}

impl Clock for VClock {
    fn now_ms(&self) -> u64 {
        self.ms.get()
    }
    fn idle(&self) {
        self.ms.set(self.ms.get() + 1);
        if self.world.borrow().wire == Wire::Continuous {
            self.world.borrow_mut().step();
        }
        // Let the emulator's loopback peers (real threads) keep up with virtual time.
        thread::sleep(Duration::from_micros(20));
    }
}

/// The rig: a driver, its world and its clock.
pub struct Rig {
    pub d: Bc20<Uart, VClock, 5, 4096>,
    pub world: Rc<RefCell<World>>,
    pub clock: VClock,
}

impl Rig {
    /// A module at 115200 baud behind an MCU receive buffer of `rx_cap` bytes, brought up.
    pub fn new(wire: Wire, rx_cap: usize, sim_config: sim::Config, config: engine::Config) -> Rig {
        let mut r = Rig::unready(wire, rx_cap, sim_config, config);
        r.d.bring_up(10_000).expect("bring-up");
        r
    }

    /// The same, not yet brought up.
    pub fn unready(
        wire: Wire,
        rx_cap: usize,
        sim_config: sim::Config,
        config: engine::Config,
    ) -> Rig {
        let sim_config = sim::Config {
            baud: Some(115_200),
            ..sim_config
        };
        let base = Instant::now();
        let sim = Sim::new(sim_config);
        let ms = Rc::new(Cell::new(0));
        let world = Rc::new(RefCell::new(World {
            sim,
            base,
            clock: ms.clone(),
            to_module: VecDeque::new(),
            rx: VecDeque::new(),
            rx_cap,
            overruns: 0,
            gaps: VecDeque::new(),
            kept: 0,
            taken: 0,
            losing: false,
            dead: false,
            wire,
        }));
        let clock = VClock {
            ms,
            world: world.clone(),
        };
        let mut d = Bc20::sized(Uart(world.clone()), clock.clone(), config);
        d.set_wait_limit(120_000);
        Rig { d, world, clock }
    }

    /// The same, brought up against a module with faults on: a reboot or an `ERROR` may end
    /// a bring-up, which is tried again (ten times at most; `name` says which case failed).
    pub fn up_despite_faults(
        name: &str,
        wire: Wire,
        rx_cap: usize,
        sim_config: sim::Config,
        config: engine::Config,
    ) -> Rig {
        let mut r = Rig::unready(wire, rx_cap, sim_config, config);
        let mut attempts = 0;
        while let Err(e) = r.d.bring_up(60_000) {
            attempts += 1;
            assert!(attempts < 10, "{name}: no bring-up after 10 attempts: {e}");
        }
        r
    }

    /// The superloop's other work: `ms` pass; the UART hardware keeps running meanwhile
    /// (continuous wire), or not (lazy wire).
    pub fn work(&mut self, ms: u64) {
        let end = self.clock.ms.get() + ms;
        while self.clock.ms.get() < end {
            let step = (end - self.clock.ms.get()).min(5);
            self.clock.ms.set(self.clock.ms.get() + step);
            if self.world.borrow().wire == Wire::Continuous {
                self.world.borrow_mut().step();
            }
        }
        // Loopback peers are real threads.
        thread::sleep(Duration::from_micros(200));
    }

    pub fn now(&self) -> u64 {
        self.clock.ms.get()
    }

    pub fn overruns(&self) -> usize {
        self.world.borrow().overruns
    }

    /// Retry an `nb` call once a virtual millisecond, for at most `ms`.
    pub fn nb<T, E>(
        &mut self,
        ms: u64,
        mut f: impl FnMut(&mut Bc20<Uart, VClock, 5, 4096>) -> nb::Result<T, E>,
    ) -> Option<Result<T, E>> {
        for _ in 0..ms {
            match f(&mut self.d) {
                Ok(v) => return Some(Ok(v)),
                Err(nb::Error::Other(e)) => return Some(Err(e)),
                Err(nb::Error::WouldBlock) => self.work(1),
            }
        }
        None
    }
}

/// `len` bytes from a seeded xorshift: binary, every byte value.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A TCP server on 127.0.0.1 that writes `data` to each connection and keeps it open.
pub fn sender(data: Vec<u8>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let data = data.clone();
            thread::spawn(move || {
                let _ = s.write_all(&data);
                let _ = s.flush();
                let mut sink = [0u8; 256];
                while let Ok(n) = s.read(&mut sink) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A TCP echo server on 127.0.0.1.
pub fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// The kinds of fault met (by [`fault_name`]) are exactly `want`, in its (sorted) order.
pub fn assert_faults_met(met: &std::collections::BTreeSet<&'static str>, want: &[&str]) {
    let met: Vec<_> = met.iter().copied().collect();
    assert_eq!(met, want, "faults met");
}

/// A short name for a kind of fault the emulator injected, for the tests' lists.
pub fn fault_name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Delay(_) => "delay",
        FaultKind::Chunked { .. } => "chunked",
        FaultKind::Noise(_) => "noise line",
        FaultKind::OpenFail { .. } => "open fail",
        FaultKind::SendFail(_) => "SEND FAIL",
        FaultKind::Error(_) => "ERROR",
        FaultKind::PeerClose(_) => "peer close",
        FaultKind::BuffFull(_) => "buff full",
        FaultKind::Reboot => "reboot",
        FaultKind::PingLoss(_) => "ping loss",
        FaultKind::CloseDamage(_) => "close damaged",
        FaultKind::OpenDamage(_) => "open damaged",
        FaultKind::LineNoise { .. } => "line noise",
    }
}

/// Longest a connection may go without progress (a byte accepted or echoed) or an error:
/// the driver's longest wait for a module that has stopped answering (`unresponsive_ms`, 30 s)
/// and a send's hold after a timeout (twice `send_timeout_ms`), with room, plus the polls a
/// superloop needs for each step.
pub fn stall_bound(period: u64) -> u64 {
    150_000 + 40 * period
}

/// Every fault of the emulator that does not destroy data by design, at rates high enough
/// that a short run meets each of them.
pub fn every_fault(seed: u64) -> Faults {
    Faults {
        seed,
        delay: Rate::PerMille(20),
        delay_range: (Duration::ZERO, Duration::from_millis(300)),
        chunking: Rate::PerMille(50),
        chunk_max: 16,
        chunk_gap: Duration::from_millis(2),
        noise: Rate::PerMille(10),
        noise_lines: [
            "+CEREG: 1",
            "+CEREG: 5",
            "+QNBIOTEVENT: \"ENTER PSM\"",
            "+CSCON: 0",
        ]
        .map(String::from)
        .to_vec(),
        open_fail: Rate::PerMille(50),
        send_fail: Rate::PerMille(10),
        error_on: Rate::PerMille(8),
        error_on_command: String::new(),
        peer_close: Rate::PerMille(5),
        buff_full: Rate::PerMille(20),
        reboot: Rate::PerMille(3),
        line_noise: Rate::Never,
        ping_loss: Rate::Never,
        // Opportunity: each close announcement. Every one, so that the few peer closes of a
        // run must all be found by the driver's audit (at a rate, whether any came damaged
        // at all turned on how the dice of the other faults fell).
        close_damage: Rate::Always,
        // Opportunity: each connection made.
        open_damage: Rate::PerMille(200),
    }
}
