//! Connection audits: a `+QIURC: "closed"` lost on the line.
//!
//! The module announces a connection closed by its peer once. Should that line come damaged
//! (noise, bytes lost to an overrun) or its id flipped onto a socket that is not open, the
//! socket would stay connected here for good, and an application that only reads (an HTTP
//! client waiting for its response) would wait without an error. So whenever a line may have
//! been lost while sockets are connected, the driver asks the module which sockets it holds
//! (`AT+QISTATE?`, at most once every [`AUDIT_GAP_MS`]). A connected TCP socket the module
//! lists as not connected is taken as closed by its peer, as the URC would have had it, once a
//! second audit right after says the same: one damaged state digit must not end a live
//! connection. "Initial" (0) always counts; "closing" (3) only once the module is known to
//! mean it so: the BC20 keeps a socket its peer closed as "closing" until the host closes it,
//! but sibling firmware has listed connected sockets as 3 (spec, real output 8). So 3 counts
//! after the module named itself a BC20 (`ATI`, which bring-up asks) or listed a connected
//! socket as 2 in some audit. A module of the family (as configured, unless its `ATI` named
//! none of them) lists every connection in its `AT+QISTATE?`, as the manuals say: a connected
//! socket, TCP or UDP, it does not list at all, twice, is gone (a reboot whose `RDY` was lost,
//! a context dropped unannounced): it fails with [`Error::Unexpected`]; one that lists nothing
//! at all lost everything, and the engine starts over as after a reboot (see
//! `State::start_over`). From a module whose `ATI` named no member of the family an unlisted
//! socket proves nothing (a module may list none), until it lists a connected socket as 2;
//! one listed in a line this driver cannot read is left alone from any module.
//!
//! The same goes for a `+QIOPEN: <id>,0` lost on the line: a socket still opening (TCP or
//! UDP) that two audits in a row list as connected (2) is open, as the URC would have had it,
//! instead of failing with [`Error::Timeout`] a minute later while the module holds the
//! connection (and its peer may have sent data already). An audit refused or unanswered
//! learnt nothing, and is asked again (see [`State::audit_done`]).
//!
//! A reader gives the driver nothing to notice: an application that only waits for data
//! would wait for good on a module that rebooted without a word. So while a read of a
//! connected socket has found nothing and nothing has been written to the module for
//! [`Config::idle_audit_ms`](super::Config::idle_audit_ms), the connections are audited too
//! (see `State::idle_audit_at`).

use super::jobs::Job;
use super::socket::SocketPhase;
use super::{Event, IdentityCheck, State, later};
use crate::error::Error;
use crate::types::{ConnectId, ResultCode, ServiceType, SocketState};
use crate::wire::encode::Command;

/// Least time between the starts of two audits, ms (the second look of a suspected close
/// excepted): a module that prints noise all the time costs one `AT+QISTATE?` every two
/// seconds at most.
pub(super) const AUDIT_GAP_MS: u64 = 2_000;

/// Least time before the next audit after one went unanswered, ms: a module that ignores
/// `AT+QISTATE?` costs a timed-out command (and the resynchronisation after it, which asks for
/// an audit again) once a minute, not every few seconds.
pub(super) const AUDIT_AFTER_TIMEOUT_MS: u64 = 60_000;

/// What the engine knows of connection audits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Audit {
    /// No audit starts before then.
    pub not_before: u64,
    /// Sockets connected (TCP or UDP) when the audit in flight was written.
    pub of: u8,
    /// Sockets the audit in flight found listed in a state other than connected.
    pub down: u8,
    /// Sockets the last audit found down: the next one decides.
    pub suspect: u8,
    /// Sockets the audit in flight found "closing" (3).
    pub closing: u8,
    /// Sockets the audit in flight found listed at all.
    pub listed: u8,
    /// Sockets the last audit found unlisted: the next one decides.
    pub suspect_gone: u8,
    /// Sockets opening that the audit in flight found connected.
    pub opened: u8,
    /// Sockets opening that the last audit found connected: the next one decides.
    pub suspect_open: u8,
}

impl Audit {
    /// None pending, none in flight.
    pub const NONE: Audit = Audit {
        not_before: 0,
        of: 0,
        down: 0,
        suspect: 0,
        closing: 0,
        listed: 0,
        suspect_gone: 0,
        opened: 0,
        suspect_open: 0,
    };
}

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// The sockets in `phase` (TCP or UDP; `tcp`: TCP only), as a mask of ids. (Out of line:
    /// it has several callers. A tag test, not `SocketPhase`'s derived `PartialEq`, which
    /// compares the `Error` a failed socket carries.)
    #[inline(never)]
    fn sockets_in(&self, opening: bool, tcp: bool) -> u8 {
        let mut mask = 0;
        for (i, s) in self.sockets.iter().enumerate() {
            let counts = if opening {
                matches!(s.phase, SocketPhase::Opening)
            } else {
                matches!(s.phase, SocketPhase::Connected)
            };
            if counts && (!tcp || s.service == ServiceType::Tcp) {
                mask |= 1u8 << i;
            }
        }
        mask
    }

    /// The TCP sockets connected, as a mask of ids: a connection the module can close.
    fn connected_tcp(&self) -> u8 {
        self.sockets_in(false, true)
    }

    /// The sockets connected, TCP or UDP, as a mask of ids: what the module must still list.
    fn connected(&self) -> u8 {
        self.sockets_in(false, false)
    }

    /// The sockets opening, TCP or UDP, as a mask of ids.
    fn opening(&self) -> u8 {
        self.sockets_in(true, false)
    }

    /// An audit is the command in flight. (A tag test: `Job`'s derived `PartialEq` is a
    /// call.)
    pub(super) fn auditing(&self) -> bool {
        self.inflight
            .as_ref()
            .is_some_and(|f| matches!(f.job, Job::Audit))
    }

    /// The sockets an audit looks at: connected, or opening.
    fn audited(&self) -> u8 {
        self.connected() | self.opening()
    }

    /// A line may have been lost: audit the connections (if any TCP socket is connected, or
    /// any socket opening).
    /// Not for lines that come during an audit: the module printed any close it knew of
    /// before its answer, which lists the socket as closing then; and an answer whose lines
    /// this driver cannot read (a model that prints `+QISTATE` short) would otherwise have
    /// the audit follow itself for good.
    pub(super) fn audit_later(&mut self) {
        if !self.auditing() && self.audited() != 0 {
            self.audit_pending = true;
        }
    }

    /// When a reader waiting on a connected socket has the connections audited: once
    /// nothing has been written to the module for [`Config::idle_audit_ms`] (`None`: no
    /// reader waits, the look is off, or an audit is pending already).
    ///
    /// [`Config::idle_audit_ms`]: super::Config::idle_audit_ms
    pub(super) fn idle_audit_at(&self) -> Option<u64> {
        let ms = self.config.idle_audit_ms;
        let waits = self.readers_waiting & self.connected() != 0;
        // (Not while an audit is on its way: it may not be written yet.)
        (ms != 0 && !self.audit_pending && !self.auditing() && waits)
            .then(|| later(self.last_tx, u64::from(ms)))
    }

    /// Have the connections audited if a reader has waited long enough (see
    /// `idle_audit_at`).
    pub(super) fn idle_audit(&mut self) {
        if self.idle_audit_at().is_some_and(|t| self.passed(t)) {
            crate::fmt::debug!("bc20: a reader waits on a quiet line; auditing the connections");
            self.audit_later();
        }
    }

    /// When an audit waits for its time (`None` when none does, or it may start now).
    pub(super) fn audit_due(&self) -> Option<u64> {
        (self.audit_pending && self.audit.not_before > self.now).then_some(self.audit.not_before)
    }

    /// Start an audit when one is pending and due (the command slot is free).
    pub(super) fn schedule_audit(&mut self) {
        // Not while output is held back: the answer would wait behind it, and count towards
        // the hold limit (see `State::hold_broken_at`) for a socket that may just be read late.
        // Nor while a timed-out request or send may still be answered: its late `OK` would be
        // taken for the audit's.
        if !self.audit_pending
            || self.now < self.audit.not_before
            || self.stalled.is_some()
            || self.owed.is_some()
            || self.send_owed.is_some()
        {
            return;
        }
        self.audit_pending = false;
        let of = self.connected();
        if of | self.opening() == 0 {
            self.audit.suspect = 0;
            self.audit.suspect_gone = 0;
            self.audit.suspect_open = 0;
            return;
        }
        self.audit.of = of;
        self.audit.opened = 0;
        self.audit.down = 0;
        self.audit.closing = 0;
        self.audit.listed = 0;
        self.audit.not_before = later(self.now, AUDIT_GAP_MS);
        let _ = self.begin(&Command::QiStateRead, Job::Audit);
    }

    /// A `+QISTATE` line of the audit in flight.
    pub(super) fn audit_line(&mut self, id: ConnectId, state: SocketState) {
        let bit = 1u8 << id.index();
        self.audit.listed |= bit;
        match state {
            SocketState::Connected => {
                if self.audit.of & bit != 0 {
                    self.audit_closing_known = true;
                }
                self.audit.opened |= bit;
            }
            SocketState::Closing => self.audit.closing |= bit,
            SocketState::Initial => self.audit.down |= bit,
            SocketState::Opening => {}
        }
    }

    /// A line that came during the audit and could not be read: one that still starts
    /// `+QISTATE: <id>` lists that socket (in a state this driver cannot tell).
    pub(super) fn audit_unreadable(&mut self, line: &[u8]) {
        if self.auditing()
            && let Some(&[d, ..]) = line.strip_prefix(b"+QISTATE: ")
            && let Some(id) = d.checked_sub(b'0').and_then(ConnectId::new)
        {
            self.audit.listed |= 1u8 << id.index();
        }
    }

    /// The module's `AT+QISTATE?` lists every connection it holds, as the manuals of the
    /// family say: it is a member of the family ([`Config::module`](super::Config::module),
    /// unless its `ATI` named none of them), or it listed a connected socket as 2.
    fn lists_all(&self) -> bool {
        self.audit_closing_known || !matches!(self.identity, Some(IdentityCheck::Unknown))
    }

    /// The module named itself (`ATI`): a BC20 means "closing" (3) as its manual says.
    pub(super) fn identified(&mut self, text: &str) {
        // (A window scan: `str::contains` brings in a 0.8 KB substring searcher.)
        if text.as_bytes().windows(4).any(|w| w == b"BC20") {
            self.audit_closing_known = true;
        }
    }

    /// The audit in flight ended with `result`.
    pub(super) fn audit_done(&mut self, result: Result<(), Error>) {
        if let Err(e) = result {
            // Nothing learnt, and the line that had it asked may still hide a lost close or
            // open: ask again (the suspicions of an audit before stand). After a refusal in
            // `AUDIT_GAP_MS`, the start-of-audit gap (a module busy a moment); after a second
            // refusal in a row, or an audit unanswered (the resynchronisation after it asks
            // again), a minute later: a module that never takes the command costs one a minute.
            let timed_out = matches!(e, Error::Timeout);
            // (An audit that followed idle and got no answer at all may have been slept
            // through, see `State::silent_after_idle`: the next after the usual gap.)
            let slept = timed_out && self.silent_idle != 0;
            if (timed_out && !slept) || self.audit_refused {
                self.audit.not_before = later(self.now, AUDIT_AFTER_TIMEOUT_MS);
            }
            self.audit_refused = !timed_out;
            self.audit_pending = true;
            return;
        }
        self.audit_refused = false;
        let mut down = self.audit.down;
        if self.audit_closing_known {
            down |= self.audit.closing;
        }
        let down = down & self.audit.of & self.connected_tcp();
        let confirmed = down & self.audit.suspect;
        self.audit.suspect = down & !confirmed;
        // Unlisted connections, from a module known to list them all.
        let gone = if self.lists_all() {
            self.audit.of & !self.audit.listed & self.connected()
        } else {
            0
        };
        let lost = gone & self.audit.suspect_gone;
        self.audit.suspect_gone = gone & !lost;
        // Connections made whose `+QIOPEN` was lost.
        let opened = self.audit.opened & self.opening();
        let made = opened & self.audit.suspect_open;
        self.audit.suspect_open = opened & !made;
        // A connection found made must not time out before the next audit can confirm it
        // (a superloop that calls once a minute reads its answer a call later): its `+QIOPEN`
        // deadline is put off to two command timeouts from now at most, once per open (a
        // module whose answers keep flipping between "connected" and "opening" must not keep
        // the open waiting for good).
        let grace = later(self.now, 2 * u64::from(self.config.command_timeout_ms));
        let put_off = self.audit.suspect_open & !self.open_put_off;
        self.open_put_off |= put_off;
        for (i, s) in self.sockets.iter_mut().enumerate() {
            if put_off & (1u8 << i) != 0
                && let Some(d) = s.open_deadline
            {
                s.open_deadline = core::num::NonZeroU64::new(d.get().max(grace));
            }
        }
        if self.audit.suspect | self.audit.suspect_gone | self.audit.suspect_open != 0 {
            // Look again at once.
            self.audit_pending = true;
            self.audit.not_before = self.now;
        }
        for id in ConnectId::ALL {
            let bit = 1u8 << id.index();
            if confirmed & bit != 0 {
                crate::fmt::warn!("bc20: socket {} was closed by its peer, unannounced", id);
                self.peer_closed(id);
            } else if lost & bit != 0 {
                crate::fmt::warn!("bc20: the module no longer holds socket {}", id);
                self.fail_socket(id, Error::Unexpected, true);
            } else if made & bit != 0 {
                crate::fmt::warn!("bc20: socket {} was opened, unannounced", id);
                self.on_opened(id, ResultCode::Success);
            }
        }
        if lost != 0 && self.audit.listed == 0 {
            // Not one connection left, none announced closed: the module restarted without a
            // word (its `RDY` lost) or dropped all it held. Its sockets still opening are gone
            // too, and a module that restarted forgot the start-up settings it does not keep
            // in NVRAM (`ATE0`, `AT+CMEE=1`): they go out again.
            crate::fmt::warn!("bc20: the module holds nothing any more; starting over");
            self.start_over(Error::Unexpected);
        }
    }

    /// The peer closed connection `id` (`+QIURC: "closed"`, or an audit).
    pub(super) fn peer_closed(&mut self, id: ConnectId) {
        let Some(s) = self.sockets.get_mut(id.index()) else {
            return;
        };
        if matches!(s.phase, SocketPhase::Connected | SocketPhase::Opening) {
            s.phase = SocketPhase::PeerClosed;
            s.open_deadline = None;
            // Bytes still queued cannot go out any more: a flush reports them.
            s.drop_queued();
            self.event(Event::PeerClosed(id));
        } else if !s.in_use() {
            // Perhaps another socket's, its id damaged on the line.
            self.audit_later();
        }
    }
}
