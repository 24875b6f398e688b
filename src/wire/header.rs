//! Payload headers (`+QIURC: "recv"`, `+QIRD`) and the byte scanning the framing layer
//! needs: where a line ends, what is line noise, decimal fields.

use crate::types::{AccessMode, ConnectId, DataFormat, ViewMode};

use super::frame::{Frame, Malformed, Payload};
use super::parse::ParseContext;
#[cfg(feature = "siblings")]
use super::sibling::{self, Shape};

/// The prefix of a recv URC.
pub(super) const RECV_PREFIX: &[u8] = b"+QIURC: \"recv\",";
/// The prefix of a `+QIRD` answer.
pub(super) const QIRD_PREFIX: &[u8] = b"+QIRD: ";

/// Outcome of parsing a header that may carry a payload.
pub(super) enum Header<'a> {
    /// A complete frame without payload (a notification, `buff full`, `+QIRD: 0`).
    Done(Frame<'a>, usize),
    /// A payload header: its data follows.
    Start(Start<'a>),
    NeedMore,
    /// Not a payload header after all (a test form, say): classify as a line.
    Plain,
    /// Looks like the header but is broken: report the line as malformed.
    Broken(Malformed),
    /// A payload header that cannot be framed: report the line; `id` when it named a socket.
    Unframable(Option<ConnectId>, Malformed),
}

/// A payload header and how its data is laid out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Start<'a> {
    /// [`Frame::QiRdHeader`] or [`Frame::RecvHeader`].
    pub frame: Frame<'a>,
    /// Bytes of the header, up to the first data byte (an opening quote included).
    pub consumed: usize,
    /// Payload bytes announced.
    pub len: u16,
    /// Bytes of data on the wire (twice `len` in hex receive mode).
    pub wire_len: usize,
    /// Hex text.
    pub hex: bool,
    /// The hex text is in quotes: a closing quote follows it.
    pub quoted: bool,
    /// A CR LF must follow the data.
    pub trailer: bool,
    /// The data is on the header's line (view mode 1).
    pub same_line: bool,
}

/// What follows a payload: a closing quote, a line end, or neither.
pub(super) enum Tail {
    NeedMore,
    /// Right; this many bytes (the closing quote) belong to the payload.
    Ok(usize),
    /// Wrong: the announced length was not the data's; this many bytes belong to it.
    Bad(Malformed, usize),
}

/// Check what follows a payload's data (`rest` starts right after it).
pub(super) fn check_tail(rest: &[u8], quoted: bool, trailer: bool) -> Tail {
    let mut pos = 0;
    if quoted {
        match rest.first() {
            None => return Tail::NeedMore,
            Some(b'"') => pos = 1,
            Some(_) => return Tail::Bad(Malformed::Layout, 0),
        }
    }
    if !trailer {
        return Tail::Ok(pos);
    }
    // Exactly CR LF: a lone LF would let a payload one byte short pass with the CR of its
    // trailer taken as data.
    match (rest.get(pos), rest.get(pos + 1)) {
        (None, _) | (Some(b'\r'), None) => Tail::NeedMore,
        (Some(b'\r'), Some(b'\n')) => Tail::Ok(pos),
        _ => Tail::Bad(Malformed::Layout, pos),
    }
}

/// `+QIURC: "recv",<id>[,<len>[,<data>]]` or `…,"buff full"`, with the data that follows in
/// direct push mode.
pub(super) fn recv_urc<'a>(ctx: &ParseContext, input: &'a [u8]) -> Header<'a> {
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
        #[cfg(feature = "siblings")]
        match recv_from(ctx, cur, id, len) {
            Header::Plain => {}
            other => return other,
        }
        // Data on the URC's line: view mode 1, or hex on the URC line as sibling firmware
        // prints it in either view mode (spec 6.9; hex text cannot line up with a wrong header
        // by chance). Raw bytes there in view mode 0 are not guessed at.
        if ctx.view_mode != ViewMode::HeaderCommaData && ctx.recv_format != DataFormat::Hex {
            return bad(Malformed::Layout);
        }
    }
    if !same_line && ctx.access_mode(id) == AccessMode::Buffer {
        let len = u16::try_from(len).ok();
        return match cur.line_end() {
            Some(end) => Header::Done(Frame::RecvNotify { id, len }, end),
            None => Header::NeedMore,
        };
    }
    // Only data on the header's line has a line end after it that can be checked.
    match start(ctx, cur, len, same_line, same_line) {
        Ok(s) => Header::Start(Start {
            frame: Frame::RecvHeader {
                id,
                len: s.len,
                from: None,
            },
            ..s
        }),
        Err(Header::Broken(why)) => bad(why),
        Err(h) => h,
    }
}

/// `+QIRD: <len>[,<remaining>]` and its data.
pub(super) fn qird<'a>(ctx: &ParseContext, input: &'a [u8]) -> Header<'a> {
    let mut cur = Cursor::new(input, QIRD_PREFIX.len());
    if cur.peek() == Some(b'(') {
        return Header::Plain;
    }
    let view1 = ctx.view_mode == ViewMode::HeaderCommaData;
    #[cfg(feature = "siblings")]
    match qird_sibling(ctx, cur, view1) {
        Header::Plain => {}
        other => return other,
    }
    let len = match cur.number() {
        Num::Value(n) => n,
        Num::NeedMore => return Header::NeedMore,
        Num::Bad => return Header::Broken(Malformed::Fields),
    };
    let mut remaining = None;
    if ctx.show_length && cur.peek() == Some(b',') {
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
        // Not a form of view mode 0: data on the header's line is taken in view mode 1 only
        // (see `sibling`), never guessed at.
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
    match start(ctx, cur, len, same_line, true) {
        Ok(s) => Header::Start(Start {
            frame: Frame::QiRdHeader {
                len: s.len,
                remaining,
                from: None,
            },
            ..s
        }),
        Err(h) => h,
    }
}

#[cfg(feature = "siblings")]
/// The sibling forms of `+QIRD:` (see [`sibling`](super::sibling)): the query answer and the
/// UDP-service header with its payload. `Plain` when the header is none of them.
fn qird_sibling<'a>(ctx: &ParseContext, cur: Cursor<'a>, view1: bool) -> Header<'a> {
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
            match start(ctx, at, len, false, true) {
                Ok(s) => Header::Start(Start {
                    frame: Frame::QiRdHeader {
                        len: s.len,
                        remaining: None,
                        from: Some(remote),
                    },
                    ..s
                }),
                Err(h) => h,
            }
        }
    }
}

#[cfg(feature = "siblings")]
/// `+QIURC: "recv",<id>,<len>,"<ip>",<port>` and the data after its line end (direct push on
/// a sibling's UDP-service socket); `cur` stands on the `,` after `<len>`. `Plain` when the
/// rest is not that form.
fn recv_from<'a>(ctx: &ParseContext, cur: Cursor<'a>, id: ConnectId, len: u32) -> Header<'a> {
    let rest = cur.input.get(cur.pos + 1..).unwrap_or_default();
    match sibling::recv_from(rest, len) {
        Shape::No | Shape::Query { .. } => Header::Plain,
        Shape::NeedMore => Header::NeedMore,
        Shape::Bad => Header::Unframable(Some(id), Malformed::Fields),
        Shape::From { len, remote, eol } => {
            let at = Cursor::new(cur.input, cur.pos + 1 + eol);
            // As other view mode 0 pushes: no line end is required after the data.
            match start(ctx, at, len, false, false) {
                Ok(s) => Header::Start(Start {
                    frame: Frame::RecvHeader {
                        id,
                        len: s.len,
                        from: Some(remote),
                    },
                    ..s
                }),
                Err(Header::Broken(why)) => Header::Unframable(Some(id), why),
                Err(h) => h,
            }
        }
    }
}

/// The layout of the `len` payload bytes after a header; `cur` stands on the `,` or the line
/// end. `trailer`: a line end must follow the data.
fn start<'a>(
    ctx: &ParseContext,
    mut cur: Cursor<'a>,
    len: u32,
    same_line: bool,
    trailer: bool,
) -> Result<Start<'a>, Header<'a>> {
    let len_bytes = usize::try_from(len).unwrap_or(usize::MAX);
    if len_bytes > ctx.max_payload {
        return Err(Header::Broken(Malformed::LengthTooLarge));
    }
    let hex = ctx.recv_format == DataFormat::Hex;
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
        // Cannot tell yet whether a quote opens the hex text (of an empty payload too: `""`
        // must be framed the same however the reads fall).
        return Err(Header::NeedMore);
    }
    Ok(Start {
        frame: Frame::Blank,
        consumed: cur.pos,
        len: u16::try_from(len).unwrap_or(u16::MAX),
        wire_len: if hex {
            len_bytes.saturating_mul(2)
        } else {
            len_bytes
        },
        hex,
        quoted,
        trailer,
        same_line,
    })
}

/// True when `input` begins a header whose payload may still be on its way.
pub(super) fn is_payload_header(input: &[u8]) -> bool {
    input.starts_with(RECV_PREFIX) || input.starts_with(QIRD_PREFIX)
}

pub(super) fn starts_with_at(line: &[u8]) -> bool {
    line.len() >= 2 && line[..2].eq_ignore_ascii_case(b"AT")
}

/// Control bytes that never occur in module text (everything below 0x20 but tab, CR and LF;
/// DEL; 0xFF, which a floating UART line reads as).
pub(super) fn is_noise(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f || b == 0xff
}

/// Index of the first `\r` or `\n`.
pub(super) fn find_line_end(input: &[u8]) -> Option<usize> {
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
pub(super) fn scan_line(input: &[u8]) -> (Option<usize>, bool) {
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
pub(super) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

pub(super) enum Num {
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
