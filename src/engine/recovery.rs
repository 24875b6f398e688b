//! Deadlines and reboots: how the engine recovers when the module is late, silent or restarts.

use super::jobs::Job;
use super::socket::SocketPhase;
use super::{Event, Millis, State};
use crate::error::Error;
use crate::types::ConnectId;
use crate::wire::ParseContext;

impl<const SOCK_RX: usize> State<SOCK_RX> {
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut take = |d: Millis| next = Some(next.map_or(d, |n| n.min(d)));
        // While output is held back the answer cannot arrive, and `expire` leaves the command
        // alone: reporting its deadline would have the caller spin on a deadline that passed.
        if self.stalled.is_none()
            && let Some(d) = self.inflight.as_ref().and_then(|f| f.deadline)
        {
            take(d);
        }
        if let Some((_, _, d)) = self.send_wait {
            take(d);
        }
        for s in &self.sockets {
            if let Some(d) = s.open_deadline {
                take(d);
            }
        }
        if (self.init.is_some() || self.needs_sync) && self.inflight.is_none() {
            take(self.retry_at);
        }
        next
    }

    /// Apply the deadlines that passed. Returns true when bytes that never became a frame
    /// should be dropped to resynchronise.
    pub(super) fn expire(&mut self, unframed: bool) -> bool {
        let now = self.now;
        let mut resync = false;
        if self.stalled.is_none() {
            let expired = self
                .inflight
                .as_ref()
                .and_then(|f| f.deadline)
                .is_some_and(|d| now >= d);
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
                    self.traffic.timeouts = self.traffic.timeouts.saturating_add(1);
                    let job = self.inflight.as_ref().map(|f| f.job);
                    crate::fmt::warn!(
                        "bc20: timeout waiting for the module ({:?})",
                        crate::fmt::Dbg(&job)
                    );
                    match job {
                        Some(Job::Init(0)) => {
                            self.finish(Err(Error::Timeout));
                        }
                        Some(Job::Sync) => {
                            self.finish(Err(Error::Timeout));
                            resync = unframed;
                        }
                        Some(Job::Read { .. }) => {
                            self.finish(Ok(()));
                            self.needs_sync = true;
                            resync = unframed;
                        }
                        _ => {
                            self.finish(Err(Error::Timeout));
                            self.needs_sync = true;
                            resync = unframed;
                        }
                    }
                    if self.needs_sync {
                        self.retry_at = now.saturating_add(u64::from(self.config.quiet_ms));
                    }
                }
            }
        }
        if let Some((id, _, d)) = self.send_wait
            && now >= d
        {
            self.traffic.timeouts = self.traffic.timeouts.saturating_add(1);
            self.send_wait = None;
            self.complete_send(id, 0, Err(Error::Timeout));
        }
        for id in ConnectId::ALL {
            let s = &self.sockets[id.index()];
            if s.open_deadline.is_some_and(|d| now >= d) && s.phase == SocketPhase::Opening {
                self.traffic.timeouts = self.traffic.timeouts.saturating_add(1);
                self.fail_socket(id, Error::Timeout, true);
            }
        }
        resync
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
            self.traffic.reboots = self.traffic.reboots.saturating_add(1);
        }
        if self.inflight.is_some() {
            self.finish(Err(Error::Reset));
        }
        if let Some((id, len, _)) = self.send_wait.take() {
            self.complete_send(id, len, Err(Error::Reset));
        }
        for id in ConnectId::ALL {
            if self.sockets[id.index()].phase == SocketPhase::Closing {
                // Its close is moot now: the module forgot the socket.
                self.sockets[id.index()].reset();
                self.event(Event::Closed(id));
                continue;
            }
            self.fail_socket(id, Error::Reset, false);
            let s = &mut self.sockets[id.index()];
            s.needs_close = false;
            s.read_pending = false;
            s.tx.clear();
            s.tx_inflight = 0;
        }
        self.ctx = ParseContext {
            access_modes: Default::default(),
            ..self.ctx
        };
        self.init = Some(0);
        self.needs_sync = false;
        self.retry_at = self.now.saturating_add(u64::from(self.config.quiet_ms));
        self.stalled = None;
        if !power_up {
            self.event(Event::Rebooted);
        }
    }
}
