//! Running a [`Sim`] on a thread, connected to an endpoint.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::faults::FaultLog;
use super::pipe::{HostPort, pipe};
use super::{Config, Nvram, Sim};
use crate::types::RegistrationStatus;

/// The module's side of a byte transport (a pipe end, a pty master, a TCP connection, ...).
///
/// Both methods must not block: the runner polls them.
pub trait ModulePort: Send + 'static {
    /// Read host bytes that are ready; `Ok(0)` when none are. An error ends the connection.
    fn read_host(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Write module bytes; returns how many were taken (`Ok(0)`: try again later). An error
    /// ends the connection.
    fn write_module(&mut self, bytes: &[u8]) -> io::Result<usize>;
    /// Wait up to `timeout` for host bytes (the default just sleeps).
    fn wait(&mut self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

#[derive(Debug)]
enum Control {
    Reboot,
    Registration(RegistrationStatus),
    PdpDeactivate,
}

/// A running emulator: a [`Sim`] on its own thread, connected to an endpoint.
///
/// Dropping it (or [`Emulator::stop`]) stops the thread; the host end then reads end-of-file.
#[derive(Debug)]
pub struct Emulator {
    stop: Arc<AtomicBool>,
    ctl: mpsc::Sender<Control>,
    log: FaultLog,
    nvram: Arc<Mutex<Nvram>>,
    thread: Option<JoinHandle<()>>,
}

/// Start an emulator on an in-process pipe; returns the host end and the emulator.
pub fn start(config: Config) -> (HostPort, Emulator) {
    let (host, module) = pipe(256 * 1024);
    let sim = Sim::new(config);
    (host, Emulator::spawn(sim, module))
}

/// Serve the emulator on `listener`, one host connection at a time (the module keeps its
/// state from one connection to the next, like a module on a serial cable).
pub fn serve_tcp(listener: TcpListener, config: Config) -> io::Result<Emulator> {
    listener.set_nonblocking(true)?;
    let sim = Sim::new(config);
    Ok(Emulator::spawn_with(sim, move |stop| {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, peer)) => {
                    log::info!("bc20-sim: host connected from {peer}");
                    if s.set_nonblocking(true).is_ok() {
                        let _ = s.set_nodelay(true);
                        return Some(TcpPort(s));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return None,
            }
        }
        None
    }))
}

/// A TCP connection as a [`ModulePort`].
struct TcpPort(TcpStream);

impl ModulePort for TcpPort {
    fn read_host(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn write_module(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.0.write(bytes) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl Emulator {
    /// Run `sim` on a thread, connected to `port`, until the port fails or the emulator is
    /// stopped.
    pub fn spawn<P: ModulePort>(sim: Sim, port: P) -> Emulator {
        let mut port = Some(port);
        Self::spawn_with(sim, move |_| port.take())
    }

    /// Run `sim` on a thread; `next_port` is asked for a port whenever the previous one ended
    /// (`None` ends the thread).
    fn spawn_with<P: ModulePort>(
        sim: Sim,
        mut next_port: impl FnMut(&AtomicBool) -> Option<P> + Send + 'static,
    ) -> Emulator {
        let stop = Arc::new(AtomicBool::new(false));
        let (ctl, ctl_rx) = mpsc::channel();
        let log = sim.fault_log();
        let nvram = Arc::new(Mutex::new(sim.nvram().clone()));
        let shared = (stop.clone(), nvram.clone());
        let thread = std::thread::Builder::new()
            .name("bc20-sim".into())
            .spawn(move || {
                let (stop, nvram) = shared;
                let mut sim = sim;
                while let Some(mut port) = next_port(&stop) {
                    run(&mut sim, &mut port, &stop, &ctl_rx, &nvram);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            })
            .ok();
        Emulator {
            stop,
            ctl,
            log,
            nvram,
            thread,
        }
    }

    /// The fault log (every fault injected so far; keeps filling).
    pub fn fault_log(&self) -> FaultLog {
        self.log.clone()
    }

    /// Reboot the module now (boot lines, every socket gone, NVRAM kept).
    pub fn reboot(&self) {
        let _ = self.ctl.send(Control::Reboot);
    }

    /// Change the registration status the module reports (a `+CEREG: <stat>` URC when the host
    /// asked for them with `AT+CEREG=1` or higher).
    pub fn set_registration(&self, stat: RegistrationStatus) {
        let _ = self.ctl.send(Control::Registration(stat));
    }

    /// Drop the PDP context: `+QIURC: "pdpdeact",1`, every socket gone.
    pub fn pdp_deactivate(&self) {
        let _ = self.ctl.send(Control::PdpDeactivate);
    }

    /// The module's NVRAM settings as last seen by the emulator thread.
    pub fn nvram(&self) -> Nvram {
        self.nvram.lock().map(|n| n.clone()).unwrap_or_default()
    }

    /// True while the emulator thread runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stop the emulator thread and wait for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The pump: host bytes into the sim, ticks, output to the host. Returns when the port fails
/// or `stop` is set.
fn run<P: ModulePort>(
    sim: &mut Sim,
    port: &mut P,
    stop: &AtomicBool,
    ctl: &mpsc::Receiver<Control>,
    nvram: &Mutex<Nvram>,
) {
    let mut inbuf = std::vec![0u8; 4096];
    let mut pending_in: Vec<u8> = Vec::new();
    let mut outbuf = std::vec![0u8; 4096];
    let mut pending_out: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while let Ok(c) = ctl.try_recv() {
            match c {
                Control::Reboot => sim.reboot(now),
                Control::Registration(stat) => sim.set_registration(now, stat),
                Control::PdpDeactivate => sim.pdp_deactivate(now),
            }
        }
        let mut progress = false;
        // Output first: what the module has printed reaches the wire before it reads what
        // arrived meanwhile (so boot lines are out before the first host bytes are taken).
        sim.tick(now);
        if pending_out.is_empty() {
            let n = sim.poll_output(now, &mut outbuf);
            pending_out.extend_from_slice(&outbuf[..n]);
        }
        if !pending_out.is_empty() {
            match port.write_module(&pending_out) {
                Ok(k) => {
                    pending_out.drain(..k);
                    progress |= k > 0;
                }
                Err(_) => return,
            }
        }
        if pending_in.is_empty() {
            match port.read_host(&mut inbuf) {
                Ok(n) => pending_in.extend_from_slice(&inbuf[..n]),
                Err(_) => return,
            }
        }
        if !pending_in.is_empty() {
            let k = sim.handle_host_bytes(now, &pending_in);
            pending_in.drain(..k);
            progress |= k > 0;
        }
        if let Ok(mut n) = nvram.lock()
            && *n != *sim.nvram()
        {
            *n = sim.nvram().clone();
        }
        if !progress {
            port.wait(Duration::from_millis(1));
        }
    }
}
