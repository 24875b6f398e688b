//! Bringing the module into service: the one procedure both shells drive.
//!
//! [`Request::BringUp`](super::Request::BringUp): wait until the start-up settings are applied,
//! check the module's identity (`ATI` against [`Config::module`](super::Config::module): a
//! mismatch is a warning and [`Event::ModuleMismatch`], never an error), check the SIM
//! (`AT+CPIN?` must say `READY`), then ask `AT+CEREG?` once a second until the module is
//! registered (home or roaming), all within one deadline that counts from the request. The
//! reply is the registration status.

use super::jobs::{Job, UserKind};
use super::later;
use super::reply::Reply;
use super::{Event, Millis, State, Ticket};
use crate::error::Error;
use crate::wire::Command;

/// How often registration is asked for, ms.
const REGISTRATION_POLL_MS: Millis = 1_000;

/// The steps of a bring-up, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// `ATI`.
    Identify,
    /// `AT+CPIN?`.
    Sim,
    /// `AT+CEREG?`, once a second.
    Registration,
}

/// A bring-up in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct BringUp {
    pub ticket: Ticket,
    /// It fails with [`Error::Timeout`] once this has passed.
    pub deadline: Millis,
    /// Where it is.
    pub step: Step,
    /// No command of it before this instant.
    pub next_at: Millis,
}

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// Start a bring-up that must be done within `timeout_ms`.
    pub(super) fn start_bring_up(&mut self, timeout_ms: u32) -> Result<Ticket, Error> {
        if self.unresponsive {
            return Err(Error::Timeout);
        }
        if self.bring_up.is_some() || self.reply.is_some() || self.collected.is_some() {
            return Err(Error::Busy);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.bring_up = Some(BringUp {
            ticket,
            deadline: later(self.now, Millis::from(timeout_ms)),
            step: Step::Identify,
            next_at: self.now,
        });
        Ok(ticket)
    }

    /// The bring-up's next command, when one is due and the module is ready for it.
    pub(super) fn schedule_bring_up(&mut self) -> bool {
        let Some(b) = self.bring_up else {
            return false;
        };
        if self.init.is_some() || self.needs_sync || self.holding() || self.now < b.next_at {
            return false;
        }
        let cmd = match b.step {
            Step::Identify => Command::Identify,
            Step::Sim => Command::CpinRead,
            Step::Registration => Command::CeregRead,
        };
        let job = Job::User {
            ticket: b.ticket,
            kind: UserKind::BringUp,
        };
        self.collected = None;
        self.begin(&cmd, job).is_ok()
    }

    /// A command of the bring-up finished with `result`; what it collected is in `collected`.
    pub(super) fn bring_up_step(&mut self, result: Result<(), Error>, abandoned: bool) {
        let Some(mut b) = self.bring_up else {
            return;
        };
        if abandoned {
            self.collected = None;
            return;
        }
        let data = self.collected.take();
        if b.step == Step::Identify {
            match (result, data) {
                (Ok(()), Some(Reply::Identity(i))) => {
                    let check = i.check(self.config.module);
                    self.identity_checked(check);
                }
                // A module that answers ATI otherwise, or not at all, is still usable.
                (r, _) => crate::fmt::warn!("bc20: ATI gave {:?}; identity not checked", r),
            }
            b.step = Step::Sim;
            b.next_at = self.now;
            self.bring_up = Some(b);
            return;
        }
        match (result, data) {
            (Err(e), _) => self.end_bring_up(Err(e)),
            (Ok(()), Some(Reply::Sim(code))) if code.as_str() == "READY" => {
                crate::fmt::info!("bc20: SIM ready");
                b.step = Step::Registration;
                b.next_at = self.now;
                self.bring_up = Some(b);
            }
            (Ok(()), Some(Reply::Sim(code))) => {
                crate::fmt::error!("bc20: SIM not ready: {}", code.as_str());
                self.end_bring_up(Err(Error::Unexpected));
            }
            (Ok(()), Some(Reply::Registration(stat))) if stat.is_registered() => {
                crate::fmt::info!("bc20: registered ({:?})", stat);
                self.end_bring_up(Ok(Reply::Registration(stat)));
            }
            (Ok(()), Some(Reply::Registration(stat))) => {
                crate::fmt::debug!("bc20: not registered yet ({:?})", stat);
                b.next_at = later(self.now, REGISTRATION_POLL_MS);
                self.bring_up = Some(b);
            }
            (Ok(()), _) => self.end_bring_up(Err(Error::Unexpected)),
        }
    }

    /// The bring-up's deadline, when no command of it is in flight.
    pub(super) fn expire_bring_up(&mut self) {
        let Some(b) = self.bring_up else {
            return;
        };
        let own_in_flight = matches!(
            self.inflight.as_ref().map(|f| f.job),
            Some(Job::User { ticket, .. }) if ticket == b.ticket
        );
        if self.unresponsive || (!own_in_flight && self.passed(b.deadline)) {
            self.end_bring_up(Err(Error::Timeout));
        }
    }

    fn end_bring_up(&mut self, result: Result<Reply, Error>) {
        let Some(b) = self.bring_up.take() else {
            return;
        };
        match result {
            Ok(reply) => {
                self.collected = Some(reply);
                self.reply = Some((b.ticket, Ok(())));
            }
            Err(e) => {
                self.collected = None;
                self.reply = Some((b.ticket, Err(e)));
            }
        }
        self.event(Event::ReplyReady);
    }
}
