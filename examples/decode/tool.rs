//! The logic of the `decode` example: options, the decode loop and the frame printer.
//!
//! Kept apart from `main.rs` so that `tests/decode_tool.rs` can include it with `#[path]` and
//! test it without spawning a process.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use lexopt::{Arg, ValueExt as _};

use quectel_bc20::engine::Module;
use quectel_bc20::wire::{Frame, Parse, ParseContext, ParseStats, Parser, Payload};
use quectel_bc20::{AccessMode, ConnectId, DataFormat, ViewMode};

/// Usage text for `--help` and for usage errors.
pub const USAGE: &str = "\
usage: decode [OPTIONS] FILE|-

Decode raw bytes captured from a Quectel BC20 UART (FILE, or - for stdin) into frames, one per
line, then print a one-line summary. Exit status: 0 when every byte was framed, 1 when bytes
were skipped (noise, overlong lines), lines were malformed or a tail stayed unframed, 2 on a
usage or I/O error.

options (they set the parse context; defaults match a freshly configured module):
  --push IDS         connectIDs in direct push mode, comma-separated (e.g. --push 0,2)
  --view-mode 0|1    AT+QICFG=\"viewmode\" (0: data on the next line, 1: after a comma)
  --show-length      AT+QICFG=\"showlength\",1
  --hex              hex receive mode (AT+QICFG=\"dataformat\",0,1)
  --max-line N       longest line accepted (default 1100)
  --max-payload N    largest announced payload (default 1500)
  --no-follow        keep the context fixed; by default echoed commands that change framing
                     (AT+QICFG=\"viewmode\"/\"showlength\"/\"dataformat\", AT+QIOPEN's access mode,
                     AT+QISWTMD) update it from the point they appear
  --module NAME      the module the capture is from: bc20, bc26, bc66, bc660k. The identity
                     lines in the capture (ATI, AT+CGMR) are checked against it, and the result
                     is printed before the summary
  --offsets          prefix each frame with its byte offset in the input
  --quiet            print the summary only
  --help             print this text
";

/// Bytes of a payload or line shown before it is abbreviated.
pub const SHOW_BYTES: usize = 64;

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The parse context.
    pub ctx: ParseContext,
    /// Prefix frames with their offset.
    pub offsets: bool,
    /// Summary only.
    pub quiet: bool,
    /// Update the context from echoed commands that change framing.
    pub follow: bool,
    /// The module the capture is from, for the identity check.
    pub module: Option<Module>,
    /// The input path (`-` is stdin).
    pub input: PathBuf,
}

/// The outcome of parsing the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// Decode with these options.
    Run(Options),
    /// Print the usage and exit 0.
    Help,
}

/// Parse the arguments (without the program name).
pub fn parse_args<I>(args: I) -> Result<Args, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut ctx = ParseContext::default();
    let mut offsets = false;
    let mut quiet = false;
    let mut follow = true;
    let mut module = None;
    let mut input = None;
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next()? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(Args::Help),
            Arg::Long("push") => {
                for id in p.value()?.string()?.split(',').filter(|s| !s.is_empty()) {
                    let id = id
                        .trim()
                        .parse::<u8>()
                        .ok()
                        .and_then(ConnectId::new)
                        .ok_or(format!("--push: {id:?} is not a connectID 0..=4"))?;
                    ctx.set_access_mode(id, AccessMode::DirectPush);
                }
            }
            Arg::Long("view-mode") => {
                ctx.view_mode = match p.value()?.string()?.as_str() {
                    "0" => ViewMode::HeaderCrLfData,
                    "1" => ViewMode::HeaderCommaData,
                    other => return Err(format!("--view-mode: {other:?} is not 0 or 1").into()),
                }
            }
            Arg::Long("show-length") => ctx.show_length = true,
            Arg::Long("hex") => ctx.recv_format = DataFormat::Hex,
            Arg::Long("max-line") => ctx.max_line = p.value()?.parse()?,
            Arg::Long("max-payload") => ctx.max_payload = p.value()?.parse()?,
            Arg::Long("offsets") => offsets = true,
            Arg::Long("no-follow") => follow = false,
            Arg::Long("module") => {
                let v = p.value()?.string()?;
                module = Some(
                    Module::from_name(&v)
                        .ok_or(format!("--module: {v:?} is not bc20, bc26, bc66 or bc660k"))?,
                );
            }
            Arg::Short('q') | Arg::Long("quiet") => quiet = true,
            Arg::Value(v) if input.is_none() => input = Some(PathBuf::from(v)),
            Arg::Value(_) => return Err("more than one input given".into()),
            _ => return Err(arg.unexpected()),
        }
    }
    let input = input.ok_or("no input given (a FILE, or - for stdin)")?;
    Ok(Args::Run(Options {
        ctx,
        offsets,
        quiet,
        follow,
        module,
        input,
    }))
}

/// What a decode run found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// The parser's counters at the end.
    pub stats: ParseStats,
    /// Bytes left at the end that no frame took (a payload cut short, say).
    pub unframed_tail: usize,
    /// The modules the capture's identity lines (`ATI`, `AT+CGMR`) name, in order, once each.
    pub named: Vec<Module>,
}

impl Summary {
    /// True when every byte was framed: no noise, no overlong or malformed line, no tail.
    pub fn clean(&self) -> bool {
        self.stats.skipped_bytes == 0
            && self.stats.overlong == 0
            && self.stats.malformed == 0
            && self.unframed_tail == 0
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let s = &self.stats;
        format!(
            "frames: {}, unknown lines: {}, malformed: {}, overlong: {}, skipped bytes: {}, \
             unframed tail: {}, payload bytes: {}",
            s.frames,
            s.unknown,
            s.malformed,
            s.overlong,
            s.skipped_bytes,
            self.unframed_tail,
            s.payload_bytes
        )
    }
}

/// Decode `input` with `opts`, writing one line per frame (unless quiet) and then the summary.
pub fn decode(input: &[u8], opts: &Options, out: &mut impl Write) -> io::Result<Summary> {
    let mut parser = Parser::new(opts.ctx);
    let mut pos = 0;
    let mut at_eof = false;
    let mut named = Vec::new();
    while let Some(rest) = input.get(pos..) {
        let result = if at_eof {
            parser.parse_eof(rest)
        } else {
            parser.parse(rest)
        };
        match result {
            Parse::Frame { frame, consumed } => {
                if let (Frame::Echo(cmd), true) = (&frame, opts.follow) {
                    follow(&mut parser.ctx, cmd);
                }
                if let Frame::Identification(t) | Frame::Revision(t) = frame
                    && let Some(m) = Module::identify(t)
                    && !named.contains(&m)
                {
                    named.push(m);
                }
                if !opts.quiet {
                    if opts.offsets {
                        write!(out, "{pos:>8}  ")?;
                    }
                    writeln!(out, "{}", describe(&frame))?;
                }
                pos += consumed;
            }
            Parse::Skipped { consumed } => pos += consumed,
            Parse::NeedMore if !at_eof => at_eof = true,
            Parse::NeedMore => break,
        }
    }
    let summary = Summary {
        stats: parser.stats(),
        unframed_tail: input.len() - pos,
        named,
    };
    if summary.unframed_tail > 0 && !opts.quiet {
        if opts.offsets {
            write!(out, "{pos:>8}  ")?;
        }
        writeln!(out, "(unframed tail: {})", bytes(&input[pos..]))?;
    }
    if let Some(m) = opts.module {
        writeln!(out, "{}", identity_line(m, &summary.named))?;
    }
    writeln!(out, "{}", summary.line())?;
    Ok(summary)
}

/// The `--module` check: what the capture's identity lines say about module `m`.
pub fn identity_line(m: Module, named: &[Module]) -> String {
    match named {
        [] => format!("module: {m} (the capture does not identify the module)"),
        [only] if *only == m => format!("module: {m} (the capture's identity matches)"),
        _ => {
            let names: Vec<&str> = named.iter().map(|n| n.name()).collect();
            format!(
                "module: {m} (warning: the capture identifies {})",
                names.join(", ")
            )
        }
    }
}

/// Apply an echoed command that changes how received data is framed to `ctx`: the host's
/// `AT+QICFG` view mode, show length and receive format, `AT+QIOPEN`'s access mode and
/// `AT+QISWTMD`. Anything else, or a command that does not parse, leaves `ctx` alone.
pub fn follow(ctx: &mut ParseContext, cmd: &[u8]) {
    let Ok(cmd) = std::str::from_utf8(cmd) else {
        return;
    };
    let upper = cmd.to_ascii_uppercase();
    let args = |prefix: &str| -> Option<Vec<String>> {
        upper.strip_prefix(prefix).map(|rest| {
            rest.split(',')
                .map(|a| a.trim().trim_matches('"').to_owned())
                .collect()
        })
    };
    let num = |s: &str| s.parse::<u8>().ok();
    let id = |s: &str| num(s).and_then(ConnectId::new);
    let mode = |s: Option<&String>| match s.map(|s| s.as_str()) {
        None | Some("") | Some("0") => Some(AccessMode::Buffer),
        Some("1") => Some(AccessMode::DirectPush),
        _ => None,
    };
    if let Some(a) = args("AT+QICFG=") {
        match (a.first().map(String::as_str), a.get(1).map(|s| s.as_str())) {
            (Some("VIEWMODE"), Some("0")) => ctx.view_mode = ViewMode::HeaderCrLfData,
            (Some("VIEWMODE"), Some("1")) => ctx.view_mode = ViewMode::HeaderCommaData,
            (Some("SHOWLENGTH"), Some(n)) if n == "0" || n == "1" => ctx.show_length = n == "1",
            (Some("DATAFORMAT"), Some(_)) => match a.get(2).map(|s| s.as_str()) {
                Some("0") => ctx.recv_format = DataFormat::Text,
                Some("1") => ctx.recv_format = DataFormat::Hex,
                _ => {}
            },
            _ => {}
        }
    } else if let Some(a) = args("AT+QIOPEN=") {
        if let (Some(i), Some(m)) = (a.get(1).and_then(|s| id(s)), mode(a.get(6))) {
            ctx.set_access_mode(i, m);
        }
    } else if let Some(a) = args("AT+QISWTMD=")
        && let (Some(i), Some(m)) = (a.first().and_then(|s| id(s)), mode(a.get(1)))
    {
        ctx.set_access_mode(i, m);
    }
}

/// One frame as a line of text: `Debug`, with bytes and payloads made readable.
pub fn describe(frame: &Frame<'_>) -> String {
    match frame {
        Frame::RecvData { id, data } => format!("RecvData {{ id: {id}, data: {} }}", payload(data)),
        Frame::QiRd { data, remaining } => {
            let mut s = format!("QiRd {{ data: {}", payload(data));
            if let Some(r) = remaining {
                let _ = write!(s, ", remaining: {r}");
            }
            s + " }"
        }
        Frame::QiRdFrom { data, from } => format!(
            "QiRdFrom {{ data: {}, from: {} }}",
            payload(data),
            from.socket_addr()
        ),
        Frame::RecvFrom { id, data, from } => format!(
            "RecvFrom {{ id: {id}, data: {}, from: {} }}",
            payload(data),
            from.socket_addr()
        ),
        Frame::Echo(line) => format!("Echo({})", bytes(line)),
        Frame::Unknown(line) => format!("Unknown({})", bytes(line)),
        Frame::Malformed { line, why } => format!("Malformed({why:?}, {})", bytes(line)),
        other => format!("{other:?}"),
    }
}

/// A payload: its length in bytes, then its bytes (hex decoded) as escaped text.
pub fn payload(data: &Payload<'_>) -> String {
    let mut buf = vec![0u8; data.len()];
    let text = match data.decode_into(&mut buf) {
        Some(n) => bytes(&buf[..n]),
        None => bytes(data.wire_bytes()),
    };
    let hex = if data.is_hex() { " (hex)" } else { "" };
    format!("{} bytes{hex} {text}", data.len())
}

/// Bytes as a quoted string: printable ASCII as is, `\r \n \t \\ \"` escaped, other bytes as
/// `\xNN`; past [`SHOW_BYTES`] bytes the rest is counted, not shown.
pub fn bytes(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(SHOW_BYTES) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(char::from(c)),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    if b.len() > SHOW_BYTES {
        let _ = write!(s, "...(+{} bytes)", b.len() - SHOW_BYTES);
    }
    s
}
