//! Waking a module that sleeps: `AT` until it answers, before a command.

use super::jobs::Job;
use super::{Event, Millis, Stamp, State};
use super::{count, later};

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// Before a command goes out after a spell of idle, wake the module (spec 6.3).
    pub(super) fn maybe_wake(&mut self) {
        // Not while output is held back: the module that pushed it was awake, and the
        // answers would wait behind it (a command lost to sleep meanwhile still gets a bare
        // line end, and goes out again after a wake-up).
        if self.waking.is_some()
            || self.stalled.is_some()
            || self.inflight.as_ref().is_some_and(|f| f.woken)
        {
            return;
        }
        // Nothing written yet (start-up): the module may have slept for any time.
        let idle = if self.traffic.tx_bytes == 0 {
            Millis::MAX
        } else {
            self.now.saturating_sub(self.last_tx)
        };
        self.idle_before = u32::try_from(idle).unwrap_or(u32::MAX);
        let threshold = match self.config.wake {
            super::WakePolicy::Never => None,
            super::WakePolicy::AfterIdle(ms) => Some(Millis::from(ms)),
            super::WakePolicy::Learn => self.sleeps_after.get(),
        };
        let is_at = matches!(
            self.inflight.as_ref().map(|f| f.job),
            Some(Job::Init(0) | Job::Sync)
        );
        if is_at || threshold.is_none_or(|t| idle < t) {
            return;
        }
        self.start_wake();
    }

    /// Send `AT` until the module answers, then the command waiting in the transmit buffer.
    #[inline(never)] // one copy for its callers (flash)
    pub(super) fn start_wake(&mut self) {
        crate::fmt::debug!("bc20: waking the module");
        self.waking = Some(super::Waking {
            attempt: 1,
            pos: 0,
            deadline: Stamp::NONE,
            settle_until: Stamp::NONE,
            bare: false,
            silent: false,
        });
        self.wake_request = true;
        count(&mut self.traffic.wakes, 1);
        if let Some(f) = &mut self.inflight {
            f.woken = true;
        }
    }

    /// A wake-up `AT` was answered (`OK`, `ERROR`, or anything final: the module is awake).
    pub(super) fn woken(&mut self) {
        let Some(w) = self.waking else {
            return;
        };
        if w.attempt > 1 {
            // An earlier `AT` may still be answered late: let the line go quiet first, so
            // that answer is not taken for the command's. Briefly when every earlier one got
            // the bare line end of a module asleep (it forgot them): the module falls asleep
            // again after its own idle time, which may be shorter than `quiet_ms`.
            let until = later(self.last_rx.max(self.now), self.settle_ms(&w));
            self.waking = Some(super::Waking {
                deadline: Stamp::NONE,
                settle_until: Stamp::at(until),
                ..w
            });
        } else {
            self.waking = None;
        }
        self.event(Event::Woken);
    }

    /// Wake-up deadlines: the next `AT`, or the end of the settling time.
    pub(super) fn expire_wake(&mut self) {
        let Some(w) = self.waking else {
            return;
        };
        if let Some(until) = w.settle_until.get() {
            let quiet_from = until.max(later(self.last_rx, self.settle_ms(&w)));
            // After only forgotten `AT`s, one quiet look will do (see `quiet_since`); after one
            // that got no answer at all, which may still come, the line must be seen quiet
            // twice.
            let settled = if w.silent {
                self.passed(quiet_from)
            } else {
                self.quiet_since(quiet_from)
            };
            if settled {
                self.waking = None;
            }
            return;
        }
        // While output is held back, the answer may wait behind it (see `release_stall`).
        let Some(d) = w.deadline.get().filter(|_| self.stalled.is_none()) else {
            return;
        };
        let asleep = w.bare && self.quiet_since(self.bare_quiet_after_rx());
        if !asleep && !self.passed(d) {
            return;
        }
        if w.attempt >= super::WAKE_ATTEMPTS {
            crate::fmt::warn!("bc20: the module did not wake; sending the command anyway");
            self.waking = None;
            return;
        }
        self.waking = Some(super::Waking {
            attempt: w.attempt + 1,
            pos: 0,
            deadline: Stamp::NONE,
            settle_until: Stamp::NONE,
            bare: false,
            silent: w.silent || !asleep,
        });
    }

    /// A bare line end came while waiting for a wake-up `AT`'s answer (`false`: any other
    /// line, which makes it no bare answer).
    pub(super) fn wake_saw_blank(&mut self, blank: bool) {
        if let Some(w) = &mut self.waking
            && w.deadline.is_some()
        {
            w.bare = blank;
        }
    }

    /// When a wake-up `AT` answered by a bare line end counts as forgotten: the line quiet
    /// for [`WAKE_BARE_QUIET_MS`] after it.
    pub(super) fn bare_quiet_after_rx(&self) -> Millis {
        later(self.last_rx, WAKE_BARE_QUIET_MS)
    }

    /// How long the line must stay quiet after a wake-up before the command goes out.
    pub(super) fn settle_ms(&self, w: &super::Waking) -> Millis {
        if w.silent {
            u64::from(self.config.quiet_ms)
        } else {
            WAKE_BARE_QUIET_MS
        }
    }
}

/// How long the line must stay quiet after a bare line end before the wake-up `AT` it
/// answered counts as forgotten by a module that slept, ms. A module prints an answer in one
/// burst (at 9600 baud this is some 20 characters' time), and a lost `AT` is harmless to
/// repeat; waiting the whole [`Config::wake_answer_ms`](super::Config) instead would let a
/// module that sleeps after a short idle fall asleep again before the next `AT`.
pub(super) const WAKE_BARE_QUIET_MS: Millis = 20;
