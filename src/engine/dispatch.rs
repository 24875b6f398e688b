//! Applying frames: URCs to the sockets whatever is in flight, answers to the command in flight.

use core::net::Ipv4Addr;

use crate::error::{Error, ModemError};
use crate::types::{AccessMode, ConnectId, ResultCode};
use crate::wire::{CeReg, Frame, Malformed, Payload, PingLine};

use super::jobs::{Job, UserKind};
use super::reply::{PingEcho, Reply, SocketInfo, bounded};
use super::socket::SocketPhase;
use super::{Event, State};

impl<const SOCK_RX: usize> State<SOCK_RX> {
    /// False when `frame` cannot be taken yet: pushed data for a socket whose buffer is full.
    /// The frame stays in the staging buffer until the application reads.
    pub(super) fn accepts(&mut self, frame: &Frame<'_>) -> bool {
        if let Frame::RecvData { id, data } = frame {
            let s = &self.sockets[id.index()];
            if s.in_use() && s.phase != SocketPhase::Closing && s.rx.free() < data.len() {
                if self.stalled != Some(*id) {
                    crate::fmt::warn!(
                        "bc20: receive buffer of socket {} full; holding the UART",
                        id
                    );
                    self.stalled = Some(*id);
                    self.event(Event::Stalled(*id));
                }
                return false;
            }
        }
        true
    }

    pub(super) fn on_frame(&mut self, frame: Frame<'_>) {
        if let Some(f) = &mut self.inflight
            && f.bare_only
        {
            // A module that slept answers the first command with a bare line end only.
            if frame == Frame::Blank {
                f.blank_seen = true;
            } else {
                f.bare_only = false;
            }
        }
        match frame {
            Frame::Echo(_) | Frame::Blank | Frame::Test { .. } => {}
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
            Frame::Closed(id) => {
                let s = &mut self.sockets[id.index()];
                if matches!(s.phase, SocketPhase::Connected | SocketPhase::Opening) {
                    s.phase = SocketPhase::PeerClosed;
                    s.open_deadline = None;
                    // Bytes still queued cannot go out any more: a flush reports them.
                    s.drop_queued();
                    self.event(Event::PeerClosed(id));
                }
            }
            Frame::RecvNotify { id, .. } | Frame::BuffFull(id) => {
                let s = &mut self.sockets[id.index()];
                if s.in_use() {
                    s.read_pending = true;
                    self.event(Event::DataReady(id));
                } else {
                    crate::fmt::warn!("bc20: data announced for socket {}, which is not open", id);
                }
            }
            Frame::RecvData { id, data } => self.on_pushed(id, data),
            Frame::QiRd { data, remaining } => self.on_read(data, remaining),
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
                if let Some(f) = self.user_job(UserKind::Dns) {
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
                if let Some(f) = self.user_job(UserKind::Dns) {
                    if let Some(Reply::Dns(addrs)) = &mut f.reply {
                        let _ = addrs.push(ip);
                    }
                    f.expect = f.expect.saturating_sub(1);
                    if f.expect == 0 {
                        f.late_done = true;
                    }
                }
            }
            Frame::Ping(line) => self.on_ping(line),
            Frame::Ntp { result, time } => {
                if let Some(f) = self.user_job(UserKind::Ntp) {
                    match (result, time) {
                        (ResultCode::Success, Some(t)) => f.reply = Some(Reply::Ntp(t)),
                        (ResultCode::Success, None) => f.late_error = Some(Error::Malformed),
                        (r, _) => f.late_error = Some(ModemError::Result(r).into()),
                    }
                    f.late_done = true;
                }
            }
            Frame::QiState(s) => self.on_state(s),
            Frame::QiStateExt(s) => match s.as_bc20() {
                Some(s) => self.on_state(s),
                None => crate::fmt::debug!("bc20: +QISTATE of a socket this driver cannot use"),
            },
            Frame::QiRdFrom { data, from } => {
                crate::fmt::debug!(
                    "bc20: {} bytes read from {}:{}",
                    data.len(),
                    from.ip,
                    from.port
                );
                self.on_read(data, None);
            }
            Frame::RecvFrom { id, data, from } => {
                crate::fmt::debug!(
                    "bc20: {} bytes pushed from {}:{}",
                    data.len(),
                    from.ip,
                    from.port
                );
                self.on_pushed(id, data);
            }
            Frame::QiRdQuery { .. } => {
                // The answer to `AT+QIRD=<id>,0`, which this driver never sends: a read that
                // gets it got no data, and is tried again.
                match self.inflight.as_mut() {
                    Some(f) if matches!(f.job, Job::Read { .. }) => {
                        crate::fmt::warn!("bc20: AT+QIRD answered with byte counts, no data");
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
                let ip = addr.and_then(|a| a.parse::<Ipv4Addr>().ok());
                self.info_reply(Reply::Address(ip));
            }
            Frame::Identification(text) | Frame::Revision(text) => {
                let revision = matches!(frame, Frame::Revision(_));
                if let Some(f) = self.user_job(UserKind::Info) {
                    if !matches!(f.reply, Some(Reply::Identity(_))) {
                        f.reply = Some(Reply::Identity(Default::default()));
                    }
                    if let Some(Reply::Identity(i)) = &mut f.reply {
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
            }
            Frame::Malformed { line, why } => {
                crate::fmt::warn!(
                    "bc20: malformed line ({:?}): {}",
                    why,
                    crate::fmt::Printable(line)
                );
            }
            Frame::Overlong => crate::fmt::warn!("bc20: overlong line skipped"),
        }
        self.settle();
    }

    /// A `+QISTATE` line: a left-over socket at start-up, or part of a [`Reply::State`].
    fn on_state(&mut self, s: crate::types::SocketStatus<'_>) {
        if self
            .inflight
            .as_ref()
            .is_some_and(|f| f.job == Job::Init(super::jobs::STALE_STEP))
        {
            // A socket the module holds from before this driver started.
            self.stale |= 1 << s.id.index();
            return;
        }
        if let Some(f) = self.user_job(UserKind::Info) {
            let info = SocketInfo {
                id: s.id,
                service: s.service,
                remote: bounded(s.remote),
                remote_port: s.remote_port,
                local_port: s.local_port,
                state: s.state,
                access_mode: s.access_mode,
            };
            match &mut f.reply {
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

    /// The user request in flight, when it is of `kind`.
    fn user_job(&mut self, kind: UserKind) -> Option<&mut super::jobs::InFlight> {
        self.inflight
            .as_mut()
            .filter(|f| matches!(f.job, Job::User { kind: k, .. } if k == kind || (kind == UserKind::Info && matches!(k, UserKind::SetCfg(_)))))
    }

    fn info_reply(&mut self, reply: Reply) {
        if let Some(f) = self.user_job(UserKind::Info) {
            f.reply = Some(reply);
        } else {
            crate::fmt::debug!("bc20: unsolicited information {:?}", reply);
        }
    }

    fn on_final(&mut self, result: Result<(), Error>) {
        self.answered();
        if self.waking.is_some_and(|w| w.deadline.is_some()) {
            // The answer to the wake-up `AT`: the command has not been written yet.
            self.woken();
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
        if let Some(f) = &mut self.inflight
            && let Job::Send { id, len } = f.job
        {
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
            self.traffic.payload_sent = self.traffic.payload_sent.saturating_add(len as u64);
        }
        let s = &mut self.sockets[id.index()];
        if result.is_ok() {
            s.sent_total = s.sent_total.saturating_add(len as u64);
        }
        if s.tx_inflight > 0 {
            // A chunk of the send queue: success just frees it; failure breaks the stream.
            s.tx_inflight = 0;
            if let Err(e) = result {
                s.tx.clear();
                self.fail_socket(id, e, false);
            }
            self.event(Event::SendDone(id));
            return;
        }
        if core::mem::take(&mut s.discard_send) {
            crate::fmt::debug!(
                "bc20: send on {} finished after its caller left: {:?}",
                id,
                result
            );
        } else {
            s.send_result = Some(result.map(|()| len));
        }
        self.event(Event::SendDone(id));
    }

    fn on_opened(&mut self, id: ConnectId, result: ResultCode) {
        let s = &mut self.sockets[id.index()];
        if s.phase != SocketPhase::Opening {
            crate::fmt::warn!("bc20: +QIOPEN for socket {}, which is not opening", id);
            return;
        }
        s.open_deadline = None;
        if result.is_success() {
            s.phase = SocketPhase::Connected;
            self.event(Event::Opened(id));
        } else {
            self.fail_socket(id, ModemError::Result(result).into(), true);
        }
    }

    fn on_pushed(&mut self, id: ConnectId, data: Payload<'_>) {
        let s = &mut self.sockets[id.index()];
        if !s.in_use() || s.phase == SocketPhase::Closing {
            crate::fmt::warn!(
                "bc20: {} bytes pushed for socket {}, which is not open",
                data.len(),
                id
            );
            return;
        }
        if s.mode != AccessMode::DirectPush {
            crate::fmt::warn!(
                "bc20: data pushed for socket {} in buffer mode; keeping it",
                id
            );
        }
        let (n, dropped) = store(s, data, true);
        self.count_received(id, n, dropped);
    }

    fn count_received(&mut self, id: ConnectId, n: usize, dropped: u32) {
        self.traffic.payload_received = self.traffic.payload_received.saturating_add(n as u64);
        if dropped > 0 {
            self.traffic.datagrams_dropped = self
                .traffic
                .datagrams_dropped
                .saturating_add(u64::from(dropped));
            self.event(Event::DatagramsDropped(id));
        }
        if n > 0 {
            self.event(Event::DataReady(id));
        }
    }

    /// A payload header that did not decode, or a payload not followed by what its layout
    /// requires: no byte of it was taken as data.
    fn on_bad_payload(&mut self, id: Option<ConnectId>, line: &[u8], why: Malformed) {
        crate::fmt::warn!(
            "bc20: received data could not be framed ({:?}): {}",
            why,
            crate::fmt::Printable(line)
        );
        self.event(Event::BadPayload(id));
        match id {
            // A recv URC: in buffer access the data waits in the module, so read it; pushed
            // data is lost, and the socket must say so.
            Some(id) => {
                let s = &mut self.sockets[id.index()];
                if !s.in_use() {
                    return;
                }
                if s.mode == AccessMode::Buffer {
                    s.read_pending = true;
                } else {
                    self.fail_socket(id, Error::Malformed, true);
                }
            }
            // A `+QIRD` answer: the bytes the module handed out are lost to the stream.
            None => match self.inflight.as_mut() {
                Some(f) if matches!(f.job, Job::Read { .. }) => {
                    f.late_error = Some(Error::Malformed);
                    if let Job::Read { id, .. } = f.job {
                        self.fail_socket(id, Error::Malformed, true);
                    }
                }
                _ => {}
            },
        }
    }

    fn on_read(&mut self, data: Payload<'_>, remaining: Option<u16>) {
        let Some(f) = &mut self.inflight else {
            crate::fmt::warn!("bc20: +QIRD with no read in flight");
            return;
        };
        let Job::Read { id, asked } = f.job else {
            crate::fmt::warn!("bc20: +QIRD with no read in flight");
            return;
        };
        let s = &mut self.sockets[id.index()];
        if data.is_empty() {
            s.read_pending = false;
            if s.partial > 0 {
                // The module said more of a datagram remained, then had none: end it here.
                let _ = s.push_data(&[], true);
            }
            return;
        }
        if data.len() > asked {
            crate::fmt::error!(
                "bc20: module returned {} bytes for a read of {}",
                data.len(),
                asked
            );
            self.fail_socket(id, Error::Malformed, true);
            return;
        }
        // UDP: a datagram larger than the read continues in the next one.
        let (n, dropped) = store(s, data, remaining.is_none_or(|r| r == 0));
        self.count_received(id, n, dropped);
    }

    fn on_ping(&mut self, line: PingLine) {
        let now = self.now;
        let settle_ms = u64::from(self.config.command_timeout_ms);
        let Some(f) = self.user_job(UserKind::Ping) else {
            crate::fmt::debug!("bc20: ping line with no ping in flight");
            return;
        };
        let (Some(Reply::Ping(out)), Some(plan)) = (&mut f.reply, &mut f.ping) else {
            return;
        };
        // Whatever follows a lone `+QPING: <err>` shows it was one echo's, not the ping's.
        plan.decide_at = None;
        match line {
            PingLine::Echo(r) => {
                let _ = out.replies.push(r);
                let _ = out.echoes.push(PingEcho::Reply(r));
            }
            PingLine::Summary(s) => {
                out.summary = Some(s);
                f.late_done = true;
            }
            PingLine::Result(code) => {
                out.failures = out.failures.saturating_add(1);
                let _ = out.echoes.push(PingEcho::Failed(code));
                if out.echoes.len() >= usize::from(plan.count) && out.replies.is_empty() {
                    // Every echo failed: nothing can follow that changes the outcome.
                    f.late_error = Some(ModemError::Result(code).into());
                    f.late_done = true;
                } else if out.echoes.len() >= usize::from(plan.count) {
                    // A summary may still come; wait briefly for it.
                    plan.decide_at = Some(now.saturating_add(settle_ms));
                } else {
                    // The next echo's line comes within its timeout and the interval; if
                    // nothing does, this was the whole ping failing (spec 6.6).
                    let window = u64::from(plan.timeout_s) * 1000 + PING_LINE_GAP_MS;
                    plan.decide_at = Some(now.saturating_add(window));
                }
            }
        }
    }

    /// A lone `+QPING: <err>` with nothing after it by its decision time: decide the ping.
    pub(super) fn decide_ping(&mut self) {
        let certified = self.look_certified;
        let Some(f) = self.user_job(UserKind::Ping) else {
            return;
        };
        let (Some(Reply::Ping(out)), Some(plan)) = (&f.reply, &mut f.ping) else {
            return;
        };
        if plan.decide_at.is_none_or(|d| d > certified) {
            return;
        }
        plan.decide_at = None;
        if out.replies.is_empty() {
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
const PING_LINE_GAP_MS: u64 = 3_000;

/// Decode a payload into the socket's buffer (the caller checked the room). `end`: the bytes
/// end a UDP datagram. Returns the bytes kept and the datagrams dropped whole.
fn store<const N: usize>(
    s: &mut super::socket::Socket<N>,
    data: Payload<'_>,
    end: bool,
) -> (usize, u32) {
    if let Some(raw) = data.as_raw() {
        return s.push_data(raw, end);
    }
    // Hex: decode in pieces; only the last piece may end a datagram.
    let (mut total, mut dropped) = (0, 0);
    let mut chunk = [0u8; 64];
    let mut pieces = data.wire_bytes().chunks(128).peekable();
    while let Some(piece) = pieces.next() {
        let n = crate::wire::hex::decode_into(piece, &mut chunk).unwrap_or(0);
        let last = pieces.peek().is_none();
        let (k, d) = s.push_data(&chunk[..n], end && last);
        total += k;
        dropped += d;
    }
    (total, dropped)
}
