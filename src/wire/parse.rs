//! Incremental, context-aware framing of module output, in two forms.
//!
//! **Streaming** ([`Parser::stream`], what the engine uses). Payload bytes are handed out as
//! they arrive, and the parser keeps its place across calls, so nothing is parsed twice and the
//! caller's buffer needs to hold only the longest line that is not payload:
//!
//! 1. Keep the bytes received and not consumed yet in a buffer of your own: at most the
//!    longest line you need (lines longer than [`ParseContext::max_line`] are skipped as
//!    [`Frame::Overlong`]) plus one read. A payload header is decided within about 90 bytes
//!    (the sibling address form, `+QIURC: "recv",<id>,<len>,"<ip>",<port>`), even under a
//!    smaller `max_line`: the engine's staging is never smaller than 128 bytes.
//! 2. Call [`Parser::stream`] on them. It answers
//!    - [`Stream::Frame`]: a complete frame. A payload header ([`Frame::QiRdHeader`],
//!      [`Frame::RecvHeader`]) is followed by its data: [`Stream::Data`] pieces, then one
//!      [`Stream::End`];
//!    - [`Stream::Data`]: the next piece of the payload (raw bytes, or an even number of hex
//!      digits in hex receive mode), in order;
//!    - [`Stream::Dropped`]: payload bytes of a payload already known to be bad, thrown away;
//!    - [`Stream::End`]: the payload is complete. `Err` means what followed it was not what its
//!      layout requires (a missing line end, a missing quote) or its hex was bad: the announced
//!      length was wrong, and the pieces handed out since the header are **not** the data:
//!      drop them;
//!    - [`Stream::Skipped`]: noise thrown away; [`Stream::NeedMore`]: nothing can be decided
//!      until more bytes arrive (nothing was consumed).
//! 3. Drop the consumed bytes and call again. Every call consumes at least one byte, returns
//!    `NeedMore`, or (only) returns the one `End` of a payload, which may consume nothing: what
//!    follows a payload is checked, not taken.
//!
//! **Whole frames** ([`Parser::parse`], for tools and tests): the same framing, but a payload
//! comes as one [`Frame::QiRd`] / [`Frame::RecvData`] (or [`Frame::BadPayload`]) once all of it
//! and what follows it are in the input; until then `NeedMore`, and the caller keeps the whole
//! frame in its buffer. The parser keeps no payload state across calls in this form.
//!
//! Either way the result never depends on how the bytes were split into reads: any chunking
//! of a stream yields the same frames and payload bytes. Payloads are framed by their announced
//! length only, never by looking for `OK` or a line end, so binary data comes through intact.
//! The parser never panics and never reads past its input.

use crate::types::{AccessMode, ConnectId, DataFormat, SOCKET_COUNT, ViewMode};

use super::frame::{Frame, Malformed, Payload};
use super::header::{
    self, Header, QIRD_PREFIX, RECV_PREFIX, Start, Tail, check_tail, find_line_end,
    is_payload_header, scan_line, starts_with_at,
};
use super::lines::classify;

/// Default longest line (an echoed `AT+QISENDEX=<id>,512,<1024 hex digits>` is 1043 bytes), for
/// tools that read captures. The engine sets its own from its staging size: it needs no echo.
pub const DEFAULT_MAX_LINE: usize = 1100;
/// Default largest payload one frame may announce, in bytes (sibling modules push 1500).
pub const DEFAULT_MAX_PAYLOAD: usize = 1500;

/// What decides how received data is framed: the module settings the driver has made.
///
/// Whether bytes follow a `+QIURC: "recv",<id>,<len>` header depends on the socket's access
/// mode; whether the second number of `+QIRD: <a>,<b>` is a remaining length depends on
/// `showlength`; hex receive mode doubles the bytes on the wire. Data after the header's line
/// end is accepted whatever [`ParseContext::view_mode`] says; data on the header's line is taken
/// for `+QIRD` in view mode 1 only, because sibling forms (`+QIRD: <total>,<read>,<unread>`,
/// `+QIRD: <len>,"<ip>",<port>`) make that layout ambiguous otherwise (the table and the
/// decisions are in the `sibling` module's docs). Direct-push data on the URC's line is taken
/// in view mode 1, and in hex receive mode in either view mode (sibling firmware prints hex
/// there, spec 6.9). Anything else after a header's numbers is [`Frame::BadPayload`]: no byte
/// of it is taken as data. [`ParseStats::layout_mismatches`] counts data whose layout differed
/// from `view_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseContext {
    /// The access mode of each socket, by connectID.
    pub access_modes: [AccessMode; SOCKET_COUNT],
    /// `AT+QICFG="viewmode"`.
    pub view_mode: ViewMode,
    /// `AT+QICFG="showlength"`.
    pub show_length: bool,
    /// The receive half of `AT+QICFG="dataformat"`.
    pub recv_format: DataFormat,
    /// Longest line accepted; longer lines are reported as [`Frame::Overlong`] and skipped.
    pub max_line: usize,
    /// Largest payload a header may announce, in bytes; more is [`Malformed::LengthTooLarge`].
    pub max_payload: usize,
}

impl Default for ParseContext {
    fn default() -> Self {
        ParseContext::DEFAULT
    }
}

impl ParseContext {
    /// The module's power-up settings: buffer access, view mode 0, no show length, raw data.
    pub const DEFAULT: ParseContext = ParseContext {
        access_modes: [AccessMode::Buffer; SOCKET_COUNT],
        view_mode: ViewMode::HeaderCrLfData,
        show_length: false,
        recv_format: DataFormat::Text,
        max_line: DEFAULT_MAX_LINE,
        max_payload: DEFAULT_MAX_PAYLOAD,
    };

    /// The access mode of socket `id`.
    pub fn access_mode(&self, id: ConnectId) -> AccessMode {
        self.access_modes[id.index()]
    }

    /// Set the access mode of socket `id`.
    pub fn set_access_mode(&mut self, id: ConnectId, mode: AccessMode) {
        self.access_modes[id.index()] = mode;
    }
}

/// Counters kept by a [`Parser`] (they saturate, never wrap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseStats {
    /// Frames returned.
    pub frames: u64,
    /// [`Frame::Unknown`] lines.
    pub unknown: u64,
    /// [`Frame::Malformed`] lines.
    pub malformed: u64,
    /// [`Frame::Overlong`] lines.
    pub overlong: u64,
    /// Bytes thrown away: line noise and the rest of overlong lines.
    pub skipped_bytes: u64,
    /// Data whose layout (same line or next line) differed from the configured view mode.
    pub layout_mismatches: u64,
    /// Payload bytes framed (after hex decoding), of payloads that were what their header
    /// said; the streaming parser counts a payload's bytes when it ends well.
    pub payload_bytes: u64,
}

impl ParseStats {
    /// All counters at zero.
    pub const ZERO: ParseStats = ParseStats {
        frames: 0,
        unknown: 0,
        malformed: 0,
        overlong: 0,
        skipped_bytes: 0,
        layout_mismatches: 0,
        payload_bytes: 0,
    };
}

/// The answer of [`Parser::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse<'a> {
    /// A complete frame, which took `consumed` bytes of the input.
    Frame {
        /// The frame, borrowing from the input.
        frame: Frame<'a>,
        /// Bytes of the input it took.
        consumed: usize,
    },
    /// `consumed` bytes were thrown away as noise; no frame.
    Skipped {
        /// Bytes of the input thrown away.
        consumed: usize,
    },
    /// More bytes are needed; nothing was consumed.
    NeedMore,
}

impl Parse<'_> {
    /// Bytes consumed (0 for `NeedMore`).
    pub fn consumed(&self) -> usize {
        match self {
            Parse::Frame { consumed, .. } | Parse::Skipped { consumed } => *consumed,
            Parse::NeedMore => 0,
        }
    }
}

/// The answer of [`Parser::stream`]; see the module docs for the order of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream<'a> {
    /// A complete frame (a line, or a payload header whose data follows).
    Frame {
        /// The frame, borrowing from the input.
        frame: Frame<'a>,
        /// Bytes of the input it took.
        consumed: usize,
    },
    /// The next piece of the current payload.
    Data {
        /// The bytes (hex digits in hex receive mode).
        data: Payload<'a>,
        /// Bytes of the input it took.
        consumed: usize,
    },
    /// Bytes of a payload already known to be bad, thrown away.
    Dropped {
        /// Bytes of the input thrown away.
        consumed: usize,
    },
    /// The current payload is complete; `Err` when it is not what its header said (drop the
    /// pieces handed out since the header).
    End {
        /// `Ok`, or what was wrong.
        result: Result<(), Malformed>,
        /// Bytes of the input it took (a closing quote; often none).
        consumed: usize,
    },
    /// Noise thrown away; no frame.
    Skipped {
        /// Bytes of the input thrown away.
        consumed: usize,
    },
    /// More bytes are needed; nothing was consumed.
    NeedMore,
}

impl Stream<'_> {
    /// Bytes consumed.
    pub fn consumed(&self) -> usize {
        match self {
            Stream::Frame { consumed, .. }
            | Stream::Data { consumed, .. }
            | Stream::Dropped { consumed }
            | Stream::End { consumed, .. }
            | Stream::Skipped { consumed } => *consumed,
            Stream::NeedMore => 0,
        }
    }
}

/// A payload the streaming parser is in the middle of.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Wire bytes still to come.
    left: usize,
    hex: bool,
    quoted: bool,
    trailer: bool,
    /// Known bad already (a non-hex digit): the rest is dropped and `End` says why.
    broken: Option<Malformed>,
    /// Payload bytes handed out so far (after hex decoding), counted when it ends well.
    handed: usize,
}

/// The parser: a [`ParseContext`] plus the little state that framing needs.
#[derive(Debug, Clone)]
pub struct Parser {
    /// The settings that decide framing; update it when the driver changes them.
    pub ctx: ParseContext,
    discarding: bool,
    pending: Option<Pending>,
    stats: ParseStats,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(ParseContext::DEFAULT)
    }
}

/// What is wrong with a line that [`Parser::line`] frames (not one closure per kind, which
/// would compile the line framer once for each).
enum Broken {
    /// Nothing known: the line is classified.
    No,
    /// A payload header that does not decode: [`Frame::BadPayload`].
    Payload(Option<ConnectId>, Malformed),
    /// A line that does not decode: [`Frame::Malformed`].
    Line(Malformed),
}

/// One step of framing outside a payload.
enum Item<'a> {
    Frame(Frame<'a>, usize),
    Start(Start<'a>),
    Skipped(usize),
    NeedMore,
}

impl Parser {
    /// A parser with the given context.
    pub const fn new(ctx: ParseContext) -> Self {
        Parser {
            ctx,
            discarding: false,
            pending: None,
            stats: ParseStats::ZERO,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ParseStats {
        self.stats
    }

    /// Forget a partly skipped overlong line and a payload in progress (after the caller
    /// dropped its buffer).
    pub fn reset(&mut self) {
        self.discarding = false;
        self.pending = None;
    }

    /// True while the streaming parser is inside a payload.
    pub fn in_payload(&self) -> bool {
        self.pending.is_some()
    }

    /// Wire bytes of the payload's data still to come (0 outside a payload, or once its data
    /// is complete): input beyond them is not payload data.
    pub fn payload_left(&self) -> usize {
        self.pending.map_or(0, |p| p.left)
    }

    /// True inside a payload whose data comes as hex text (two wire bytes a data byte).
    pub fn payload_hex(&self) -> bool {
        self.pending.is_some_and(|p| p.hex)
    }

    /// The next item of the stream (see the module docs).
    ///
    /// Inside a raw payload this is a few instructions (the piece is the input, up to what
    /// is left of the payload), so a caller may read the UART in pieces as small as it likes
    /// at little cost per read; everything else goes through an out-of-line step.
    #[inline]
    pub fn stream<'a>(&mut self, input: &'a [u8]) -> Stream<'a> {
        match &mut self.pending {
            Some(p) if p.left > 0 && !p.hex && p.broken.is_none() => {
                if input.is_empty() {
                    return Stream::NeedMore;
                }
                let k = p.left.min(input.len());
                p.left -= k;
                p.handed = p.handed.saturating_add(k);
                return Stream::Data {
                    data: Payload::raw(input.get(..k).unwrap_or_default()),
                    consumed: k,
                };
            }
            // A payload's end may need no input (nothing follows it in some layouts).
            Some(_) => {}
            None if input.is_empty() => return Stream::NeedMore,
            None => {}
        }
        self.step(input)
    }

    /// [`Parser::stream`] outside the raw-payload fast path.
    #[inline(never)]
    fn step<'a>(&mut self, input: &'a [u8]) -> Stream<'a> {
        // Each branch counts what it hands out and builds the result in place: a result
        // built first and counted through a reference is copied once more, and the copy of
        // a frame written field by field stalls on reading it back.
        if let Some(p) = self.pending {
            return self.payload_step(p, input);
        }
        match self.item(input) {
            Item::Frame(frame, consumed) => {
                self.count_frame(&frame);
                Stream::Frame { frame, consumed }
            }
            Item::Skipped(consumed) => {
                self.count_skipped(consumed);
                Stream::Skipped { consumed }
            }
            Item::NeedMore => Stream::NeedMore,
            Item::Start(s) => {
                self.pending = Some(Pending {
                    left: s.wire_len,
                    hex: s.hex,
                    quoted: s.quoted,
                    trailer: s.trailer,
                    broken: None,
                    handed: 0,
                });
                self.note_layout(s.same_line);
                self.count_frame(&s.frame);
                Stream::Frame {
                    frame: s.frame,
                    consumed: s.consumed,
                }
            }
        }
    }

    /// Inside a payload: the next piece, or its end.
    fn payload_step<'a>(&mut self, p: Pending, input: &'a [u8]) -> Stream<'a> {
        if p.left > 0 {
            let mut k = p.left.min(input.len());
            if p.hex && k < p.left {
                // Whole digit pairs only; the odd digit waits for its partner.
                k &= !1;
            }
            if k == 0 {
                return Stream::NeedMore;
            }
            let piece = &input[..k];
            let mut next = Pending {
                left: p.left - k,
                ..p
            };
            let data = if p.broken.is_some() {
                None
            } else if p.hex {
                let data = Payload::hex(piece);
                if data.is_none() {
                    next.broken = Some(Malformed::BadHex);
                }
                data
            } else {
                Some(Payload::raw(piece))
            };
            if let Some(data) = data {
                next.handed = next.handed.saturating_add(data.len());
            }
            self.pending = Some(next);
            return match data {
                Some(data) => Stream::Data { data, consumed: k },
                None => Stream::Dropped { consumed: k },
            };
        }
        let (result, consumed) = match check_tail(input, p.quoted, p.trailer) {
            Tail::NeedMore => return Stream::NeedMore,
            Tail::Ok(n) => (p.broken.map_or(Ok(()), Err), n),
            Tail::Bad(why, n) => (Err(p.broken.unwrap_or(why)), n),
        };
        self.pending = None;
        // Counted here, not piece by piece: how much of a bad payload was handed out before
        // the parser saw what was wrong depends on where the reads ended.
        if result.is_err() {
            self.stats.malformed = self.stats.malformed.saturating_add(1);
        } else {
            self.stats.payload_bytes = self.stats.payload_bytes.saturating_add(p.handed as u64);
        }
        Stream::End { result, consumed }
    }

    /// Parse the next whole item from `input`, the bytes received and not yet consumed (see
    /// the module docs: a payload frame comes whole, or `NeedMore`).
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Parse<'a> {
        // Counted in place, as in `stream`.
        match self.item(input) {
            Item::Frame(frame, consumed) => {
                self.count_frame(&frame);
                Parse::Frame { frame, consumed }
            }
            Item::Skipped(consumed) => {
                self.count_skipped(consumed);
                Parse::Skipped { consumed }
            }
            Item::NeedMore => Parse::NeedMore,
            Item::Start(s) => self.whole_payload(s, input),
        }
    }

    /// A payload frame whole, or `NeedMore` until it is all in `input`.
    fn whole_payload<'a>(&mut self, s: Start<'a>, input: &'a [u8]) -> Parse<'a> {
        let end = s.consumed.saturating_add(s.wire_len);
        let Some(wire) = input.get(s.consumed..end) else {
            return Parse::NeedMore;
        };
        let rest = input.get(end..).unwrap_or_default();
        let data = if s.hex {
            Payload::hex(wire)
        } else {
            Some(Payload::raw(wire))
        };
        let (result, tail) = match check_tail(rest, s.quoted, s.trailer) {
            Tail::NeedMore => return Parse::NeedMore,
            Tail::Ok(n) => (data.ok_or(Malformed::BadHex), n),
            Tail::Bad(why, n) => (
                Err(if data.is_none() {
                    Malformed::BadHex
                } else {
                    why
                }),
                n,
            ),
        };
        self.note_layout(s.same_line);
        let consumed = end + tail;
        let frame = match (result, s.frame) {
            (
                Ok(data),
                Frame::QiRdHeader {
                    from: Some(from), ..
                },
            ) => Frame::QiRdFrom { data, from },
            (Ok(data), Frame::QiRdHeader { remaining, .. }) => Frame::QiRd { data, remaining },
            (
                Ok(data),
                Frame::RecvHeader {
                    id,
                    from: Some(from),
                    ..
                },
            ) => Frame::RecvFrom { id, data, from },
            (Ok(data), Frame::RecvHeader { id, .. }) => Frame::RecvData { id, data },
            (Err(why), header) => Frame::BadPayload {
                id: match header {
                    Frame::RecvHeader { id, .. } => Some(id),
                    _ => None,
                },
                line: header_line(input.get(..s.consumed).unwrap_or_default()),
                why,
            },
            // `Start` carries only the two header frames.
            (Ok(_), _) => Frame::BadPayload {
                id: None,
                line: &[],
                why: Malformed::Layout,
            },
        };
        self.count_frame(&frame);
        Parse::Frame { frame, consumed }
    }

    fn note_layout(&mut self, same_line: bool) {
        if same_line != (self.ctx.view_mode == ViewMode::HeaderCommaData) {
            self.stats.layout_mismatches = self.stats.layout_mismatches.saturating_add(1);
        }
    }

    /// Update the counters for one whole-frame result.
    fn count(&mut self, out: &Parse<'_>) {
        match out {
            Parse::Frame { frame, .. } => self.count_frame(frame),
            Parse::Skipped { consumed } => self.count_skipped(*consumed),
            Parse::NeedMore => {}
        }
    }

    fn count_frame(&mut self, frame: &Frame<'_>) {
        self.stats.frames = self.stats.frames.saturating_add(1);
        match frame {
            Frame::Unknown(_) => self.stats.unknown = self.stats.unknown.saturating_add(1),
            Frame::Malformed { .. } | Frame::BadPayload { .. } => {
                self.stats.malformed = self.stats.malformed.saturating_add(1)
            }
            Frame::Overlong => self.stats.overlong = self.stats.overlong.saturating_add(1),
            Frame::QiRd { data, .. }
            | Frame::RecvData { data, .. }
            | Frame::QiRdFrom { data, .. }
            | Frame::RecvFrom { data, .. } => {
                self.stats.payload_bytes =
                    self.stats.payload_bytes.saturating_add(data.len() as u64)
            }
            _ => {}
        }
    }

    fn count_skipped(&mut self, consumed: usize) {
        self.stats.skipped_bytes = self.stats.skipped_bytes.saturating_add(consumed as u64)
    }

    /// Parse every complete frame at the start of `input`, handing each to `on_frame`, and
    /// return how many bytes were consumed (frames and skipped noise). What is left is an
    /// incomplete frame: keep it and call again when more bytes have arrived.
    pub fn feed<'a>(&mut self, input: &'a [u8], mut on_frame: impl FnMut(Frame<'a>)) -> usize {
        let mut pos = 0;
        while let Some(rest) = input.get(pos..) {
            match self.parse(rest) {
                Parse::Frame { frame, consumed } => {
                    on_frame(frame);
                    pos += consumed;
                }
                Parse::Skipped { consumed } => pos += consumed,
                Parse::NeedMore => break,
            }
        }
        pos
    }

    /// Parse at the end of a stream (a capture file): like [`Parser::parse`], but a final line
    /// without its line end is taken as a line, and a trailing bare `\r` as the end of an echo.
    /// Returns `NeedMore` only for an empty input or a payload cut short, which then stays
    /// unframed.
    pub fn parse_eof<'a>(&mut self, input: &'a [u8]) -> Parse<'a> {
        match self.parse(input) {
            // Only a lone `\r` after the rest of an overlong line gets here: it ends that line.
            Parse::NeedMore if !input.is_empty() && self.discarding => {
                self.discarding = false;
                let out = Parse::Skipped {
                    consumed: input.len(),
                };
                self.count(&out);
                out
            }
            Parse::NeedMore if !input.is_empty() => {
                if is_payload_header(input) {
                    return Parse::NeedMore;
                }
                let line = match input.last() {
                    Some(b'\r') => input.get(..input.len() - 1).unwrap_or_default(),
                    _ => input,
                };
                let frame = if input.last() == Some(&b'\r') && starts_with_at(line) {
                    Frame::Echo(line)
                } else if line.is_empty() {
                    Frame::Blank
                } else {
                    classify(line, &self.ctx)
                };
                let out = Parse::Frame {
                    frame,
                    consumed: input.len(),
                };
                self.count(&out);
                out
            }
            other => other,
        }
    }

    /// The next item outside a payload: a line, a payload header, noise.
    fn item<'a>(&mut self, input: &'a [u8]) -> Item<'a> {
        if input.is_empty() {
            return Item::NeedMore;
        }
        if self.discarding {
            return match find_line_end(input) {
                // A `\r` at the end: wait for the next byte to know whether `\n` follows, so
                // that the result does not depend on where a read ended.
                Some(i) if input[i] == b'\r' && i + 1 == input.len() => {
                    if i == 0 {
                        Item::NeedMore
                    } else {
                        Item::Skipped(i)
                    }
                }
                Some(i) => {
                    self.discarding = false;
                    let end = if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    Item::Skipped(end)
                }
                None => Item::Skipped(input.len()),
            };
        }
        let noise = input.iter().take_while(|&&b| header::is_noise(b)).count();
        if noise > 0 {
            return Item::Skipped(noise);
        }
        // The `> ` send prompt: the module prints `\r\n> ` and waits for the data, so no line
        // end follows; a lone `>` waits for the next byte; `>` and a line end is a line
        // (classified as the prompt too).
        match input {
            [b'>'] => return Item::NeedMore,
            [b'>', b' ', ..] => return Item::Frame(Frame::Prompt, 2),
            _ => {}
        }
        // A read that ended inside a payload header's prefix: wait, or a `max_line` shorter
        // than the prefix would make it an overlong line that the whole stream does not have.
        if input.len() < RECV_PREFIX.len()
            && (RECV_PREFIX.starts_with(input) || QIRD_PREFIX.starts_with(input))
        {
            return Item::NeedMore;
        }
        if input.starts_with(RECV_PREFIX) || input.starts_with(QIRD_PREFIX) {
            let qird = !input.starts_with(RECV_PREFIX);
            let found = if qird {
                header::qird(&self.ctx, input)
            } else {
                header::recv_urc(&self.ctx, input)
            };
            match found {
                Header::Done(frame, consumed) => return Item::Frame(frame, consumed),
                Header::Start(s) => return Item::Start(s),
                Header::NeedMore => return Item::NeedMore,
                Header::Plain => {}
                // A `+QIRD` header that does not decode may have had data after it: that data
                // is not ours to guess at.
                Header::Broken(why) if qird => {
                    return self.line(input, Broken::Payload(None, why));
                }
                Header::Broken(why) => return self.line(input, Broken::Line(why)),
                Header::Unframable(id, why) => {
                    return self.line(input, Broken::Payload(id, why));
                }
            }
        }
        self.line(input, Broken::No)
    }

    /// Frame one ordinary line and turn it into a frame: with [`classify`], or as what is
    /// `broken` about it (a payload header that does not decode).
    fn line<'a>(&mut self, input: &'a [u8], broken: Broken) -> Item<'a> {
        let window = input
            .get(..self.ctx.max_line.saturating_add(1))
            .unwrap_or(input);
        let (end, noisy) = scan_line(window);
        let Some(i) = end else {
            if input.len() > self.ctx.max_line {
                self.discarding = true;
                return Item::Frame(Frame::Overlong, window.len());
            }
            return Item::NeedMore;
        };
        let line = &input[..i];
        let (consumed, bare_cr) = match input[i] {
            b'\n' => (i + 1, false),
            _ => match input.get(i + 1) {
                None => return Item::NeedMore,
                Some(b'\n') => (i + 2, false),
                Some(_) => (i + 1, true),
            },
        };
        if line.is_empty() {
            return Item::Frame(Frame::Blank, consumed);
        }
        if noisy {
            return Item::Skipped(consumed);
        }
        let frame = if bare_cr && starts_with_at(line) {
            Frame::Echo(line)
        } else {
            match broken {
                Broken::No => classify(line, &self.ctx),
                Broken::Payload(id, why) => Frame::BadPayload { id, line, why },
                Broken::Line(why) => Frame::Malformed { line, why },
            }
        };
        Item::Frame(frame, consumed)
    }
}

/// The header of a payload frame as a line: without its line end and what follows.
fn header_line(header: &[u8]) -> &[u8] {
    let end = header
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(header.len());
    header.get(..end).unwrap_or_default()
}
