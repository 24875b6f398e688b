//! Bring-up commands, echo, framing, boot output and NVRAM across reboots.
#![cfg(feature = "sim")]

mod sim_support;

use std::time::Duration;

use quectel_bc20::sim::{BootStyle, Config, Nvram};
use sim_support::{Modem, quiet};

#[test]
fn echo_is_on_at_power_up_and_ate0_is_still_echoed() {
    let mut m = Modem::new(Config {
        boot: BootStyle::Silent,
        ..Config::default()
    });
    m.send("AT");
    m.expect(b"AT\r\r\nOK\r\n");
    m.send("ATE0");
    m.expect(b"ATE0\r\r\nOK\r\n");
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
    // ATZ turns echo back on; the next command is echoed again.
    m.send("ATZ");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+CPIN?");
    m.expect(b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n");
}

#[test]
fn bring_up_answers_as_the_traces_show() {
    let mut m = Modem::new(quiet());
    m.send("ATI");
    m.expect(b"\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20JAR01A04\r\n\r\nOK\r\n");
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+CMEE?");
    m.expect(b"\r\n+CMEE: 1\r\n\r\nOK\r\n");
    m.send("AT+CEREG?");
    m.expect(b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
    m.send("AT+CEREG=2");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+CEREG?");
    m.expect(b"\r\n+CEREG: 2,1\r\n\r\nOK\r\n");
    m.send("AT+CGATT?");
    m.expect(b"\r\n+CGATT: 1\r\n\r\nOK\r\n");
    m.send("AT+CGPADDR=1");
    m.expect(b"\r\n+CGPADDR: 1,10.0.0.2\r\n\r\nOK\r\n");
    m.send("AT+CGMR");
    m.expect(b"\r\nRevision: BC20JAR01A04\r\n\r\nOK\r\n");
    // A host that ends lines with \r\n is fine too.
    m.send_bytes(b"AT\r\n");
    m.expect(b"\r\nOK\r\n");
}

#[test]
fn unknown_commands_and_bad_bring_up_parameters_are_plain_error() {
    let mut m = Modem::new(quiet());
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    for cmd in ["AT+QTEMP", "hello", "AT+CEREG=9", "ATX9", "AT+QIRD"] {
        m.send(cmd);
        m.expect(b"\r\nERROR\r\n");
    }
}

#[test]
fn boot_styles() {
    let mut m = Modem::new(Config::default());
    m.expect(b"\r\nRDY\r\n");
    let mut m = Modem::new(Config {
        boot: BootStyle::BootRom,
        ..Config::default()
    });
    m.expect(
        b"\r\nF1: 0000 0000\r\n\r\nV0: 0000 0000 [0001]\r\n\r\n00: 1006 0004\r\n\
          \r\n01: 0000 0000\r\n\r\nU0: 0000 0001 [0000]\r\n\r\nT0: 0000 00B4\r\n\
          \r\nLeaving the BROM\r\n",
    );
    m.expect_silence(Duration::from_millis(30));
}

#[test]
fn nvram_settings_survive_a_reboot_but_cmee_does_not() {
    let mut m = Modem::new(Config {
        boot: BootStyle::Rdy,
        ..Config::default()
    });
    m.expect(b"\r\nRDY\r\n");
    m.send("ATE0");
    m.expect(b"ATE0\r\r\nOK\r\n");
    for c in [
        "AT+QICFG=\"dataformat\",1,1",
        "AT+QICFG=\"viewmode\",1",
        "AT+QICFG=\"showlength\",1",
        "AT+CMEE=1",
    ] {
        m.send(c);
        m.expect(b"\r\nOK\r\n");
    }
    m.send("AT+QRST=1");
    m.expect(b"\r\nRDY\r\n");
    assert_eq!(
        m.emu.nvram(),
        Nvram {
            echo: false,
            send_format: quectel_bc20::DataFormat::Hex,
            recv_format: quectel_bc20::DataFormat::Hex,
            view_mode: quectel_bc20::ViewMode::HeaderCommaData,
            show_length: true,
        }
    );
    // Echo stays off; QICFG settings stay; CMEE is back to 0 (plain ERROR).
    m.send("AT+QICFG=\"dataformat\"");
    m.expect(b"\r\n+QICFG: \"dataformat\",1,1\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"viewmode\"");
    m.expect(b"\r\n+QICFG: \"viewmode\",1\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"showlength\"");
    m.expect(b"\r\n+QICFG: \"showlength\",1\r\n\r\nOK\r\n");
    m.send("AT+QICLOSE=9");
    m.expect(b"\r\nERROR\r\n");
    // The same through the emulator handle.
    m.emu.reboot();
    m.expect(b"\r\nRDY\r\n");
    m.send("AT+QICFG=\"viewmode\"");
    m.expect(b"\r\n+QICFG: \"viewmode\",1\r\n\r\nOK\r\n");
}

#[test]
fn first_command_after_sleep_gets_a_bare_line_end() {
    let mut m = Modem::new(Config {
        sleep_after: Some(Duration::from_millis(300)),
        ..quiet()
    });
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
    std::thread::sleep(Duration::from_millis(400));
    m.send("AT");
    m.expect(b"\r\n");
    m.expect_silence(Duration::from_millis(30));
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
}

#[test]
fn test_forms_answer_as_the_manual_prints_them() {
    let mut m = Modem::new(quiet());
    let cases: &[(&str, &[u8])] = &[
        (
            "AT+QIOPEN=?",
            b"\r\n+QIOPEN: (1-3),(0-4),\"TCP/UDP\",\"<ip_address>/<domain_name>\",<remote_port>,<local_port>,(0-1)[,(0-1)]\r\n\r\nOK\r\n",
        ),
        ("AT+QICLOSE=?", b"\r\n+QICLOSE: (0-4)\r\n\r\nOK\r\n"),
        ("AT+QISTATE=?", b"\r\nOK\r\n"),
        ("AT+QISEND=?", b"\r\n+QISEND: (0-4),(1-1024),<data>\r\n\r\nOK\r\n"),
        ("AT+QISENDEX=?", b"\r\n+QISENDEX: (0-4),(1-512),<hex_string>\r\n\r\nOK\r\n"),
        ("AT+QIRD=?", b"\r\n+QIRD: (0-4),(1-512)\r\n\r\nOK\r\n"),
        ("AT+QISWTMD=?", b"\r\n+QISWTMD: (0-4),(0-1)\r\n\r\nOK\r\n"),
        ("AT+QISWTMD?", b"\r\nOK\r\n"),
        (
            "AT+QPING=?",
            b"\r\n+QPING: (1-3),\"<host>\"[,(1-255)[,(1-10)[,(32-200)]]]\r\n\r\nOK\r\n",
        ),
        ("AT+QNTP=?", b"\r\n+QNTP: (1-3),\"<server>\"[,<port>[,(0-1)]]\r\n\r\nOK\r\n"),
        ("AT+QIDNSGIP=?", b"\r\n+QIDNSGIP: (1-3),\"<hostname>\"\r\n\r\nOK\r\n"),
        (
            "AT+QICFG=?",
            b"\r\n+QICFG: \"dataformat\",(0,1),(0,1)\r\n+QICFG: \"viewmode\",(0,1)\r\n+QICFG: \"showlength\",(0,1)\r\n\r\nOK\r\n",
        ),
        ("AT+QIGETERROR=?", b"\r\nOK\r\n"),
    ];
    for (cmd, want) in cases {
        m.send(cmd);
        m.expect(want);
    }
    // No socket: AT+QISTATE? lists nothing.
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
}

#[test]
fn qicfg_write_answers_ok_or_the_setting() {
    let mut m = Modem::new(quiet());
    m.send("AT+QICFG=\"dataformat\",1,1");
    m.expect(b"\r\nOK\r\n");
    let mut m = Modem::new(Config {
        qicfg_write_prints_setting: true,
        ..quiet()
    });
    m.send("AT+QICFG=\"dataformat\",0,1");
    m.expect(b"\r\n+QICFG: \"dataformat\",0,1\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"viewmode\",1");
    m.expect(b"\r\n+QICFG: \"viewmode\",1\r\n\r\nOK\r\n");
    m.send("AT+QICFG=\"showlength\",1");
    m.expect(b"\r\n+QICFG: \"showlength\",1\r\n\r\nOK\r\n");
}

#[test]
fn a_booting_module_is_not_listening() {
    use quectel_bc20::sim::Sim;
    use std::time::Instant;
    let drain = |s: &mut Sim| {
        let now = Instant::now();
        s.tick(now);
        let mut out = Vec::new();
        let mut b = [0u8; 64];
        loop {
            let n = s.poll_output(now, &mut b);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&b[..n]);
        }
    };
    for listen in [false, true] {
        let mut s = Sim::new(Config {
            listen_while_booting: listen,
            nvram: Nvram {
                echo: false,
                ..Nvram::default()
            },
            ..Config::default()
        });
        assert!(s.is_booting());
        s.handle_host_bytes(Instant::now(), b"AT\r");
        let out = drain(&mut s);
        assert!(!s.is_booting());
        if listen {
            assert_eq!(out, b"\r\nRDY\r\n\r\nOK\r\n");
        } else {
            assert_eq!(out, b"\r\nRDY\r\n", "the AT was lost");
        }
        s.handle_host_bytes(Instant::now(), b"AT\r");
        assert_eq!(drain(&mut s), b"\r\nOK\r\n");
    }
}

#[test]
fn registration_changes_and_pdp_loss_on_demand() {
    use quectel_bc20::RegistrationStatus;
    let peer = sim_support::Peer::new();
    let mut m = Modem::new(quiet());
    // Without AT+CEREG=1 a change is only visible on request.
    m.emu.set_registration(RegistrationStatus::Searching);
    m.expect_silence(Duration::from_millis(20));
    m.send("AT+CEREG?");
    m.expect(b"\r\n+CEREG: 0,2\r\n\r\nOK\r\n");
    m.send("AT+CGATT?");
    m.expect(b"\r\n+CGATT: 0\r\n\r\nOK\r\n");
    m.send("AT+CEREG=1");
    m.expect(b"\r\nOK\r\n");
    m.emu.set_registration(RegistrationStatus::Roaming);
    m.expect(b"\r\n+CEREG: 5\r\n");
    // PDP loss takes every socket with it.
    let mut s = peer.open(&mut m, 0, 0);
    m.emu.pdp_deactivate();
    m.expect(b"\r\n+QIURC: \"pdpdeact\",1\r\n");
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut rest).unwrap();
    assert!(rest.is_empty());
}
