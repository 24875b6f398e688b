//! Incremental, context-aware framing of module output.
//!
//! The calling contract, in the spirit of `httparse::Status`:
//!
//! 1. Keep the bytes received so far in a buffer of your own.
//! 2. Call [`Parser::parse`] on the unconsumed part. It answers
//!    - [`Parse::Frame`]: a complete frame and how many bytes it took;
//!    - [`Parse::Skipped`]: bytes it threw away (line noise, the rest of an overlong line),
//!      counted in [`ParseStats`], with no frame;
//!    - [`Parse::NeedMore`]: nothing can be decided until more bytes arrive (a status, not an
//!      error). Nothing was consumed.
//! 3. Drop the consumed bytes and call again.
//!
//! The result never depends on how the bytes were split into reads: any chunking of a stream
//! yields the same frames. Payload bytes (after `+QIRD: <n>` and direct-push
//! `+QIURC: "recv",<id>,<n>`) are framed by their announced length only, never by looking for
//! `OK` or a line end, so binary data comes through intact. A payload header the parser does not
//! fully understand never yields payload bytes: it is [`Frame::BadPayload`], and the bytes after
//! it are framed as lines. The parser never panics, never
//! reads past its input, and every call either returns `NeedMore` or consumes at least one byte.

use crate::types::{AccessMode, ConnectId, DataFormat, SOCKET_COUNT, ViewMode};

use super::frame::{Frame, Malformed, Payload};
use super::lines::classify;
use super::sibling::{self, Shape};

/// Default longest line (an echoed `AT+QISENDEX=<id>,512,<1024 hex digits>` is 1043 bytes).
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
        ParseContext {
            access_modes: [AccessMode::Buffer; SOCKET_COUNT],
            view_mode: ViewMode::HeaderCrLfData,
            show_length: false,
            recv_format: DataFormat::Text,
            max_line: DEFAULT_MAX_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl ParseContext {
    /// The access mode of socket `id`.
    pub fn access_mode(&self, id: ConnectId) -> AccessMode {
        self.access_modes[id.index()]
    }

    /// Set the access mode of socket `id`.
    pub fn set_access_mode(&mut self, id: ConnectId, mode: AccessMode) {
        self.access_modes[id.index()] = mode;
    }

    fn hex(&self) -> bool {
        self.recv_format == DataFormat::Hex
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
    /// Payload bytes framed (after hex decoding).
    pub payload_bytes: u64,
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

/// The streaming parser: a [`ParseContext`] plus the little state that framing needs.
#[derive(Debug, Clone, Default)]
pub struct Parser {
    /// The settings that decide framing; update it when the driver changes them.
    pub ctx: ParseContext,
    discarding: bool,
    stats: ParseStats,
}

const RECV_PREFIX: &[u8] = b"+QIURC: \"recv\",";
const QIRD_PREFIX: &[u8] = b"+QIRD: ";

/// Outcome of parsing a header that may carry a payload.
enum Header<'a> {
    Done(Frame<'a>, usize),
    NeedMore,
    /// Not a payload header after all (a test form, say): classify as a line.
    Plain,
    /// Looks like the header but is broken: report the line as malformed.
    Broken(Malformed),
    /// A payload header that cannot be framed: report the line; `id` when it named a socket.
    Unframable(Option<ConnectId>, Malformed),
    /// A payload whose layout is wrong after it: drop the header and the announced bytes.
    BadData {
        id: Option<ConnectId>,
        header: &'a [u8],
        why: Malformed,
        consumed: usize,
    },
}

impl Parser {
    /// A parser with the given context.
    pub fn new(ctx: ParseContext) -> Self {
        Parser {
            ctx,
            discarding: false,
            stats: ParseStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ParseStats {
        self.stats
    }

    /// Forget a partly skipped overlong line (after the caller dropped its buffer).
    pub fn reset(&mut self) {
        self.discarding = false;
    }

    /// Parse the next item from `input`, the bytes received and not yet consumed.
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Parse<'a> {
        let out = self.parse_inner(input);
        self.count(&out);
        out
    }

    /// Update the counters for one result.
    #[inline]
    fn count(&mut self, out: &Parse<'_>) {
        match out {
            Parse::Frame { frame, .. } => {
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
            Parse::Skipped { consumed } => {
                self.stats.skipped_bytes = self.stats.skipped_bytes.saturating_add(*consumed as u64)
            }
            Parse::NeedMore => {}
        }
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

    fn parse_inner<'a>(&mut self, input: &'a [u8]) -> Parse<'a> {
        if input.is_empty() {
            return Parse::NeedMore;
        }
        if self.discarding {
            return match find_line_end(input) {
                // A `\r` at the end: wait for the next byte to know whether `\n` follows, so
                // that the result does not depend on where a read ended.
                Some(i) if input[i] == b'\r' && i + 1 == input.len() => {
                    if i == 0 {
                        Parse::NeedMore
                    } else {
                        Parse::Skipped { consumed: i }
                    }
                }
                Some(i) => {
                    self.discarding = false;
                    let end = if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') {
                        i + 2
                    } else {
                        i + 1
                    };
                    Parse::Skipped { consumed: end }
                }
                None => Parse::Skipped {
                    consumed: input.len(),
                },
            };
        }
        let noise = input.iter().take_while(|&&b| is_noise(b)).count();
        if noise > 0 {
            return Parse::Skipped { consumed: noise };
        }

        if let Some(out) = prompt(input) {
            return out;
        }
        // A read that ended inside a payload header's prefix: wait, or a `max_line` shorter
        // than the prefix would make it an overlong line that the whole stream does not have.
        if input.len() < RECV_PREFIX.len()
            && (RECV_PREFIX.starts_with(input) || QIRD_PREFIX.starts_with(input))
        {
            return Parse::NeedMore;
        }
        if input.starts_with(RECV_PREFIX) || input.starts_with(QIRD_PREFIX) {
            let qird = !input.starts_with(RECV_PREFIX);
            let header = if qird {
                self.qird(input)
            } else {
                self.recv_urc(input)
            };
            match header {
                Header::Done(frame, consumed) => return Parse::Frame { frame, consumed },
                Header::NeedMore => return Parse::NeedMore,
                Header::Plain => {}
                // A `+QIRD` header that does not decode may have had data after it: that data
                // is not ours to guess at.
                Header::Broken(why) if qird => {
                    return self.line(input, |line, _| Frame::BadPayload {
                        id: None,
                        line,
                        why,
                    });
                }
                Header::Broken(why) => {
                    return self.line(input, |line, _| Frame::Malformed { line, why });
                }
                Header::Unframable(id, why) => {
                    return self.line(input, |line, _| Frame::BadPayload { id, line, why });
                }
                Header::BadData {
                    id,
                    header,
                    why,
                    consumed,
                } => {
                    return Parse::Frame {
                        frame: Frame::BadPayload {
                            id,
                            line: header,
                            why,
                        },
                        consumed,
                    };
                }
            }
        }
        self.line(input, classify)
    }

    /// Frame one ordinary line and turn it into a frame with `f`.
    fn line<'a>(
        &mut self,
        input: &'a [u8],
        f: impl FnOnce(&'a [u8], &ParseContext) -> Frame<'a>,
    ) -> Parse<'a> {
        let window = input
            .get(..self.ctx.max_line.saturating_add(1))
            .unwrap_or(input);
        let (end, noisy) = scan_line(window);
        let Some(i) = end else {
            if input.len() > self.ctx.max_line {
                self.discarding = true;
                return Parse::Frame {
                    frame: Frame::Overlong,
                    consumed: window.len(),
                };
            }
            return Parse::NeedMore;
        };
        let line = &input[..i];
        let (consumed, bare_cr) = match input[i] {
            b'\n' => (i + 1, false),
            _ => match input.get(i + 1) {
                None => return Parse::NeedMore,
                Some(b'\n') => (i + 2, false),
                Some(_) => (i + 1, true),
            },
        };
        if line.is_empty() {
            return Parse::Frame {
                frame: Frame::Blank,
                consumed,
            };
        }
        if noisy {
            return Parse::Skipped { consumed };
        }
        let frame = if bare_cr && starts_with_at(line) {
            Frame::Echo(line)
        } else {
            f(line, &self.ctx)
        };
        Parse::Frame { frame, consumed }
    }

    /// `+QIURC: "recv",<id>[,<len>[,<data>]]` or `…,"buff full"`, with the data that follows in
    /// direct push mode.
    fn recv_urc<'a>(&mut self, input: &'a [u8]) -> Header<'a> {
        let mut cur = Cursor::new(input, RECV_PREFIX.len());
        let id = match cur.number() {
            Num::Value(n) => n,
            Num::NeedMore => return Header::NeedMore,
            Num::Bad => return Header::Broken(Malformed::Fields),
        };
        let Some(id) = u8::try_from(id).ok().and_then(ConnectId::new) else {
            return Header::Broken(Malformed::ConnectId);
        };
        // From here on the socket is known: a broken rest still says data is there.
        let bad = |why| Header::Unframable(Some(id), why);
        match cur.peek() {
            None => return Header::NeedMore,
            Some(b'\r' | b'\n') => {
                return match cur.line_end() {
                    Some(end) => Header::Done(Frame::RecvNotify { id, len: None }, end),
                    None => Header::NeedMore,
                };
            }
            Some(b',') => cur.advance(1),
            Some(_) => return bad(Malformed::Fields),
        }
        if cur.peek() == Some(b'"') {
            const FULL: &[u8] = b"\"buff full\"";
            let rest = cur.rest();
            if rest.len() < FULL.len() {
                return if FULL.starts_with(rest) {
                    Header::NeedMore
                } else {
                    bad(Malformed::Fields)
                };
            }
            if !rest.starts_with(FULL) {
                return bad(Malformed::Fields);
            }
            cur.advance(FULL.len());
            return match cur.line_end() {
                Some(end) => Header::Done(Frame::BuffFull(id), end),
                None if cur.rest().is_empty() || cur.rest() == b"\r" => Header::NeedMore,
                None => bad(Malformed::Fields),
            };
        }
        let len = match cur.number() {
            Num::Value(n) => n,
            Num::NeedMore => return Header::NeedMore,
            Num::Bad => return bad(Malformed::Fields),
        };
        let same_line = match cur.peek() {
            None => return Header::NeedMore,
            Some(b',') => true,
            Some(b'\r' | b'\n') => false,
            Some(_) => return bad(Malformed::Fields),
        };
        if same_line {
            match self.recv_from(cur, id, len) {
                Header::Plain => {}
                other => return other,
            }
            // Data on the URC's line: view mode 1, or hex on the URC line as sibling firmware
            // prints it in either view mode (spec 6.9; hex text cannot line up with a wrong
            // header by chance). Raw bytes there in view mode 0 are not guessed at.
            if self.ctx.view_mode != ViewMode::HeaderCommaData && !self.ctx.hex() {
                return bad(Malformed::Layout);
            }
        }
        if !same_line && self.ctx.access_mode(id) == AccessMode::Buffer {
            let len = u16::try_from(len).ok();
            return match cur.line_end() {
                Some(end) => Header::Done(Frame::RecvNotify { id, len }, end),
                None => Header::NeedMore,
            };
        }
        // Only data on the header's line has a line end after it that can be checked.
        match self.payload(cur, len, same_line, same_line, Some(id)) {
            Ok((data, end)) => Header::Done(Frame::RecvData { id, data }, end),
            Err(Header::Broken(why)) => bad(why),
            Err(h) => h,
        }
    }

    /// `+QIRD: <len>[,<remaining>]` and its data.
    fn qird<'a>(&mut self, input: &'a [u8]) -> Header<'a> {
        let mut cur = Cursor::new(input, QIRD_PREFIX.len());
        if cur.peek() == Some(b'(') {
            return Header::Plain;
        }
        let view1 = self.ctx.view_mode == ViewMode::HeaderCommaData;
        match self.qird_sibling(cur, view1) {
            Header::Plain => {}
            other => return other,
        }
        let len = match cur.number() {
            Num::Value(n) => n,
            Num::NeedMore => return Header::NeedMore,
            Num::Bad => return Header::Broken(Malformed::Fields),
        };
        let mut remaining = None;
        if self.ctx.show_length && cur.peek() == Some(b',') {
            let save = cur.pos;
            cur.advance(1);
            match cur.number() {
                Num::Value(n) => remaining = u16::try_from(n).ok(),
                Num::NeedMore => return Header::NeedMore,
                Num::Bad => cur.pos = save,
            }
            if remaining.is_none() && cur.pos != save {
                return Header::Broken(Malformed::Fields);
            }
        }
        let same_line = match cur.peek() {
            None => return Header::NeedMore,
            Some(b',') => true,
            Some(b'\r' | b'\n') => false,
            Some(_) => return Header::Broken(Malformed::Fields),
        };
        if same_line && !view1 {
            // Not a form of view mode 0: data on the header's line is taken in view mode 1
            // only (see `sibling`), never guessed at.
            return Header::Broken(Malformed::Layout);
        }
        if len == 0 && !same_line {
            return match cur.line_end() {
                Some(end) => Header::Done(
                    Frame::QiRd {
                        data: Payload::raw(&[]),
                        remaining,
                    },
                    end,
                ),
                None => Header::NeedMore,
            };
        }
        // `OK` follows the data, on a line of its own: a line end must come first.
        match self.payload(cur, len, same_line, true, None) {
            Ok((data, end)) => Header::Done(Frame::QiRd { data, remaining }, end),
            Err(h) => h,
        }
    }

    /// The sibling forms of `+QIRD:` (see [`sibling`]): the query answer and the UDP-service
    /// header with its payload. `Plain` when the header is none of them.
    fn qird_sibling<'a>(&mut self, cur: Cursor<'a>, view1: bool) -> Header<'a> {
        match sibling::qird(cur.rest(), view1) {
            Shape::No => Header::Plain,
            Shape::NeedMore => Header::NeedMore,
            Shape::Bad => Header::Broken(Malformed::Fields),
            Shape::Query {
                total,
                read,
                unread,
                end,
            } => Header::Done(
                Frame::QiRdQuery {
                    total,
                    read,
                    unread,
                },
                cur.pos + end,
            ),
            Shape::From { len, remote, eol } => {
                let at = Cursor::new(cur.input, cur.pos + eol);
                match self.payload(at, len, false, true, None) {
                    Ok((data, end)) => Header::Done(Frame::QiRdFrom { data, from: remote }, end),
                    Err(h) => h,
                }
            }
        }
    }

    /// `+QIURC: "recv",<id>,<len>,"<ip>",<port>` and the data after its line end (direct push
    /// on a sibling's UDP-service socket); `cur` stands on the `,` after `<len>`. `Plain` when
    /// the rest is not that form.
    fn recv_from<'a>(&mut self, cur: Cursor<'a>, id: ConnectId, len: u32) -> Header<'a> {
        let rest = cur.input.get(cur.pos + 1..).unwrap_or_default();
        match sibling::recv_from(rest, len) {
            Shape::No | Shape::Query { .. } => Header::Plain,
            Shape::NeedMore => Header::NeedMore,
            Shape::Bad => Header::Unframable(Some(id), Malformed::Fields),
            Shape::From { len, remote, eol } => {
                let at = Cursor::new(cur.input, cur.pos + 1 + eol);
                // As other view mode 0 pushes: no line end is required after the data.
                match self.payload(at, len, false, false, Some(id)) {
                    Ok((data, end)) => Header::Done(
                        Frame::RecvFrom {
                            id,
                            data,
                            from: remote,
                        },
                        end,
                    ),
                    Err(Header::Broken(why)) => Header::Unframable(Some(id), why),
                    Err(h) => h,
                }
            }
        }
    }

    /// The `len` payload bytes after a header; `cur` stands on the `,` or the line end. With
    /// `trailer`, a line end must follow the data: when something else does, the announced
    /// length was wrong and the bytes taken are not the data (they are dropped with the
    /// header, as [`Frame::BadPayload`], for `id`).
    fn payload<'a>(
        &mut self,
        mut cur: Cursor<'a>,
        len: u32,
        same_line: bool,
        trailer: bool,
        id: Option<ConnectId>,
    ) -> Result<(Payload<'a>, usize), Header<'a>> {
        let header_end = cur.pos;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.ctx.max_payload {
            return Err(Header::Broken(Malformed::LengthTooLarge));
        }
        let hex = self.ctx.hex();
        let wire_len = if hex { len.saturating_mul(2) } else { len };
        let expected_same_line = self.ctx.view_mode == ViewMode::HeaderCommaData;
        if same_line {
            cur.advance(1);
        } else {
            match cur.line_end() {
                Some(end) => cur.pos = end,
                None => return Err(Header::NeedMore),
            }
        }
        let quoted = hex && cur.peek() == Some(b'"');
        if quoted {
            cur.advance(1);
        } else if cur.peek().is_none() && hex {
            // Cannot tell yet whether a quote opens the hex text.
            return Err(Header::NeedMore);
        }
        let start = cur.pos;
        let end = start.saturating_add(wire_len);
        let Some(wire) = cur.input.get(start..end) else {
            return Err(Header::NeedMore);
        };
        let mut consumed = end;
        let header = cur.input.get(..header_end).unwrap_or_default();
        let bad_data = |why, consumed| Header::BadData {
            id,
            header,
            why,
            consumed,
        };
        if quoted {
            match cur.input.get(end) {
                None => return Err(Header::NeedMore),
                Some(b'"') => consumed += 1,
                Some(_) => return Err(bad_data(Malformed::Layout, end)),
            }
        }
        if trailer {
            match (cur.input.get(consumed), cur.input.get(consumed + 1)) {
                (None, _) | (Some(b'\r'), None) => return Err(Header::NeedMore),
                // Exactly CR LF: a lone LF would let a payload one byte short pass with the
                // CR of its trailer taken as data.
                (Some(b'\r'), Some(b'\n')) => {}
                _ => return Err(bad_data(Malformed::Layout, consumed)),
            }
        }
        let data = if hex {
            Payload::hex(wire).ok_or(bad_data(Malformed::BadHex, consumed))?
        } else {
            Payload::raw(wire)
        };
        if same_line != expected_same_line {
            self.stats.layout_mismatches = self.stats.layout_mismatches.saturating_add(1);
        }
        Ok((data, consumed))
    }
}

/// The `> ` send prompt at the start of a frame. The module prints `\r\n> ` and then waits
/// for the data, so no line end follows: the two bytes are a frame of their own. A lone `>`
/// waits for the next byte; `>` and a line end is a line (classified as the prompt too).
fn prompt<'a>(input: &[u8]) -> Option<Parse<'a>> {
    match input {
        [b'>'] => Some(Parse::NeedMore),
        [b'>', b' ', ..] => Some(Parse::Frame {
            frame: Frame::Prompt,
            consumed: 2,
        }),
        _ => None,
    }
}

/// True when `input` begins a header whose payload may still be on its way.
fn is_payload_header(input: &[u8]) -> bool {
    input.starts_with(RECV_PREFIX) || input.starts_with(QIRD_PREFIX)
}

fn starts_with_at(line: &[u8]) -> bool {
    line.len() >= 2 && line[..2].eq_ignore_ascii_case(b"AT")
}

/// Control bytes that never occur in module text (everything below 0x20 but tab, CR and LF;
/// DEL; 0xFF, which a floating UART line reads as).
fn is_noise(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f || b == 0xff
}

/// Index of the first `\r` or `\n`.
fn find_line_end(input: &[u8]) -> Option<usize> {
    // Eight bytes at a time: a byte is CR or LF when XOR with the pattern gives zero.
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const CR: u64 = LO * b'\r' as u64;
    const LF: u64 = LO * b'\n' as u64;
    let mut chunks = input.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let (a, b) = (w ^ CR, w ^ LF);
        let hit = (a.wrapping_sub(LO) & !a & HI) | (b.wrapping_sub(LO) & !b & HI);
        if hit != 0 {
            return chunk
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')
                .map(|i| base + i);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .map(|i| base + i)
}

/// Index of the first `\r` or `\n`, and whether a noise byte comes before it: one pass over
/// the line instead of a search for its end and a second scan for noise.
fn scan_line(input: &[u8]) -> (Option<usize>, bool) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const DEL: u64 = LO * 0x7f;
    let mut noisy = false;
    let mut chunks = input.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Some byte is below 0x20 (a line end, a tab or noise), DEL, or 0xFF. Each test is
        // exact about whether any byte matches; the bytes are then looked at one by one.
        let below_space = w.wrapping_sub(LO * 0x20) & !w;
        let del = (w ^ DEL).wrapping_sub(LO) & !(w ^ DEL);
        let ff = (!w).wrapping_sub(LO) & w;
        if (below_space | del | ff) & HI != 0
            && let Some(i) = scan_bytes(chunk, &mut noisy)
        {
            return (Some(base + i), noisy);
        }
        base += 8;
    }
    let end = scan_bytes(chunks.remainder(), &mut noisy).map(|i| base + i);
    (end, noisy)
}

/// The byte-at-a-time part of [`scan_line`].
fn scan_bytes(bytes: &[u8], noisy: &mut bool) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            return Some(i);
        }
        *noisy |= is_noise(b);
    }
    None
}

/// A read position in a header.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

enum Num {
    Value(u32),
    NeedMore,
    Bad,
}

impl<'a> Cursor<'a> {
    fn new(input: &'a [u8], pos: usize) -> Self {
        Cursor { input, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.input.len());
    }

    /// A decimal number of 1..=5 digits, after at most two spaces (spec 6.13).
    fn number(&mut self) -> Num {
        for _ in 0..2 {
            if self.peek() == Some(b' ') {
                self.advance(1);
            }
        }
        let digits = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == self.rest().len() {
            return if digits > 5 { Num::Bad } else { Num::NeedMore };
        }
        if digits == 0 || digits > 5 {
            return Num::Bad;
        }
        let value = self.rest()[..digits]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        self.advance(digits);
        Num::Value(value)
    }

    /// The index just past the line end at the cursor (`\r\n`, or `\n`), if complete.
    fn line_end(&self) -> Option<usize> {
        match (self.peek(), self.input.get(self.pos + 1)) {
            (Some(b'\n'), _) => Some(self.pos + 1),
            (Some(b'\r'), Some(b'\n')) => Some(self.pos + 2),
            // A bare CR then something else: take the CR alone as the line end.
            (Some(b'\r'), Some(_)) => Some(self.pos + 1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_noise, scan_line};

    /// `scan_line` against its byte-at-a-time definition: every byte value at every position
    /// of lines of up to 20 bytes, with and without a line end somewhere.
    #[test]
    fn scan_line_matches_its_definition() {
        for len in 0..20 {
            for end in [None, Some(3), Some(9), Some(17)] {
                for pos in 0..len {
                    for b in 0..=255u8 {
                        let mut input = [b'a'; 20];
                        input[pos] = b;
                        if let Some(e) = end.filter(|&e| e < len) {
                            input[e] = b'\n';
                        }
                        let input = &input[..len];
                        let want_end = input.iter().position(|&c| c == b'\r' || c == b'\n');
                        let before = &input[..want_end.unwrap_or(len)];
                        let want_noisy = before.iter().any(|&c| is_noise(c));
                        assert_eq!(scan_line(input), (want_end, want_noisy), "{input:?}");
                    }
                }
            }
        }
    }
}
