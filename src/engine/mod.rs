//! The sans-IO engine: up to five sockets, one command in flight, the `SEND OK` rule, DNS, ping
//! and NTP collectors, deadlines, reboot detection. Both network stacks drive this one engine.
//!
//! # Sizes
//!
//! The application sizes the engine at compile time: `Engine<SOCKETS, RX, TX, STAGING>` has
//! `SOCKETS` sockets (1 to 5, connectIDs `0..SOCKETS`), each with an `RX`-byte receive buffer
//! and a `TX`-byte send queue, and `STAGING` bytes for module output that is not framed yet.
//! The defaults ([`DEFAULT_SOCKETS`], [`DEFAULT_RX`], [`DEFAULT_TX`], [`DEFAULT_STAGING`]) need
//! no annotation; invalid sizes fail to compile. Received payloads go from the UART bytes
//! straight into the socket's receive buffer: staging holds only the longest line that is not
//! payload (see [`DEFAULT_STAGING`]), never a payload.
//!
//! # Calling contract
//!
//! The engine does no I/O and reads no clock: time (`now`, milliseconds from any fixed
//! origin) is an argument of every call that may need it.
//!
//! - **Input.** Either hand the bytes read from the UART to [`Engine::handle_rx`], which frames
//!   them in place and keeps only an unfinished line, or read straight into
//!   [`Engine::rx_space`] and announce them with [`Engine::rx_commit`]. When fewer bytes are
//!   taken (or `rx_space` is empty), the engine is holding module output back because a
//!   socket's receive buffer is full (direct push): read that socket, and offer the rest again
//!   once there is room, and after each [`Engine::handle_timeout`]. Nothing is dropped to make
//!   room, unless a command's answer waits behind the held output for
//!   [`Config::hold_limit_ms`] past its timeout, or a read of another socket finds nothing
//!   for that long: then that socket fails with [`Error::Overflow`] at `handle_timeout`, and
//!   output flows again. When a UART read fails (an overrun, a framing error), call
//!   [`Engine::note_rx_gap`]: bytes may be missing there, and nothing must be joined across
//!   the place.
//! - **Output.** Write [`Engine::poll_transmit`]'s bytes to the UART and report how many went
//!   out with [`Engine::transmitted`]; repeat until it gives nothing (a send command comes in
//!   several pieces).
//! - **Time.** Call [`Engine::handle_timeout`] after reading what the UART has, whenever
//!   [`Engine::poll_timeout`]'s instant has passed (calling it more often is harmless).
//!   Deadlines are judged by what has been read (see [`LOOK_GRACE_MS`]), so the poll period
//!   may be anything.
//! - **Requests.** Socket operations ([`Engine::open`], [`Engine::send`], [`Engine::close`])
//!   and [`Engine::start`] return [`Error::Busy`] while another command is in flight; try
//!   again after the next input. Their outcomes are read back with [`Engine::phase`],
//!   [`Engine::take_send_result`] and [`Engine::take_reply`].
//! - **Events.** [`Engine::poll_event`] tells what happened, for logs and wake-ups; the state
//!   queried through the methods above is authoritative.
//!
//! Before any request is accepted the engine brings the module into a known state on its own:
//! `AT` until it answers (it may be asleep), `ATE0`, `AT+CMEE=1`, and the three `AT+QICFG`
//! settings that decide framing (the module keeps them in NVRAM, so they are never assumed).
//! It does so again after a reboot, which it notices from `RDY` or boot-ROM lines: every socket
//! then reports [`Error::Reset`], never stale data.

mod api;
mod audit;
mod bringup;
mod config;
mod dispatch;
mod jobs;
mod outcome;
mod profile;
mod receive;
mod recovery;
mod reply;
mod ring;
mod socket;
mod transmit;
mod wake;

pub use config::{Config, Event, LOOK_GRACE_MS, Ticket, Traffic, WAKE_ATTEMPTS, WakePolicy};
pub use profile::{BootOutput, ErrorStyle, IdentityCheck, Module, Profile};
pub use reply::{Identity, MAX_DNS_ADDRS, Reply, Request, SocketInfo};
#[cfg(feature = "ping")]
pub use reply::{MAX_PING_REPLIES, PingEcho, PingOutcome};
pub use socket::{MAX_DATAGRAMS, SocketPhase};

use heapless::Deque;

use crate::error::Error;
use crate::types::{ConnectId, SOCKET_COUNT};
use crate::wire::{MAX_CONTROL_LEN, ParseContext, Parser, Stream};

use jobs::InFlight;
use socket::{Intake, Socket};

/// Milliseconds on the caller's clock.
pub type Millis = u64;

/// `t + ms`, saturating at the end of the clock (an instant plus a wait). Kept out of line:
/// the 64-bit sum is about 20 bytes of Thumb code at each of some forty sites, and one copy
/// takes 0.2 KB off the driver.
#[inline(never)]
pub(crate) fn later(t: Millis, ms: Millis) -> Millis {
    t.saturating_add(ms)
}

/// Add `n` to a counter, saturating; out of line for the same reason as [`later`] (0.2 KB).
#[inline(never)]
pub(crate) fn count(c: &mut u64, n: u64) {
    *c = c.saturating_add(n);
}

/// Sockets of the default engine: all five the module has.
pub const DEFAULT_SOCKETS: usize = SOCKET_COUNT;
/// Receive buffer of each socket by default: a whole direct push of a sibling module (1500
/// bytes) fits. Any size works: in buffer access mode reads ask for what fits; in direct push
/// a push larger than the buffer is handed on as it comes, the module's output held back in
/// the middle of it while the buffer is full (a datagram larger than it is truncated).
pub const DEFAULT_RX: usize = 1536;
/// Send queue of each socket by default: two `AT+QISENDEX` worth, so the application can
/// queue the next 512 bytes while the module has not yet answered `SEND OK` for the last (the
/// bytes of a send stay queued until then, so that a command lost to a sleeping module can be
/// sent again whole). One `AT+QISEND` of printable data takes up to 1024.
pub const DEFAULT_TX: usize = 2 * crate::types::MAX_SEND_HEX;
/// Staging for module output that is not framed yet, by default. It must hold the longest line
/// the driver needs to understand: `+QISTATE` and `+QIURC: "dnsgip"` lines with an IPv4
/// address, `+CEREG` with cell data, `+CME ERROR` text and the `ATI` lines are under 100
/// bytes, a payload header under 40; lines longer than `STAGING - 1` bytes are skipped whole
/// ([`crate::wire::Frame::Overlong`]), and payloads never pass through staging. 256 leaves
/// room for a host name in `+QISTATE`.
pub const DEFAULT_STAGING: usize = 256;
/// The smallest staging the engine accepts.
pub const MIN_STAGING: usize = 128;

/// Receive staging and parsing: the bytes the UART gave that are not framed yet.
#[derive(Debug)]
struct Link<const STAGING: usize> {
    buf: [u8; STAGING],
    len: usize,
    parser: Parser,
}

/// The wake-up of a sleeping module in progress: `AT` until it answers.
#[derive(Debug, Clone, Copy)]
struct Waking {
    /// `AT` commands sent so far (the one being written included).
    attempt: u8,
    /// Bytes of `AT\r` written.
    pos: usize,
    /// When the answer to the current `AT` is late (none while it is being written).
    deadline: Stamp,
    /// After a late answer, the line must go quiet until then before the command goes out.
    settle_until: Stamp,
    /// The current `AT` got a bare line end so far: the module was asleep and woke on it.
    bare: bool,
    /// An earlier `AT` got no answer at all in its window: it may still be answered late.
    silent: bool,
}

/// The wake-up command.
const WAKE_AT: &[u8] = b"AT\r";

/// Where the payload being received goes.
#[derive(Debug, Clone, Copy)]
struct Sink {
    /// The socket, or `None` to drop the bytes (no socket takes them).
    id: Option<ConnectId>,
    intake: Intake,
    /// It ends a UDP datagram.
    end: bool,
    /// The answer to the `AT+QIRD` in flight (else a direct push).
    read: bool,
    /// An `AT+QIRD` answer that came with no read in flight: the `OK` after it is its own.
    late: bool,
    /// Pushed data larger than the socket's whole buffer: each piece becomes readable as it
    /// comes, and the output is held back in the middle of the data while the buffer is full.
    stream: bool,
}

/// The answer of a request with a late part (DNS, ping, NTP) that timed out: the module may
/// still print it, and it names no request (`+QIURC: "dnsgip"` carries no host). Its lines are
/// taken as that answer and dropped, and a request of the same kind waits until it came or
/// `until` (the time the module was given to answer, once more), so that it is never taken
/// for the next request's answer.
#[derive(Debug, Clone, Copy)]
struct Owed {
    kind: jobs::UserKind,
    until: Millis,
    /// DNS: addresses of the answer still to come (0 while its first line has not come).
    left: u8,
}

/// An instant (or a time) that may be absent, in the 8 bytes of a [`Millis`]
/// (`Option<Millis>` takes 16 on 32-bit targets): `Millis::MAX`, which no clock reaches,
/// stands for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp(Millis);

impl Stamp {
    pub(super) const NONE: Stamp = Stamp(Millis::MAX);

    /// `t`. (A sum that saturated at `Millis::MAX` is never reached: none, as it should.)
    pub(super) fn at(t: Millis) -> Stamp {
        Stamp(t)
    }

    pub(super) fn get(self) -> Option<Millis> {
        (self.0 != Millis::MAX).then_some(self.0)
    }

    pub(super) fn is_some(self) -> bool {
        self.0 != Millis::MAX
    }

    pub(super) fn is_none(self) -> bool {
        self.0 == Millis::MAX
    }

    /// The earlier of this and `t` (`t` when none).
    pub(super) fn earliest(self, t: Millis) -> Stamp {
        Stamp(self.0.min(t))
    }

    /// This, but not before `t` (none stays none: it is the latest instant).
    fn not_before(self, t: Millis) -> Stamp {
        Stamp(self.0.max(t))
    }

    fn take(&mut self) -> Option<Millis> {
        core::mem::replace(self, Stamp::NONE).get()
    }
}

/// The data part of a send command that is going out.
#[derive(Debug, Clone, Copy)]
struct TxBody {
    id: ConnectId,
    /// Bytes of the socket's send queue already written.
    offset: usize,
    /// Bytes still to write.
    left: usize,
    hex: bool,
}

/// Everything but the receive staging, so frames borrowed from [`Link`] can update it.
#[derive(Debug)]
struct State<const S: usize, const RX: usize, const TX: usize> {
    config: Config,
    now: Millis,
    sockets: [Socket<RX, TX>; S],
    inflight: Option<InFlight>,
    /// `SEND OK` awaited: socket, length, deadline.
    send_wait: Option<(ConnectId, usize, Millis)>,
    /// Start-up step to run next; `None` once ready.
    init: Option<u8>,
    /// Send `AT` before anything else (after a timeout).
    needs_sync: bool,
    /// The resynchronising `AT` was answered: nothing goes out until the line has been quiet
    /// until `retry_at` (see [`State::holding`]).
    settling: bool,
    /// Earliest time of the next start-up step or resynchronising `AT` (the line must be quiet
    /// until then), and the end of the settling after one (see `settling`).
    retry_at: Millis,
    /// The reply of the last user request is ready (with its data in `collected`).
    reply: Option<(Ticket, Result<(), Error>)>,
    /// What the user request in flight (or the last one, until taken) collected.
    collected: Option<Reply>,
    next_ticket: u32,
    /// Module output is held back until the application reads this socket (direct push, its
    /// receive buffer full).
    stalled: Option<ConnectId>,
    /// Since when a read of another socket has found nothing while output is held back
    /// (it may be waiting for data behind the hold); counts only while `stalled`, set anew
    /// with each hold.
    hold_reader: Stamp,
    /// Such a read came since the last look: `hold_reader` starts at the next (a read has
    /// no clock, and `now` may be old while everything waits).
    hold_reader_came: bool,
    events: Deque<Event, 8>,
    traffic: Traffic,
    /// Parse context changes to apply after the current frame.
    ctx: ParseContext,
    /// The payload being received.
    sink: Option<Sink>,
    /// The piece of the command going out: all of a command without data, else its head,
    /// then pieces of its data, then its `\r`.
    tx: [u8; MAX_CONTROL_LEN],
    tx_len: u16,
    tx_pos: u16,
    /// The data of a send command still to go out after `tx`.
    tx_body: Option<TxBody>,
    /// The command in `tx` has not started going out.
    tx_fresh: bool,
    /// The piece in `tx` ends the command.
    tx_last: bool,
    /// When the last byte came in.
    last_rx: Millis,
    /// When the host last wrote to the module (for sleep).
    last_tx: Millis,
    /// The latest look at the line ([`Engine::handle_timeout`]) that is at least
    /// [`LOOK_GRACE_MS`] older than the one before it.
    look_anchor: Millis,
    /// Deadlines up to this instant count as passed: the line was looked at after them, and
    /// again at least [`LOOK_GRACE_MS`] later.
    look_certified: Millis,
    /// Since when the module has not answered `AT` (start-up or resynchronisation).
    unanswered_since: Stamp,
    /// The module has not answered for [`Config::unresponsive_ms`].
    unresponsive: bool,
    /// A wake-up in progress.
    waking: Option<Waking>,
    /// The shell should pulse the wake pin (see [`Engine::take_wake_request`]).
    wake_request: bool,
    /// The shortest idle spell after which the module was found asleep ([`WakePolicy::Learn`]).
    sleeps_after: Stamp,
    /// How long the host had been silent when the command in flight started going out.
    /// (Milliseconds, saturated.)
    idle_before: u32,
    /// A command after this much idle got no answer at all (see `State::silent_after_idle`):
    /// if the `AT` after it is answered, the module slept through it.
    /// (Milliseconds, saturated; 0: none.)
    silent_idle: u32,
    /// Something written after idle got no answer at all, not even the bare line end of spec
    /// 6.3 (a module asleep may take a command only to wake): until an `AT` probe is answered,
    /// probes follow each other within [`Config::wake_answer_ms`] (see `State::sent_out`),
    /// and the step after the one answered waits for the line to go quiet.
    probe_silent: bool,
    /// Ask the module which sockets it holds at start-up (the driver may have restarted
    /// while the module kept sockets of the previous run).
    stale_check: bool,
    /// Sockets the module holds that nobody here opened: closed before any request.
    stale: u8,
    /// Buffer access: sockets for which `+QIURC: "recv"` came and no `+QIRD: 0` since. The
    /// module announces once until the host has read everything, so another announcement
    /// meanwhile was perhaps another socket's, its id damaged on the line (see
    /// `State::on_frame`).
    undrained: u8,
    /// Sockets whose `AT+QICLOSE` failed once and is being sent again (see `Job::Close`).
    reclosing: u8,
    /// Audits of the connections, for a close announcement lost on the line (see `audit`).
    audit: audit::Audit,
    /// A line may have been lost since the last audit started (see `audit`).
    audit_pending: bool,
    /// "Closing" (3) in an audit means closed: the module named itself a BC20, or listed a
    /// connected socket as 2.
    audit_closing_known: bool,
    /// The last audit was refused (`ERROR`): the next waits a minute if this one is too.
    audit_refused: bool,
    /// Sockets whose `+QIOPEN` deadline an audit has put off (once per open, see
    /// `State::audit_done`).
    open_put_off: u8,
    /// Sockets a read found empty since their data was last read: a reader may be waiting
    /// (see [`Config::idle_audit_ms`]).
    readers_waiting: u8,
    /// Since when a request has been refused for want of the command slot: background reads
    /// step aside for it a moment, so a long download cannot starve requests.
    user_waiting_since: Stamp,
    /// The last item was the end of pushed data (a blank line now is its line end, not an
    /// answer).
    after_push: bool,
    /// The socket whose pushed data ended last, until the next two bytes of output are seen:
    /// the module starts everything it prints after a push with a line end (see
    /// `State::check_after_push`).
    push_check: Option<ConnectId>,
    /// A `+QIRD` answer came with no read in flight and ended: the next `OK` is its own, not
    /// the answer to the command in flight (see `start_late_read`). Until a command is
    /// written after it: the module prints that `OK` right after the data.
    late_ok_owed: bool,
    /// The answer of a DNS, ping or NTP request that timed out, which the module may still
    /// print (see [`Owed`]).
    owed: Option<Owed>,
    /// A send's `SEND OK` or `SEND FAIL` the module may still print after the send timed
    /// out, until this instant: it names no socket, so no send goes out meanwhile (else it
    /// would be taken for that send's).
    send_owed: Stamp,
    /// A [`Request::BringUp`] in progress.
    bring_up: Option<bringup::BringUp>,
    /// The outcome of the last identity check (an `ATI` answer against [`Config::module`]).
    identity: Option<IdentityCheck>,
}

/// The protocol engine; see the module docs for its sizes and calling contract.
#[derive(Debug)]
pub struct Engine<
    const SOCKETS: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const STAGING: usize = DEFAULT_STAGING,
> {
    link: Link<STAGING>,
    st: State<SOCKETS, RX, TX>,
}

impl Engine {
    /// An engine of the default sizes; it starts by bringing the module up.
    pub const fn new(config: Config) -> Self {
        Self::sized(config)
    }
}

impl<const SOCKETS: usize, const RX: usize, const TX: usize, const STAGING: usize>
    Engine<SOCKETS, RX, TX, STAGING>
{
    /// Sizes the compiler refuses (checked when [`Engine::sized`] is instantiated).
    const VALID: () = {
        assert!(
            SOCKETS >= 1 && SOCKETS <= SOCKET_COUNT,
            "quectel-bc20: SOCKETS must be 1 to 5 (the module has five connectIDs)"
        );
        assert!(
            RX >= 1,
            "quectel-bc20: each socket needs a receive buffer (RX >= 1)"
        );
        assert!(
            TX >= 1,
            "quectel-bc20: each socket needs a send queue (TX >= 1)"
        );
        assert!(
            STAGING >= MIN_STAGING,
            "quectel-bc20: STAGING must hold the longest line the driver reads (>= MIN_STAGING)"
        );
    };

    /// An engine of the sizes its type names (`Engine::<1, 256, 256, 256>::sized(config)`); it
    /// starts by bringing the module up.
    pub const fn sized(config: Config) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        let mut ctx = ParseContext::DEFAULT;
        ctx.view_mode = config.view_mode;
        ctx.show_length = config.show_length;
        ctx.recv_format = config.recv_format;
        // A push larger than the socket's buffer is handed on as it comes (see `Sink::stream`):
        // the limit is the module's, or the buffer when that is larger (a sibling's pushes).
        ctx.max_payload = if RX > crate::wire::DEFAULT_MAX_PAYLOAD {
            RX
        } else {
            crate::wire::DEFAULT_MAX_PAYLOAD
        };
        ctx.max_line = STAGING - 1;
        Engine {
            link: Link {
                buf: [0; STAGING],
                len: 0,
                parser: Parser::new(ctx),
            },
            st: State {
                config,
                now: 0,
                sockets: [Socket::NEW; SOCKETS],
                inflight: None,
                send_wait: None,
                init: Some(0),
                needs_sync: false,
                settling: false,
                retry_at: 0,
                reply: None,
                collected: None,
                next_ticket: 1,
                stalled: None,
                hold_reader: Stamp::NONE,
                hold_reader_came: false,
                events: Deque::new(),
                traffic: Traffic::ZERO,
                ctx,
                sink: None,
                tx: [0; MAX_CONTROL_LEN],
                tx_len: 0,
                tx_pos: 0,
                tx_body: None,
                tx_fresh: false,
                tx_last: false,
                last_rx: 0,
                last_tx: 0,
                look_anchor: 0,
                look_certified: 0,
                unanswered_since: Stamp::NONE,
                unresponsive: false,
                waking: None,
                wake_request: false,
                sleeps_after: Stamp::NONE,
                idle_before: 0,
                silent_idle: 0,
                probe_silent: false,
                stale_check: true,
                stale: 0,
                reclosing: 0,
                audit: audit::Audit::NONE,
                audit_pending: false,
                audit_closing_known: false,
                audit_refused: false,
                open_put_off: 0,
                readers_waiting: 0,
                undrained: 0,
                user_waiting_since: Stamp::NONE,
                after_push: false,
                push_check: None,
                late_ok_owed: false,
                owed: None,
                send_owed: Stamp::NONE,
                bring_up: None,
                identity: None,
            },
        }
    }

    /// The configuration (with the settings changed by [`Request::SetCfg`] since).
    pub fn config(&self) -> &Config {
        &self.st.config
    }

    /// The outcome of the last identity check: an answer to [`Request::Identify`] (which
    /// [`Request::BringUp`] sends) compared with [`Config::module`]. `None` before any.
    pub fn identity(&self) -> Option<IdentityCheck> {
        self.st.identity
    }

    /// True once the start-up settings are applied.
    pub fn is_ready(&self) -> bool {
        self.st.init.is_none()
    }

    /// True while the module does not answer (see [`Config::unresponsive_ms`]).
    pub fn is_unresponsive(&self) -> bool {
        self.st.unresponsive
    }

    /// Traffic counters.
    pub fn traffic(&self) -> Traffic {
        self.st.traffic
    }

    /// Parser counters (unknown lines, skipped bytes…).
    pub fn parse_stats(&self) -> crate::wire::ParseStats {
        self.link.parser.stats()
    }

    /// The shell could not read or write the UART: counted in [`Traffic::uart_errors`]. The
    /// commands concerned time out and the engine resynchronises on its own.
    pub fn note_uart_error(&mut self) {
        count(&mut self.st.traffic.uart_errors, 1);
    }

    /// The UART reported a receive error (overrun, framing, noise): bytes may be missing
    /// between what was handed in before and what comes next. The shells call it for every
    /// failed read (and count the error with [`Engine::note_uart_error`]).
    ///
    /// Nothing is joined across the gap. An unfinished line is dropped. A payload in progress
    /// is dropped, and its socket fails with [`Error::Malformed`]: its frame could otherwise
    /// be completed by the bytes of a later one (when the bytes lost add up to whole frames,
    /// the lengths still agree) and deliver data spliced from two. Whole frames may have gone
    /// too, which nothing after the gap would tell: every TCP socket in direct push fails
    /// the same way (a push lost whole would leave a hole in its stream), and so does a TCP
    /// socket whose read was in flight, if that read ends without its answer's header (the
    /// module handed the data out; a read tried again would skip it). UDP sockets go on: they
    /// lose at most whole datagrams, as a network may. Sockets in buffer access are read
    /// again, since a data announcement may have been lost. A command whose answer was lost
    /// times out (it is never sent again as if the module had slept through it) and the
    /// engine resynchronises, as usual. While output is held back for a full socket the
    /// driver reads nothing, so no read can fail: a gap reported then changes nothing.
    pub fn note_rx_gap(&mut self) {
        crate::fmt::warn!("bc20: UART receive error: bytes may be missing");
        // While output is held back, what is staged starts with a whole frame waiting for its
        // reader (`rx_space` is empty then, so no read should have failed): keep it, and the
        // sockets with it.
        if self.st.stalled.is_none() {
            self.drop_staged(self.link.len);
            self.st.lost_in_gap();
            // What follows the gap says nothing of where the last push ended.
            self.st.push_check = None;
        }
        // The gap may have swallowed the answer of the command in flight: what follows is
        // never taken for the bare answer of a module asleep, which would send the command
        // again (a send twice). Unanswered, it times out instead, and says so.
        if let Some(f) = &mut self.st.inflight {
            f.bare_only = false;
        }
        self.st.recheck_reads();
    }

    // ----- input -----

    /// Free room for UART bytes. Empty while output is held back (see the module docs).
    pub fn rx_space(&mut self) -> &mut [u8] {
        if self.st.stalled.is_some() {
            return &mut [];
        }
        self.link.buf.get_mut(self.link.len..).unwrap_or_default()
    }

    /// `n` bytes were written into [`Engine::rx_space`]: frame and apply them.
    ///
    /// Bytes are never judged by when they are read: a caller that polls seldom reads in one
    /// go what arrived over seconds. Staged bytes that never became a frame are dropped by
    /// [`Engine::handle_timeout`], once the line has been seen quiet for [`Config::quiet_ms`].
    pub fn rx_commit(&mut self, n: usize, now: Millis) {
        let n = n.min(STAGING - self.link.len);
        self.note_rx(n, now);
        self.count_rx(n);
        self.link.len += n;
        self.process_staged();
    }

    /// Frame and apply `bytes` (read from the UART) in place: payload bytes go straight into
    /// their socket's buffer, and only an unfinished line is staged. Returns how many were
    /// taken: fewer when output is held back (keep the rest and offer it again later).
    pub fn handle_rx(&mut self, bytes: &[u8], now: Millis) -> usize {
        self.note_rx(bytes.len(), now);
        let mut taken = 0;
        while taken < bytes.len() && self.st.stalled.is_none() {
            let rest = &bytes[taken..];
            if self.link.len > 0 {
                // Finish the staged item first, a field at a time, so that little more than
                // it is staged (a payload after it is taken in place).
                let room = STAGING - self.link.len;
                let k = rest
                    .iter()
                    .position(|&b| b == b'\n' || b == b',')
                    .map_or(rest.len(), |i| i + 1)
                    .min(room);
                if k == 0 {
                    break;
                }
                self.link.buf[self.link.len..self.link.len + k].copy_from_slice(&rest[..k]);
                self.link.len += k;
                taken += k;
                self.process_staged();
                continue;
            }
            let used = self.process(rest);
            taken += used;
            if self.st.stalled.is_some() {
                break;
            }
            let left = &bytes[taken..];
            let k = left.len().min(STAGING);
            if k == 0 {
                break;
            }
            // An unfinished item: stage it.
            self.link.buf[..k].copy_from_slice(&left[..k]);
            self.link.len = k;
            taken += k;
            self.process_staged();
        }
        // Only what was taken: the rest is offered again, and must not count twice.
        self.count_rx(taken);
        taken
    }

    /// Count received bytes (those taken, once).
    fn count_rx(&mut self, n: usize) {
        count(&mut self.st.traffic.rx_bytes, n as u64);
    }

    /// Note when bytes came.
    fn note_rx(&mut self, n: usize, now: Millis) {
        self.st.now = self.st.now.max(now);
        if n > 0 {
            self.st.last_rx = self.st.now;
        }
        if n > 0 && self.st.inflight.is_none() && (self.st.init.is_some() || self.st.needs_sync) {
            // Wait for the line to go quiet, but a module that keeps talking must not hold the
            // start-up or resynchronising `AT` back for good (its sockets would wait with
            // nothing said): at most two command timeouts after the last write.
            let quiet = later(self.st.now, u64::from(self.st.config.quiet_ms));
            let cap = later(
                self.st.last_tx,
                2 * u64::from(self.st.config.command_timeout_ms),
            );
            self.st.retry_at = self.st.retry_at.max(quiet.min(cap));
        }
    }

    /// Frame what is staged, and keep what is left of it.
    fn process_staged(&mut self) {
        let Link { buf, len, parser } = &mut self.link;
        let used = process(parser, &mut self.st, buf.get(..*len).unwrap_or_default());
        buf.copy_within(used..*len, 0);
        *len -= used;
        let staged = buf.get(..*len).unwrap_or_default();
        if !staged.is_empty()
            && staged != b"\r"
            && let Some(f) = &mut self.st.inflight
        {
            // The start of a real answer: the module is awake.
            f.bare_only = false;
        }
        if self.link.len == STAGING && self.st.stalled.is_none() {
            // Full of bytes that do not make a frame: the parser skips lines longer than
            // staging, so the module lies about something. Drop them and resynchronise.
            self.drop_staged(self.link.len);
        }
    }

    /// Frame and apply items of `input` in place (nothing staged before them).
    fn process(&mut self, input: &[u8]) -> usize {
        process(&mut self.link.parser, &mut self.st, input)
    }

    // ----- output -----

    /// The next bytes to write to the UART, if any. Before a command that follows a spell
    /// of idle, these may be a wake-up `AT` (see [`Config::wake`]); check
    /// [`Engine::take_wake_request`] first if the module has a wake pin.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<&[u8]> {
        self.st.now = self.st.now.max(now);
        self.st.next_piece();
        if self.st.tx_fresh && self.st.tx_len > 0 {
            self.st.maybe_wake();
        }
        if let Some(w) = &self.st.waking {
            if w.deadline.is_some() || w.settle_until.is_some() {
                return None;
            }
            return WAKE_AT.get(w.pos..).filter(|b| !b.is_empty());
        }
        self.st
            .tx
            .get(usize::from(self.st.tx_pos)..usize::from(self.st.tx_len))
            .filter(|b| !b.is_empty())
    }

    /// `n` bytes of [`Engine::poll_transmit`] were written.
    pub fn transmitted(&mut self, n: usize, now: Millis) {
        self.st.now = self.st.now.max(now);
        if n > 0 {
            self.st.last_tx = self.st.now;
        }
        count(&mut self.st.traffic.tx_bytes, n as u64);
        if let Some(w) = &mut self.st.waking {
            w.pos = (w.pos + n).min(WAKE_AT.len());
            if w.pos == WAKE_AT.len() && w.deadline.is_none() {
                w.deadline =
                    Stamp::at(later(self.st.now, u64::from(self.st.config.wake_answer_ms)));
            }
            return;
        }
        self.st.wrote(n);
    }

    /// True once when the engine is about to wake the module: pulse its wake pin (PSM_EINT)
    /// now, if it has one, before writing what [`Engine::poll_transmit`] gives.
    pub fn take_wake_request(&mut self) -> bool {
        core::mem::take(&mut self.st.wake_request)
    }

    /// True while the engine wakes the module ahead of a command (`AT` until it answers, then
    /// a short quiet time before the command). Each step needs a look at the line
    /// ([`Engine::handle_timeout`] after reading the UART), and a module that sleeps sooner
    /// than the caller looks again is asleep again at the next step: a caller that looks
    /// rarely should keep looking until this ends (the blocking stack does).
    pub fn is_waking(&self) -> bool {
        self.st.waking.is_some()
    }

    // ----- time -----

    /// The earliest instant at which [`Engine::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.st.next_deadline(self.unfinished())
    }

    /// Module output is unfinished: bytes staged that do not make a frame yet, or a payload in
    /// progress.
    fn unfinished(&self) -> bool {
        self.link.len > 0 || self.link.parser.in_payload()
    }

    /// Apply every deadline that has passed at `now`. Call it after reading every byte the
    /// UART has ready: deadlines are judged against what was read (see [`LOOK_GRACE_MS`]).
    pub fn handle_timeout(&mut self, now: Millis) {
        self.st.now = self.st.now.max(now);
        self.st.look();
        if self.st.break_hold() {
            // The held-back frame is taken now (its socket failed, so its data is dropped as
            // it comes), and the output behind it flows again.
            self.process_staged();
        }
        let staged = self.link.len;
        let stale = self.unfinished()
            && self.st.stalled.is_none()
            && self
                .st
                .passed(later(self.st.last_rx, u64::from(self.st.config.quiet_ms)));
        if stale {
            // The module finishes what it starts: a fragment (or a payload) left unfinished
            // through a quiet line is noise, and must not join what comes next (a stray "OK"
            // would become the answer to the next command).
            self.drop_staged(staged);
        }
        if self.st.expire(self.unfinished()) {
            self.drop_staged(self.link.len);
        }
    }

    /// Drop what is staged and any payload in progress, to resynchronise.
    fn drop_staged(&mut self, dropped: usize) {
        self.st.desync(dropped);
        self.link.len = 0;
        if self.link.parser.in_payload() {
            // A payload cut short: what was taken of it is not the data.
            self.st.on_end(Err(crate::wire::Malformed::Layout));
        }
        self.link.parser.reset();
    }

    // ----- events -----

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.st.events.pop_front()
    }
}

/// Frame and apply the items of `input` until more bytes are needed or output is held back;
/// returns the bytes used.
fn process<const S: usize, const RX: usize, const TX: usize>(
    parser: &mut Parser,
    st: &mut State<S, RX, TX>,
    input: &[u8],
) -> usize {
    let mut pos = 0;
    loop {
        let mut rest = input.get(pos..).unwrap_or_default();
        let left = parser.payload_left();
        if left > 0
            && let Some(free) = st.stream_room()
        {
            // Data larger than its socket's buffer: no more of it than fits.
            if free == 0 {
                break;
            }
            let room = if parser.payload_hex() { 2 * free } else { free };
            rest = rest.get(..room.min(left)).unwrap_or(rest);
        }
        if st.push_check.is_some() {
            st.check_after_push(rest.get(..2).unwrap_or(rest));
        }
        let item = parser.stream(rest);
        match item {
            Stream::NeedMore => break,
            Stream::Skipped { consumed } => {
                crate::fmt::trace!(
                    "bc20 < (skipped) {}",
                    crate::fmt::Printable(&rest[..consumed])
                );
                st.recheck_reads();
                st.damaged_line(rest.get(..consumed).unwrap_or_default());
            }
            Stream::Frame { frame, consumed } => {
                if !st.accepts(&frame) {
                    // Held back: the header is framed again once there is room.
                    parser.reset();
                    break;
                }
                // Output held back waits on the frame at the head; once that is taken (its
                // socket read, closed or gone), nothing is held back any more.
                st.stalled = None;
                if rest[..consumed] != b"\r\n"[..] {
                    crate::fmt::trace!("bc20 < {}", crate::fmt::Printable(&rest[..consumed]));
                }
                st.on_frame(frame);
                parser.ctx = st.ctx;
            }
            Stream::Data { data, .. } => st.on_data(data),
            Stream::Dropped { .. } => {}
            Stream::End { result, consumed } => {
                // When the bytes after pushed data are already here they are checked before the
                // data is committed (see `State::check_after_push`): data that ran on past a
                // wrong length, or was cut short, is then never handed out.
                let next = rest.get(consumed..).unwrap_or_default();
                let result = if result.is_ok() && st.ending_push() && !st.output_may_start(next) {
                    Err(crate::wire::Malformed::Layout)
                } else {
                    result
                };
                st.on_end(result);
            }
        }
        pos += item.consumed();
    }
    pos
}

impl<const S: usize, const RX: usize, const TX: usize> State<S, RX, TX> {
    fn event(&mut self, e: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    /// Record a look at the line (see [`LOOK_GRACE_MS`]).
    fn look(&mut self) {
        if self.now >= later(self.look_anchor, LOOK_GRACE_MS) {
            self.look_certified = self.look_anchor;
            self.look_anchor = self.now;
        }
    }

    /// Output held back stops being held back (the reader made room, or went away) other than
    /// by reading the UART. The command in flight, a send's `SEND OK` and a wake-up `AT`,
    /// whose deadlines were set aside meanwhile, may have their answers among what waited in
    /// the UART: those deadlines count again only after the line has been looked at afresh,
    /// not at once by looks from while nothing was read.
    fn release_stall(&mut self) {
        self.stalled = None;
        let now = self.now;
        self.look_anchor = self.look_anchor.max(now);
        // Nobody listened meanwhile: the line was not quiet, and a payload framed from what
        // was staged has its rest still coming.
        self.last_rx = self.last_rx.max(now);
        if let Some((_, _, d)) = &mut self.send_wait {
            *d = (*d).max(now);
        }
        if let Some(w) = &mut self.waking {
            w.deadline = w.deadline.not_before(now);
        }
        if let Some(f) = &mut self.inflight {
            f.deadline = f.deadline.not_before(now);
            #[cfg(feature = "ping")]
            if let Some(p) = &mut f.ping {
                p.decide_at = p.decide_at.map(|d| d.max(now));
            }
        }
    }

    /// True while the resynchronising `AT`'s answer settles: for [`Config::quiet_ms`] after it
    /// came (a fixed time: bytes do not push it out, so a module that keeps talking cannot
    /// hold every command back for good). The module answers in order, but the `OK` taken for the `AT`'s may be the
    /// late one of the command that timed out; the `AT`'s own then follows at once, and must
    /// find no command in flight rather than answer the next one (which would shift every
    /// answer after it by one: a read's data landing on no read, or on another socket's).
    fn holding(&self) -> bool {
        self.settling && self.now < self.retry_at
    }

    /// True when deadline `d` has passed by what the engine has seen of the line.
    fn passed(&self, d: Millis) -> bool {
        d <= self.look_certified
    }

    /// True when the line has been seen quiet since `t`: `t` passed (see [`State::passed`]),
    /// or this look, which drained the UART, is at least [`LOOK_GRACE_MS`] after it. One look
    /// is enough to see that nothing more came (a byte on its way lands within the grace);
    /// two are needed before a command counts as unanswered, since the module may take the
    /// command only when the UART is next touched. Only the wake-up's short quiet times use
    /// this: a superloop's period then need not fit twice into the module's awake time.
    fn quiet_since(&self, t: Millis) -> bool {
        self.passed(t) || later(t, LOOK_GRACE_MS) <= self.now
    }

    /// When a look can next find the line quiet since `t` (see [`State::quiet_since`]).
    fn when_quiet(&self, t: Millis) -> Millis {
        self.when_passed(t).min(later(t, LOOK_GRACE_MS))
    }

    /// When a look can next find `d` passed. (Out of line: `next_deadline` asks it of each
    /// of its deadlines, and a copy at each of them cost some 300 bytes of flash.)
    #[inline(never)]
    fn when_passed(&self, d: Millis) -> Millis {
        if d <= self.look_certified {
            d
        } else {
            d.max(later(self.look_anchor, LOOK_GRACE_MS))
        }
    }

    fn desync(&mut self, dropped: usize) {
        if dropped > 0 {
            crate::fmt::warn!("bc20: dropped {} unframed bytes to resynchronise", dropped);
            self.event(Event::Desync { dropped });
            self.recheck_reads();
        }
    }
}
