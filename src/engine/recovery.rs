//! Deadlines and reboots: how the engine recovers when the module is late, silent, asleep or
//! restarts.
//!
//! Every deadline is judged by what the engine has seen of the line, never by the clock alone
//! (see [`LOOK_GRACE_MS`](super::LOOK_GRACE_MS)): a caller that polls once a minute reads the
//! answers that arrived meanwhile before anything is declared late.

use super::jobs::Job;
use super::socket::SocketPhase;
use super::{Event, Millis, Stamp, State};
use super::{count, later};
use crate::error::Error;
use crate::types::ConnectId;
use crate::wire::ParseContext;

/// The shortest idle spell [`WakePolicy::Learn`](super::WakePolicy) takes as the module's
/// sleep threshold, ms: a module found asleep sooner is woken before any command that
/// follows this much idle.
const MIN_LEARNED_IDLE_MS: Millis = 100;

/// The least host silence before a command after which a bare line end in answer counts as
/// a module that slept through it (and the command is sent again). Right after other
/// traffic the module is awake: a lone line end is then the start of an answer that pauses,
/// and sending the command again would repeat it (for a send: its data, twice).
pub(super) const MIN_SLEEP_IDLE_MS: Millis = MIN_LEARNED_IDLE_MS;

/// The earliest of the instants put in, if any: a plain minimum and a flag, which take less
/// flash at each of `next_deadline`'s dozen merges than an `Option<Millis>`.
struct Earliest {
    at: Millis,
    any: bool,
}

impl Earliest {
    const NONE: Earliest = Earliest {
        at: Millis::MAX,
        any: false,
    };

    fn put(&mut self, t: Millis) {
        self.at = self.at.min(t);
        self.any = true;
    }
}

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// The earliest instant at which a look has work; `staged`: module output is unfinished
    /// (bytes staged that do not make a frame yet, or a payload in progress).
    pub(super) fn next_deadline(&self, staged: bool) -> Option<Millis> {
        let mut next = Earliest::NONE;
        // Quiet times judged by one look (see `quiet_since`), merged at the end.
        let mut quiet_at: Option<Millis> = None;
        let mut take = |d: Millis| {
            let d = self.when_passed(d);
            next.put(d);
        };
        // While output is held back the answer cannot arrive, and `expire` leaves the command
        // alone (reporting its deadline would have the caller spin on a deadline that
        // passed): `break_hold` has the say then.
        if self.stalled.is_none() {
            if let Some(f) = &self.inflight {
                // `expire` holds the deadline while an answer is coming in (output unfinished,
                // the line not quiet since): the quiet line after it is reported below.
                let answering = staged && !self.passed(self.quiet_after_rx());
                if maybe_asleep(f) && is_probe(f) {
                    // A bare line end came: `expire` holds the deadline back until the line
                    // has been quiet, then sends the command again (see `lost_to_sleep`).
                    quiet_at = Some(self.when_quiet(self.bare_quiet_after_rx()));
                } else if maybe_asleep(f) {
                    take(self.quiet_after_rx());
                } else if !answering && let Some(d) = f.deadline.get() {
                    take(d);
                }
                #[cfg(feature = "ping")]
                if let Some(d) = f.ping.and_then(|p| p.decide_at) {
                    take(d);
                }
            }
            if staged {
                take(self.quiet_after_rx());
            }
        } else if let Some(t) = self.hold_broken_at() {
            // The command's answer waits behind output held back: the hold is broken then.
            take(t);
        }
        if let Some((_, _, d)) = self.send_wait
            && self.stalled.is_none()
        {
            take(d);
        }
        for s in &self.sockets {
            if let Some(d) = s.open_deadline
                && matches!(s.phase, SocketPhase::Opening)
            {
                take(d.get());
            }
            // The retry of a failed read is `poll_transmit`'s work, not `handle_timeout`'s:
            // wake the caller for it, but once it is due the read starts as soon as the
            // command slot is free, which has deadlines of its own. (Reporting a retry that
            // passed would have the caller spin while the slot is taken.)
            if s.read_pending && s.read_failures > 0 && s.read_retry_at > self.now {
                take(s.read_retry_at);
            }
        }
        // Likewise an audit waiting for its time, or for a reader's quiet line.
        if let Some(t) = self.audit_due().or_else(|| self.idle_audit_at()) {
            take(t);
        }
        if let Some(since) = self.unanswered_since.get()
            && !self.unresponsive
        {
            take(later(since, u64::from(self.config.unresponsive_ms)));
        }
        if let Some(b) = self.bring_up {
            take(b.deadline);
        }
        if let Some(o) = self.owed {
            // A request may be waiting for it (see `State::start`).
            take(o.until);
        }
        if let Some(t) = self.send_owed.get() {
            // Sends wait for it (see `State::owe_send_result`).
            take(t);
        }
        // The wake-up's quiet times are judged by one look (see `expire_wake`).
        if let Some(w) = &self.waking {
            let mut wake_at = quiet_at;
            // (Not while output is held back: its answer may wait behind it, and the hold has
            // its own deadline, below.)
            if let Some(d) = w.deadline.get()
                && self.stalled.is_none()
            {
                let d = self.when_passed(d);
                wake_at = Some(if w.bare {
                    d.min(self.when_quiet(self.bare_quiet_after_rx()))
                } else {
                    d
                });
            }
            if let Some(d) = w.settle_until.get() {
                let d = d.max(later(self.last_rx, self.settle_ms(w)));
                wake_at = Some(if w.silent {
                    self.when_passed(d)
                } else {
                    self.when_quiet(d)
                });
            }
            if let Some(t) = wake_at {
                next.put(t);
            }
        } else if let Some(t) = quiet_at {
            next.put(t);
        }
        if (self.init.is_some() || self.needs_sync || self.holding()) && self.inflight.is_none() {
            next.put(self.retry_at);
        }
        if let Some(b) = self.bring_up
            && self.inflight.is_none()
            && self.init.is_none()
            && !self.needs_sync
        {
            next.put(b.next_at);
        }
        if let Some(t) = self.user_waiting_since.get() {
            // Background reads resume then, whether or not the request came back.
            let t = later(t, super::jobs::USER_YIELD_MS);
            next.put(t);
        }
        next.any.then_some(next.at)
    }

    /// When the line will have been quiet for [`Config::quiet_ms`](super::Config) since the
    /// last byte.
    fn quiet_after_rx(&self) -> Millis {
        later(self.last_rx, u64::from(self.config.quiet_ms))
    }

    /// When output held back stops holding up the answer of the command in flight, the
    /// `SEND OK` of a send, the answer of a wake-up `AT` or a reader of another socket:
    /// [`Config::hold_limit_ms`](super::Config) after the earliest of their deadlines (the
    /// reader's: when it first found nothing).
    fn hold_broken_at(&self) -> Option<Millis> {
        self.stalled?;
        let mut d = Millis::MAX;
        for t in [
            self.inflight.as_ref().and_then(|f| f.deadline.get()),
            self.send_wait.map(|(_, _, t)| t),
            self.waking.and_then(|w| w.deadline.get()),
            self.hold_reader.get(),
        ]
        .into_iter()
        .flatten()
        {
            d = d.min(t);
        }
        (d != Millis::MAX).then(|| later(d, u64::from(self.config.hold_limit_ms)))
    }

    /// Break a hold that has kept the command in flight from its answer (or a reader of
    /// another socket from its data) for too long: the socket nobody reads fails with
    /// [`Error::Overflow`] (its data so far stays readable, what comes for it from now on is
    /// dropped) and output flows again. True when it did; the caller then frames what is
    /// staged.
    pub(super) fn break_hold(&mut self) -> bool {
        let Some(id) = self.stalled else {
            return false;
        };
        if core::mem::take(&mut self.hold_reader_came) {
            self.hold_reader = self.hold_reader.earliest(self.now);
        }
        if !self.hold_broken_at().is_some_and(|t| self.passed(t)) {
            return false;
        }
        crate::fmt::warn!(
            "bc20: socket {} not read while others waited behind its data; dropping it",
            id
        );
        self.fail_socket(id, Error::Overflow, true);
        self.release_stall();
        true
    }

    /// Apply the deadlines that passed; `unframed`: module output is unfinished (as for
    /// `next_deadline`). Returns true when bytes that never became a frame should be dropped to
    /// resynchronise.
    pub(super) fn expire(&mut self, unframed: bool) -> bool {
        let now = self.now;
        let mut resync = false;
        if self.owed.is_some_and(|o| self.passed(o.until)) {
            // The answer a timed-out request was owed did not come in the time it had again.
            self.owed = None;
        }
        if self.send_owed.get().is_some_and(|t| self.passed(t)) {
            self.send_owed = Stamp::NONE;
        }
        self.expire_wake();
        self.idle_audit();
        if self.stalled.is_none() {
            #[cfg(feature = "ping")]
            self.decide_ping();
            if self.lost_to_sleep() {
                self.resend_after_wake();
            }
            // A bare line end came: the module may have slept through the command. Let the
            // quiet line that tells so pass before the deadline counts (once it has, the
            // command went out again just above).
            let asleep_maybe = self.inflight.as_ref().is_some_and(maybe_asleep);
            // An answer still coming in (output unfinished, the line not quiet since): the
            // module is answering, over a slow UART or with a long `+QIRD`. Its deadline waits
            // until the line goes quiet: dropping the answer half read would lose the data it
            // carries, which the module no longer holds.
            let answering = unframed && !self.passed(self.quiet_after_rx());
            let expired = !asleep_maybe
                && !answering
                && self
                    .inflight
                    .as_ref()
                    .and_then(|f| f.deadline.get())
                    .is_some_and(|d| self.passed(d));
            if expired {
                let late_first = self
                    .inflight
                    .as_ref()
                    .is_some_and(|f| f.late_done && f.result.is_none());
                if late_first {
                    // The late part came and the OK never did: that is how some firmware
                    // answers (manual 4.2.2, 4.4). Done.
                    let err = self.inflight.as_ref().and_then(|f| f.late_error);
                    self.finish(err.map_or(Ok(()), Err));
                } else {
                    count(&mut self.traffic.timeouts, 1);
                    // An `OK` owed to a late `+QIRD` that never came (a byte lost): it must
                    // not eat the answer to what comes next.
                    self.late_ok_owed = false;
                    let job = self.inflight.as_ref().map(|f| f.job);
                    crate::fmt::warn!(
                        "bc20: timeout waiting for the module ({})",
                        super::jobs::JobLog(job)
                    );
                    // An `AT` probe that followed idle and got no answer at all: the next goes out
                    // at once (see `State::sent_out`), before a module it woke falls asleep
                    // again. (A late answer to it would be an `OK` of an `AT` too.)
                    let silent_probe = matches!(job, Some(Job::Sync))
                        && self
                            .inflight
                            .as_ref()
                            .is_some_and(|f| f.bare_only && !f.blank_seen);
                    match job {
                        Some(Job::Init(0)) => {
                            self.finish(Err(Error::Timeout));
                        }
                        Some(Job::Sync) => {
                            self.finish(Err(Error::Timeout));
                            resync = unframed;
                        }
                        _ => {
                            self.silent_after_idle();
                            // A read that timed out is retried by `finish` (the data is still
                            // in the module, unless the answer is merely late: then it comes
                            // with no read in flight, see `start_late_read`); everything
                            // else reports the timeout.
                            if let Some(Job::Read { id, .. }) = job
                                && let Some(s) = self.sockets.get_mut(id.index())
                            {
                                s.late_read = true;
                            }
                            self.finish(Err(Error::Timeout));
                            self.needs_sync = true;
                            resync = unframed;
                        }
                    }
                    self.probe_silent |= silent_probe;
                    if self.needs_sync {
                        self.retry_at = if silent_probe {
                            now
                        } else {
                            later(now, u64::from(self.config.quiet_ms))
                        };
                    }
                }
            }
        }
        // Not while output is held back: `SEND OK` may wait behind it (see `break_hold`).
        if let Some((id, _, d)) = self.send_wait
            && self.stalled.is_none()
            && self.passed(d)
        {
            count(&mut self.traffic.timeouts, 1);
            self.send_wait = None;
            self.owe_send_result();
            self.complete_send(id, 0, Err(Error::Timeout));
        }
        while let Some(id) = self.find_socket(|s| {
            matches!(s.phase, SocketPhase::Opening)
                && s.open_deadline
                    .is_some_and(|d| d.get() <= self.look_certified)
        }) {
            count(&mut self.traffic.timeouts, 1);
            self.fail_socket(id, Error::Timeout, true);
        }
        self.expire_unresponsive();
        self.expire_bring_up();
        if self
            .user_waiting_since
            .get()
            .is_some_and(|t| now >= later(t, super::jobs::USER_YIELD_MS))
        {
            self.user_waiting_since = Stamp::NONE;
        }
        resync
    }

    /// The command in flight got nothing but a bare line end, and then the line stayed quiet:
    /// the module was asleep and forgot it (spec 6.3).
    ///
    /// When a bare line end counts as the answer of a module asleep: after
    /// [`Config::quiet_ms`](super::Config) of quiet line, two looks apart, for a command that
    /// must not go out twice by mistake; after the short
    /// [`WAKE_BARE_QUIET_MS`](super::wake), seen in one look (see `quiet_since`), for an `AT`
    /// probe, which is harmless to repeat, so that a module that sleeps after a short idle
    /// is found before it falls asleep again.
    fn lost_to_sleep(&self) -> bool {
        self.inflight.as_ref().is_some_and(|f| {
            maybe_asleep(f)
                && if is_probe(f) {
                    self.quiet_since(self.bare_quiet_after_rx())
                } else {
                    self.passed(self.quiet_after_rx())
                }
        })
    }

    /// A command (not an `AT` probe) timed out: if it followed idle and got no answer at all,
    /// not even the bare line end of spec 6.3, a module asleep may have taken its bytes only
    /// to wake. If the `AT` after it is answered, the module slept: see
    /// [`State::learn_silent_sleep`].
    fn silent_after_idle(&mut self) {
        self.silent_idle = 0;
        if let Some(f) = &self.inflight
            && f.bare_only
            && !f.blank_seen
            && !f.woken
        {
            self.silent_idle = self.idle_before;
            self.probe_silent = true;
        }
    }

    /// The resynchronising `AT` was answered: a command before it that followed idle and got
    /// no answer at all was slept through. Learn after how much idle the module sleeps
    /// ([`WakePolicy::Learn`](super::WakePolicy)), as from a bare line end, so that commands
    /// after such idle are preceded by a wake-up from now on. (The command itself is not sent
    /// again: with no answer at all it cannot be told from one whose answer was lost.)
    pub(super) fn learn_silent_sleep(&mut self) {
        let idle = Millis::from(core::mem::take(&mut self.silent_idle));
        if idle != 0 {
            crate::fmt::warn!(
                "bc20: a command after {} ms idle went unanswered; waking first from now on",
                idle
            );
            let idle = idle.max(MIN_LEARNED_IDLE_MS);
            self.sleeps_after = Stamp::at(self.sleeps_after.get().map_or(idle, |s| s.min(idle)));
        }
    }

    /// Wake the module and write the command in flight again.
    fn resend_after_wake(&mut self) {
        crate::fmt::warn!("bc20: the module answered a bare line end (asleep); sending again");
        let is_at = matches!(
            self.inflight.as_ref().map(|f| f.job),
            Some(Job::Init(0) | Job::Sync)
        );
        if !is_at {
            // Learn after how much idle the module sleeps (`WakePolicy::Learn`). `AT` probes
            // say nothing about that: they are how the engine finds the module to begin with.
            let idle = Millis::from(self.idle_before).max(MIN_LEARNED_IDLE_MS);
            self.sleeps_after = Stamp::at(self.sleeps_after.get().map_or(idle, |s| s.min(idle)));
        }
        if let Some(f) = &mut self.inflight {
            f.resent += 1;
            f.deadline = Stamp::NONE;
            f.bare_only = false;
            f.blank_seen = false;
        }
        self.reload();
        count(&mut self.traffic.resent, 1);
        if !is_at {
            self.start_wake();
        }
    }

    /// The module has not answered `AT` for [`Config::unresponsive_ms`](super::Config): fail
    /// every socket that waits on it, so no caller waits in silence.
    fn expire_unresponsive(&mut self) {
        let Some(since) = self.unanswered_since.get() else {
            return;
        };
        if self.unresponsive || !self.passed(later(since, u64::from(self.config.unresponsive_ms))) {
            return;
        }
        crate::fmt::error!("bc20: the module does not answer; failing its sockets");
        self.unresponsive = true;
        for id in ConnectId::ALL {
            self.fail_socket(id, Error::Timeout, true);
        }
        if let Some((id, len, _)) = self.send_wait.take() {
            self.complete_send(id, len, Err(Error::Timeout));
        }
        self.event(Event::Unresponsive);
    }

    /// The module rebooted: every socket and every wait is gone.
    pub(super) fn on_reboot(&mut self) {
        if self.init == Some(0) && self.inflight.is_none() {
            // Already starting over (boot-ROM lines come in a burst).
            return;
        }
        // `RDY` while the engine is still starting up and no socket was ever opened is the
        // module's normal power-up, not news.
        let power_up = self.init.is_some() && self.sockets.iter().all(|s| !s.in_use());
        if power_up {
            crate::fmt::debug!("bc20: the module started");
        } else {
            crate::fmt::warn!("bc20: the module rebooted; every socket is gone");
            count(&mut self.traffic.reboots, 1);
        }
        self.start_over(Error::Reset);
        if !power_up {
            self.event(Event::Rebooted);
        }
    }

    /// Every socket and every wait is gone (the module restarted, or dropped all it held
    /// without a word): what waits ends with `err`, every socket fails with it, and the
    /// start-up settings go out again (a module that restarted forgot those it does not keep
    /// in NVRAM: echo, error reporting).
    pub(super) fn start_over(&mut self, err: Error) {
        self.waking = None;
        self.silent_idle = 0;
        self.probe_silent = false;
        self.late_ok_owed = false;
        // Nor will it print an answer it owed to a request or send that timed out.
        self.owed = None;
        self.send_owed = Stamp::NONE;
        // The module forgot every socket: none is left over.
        self.stale_check = false;
        self.stale = 0;
        self.reclosing = 0;
        self.undrained = 0;
        if self.inflight.is_some() {
            self.finish(Err(err));
        }
        if let Some((id, len, _)) = self.send_wait.take() {
            self.complete_send(id, len, Err(err));
        }
        for id in ConnectId::ALL {
            let Some(s) = self.sockets.get_mut(id.index()) else {
                continue;
            };
            // A read the module still owed an answer is forgotten with the rest.
            s.late_read = false;
            if matches!(s.phase, SocketPhase::Closing) {
                // Its close is moot now: the module forgot the socket.
                s.reset();
                self.event(Event::Closed(id));
                continue;
            }
            self.fail_socket(id, err, false);
            if let Some(s) = self.sockets.get_mut(id.index()) {
                s.needs_close = false;
                s.read_pending = false;
                s.tx.clear();
                s.tx_inflight = 0;
                s.direct = false;
                s.rx.abort();
            }
        }
        // A payload in progress belonged to the module that rebooted.
        self.sink = None;
        self.ctx = ParseContext {
            access_modes: Default::default(),
            ..self.ctx
        };
        self.init = Some(0);
        self.needs_sync = false;
        self.settling = false;
        self.retry_at = later(self.now, u64::from(self.config.quiet_ms));
        self.stalled = None;
        // The module is alive, just starting over.
        self.answered();
    }
}

/// Nothing but a bare line end came since `f` was written, and it may still be sent again: the
/// module may have slept through it (spec 6.3). One condition for `next_deadline`, `expire`
/// and `lost_to_sleep`, so that no deadline is reported that nothing acts on. (A result that
/// came before the command was fully written does not count as a bare answer.)
/// An `AT` probe (start-up or resynchronisation): harmless to send again.
fn is_probe(f: &super::jobs::InFlight) -> bool {
    matches!(f.job, Job::Init(0) | Job::Sync)
}

fn maybe_asleep(f: &super::jobs::InFlight) -> bool {
    f.bare_only
        && f.blank_seen
        && f.resent < super::jobs::MAX_RESENDS
        && f.result.is_none()
        && !f.late_done
}
