//! The emulator's own parser of host command lines.
//!
//! This is the mirror image of the driver's encoder and deliberately shares no code with the
//! driver-side parser, so a misreading of the manual in one cannot hide the same misreading in
//! the other. It accepts the manual's quirks on input: spaces after commas, `AT+QISEND` data
//! bare or in quotes, `AT+QIRD=<id>` without a length.

use std::string::String;
use std::vec::Vec;

use crate::types::{
    AccessMode, ConnectId, DataFormat, MAX_READ, MAX_SEND_HEX, MAX_SEND_TEXT, QiError, ServiceType,
    ViewMode,
};
use crate::wire::hex;

/// Why a command line was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not a command the emulator knows: a plain `ERROR`, the last error is left alone.
    Unknown,
    /// A known command with bad parameters: `ERROR` or `+CME ERROR: <code>`.
    Invalid(QiError),
}

type Parsed<T> = Result<T, Reject>;

use super::args::{
    Arg, BAD, UNSUPPORTED, arity, connect_id, context, num, opt_num, split_args, text, trim,
};

/// What `AT+QICFG` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CfgReq {
    /// `"dataformat"`, query (`None`) or set.
    DataFormat(Option<(DataFormat, DataFormat)>),
    /// `"viewmode"`, query or set.
    ViewMode(Option<ViewMode>),
    /// `"showlength"`, query or set.
    ShowLength(Option<bool>),
}

/// The scope of `AT+QISTATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateQuery {
    /// `AT+QISTATE?`.
    All,
    /// `AT+QISTATE=0,<contextID>`.
    Context(u8),
    /// `AT+QISTATE=1,<connectID>`.
    Socket(ConnectId),
}

/// The parameters of `AT+QIOPEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenReq {
    pub id: ConnectId,
    pub service: ServiceType,
    pub host: String,
    pub remote_port: u16,
    pub local_port: u16,
    pub mode: AccessMode,
}

/// A host command line, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `AT`.
    At,
    /// `ATE0` / `ATE1`.
    Echo(bool),
    /// `ATZ`: restore the profile (echo on).
    Reset,
    /// `ATI`.
    Ident,
    /// `AT+CGMR`.
    Revision,
    /// `AT+QRST=1`: reboot.
    Reboot,
    /// `AT+CMEE=<n>`.
    CmeeSet(u8),
    /// `AT+CMEE?`.
    CmeeRead,
    /// `AT+CPIN?`.
    CpinRead,
    /// `AT+CEREG=<n>`.
    CeregSet(u8),
    /// `AT+CEREG?`.
    CeregRead,
    /// `AT+CGATT?`.
    CgattRead,
    /// `AT+CGPADDR[=<cid>]`.
    Cgpaddr(Option<u8>),
    /// A test form (`=?`): the lines to print before `OK`.
    Test(&'static [&'static str]),
    /// `AT+QIOPEN=...`.
    QiOpen(OpenReq),
    /// `AT+QICLOSE=<id>`.
    QiClose(ConnectId),
    /// `AT+QISTATE...`.
    QiState(StateQuery),
    /// `AT+QISEND` / `AT+QISENDEX`: the decoded payload.
    QiSend { id: ConnectId, data: Vec<u8> },
    /// `AT+QISEND=<id>,<len>` without data: prompt mode (BC66, BC660K).
    QiSendPrompt { id: ConnectId, len: usize },
    /// `AT+QISEND=<id>,0`: the sent/acknowledged counters (BC66, BC660K).
    QiSendQuery(ConnectId),
    /// `AT+QIRD=<id>,<len>`.
    QiRd { id: ConnectId, len: usize },
    /// `AT+QISWTMD=<id>,<mode>`.
    QiSwtmd { id: ConnectId, mode: AccessMode },
    /// `AT+QISWTMD?` (answers just `OK`).
    QiSwtmdRead,
    /// `AT+QPING=...`.
    QPing {
        host: String,
        timeout_s: u8,
        count: u8,
        size: u8,
    },
    /// `AT+QNTP=...`.
    QNtp { server: String, port: u16 },
    /// `AT+QIDNSGIP=1,"<host>"`.
    QiDnsGip(String),
    /// `AT+QICFG=...`.
    QiCfg(CfgReq),
    /// `AT+QIGETERROR`.
    QiGetError,
}

impl Command {
    /// True for the TCP/IP commands whose outcome `AT+QIGETERROR` reports.
    pub(crate) fn is_tcpip(&self) -> bool {
        matches!(
            self,
            Command::QiOpen(_)
                | Command::QiClose(_)
                | Command::QiState(_)
                | Command::QiSend { .. }
                | Command::QiSendPrompt { .. }
                | Command::QiSendQuery(_)
                | Command::QiRd { .. }
                | Command::QiSwtmd { .. }
                | Command::QPing { .. }
                | Command::QNtp { .. }
                | Command::QiDnsGip(_)
                | Command::QiCfg(_)
        )
    }
}

/// Whether an extended command name is a TCP/IP one (for errors raised before typing).
pub(crate) fn is_tcpip_name(line: &[u8]) -> bool {
    let up: Vec<u8> = line.iter().map(u8::to_ascii_uppercase).collect();
    up.starts_with(b"AT+QI") || up.starts_with(b"AT+QPING") || up.starts_with(b"AT+QNTP")
}

/// The form of an extended command.
enum Form<'a> {
    Exec,
    Read,
    Test,
    Write(&'a [u8]),
}

/// Parse one command line (without its terminating `\r`) for a BC20 (PDP context 1).
#[cfg(test)]
pub(crate) fn parse(line: &[u8]) -> Parsed<Command> {
    parse_for(line, 1)
}

/// Parse one command line (without its terminating `\r`) for a module whose TCP/IP commands
/// take PDP context `pdp` (another in range is 555, one out of range 552).
pub(crate) fn parse_for(line: &[u8], pdp: u8) -> Parsed<Command> {
    let mut line = line;
    while let [b' ', r @ ..] = line {
        line = r;
    }
    // Trailing spaces are dropped, except from AT+QISEND text data where they are payload.
    let upper_start: Vec<u8> = line.iter().take(10).map(u8::to_ascii_uppercase).collect();
    if !upper_start.starts_with(b"AT+QISEND=") {
        line = trim(line);
    }
    if line.len() < 2 || !line[..2].eq_ignore_ascii_case(b"AT") {
        return Err(Reject::Unknown);
    }
    let rest = &line[2..];
    if rest.is_empty() {
        return Ok(Command::At);
    }
    if rest[0] != b'+' {
        return parse_basic(rest);
    }
    let name_end = rest
        .iter()
        .position(|&c| c == b'=' || c == b'?')
        .unwrap_or(rest.len());
    let name: Vec<u8> = rest[1..name_end]
        .iter()
        .map(u8::to_ascii_uppercase)
        .collect();
    let tail = &rest[name_end..];
    let form = match tail {
        [] => Form::Exec,
        b"?" => Form::Read,
        b"=?" => Form::Test,
        [b'=', w @ ..] => Form::Write(w),
        _ => return Err(Reject::Unknown),
    };
    parse_extended(&name, form, pdp)
}

fn parse_basic(rest: &[u8]) -> Parsed<Command> {
    let up: Vec<u8> = rest.iter().map(u8::to_ascii_uppercase).collect();
    match up.as_slice() {
        b"E0" => Ok(Command::Echo(false)),
        b"E1" | b"E" => Ok(Command::Echo(true)),
        b"Z" | b"Z0" => Ok(Command::Reset),
        b"I" | b"I0" => Ok(Command::Ident),
        _ => Err(Reject::Unknown),
    }
}

const T_QIOPEN: &[&str] = &[
    "+QIOPEN: (1-3),(0-4),\"TCP/UDP\",\"<ip_address>/<domain_name>\",<remote_port>,<local_port>,(0-1)[,(0-1)]",
];
const T_QICFG: &[&str] = &[
    "+QICFG: \"dataformat\",(0,1),(0,1)",
    "+QICFG: \"viewmode\",(0,1)",
    "+QICFG: \"showlength\",(0,1)",
];

fn test_lines(name: &[u8]) -> Option<&'static [&'static str]> {
    Some(match name {
        b"QIOPEN" => T_QIOPEN,
        b"QICLOSE" => &["+QICLOSE: (0-4)"],
        b"QISTATE" | b"QIGETERROR" => &[],
        b"QISEND" => &["+QISEND: (0-4),(1-1024),<data>"],
        b"QISENDEX" => &["+QISENDEX: (0-4),(1-512),<hex_string>"],
        b"QIRD" => &["+QIRD: (0-4),(1-512)"],
        b"QISWTMD" => &["+QISWTMD: (0-4),(0-1)"],
        b"QPING" => &["+QPING: (1-3),\"<host>\"[,(1-255)[,(1-10)[,(32-200)]]]"],
        b"QNTP" => &["+QNTP: (1-3),\"<server>\"[,<port>[,(0-1)]]"],
        b"QIDNSGIP" => &["+QIDNSGIP: (1-3),\"<hostname>\""],
        b"QICFG" => T_QICFG,
        b"CMEE" => &["+CMEE: (0-2)"],
        b"CEREG" => &["+CEREG: (0-5)"],
        b"CGATT" => &["+CGATT: (0-1)"],
        b"CGPADDR" => &["+CGPADDR: (1)"],
        b"CPIN" | b"CGMR" | b"QRST" => &[],
        _ => return None,
    })
}

fn parse_extended(name: &[u8], form: Form<'_>, pdp: u8) -> Parsed<Command> {
    if let Form::Test = form {
        return test_lines(name).map(Command::Test).ok_or(Reject::Unknown);
    }
    match (name, form) {
        (b"CGMR", Form::Exec) => Ok(Command::Revision),
        (b"QRST", Form::Write(b"1")) => Ok(Command::Reboot),
        (b"CMEE", Form::Read) => Ok(Command::CmeeRead),
        (b"CMEE", Form::Write(w)) => small(w, 2).map(Command::CmeeSet),
        (b"CPIN", Form::Read) => Ok(Command::CpinRead),
        (b"CEREG", Form::Read) => Ok(Command::CeregRead),
        (b"CEREG", Form::Write(w)) => small(w, 5).map(Command::CeregSet),
        (b"CGATT", Form::Read) => Ok(Command::CgattRead),
        (b"CGPADDR", Form::Exec) => Ok(Command::Cgpaddr(None)),
        (b"CGPADDR", Form::Write(w)) => small(w, 15).map(|c| Command::Cgpaddr(Some(c))),
        (b"QIOPEN", Form::Write(w)) => qiopen(w, pdp),
        (b"QICLOSE", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 1, 1)?;
            Ok(Command::QiClose(connect_id(a.first())?))
        }
        (b"QISTATE", Form::Read) => Ok(Command::QiState(StateQuery::All)),
        (b"QISTATE", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 2, 2)?;
            match num(a.first(), 0, 1)? {
                0 => {
                    context(a.get(1), pdp)?;
                    Ok(Command::QiState(StateQuery::Context(pdp)))
                }
                _ => Ok(Command::QiState(StateQuery::Socket(connect_id(a.get(1))?))),
            }
        }
        (b"QISEND", Form::Write(w)) => qisend(w),
        (b"QISENDEX", Form::Write(w)) => qisendex(w),
        (b"QIRD", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 1, 2)?;
            let id = connect_id(a.first())?;
            let len = opt_num(a.get(1), 1, MAX_READ as u32, MAX_READ as u32)? as usize;
            Ok(Command::QiRd { id, len })
        }
        (b"QISWTMD", Form::Read) => Ok(Command::QiSwtmdRead),
        (b"QISWTMD", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 2, 2)?;
            let id = connect_id(a.first())?;
            let mode = AccessMode::from_wire(num(a.get(1), 0, 1)? as u8).ok_or(BAD)?;
            Ok(Command::QiSwtmd { id, mode })
        }
        (b"QPING", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 2, 5)?;
            let host = text(a.get(1))?;
            let timeout_s = opt_num(a.get(2), 1, 255, 4)? as u8;
            let count = opt_num(a.get(3), 1, 10, 4)? as u8;
            let size = opt_num(a.get(4), 32, 200, 32)? as u8;
            context(a.first(), pdp)?;
            Ok(Command::QPing {
                host,
                timeout_s,
                count,
                size,
            })
        }
        (b"QNTP", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 2, 4)?;
            let server = text(a.get(1))?;
            let port = opt_num(a.get(2), 1, 65535, 123)? as u16;
            opt_num(a.get(3), 0, 1, 1)?;
            context(a.first(), pdp)?;
            Ok(Command::QNtp { server, port })
        }
        (b"QIDNSGIP", Form::Write(w)) => {
            let a = split_args(w)?;
            arity(&a, 2, 2)?;
            let host = text(a.get(1))?;
            context(a.first(), pdp)?;
            Ok(Command::QiDnsGip(host))
        }
        (b"QICFG", Form::Write(w)) => qicfg(w),
        (b"QIGETERROR", Form::Exec) => Ok(Command::QiGetError),
        _ => Err(Reject::Unknown),
    }
}

/// A single small number (bring-up commands); anything else is a plain `ERROR`.
fn small(w: &[u8], max: u32) -> Parsed<u8> {
    let a = split_args(w).map_err(|_| Reject::Unknown)?;
    if a.len() != 1 {
        return Err(Reject::Unknown);
    }
    num(a.first(), 0, max)
        .map(|n| n as u8)
        .map_err(|_| Reject::Unknown)
}

fn qiopen(w: &[u8], pdp: u8) -> Parsed<Command> {
    let a = split_args(w)?;
    arity(&a, 5, 8)?;
    num(a.first(), u32::from(pdp.min(1)), 3)?;
    let id = connect_id(a.get(1))?;
    let service = match a.get(2) {
        Some(Arg::Quoted(s)) => ServiceType::from_wire(s).ok_or(BAD)?,
        _ => return Err(BAD),
    };
    let host = text(a.get(3))?;
    let remote_port = num(a.get(4), 1, 65535)? as u16;
    let local_port = opt_num(a.get(5), 0, 65535, 0)? as u16;
    let mode = AccessMode::from_wire(opt_num(a.get(6), 0, 1, 0)? as u8).ok_or(BAD)?;
    let ipv6 = opt_num(a.get(7), 0, 1, 0)? == 1;
    context(a.first(), pdp)?;
    if ipv6 {
        return Err(UNSUPPORTED);
    }
    Ok(Command::QiOpen(OpenReq {
        id,
        service,
        host,
        remote_port,
        local_port,
        mode,
    }))
}

/// Split `<id>,<len>,<rest>` where `rest` is taken verbatim (it may contain commas).
fn id_len_rest(w: &[u8]) -> Parsed<(ConnectId, usize, &[u8])> {
    let c1 = w.iter().position(|&c| c == b',').ok_or(BAD)?;
    let c2 = c1 + 1 + w[c1 + 1..].iter().position(|&c| c == b',').ok_or(BAD)?;
    let head = split_args(&w[..c2])?;
    let id = connect_id(head.first())?;
    let len = num(head.get(1), 0, u32::MAX >> 8)? as usize;
    Ok((id, len, &w[c2 + 1..]))
}

fn qisend(w: &[u8]) -> Parsed<Command> {
    if w.iter().filter(|&&c| c == b',').count() == 1 {
        // `<id>,<len>` alone: prompt mode, or the counters with length 0.
        let a = split_args(w)?;
        let id = connect_id(a.first())?;
        return match num(a.get(1), 0, MAX_SEND_TEXT as u32)? {
            0 => Ok(Command::QiSendQuery(id)),
            len => Ok(Command::QiSendPrompt {
                id,
                len: len as usize,
            }),
        };
    }
    let (id, len, rest) = id_len_rest(w)?;
    if !(1..=MAX_SEND_TEXT).contains(&len) {
        return Err(BAD);
    }
    // The manual sends the data bare and in quotes (where the length counts what is inside).
    let trimmed = trim(rest);
    let quoted = trimmed
        .strip_prefix(b"\"")
        .and_then(|t| t.strip_suffix(b"\""));
    let data = match quoted {
        Some(inner) if inner.len() == len => inner,
        _ if rest.len() == len => rest,
        _ if trimmed.len() == len => trimmed,
        _ => return Err(BAD),
    };
    if data.iter().any(u8::is_ascii_control) {
        return Err(BAD);
    }
    Ok(Command::QiSend {
        id,
        data: data.to_vec(),
    })
}

fn qisendex(w: &[u8]) -> Parsed<Command> {
    let (id, len, rest) = id_len_rest(w)?;
    if !(1..=MAX_SEND_HEX).contains(&len) {
        return Err(BAD);
    }
    let t = trim(rest);
    let t = t
        .strip_prefix(b"\"")
        .and_then(|t| t.strip_suffix(b"\""))
        .unwrap_or(t);
    if t.len() != 2 * len {
        return Err(BAD);
    }
    let mut data = std::vec![0u8; len];
    hex::decode_into(t, &mut data).ok_or(BAD)?;
    Ok(Command::QiSend { id, data })
}

fn qicfg(w: &[u8]) -> Parsed<Command> {
    let a = split_args(w)?;
    let key = match a.first() {
        Some(Arg::Quoted(k)) => k.to_ascii_lowercase(),
        _ => return Err(BAD),
    };
    let req = match key.as_slice() {
        b"dataformat" => match a.len() {
            1 => CfgReq::DataFormat(None),
            3 => {
                let s = DataFormat::from_wire(num(a.get(1), 0, 1)? as u8).ok_or(BAD)?;
                let r = DataFormat::from_wire(num(a.get(2), 0, 1)? as u8).ok_or(BAD)?;
                CfgReq::DataFormat(Some((s, r)))
            }
            _ => return Err(BAD),
        },
        b"viewmode" => match a.len() {
            1 => CfgReq::ViewMode(None),
            2 => CfgReq::ViewMode(Some(
                ViewMode::from_wire(num(a.get(1), 0, 1)? as u8).ok_or(BAD)?,
            )),
            _ => return Err(BAD),
        },
        b"showlength" => match a.len() {
            1 => CfgReq::ShowLength(None),
            2 => CfgReq::ShowLength(Some(num(a.get(1), 0, 1)? == 1)),
            _ => return Err(BAD),
        },
        _ => return Err(BAD),
    };
    Ok(Command::QiCfg(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ConnectId {
        ConnectId::new(n).unwrap()
    }

    #[test]
    fn qiopen_forms() {
        let c = parse(br#"AT+QIOPEN=1, 0, "UDP", "10.0.0.1" ,8062"#).unwrap();
        assert_eq!(
            c,
            Command::QiOpen(OpenReq {
                id: id(0),
                service: ServiceType::Udp,
                host: "10.0.0.1".into(),
                remote_port: 8062,
                local_port: 0,
                mode: AccessMode::Buffer,
            })
        );
        // Manual 4.5: connectID omitted.
        assert_eq!(
            parse(br#"AT+QIOPEN=1,"UDP","220.180.239.212",8063,0,1"#),
            Err(BAD)
        );
        assert_eq!(parse(br#"AT+QIOPEN=2,0,"TCP","a",1"#), Err(UNSUPPORTED));
        assert_eq!(parse(br#"AT+QIOPEN=4,0,"TCP","a",1"#), Err(BAD));
        assert_eq!(
            parse(br#"AT+QIOPEN=1,0,"TCP","a",1,0,0,1"#),
            Err(UNSUPPORTED)
        );
        assert_eq!(parse(br#"AT+QIOPEN=1,0,"TCP","a",0"#), Err(BAD));
        assert_eq!(parse(br#"AT+QIOPEN=1,0,"SCTP","a",1"#), Err(BAD));
    }

    #[test]
    fn qisend_bare_and_quoted() {
        let want = |d: &[u8]| {
            Ok(Command::QiSend {
                id: id(0),
                data: d.to_vec(),
            })
        };
        assert_eq!(parse(b"AT+QISEND=0,10,1234567890"), want(b"1234567890"));
        assert_eq!(
            parse(br#"AT+QISEND=0,12,"012345678901""#),
            want(b"012345678901")
        );
        assert_eq!(parse(b"AT+QISEND=0, 3, a,b"), want(b"a,b"));
        assert_eq!(parse(b"AT+QISEND=0,2,  "), want(b"  "));
        assert_eq!(parse(b"AT+QISEND=0,3, x "), want(b" x "));
        assert_eq!(parse(b"AT+QISEND=0,4,abc"), Err(BAD));
        assert_eq!(parse(b"AT+QISEND=0,1025,x"), Err(BAD));
        assert_eq!(parse(b"AT+QISENDEX=0,5,3031323334"), want(b"01234"));
        assert_eq!(parse(b"AT+QISENDEX=0,2,30G1"), Err(BAD));
    }

    #[test]
    fn basics_and_unknown() {
        assert_eq!(parse(b"AT"), Ok(Command::At));
        assert_eq!(parse(b"ate0"), Ok(Command::Echo(false)));
        assert_eq!(parse(b"ATZ"), Ok(Command::Reset));
        assert_eq!(parse(b"AT+QTEMP"), Err(Reject::Unknown));
        assert_eq!(parse(b"hello"), Err(Reject::Unknown));
        assert_eq!(
            parse(b"AT+QIRD=0"),
            Ok(Command::QiRd {
                id: id(0),
                len: 512
            })
        );
        assert_eq!(parse(b"AT+QIRD=0,513"), Err(BAD));
        assert_eq!(
            parse(br#"AT+QICFG="viewmode",1"#),
            Ok(Command::QiCfg(CfgReq::ViewMode(Some(
                ViewMode::HeaderCommaData
            ))))
        );
        assert_eq!(parse(b"AT+QICFG=?"), Ok(Command::Test(T_QICFG)));
    }
}
