//! The async network stack: `embedded-nal-async` 0.9 over an `embedded-io-async` UART, for any
//! executor.
//!
//! Split the way embedded async network drivers are:
//!
//! - a [`State`] you own (put it in a `static` with `static_cell`, or on the stack of `main`),
//!   sized by const generics and holding the engine behind a blocking mutex of your choice
//!   (`NoopRawMutex` for one executor, `CriticalSectionRawMutex` when tasks run on several
//!   threads or priorities);
//! - a [`Runner`] that owns the UART and must be running for anything to happen: spawn
//!   [`Runner::run`] as a task (or `join` it with your code). It is the only code that touches
//!   the UART; it feeds received bytes to the engine, writes what the engine has to send,
//!   applies deadlines and wakes whoever waits;
//! - a [`Stack`], a cheap `Copy` handle whose methods take `&self`, so several tasks use
//!   several sockets at once. It implements [`TcpConnect`](embedded_nal_async::TcpConnect),
//!   [`UdpStack`](embedded_nal_async::UdpStack) and [`Dns`](embedded_nal_async::Dns), which is
//!   what `reqwless` and `minimq` take.
//!
//! Time comes from a [`Clock`](crate::Clock) (milliseconds) and waits from an
//! `embedded_hal_async::delay::DelayNs`, so no runtime is assumed.
//!
//! # Cancellation
//!
//! Every future of this API can be dropped at any await point (a `select` with a timeout, a
//! cancelled task) and the driver and the other sockets keep working: a dropped `connect`
//! closes its socket, a dropped request gives up its reply, a dropped write forgets the
//! outcome of the chunk it had handed to the module (which the module may still deliver), and
//! a dropped connection is closed by the runner (`Drop` cannot await; the close is queued).
//!
//! # Direct push and `flush`
//!
//! In direct push mode the module writes received data into the UART as it arrives, and the
//! runner takes it only while the socket's receive buffer has room. A task that writes, awaits
//! [`flush`](embedded_io_async::Write::flush) (the module's `SEND OK`) and only then reads
//! (as HTTP clients do) can wait for a `SEND OK` that sits in the UART behind pushed data
//! nobody reads, until the send timeout. Buffer access mode (the default) has no such
//! coupling: the module keeps the data until the engine asks for it. Use direct push only with
//! a receive buffer (`SOCK_RX`) larger than any response you await a flush before reading, or
//! read concurrently.
//!
//! # What the runner needs of the UART
//!
//! The receive half's `read` is never cancelled by the runner, so any `embedded_io_async::Read`
//! works; bytes are taken only as fast as the engine has room (direct-push data waits in the
//! UART until the application reads), so nothing is dropped.

mod runner;
mod tcp;
mod udp;

pub use runner::Runner;
pub use tcp::TcpConnection;
pub use udp::{NoUdpServer, UdpConnection};

use core::cell::RefCell;
use core::future::poll_fn;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::task::Poll;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::signal::Signal;
use embassy_sync::waitqueue::MultiWakerRegistration;
use embedded_hal_async::delay::DelayNs;

use crate::engine::{Config, Engine, PingOutcome, Reply, Request, SocketInfo, SocketPhase, Ticket};
use crate::error::Error;
use crate::types::{
    AccessMode, ConnectId, NtpTime, QiCfg, QiCfgKey, RegistrationStatus, ServiceType,
};

/// How many tasks can wait on the driver at once before they are all woken to re-register.
const WAITERS: usize = 16;

struct Inner<const SOCK_RX: usize, const RX: usize> {
    engine: Engine<SOCK_RX, RX>,
    waiters: MultiWakerRegistration<WAITERS>,
}

/// The driver's state, owned by the application; see the module docs.
pub struct State<M: RawMutex, const SOCK_RX: usize = 1536, const RX: usize = 3200> {
    inner: Mutex<M, RefCell<Inner<SOCK_RX, RX>>>,
    /// Wakes the runner's transmit side: there may be something to send.
    kick: Signal<M, ()>,
    /// Wakes the runner's receive side: a socket was read, there may be room again.
    space: Signal<M, ()>,
    /// The receive side backs off after a UART error until this instant (ms); the transmit
    /// side, which owns the delay, wakes it with `rx_resume`.
    rx_hold: Mutex<M, core::cell::Cell<Option<u64>>>,
    /// Ends the receive side's back-off.
    rx_resume: Signal<M, ()>,
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> State<M, SOCK_RX, RX> {
    /// A new state; the engine starts by bringing the module up once the runner runs.
    pub fn new(config: Config) -> Self {
        State {
            inner: Mutex::new(RefCell::new(Inner {
                engine: Engine::new(config),
                waiters: MultiWakerRegistration::new(),
            })),
            kick: Signal::new(),
            space: Signal::new(),
            rx_hold: Mutex::new(core::cell::Cell::new(None)),
            rx_resume: Signal::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Engine<SOCK_RX, RX>) -> T) -> T {
        self.inner.lock(|c| f(&mut c.borrow_mut().engine))
    }

    fn wake_all(&self) {
        self.inner.lock(|c| c.borrow_mut().waiters.wake());
    }
}

/// Split `state` into the stack handle and the runner that owns the UART halves. The runner
/// wakes a sleeping module with `AT` alone; [`Runner::with_wake`] adds a wake pin.
pub fn new<'a, M, R, W, C, D, const SOCK_RX: usize, const RX: usize>(
    state: &'a State<M, SOCK_RX, RX>,
    rx: R,
    tx: W,
    clock: C,
    delay: D,
) -> (
    Stack<'a, M, SOCK_RX, RX>,
    Runner<'a, M, R, W, C, D, SOCK_RX, RX>,
)
where
    M: RawMutex,
{
    (
        Stack { state },
        Runner::new(state, rx, tx, clock, delay, crate::wake::NoWake),
    )
}

/// The handle the application uses: cheap to copy, every method takes `&self`.
pub struct Stack<'a, M: RawMutex, const SOCK_RX: usize = 1536, const RX: usize = 3200> {
    state: &'a State<M, SOCK_RX, RX>,
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> Clone for Stack<'_, M, SOCK_RX, RX> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> Copy for Stack<'_, M, SOCK_RX, RX> {}

/// Gives up a request's reply if its future is dropped.
struct TicketGuard<'s, M: RawMutex, const S: usize, const R: usize> {
    state: &'s State<M, S, R>,
    ticket: Option<Ticket>,
}

impl<M: RawMutex, const S: usize, const R: usize> Drop for TicketGuard<'_, M, S, R> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket {
            self.state.with(|e| e.abandon(t));
        }
    }
}

/// Closes a socket whose `connect` future was dropped or failed.
struct SocketGuard<'s, M: RawMutex, const S: usize, const R: usize> {
    state: &'s State<M, S, R>,
    id: Option<ConnectId>,
}

impl<M: RawMutex, const S: usize, const R: usize> Drop for SocketGuard<'_, M, S, R> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.state.with(|e| {
                e.forget_send(id);
                let _ = e.close(id);
            });
            self.state.kick.signal(());
            // Closing drops the socket's unread data: held-back output may flow again.
            self.state.space.signal(());
        }
    }
}

impl<'a, M: RawMutex, const SOCK_RX: usize, const RX: usize> Stack<'a, M, SOCK_RX, RX> {
    /// Wait until `f` answers, re-checking whenever the runner reports a change. `f` runs with
    /// the engine locked; the runner is woken after each call, since `f` may have queued work.
    async fn wait<T>(&self, mut f: impl FnMut(&mut Engine<SOCK_RX, RX>) -> Poll<T>) -> T {
        poll_fn(|cx| {
            let r = self.state.inner.lock(|c| {
                let mut inner = c.borrow_mut();
                match f(&mut inner.engine) {
                    Poll::Ready(v) => Poll::Ready(v),
                    Poll::Pending => {
                        inner.waiters.register(cx.waker());
                        Poll::Pending
                    }
                }
            });
            self.state.kick.signal(());
            r
        })
        .await
    }

    /// Wait until the module answered `AT` and took the start-up settings, or
    /// [`Error::Timeout`] once it has not answered for
    /// [`Config::unresponsive_ms`](crate::engine::Config::unresponsive_ms).
    pub async fn wait_ready(&self) -> Result<(), Error> {
        self.wait(|e| {
            if e.is_ready() {
                Poll::Ready(Ok(()))
            } else if e.is_unresponsive() {
                Poll::Ready(Err(Error::Timeout))
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Send `request` and wait for its reply (bounded by the engine's deadlines).
    pub async fn request(&self, request: Request<'_>) -> Result<Reply, Error> {
        let mut guard = TicketGuard {
            state: self.state,
            ticket: None,
        };
        let r = self
            .wait(|e| match guard.ticket {
                None => match e.start(request) {
                    Ok(t) => {
                        guard.ticket = Some(t);
                        Poll::Pending
                    }
                    Err(Error::Busy) => Poll::Pending,
                    Err(err) => Poll::Ready(Err(err)),
                },
                Some(t) => match e.take_reply(t) {
                    Some(r) => Poll::Ready(r),
                    None => Poll::Pending,
                },
            })
            .await;
        guard.ticket = None;
        r
    }

    /// Bring the module up: wait for it, check its identity (`ATI`) against the configured
    /// [`Module`](crate::engine::Module) (a mismatch is a warning and
    /// [`Event::ModuleMismatch`](crate::engine::Event), never an error), check the SIM, and
    /// wait until it is registered (`+CEREG` stat 1 or 5), asking every second for at most
    /// `registration_timeout_ms`.
    pub async fn bring_up<D: DelayNs>(
        &self,
        delay: &mut D,
        registration_timeout_ms: u32,
    ) -> Result<(), Error> {
        let mut waited = 0u32;
        while !self.state.with(|e| e.is_ready()) {
            if waited >= registration_timeout_ms {
                return Err(Error::Timeout);
            }
            if self.state.with(|e| e.is_unresponsive()) {
                return Err(Error::Timeout);
            }
            delay.delay_ms(50).await;
            waited = waited.saturating_add(50);
        }
        if let Err(e) = self.request(Request::Identify).await {
            // A module that answers ATI otherwise, or not at all, is still usable.
            crate::fmt::warn!("bc20: ATI failed ({}); identity not checked", e);
        }
        match self.request(Request::SimStatus).await? {
            Reply::Sim(code) if code.as_str() == "READY" => {}
            _ => return Err(Error::Unexpected),
        }
        loop {
            if self.registration().await?.is_registered() {
                return Ok(());
            }
            if waited >= registration_timeout_ms {
                return Err(Error::Timeout);
            }
            delay.delay_ms(1_000).await;
            waited = waited.saturating_add(1_000);
        }
    }

    /// `AT+CEREG?`.
    pub async fn registration(&self) -> Result<RegistrationStatus, Error> {
        match self.request(Request::Registration).await? {
            Reply::Registration(s) => Ok(s),
            _ => Err(Error::Unexpected),
        }
    }

    /// `AT+QPING`; see [`crate::Bc20::ping`].
    pub async fn ping(
        &self,
        host: &str,
        timeout_s: u8,
        count: u8,
        size: u8,
    ) -> Result<PingOutcome, Error> {
        match self
            .request(Request::Ping {
                host,
                timeout_s,
                count,
                size,
            })
            .await?
        {
            Reply::Ping(p) => Ok(p),
            _ => Err(Error::Unexpected),
        }
    }

    /// `AT+QNTP`: synchronise the module's clock; returns the time.
    pub async fn ntp(&self, server: &str, port: u16) -> Result<NtpTime, Error> {
        match self.request(Request::Ntp { server, port }).await? {
            Reply::Ntp(t) => Ok(t),
            _ => Err(Error::Unexpected),
        }
    }

    /// `AT+QISTATE`.
    pub async fn socket_state(
        &self,
        id: Option<ConnectId>,
    ) -> Result<heapless::Vec<SocketInfo, 5>, Error> {
        match self.request(Request::State(id)).await? {
            Reply::State(l) => Ok(l),
            Reply::Done => Ok(heapless::Vec::new()),
            _ => Err(Error::Unexpected),
        }
    }

    /// `AT+QIGETERROR`.
    pub async fn last_error(&self) -> Result<Reply, Error> {
        self.request(Request::LastError).await
    }

    /// `AT+QISWTMD`.
    pub async fn switch_mode(&self, id: ConnectId, mode: AccessMode) -> Result<(), Error> {
        self.request(Request::SwitchMode(id, mode))
            .await
            .map(|_| ())
    }

    /// `AT+QICFG` with a value.
    pub async fn set_cfg(&self, cfg: QiCfg) -> Result<(), Error> {
        self.request(Request::SetCfg(cfg)).await.map(|_| ())
    }

    /// `AT+QICFG="<key>"`.
    pub async fn get_cfg(&self, key: QiCfgKey) -> Result<QiCfg, Error> {
        match self.request(Request::QueryCfg(key)).await? {
            Reply::Cfg(c) => Ok(c),
            _ => Err(Error::Unexpected),
        }
    }

    /// Traffic counters of the engine.
    pub fn traffic(&self) -> crate::engine::Traffic {
        self.state.with(|e| e.traffic())
    }

    /// The outcome of the identity check of [`Stack::bring_up`] (see
    /// [`Engine::identity`](crate::engine::Engine::identity)).
    pub fn identity(&self) -> Option<crate::engine::IdentityCheck> {
        self.state.with(|e| e.identity())
    }

    /// Open a socket of `service` to `remote` from `local_port` (0: any) and wait for
    /// `+QIOPEN`. On failure or cancellation the socket is closed.
    async fn open(
        &self,
        service: ServiceType,
        remote: SocketAddr,
        local_port: u16,
    ) -> Result<ConnectId, Error> {
        if !remote.is_ipv4() {
            return Err(Error::Unsupported);
        }
        let id = self.state.with(|e| e.allocate(service))?;
        let mut guard = SocketGuard {
            state: self.state,
            id: Some(id),
        };
        self.wait(|e| match e.phase(id) {
            SocketPhase::Reserved => match e.open_addr(id, remote, local_port) {
                Ok(()) | Err(Error::Busy) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            },
            SocketPhase::Opening => Poll::Pending,
            SocketPhase::Connected => Poll::Ready(Ok(())),
            SocketPhase::Failed(err) => Poll::Ready(Err(err)),
            _ => Poll::Ready(Err(Error::Closed)),
        })
        .await?;
        guard.id = None;
        Ok(id)
    }

    /// Resolve `host` (IPv4 only; a dotted address is returned as is).
    async fn resolve(&self, host: &str) -> Result<Ipv4Addr, Error> {
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(ip);
        }
        match self.request(Request::Dns(host)).await? {
            Reply::Dns(addrs) => addrs.first().copied().ok_or(Error::Unexpected),
            _ => Err(Error::Unexpected),
        }
    }
}

impl<M: RawMutex, const SOCK_RX: usize, const RX: usize> embedded_nal_async::Dns
    for Stack<'_, M, SOCK_RX, RX>
{
    type Error = Error;

    /// `AT+QIDNSGIP`; IPv6 is [`Error::Unsupported`].
    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: embedded_nal_async::AddrType,
    ) -> Result<IpAddr, Error> {
        if addr_type == embedded_nal_async::AddrType::IPv6 {
            return Err(Error::Unsupported);
        }
        self.resolve(host).await.map(IpAddr::V4)
    }

    /// The BC20 has no reverse lookup: [`Error::Unsupported`].
    async fn get_host_by_address(&self, _addr: IpAddr, _result: &mut [u8]) -> Result<usize, Error> {
        Err(Error::Unsupported)
    }
}
