//! Executing typed host commands: the bring-up set, `AT+QICFG`, `AT+QIGETERROR`, and the
//! dispatch to the socket and service handlers.

use std::format;
use std::string::String;
use std::time::Instant;
use std::vec::Vec;

use super::Sim;
use super::commands::{CfgReq, Command};
use crate::types::QiError;

impl Sim {
    pub(crate) fn execute(&mut self, now: Instant, cmd: Command) -> Result<(), QiError> {
        match cmd {
            Command::At => self.ok(now),
            Command::Echo(on) => {
                self.nvram.echo = on;
                self.ok(now);
            }
            Command::Reset => {
                self.nvram.echo = true;
                self.cmee = 0;
                self.ok(now);
            }
            Command::Ident => {
                let lines = [
                    String::from("Quectel_Ltd"),
                    String::from(self.cfg.module.profile().model),
                    format!("Revision: {}", self.cfg.revision),
                ];
                self.info_ok(now, &lines);
            }
            Command::Revision => {
                let l = format!("Revision: {}", self.cfg.revision);
                self.info_ok(now, &[l]);
            }
            Command::Reboot => self.reboot(now),
            Command::CmeeSet(n) => {
                self.cmee = n;
                self.ok(now);
            }
            Command::CmeeRead => self.info_ok(now, &[format!("+CMEE: {}", self.cmee)]),
            Command::CpinRead => self.info_ok(now, &[String::from("+CPIN: READY")]),
            Command::CeregSet(n) => {
                self.cereg_n = n;
                self.ok(now);
            }
            Command::CeregRead => {
                let l = format!("+CEREG: {},{}", self.cereg_n, self.cfg.registration.wire());
                self.info_ok(now, &[l]);
            }
            Command::CgattRead => {
                let att = u8::from(self.cfg.registration.is_registered());
                self.info_ok(now, &[format!("+CGATT: {att}")]);
            }
            Command::Cgpaddr(cid) => {
                let pdp = self.cfg.module.profile().context.get();
                match cid {
                    None => {
                        let l = format!("+CGPADDR: {pdp},{}", self.cfg.ip_address);
                        self.info_ok(now, &[l]);
                    }
                    Some(c) if c == pdp => {
                        let l = format!("+CGPADDR: {pdp},{}", self.cfg.ip_address);
                        self.info_ok(now, &[l]);
                    }
                    // A context without an address: the BC660K names it and prints none
                    // (`shared/traces/006`); the BC20 prints nothing.
                    Some(c) if self.cfg.module == crate::engine::Module::Bc660k => {
                        self.info_ok(now, &[format!("+CGPADDR: {c}")]);
                    }
                    Some(_) => self.ok(now),
                }
            }
            Command::Test(lines) => {
                let lines: Vec<String> = lines.iter().map(|s| String::from(*s)).collect();
                self.info_ok(now, &lines);
            }
            Command::QiCfg(req) => self.qicfg(now, req),
            Command::QiGetError => {
                let text = match QiError::from_code(self.last_error) {
                    Some(e) => format!("{}", e.module_text()),
                    None => String::from("operation successful"),
                };
                let l = format!("+QIGETERROR: {},{}", self.last_error, text);
                self.info_ok(now, &[l]);
            }
            Command::QiSwtmdRead => self.ok(now),
            Command::QiOpen(req) => self.qiopen(now, req),
            Command::QiClose(id) => self.qiclose(now, id.index()),
            Command::QiState(q) => self.qistate(now, q),
            Command::QiSend { id, data } => return self.qisend(now, id.index(), data),
            Command::QiSendPrompt { id, len } if self.cfg.module.profile().prompt_send => {
                return self.qisend_prompt(now, id.index(), len);
            }
            Command::QiSendQuery(id) if self.cfg.module.profile().prompt_send => {
                return self.qisend_query(now, id.index());
            }
            // The BC20 and BC26 take data inline only (`send_length` 1..=1024).
            Command::QiSendPrompt { .. } | Command::QiSendQuery(_) => {
                return Err(QiError::InvalidParameters);
            }
            Command::QiRd { id, len } => return self.qird(now, id.index(), len),
            Command::QiSwtmd { id, mode } => return self.qiswtmd(now, id.index(), mode),
            Command::QPing {
                host,
                timeout_s,
                count,
                size,
            } => return self.qping(now, host, timeout_s, count, size),
            Command::QNtp { server, port } => return self.qntp(now, server, port),
            Command::QiDnsGip(host) => return self.qidnsgip(now, host),
        }
        Ok(())
    }

    fn qicfg(&mut self, now: Instant, req: CfgReq) {
        // A query prints the setting; a write answers just OK (as the manual's chapter 4
        // exchanges show), or the new setting and OK (as its command table reads) when
        // `Config::qicfg_write_prints_setting` says so.
        let (key, write) = match req {
            CfgReq::DataFormat(v) => {
                if let Some((s, r)) = v {
                    self.nvram.send_format = s;
                    self.nvram.recv_format = r;
                }
                ("dataformat", v.is_some())
            }
            CfgReq::ViewMode(v) => {
                if let Some(v) = v {
                    self.nvram.view_mode = v;
                }
                ("viewmode", v.is_some())
            }
            CfgReq::ShowLength(v) => {
                if let Some(v) = v {
                    self.nvram.show_length = v;
                }
                ("showlength", v.is_some())
            }
        };
        if write && !self.cfg.qicfg_write_prints_setting {
            self.ok(now);
            return;
        }
        let value = match key {
            "dataformat" => format!(
                "{},{}",
                self.nvram.send_format.wire(),
                self.nvram.recv_format.wire()
            ),
            "viewmode" => format!("{}", self.nvram.view_mode.wire()),
            _ => format!("{}", u8::from(self.nvram.show_length)),
        };
        self.info_ok(now, &[format!("+QICFG: \"{key}\",{value}")]);
    }
}
