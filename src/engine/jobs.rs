//! The command in flight: what it waits for, when it is done, and what runs next.

use crate::error::Error;
use crate::types::{AccessMode, ConnectId, ContextId, QiCfg};
use crate::wire::{Command, ParseContext};

use super::reply::{PingOutcome, Reply, Request};
use super::socket::SocketPhase;
use super::{Event, Millis, State, Ticket};

/// Start-up steps, in order: `AT`, `ATE0`, `AT+CMEE=1`, then the three QICFG settings.
const INIT_STEPS: u8 = 6;

/// What a user request collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UserKind {
    Plain,
    SwitchMode(ConnectId, AccessMode),
    SetCfg(QiCfg),
    Dns,
    Ping,
    Ntp,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Job {
    Init(u8),
    Sync,
    Open(ConnectId),
    Send { id: ConnectId, len: usize },
    Read { id: ConnectId, asked: usize },
    Close(ConnectId),
    User { ticket: Ticket, kind: UserKind },
}

impl Job {
    /// Jobs whose answer has a second, later part that holds the command slot.
    fn has_late_part(&self) -> bool {
        matches!(
            self,
            Job::Close(_)
                | Job::User {
                    kind: UserKind::Dns | UserKind::Ping | UserKind::Ntp,
                    ..
                }
        )
    }
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub job: Job,
    /// `None` while the command is still being written.
    pub deadline: Option<Millis>,
    /// The final result (`OK`, `ERROR`, `+CME ERROR`), once seen.
    pub result: Option<Result<(), Error>>,
    /// The late part (`SEND OK`, `CLOSE OK`, the DNS/ping/NTP answer) arrived.
    pub late_done: bool,
    /// A failure reported by the late part.
    pub late_error: Option<Error>,
    pub reply: Option<Reply>,
    /// The deadline was moved out for the late part.
    pub extended: bool,
    /// DNS addresses still expected.
    pub expect: u8,
    pub abandoned: bool,
}

impl<const SOCK_RX: usize> State<SOCK_RX> {
    /// `Err(Busy)` unless a user command may start now.
    pub(super) fn user_slot_free(&self) -> Result<(), Error> {
        if self.inflight.is_some()
            || self.init.is_some()
            || self.needs_sync
            || self.tx_pos < self.tx_len
        {
            Err(Error::Busy)
        } else {
            Ok(())
        }
    }

    /// Encode `cmd` for transmission as the command in flight.
    pub(super) fn begin(&mut self, cmd: &Command<'_>, job: Job) -> Result<(), Error> {
        let n = cmd.encode(&mut self.tx)?;
        crate::fmt::trace!("bc20 > {}", crate::fmt::Printable(&self.tx[..n]));
        self.tx_len = n;
        self.tx_pos = 0;
        self.traffic.commands = self.traffic.commands.saturating_add(1);
        self.inflight = Some(InFlight {
            job,
            deadline: None,
            result: None,
            late_done: false,
            late_error: None,
            reply: None,
            extended: false,
            expect: 0,
            abandoned: false,
        });
        Ok(())
    }

    /// The whole command is written: its answer timer starts now.
    pub(super) fn sent_out(&mut self) {
        let t = self.config.command_timeout_ms;
        let now = self.now;
        if let Some(f) = &mut self.inflight {
            f.deadline = Some(now.saturating_add(u64::from(t)));
        }
    }

    pub(super) fn start(&mut self, request: Request<'_>) -> Result<Ticket, Error> {
        let ctx = ContextId::DEFAULT;
        let (cmd, kind) = match request {
            Request::At => (Command::At, UserKind::Plain),
            Request::Dns(host) => (Command::QiDnsGip { context: ctx, host }, UserKind::Dns),
            Request::Ping {
                host,
                timeout_s,
                count,
                size,
            } => (
                {
                    self.ping_budget = u32::from(timeout_s) * u32::from(count) * 1000;
                    Command::QPing {
                        context: ctx,
                        host,
                        timeout_s: Some(timeout_s),
                        count: Some(count),
                        size: Some(size),
                    }
                },
                UserKind::Ping,
            ),
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
        };
        cmd.validate()?;
        self.user_slot_free()?;
        if self.reply.is_some() {
            return Err(Error::Busy);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.begin(&cmd, Job::User { ticket, kind })?;
        if let Some(f) = &mut self.inflight {
            f.reply = match kind {
                UserKind::Dns => Some(Reply::Dns(heapless::Vec::new())),
                UserKind::Ping => Some(Reply::Ping(PingOutcome {
                    replies: heapless::Vec::new(),
                    failures: 0,
                    summary: None,
                })),
                _ => None,
            };
        }
        Ok(ticket)
    }

    pub(super) fn abandon(&mut self, ticket: Ticket) {
        if matches!(&self.reply, Some((t, _)) if *t == ticket) {
            self.reply = None;
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
        if (self.init.is_some() || self.needs_sync) && self.now < self.retry_at {
            // Let the line go quiet first, so that a late answer to what came before cannot
            // be taken for the answer to what comes next.
            return;
        }
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
                _ => Command::QiCfgSet(QiCfg::ShowLength(c.show_length)),
            };
            let _ = self.begin(&cmd, Job::Init(step));
            return;
        }
        if self.needs_sync {
            let _ = self.begin(&Command::At, Job::Sync);
            return;
        }
        if let Some(id) = crate::types::ConnectId::ALL.into_iter().find(|id| {
            let s = &self.sockets[id.index()];
            s.needs_close && !(s.linger && (s.tx.len() > 0 || s.tx_inflight > 0))
        }) {
            let _ = self.begin(&Command::QiClose(id), Job::Close(id));
            return;
        }
        if self.send_wait.is_none() {
            let queued = crate::types::ConnectId::ALL.into_iter().find(|id| {
                let s = &self.sockets[id.index()];
                s.tx.len() > 0
                    && s.tx_inflight == 0
                    && (s.phase == SocketPhase::Connected
                        || (s.phase == SocketPhase::Closing && s.linger))
            });
            if let Some(id) = queued {
                let mut chunk = [0u8; super::socket::TX_QUEUE];
                let s = &mut self.sockets[id.index()];
                let n = s.tx.read(&mut chunk);
                s.tx_inflight = n;
                let cmd = Command::QiSendEx {
                    id,
                    data: &chunk[..n],
                };
                if let Err(e) = self.begin(&cmd, Job::Send { id, len: n }) {
                    crate::fmt::error!("bc20: queued send on {} could not be encoded: {}", id, e);
                    self.sockets[id.index()].tx_inflight = 0;
                }
                return;
            }
        }
        let read = crate::types::ConnectId::ALL.into_iter().find(|id| {
            let s = &self.sockets[id.index()];
            s.read_pending
                && s.mode == AccessMode::Buffer
                && s.in_use()
                && s.phase != SocketPhase::Closing
                && s.rx.free() >= SOCK_RX.min(64)
        });
        if let Some(id) = read {
            let free = self.sockets[id.index()].rx.free();
            let asked = free.min(crate::types::MAX_READ);
            let len = u16::try_from(asked).unwrap_or(512);
            let _ = self.begin(&Command::QiRd { id, len }, Job::Read { id, asked });
        }
    }

    /// Decide whether the command in flight is finished, and finish it.
    pub(super) fn settle(&mut self) {
        let Some(f) = &mut self.inflight else {
            return;
        };
        let late = f.job.has_late_part();
        let decision = match (&f.result, f.late_done) {
            (Some(Err(e)), _) => Some(Err(*e)),
            (Some(Ok(())), true) => Some(f.late_error.map_or(Ok(()), Err)),
            (Some(Ok(())), false) if !late => Some(Ok(())),
            (Some(Ok(())), false) => {
                // OK seen: now wait for the late part, longer (once).
                if !f.extended {
                    f.extended = true;
                    let t = match f.job {
                        Job::Close(_) => self.config.close_timeout_ms,
                        Job::User {
                            kind: UserKind::Dns,
                            ..
                        } => self.config.dns_timeout_ms,
                        Job::User {
                            kind: UserKind::Ntp,
                            ..
                        } => self.config.ntp_timeout_ms,
                        _ => self.config.ping_extra_ms.saturating_add(self.ping_budget),
                    };
                    f.deadline = Some(self.now.saturating_add(u64::from(t)));
                }
                None
            }
            (None, true) => {
                // The late part came first (no OK yet): give the OK a command time to come.
                let grace = self
                    .now
                    .saturating_add(u64::from(self.config.command_timeout_ms));
                f.deadline = Some(f.deadline.map_or(grace, |d| d.min(grace)));
                None
            }
            (None, false) => None,
        };
        if let Some(r) = decision {
            self.finish(r);
        }
    }

    /// End the command in flight with `result`.
    pub(super) fn finish(&mut self, result: Result<(), Error>) {
        let Some(f) = self.inflight.take() else {
            return;
        };
        self.tx_len = 0;
        self.tx_pos = 0;
        let now = self.now;
        match f.job {
            Job::Init(step) => match result {
                Ok(()) if step + 1 >= INIT_STEPS => {
                    self.init = None;
                    crate::fmt::info!("bc20: module ready");
                    self.event(Event::Ready);
                }
                Ok(()) => self.init = Some(step + 1),
                Err(e) => {
                    if step == 0 || e == Error::Reset {
                        // A sleeping or booting module: retrying `AT` is the normal way in.
                        crate::fmt::debug!("bc20: start-up step {} failed: {}; again", step, e);
                    } else {
                        crate::fmt::warn!(
                            "bc20: start-up step {} failed: {}; starting over",
                            step,
                            e
                        );
                    }
                    self.init = Some(0);
                    self.retry_at = now.saturating_add(500);
                }
            },
            Job::Sync => self.needs_sync = result.is_err(),
            Job::Open(id) => {
                let s = &mut self.sockets[id.index()];
                match result {
                    Ok(()) if s.phase == SocketPhase::Opening => {
                        s.open_deadline =
                            Some(now.saturating_add(u64::from(self.config.open_timeout_ms)));
                    }
                    Ok(()) => {}
                    Err(e) => self.fail_socket(id, e, true),
                }
            }
            Job::Send { id, len } => match result {
                Ok(()) if f.late_done => {}
                Ok(()) => {
                    self.send_wait = Some((
                        id,
                        len,
                        now.saturating_add(u64::from(self.config.send_timeout_ms)),
                    ))
                }
                Err(e) => self.complete_send(id, len, Err(e)),
            },
            Job::Read { id, .. } => {
                if let Err(e) = result {
                    crate::fmt::warn!("bc20: AT+QIRD on {} failed: {}", id, e);
                    self.sockets[id.index()].read_pending = false;
                }
            }
            Job::Close(id) => {
                if let Err(e) = result {
                    crate::fmt::warn!("bc20: AT+QICLOSE on {}: {}; treating it as closed", id, e);
                }
                let s = &mut self.sockets[id.index()];
                if s.phase == SocketPhase::Closing {
                    s.reset();
                    self.event(Event::Closed(id));
                } else {
                    // Closed on the module after a failure; the user closes it later.
                    s.needs_close = false;
                }
                self.ctx.set_access_mode(id, AccessMode::Buffer);
            }
            Job::User { ticket, kind } => {
                let outcome = result.map(|()| {
                    match kind {
                        UserKind::SwitchMode(id, mode) => {
                            self.sockets[id.index()].mode = mode;
                            self.ctx.set_access_mode(id, mode);
                        }
                        UserKind::SetCfg(c) => apply_cfg(&mut self.ctx, c),
                        _ => {}
                    }
                    f.reply.unwrap_or(Reply::Done)
                });
                if !f.abandoned {
                    self.reply = Some((ticket, outcome));
                    self.event(Event::ReplyReady);
                }
            }
        }
    }

    /// Put socket `id` in `Failed(e)`; `close` when the module must still be told.
    pub(super) fn fail_socket(&mut self, id: ConnectId, e: Error, close: bool) {
        let s = &mut self.sockets[id.index()];
        if s.in_use() && s.phase != SocketPhase::Closing {
            s.phase = SocketPhase::Failed(e);
            s.open_deadline = None;
            s.needs_close |= close;
            self.event(Event::Failed(id, e));
        }
    }
}

fn apply_cfg(ctx: &mut ParseContext, c: QiCfg) {
    match c {
        QiCfg::DataFormat { recv, .. } => ctx.recv_format = recv,
        QiCfg::ViewMode(v) => ctx.view_mode = v,
        QiCfg::ShowLength(s) => ctx.show_length = s,
    }
}
