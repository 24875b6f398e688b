//! The command in flight: what it waits for, when it is done, and what runs next.

use super::{count, later};
use crate::error::Error;
use crate::types::{AccessMode, ConnectId, QiCfg};
use crate::wire::Command;

#[cfg(feature = "ping")]
use super::reply::PingOutcome;
use super::reply::{Reply, Request};
use super::socket::SocketPhase;
use super::{Millis, Stamp, State, Ticket};

/// Start-up steps, in order: `AT`, `ATE0`, `AT+CMEE=1`, the three QICFG settings, and (at the
/// driver's first start-up only) `AT+QISTATE?` to find sockets left over from a previous run.
pub(super) const INIT_STEPS: u8 = 6;

/// The start-up step that asks for left-over sockets.
pub(super) const STALE_STEP: u8 = INIT_STEPS;

/// How long background reads step aside for a request refused for want of the slot, ms.
pub(super) const USER_YIELD_MS: Millis = 200;

/// What a user request collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UserKind {
    Plain,
    SwitchMode(ConnectId, AccessMode),
    SetCfg(QiCfg),
    Dns,
    #[cfg(feature = "ping")]
    Ping,
    #[cfg(feature = "ntp")]
    Ntp,
    Info,
    /// A step of [`Request::BringUp`] (collects like `Info`).
    BringUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Job {
    Init(u8),
    Sync,
    Open(ConnectId),
    Send {
        id: ConnectId,
        len: usize,
        hex: bool,
    },
    Read {
        id: ConnectId,
        asked: usize,
    },
    Close(ConnectId),
    /// `AT+QISTATE?` after a line may have been lost (see `audit`).
    Audit,
    User {
        ticket: Ticket,
        kind: UserKind,
    },
}

/// The job a timeout caught, for the log: its `Debug` form with `log`; with `defmt` its name
/// only (a derived `Format`, or `Debug` formatted on the device, cost several KB of flash).
pub(super) struct JobLog(pub(super) Option<Job>);

impl core::fmt::Display for JobLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Some(job) => core::fmt::Debug::fmt(job, f),
            None => f.write_str("none"),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for JobLog {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.0.map_or("none", |j| j.name()))
    }
}

impl Job {
    /// The job's name, for the log.
    #[cfg(feature = "defmt")]
    fn name(&self) -> &'static str {
        match self {
            Job::Init(_) => "start-up",
            Job::Sync => "sync",
            Job::Open(_) => "open",
            Job::Send { .. } => "send",
            Job::Read { .. } => "read",
            Job::Close(_) => "close",
            Job::Audit => "audit",
            Job::User { .. } => "request",
        }
    }

    /// Jobs whose answer has a second, later part that holds the command slot.
    pub(super) fn has_late_part(&self) -> bool {
        match self {
            Job::Close(_)
            | Job::User {
                kind: UserKind::Dns,
                ..
            } => true,
            #[cfg(feature = "ping")]
            Job::User {
                kind: UserKind::Ping,
                ..
            } => true,
            #[cfg(feature = "ntp")]
            Job::User {
                kind: UserKind::Ntp,
                ..
            } => true,
            _ => false,
        }
    }
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub job: Job,
    /// None while the command is still being written.
    pub deadline: Stamp,
    /// The final result (`OK`, `ERROR`, `+CME ERROR`), once seen.
    pub result: Option<Result<(), Error>>,
    /// The late part (`SEND OK`, `CLOSE OK`, the DNS/ping/NTP answer) arrived.
    pub late_done: bool,
    /// A failure reported by the late part.
    pub late_error: Option<Error>,
    /// The deadline was moved out for the late part.
    pub extended: bool,
    /// DNS addresses still expected.
    pub expect: u8,
    pub abandoned: bool,
    /// Since the command was written, nothing but blank lines came: a module that slept
    /// answers so, and forgets the command (spec 6.3).
    pub bare_only: bool,
    /// A blank line came while `bare_only`.
    pub blank_seen: bool,
    /// Times the command was sent again after a bare answer.
    pub resent: u8,
    /// A wake-up was started for this command: it goes out after that one, never after
    /// another (the module may answer the wake-up `AT` later than the idle threshold).
    pub woken: bool,
    /// A read: its `+QIRD` header came (an `OK` without one is not its answer).
    pub read_header: bool,
    /// A read: bytes went missing from the module's output after it was written and before
    /// its header came (a UART receive error), so its answer may have gone with them.
    pub answer_lost: bool,
    /// A ping's plan: how long its echoes may take, and how to tell a lone error apart.
    #[cfg(feature = "ping")]
    pub ping: Option<PingPlan>,
}

/// What the engine knows of a ping in flight.
#[cfg(feature = "ping")]
#[derive(Debug, Clone, Copy)]
pub(super) struct PingPlan {
    /// Echo requests asked for.
    pub count: u8,
    /// Seconds each echo may take.
    pub timeout_s: u8,
    /// A `+QPING: <err>` came before any reply: if nothing follows by `decide_at`, it was the
    /// whole ping's failure (spec 6.6), else the first echo's.
    pub decide_at: Option<Millis>,
}

/// The most times a command lost to a sleeping module is sent again.
pub(super) const MAX_RESENDS: u8 = 2;

/// Failed `AT+QIRD` attempts on a socket before it fails (the module re-announces data only
/// after a read that returns 0, so a read is retried rather than given up).
pub(super) const MAX_READ_FAILURES: u8 = 3;

/// Wait before the n-th retry of a failed `AT+QIRD`, ms (times n).
pub(super) const READ_RETRY_MS: Millis = 200;

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// `Err(Busy)` unless a user command may start now.
    pub(super) fn user_slot_free(&self) -> Result<(), Error> {
        if self.unresponsive {
            return Err(Error::Timeout);
        }
        if self.inflight.is_some()
            || self.init.is_some()
            || self.needs_sync
            || self.holding()
            || self.stale != 0
            || self.tx_busy()
        {
            Err(Error::Busy)
        } else {
            Ok(())
        }
    }

    /// [`State::user_slot_free`] for a request that will take the slot: a refusal is noted,
    /// so background reads step aside for it (see [`USER_YIELD_MS`]).
    pub(super) fn claim_slot(&mut self) -> Result<(), Error> {
        let r = self.user_slot_free();
        match r {
            Err(Error::Busy) => {
                if self.user_waiting_since.is_none() {
                    self.user_waiting_since = Stamp::at(self.now);
                }
            }
            Ok(()) => self.user_waiting_since = Stamp::NONE,
            Err(_) => {}
        }
        r
    }

    /// Encode `cmd` for transmission as the command in flight.
    pub(super) fn begin(&mut self, cmd: &Command<'_>, job: Job) -> Result<(), Error> {
        self.load_command(cmd)?;
        self.set_inflight(job);
        Ok(())
    }

    /// Send the first `len` queued bytes of `id` as the command in flight.
    pub(super) fn begin_send(&mut self, id: ConnectId, len: usize, hex: bool) -> Result<(), Error> {
        self.load_send(id, len, hex)?;
        self.set_inflight(Job::Send { id, len, hex });
        if let Some(s) = self.sockets.get_mut(id.index()) {
            s.tx_inflight = len;
        }
        Ok(())
    }

    #[inline(never)] // one copy for its callers (flash)
    fn set_inflight(&mut self, job: Job) {
        count(&mut self.traffic.commands, 1);
        // An `OK` owed to a late `+QIRD` answer comes right after it, before anything
        // written from now on is answered.
        self.late_ok_owed = false;
        self.inflight = Some(InFlight {
            job,
            deadline: Stamp::NONE,
            result: None,
            late_done: false,
            late_error: None,
            extended: false,
            expect: 0,
            abandoned: false,
            bare_only: false,
            blank_seen: false,
            resent: 0,
            woken: false,
            read_header: false,
            answer_lost: false,
            #[cfg(feature = "ping")]
            ping: None,
        });
    }

    /// The whole command is written: its answer timer starts now.
    pub(super) fn sent_out(&mut self) {
        let t = self.config.command_timeout_ms;
        let now = self.now;
        // Only a module that had time to fall asleep can have slept through it.
        let could_sleep = Millis::from(self.idle_before) >= super::recovery::MIN_SLEEP_IDLE_MS;
        let probe_t = t.min(self.config.wake_answer_ms);
        let probe_silent = self.probe_silent;
        if let Some(f) = &mut self.inflight {
            // Once something written after idle got no answer at all, an `AT` probe after idle
            // is a wake-up `AT` in effect: a module asleep may take it whole to wake, and the
            // next must come before it falls asleep again, not a command timeout later. (Not
            // before: a module that merely answers slowly must not be probed twice.)
            let t = if could_sleep && probe_silent && matches!(f.job, Job::Init(0) | Job::Sync) {
                probe_t
            } else {
                t
            };
            f.deadline = Stamp::at(later(now, u64::from(t)));
            f.bare_only = could_sleep;
            f.blank_seen = false;
        }
    }

    pub(super) fn start(&mut self, request: Request<'_>) -> Result<Ticket, Error> {
        let ctx = self.config.module.profile().context;
        let (cmd, kind) = match request {
            Request::At => (Command::At, UserKind::Plain),
            Request::Dns(host) => (Command::QiDnsGip { context: ctx, host }, UserKind::Dns),
            #[cfg(feature = "ping")]
            Request::Ping {
                host,
                timeout_s,
                count,
                size,
            } => (
                Command::QPing {
                    context: ctx,
                    host,
                    timeout_s: Some(timeout_s),
                    count: Some(count),
                    size: Some(size),
                },
                UserKind::Ping,
            ),
            #[cfg(feature = "ntp")]
            Request::Ntp { server, port } => (
                Command::QNtp {
                    context: ctx,
                    server,
                    port: Some(port),
                    auto_set: None,
                },
                UserKind::Ntp,
            ),
            Request::State(None) => (Command::QiStateRead, UserKind::Info),
            Request::State(Some(id)) => (Command::QiStateById(id), UserKind::Info),
            Request::LastError => (Command::QiGetError, UserKind::Info),
            Request::SetCfg(c) => (Command::QiCfgSet(c), UserKind::SetCfg(c)),
            Request::QueryCfg(k) => (Command::QiCfgQuery(k), UserKind::Info),
            Request::SwitchMode(id, mode) => (
                Command::QiSwtmd { id, mode },
                UserKind::SwitchMode(id, mode),
            ),
            Request::SimStatus => (Command::CpinRead, UserKind::Info),
            Request::Registration => (Command::CeregRead, UserKind::Info),
            Request::Attached => (Command::CgattRead, UserKind::Info),
            Request::Address => (Command::CgpaddrRead(ctx), UserKind::Info),
            Request::Identify => (Command::Identify, UserKind::Info),
            Request::BringUp { timeout_ms } => return self.start_bring_up(timeout_ms),
        };
        cmd.validate()?;
        if self.owed.is_some_and(|o| o.kind == kind) {
            // A timed-out request's answer may still come: this one waits for it (or for
            // the time it may take; `expire` ends the wait), so that it cannot be taken for
            // this one's.
            return Err(Error::Busy);
        }
        self.claim_slot()?;
        if self.reply.is_some() || self.collected.is_some() || self.bring_up.is_some() {
            return Err(Error::Busy);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.begin(&cmd, Job::User { ticket, kind })?;
        #[cfg(feature = "ping")]
        if let (
            Some(f),
            Request::Ping {
                timeout_s, count, ..
            },
        ) = (&mut self.inflight, request)
        {
            f.ping = Some(PingPlan {
                count,
                timeout_s,
                decide_at: None,
            });
        }
        if self.inflight.is_some() {
            self.collected = match kind {
                UserKind::Dns => Some(Reply::Dns(heapless::Vec::new())),
                #[cfg(feature = "ping")]
                UserKind::Ping => Some(Reply::Ping(PingOutcome::default())),
                _ => None,
            };
        }
        Ok(ticket)
    }

    pub(super) fn abandon(&mut self, ticket: Ticket) {
        if self.bring_up.is_some_and(|b| b.ticket == ticket) {
            self.bring_up = None;
        }
        if matches!(&self.reply, Some((t, _)) if *t == ticket) {
            self.reply = None;
            self.collected = None;
        }
        if let Some(f) = &mut self.inflight
            && matches!(f.job, Job::User { ticket: t, .. } if t == ticket)
        {
            f.abandoned = true;
        }
    }

    /// Put the next internal command in the transmit buffer, if one is due.
    pub(super) fn schedule(&mut self) {
        if self.inflight.is_some() {
            return;
        }
        if (self.init.is_some() || self.needs_sync || self.settling) && self.now < self.retry_at {
            // Let the line go quiet first, so that a late answer to what came before cannot
            // be taken for the answer to what comes next.
            return;
        }
        self.settling = false;
        if let Some(step) = self.init {
            let c = &self.config;
            let cmd = match step {
                0 => Command::At,
                1 => Command::Echo(false),
                2 => Command::Cmee(1),
                3 => Command::QiCfgSet(QiCfg::DataFormat {
                    send: crate::types::DataFormat::Text,
                    recv: c.recv_format,
                }),
                4 => Command::QiCfgSet(QiCfg::ViewMode(c.view_mode)),
                5 => Command::QiCfgSet(QiCfg::ShowLength(c.show_length)),
                _ => Command::QiStateRead,
            };
            let _ = self.begin(&cmd, Job::Init(step));
            return;
        }
        if self.needs_sync {
            let _ = self.begin(&Command::At, Job::Sync);
            return;
        }
        if self.stale != 0 {
            let k = self.stale.trailing_zeros() as u8;
            self.stale &= !(1 << k);
            if let Some(id) = ConnectId::new(k) {
                crate::fmt::warn!("bc20: closing socket {} left over from a previous run", id);
                let _ = self.begin(&Command::QiClose(id), Job::Close(id));
                return;
            }
        }
        if let Some(id) = self
            .find_socket(|s| s.needs_close && !(s.linger && (s.tx.len() > 0 || s.tx_inflight > 0)))
        {
            let _ = self.begin(&Command::QiClose(id), Job::Close(id));
            return;
        }
        if self.schedule_bring_up() {
            return;
        }
        if self.send_wait.is_none() && self.send_owed.is_none() {
            let queued = self.find_socket(|s| {
                s.tx.len() > 0
                    && s.tx_inflight == 0
                    && (matches!(s.phase, SocketPhase::Connected)
                        || (matches!(s.phase, SocketPhase::Closing) && s.linger))
            });
            if let Some(id) = queued {
                let (len, hex) = self.chunk_of(id);
                if let Err(e) = self.begin_send(id, len, hex) {
                    crate::fmt::error!("bc20: queued send on {} could not be encoded: {}", id, e);
                    if let Some(s) = self.sockets.get_mut(id.index()) {
                        s.tx_inflight = 0;
                    }
                }
                return;
            }
        }
        let now = self.now;
        match self.user_waiting_since.get() {
            Some(t) if now < later(t, USER_YIELD_MS) => return,
            // The request did not come back (its caller went away): reads resume.
            Some(_) => self.user_waiting_since = Stamp::NONE,
            None => {}
        }
        if let Some(id) = self.find_socket(|s| s.wants_read(now)) {
            let asked = self.sockets.get(id.index()).map_or(1, |s| s.read_size());
            let len = u16::try_from(asked).unwrap_or(512);
            let _ = self.begin(&Command::QiRd { id, len }, Job::Read { id, asked });
            return;
        }
        // Last: data moving says more than an audit, and reads end once the module's
        // buffers are drained.
        self.schedule_audit();
    }

    /// The first socket for which `f` holds.
    pub(super) fn find_socket(
        &self,
        f: impl Fn(&super::socket::Socket<RX, TX>) -> bool,
    ) -> Option<ConnectId> {
        self.sockets
            .iter()
            .position(f)
            .and_then(|i| u8::try_from(i).ok())
            .and_then(ConnectId::new)
    }

    /// How much of `id`'s send queue the next send command takes, and whether as hex:
    /// `AT+QISEND` with up to 1024 bytes when they are all printable and
    /// [`Config::send_text_when_possible`](super::Config) is set, else `AT+QISENDEX` with up
    /// to 512.
    pub(super) fn chunk_of(&self, id: ConnectId) -> (usize, bool) {
        let Some(q) = self.sockets.get(id.index()).map(|s| &s.tx) else {
            return (0, true);
        };
        let text_len = q.len().min(crate::types::MAX_SEND_TEXT);
        if self.config.send_text_when_possible && text_len > 0 {
            let mut chunk = [0u8; 64];
            let mut off = 0;
            let mut text = true;
            while text && off < text_len {
                let n = q.peek_at(off, &mut chunk[..(text_len - off).min(64)]);
                if n == 0 {
                    break;
                }
                text = chunk[..n]
                    .iter()
                    .all(|&b| crate::wire::encode::is_text_byte(b));
                off += n;
            }
            if text {
                return (text_len, false);
            }
        }
        (q.len().min(crate::types::MAX_SEND_HEX), true)
    }
}
