//! Layout of each command: the one piece of code that both sizes and writes it.

use super::sink::Sink;
use super::{Command, CommandKind, DEFAULT_NTP_PORT, DEFAULT_PING_COUNT, DEFAULT_PING_TIMEOUT_S};
use crate::types::{ConnectId, ContextId, QiCfg};

impl Command<'_> {
    /// Emit the whole command: name, form suffix, parameters, `\r`.
    pub(super) fn emit(&self, s: &mut dyn Sink) {
        s.put(self.name().as_bytes());
        match self.kind() {
            CommandKind::Test => s.put(b"=?"),
            CommandKind::Read => s.put(b"?"),
            CommandKind::Write => {
                s.put(b"=");
                self.emit_params(s);
            }
            CommandKind::Execute => self.emit_params(s),
        }
        s.put(b"\r");
    }

    /// Emit the parameters after `=` (for the basic command `ATE`, the digit after the name).
    fn emit_params(&self, s: &mut dyn Sink) {
        match *self {
            Command::Echo(on) => s.put(if on { b"1" } else { b"0" }),
            Command::Cmee(n) | Command::CeregSet(n) => s.put_num(n.into()),
            Command::CgpaddrRead(context) => s.put_num(context.get().into()),
            Command::QiOpen {
                context,
                id,
                service,
                remote,
                remote_port,
                local_port,
                access_mode,
            } => {
                s.put_num(context.get().into());
                s.put(b",");
                s.put_num(id.get().into());
                s.put(b",");
                s.put_quoted(service.as_str().as_bytes());
                s.put(b",");
                s.put_quoted(remote.as_bytes());
                s.put(b",");
                s.put_num(remote_port.into());
                s.put(b",");
                s.put_num(local_port.into());
                s.put(b",");
                s.put_num(access_mode.wire().into());
            }
            Command::QiClose(id) => s.put_num(id.get().into()),
            Command::QiStateByContext(context) => {
                s.put(b"0,");
                s.put_num(context.get().into());
            }
            Command::QiStateById(id) => {
                s.put(b"1,");
                s.put_num(id.get().into());
            }
            Command::QiSend { id, data } => {
                emit_id_len(s, id, data.len());
                s.put(b",");
                s.put(data);
            }
            Command::QiSendEx { id, data } => {
                emit_id_len(s, id, data.len());
                s.put(b",");
                s.put_hex(data);
            }
            Command::QiRd { id, len } => emit_id_len(s, id, len.into()),
            Command::QiSwtmd { id, mode } => {
                s.put_num(id.get().into());
                s.put(b",");
                s.put_num(mode.wire().into());
            }
            Command::QPing {
                context,
                host,
                timeout_s,
                count,
                size,
            } => {
                emit_context_host(s, context, host);
                // Each optional value is written when it or a later one is given.
                if timeout_s.is_some() || count.is_some() || size.is_some() {
                    s.put(b",");
                    s.put_num(timeout_s.unwrap_or(DEFAULT_PING_TIMEOUT_S).into());
                }
                if count.is_some() || size.is_some() {
                    s.put(b",");
                    s.put_num(count.unwrap_or(DEFAULT_PING_COUNT).into());
                }
                if let Some(size) = size {
                    s.put(b",");
                    s.put_num(size.into());
                }
            }
            Command::QNtp {
                context,
                server,
                port,
                auto_set,
            } => {
                emit_context_host(s, context, server);
                if port.is_some() || auto_set.is_some() {
                    s.put(b",");
                    s.put_num(port.unwrap_or(DEFAULT_NTP_PORT).into());
                }
                if let Some(auto_set) = auto_set {
                    s.put(if auto_set { b",1" } else { b",0" });
                }
            }
            Command::QiDnsGip { context, host } => emit_context_host(s, context, host),
            Command::QiCfgSet(cfg) => {
                s.put_quoted(cfg.key().as_str().as_bytes());
                match cfg {
                    QiCfg::DataFormat { send, recv } => {
                        s.put(b",");
                        s.put_num(send.wire().into());
                        s.put(b",");
                        s.put_num(recv.wire().into());
                    }
                    QiCfg::ViewMode(mode) => {
                        s.put(b",");
                        s.put_num(mode.wire().into());
                    }
                    QiCfg::ShowLength(on) => s.put(if on { b",1" } else { b",0" }),
                }
            }
            Command::QiCfgQuery(key) => s.put_quoted(key.as_str().as_bytes()),
            _ => {}
        }
    }
}

/// `<id>,<n>`. `n` is at most 1024 here (validated), so it always fits a `u32`.
/// `AT+QISEND=<id>,<len>,` or `AT+QISENDEX=<id>,<len>,`: what precedes the data.
pub(super) fn send_head(s: &mut dyn Sink, id: ConnectId, len: usize, hex: bool) {
    s.put(if hex { b"AT+QISENDEX=" } else { b"AT+QISEND=" });
    emit_id_len(s, id, len);
    s.put(b",");
}

fn emit_id_len(s: &mut dyn Sink, id: ConnectId, n: usize) {
    s.put_num(id.get().into());
    s.put(b",");
    s.put_num(u32::try_from(n).unwrap_or(u32::MAX));
}

/// `<context>,"<host>"`.
fn emit_context_host(s: &mut dyn Sink, context: ContextId, host: &str) {
    s.put_num(context.get().into());
    s.put(b",");
    s.put_quoted(host.as_bytes());
}
