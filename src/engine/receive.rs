//! Received data: payload headers, their pieces straight into the socket's buffer, and the
//! end that makes them readable (or shows they were not the data).
//!
//! The bytes of a payload are written into the receive buffer as they arrive, pending; only
//! when the parser has checked what follows the payload are they committed. A payload whose
//! announced length was wrong, or that was cut short, is dropped whole and the socket fails:
//! never a silent gap or a stray byte in the stream.

use super::count;
use crate::error::Error;
use crate::types::{AccessMode, ConnectId, ServiceType};
use crate::wire::{Malformed, Payload};

use super::jobs::Job;
use super::socket::{Intake, SocketPhase};
use super::{Event, Sink, Stamp, State};

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    /// False when `frame` cannot be taken yet: pushed data for a socket whose buffer has no
    /// room for it. The header stays unread until the application reads.
    pub(super) fn accepts(&mut self, frame: &crate::wire::Frame<'_>) -> bool {
        let crate::wire::Frame::RecvHeader { id, len, .. } = *frame else {
            return true;
        };
        let Some(s) = self.sockets.get(id.index()) else {
            return true;
        };
        let dropped_anyway =
            s.is_udp() && (s.discard_rest || (s.partial == 0 && s.datagrams.is_full()));
        // Data larger than the whole buffer waits for it to be empty: a datagram is then
        // truncated, a stream's data is handed on as it comes (see `Sink::stream`).
        let full = s.rx.free() < usize::from(len).min(RX);
        // Only a socket that keeps what comes holds the UART: one that failed (after a reboot,
        // say) may never be read or closed, and would hold it for good.
        if s.takes_data() && !dropped_anyway && full {
            self.hold_output(id);
            return false;
        }
        true
    }

    /// Hold module output back until the application reads socket `id` (said once a hold).
    fn hold_output(&mut self, id: ConnectId) {
        if self.stalled != Some(id) {
            crate::fmt::warn!(
                "bc20: receive buffer of socket {} full; holding the UART",
                id
            );
            self.stalled = Some(id);
            self.hold_reader = Stamp::NONE;
            self.hold_reader_came = false;
            self.event(Event::Stalled(id));
        }
    }

    /// `+QIRD: <len>[,<remaining>]`: the answer to the read in flight starts.
    pub(super) fn start_read(&mut self, len: u16, remaining: Option<u16>) {
        let read = match self.inflight.as_ref().map(|f| f.job) {
            Some(Job::Read { id, asked }) => Some((id, asked)),
            _ => None,
        };
        let Some((id, asked)) = read else {
            self.start_late_read(len, remaining);
            return;
        };
        if let Some(f) = self.inflight.as_mut() {
            f.read_header = true;
        }
        if len > 0
            && let Some(s) = self.sockets.get_mut(id.index())
        {
            s.announced = false;
        }
        if usize::from(len) > asked {
            crate::fmt::error!(
                "bc20: module returned {} bytes for a read of {}",
                len,
                asked
            );
            self.fail_socket(id, Error::Malformed, true);
            self.sink = Some(Sink::drop());
            return;
        }
        // UDP: a datagram larger than the read continues in the next one.
        let end = remaining.is_none_or(|r| r == 0);
        self.start_payload(id, usize::from(len), end, true);
    }

    /// `+QIRD: <len>` with no read in flight: the late answer to a read that timed out (the
    /// module answered after the deadline, before the `AT` that resynchronises was answered).
    /// The module hands out a connection's data in order, so these are its next bytes: they
    /// are delivered. At most one socket can be waiting so: a read that times out is followed
    /// by that `AT`, before any other read, and its `OK` ends the wait. With none, the data is
    /// lost, and said so ([`Event::BadPayload`]).
    fn start_late_read(&mut self, len: u16, remaining: Option<u16>) {
        // Its `OK` follows its data: that one is no answer to the command in flight.
        self.sink = Some(Sink {
            late: true,
            ..Sink::drop()
        });
        let late = ConnectId::ALL.into_iter().find(|id| {
            self.sockets
                .get(id.index())
                .is_some_and(|s| s.late_read && s.in_use())
        });
        let Some((id, s)) = late.and_then(|id| Some((id, self.sockets.get(id.index())?))) else {
            crate::fmt::error!(
                "bc20: +QIRD with no read in flight; its {} bytes are lost",
                len
            );
            self.event(Event::BadPayload(None));
            return;
        };
        if matches!(s.phase, SocketPhase::Failed(_) | SocketPhase::Closing) {
            // Already told the application why it ends.
            return;
        }
        if usize::from(len) > s.rx.free() || usize::from(len) > crate::types::MAX_READ {
            crate::fmt::error!(
                "bc20: a late +QIRD of {} bytes for socket {} does not fit; the socket fails",
                len,
                id
            );
            self.fail_socket(id, Error::Timeout, true);
            return;
        }
        crate::fmt::warn!(
            "bc20: a late answer to a read of socket {}: {} bytes",
            id,
            len
        );
        let end = remaining.is_none_or(|r| r == 0);
        self.start_payload(id, usize::from(len), end, true);
        if let Some(sink) = &mut self.sink {
            sink.late = true;
        }
    }

    /// `+QIURC: "recv",<id>,<len>` in direct push: pushed data starts.
    pub(super) fn start_push(&mut self, id: ConnectId, len: u16) {
        match self.sockets.get(id.index()) {
            Some(s) if s.takes_data() => {
                if s.mode != AccessMode::DirectPush {
                    crate::fmt::warn!(
                        "bc20: data pushed for socket {} in buffer mode; keeping it",
                        id
                    );
                }
                self.start_payload(id, usize::from(len), true, false);
            }
            s => {
                crate::fmt::warn!(
                    "bc20: {} bytes pushed for socket {}, which is not open (or failed)",
                    len,
                    id
                );
                self.sink = Some(Sink::drop());
                if s.is_none_or(|s| !s.in_use()) {
                    self.push_for_nobody(id);
                }
            }
        }
    }

    fn start_payload(&mut self, id: ConnectId, len: usize, end: bool, read: bool) {
        let Some(s) = self.sockets.get_mut(id.index()) else {
            self.sink = Some(Sink::drop());
            return;
        };
        let (intake, dropped) = s.begin_payload(len, end);
        let stream = !read && !s.is_udp() && len > RX;
        if dropped {
            count(&mut self.traffic.datagrams_dropped, 1);
            self.event(Event::DatagramsDropped(id));
        }
        self.sink = Some(Sink {
            id: Some(id),
            intake,
            end,
            read,
            late: false,
            stream,
        });
    }

    /// Bytes of pushed data the socket can take now, when its data is larger than the
    /// socket's whole buffer (see `Sink::stream`): none holds the output back until the
    /// application reads. `None` for any other payload, which is taken whole.
    pub(super) fn stream_room(&mut self) -> Option<usize> {
        let sink = self.sink.filter(|k| k.stream)?;
        let id = sink.id?;
        let s = self.sockets.get(id.index()).filter(|s| s.takes_data())?;
        let free = s.rx.free();
        if free == 0 {
            self.hold_output(id);
        }
        Some(free)
    }

    /// A piece of the payload: straight into the socket's buffer, pending.
    pub(super) fn on_data(&mut self, data: Payload<'_>) {
        if let Some(Sink {
            id: Some(id),
            intake: Intake::Store,
            ..
        }) = self.sink
            && let Some(s) = self.sockets.get_mut(id.index())
            && s.takes_data()
        {
            s.store_piece(data.wire_bytes(), data.is_hex());
            if self.sink.is_some_and(|k| k.stream) {
                let n = s.commit_payload(false);
                count(&mut self.traffic.payload_received, n as u64);
                // Once for data where there was none, not for every piece (the events queue
                // is short).
                if n > 0 && s.rx.len() == n {
                    self.event(Event::DataReady(id));
                }
            }
        }
    }

    /// The payload ended: commit it, or drop it when it was not what its header said.
    pub(super) fn on_end(&mut self, result: Result<(), Malformed>) {
        let Some(sink) = self.sink.take() else {
            return;
        };
        self.after_push = !sink.read;
        if !sink.read && result.is_ok() {
            self.push_check = sink.id;
        }
        if sink.late && result.is_ok() {
            self.late_ok_owed = true;
        }
        let Some(id) = sink.id else {
            return;
        };
        match result {
            Ok(()) => {
                let Some(s) = self.sockets.get_mut(id.index()) else {
                    return;
                };
                if sink.intake == Intake::Store {
                    let n = s.commit_payload(sink.end);
                    count(&mut self.traffic.payload_received, n as u64);
                    if n > 0 {
                        self.event(Event::DataReady(id));
                    }
                }
            }
            Err(why) => {
                if let Some(s) = self.sockets.get_mut(id.index()) {
                    s.rx.abort();
                    s.truncated = false;
                }
                crate::fmt::warn!(
                    "bc20: received data for socket {} was not what its header said ({:?})",
                    id,
                    why
                );
                self.event(Event::BadPayload(Some(id)));
                if sink.read
                    && let Some(f) = self.inflight.as_mut()
                    && matches!(f.job, Job::Read { .. })
                {
                    f.late_error = Some(Error::Malformed);
                }
                // The bytes the module handed out are lost to the stream: say so.
                self.fail_socket(id, Error::Malformed, true);
            }
        }
    }

    /// `next`: the output after pushed data for socket `push_check` ended, as far as it has
    /// come. The module starts everything it prints with CR LF (a sibling's line end after the
    /// data, the next URC's or answer's before it), or, while a command is on its way, with
    /// its echo (`AT`, echo on) or a send prompt (`> `, which the parser takes without a line
    /// end too); see `output_may_start`. Anything else is the push's own data running on, or output taken into it: its
    /// announced length was not the data's (a digit lost or changed on the line, or a module
    /// that miscounts; a length one too long takes the CR and leaves the LF). The check ends
    /// once two bytes have been seen. Each of those starts is an unfinished item on its own,
    /// so a first byte that came alone is staged and seen again with the next. The data was
    /// delivered as it came (holding it back until more output arrives could hold it for
    /// good), so the socket fails after it: the stream went wrong there, and nothing else
    /// would say so. (When those bytes came with the data's end, `process` checked them before
    /// the data was committed, and dropped it.)
    pub(super) fn check_after_push(&mut self, next: &[u8]) {
        let Some(id) = self.push_check else {
            return;
        };
        if !self.output_may_start(next) {
            self.push_check = None;
            crate::fmt::warn!("bc20: pushed data for socket {} ran on past its length", id);
            self.fail_pushed(id);
        } else if next.len() >= 2 {
            self.push_check = None;
        }
    }

    /// True when `next` (its first two bytes, or the one there is) can start what the module
    /// prints after pushed data: CR LF, or, while a command of the driver's is on its way
    /// (written or being written, and not answered; a wake-up `AT` counts), its echo (`AT`,
    /// any case) or a send prompt (`> `). The module echoes and prompts only for a command it
    /// was sent, so with none on its way the tail of a push cut short that happens to start
    /// `at` or `> ` is not taken for one. Nothing yet is no sign of anything.
    pub(super) fn output_may_start(&self, next: &[u8]) -> bool {
        match next {
            [] | [b'\r'] | [b'\r', b'\n', ..] => true,
            [b'A' | b'a'] | [b'A' | b'a', b'T' | b't', ..] | [b'>'] | [b'>', b' ', ..] => {
                self.inflight.is_some() || self.waking.is_some()
            }
            _ => false,
        }
    }

    /// True while the payload that ends now is pushed data (not a read's answer).
    pub(super) fn ending_push(&self) -> bool {
        self.sink.is_some_and(|k| !k.read)
    }

    /// Pushed data for socket `id` is known to be lost or wrong: say so, and fail the socket
    /// (a stream cannot go on past it; nor can a socket whose datagram was cut or run on).
    fn fail_pushed(&mut self, id: ConnectId) {
        if self.sockets.get(id.index()).is_some_and(|s| s.takes_data()) {
            self.event(Event::BadPayload(Some(id)));
            self.fail_socket(id, Error::Malformed, true);
        }
    }

    /// A line the parser could not read came: in direct push it may have been a
    /// `+QIURC: "recv",<id>,<len>` damaged on the line, whose data is then lost (it is read
    /// as lines, and dropped). A line that still looks like that header (see
    /// `push_header_tail`) fails the socket it names when that socket takes pushes, or every
    /// TCP socket in direct push when its id cannot be read or is no socket of the driver's
    /// (which socket lost data cannot be told). UDP loses a datagram, as a network may.
    pub(super) fn damaged_line(&mut self, line: &[u8]) {
        let Some(id) = push_header_tail(line) else {
            return;
        };
        match id.and_then(|id| Some((id, self.sockets.get(id.index())?))) {
            Some((id, s)) if s.mode == AccessMode::DirectPush && s.takes_data() => {
                if !s.is_udp() {
                    crate::fmt::warn!("bc20: a damaged line may have been a push for {}", id);
                    self.fail_pushed(id);
                }
            }
            Some(_) => {}
            None => self.fail_push_sockets(),
        }
    }

    /// Data was pushed for socket `id`, which is not open. The module pushes only for
    /// sockets it holds: one the driver never opened or saw closed (none left over from a
    /// previous run, no close refused) is a socket id damaged on the line.
    pub(super) fn push_for_nobody(&mut self, id: ConnectId) {
        if (self.stale | self.reclosing) & (1u8 << id.index()) == 0 {
            self.fail_push_sockets();
        }
    }

    /// Pushed data was lost and whose it was cannot be told: every TCP socket in direct push
    /// fails. UDP loses a datagram, as a network may.
    fn fail_push_sockets(&mut self) {
        for id in ConnectId::ALL {
            if self.sockets.get(id.index()).is_some_and(|s| {
                s.mode == AccessMode::DirectPush && s.takes_data() && s.service == ServiceType::Tcp
            }) {
                crate::fmt::warn!("bc20: pushed data lost, perhaps {}'s; it fails", id);
                self.fail_pushed(id);
            }
        }
    }

    /// A line came damaged (noise, an unknown or malformed line, bytes dropped to
    /// resynchronise) or named a socket that is not open: it may have been a `+QIURC: "recv"`,
    /// and its socket would wait for a read nothing asks for (the module announces data once,
    /// until a read finds none). In buffer access the data waits in the module, so every such
    /// socket is read again; a read that finds nothing costs one `+QIRD: 0`. (Out of line:
    /// inlined at its six callers it cost 0.2 KB of flash.)
    #[inline(never)]
    pub(super) fn recheck_reads(&mut self) {
        // A close announcement may have gone the same way.
        self.audit_later();
        for s in &mut self.sockets {
            if matches!(s.phase, SocketPhase::Connected | SocketPhase::PeerClosed)
                && s.mode == AccessMode::Buffer
            {
                s.read_pending = true;
            }
        }
    }

    /// Bytes went missing from the module's output (a UART receive error; see
    /// [`Engine::note_rx_gap`](super::Engine::note_rx_gap)). Whole frames may have gone with
    /// them, and nothing that follows would tell: the pushes of a TCP socket in direct push
    /// (its stream would go on past the hole), or the answer of the read in flight (the
    /// module handed the data out; a read tried again would skip it). Those TCP sockets fail
    /// with [`Error::Malformed`], the read's once it ends without its header. UDP loses at
    /// most whole datagrams, as a network may: its sockets go on.
    pub(super) fn lost_in_gap(&mut self) {
        for id in ConnectId::ALL {
            if self.sockets.get(id.index()).is_some_and(|s| {
                s.service == ServiceType::Tcp
                    && s.mode == AccessMode::DirectPush
                    && matches!(s.phase, SocketPhase::Connected | SocketPhase::PeerClosed)
            }) {
                crate::fmt::warn!("bc20: pushed data of {} may be lost; it fails", id);
                self.fail_socket(id, Error::Malformed, true);
            }
        }
        if let Some(f) = &mut self.inflight
            && let Job::Read { id, .. } = f.job
            && f.deadline.is_some()
            && !f.read_header
            && self
                .sockets
                .get(id.index())
                .is_some_and(|s| s.service == ServiceType::Tcp)
        {
            f.answer_lost = true;
        }
    }

    /// `+QIRD: 0`: the module has nothing more for the socket being read.
    pub(super) fn on_read_empty(&mut self) {
        let read = self.inflight.as_mut().and_then(|f| match f.job {
            Job::Read { id, .. } => {
                f.read_header = true;
                Some(id)
            }
            _ => None,
        });
        let Some(id) = read else {
            // A late answer that found nothing; its `OK` is its own.
            crate::fmt::warn!("bc20: +QIRD: 0 with no read in flight");
            self.late_ok_owed = true;
            return;
        };
        if self
            .sockets
            .get_mut(id.index())
            .is_some_and(|s| core::mem::take(&mut s.announced))
        {
            // Data was announced for this socket, and the first read finds none: the
            // announcement was perhaps another socket's, with its id damaged on the line
            // (the module announces once, after a read that found nothing). Read the others.
            crate::fmt::warn!("bc20: data announced for {}, but none there", id);
            self.recheck_reads();
        }
        self.undrained &= !(1u8 << id.index());
        if let Some(s) = self.sockets.get_mut(id.index()) {
            s.read_pending = false;
            if s.partial > 0 {
                // The module said more of a datagram remained, then had none: end it here.
                s.begin_payload(0, true);
                s.commit_payload(true);
            }
        }
    }

    /// A payload header that did not decode: no byte of it was taken as data.
    pub(super) fn on_bad_payload(&mut self, id: Option<ConnectId>, line: &[u8], why: Malformed) {
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
                let Some(s) = self.sockets.get_mut(id.index()) else {
                    return;
                };
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
            None => {
                if let Some(f) = self.inflight.as_mut()
                    && let Job::Read { id, .. } = f.job
                {
                    f.read_header = true;
                    f.late_error = Some(Error::Malformed);
                    self.fail_socket(id, Error::Malformed, true);
                }
            }
        }
    }
}

/// True when `line` is, whole, one of the status URCs BC20-family modules print on their
/// own (`+CSCON: 0`, `+QNBIOTEVENT: "ENTER PSM"`, `+NPSMR: 1`, `+QATWAKEUP`, `+IP: 10.0.0.2`),
/// which the driver does not act on. Such a line is not damage: nothing may have been lost
/// with it, so it has no socket read again nor the connections audited (a module that
/// reports every radio state change would otherwise cost a command each time, and one just
/// gone to sleep would be woken). Only the whole shape counts: two lines run together when
/// the line end between them was lost (`+CSCON: 0+QIURC: "closed",0`) are damage.
pub(super) fn benign_urc(line: &[u8]) -> bool {
    // (A table, looked up in a loop: matched as literals the check took 0.7 KB of flash.)
    // Each start, and what may follow it: nothing (0), or digits and this byte, one at least.
    const STATUS: [(&[u8], u8); 6] = [
        (b"+QATWAKEUP", 0),
        (b"+QNBIOTEVENT: \"ENTER PSM\"", 0),
        (b"+QNBIOTEVENT: \"EXIT PSM\"", 0),
        (b"+CSCON: ", b','),
        (b"+NPSMR: ", b','),
        (b"+IP: ", b'.'),
    ];
    let line = line.trim_ascii_end();
    for (start, extra) in STATUS {
        if let Some(rest) = line.strip_prefix(start) {
            return if extra == 0 {
                rest.is_empty()
            } else {
                !rest.is_empty() && rest.iter().all(|&b| b.is_ascii_digit() || b == extra)
            };
        }
    }
    false
}

/// `Some(id)` when `line` may be a direct-push header damaged on the line (`None` inside when
/// its socket id cannot be read): one that still starts `+QIURC: "recv"` (the damage came
/// after it), or one that still ends `,<id>,<len>` with `<id>` one byte and `<len>` one to
/// five digits, after a field that is not a number (its start damaged; even `"recv2,0,512`,
/// its quote turned into a digit). Lines of other URCs and answers that end in two numbers
/// end in three (`"dnsgip",0,1,600`, `+QISTATE`'s).
fn push_header_tail(line: &[u8]) -> Option<Option<ConnectId>> {
    let line = line.trim_ascii_end();
    let recv = line.starts_with(b"+QIURC: \"recv\"");
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let tail = match line.get(..line.len() - digits) {
        Some([before @ .., b',', id, b',']) if (1..=5).contains(&digits) => Some((before, *id)),
        _ => None,
    };
    let Some((before, id)) = tail else {
        return recv.then_some(None);
    };
    // The field before: a number when it has digits back to a separator.
    let digits_before = before
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let number = digits_before > 0
        && before
            .len()
            .checked_sub(digits_before + 1)
            .and_then(|i| before.get(i))
            .is_none_or(|b| matches!(b, b',' | b' ' | b':' | b'"'));
    if !recv && number {
        return None;
    }
    Some(id.checked_sub(b'0').and_then(ConnectId::new))
}

impl Sink {
    /// A sink that keeps nothing.
    pub(super) const fn drop() -> Self {
        Sink {
            id: None,
            intake: Intake::Discard,
            end: true,
            read: false,
            late: false,
            stream: false,
        }
    }
}
