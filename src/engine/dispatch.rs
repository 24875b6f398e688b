//! Applying frames: URCs to the sockets whatever is in flight, answers to the command in flight.

use super::count;
#[cfg(feature = "ping")]
use super::later;
use crate::error::{Error, ModemError};
use crate::types::{ConnectId, ResultCode};
#[cfg(feature = "ping")]
use crate::wire::PingLine;
use crate::wire::{CeReg, Frame};

use super::jobs::{Job, UserKind};
#[cfg(feature = "ping")]
use super::reply::PingEcho;
use super::reply::{Reply, SocketInfo, bounded};
use super::socket::SocketPhase;
use super::{Event, Owed, State};

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    pub(super) fn on_frame(&mut self, frame: Frame<'_>) {
        // Sibling firmware ends pushed data with a line end (spec 6.16): that blank line
        // belongs to the push, and is no answer to the command in flight.
        let blank = matches!(frame, Frame::Blank);
        let push_tail = blank && self.after_push;
        self.after_push = false;
        if !push_tail {
            self.wake_saw_blank(blank);
        }
        if let Some(f) = &mut self.inflight
            && f.bare_only
            && !push_tail
        {
            // A module that slept answers the first command with a bare line end only.
            if blank {
                f.blank_seen = true;
            } else {
                f.bare_only = false;
            }
        }
        match frame {
            Frame::Echo(_) | Frame::Blank | Frame::Test { .. } => {}
            // The sender of a UDP-service datagram (BG96-class siblings) is not needed: the
            // driver's UDP sockets are connected.
            Frame::QiRdHeader { len, remaining, .. } => self.start_read(len, remaining),
            Frame::RecvHeader { id, len, .. } => self.start_push(id, len),
            Frame::Ok if self.late_ok_owed => {
                // The end of a `+QIRD` answer that came with no read in flight.
                self.late_ok_owed = false;
            }
            Frame::Ok => self.on_final(Ok(())),
            Frame::Error => self.on_final(Err(ModemError::Error.into())),
            Frame::CmeError(c) => self.on_final(Err(ModemError::Cme(c).into())),
            Frame::CmeErrorText(_) => self.on_final(Err(ModemError::Error.into())),
            Frame::SendOk => self.on_send_result(Ok(())),
            Frame::SendFail => self.on_send_result(Err(ModemError::SendFail.into())),
            Frame::CloseOk => {
                if let Some(f) = &mut self.inflight
                    && matches!(f.job, Job::Close(_))
                {
                    f.late_done = true;
                }
            }
            Frame::QiOpen { id, result } => self.on_opened(id, result),
            Frame::Closed(id) => self.peer_closed(id),
            Frame::RecvNotify { id, .. } | Frame::BuffFull(id) => {
                let notify = matches!(frame, Frame::RecvNotify { .. });
                let bit = 1u8 << id.index();
                match self.sockets.get_mut(id.index()) {
                    Some(s) if s.in_use() => {
                        s.read_pending = true;
                        s.announced = true;
                        // The module announces once until a read finds nothing: a second
                        // announcement was perhaps another socket's, its id flipped onto this
                        // one (which has data of its own, so its read cannot tell). Read the
                        // others too. (`buff full` may come while data is waiting.)
                        let again = notify && self.undrained & bit != 0;
                        if notify {
                            self.undrained |= bit;
                        }
                        self.event(Event::DataReady(id));
                        if again {
                            crate::fmt::warn!("bc20: data announced again for {}", id);
                            self.recheck_reads();
                        }
                    }
                    _ => {
                        crate::fmt::warn!(
                            "bc20: data announced for socket {}, which is not open",
                            id
                        );
                        // Perhaps a damaged id: the announcement was another socket's.
                        self.recheck_reads();
                        // With a length it may have been a push (the parse context takes a
                        // socket that is not open for one in buffer access).
                        if matches!(frame, Frame::RecvNotify { len: Some(_), .. }) {
                            self.push_for_nobody(id);
                        }
                    }
                }
            }
            // The streaming parser gives these whole only when they carry no data (`+QIRD: 0`).
            Frame::QiRd { data, .. } if data.is_empty() => self.on_read_empty(),
            Frame::QiRd { .. } | Frame::RecvData { .. } => {
                crate::fmt::warn!("bc20: a whole payload frame where pieces were expected")
            }
            Frame::BadPayload { id, line, why } => self.on_bad_payload(id, line, why),
            Frame::PdpDeact(_) => {
                crate::fmt::warn!("bc20: PDP context deactivated");
                for id in ConnectId::ALL {
                    self.fail_socket(id, Error::PdpDeactivated, true);
                }
                self.event(Event::PdpDeactivated);
            }
            Frame::Ready | Frame::BootRom(_) => self.on_reboot(),
            Frame::DnsHead { result, count, .. } => {
                if let Some(o) = self.owed_answer(UserKind::Dns) {
                    // The first line of the answer a timed-out lookup was owed.
                    if result.is_success() && count > 0 && o.left == 0 {
                        o.left = count;
                    } else {
                        self.owed = None;
                    }
                } else if let Some((f, _)) = self.user_job(UserKind::Dns) {
                    if !result.is_success() {
                        f.late_error = Some(ModemError::Result(result).into());
                        f.late_done = true;
                    } else if count == 0 {
                        f.late_error = Some(Error::Unexpected);
                        f.late_done = true;
                    } else {
                        f.expect = count;
                    }
                }
            }
            Frame::DnsAddr(ip) => {
                if let Some(o) = self.owed_answer(UserKind::Dns) {
                    // An address of the answer a timed-out lookup was owed.
                    o.left = o.left.saturating_sub(1);
                    if o.left == 0 {
                        self.owed = None;
                    }
                } else if let Some((f, reply)) = self.user_job(UserKind::Dns) {
                    if let Some(Reply::Dns(addrs)) = reply {
                        let _ = addrs.push(ip);
                    }
                    f.expect = f.expect.saturating_sub(1);
                    if f.expect == 0 {
                        f.late_done = true;
                    }
                }
            }
            #[cfg(feature = "ping")]
            Frame::Ping(line) => self.on_ping(line),
            #[cfg(feature = "ntp")]
            Frame::Ntp { result, time } => {
                if self.owed_answer(UserKind::Ntp).is_some() {
                    // The answer a timed-out `AT+QNTP` was owed.
                    self.owed = None;
                } else if let Some((f, reply)) = self.user_job(UserKind::Ntp) {
                    match (result, time) {
                        (ResultCode::Success, Some(t)) => *reply = Some(Reply::Ntp(t)),
                        (ResultCode::Success, None) => f.late_error = Some(Error::Malformed),
                        (r, _) => f.late_error = Some(ModemError::Result(r).into()),
                    }
                    f.late_done = true;
                }
            }
            // Without the feature the parser gives these lines as `Unknown`.
            #[cfg(not(feature = "ping"))]
            Frame::Ping(_) => {}
            #[cfg(not(feature = "ntp"))]
            Frame::Ntp { .. } => {}
            Frame::QiState(s) => self.on_state(s),
            Frame::QiStateExt(s) => match s.as_bc20() {
                Some(s) => self.on_state(s),
                None => crate::fmt::debug!("bc20: +QISTATE of a socket this driver cannot use"),
            },
            // The streaming parser gives these as a header and pieces (see above).
            Frame::QiRdFrom { .. } | Frame::RecvFrom { .. } => {
                crate::fmt::warn!("bc20: a whole payload frame where pieces were expected")
            }
            Frame::QiRdQuery { .. } => {
                // The answer to `AT+QIRD=<id>,0`, which this driver never sends: a read that
                // gets it got no data, and is tried again.
                match self.inflight.as_mut() {
                    Some(f) if matches!(f.job, Job::Read { .. }) => {
                        crate::fmt::warn!("bc20: AT+QIRD answered with byte counts, no data");
                        f.read_header = true;
                        f.late_error = Some(Error::Unexpected);
                    }
                    _ => crate::fmt::debug!("bc20: +QIRD byte counts with no read in flight"),
                }
            }
            Frame::QiSendQuery {
                total,
                acked,
                unacked,
            } => crate::fmt::debug!(
                "bc20: +QISEND counts: {} sent, {} acked, {} unacked",
                total,
                acked,
                unacked
            ),
            Frame::Prompt => {
                // Prompt mode, which this driver never asks for: the command in flight is not
                // ended by it; its deadline (and resynchronisation) handles a module that waits.
                crate::fmt::warn!("bc20: unexpected `> ` prompt from the module");
            }
            Frame::QiCfg(c) => self.info_reply(Reply::Cfg(c)),
            Frame::QiGetError {
                result,
                description,
            } => self.info_reply(Reply::LastError {
                result,
                description: bounded(description),
            }),
            Frame::CPin(code) => self.info_reply(Reply::Sim(bounded(code))),
            Frame::CeReg(CeReg::Read { stat, .. }) => self.info_reply(Reply::Registration(stat)),
            Frame::CeReg(CeReg::Urc { stat }) => self.event(Event::Registration(stat)),
            Frame::CgAtt(a) => self.info_reply(Reply::Attached(a)),
            Frame::CgPAddr { addr, .. } => {
                let ip = addr.and_then(|a| crate::wire::addr::ipv4(a.as_bytes()));
                self.info_reply(Reply::Address(ip));
            }
            Frame::Identification(text) | Frame::Revision(text) => {
                self.identified(text);
                let revision = matches!(frame, Frame::Revision(_));
                if let Some((_, reply)) = self.user_job(UserKind::Info) {
                    if !matches!(reply, Some(Reply::Identity(_))) {
                        *reply = Some(Reply::Identity(Default::default()));
                    }
                    if let Some(Reply::Identity(i)) = reply {
                        if revision {
                            i.revision = bounded(text);
                        } else if i.manufacturer.is_empty() {
                            i.manufacturer = bounded(text);
                        } else {
                            i.model = bounded(text);
                        }
                    }
                }
            }
            Frame::Unknown(line) => {
                crate::fmt::debug!("bc20: unknown line {}", crate::fmt::Printable(line));
                if !super::receive::benign_urc(line) {
                    self.recheck_reads();
                    self.damaged_line(line);
                }
            }
            Frame::Malformed { line, why } => {
                crate::fmt::warn!(
                    "bc20: malformed line ({:?}): {}",
                    why,
                    crate::fmt::Printable(line)
                );
                self.audit_unreadable(line);
                self.recheck_reads();
                self.damaged_line(line);
            }
            Frame::Overlong => {
                crate::fmt::warn!("bc20: overlong line skipped");
                self.recheck_reads();
            }
        }
        self.settle();
    }

    /// A `+QISTATE` line: a left-over socket at start-up, or part of a [`Reply::State`].
    fn on_state(&mut self, s: crate::types::SocketStatus<'_>) {
        if self
            .inflight
            .as_ref()
            .is_some_and(|f| matches!(f.job, Job::Init(super::jobs::STALE_STEP)))
        {
            // A socket the module holds from before this driver started.
            self.stale |= 1 << s.id.index();
            return;
        }
        if self.auditing() {
            self.audit_line(s.id, s.state);
            return;
        }
        if let Some((_, reply)) = self.user_job(UserKind::Info) {
            let info = SocketInfo {
                id: s.id,
                service: s.service,
                remote: bounded(s.remote),
                remote_port: s.remote_port,
                local_port: s.local_port,
                state: s.state,
                access_mode: s.access_mode,
            };
            match reply {
                Some(Reply::State(list)) => {
                    let _ = list.push(info);
                }
                r => {
                    let mut list = heapless::Vec::new();
                    let _ = list.push(info);
                    *r = Some(Reply::State(list));
                }
            }
        }
    }

    /// The user request in flight, when it is of `kind`, and the reply it collects.
    fn user_job(
        &mut self,
        kind: UserKind,
    ) -> Option<(&mut super::jobs::InFlight, &mut Option<Reply>)> {
        let collected = &mut self.collected;
        self.inflight
            .as_mut()
            .filter(|f| matches!(f.job, Job::User { kind: k, .. } if k == kind || (kind == UserKind::Info && matches!(k, UserKind::SetCfg(_) | UserKind::BringUp))))
            .map(|f| (f, collected))
    }

    /// The owed answer of a timed-out request of `kind`, if one is awaited (see [`Owed`]).
    fn owed_answer(&mut self, kind: UserKind) -> Option<&mut Owed> {
        self.owed.as_mut().filter(|o| o.kind == kind)
    }

    fn info_reply(&mut self, info: Reply) {
        if let Some((_, reply)) = self.user_job(UserKind::Info) {
            *reply = Some(info);
        } else {
            crate::fmt::debug!("bc20: unsolicited information {:?}", info);
        }
    }

    fn on_final(&mut self, result: Result<(), Error>) {
        self.answered();
        if let Some(w) = self.waking {
            // The command has not been written yet, so this is not its answer: it answers the
            // wake-up `AT` (or, while the next `AT` is still to go out, an earlier one late).
            if w.deadline.is_some() {
                self.woken();
            }
            return;
        }
        match &mut self.inflight {
            Some(f) if f.result.is_none() => f.result = Some(result),
            // A second OK (the manual's ping example prints two): nothing to do.
            Some(_) => {}
            None => crate::fmt::debug!("bc20: final result with no command in flight"),
        }
    }

    fn on_send_result(&mut self, result: Result<(), Error>) {
        if self.send_owed.take().is_some() {
            // The outcome of a send that timed out, late: no send has gone out since.
            crate::fmt::debug!(
                "bc20: late send result {:?} of a send that timed out",
                result
            );
            return;
        }
        if let Some(f) = &mut self.inflight
            && let Job::Send { id, len, .. } = f.job
        {
            if f.late_done {
                // The send has its outcome already: a second one must not count it again.
                crate::fmt::warn!("bc20: second send result for one send on {}; ignored", id);
                return;
            }
            // SEND OK before OK (manual 4.2.2).
            f.late_done = true;
            self.complete_send(id, len, result);
            return;
        }
        match self.send_wait.take() {
            Some((id, len, _)) => self.complete_send(id, len, result),
            None => crate::fmt::debug!("bc20: send result with no send pending"),
        }
    }

    pub(super) fn complete_send(&mut self, id: ConnectId, len: usize, result: Result<(), Error>) {
        if result.is_ok() {
            count(&mut self.traffic.payload_sent, len as u64);
        }
        let Some(s) = self.sockets.get_mut(id.index()) else {
            return;
        };
        if result.is_ok() {
            count(&mut s.sent_total, len as u64);
        }
        // The bytes sent (or given up on) leave the front of the send queue.
        let done = core::mem::take(&mut s.tx_inflight);
        s.tx.discard(done);
        if !core::mem::take(&mut s.direct) {
            // A chunk of the send queue: success just frees it; failure breaks the stream.
            if let Err(e) = result {
                s.tx.clear();
                self.fail_socket(id, e, false);
            }
            self.event(Event::SendDone(id));
            return;
        }
        // A TCP send that timed out may have gone out or not (its `OK` or `SEND OK` may be
        // merely late): the stream can no longer be trusted, since sending the bytes again
        // could repeat them and not sending them could leave a gap. It breaks, as a queued
        // chunk's failure does. (A datagram is whole or not sent; UDP carries on.)
        let ambiguous = matches!(result, Err(Error::Timeout)) && !s.is_udp();
        if core::mem::take(&mut s.discard_send) {
            crate::fmt::debug!(
                "bc20: send on {} finished after its caller left: {:?}",
                id,
                result
            );
        } else {
            s.send_result = result.map(|()| len).into();
        }
        if ambiguous {
            self.fail_socket(id, Error::Timeout, false);
        }
        self.event(Event::SendDone(id));
    }

    pub(super) fn on_opened(&mut self, id: ConnectId, result: ResultCode) {
        let Some(s) = self.sockets.get_mut(id.index()) else {
            crate::fmt::warn!(
                "bc20: +QIOPEN for socket {}, which this driver does not have",
                id
            );
            return;
        };
        if !matches!(s.phase, SocketPhase::Opening) {
            crate::fmt::warn!("bc20: +QIOPEN for socket {}, which is not opening", id);
            return;
        }
        s.open_deadline = None;
        // A new connection: nothing of it was announced yet.
        self.undrained &= !(1u8 << id.index());
        self.readers_waiting &= !(1u8 << id.index());
        if result.is_success() {
            s.phase = SocketPhase::Connected;
            self.event(Event::Opened(id));
        } else {
            self.fail_socket(id, ModemError::Result(result).into(), true);
        }
    }

    #[cfg(feature = "ping")]
    fn on_ping(&mut self, line: PingLine) {
        let now = self.now;
        let settle_ms = u64::from(self.config.command_timeout_ms);
        if self.owed_answer(UserKind::Ping).is_some() {
            // A line of the answer a timed-out ping was owed: its summary ends it (a ping
            // that failed as a whole prints none; the wait for it then ends with the time).
            if matches!(line, PingLine::Summary(_)) {
                self.owed = None;
            }
            return;
        }
        let Some((f, reply)) = self.user_job(UserKind::Ping) else {
            crate::fmt::debug!("bc20: ping line with no ping in flight");
            return;
        };
        let (Some(Reply::Ping(out)), Some(plan)) = (reply, &mut f.ping) else {
            return;
        };
        // Whatever follows a lone `+QPING: <err>` shows it was one echo's, not the ping's.
        plan.decide_at = None;
        match line {
            PingLine::Echo(r) => {
                let _ = out.echoes.push(PingEcho::Reply(r));
            }
            PingLine::Summary(s) => {
                out.summary = Some(s);
                f.late_done = true;
            }
            PingLine::Result(code) => {
                let _ = out.echoes.push(PingEcho::Failed(code));
                let none_replied = out.replies().next().is_none();
                if out.echoes.len() >= usize::from(plan.count) && none_replied {
                    // Every echo failed: nothing can follow that changes the outcome.
                    f.late_error = Some(ModemError::Result(code).into());
                    f.late_done = true;
                } else if out.echoes.len() >= usize::from(plan.count) {
                    // A summary may still come; wait briefly for it.
                    plan.decide_at = Some(later(now, settle_ms));
                } else {
                    // The next echo's line comes within its timeout and the interval; if
                    // nothing does, this was the whole ping failing (spec 6.6).
                    let window = u64::from(plan.timeout_s) * 1000 + PING_LINE_GAP_MS;
                    plan.decide_at = Some(later(now, window));
                }
            }
        }
    }

    /// A lone `+QPING: <err>` with nothing after it by its decision time: decide the ping.
    #[cfg(feature = "ping")]
    pub(super) fn decide_ping(&mut self) {
        let certified = self.look_certified;
        let Some((f, reply)) = self.user_job(UserKind::Ping) else {
            return;
        };
        let (Some(Reply::Ping(out)), Some(plan)) = (&*reply, &mut f.ping) else {
            return;
        };
        if plan.decide_at.is_none_or(|d| d > certified) {
            return;
        }
        plan.decide_at = None;
        if out.replies().next().is_none() {
            let code = out.echoes.iter().find_map(|e| match e {
                PingEcho::Failed(c) => Some(*c),
                PingEcho::Reply(_) => None,
            });
            f.late_error = code.map(|c| ModemError::Result(c).into());
        }
        f.late_done = true;
        self.settle();
    }
}

/// Longest gap between two lines of a ping beyond one echo's timeout (the module waits about
/// a second between echoes), ms.
#[cfg(feature = "ping")]
const PING_LINE_GAP_MS: u64 = 3_000;
