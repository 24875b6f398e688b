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
//! a receive buffer (the `RX` of [`State`]) larger than any response you await a flush before
//! reading, or read concurrently.
//!
//! # What the runner needs of the UART
//!
//! The receive half's `read` is never cancelled by the runner, so any `embedded_io_async::Read`
//! works; bytes are taken only as fast as the engine has room (direct-push data waits in the
//! UART until the application reads), so nothing is dropped.

mod runner;
mod tcp;
#[cfg(feature = "udp")]
mod udp;

pub use runner::Runner;
pub use tcp::TcpConnection;
#[cfg(feature = "udp")]
pub use udp::{NoUdpServer, UdpConnection};

use core::cell::RefCell;
use core::future::poll_fn;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::task::Poll;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::signal::Signal;
use embassy_sync::waitqueue::MultiWakerRegistration;

#[cfg(feature = "ping")]
use crate::engine::PingOutcome;
use crate::engine::{
    Config, DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX, Engine, Reply, Request,
    SocketInfo, SocketPhase, Ticket,
};
use crate::error::Error;
#[cfg(feature = "ntp")]
use crate::types::NtpTime;
use crate::types::{AccessMode, ConnectId, QiCfg, QiCfgKey, RegistrationStatus, ServiceType};

/// How many tasks can wait on the driver at once before they are all woken to re-register.
const WAITERS: usize = 8;

struct Inner<const N: usize, const RX: usize, const TX: usize, const ST: usize> {
    engine: Engine<N, RX, TX, ST>,
    waiters: MultiWakerRegistration<WAITERS>,
}

/// The driver's state, owned by the application; see the module docs.
pub struct State<
    M: RawMutex,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
> {
    inner: Mutex<M, RefCell<Inner<N, RX, TX, ST>>>,
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

impl<M: RawMutex> State<M> {
    /// A state of the default sizes (five sockets, [`DEFAULT_RX`]-byte receive buffers,
    /// [`DEFAULT_TX`]-byte send queues); the engine starts by bringing the module up once the
    /// runner runs. `const`, so it can initialise a `static`.
    pub const fn new(config: Config) -> Self {
        Self::sized(config)
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    State<M, N, RX, TX, ST>
{
    /// A state of the sizes its type names: `N` sockets with `RX`-byte receive buffers and
    /// `TX`-byte send queues, `ST` bytes of staging (see [`crate::engine`]), e.g.
    /// `State::<NoopRawMutex, 1, 256, 256>::sized(config)`. Invalid sizes fail to compile.
    pub const fn sized(config: Config) -> Self {
        State {
            inner: Mutex::new(RefCell::new(Inner {
                engine: Engine::sized(config),
                waiters: MultiWakerRegistration::new(),
            })),
            kick: Signal::new(),
            space: Signal::new(),
            rx_hold: Mutex::new(core::cell::Cell::new(None)),
            rx_resume: Signal::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Engine<N, RX, TX, ST>) -> T) -> T {
        self.inner.lock(|c| f(&mut c.borrow_mut().engine))
    }

    fn wake_all(&self) {
        self.inner.lock(|c| c.borrow_mut().waiters.wake());
    }
}

/// Split `state` into the stack handle and the runner that owns the UART halves. The runner
/// wakes a sleeping module with `AT` alone; [`Runner::with_wake`] adds a wake pin.
pub fn new<'a, M, R, W, C, D, const N: usize, const RX: usize, const TX: usize, const ST: usize>(
    state: &'a State<M, N, RX, TX, ST>,
    rx: R,
    tx: W,
    clock: C,
    delay: D,
) -> (
    Stack<'a, M, N, RX, TX, ST>,
    Runner<'a, M, R, W, C, D, N, RX, TX, ST>,
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
pub struct Stack<
    'a,
    M: RawMutex,
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
> {
    state: &'a State<M, N, RX, TX, ST>,
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Clone
    for Stack<'_, M, N, RX, TX, ST>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Copy
    for Stack<'_, M, N, RX, TX, ST>
{
}

/// Gives up a request's reply if its future is dropped.
struct TicketGuard<
    's,
    M: RawMutex,
    const N: usize,
    const RX: usize,
    const TX: usize,
    const ST: usize,
> {
    state: &'s State<M, N, RX, TX, ST>,
    ticket: Option<Ticket>,
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Drop
    for TicketGuard<'_, M, N, RX, TX, ST>
{
    fn drop(&mut self) {
        if let Some(t) = self.ticket {
            self.state.with(|e| e.abandon(t));
        }
    }
}

/// Closes a socket whose `connect` future was dropped or failed.
struct SocketGuard<
    's,
    M: RawMutex,
    const N: usize,
    const RX: usize,
    const TX: usize,
    const ST: usize,
> {
    state: &'s State<M, N, RX, TX, ST>,
    id: Option<ConnectId>,
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize> Drop
    for SocketGuard<'_, M, N, RX, TX, ST>
{
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

impl<'a, M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    Stack<'a, M, N, RX, TX, ST>
{
    /// Wait until `f` answers, re-checking whenever the runner reports a change. `f` runs with
    /// the engine locked; the runner is woken after each call, since `f` may have queued work.
    async fn wait<T>(&self, mut f: impl FnMut(&mut Engine<N, RX, TX, ST>) -> Poll<T>) -> T {
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

    /// Bring the module into service ([`Request::BringUp`]): wait for the start-up settings,
    /// check the SIM, and wait until it is registered (`+CEREG` stat 1 or 5), within
    /// `timeout_ms` in all. The engine runs the procedure; both stacks drive the same one.
    pub async fn bring_up(&self, timeout_ms: u32) -> Result<(), Error> {
        self.request(Request::BringUp { timeout_ms })
            .await?
            .into_registration()
            .map(|_| ())
    }

    /// `AT+CEREG?`.
    pub async fn registration(&self) -> Result<RegistrationStatus, Error> {
        self.request(Request::Registration)
            .await?
            .into_registration()
    }

    /// `AT+QPING`; see [`crate::Bc20::ping`]. Feature `ping`.
    #[cfg(feature = "ping")]
    pub async fn ping(
        &self,
        host: &str,
        timeout_s: u8,
        count: u8,
        size: u8,
    ) -> Result<PingOutcome, Error> {
        let ping = Request::Ping {
            host,
            timeout_s,
            count,
            size,
        };
        self.request(ping).await?.into_ping()
    }

    /// `AT+QNTP`: synchronise the module's clock; returns the time. Feature `ntp`.
    #[cfg(feature = "ntp")]
    pub async fn ntp(&self, server: &str, port: u16) -> Result<NtpTime, Error> {
        self.request(Request::Ntp { server, port })
            .await?
            .into_ntp()
    }

    /// `AT+QISTATE`.
    pub async fn socket_state(
        &self,
        id: Option<ConnectId>,
    ) -> Result<heapless::Vec<SocketInfo, 5>, Error> {
        self.request(Request::State(id)).await?.into_sockets()
    }

    /// `AT+QIGETERROR`.
    pub async fn last_error(&self) -> Result<Reply, Error> {
        self.request(Request::LastError).await
    }

    /// `AT+QISWTMD`.
    pub async fn switch_mode(&self, id: ConnectId, mode: AccessMode) -> Result<(), Error> {
        self.request(Request::SwitchMode(id, mode))
            .await?
            .into_done()
    }

    /// `AT+QICFG` with a value.
    pub async fn set_cfg(&self, cfg: QiCfg) -> Result<(), Error> {
        self.request(Request::SetCfg(cfg)).await?.into_done()
    }

    /// `AT+QICFG="<key>"`.
    pub async fn get_cfg(&self, key: QiCfgKey) -> Result<QiCfg, Error> {
        self.request(Request::QueryCfg(key)).await?.into_cfg()
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
            // (A peer that already closed again counts as connected: see `connect_outcome`.)
            _ => e.connect_outcome(id).map_or(Poll::Pending, Poll::Ready),
        })
        .await?;
        guard.id = None;
        Ok(id)
    }

    /// Resolve `host` (IPv4 only; a dotted address is returned as is).
    async fn resolve(&self, host: &str) -> Result<Ipv4Addr, Error> {
        // A dotted address is its own answer (parsed by hand: `core`'s parser is larger).
        if let Some(ip) = crate::wire::addr::ipv4(host.as_bytes()) {
            return Ok(ip);
        }
        self.request(Request::Dns(host)).await?.into_address()
    }
}

impl<M: RawMutex, const N: usize, const RX: usize, const TX: usize, const ST: usize>
    embedded_nal_async::Dns for Stack<'_, M, N, RX, TX, ST>
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
