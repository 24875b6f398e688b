//! Decoding of complete lines (no payload) into frames, field by field ([`Fields`]).
//!
//! The framing layer (`parse.rs`) has already cut the line and removed its line end; everything
//! here works on a complete line and never needs more input.

use core::net::Ipv4Addr;

#[cfg(feature = "ntp")]
use crate::types::NtpTime;
use crate::types::{
    AccessMode, CmeError, ConnectId, ContextId, DataFormat, QiCfg, QiCfgKey, RegistrationStatus,
    ResultCode, ServiceType, SocketState, SocketStatus, ViewMode,
};
#[cfg(feature = "ping")]
use crate::types::{PingReply, PingSummary};

use super::fields::Fields;
#[cfg(feature = "ping")]
use super::frame::PingLine;
use super::frame::{AtPort, CeReg, ExtService, Frame, Malformed, SocketStatusExt, TestCommand};
use super::keyed::{keyed, lookup};
use super::parse::ParseContext;

/// A line that is a frame by itself (the frame, without its lifetime and its size).
#[derive(Clone, Copy)]
enum Bare {
    Ok,
    Error,
    SendOk,
    SendFail,
    CloseOk,
    Ready,
    Prompt,
}

keyed! {
    /// The lines that are a frame by themselves.
    const BARE: [Bare] = [
        "OK" => Bare::Ok,
        "ERROR" => Bare::Error,
        "SEND OK" => Bare::SendOk,
        "SEND FAIL" => Bare::SendFail,
        "CLOSE OK" => Bare::CloseOk,
        "RDY" => Bare::Ready,
        // The send prompt when a line end follows it (`parse.rs` frames `> ` on its own).
        ">" => Bare::Prompt,
        "> " => Bare::Prompt,
    ];
}

/// Decode one complete line (not empty, no line end, no noise bytes).
pub(crate) fn classify<'a>(line: &'a [u8], _ctx: &ParseContext) -> Frame<'a> {
    if let Some(bare) = lookup(&BARE, line) {
        return match bare {
            Bare::Ok => Frame::Ok,
            Bare::Error => Frame::Error,
            Bare::SendOk => Frame::SendOk,
            Bare::SendFail => Frame::SendFail,
            Bare::CloseOk => Frame::CloseOk,
            Bare::Ready => Frame::Ready,
            Bare::Prompt => Frame::Prompt,
        };
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

/// The `+NAME`s decoded here, each by its own arm of [`plus_line`].
#[derive(Clone, Copy)]
enum Name {
    CmeError,
    QiOpen,
    QiSend,
    QiState,
    QPing,
    QNtp,
    QiCfg,
    QiGetError,
    QiUrc,
    CPin,
    CeReg,
    CgAtt,
    CgPAddr,
    /// A name seen here only in its test form.
    TestOnly,
}

/// When the parameters of a `+NAME:` line are its test form (the answer to `AT+X=?`).
#[derive(Clone, Copy)]
enum TestForm {
    /// The name has none.
    None,
    /// When they start with `(`.
    Leading(TestCommand),
    /// When they contain a `(`.
    Anywhere(TestCommand),
}

keyed! {
    /// Every `+NAME` decoded here, with its test form.
    const NAMES: [(Name, TestForm)] = [
        "CME ERROR" => (Name::CmeError, TestForm::None),
        "QIOPEN" => (Name::QiOpen, TestForm::Leading(TestCommand::QiOpen)),
        "QICLOSE" => (Name::TestOnly, TestForm::Anywhere(TestCommand::QiClose)),
        "QISEND" => (Name::QiSend, TestForm::Anywhere(TestCommand::QiSend)),
        "QISENDEX" => (Name::TestOnly, TestForm::Anywhere(TestCommand::QiSendEx)),
        "QIRD" => (Name::TestOnly, TestForm::Anywhere(TestCommand::QiRd)),
        "QISWTMD" => (Name::TestOnly, TestForm::Anywhere(TestCommand::QiSwtmd)),
        "QIDNSGIP" => (Name::TestOnly, TestForm::Anywhere(TestCommand::QiDnsGip)),
        "QISTATE" => (Name::QiState, TestForm::None),
        "QPING" => (Name::QPing, TestForm::Leading(TestCommand::QPing)),
        "QNTP" => (Name::QNtp, TestForm::Leading(TestCommand::QNtp)),
        "QICFG" => (Name::QiCfg, TestForm::Anywhere(TestCommand::QiCfg)),
        "QIGETERROR" => (Name::QiGetError, TestForm::None),
        "QIURC" => (Name::QiUrc, TestForm::None),
        "CPIN" => (Name::CPin, TestForm::None),
        "CEREG" => (Name::CeReg, TestForm::None),
        "CGATT" => (Name::CgAtt, TestForm::None),
        "CGPADDR" => (Name::CgPAddr, TestForm::None),
    ];
}

/// A `+NAME: params` line. `Err` means the name is known but the parameters are not.
fn plus_line(line: &[u8]) -> Result<Frame<'_>, Malformed> {
    let Some(colon) = line.windows(2).position(|w| w == b": ") else {
        return Ok(Frame::Unknown(line));
    };
    let name = line.get(1..colon).unwrap_or_default();
    let params = line.get(colon + 2..).unwrap_or_default();
    let Some((name, test_form)) = lookup(&NAMES, name) else {
        return Ok(Frame::Unknown(line));
    };
    let test = match test_form {
        TestForm::None => None,
        TestForm::Leading(command) => (params.first() == Some(&b'(')).then_some(command),
        TestForm::Anywhere(command) => params.contains(&b'(').then_some(command),
    };
    if let Some(command) = test {
        let params = text(params).ok_or(Malformed::Fields)?;
        return Ok(Frame::Test { command, params });
    }
    let p = Fields::new(params);
    match name {
        Name::CmeError => Ok(match p.all(Fields::u16) {
            Some(code) => Frame::CmeError(CmeError(code)),
            None => Frame::CmeErrorText(text(params).ok_or(Malformed::Fields)?),
        }),
        Name::QiOpen => {
            let (id, code) = p
                .all(|p| Some((raw_id(p)?, p.u16()?)))
                .ok_or(Malformed::Fields)?;
            Ok(Frame::QiOpen {
                id: connect_id(id)?,
                result: ResultCode::from_code(code),
            })
        }
        Name::QiSend => {
            let (total, acked, unacked) = p
                .all(|p| Some((p.u32()?, p.u32()?, p.u32()?)))
                .ok_or(Malformed::Fields)?;
            Ok(Frame::QiSendQuery {
                total,
                acked,
                unacked,
            })
        }
        Name::QiState => qistate(p),
        #[cfg(feature = "ping")]
        Name::QPing => qping(p),
        #[cfg(feature = "ntp")]
        Name::QNtp => qntp(p),
        // Lines of a feature left out are lines this build does not know.
        #[cfg(not(feature = "ping"))]
        Name::QPing => Ok(Frame::Unknown(line)),
        #[cfg(not(feature = "ntp"))]
        Name::QNtp => Ok(Frame::Unknown(line)),
        // Keys and URC kinds of siblings this crate does not use (`"transpktsize"`,
        // `"incoming full"`) are lines it does not know, not broken ones.
        Name::QiCfg => Ok(qicfg(p)?.unwrap_or(Frame::Unknown(line))),
        Name::QiGetError => {
            let (code, description) = p
                .all(|p| Some((p.u16()?, p.rest()?)))
                .ok_or(Malformed::Fields)?;
            Ok(Frame::QiGetError {
                result: ResultCode::from_code(code),
                description: text(description).ok_or(Malformed::Fields)?,
            })
        }
        Name::QiUrc => Ok(qiurc(p)?.unwrap_or(Frame::Unknown(line))),
        Name::CPin => Ok(Frame::CPin(text(params).ok_or(Malformed::Fields)?)),
        Name::CeReg => cereg(p),
        Name::CgAtt => match params {
            b"0" => Ok(Frame::CgAtt(false)),
            b"1" => Ok(Frame::CgAtt(true)),
            _ => Err(Malformed::Fields),
        },
        Name::CgPAddr => {
            // The address quoted, or else as it is up to a comma.
            let (cid, addr) = p
                .all(|p| {
                    let cid = p.u8()?;
                    Some((cid, p.quoted().or_else(|| p.until_comma())))
                })
                .ok_or(Malformed::Fields)?;
            let addr = match addr {
                Some(a) => Some(text(a).ok_or(Malformed::Fields)?),
                None => None,
            };
            Ok(Frame::CgPAddr { cid, addr })
        }
        // Only the test form is decoded.
        Name::TestOnly => Err(Malformed::Fields),
    }
}

/// `+QISTATE:` in the BC20's eight-field form or the ten-field form of BG96-class siblings
/// (`...,<contextID>,<serverID>,<access_mode>,"<AT_port>"`).
fn qistate(mut p: Fields<'_>) -> Result<Frame<'_>, Malformed> {
    let (id, service, remote, remote_port, local_port, state, context) = p
        .attempt(|p| {
            Some((
                raw_id(p)?,
                p.quoted()?,
                p.quoted()?,
                p.u16()?,
                p.u16()?,
                p.u8()?,
                p.u8()?,
            ))
        })
        .ok_or(Malformed::Fields)?;
    if let Some(mode) = p.all(Fields::u8) {
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
    let (server_id, access_mode, at_port) = p
        .all(|p| Some((p.i16()?, p.u8()?, p.quoted()?)))
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

#[cfg(feature = "ping")]
fn qping(p: Fields<'_>) -> Result<Frame<'_>, Malformed> {
    let echo = p.all(|p| Some((p.u16()?, p.quoted()?, p.u16()?, p.u32()?, p.u8()?)));
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
    let summary = p.all(|p| {
        Some((
            p.u16()?,
            p.u16()?,
            p.u16()?,
            p.u16()?,
            p.u32()?,
            p.u32()?,
            p.u32()?,
        ))
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
    let code = p.all(Fields::u16).ok_or(Malformed::Fields)?;
    Ok(Frame::Ping(PingLine::Result(ResultCode::from_code(code))))
}

#[cfg(feature = "ntp")]
fn qntp(p: Fields<'_>) -> Result<Frame<'_>, Malformed> {
    let (code, time) = p
        .all(|p| Some((p.u16()?, p.quoted())))
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
#[cfg(feature = "ntp")]
fn ntp_time(t: &[u8]) -> Option<NtpTime> {
    let mut p = Fields::new(t);
    let year = p.digits()?;
    let mut parts = [0u8; 5];
    for (part, separator) in parts.iter_mut().zip(*b"//,::") {
        p.byte(separator)?;
        *part = p.u8()?;
    }
    let [month, day, hour, minute, second] = parts;
    let _extra = p.attempt(|p| {
        p.byte(b':')?;
        p.u8()
    });
    let negative = p.byte(b'-').is_some();
    if !negative {
        p.byte(b'+')?;
    }
    let quarters = p.u8()?;
    p.done()?;
    // Two or four digits: the value fits.
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
fn qicfg(mut p: Fields<'_>) -> Result<Option<Frame<'_>>, Malformed> {
    let key = p.quoted().ok_or(Malformed::Fields)?;
    let Some(key) = lookup(&QICFG_KEYS, key) else {
        return Ok(None);
    };
    let cfg = match key {
        QiCfgKey::DataFormat => {
            let (s, r) = p
                .all(|p| Some((p.u8()?, p.u8()?)))
                .ok_or(Malformed::Fields)?;
            QiCfg::DataFormat {
                send: DataFormat::from_wire(s).ok_or(Malformed::Fields)?,
                recv: DataFormat::from_wire(r).ok_or(Malformed::Fields)?,
            }
        }
        QiCfgKey::ViewMode => {
            let n = p.all(Fields::u8).ok_or(Malformed::Fields)?;
            QiCfg::ViewMode(ViewMode::from_wire(n).ok_or(Malformed::Fields)?)
        }
        QiCfgKey::ShowLength => match p.all(Fields::u8) {
            Some(0) => QiCfg::ShowLength(false),
            Some(1) => QiCfg::ShowLength(true),
            _ => return Err(Malformed::Fields),
        },
    };
    Ok(Some(Frame::QiCfg(cfg)))
}

keyed! {
    /// The `+QICFG` keys decoded here (all of [`QiCfgKey`]).
    const QICFG_KEYS: [QiCfgKey] = [
        "dataformat" => QiCfgKey::DataFormat,
        "viewmode" => QiCfgKey::ViewMode,
        "showlength" => QiCfgKey::ShowLength,
    ];
}

/// `+QIURC:` lines without payload: closed, dnsgip, pdpdeact; `None` for a kind this crate does
/// not know. (`"recv"` headers are framed by the parser; one that reaches this point is broken.)
fn qiurc(mut p: Fields<'_>) -> Result<Option<Frame<'_>>, Malformed> {
    let kind = p.quoted().ok_or(Malformed::Fields)?;
    let Some(kind) = lookup(&URC_KINDS, kind) else {
        return Ok(None);
    };
    Ok(Some(match kind {
        UrcKind::Closed => {
            Frame::Closed(connect_id(p.all(|p| raw_id(p)).ok_or(Malformed::Fields)?)?)
        }
        UrcKind::PdpDeact => Frame::PdpDeact(p.all(Fields::u8).ok_or(Malformed::Fields)?),
        UrcKind::Recv => return Err(Malformed::Fields),
        UrcKind::DnsGip => dnsgip(p)?,
    }))
}

/// The `+QIURC` kinds decoded here.
#[derive(Clone, Copy)]
enum UrcKind {
    Closed,
    PdpDeact,
    Recv,
    DnsGip,
}

keyed! {
    /// Every `+QIURC` kind decoded here.
    const URC_KINDS: [UrcKind] = [
        "closed" => UrcKind::Closed,
        "pdpdeact" => UrcKind::PdpDeact,
        "recv" => UrcKind::Recv,
        "dnsgip" => UrcKind::DnsGip,
    ];
}

/// The two lines of a DNS answer.
fn dnsgip(p: Fields<'_>) -> Result<Frame<'_>, Malformed> {
    if let Some(ip) = p.all(Fields::quoted) {
        return Ok(Frame::DnsAddr(ipv4(ip).ok_or(Malformed::Fields)?));
    }
    let (code, count, ttl) = p
        .all(|p| Some((p.u16()?, p.u8()?, p.u32()?)))
        .ok_or(Malformed::Fields)?;
    Ok(Frame::DnsHead {
        result: ResultCode::from_code(code),
        count,
        ttl,
    })
}

/// `+CEREG: <n>,<stat>[,...]` (read) or `+CEREG: <stat>[,"<tac>",...]` (URC).
fn cereg(p: Fields<'_>) -> Result<Frame<'_>, Malformed> {
    // After the first field: anything, a read answer when it starts with a number.
    let (first, after) = p
        .all(|p| Some((p.u8()?, p.rest())))
        .ok_or(Malformed::Fields)?;
    let frame = match after.and_then(|after| Fields::new(after).u8()) {
        Some(stat) => CeReg::Read {
            n: first,
            stat: RegistrationStatus::from_wire(stat),
        },
        None => CeReg::Urc {
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

fn connect_id(n: u8) -> Result<ConnectId, Malformed> {
    ConnectId::new(n).ok_or(Malformed::ConnectId)
}

fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    super::addr::ipv4(s)
}

/// `s` as UTF-8 text. (Out of line: the decoders call it from many places.)
#[inline(never)]
fn text(s: &[u8]) -> Option<&str> {
    core::str::from_utf8(s).ok()
}

#[cfg(test)]
mod tests;
