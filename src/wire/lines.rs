//! Decoding of complete lines (no payload) into frames, field by field ([`Fields`]).
//!
//! The framing layer (`parse.rs`) has already cut the line and removed its line end; everything
//! here works on a complete line and never needs more input.

use core::net::Ipv4Addr;

use crate::types::{
    AccessMode, CmeError, ConnectId, ContextId, DataFormat, NtpTime, PingReply, PingSummary, QiCfg,
    RegistrationStatus, ResultCode, ServiceType, SocketState, SocketStatus, ViewMode,
};

use super::fields::Fields;
use super::frame::{
    AtPort, CeReg, ExtService, Frame, Malformed, PingLine, SocketStatusExt, TestCommand,
};
use super::parse::ParseContext;

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
        b"CME ERROR" => Ok(match full(params, Fields::u16) {
            Some(code) => Frame::CmeError(CmeError(code)),
            None => Frame::CmeErrorText(text(params).ok_or(Malformed::Fields)?),
        }),
        b"QIOPEN" if params.first() == Some(&b'(') => test(TestCommand::QiOpen),
        b"QIOPEN" => {
            let (id, code) = full(params, |p| {
                let id = raw_id(p)?;
                p.comma()?;
                Some((id, p.u16()?))
            })
            .ok_or(Malformed::Fields)?;
            Ok(Frame::QiOpen {
                id: connect_id(id)?,
                result: ResultCode::from_code(code),
            })
        }
        b"QICLOSE" => test(TestCommand::QiClose),
        b"QISEND" if params.contains(&b'(') => test(TestCommand::QiSend),
        b"QISEND" => {
            let (total, acked, unacked) = full(params, |p| {
                let total = p.u32()?;
                p.comma()?;
                let acked = p.u32()?;
                p.comma()?;
                Some((total, acked, p.u32()?))
            })
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
            let (code, description) = full(params, |p| {
                let code = p.u16()?;
                p.comma()?;
                Some((code, p.rest()))
            })
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
            // The address quoted, or else as it is up to a comma.
            let (cid, addr) = full(params, |p| {
                let cid = p.u8()?;
                let addr = p.attempt(|p| {
                    p.comma()?;
                    p.quoted().or_else(|| p.until_comma())
                });
                Some((cid, addr))
            })
            .ok_or(Malformed::Fields)?;
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
    let mut p = Fields::new(params);
    let (id, service, remote, remote_port, local_port, state, context) =
        qistate_head(&mut p).ok_or(Malformed::Fields)?;
    if let Some(mode) = p.attempt(|p| {
        p.comma()?;
        let mode = p.u8()?;
        p.done()?;
        Some(mode)
    }) {
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
    let (server_id, access_mode, at_port) = full(p.rest(), |p| {
        p.comma()?;
        let server_id = p.i16()?;
        p.comma()?;
        let access_mode = p.u8()?;
        p.comma()?;
        Some((server_id, access_mode, p.quoted()?))
    })
    .ok_or(Malformed::Fields)?;
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

/// The seven fields both forms of `+QISTATE:` start with.
#[allow(clippy::type_complexity)]
fn qistate_head<'a>(p: &mut Fields<'a>) -> Option<(u8, &'a [u8], &'a [u8], u16, u16, u8, u8)> {
    let id = raw_id(p)?;
    p.comma()?;
    let service = p.quoted()?;
    p.comma()?;
    let remote = p.quoted()?;
    p.comma()?;
    let remote_port = p.u16()?;
    p.comma()?;
    let local_port = p.u16()?;
    p.comma()?;
    let state = p.u8()?;
    p.comma()?;
    Some((id, service, remote, remote_port, local_port, state, p.u8()?))
}

fn qping(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let echo = full(params, |p| {
        let result = p.u16()?;
        p.comma()?;
        let ip = p.quoted()?;
        p.comma()?;
        let bytes = p.u16()?;
        p.comma()?;
        let time_ms = p.u32()?;
        p.comma()?;
        Some((result, ip, bytes, time_ms, p.u8()?))
    });
    if let Some((result, ip, bytes, time_ms, ttl)) = echo {
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
    let summary = full(params, |p| {
        let result = p.u16()?;
        p.comma()?;
        let sent = p.u16()?;
        p.comma()?;
        let received = p.u16()?;
        p.comma()?;
        let lost = p.u16()?;
        p.comma()?;
        let min_ms = p.u32()?;
        p.comma()?;
        let max_ms = p.u32()?;
        p.comma()?;
        Some((result, sent, received, lost, min_ms, max_ms, p.u32()?))
    });
    if let Some((result, sent, received, lost, min_ms, max_ms, avg_ms)) = summary {
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
    let code = full(params, Fields::u16).ok_or(Malformed::Fields)?;
    Ok(Frame::Ping(PingLine::Result(ResultCode::from_code(code))))
}

fn qntp(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    let (code, time) = full(params, |p| {
        let code = p.u16()?;
        let time = p.attempt(|p| {
            p.comma()?;
            p.quoted()
        });
        Some((code, time))
    })
    .ok_or(Malformed::Fields)?;
    let time = match time {
        None | Some(b"") => None,
        Some(t) => Some(ntp_time(t).ok_or(Malformed::Fields)?),
    };
    Ok(Frame::Ntp {
        result: ResultCode::from_code(code),
        time,
    })
}

/// `YY/MM/DD,hh:mm:ss±zz`, also with a four-digit year and with the manual's extra `:xx` field;
/// `None` unless all of `t` is a time, and a valid one.
fn ntp_time(t: &[u8]) -> Option<NtpTime> {
    let mut p = Fields::new(t);
    let year = p.digits()?;
    p.byte(b'/')?;
    let month = p.u8()?;
    p.byte(b'/')?;
    let day = p.u8()?;
    p.byte(b',')?;
    let hour = p.u8()?;
    p.byte(b':')?;
    let minute = p.u8()?;
    p.byte(b':')?;
    let second = p.u8()?;
    let _extra = p.attempt(|p| {
        p.byte(b':')?;
        p.u8()
    });
    let negative = p.eat(b'-');
    if !negative {
        p.byte(b'+')?;
    }
    let quarters = p.u8()?;
    p.done()?;
    // Two or four digits, so the value fits.
    let value = Fields::new(year).u16()?;
    let year = match year.len() {
        2 => value.checked_add(2000)?,
        4 => value,
        _ => return None,
    };
    let offset = i16::from(quarters) * if negative { -1 } else { 1 };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60
        && (-48..=56).contains(&offset);
    valid.then_some(NtpTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset_quarters: i8::try_from(offset).ok()?,
    })
}

/// `+QICFG: "<key>",...`; `None` for a key this crate does not know.
fn qicfg(params: &[u8]) -> Result<Option<Frame<'_>>, Malformed> {
    let (key, values) = quoted_then_rest(params).ok_or(Malformed::Fields)?;
    let cfg = match key {
        b"dataformat" => {
            let (s, r) = full(values, |p| {
                p.comma()?;
                let s = p.u8()?;
                p.comma()?;
                Some((s, p.u8()?))
            })
            .ok_or(Malformed::Fields)?;
            QiCfg::DataFormat {
                send: DataFormat::from_wire(s).ok_or(Malformed::Fields)?,
                recv: DataFormat::from_wire(r).ok_or(Malformed::Fields)?,
            }
        }
        b"viewmode" => {
            let n = comma_u8(values).ok_or(Malformed::Fields)?;
            QiCfg::ViewMode(ViewMode::from_wire(n).ok_or(Malformed::Fields)?)
        }
        b"showlength" => match comma_u8(values) {
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
    let (kind, args) = quoted_then_rest(params).ok_or(Malformed::Fields)?;
    qiurc_kind(kind, args).transpose()
}

fn qiurc_kind<'a>(kind: &[u8], args: &'a [u8]) -> Option<Result<Frame<'a>, Malformed>> {
    Some(match kind {
        b"closed" => comma_u8(args)
            .ok_or(Malformed::Fields)
            .and_then(|id| Ok(Frame::Closed(connect_id(id)?))),
        b"pdpdeact" => comma_u8(args).ok_or(Malformed::Fields).map(Frame::PdpDeact),
        b"recv" => Err(Malformed::Fields),
        b"dnsgip" => dnsgip(args),
        _ => return None,
    })
}

/// The two lines of a DNS answer.
fn dnsgip(args: &[u8]) -> Result<Frame<'_>, Malformed> {
    if let Some(ip) = full(args, |p| {
        p.comma()?;
        p.quoted()
    }) {
        return Ok(Frame::DnsAddr(ipv4(ip).ok_or(Malformed::Fields)?));
    }
    let (code, count, ttl) = full(args, |p| {
        p.comma()?;
        let code = p.u16()?;
        p.comma()?;
        let count = p.u8()?;
        p.comma()?;
        Some((code, count, p.u32()?))
    })
    .ok_or(Malformed::Fields)?;
    Ok(Frame::DnsHead {
        result: ResultCode::from_code(code),
        count,
        ttl,
    })
}

/// `+CEREG: <n>,<stat>[,...]` (read) or `+CEREG: <stat>[,"<tac>",...]` (URC).
fn cereg(params: &[u8]) -> Result<Frame<'_>, Malformed> {
    // After the first comma: a number (or not), then anything.
    let (first, second) = full(params, |p| {
        let first = p.u8()?;
        let second = p.attempt(|p| {
            p.comma()?;
            let n = p.u8();
            p.rest();
            Some(n)
        });
        Some((first, second))
    })
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

/// A connectID before range checking.
fn raw_id(p: &mut Fields<'_>) -> Option<u8> {
    p.u8()
}

/// `,<n>` and nothing else.
fn comma_u8(args: &[u8]) -> Option<u8> {
    full(args, |p| {
        p.comma()?;
        p.u8()
    })
}

/// A quoted string first, then anything.
fn quoted_then_rest(params: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut p = Fields::new(params);
    Some((p.quoted()?, p.rest()))
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

/// Run `parse` over all of `input`: `None` unless it succeeds and leaves nothing.
fn full<'a, T>(input: &'a [u8], parse: impl FnOnce(&mut Fields<'a>) -> Option<T>) -> Option<T> {
    let mut p = Fields::new(input);
    let value = parse(&mut p)?;
    p.done()?;
    Some(value)
}

#[cfg(test)]
mod tests;
