//! Module profiles: the BC20 and its NB-IoT siblings BC26, BC66 and BC660K.
//!
//! The four speak nearly the same TCP/IP dialect (`AT+QIOPEN`, `AT+QISEND`, `AT+QIRD`,
//! `+QIURC: "recv"`, `AT+QICFG` with `dataformat`, `viewmode` and `showlength`). A profile
//! carries only what differs in a way the driver or the emulator must act on, and every
//! difference names its source.
//!
//! | | BC20 | BC26 | BC66 | BC660K |
//! |---|---|---|---|---|
//! | PDP context of TCP/IP commands | 1 | 1 | 1 | **0** |
//! | boot output | boot-ROM lines | boot-ROM lines | boot-ROM lines | **`RDY`** |
//! | `ATI` model line | `Quectel_BC20` | `Quectel_BC26` | `Quectel_BC66` | `Quectel_BC660K-GL` |
//! | `AT+QISEND=<id>,<len>` prompt mode, `AT+QISEND=<id>,0` query | no | no | **yes** | **yes** |
//! | TCP/IP command errors with `AT+CMEE=1` | `+CME ERROR: <err>` | `+CME ERROR: <err>` | **`ERROR`** | **`ERROR`** |
//!
//! Sources, difference by difference:
//!
//! - **Context.** BC20: its TCP/IP manual (`contextID` 1..=3, only 1 supported; spec section 1).
//!   BC26: no source found that differs; taken as the BC20 (same MT2625 platform and manual
//!   family). BC66: Renode's BC66 model accepts context 1 only (`IsValidContextId`). BC660K: a
//!   real capture (`shared/traces/006`: the user's `AT+QPING=0,...`, `+CGDCONT: 0,...` holding
//!   the address while `AT+CGPADDR=1` prints none) and Renode's BC660K model (context 0 only).
//! - **Boot output.** BC20, BC26, BC66 are MT2625 modules, which print the boot ROM's lines
//!   (`F1: 0000 0000` ... `Leaving the BROM`): spec 6.4. (Renode's BC66 model prints `RDY`; the
//!   engine takes either as a reboot, so nothing depends on which.) BC660K: Renode's BC660K
//!   model prints `RDY` at power-up.
//! - **Identity.** BC20: its manuals' model name (the emulator's revision `BC20JAR01A04`).
//!   BC26: Quectel's naming (`Quectel_BC26`); no capture at hand. BC66: real capture
//!   (`shared/traces/001`: `Quectel_BC66`, `Revision: BC66NBR01A10`). BC660K: real capture
//!   (`shared/traces/006`: `Quectel_BC660K-GL`, `Revision: BC660KGLAAR01A05`) and Renode's
//!   model.
//! - **Prompt mode and the send query.** BC20: its manual knows only data inline
//!   (`AT+QISEND=<id>,<len>,<data>`, `send_length` 1..=1024). BC66 and BC660K: Renode's models
//!   (`AT+QISEND=<id>[,<len>]` answers `>` and takes the data; `AT+QISEND=<id>,0` answers
//!   `+QISEND: <sent>,<acked>,<unacked>`). BC26: no source; taken as the BC20. The driver sends
//!   inline on every module (all four take it), so this matters to the emulator and to logs.
//! - **Errors.** BC20: spec section 4 (this project's reading of the manual: `+CME ERROR:
//!   <err>` with the 55x codes once `AT+CMEE=1`). BC66, BC660K: Renode's models answer a failed
//!   TCP/IP command with a plain `ERROR` whatever `AT+CMEE` says (its note: numeric mode "does
//!   not apply to syntax errors, invalid parameter errors"). BC26: taken as the BC20. The
//!   engine accepts both forms from every module (spec 6.15).
//!
//! The same on all four: `AT+QICFG` with `dataformat`, `viewmode` and `showlength` (BC20
//! manual; Renode's BC66 and BC660K models implement all three; BC26 taken as the BC20), so the
//! engine sets them at start-up on every module. Left as they are for all four, for want of a
//! source that says otherwise: the limits
//! (`AT+QIRD` 512 bytes, `AT+QISEND` 1024 text bytes, `AT+QISENDEX` 512 bytes), `AT+QISTATE?`,
//! the `+QIURC: "recv"` forms, sockets 0..=4. Renode's BC660K model also quotes received data
//! (`+QIRD: 5,"hello"`) and lists a `showRA` setting; no manual or capture confirms either, so
//! neither is taken up here.

use crate::types::ContextId;

/// A module of the BC20 family the driver can talk to. The default is the BC20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Module {
    /// Quectel BC20 (MT2625, NB-IoT and GNSS): the module this driver was written for.
    #[default]
    Bc20,
    /// Quectel BC26 (MT2625).
    Bc26,
    /// Quectel BC66 (MT2625).
    Bc66,
    /// Quectel BC660K-GL, the BC66's successor.
    Bc660k,
}

/// What the module prints at power-up and after a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BootOutput {
    /// `RDY`.
    Rdy,
    /// The MT2625 boot ROM's lines (`F1: 0000 0000` ... `Leaving the BROM`).
    BootRom,
}

/// How a module reports a failed TCP/IP command after `AT+CMEE=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorStyle {
    /// `+CME ERROR: <err>` with the TCP/IP error code (550..=574).
    CmeCode,
    /// A plain `ERROR`.
    Plain,
}

/// The differences between modules that matter to the driver and the emulator (see the
/// module docs for the source of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Profile {
    /// The module.
    pub module: Module,
    /// The model as `ATI` prints it (`Quectel_BC20`).
    pub model: &'static str,
    /// A firmware revision as `ATI` and `AT+CGMR` print it (the emulator's).
    pub revision: &'static str,
    /// The PDP context the TCP/IP commands name (`AT+QIOPEN`, `AT+QPING`, `AT+QNTP`,
    /// `AT+QIDNSGIP`, `AT+CGPADDR`).
    pub context: ContextId,
    /// What the module prints at power-up.
    pub boot: BootOutput,
    /// `AT+QISEND=<id>,<len>` without data answers the `> ` prompt, and `AT+QISEND=<id>,0`
    /// answers `+QISEND: <sent>,<acked>,<unacked>`.
    pub prompt_send: bool,
    /// How a failed TCP/IP command is reported after `AT+CMEE=1`.
    pub tcpip_errors: ErrorStyle,
}

impl Module {
    /// Every module, in order.
    pub const ALL: [Module; 4] = [Module::Bc20, Module::Bc26, Module::Bc66, Module::Bc660k];

    /// The module's profile.
    pub const fn profile(self) -> Profile {
        match self {
            Module::Bc20 => Profile {
                module: self,
                model: "Quectel_BC20",
                revision: "BC20JAR01A04",
                context: ContextId::DEFAULT,
                boot: BootOutput::BootRom,
                prompt_send: false,
                tcpip_errors: ErrorStyle::CmeCode,
            },
            Module::Bc26 => Profile {
                module: self,
                model: "Quectel_BC26",
                revision: "BC26NBR01A06",
                context: ContextId::DEFAULT,
                boot: BootOutput::BootRom,
                prompt_send: false,
                tcpip_errors: ErrorStyle::CmeCode,
            },
            Module::Bc66 => Profile {
                module: self,
                model: "Quectel_BC66",
                revision: "BC66NBR01A10",
                context: ContextId::DEFAULT,
                boot: BootOutput::BootRom,
                prompt_send: true,
                tcpip_errors: ErrorStyle::Plain,
            },
            Module::Bc660k => Profile {
                module: self,
                model: "Quectel_BC660K-GL",
                revision: "BC660KGLAAR01A05",
                context: ContextId::ZERO,
                boot: BootOutput::Rdy,
                prompt_send: true,
                tcpip_errors: ErrorStyle::Plain,
            },
        }
    }

    /// The short name: `BC20`, `BC26`, `BC66`, `BC660K`.
    pub const fn name(self) -> &'static str {
        match self {
            Module::Bc20 => "BC20",
            Module::Bc26 => "BC26",
            Module::Bc66 => "BC66",
            Module::Bc660k => "BC660K",
        }
    }

    /// The module a name stands for, case-insensitively (`bc660k`, `BC66`).
    pub fn from_name(name: &str) -> Option<Module> {
        Module::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The module an identification line names (`Quectel_BC660K-GL`, `Revision: BC66NBR01A10`,
    /// `BC20JAR01A04`), if it names one of the four. `BC66` followed by a digit is not the BC66
    /// (`BC660K`).
    pub fn identify(text: &str) -> Option<Module> {
        let up = text.as_bytes();
        let found = |name: &[u8]| {
            up.windows(name.len()).enumerate().any(|(i, w)| {
                w.eq_ignore_ascii_case(name)
                    && !up.get(i + name.len()).is_some_and(u8::is_ascii_digit)
            })
        };
        [Module::Bc660k, Module::Bc20, Module::Bc26, Module::Bc66]
            .into_iter()
            .find(|m| found(m.name().as_bytes()))
    }
}

impl core::fmt::Display for Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an identity check found (see [`Identity::check`](super::Identity::check)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IdentityCheck {
    /// The module named itself as the profile's module.
    Matches,
    /// The module named itself as another module of the family.
    Other(Module),
    /// The module named nothing this driver knows (another Quectel module, or an answer in a
    /// form this driver does not read).
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::Module;

    #[test]
    fn identify_tells_bc66_from_bc660k() {
        assert_eq!(Module::identify("Quectel_BC660K-GL"), Some(Module::Bc660k));
        assert_eq!(Module::identify("BC660KGLAAR01A05"), Some(Module::Bc660k));
        assert_eq!(Module::identify("Quectel_BC66"), Some(Module::Bc66));
        assert_eq!(Module::identify("BC66NBR01A10"), Some(Module::Bc66));
        assert_eq!(Module::identify("Quectel_BC20"), Some(Module::Bc20));
        assert_eq!(Module::identify("BC26NBR01A06"), Some(Module::Bc26));
        assert_eq!(Module::identify("Quectel_Ltd"), None);
        assert_eq!(Module::identify("EC200UCNAAR03A15M08"), None);
        assert_eq!(Module::from_name("bc660k"), Some(Module::Bc660k));
        assert_eq!(Module::from_name("bc67"), None);
    }
}
