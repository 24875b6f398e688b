//! Decoding of complete lines (no payload) into frames, with nom.
//!
//! The framing layer (`parse.rs`) has already cut the line and removed its line end; everything
//! here works on a complete line and never needs more input.

use core::net::Ipv4Addr;

use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{
    char, digit1, i16 as dec_i16, space0, u8 as dec_u8, u16 as dec_u16, u32 as dec_u32,
};
use nom::combinator::{all_consuming, opt, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use crate::types::{
    AccessMode, CmeError, ConnectId, ContextId, DataFormat, NtpTime, PingReply, PingSummary, QiCfg,
    RegistrationStatus, ResultCode, ServiceType, SocketState, SocketStatus, ViewMode,
};

use super::frame::{
    AtPort, CeReg, ExtService, Frame, Malformed, PingLine, SocketStatusExt, TestCommand,
};
use super::parse::ParseContext;

type In<'a> = &'a [u8];
type R<'a, O> = IResult<In<'a>, O>;

/// Decode one complete line (not empty, no line end, no noise bytes).
pub(crate) fn classify<'a>(line: &'a [u8], _ctx: &ParseContext) -> Frame<'a> {
    match line {
        b"OK" => return Frame::Ok,
        b"ERROR" => return Frame::Error,
        b"SEND OK" => return Frame::SendOk,
        b"SEND FAIL" => return Frame::SendFail,
        b"CLOSE OK" => return Frame::CloseOk,
        b"RDY" => return Frame::Ready,
        // The send prompt when a line end follows it (`parse.rs` frames `> ` on its own).
        b">" | b"> " => return Frame::Prompt,
        _ => {}
    }
    if line.first() == Some(&b'+') {
        return match plus_line(line) {
            Ok(frame) => frame,
            Err(why) => Frame::Malformed { line, why },
        };
    }
    if let Some(rev) = line.strip_prefix(b"Revision: ").and_then(text) {
        return Frame::Revision(rev);
    }
    if line.starts_with(b"Quectel")
        && let Some(s) = text(line)
    {
        return Frame::Identification(s);
    }
    if is_boot_rom(line)
        && let Some(s) = text(line)
    {
        return Frame::BootRom(s);
    }
    Frame::Unknown(line)
}

/// A `+NAME: params` line. `Err` means the name is known but the parameters are not.
fn plus_line(line: &[u8]) -> Result<Frame<'_>, Malformed> {
    let Some(colon) = line.windows(2).position(|w| w == b": ") else {
        return Ok(Frame::Unknown(line));
    };
    let name = &line[1..colon];
    let params = &line[colon + 2..];
    let test = |command| -> Result<Frame<'_>, Malformed> {
        if params.contains(&b'(') {
            let params = text(params).ok_or(Malformed::Fields)?;
            Ok(Frame::Test { command, params })
        } else {
            Err(Malformed::Fields)
        }
    };
    match name {
        b"CME ERROR" => Ok(match full(dec_u16, params) {
            Some(code) => Frame::CmeError(CmeError(code)),
            None => Frame::CmeErrorText(text(params).ok_or(Malformed::Fields)?),
        }),
        b"QIOPEN" if params.first() == Some(&b'(') => test(TestCommand::QiOpen),
        b"QIOPEN" => {
            let (id, code) = full((raw_id, comma, dec_u16).map(|(i, _, c)| (i, c)), params)
                .ok_or(Malformed::Fields)?;
            Ok(Frame::QiOpen {
                id: connect_id(id)?,
                result: ResultCode::from_code(code),
            })
        }
        b"QICLOSE" => test(TestCommand::QiClose),
        b"QISEND" if params.contains(&b'(') => test(TestCommand::QiSend),
        b"QISEND" => {
            let (total, acked, unacked) = full(
                (dec_u32, preceded(comma, dec_u32), preceded(comma, dec_u32)),
                params,
            )
            .ok_or(Malformed::Fields)?;
            Ok(Frame::QiSendQuery {
                total,
                acked,
                unacked,
            })
        }
        b"QISENDEX" => test(TestCommand::QiSendEx),
        b"QIRD" => test(TestCommand::QiRd),
        b"QISWTMD" => test(TestCommand::QiSwtmd),
        b"QIDNSGIP" => test(TestCommand::QiDnsGip),
        b"QISTATE" => qistate(params),
        b"QPING" if params.first() == Some(&b'(') => test(TestCommand::QPing),
        b"QPING" => qping(params),
        b"QNTP" if params.first() == Some(&b'(') => test(TestCommand::QNtp),
        b"QNTP" => qntp(params),
        b"QICFG" if params.contains(&b'(') => test(TestCommand::QiCfg),
        // Keys and URC kinds of siblings this crate does not use (`"transpktsize"`,
        // `"incoming full"`) are lines it does not know, not broken ones.
        b"QICFG" => Ok(qicfg(params)?.unwrap_or(Frame::Unknown(line))),
        b"QIGETERROR" => {
            let (code, description) = full((dec_u16, comma, rest).map(|(c, _, d)| (c, d)), params)
                .ok_or(Malformed::Fields)?;
            Ok(Frame::QiGetError {
                result: ResultCode::from_code(code),
                description: text(description).ok_or(Malformed::Fields)?,
            })
        }
        b"QIURC" => Ok(qiurc(params)?.unwrap_or(Frame::Unknown(line))),
        b"CPIN" => Ok(Frame::CPin(text(params).ok_or(Malformed::Fields)?)),
        b"CEREG" => cereg(params),
        b"CGATT" => match params {
            b"0" => Ok(Frame::CgAtt(false)),
            b"1" => Ok(Frame::CgAtt(true)),
            _ => Err(Malformed::Fields),
        },
        b"CGPADDR" => {
            let addr = alt((quoted, take_while1(|b: u8| b != b',')));
            let (cid, addr) =
                full((dec_u8, opt(preceded(comma, addr))), params).ok_or(Malformed::Fields)?;
            let addr = match addr {
                Some(a) => Some(text(a).ok_or(Malformed::Fields)?),
                None => None,
            };
            Ok(Frame::CgPAddr { cid, addr })
        }
        _ => Ok(Frame::Unknown(line)),
    }
}

/// `+QISTATE:` in the BC20's eight-field form or the ten-field form of BG96-class siblings
/// (`...,<contextID>,<serverID>,<access_mode>,"<AT_port>"`).
fn qistate(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let mut head = (
        raw_id,
        preceded(comma, quoted),
        preceded(comma, quoted),
        preceded(comma, dec_u16),
        preceded(comma, dec_u16),
        preceded(comma, dec_u8),
        preceded(comma, dec_u8),
    );
    let (rest, (id, service, remote, remote_port, local_port, state, context)) =
        head.parse(params).map_err(|_| Malformed::Fields)?;
    if let Some(mode) = full(preceded(comma, dec_u8), rest) {
        return Ok(Frame::QiState(SocketStatus {
            id: connect_id(id)?,
            service: ServiceType::from_wire(service).ok_or(Malformed::Fields)?,
            remote: text(remote).ok_or(Malformed::Fields)?,
            remote_port,
            local_port,
            state: SocketState::from_wire(state).ok_or(Malformed::Fields)?,
            context: ContextId::new(context).ok_or(Malformed::Fields)?,
            access_mode: AccessMode::from_wire(mode).ok_or(Malformed::Fields)?,
        }));
    }
    let tail = (
        preceded(comma, dec_i16),
        preceded(comma, dec_u8),
        preceded(comma, quoted),
    );
    let (server_id, access_mode, at_port) = full(tail, rest).ok_or(Malformed::Fields)?;
    Ok(Frame::QiStateExt(SocketStatusExt {
        id,
        service: ExtService::from_wire(service),
        remote: text(remote).ok_or(Malformed::Fields)?,
        remote_port,
        local_port,
        state,
        context,
        server_id,
        access_mode,
        at_port: AtPort::from_wire(at_port),
    }))
}

fn qping(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let echo = (
        dec_u16,
        preceded(comma, quoted),
        preceded(comma, dec_u16),
        preceded(comma, dec_u32),
        preceded(comma, dec_u8),
    );
    if let Some((result, ip, bytes, time_ms, ttl)) = full(echo, params) {
        if result != 0 {
            return Err(Malformed::Fields);
        }
        return Ok(Frame::Ping(PingLine::Echo(PingReply {
            ip: ipv4(ip).ok_or(Malformed::Fields)?,
            bytes,
            time_ms,
            ttl,
        })));
    }
    let summary = (
        dec_u16,
        preceded(comma, dec_u16),
        preceded(comma, dec_u16),
        preceded(comma, dec_u16),
        preceded(comma, dec_u32),
        preceded(comma, dec_u32),
        preceded(comma, dec_u32),
    );
    if let Some((result, sent, received, lost, min_ms, max_ms, avg_ms)) = full(summary, params) {
        return Ok(Frame::Ping(PingLine::Summary(PingSummary {
            result: ResultCode::from_code(result),
            sent,
            received,
            lost,
            min_ms,
            max_ms,
            avg_ms,
        })));
    }
    let code = full(dec_u16, params).ok_or(Malformed::Fields)?;
    Ok(Frame::Ping(PingLine::Result(ResultCode::from_code(code))))
}

fn qntp(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let (code, time) =
        full((dec_u16, opt(preceded(comma, quoted))), params).ok_or(Malformed::Fields)?;
    let time = match time {
        None | Some(b"") => None,
        Some(t) => Some(full(ntp_time, t).flatten().ok_or(Malformed::Fields)?),
    };
    Ok(Frame::Ntp {
        result: ResultCode::from_code(code),
        time,
    })
}

/// `YY/MM/DD,hh:mm:ss±zz`, also with a four-digit year and with the manual's extra `:xx` field.
fn ntp_time(i: In<'_>) -> R<'_, Option<NtpTime>> {
    let (i, year) = digit1(i)?;
    let (i, (_, month, _, day, _, hour, _, minute, _, second)) = (
        char('/'),
        dec_u8,
        char('/'),
        dec_u8,
        char(','),
        dec_u8,
        char(':'),
        dec_u8,
        char(':'),
        dec_u8,
    )
        .parse(i)?;
    let (i, _extra) = opt(preceded(char(':'), dec_u8)).parse(i)?;
    let (i, (sign, quarters)) = (alt((char('+'), char('-'))), dec_u8).parse(i)?;
    if year.len() != 2 && year.len() != 4 {
        return Ok((i, None));
    }
    let value = year.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    let year = if year.len() == 2 { 2000 + value } else { value };
    let offset = i16::from(quarters) * if sign == '-' { -1 } else { 1 };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60
        && (-48..=56).contains(&offset);
    let time = valid.then_some(NtpTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset_quarters: offset as i8,
    });
    Ok((i, time))
}

/// `+QICFG: "<key>",...`; `None` for a key this crate does not know.
fn qicfg(params: &[u8]) -> Result<Option<Frame<'_>>, Malformed> {
    let (key, values) = full((quoted, rest), params).ok_or(Malformed::Fields)?;
    let cfg = match key {
        b"dataformat" => {
            let (s, r) = full((preceded(comma, dec_u8), preceded(comma, dec_u8)), values)
                .ok_or(Malformed::Fields)?;
            QiCfg::DataFormat {
                send: DataFormat::from_wire(s).ok_or(Malformed::Fields)?,
                recv: DataFormat::from_wire(r).ok_or(Malformed::Fields)?,
            }
        }
        b"viewmode" => {
            let n = full(preceded(comma, dec_u8), values).ok_or(Malformed::Fields)?;
            QiCfg::ViewMode(ViewMode::from_wire(n).ok_or(Malformed::Fields)?)
        }
        b"showlength" => match full(preceded(comma, dec_u8), values) {
            Some(0) => QiCfg::ShowLength(false),
            Some(1) => QiCfg::ShowLength(true),
            _ => return Err(Malformed::Fields),
        },
        _ => return Ok(None),
    };
    Ok(Some(Frame::QiCfg(cfg)))
}

/// `+QIURC:` lines without payload: closed, dnsgip, pdpdeact; `None` for a kind this crate does
/// not know. (`"recv"` headers are framed by the parser; one that reaches this point is broken.)
fn qiurc(params: &[u8]) -> Result<Option<Frame<'_>>, Malformed> {
    let (kind, args) = full((quoted, rest), params).ok_or(Malformed::Fields)?;
    qiurc_kind(kind, args).transpose()
}

fn qiurc_kind<'a>(kind: &[u8], args: &'a [u8]) -> Option<Result<Frame<'a>, Malformed>> {
    Some(match kind {
        b"closed" => full(preceded(comma, raw_id), args)
            .ok_or(Malformed::Fields)
            .and_then(|id| Ok(Frame::Closed(connect_id(id)?))),
        b"pdpdeact" => full(preceded(comma, dec_u8), args)
            .ok_or(Malformed::Fields)
            .map(Frame::PdpDeact),
        b"recv" => Err(Malformed::Fields),
        b"dnsgip" => dnsgip(args),
        _ => return None,
    })
}

/// The two lines of a DNS answer.
fn dnsgip(args: &[u8]) -> Result<Frame<'_>, Malformed> {
    if let Some(ip) = full(preceded(comma, quoted), args) {
        return Ok(Frame::DnsAddr(ipv4(ip).ok_or(Malformed::Fields)?));
    }
    let (code, count, ttl) = full(
        (
            preceded(comma, dec_u16),
            preceded(comma, dec_u8),
            preceded(comma, dec_u32),
        ),
        args,
    )
    .ok_or(Malformed::Fields)?;
    Ok(Frame::DnsHead {
        result: ResultCode::from_code(code),
        count,
        ttl,
    })
}

/// `+CEREG: <n>,<stat>[,...]` (read) or `+CEREG: <stat>[,"<tac>",...]` (URC).
fn cereg(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let (first, second) = full(
        (
            dec_u8,
            opt(preceded(
                comma,
                (opt(dec_u8), take_while(|_| true)).map(|(n, _)| n),
            )),
        ),
        params,
    )
    .ok_or(Malformed::Fields)?;
    let frame = match second {
        Some(Some(stat)) => CeReg::Read {
            n: first,
            stat: RegistrationStatus::from_wire(stat),
        },
        _ => CeReg::Urc {
            stat: RegistrationStatus::from_wire(first),
        },
    };
    Ok(Frame::CeReg(frame))
}

/// An MT2625 boot-ROM line: `Leaving the BROM`, or `XX: HHHH HHHH` with an optional
/// ` [HHHH]`, where `XX` is two upper-case letters or digits.
fn is_boot_rom(line: &[u8]) -> bool {
    if line == b"Leaving the BROM" {
        return true;
    }
    let tag_ok = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let hex4 = |s: &[u8]| s.len() == 4 && s.iter().all(u8::is_ascii_hexdigit);
    match line {
        [a, b, b':', b' ', rest @ ..] if tag_ok(a) && tag_ok(b) => match rest.len() {
            9 => hex4(&rest[..4]) && rest[4] == b' ' && hex4(&rest[5..]),
            16 => {
                hex4(&rest[..4])
                    && rest[4] == b' '
                    && hex4(&rest[5..9])
                    && &rest[9..11] == b" ["
                    && hex4(&rest[11..15])
                    && rest[15] == b']'
            }
            _ => false,
        },
        _ => false,
    }
}

/// A separator: a comma, with optional spaces after it (spec 6.13).
fn comma(i: In<'_>) -> R<'_, ()> {
    (char(','), space0).map(|_| ()).parse(i)
}

/// A double-quoted string without its quotes.
fn quoted(i: In<'_>) -> R<'_, In<'_>> {
    delimited(char('"'), take_while(|b| b != b'"'), char('"')).parse(i)
}

/// A connectID before range checking.
fn raw_id(i: In<'_>) -> R<'_, u8> {
    dec_u8(i)
}

fn connect_id(n: u8) -> Result<ConnectId, Malformed> {
    ConnectId::new(n).ok_or(Malformed::ConnectId)
}

fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    super::addr::ipv4(s)
}

fn text(s: &[u8]) -> Option<&str> {
    core::str::from_utf8(s).ok()
}

/// Run `p` over all of `input`.
fn full<'a, O, P>(p: P, input: In<'a>) -> Option<O>
where
    P: Parser<In<'a>, Output = O, Error = nom::error::Error<In<'a>>>,
{
    all_consuming(p).parse(input).ok().map(|(_, o)| o)
}

#[cfg(test)]
mod tests;
