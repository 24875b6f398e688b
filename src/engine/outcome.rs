//! What a command's answer does: the outcome of the command in flight, once it is complete
//! (or late), applied to the sockets, the requests and the start-up.

use super::later;
use crate::error::Error;
use crate::types::{AccessMode, ConnectId, QiCfg};

use super::jobs::{
    INIT_STEPS, InFlight, Job, MAX_READ_FAILURES, READ_RETRY_MS, STALE_STEP, UserKind,
};
use super::reply::Reply;
use super::socket::SocketPhase;
use super::{Event, Millis, Owed, Stamp, State};

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// An `AT+QIRD` on `id` failed (an error answer, a timeout, or an answer that could not
    /// be framed). The data is still in the module, which announces more only after a read
    /// that returns nothing: try again a little later, and fail the socket after
    /// [`MAX_READ_FAILURES`] attempts in a row, so a socket never stalls in silence.
    pub(super) fn read_failed(&mut self, id: ConnectId, e: Error) {
        let now = self.now;
        let Some(s) = self.sockets.get_mut(id.index()) else {
            return;
        };
        s.read_failures = s.read_failures.saturating_add(1);
        if s.read_failures >= MAX_READ_FAILURES {
            crate::fmt::error!(
                "bc20: AT+QIRD on {} failed {} times ({}); the socket fails",
                id,
                s.read_failures,
                e
            );
            self.fail_socket(id, e, true);
            return;
        }
        crate::fmt::warn!("bc20: AT+QIRD on {} failed: {}; trying again", id, e);
        s.read_retry_at = later(now, READ_RETRY_MS * Millis::from(s.read_failures));
    }

    /// The module answered a command: it is awake and alive.
    pub(super) fn answered(&mut self) {
        self.unanswered_since = Stamp::NONE;
        if self.unresponsive {
            crate::fmt::info!("bc20: the module answers again");
            self.unresponsive = false;
            self.event(Event::Responsive);
        }
    }

    /// An `AT` went unanswered: after [`Config::unresponsive_ms`](super::Config) of that, give
    /// up on the module (see [`State::expire_unresponsive`]).
    pub(super) fn unanswered(&mut self) {
        if self.unanswered_since.is_none() {
            self.unanswered_since = Stamp::at(self.now);
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
                    let t = late_timeout_ms(&self.config, f);
                    f.deadline = Stamp::at(later(self.now, u64::from(t)));
                }
                None
            }
            (None, true) => {
                // The late part came first (no OK yet): give the OK a command time to come.
                let grace = later(self.now, u64::from(self.config.command_timeout_ms));
                f.deadline = f.deadline.earliest(grace);
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
        self.tx_body = None;
        self.tx_last = false;
        // A wake-up in progress was for this command, which is not going out any more.
        self.waking = None;
        let now = self.now;
        if matches!(result, Err(Error::Modem(_)))
            && matches!(f.job, Job::Send { .. } | Job::Read { .. })
        {
            // The module refused a socket's data command: it may no longer hold sockets this
            // driver thinks connected (a reboot it did not announce). Audit them.
            self.audit_later();
        }
        match f.job {
            Job::Init(step) => match result {
                Ok(()) if step + 1 == INIT_STEPS && self.stale_check => {
                    self.init = Some(STALE_STEP)
                }
                Ok(()) if step + 1 >= INIT_STEPS => self.ready(),
                // A module without `AT+QISTATE?`, or one that refuses it: nothing to close.
                Err(Error::Modem(_)) if step == STALE_STEP => self.ready(),
                Ok(()) => {
                    self.init = Some(step + 1);
                    if step == 0 && core::mem::take(&mut self.probe_silent) {
                        // An `AT` before got no answer at all, which may still come: let the
                        // line go quiet before the next step (whose answer it would be taken
                        // for).
                        self.retry_at = later(now, u64::from(self.config.quiet_ms));
                    }
                }
                Err(e) => {
                    let silent =
                        step == 0 && matches!(e, Error::Timeout) && f.bare_only && !f.blank_seen;
                    if step == 0 && matches!(e, Error::Timeout) {
                        self.unanswered();
                    }
                    if step == 0 || matches!(e, Error::Reset) {
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
                    // After an `AT` that followed idle and got no answer at all, the next at
                    // once: a module that sleeps may have taken it to wake, and falls asleep
                    // again soon (its answer, if merely late, is let come before the next
                    // step, above). Otherwise let the line go quiet first.
                    self.probe_silent |= silent;
                    self.retry_at = if silent { now } else { later(now, 500) };
                }
            },
            Job::Audit => self.audit_done(result),
            Job::Sync => {
                self.needs_sync = result.is_err();
                if result.is_ok() {
                    // The module answers in order: whatever it owed to a read that timed out
                    // came before this `OK`, so no answer can still come late.
                    for s in &mut self.sockets {
                        s.late_read = false;
                    }
                    // Unless this `OK` was that late answer's: hold everything until the
                    // `AT`'s own has had time to come, right behind it (see `State::holding`).
                    self.settling = true;
                    // Something went wrong before (a command unanswered, an answer that made
                    // no sense): a module that rebooted silently, or a close announcement lost
                    // with it, would leave sockets waiting for good. Audit the connections.
                    self.audit_later();
                    self.retry_at = later(now, u64::from(self.config.quiet_ms));
                    self.probe_silent = false;
                    self.learn_silent_sleep();
                }
                if matches!(result, Err(Error::Timeout)) {
                    self.unanswered();
                }
            }
            Job::Open(id) => match result {
                Ok(()) => {
                    let t = u64::from(self.config.open_timeout_ms);
                    if let Some(s) = self.sockets.get_mut(id.index())
                        && matches!(s.phase, SocketPhase::Opening)
                    {
                        s.open_deadline = core::num::NonZeroU64::new(later(now, t).max(1));
                    }
                    self.open_put_off &= !(1u8 << id.index());
                }
                Err(e) => self.fail_socket(id, e, true),
            },
            Job::Send { id, len, .. } => match result {
                // `SEND OK` or `SEND FAIL` came first: the send has its outcome.
                _ if f.late_done => {}
                Ok(()) => {
                    self.send_wait =
                        Some((id, len, later(now, u64::from(self.config.send_timeout_ms))))
                }
                Err(e) => {
                    if matches!(e, Error::Timeout) {
                        // The module may have taken it, its `OK` lost or late: its outcome
                        // may still come.
                        self.owe_send_result();
                    }
                    self.complete_send(id, len, Err(e))
                }
            },
            Job::Read { id, .. } if f.answer_lost && !f.read_header => {
                // Its answer may have gone in a gap of the UART: the module handed the data
                // out, and a read tried again would skip it (see `State::lost_in_gap`).
                crate::fmt::warn!(
                    "bc20: the answer of AT+QIRD on {} may be lost; it fails",
                    id
                );
                self.fail_socket(id, Error::Malformed, true);
                // What ended it (a stray `OK`, a timeout) leaves the line to resynchronise, as
                // for any read that ends without its header.
                self.needs_sync = true;
                self.retry_at = later(now, u64::from(self.config.quiet_ms));
            }
            Job::Read { id, .. } => match result {
                Err(e) => self.read_failed(id, e),
                Ok(()) if !f.read_header => {
                    // An `OK` with no `+QIRD` before it is not this read's answer: a late one
                    // of an earlier command, or noise. The read's own may still come; it is
                    // then this socket's next data (see `start_late_read`), so the socket is
                    // marked for it, and the line resynchronised before the read is retried.
                    crate::fmt::warn!("bc20: AT+QIRD on {} answered OK with no data header", id);
                    if let Some(s) = self.sockets.get_mut(id.index()) {
                        s.late_read = true;
                    }
                    self.needs_sync = true;
                    self.retry_at = later(now, u64::from(self.config.quiet_ms));
                    self.read_failed(id, Error::Unexpected);
                }
                Ok(()) if f.late_error.is_some() => {
                    // The answer could not be framed (see `on_bad_payload`).
                    self.read_failed(id, f.late_error.unwrap_or(Error::Malformed));
                }
                Ok(()) => {
                    if let Some(s) = self.sockets.get_mut(id.index()) {
                        s.read_failures = 0;
                    }
                }
            },
            Job::Close(id) => {
                let bit = 1u8 << id.index();
                match result {
                    // A reboot closed it (and every other).
                    Err(Error::Reset) | Ok(()) => self.reclosing &= !bit,
                    // The module may still hold the socket: a later open on this id would
                    // fail (563, socket identity in use). Close it once more before the id
                    // is used again, like a socket left over from a previous run.
                    Err(e) if self.reclosing & bit == 0 => {
                        crate::fmt::warn!(
                            "bc20: AT+QICLOSE on {}: {}; closing it again before reuse",
                            id,
                            e
                        );
                        self.reclosing |= bit;
                        self.stale |= bit;
                    }
                    Err(e) => {
                        crate::fmt::warn!(
                            "bc20: AT+QICLOSE on {}: {} again; treating it as closed",
                            id,
                            e
                        );
                        self.reclosing &= !bit;
                    }
                }
                if let Some(s) = self.sockets.get_mut(id.index()) {
                    if matches!(s.phase, SocketPhase::Closing) {
                        s.reset();
                        // A `SEND OK` still awaited on this connection will not come (or is
                        // moot): it must not be taken for a send of the next connection on
                        // this id.
                        if self.send_wait.is_some_and(|(w, _, _)| w == id) {
                            self.send_wait = None;
                        }
                        self.event(Event::Closed(id));
                    } else {
                        // Closed on the module after a failure; the user closes it later.
                        s.needs_close = false;
                    }
                }
                self.ctx.set_access_mode(id, AccessMode::Buffer);
            }
            Job::User {
                kind: UserKind::BringUp,
                ..
            } => self.bring_up_step(result, f.abandoned),
            Job::User { ticket, kind } => {
                if matches!(result, Err(Error::Timeout)) && f.job.has_late_part() {
                    // The module may still print the answer (if it took the command at all):
                    // it must not become the next such request's.
                    let until = later(now, u64::from(late_timeout_ms(&self.config, &f)));
                    crate::fmt::debug!(
                        "bc20: a timed-out answer may still come; holding until {}",
                        until
                    );
                    self.owed = Some(Owed {
                        kind,
                        until,
                        left: f.expect,
                    });
                }
                let outcome = result.map(|()| {
                    match kind {
                        UserKind::SwitchMode(id, mode) => {
                            if let Some(s) = self.sockets.get_mut(id.index()) {
                                s.mode = mode;
                            }
                            self.ctx.set_access_mode(id, mode);
                        }
                        UserKind::SetCfg(c) => {
                            // One source of truth: start-up after a reboot applies this too.
                            apply_cfg(&mut self.config, c);
                            self.ctx.view_mode = self.config.view_mode;
                            self.ctx.show_length = self.config.show_length;
                            self.ctx.recv_format = self.config.recv_format;
                        }
                        _ => {}
                    }
                });
                if let Some(Reply::Identity(i)) = &self.collected
                    && outcome.is_ok()
                {
                    let check = i.check(self.config.module);
                    self.identity_checked(check);
                }
                if outcome.is_err() || f.abandoned {
                    self.collected = None;
                }
                if !f.abandoned {
                    self.reply = Some((ticket, outcome));
                    self.event(Event::ReplyReady);
                }
            }
        }
    }

    /// A send timed out: its `SEND OK` or `SEND FAIL` may still come, and names no socket.
    /// No send goes out until it came, or for [`Config::send_timeout_ms`](super::Config) once
    /// more, so that it cannot be taken for the next send's (a late `SEND OK` taken for a
    /// send that then failed would report its bytes sent).
    pub(super) fn owe_send_result(&mut self) {
        self.send_owed = Stamp::at(later(self.now, u64::from(self.config.send_timeout_ms)));
    }

    /// An `ATI` answer was compared with the configured module: warn on a mismatch, never
    /// fail (a module may answer in a form this driver does not read).
    pub(super) fn identity_checked(&mut self, check: super::IdentityCheck) {
        let expected = self.config.module;
        self.identity = Some(check);
        let found = match check {
            super::IdentityCheck::Matches => {
                crate::fmt::debug!("bc20: the module is a {}", expected.name());
                return;
            }
            super::IdentityCheck::Other(m) => Some(m),
            super::IdentityCheck::Unknown => None,
        };
        match found {
            Some(m) => crate::fmt::warn!(
                "bc20: configured for a {} but the module says it is a {}",
                expected.name(),
                m.name()
            ),
            None => crate::fmt::warn!(
                "bc20: configured for a {}; the module's identity names no module of the family",
                expected.name()
            ),
        }
        self.event(Event::ModuleMismatch { expected, found });
    }

    /// Start-up is done: requests are accepted.
    fn ready(&mut self) {
        self.init = None;
        self.stale_check = false;
        crate::fmt::info!("bc20: module ready");
        self.event(Event::Ready);
    }

    /// Put socket `id` in `Failed(e)`; `close` when the module must still be told.
    pub(super) fn fail_socket(&mut self, id: ConnectId, e: Error, close: bool) {
        let Some(s) = self.sockets.get_mut(id.index()) else {
            return;
        };
        if s.in_use() && !matches!(s.phase, SocketPhase::Closing) {
            s.phase = SocketPhase::Failed(e);
            s.open_deadline = None;
            s.drop_queued();
            s.needs_close |= close;
            self.event(Event::Failed(id, e));
        }
    }
}

fn apply_cfg(config: &mut super::Config, c: QiCfg) {
    match c {
        QiCfg::DataFormat { recv, .. } => config.recv_format = recv,
        QiCfg::ViewMode(v) => config.view_mode = v,
        QiCfg::ShowLength(s) => config.show_length = s,
    }
}

/// How long the late part of `f`'s command may take after its `OK`, ms.
fn late_timeout_ms(config: &super::Config, f: &InFlight) -> u32 {
    match f.job {
        Job::Close(_) => config.close_timeout_ms,
        Job::User {
            kind: UserKind::Dns,
            ..
        } => config.dns_timeout_ms,
        #[cfg(feature = "ntp")]
        Job::User {
            kind: UserKind::Ntp,
            ..
        } => config.ntp_timeout_ms,
        #[cfg(feature = "ping")]
        Job::User {
            kind: UserKind::Ping,
            ..
        } => {
            let budget = f
                .ping
                .map_or(0, |p| u32::from(p.timeout_s) * u32::from(p.count) * 1000);
            config.ping_extra_ms.saturating_add(budget)
        }
        // No other job has a late part (`Job::has_late_part`).
        _ => config.command_timeout_ms,
    }
}
