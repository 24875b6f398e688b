//! Module profiles (issue 13): what the emulator prints as a BC26, BC66 or BC660K, what the
//! engine sends for each, and the identity check at bring-up.
#![cfg(feature = "sim")]

mod engine_support;
mod sim_support;

use std::time::Duration;

use engine_support::Rig;
use quectel_bc20::ServiceType;
use quectel_bc20::engine::{Config as EngineConfig, Event, IdentityCheck, Module, Request};
use quectel_bc20::sim::{BootStyle, Config, Nvram};
use quectel_bc20::wire::{Frame, ParseContext, Parser};
use sim_support::{Modem, tcp_echo};

/// A quiet emulator of `module`: no boot lines, echo off.
fn quiet(module: Module) -> Config {
    Config {
        boot: BootStyle::Silent,
        nvram: Nvram {
            echo: false,
            ..Nvram::default()
        },
        ..Config::for_module(module)
    }
}

#[test]
fn each_profile_boots_and_names_itself() {
    for module in Module::ALL {
        let p = module.profile();
        let mut m = Modem::new(Config::for_module(module));
        let boot = m.until(b"\r\n");
        let boot = [boot, m.collect_for(Duration::from_millis(100))].concat();
        let mut parser = Parser::new(ParseContext::default());
        let mut frames = Vec::new();
        parser.feed(&boot, |f| frames.push(format!("{f:?}")));
        match p.boot {
            quectel_bc20::engine::BootOutput::Rdy => assert!(frames.contains(&"Ready".into())),
            quectel_bc20::engine::BootOutput::BootRom => {
                assert!(
                    frames.iter().any(|f| f.starts_with("BootRom")),
                    "{frames:?}"
                )
            }
        }
        m.send("ATE0");
        m.until(b"OK\r\n");
        m.send("ATI");
        let ati = m.until(b"OK\r\n");
        let text = String::from_utf8_lossy(&ati).into_owned();
        assert!(text.contains(p.model), "{module}: {text}");
        assert!(text.contains(p.revision), "{module}: {text}");
        assert_eq!(
            text.lines().find_map(Module::identify),
            Some(module),
            "{text}"
        );
    }
}

#[test]
fn bc660k_takes_context_0_only() {
    let mut m = Modem::new(quiet(Module::Bc660k));
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    // The BC20's context is refused, with a plain ERROR (the code stays for AT+QIGETERROR).
    m.send("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",80");
    m.expect(b"\r\nERROR\r\n");
    m.send("AT+QIGETERROR");
    m.expect(b"\r\n+QIGETERROR: 555,operation not supported\r\n\r\nOK\r\n");
    m.send("AT+QIDNSGIP=1,\"localhost\"");
    m.expect(b"\r\nERROR\r\n");
    // The address belongs to context 0; context 1 has none (shared/traces/006).
    m.send("AT+CGPADDR=1");
    m.expect(b"\r\n+CGPADDR: 1\r\n\r\nOK\r\n");
    m.send("AT+CGPADDR=0");
    m.expect(b"\r\n+CGPADDR: 0,10.0.0.2\r\n\r\nOK\r\n");
    // The BC20 keeps its own: context 0 is out of its syntax.
    let mut b = Modem::new(quiet(Module::Bc20));
    b.send("AT+CMEE=1");
    b.expect(b"\r\nOK\r\n");
    b.send("AT+QIOPEN=0,0,\"TCP\",\"127.0.0.1\",80");
    b.expect(b"\r\n+CME ERROR: 552\r\n");
}

#[test]
fn prompt_mode_and_send_counters_on_bc66_and_bc660k() {
    for module in [Module::Bc66, Module::Bc660k] {
        let port = tcp_echo();
        let mut m = Modem::new(quiet(module));
        let ctx = module.profile().context.get();
        m.ok(&format!(
            "AT+QIOPEN={ctx},0,\"TCP\",\"127.0.0.1\",{port},0,0"
        ));
        m.wait_line(|l| l.starts_with("+QIOPEN:"));
        m.send("AT+QISEND=0,5");
        // The prompt, and nothing after it until the data comes.
        m.expect(b"\r\n> ");
        m.send_bytes(b"he\r\nO");
        let out = m.until(b"SEND OK\r\n");
        let mut parser = Parser::new(ParseContext::default());
        let mut frames = Vec::new();
        parser.feed(&out, |f| frames.push(f));
        let frames: Vec<Frame<'_>> = frames;
        assert!(frames.contains(&Frame::Ok), "{frames:?}");
        assert!(frames.contains(&Frame::SendOk), "{frames:?}");
        // The echo comes back (its URC may come at any point from now on).
        std::thread::sleep(Duration::from_millis(200));
        let urc = m.collect_for(Duration::from_millis(50));
        m.send("AT+QISEND=0,0");
        m.expect(b"\r\n+QISEND: 5,5,0\r\n\r\nOK\r\n");
        m.send("AT+QIRD=0,512");
        let read = [out, urc, m.until(b"OK\r\n")].concat();
        let text = String::from_utf8_lossy(&read);
        assert!(text.contains("+QIURC: \"recv\",0"), "{module}: {text}");
        assert!(text.contains("+QIRD: 5\r\nhe\r\nO"), "{module}: {text}");
    }
    // The BC20 has neither (its `send_length` is 1..=1024, with the data inline).
    let mut m = Modem::new(quiet(Module::Bc20));
    m.send("AT+CMEE=1");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QISEND=0,5");
    m.expect(b"\r\n+CME ERROR: 552\r\n");
    m.send("AT+QISEND=0,0");
    m.expect(b"\r\n+CME ERROR: 552\r\n");
    let mut m = Modem::new(quiet(Module::Bc20));
    m.send("AT+QISEND=0,5");
    m.expect(b"\r\nERROR\r\n");
    m.send("AT+QISEND=0,0");
    m.expect(b"\r\nERROR\r\n");
}

/// The engine names the profile's context in every command that takes one.
#[test]
fn engine_names_the_profile_context() {
    let mut r = Rig::new(EngineConfig {
        module: Module::Bc660k,
        ..EngineConfig::default()
    });
    r.bring_up();
    let id = r.e.allocate(ServiceType::Tcp).unwrap();
    r.e.open(id, "127.0.0.1", 80).unwrap();
    r.expect("AT+QIOPEN=0,0,\"TCP\",\"127.0.0.1\",80,0,0");
    r.rx("\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    let t = r.e.start(Request::Dns("example.com")).unwrap();
    r.expect("AT+QIDNSGIP=0,\"example.com\"");
    r.rx("\r\nOK\r\n\r\n+QIURC: \"dnsgip\",0,1,600\r\n\r\n+QIURC: \"dnsgip\",\"1.2.3.4\"\r\n");
    assert!(r.e.take_reply(t).is_some_and(|r| r.is_ok()));
    let t = r.e.start(Request::Address).unwrap();
    r.expect("AT+CGPADDR=0");
    r.rx("\r\n+CGPADDR: 0,10.0.0.7\r\n\r\nOK\r\n");
    assert!(r.e.take_reply(t).is_some_and(|r| r.is_ok()));
    r.e.start(Request::Ping {
        host: "1.2.3.4",
        timeout_s: 1,
        count: 1,
        size: 32,
    })
    .unwrap();
    r.expect("AT+QPING=0,\"1.2.3.4\",1,1,32");
}

/// An `ATI` answer against the profile: a match is quiet, another module or none known is a
/// warning event, never an error.
#[test]
fn identity_check_warns_on_a_mismatch() {
    let cases: [(Module, &str, IdentityCheck); 4] = [
        (
            Module::Bc660k,
            "\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n",
            IdentityCheck::Matches,
        ),
        (
            Module::Bc20,
            "\r\nQuectel_Ltd\r\nQuectel_BC66\r\nRevision: BC66NBR01A10\r\n\r\nOK\r\n",
            IdentityCheck::Other(Module::Bc66),
        ),
        (
            Module::Bc66,
            "\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n",
            IdentityCheck::Other(Module::Bc660k),
        ),
        // An EC200U answers ATI in a form of its own (shared/traces/022).
        (
            Module::Bc20,
            "\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A15M08\r\n\r\nOK\r\n",
            IdentityCheck::Unknown,
        ),
    ];
    for (module, answer, want) in cases {
        let mut r = Rig::new(EngineConfig {
            module,
            ..EngineConfig::default()
        });
        r.bring_up();
        while r.e.poll_event().is_some() {}
        let t = r.e.start(Request::Identify).unwrap();
        r.expect("ATI");
        r.rx(answer);
        assert!(
            r.e.take_reply(t).is_some_and(|r| r.is_ok()),
            "never an error"
        );
        assert_eq!(r.e.identity(), Some(want));
        let events: Vec<Event> = std::iter::from_fn(|| r.e.poll_event()).collect();
        let warned = events
            .iter()
            .any(|e| matches!(e, Event::ModuleMismatch { expected, .. } if *expected == module));
        assert_eq!(warned, want != IdentityCheck::Matches, "{events:?}");
    }
}

/// A read answered in the UDP-service form: the data goes to the socket like a `+QIRD`
/// payload.
#[test]
fn engine_takes_the_udp_service_read_form() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0,5\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 5,\"10.7.0.1\",5000\r\nhe\r\nO\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), b"he\r\nO");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 0\r\n\r\nOK\r\n");
    r.idle();
}

/// A push in the UDP-service form goes to the socket like any push.
#[test]
fn engine_takes_the_udp_service_push_form() {
    let mut r = Rig::new(EngineConfig {
        access_mode: quectel_bc20::AccessMode::DirectPush,
        ..EngineConfig::default()
    });
    r.bring_up();
    let id = r.e.allocate(ServiceType::Tcp).unwrap();
    r.e.open(id, "127.0.0.1", 8062).unwrap();
    r.expect("AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",8062,0,1");
    r.rx("\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    r.rx("\r\n+QIURC: \"recv\",0,3,\"10.7.0.1\",5000\r\nabc\r\n");
    assert_eq!(r.recv_all(id), b"abc");
}

/// Byte counts instead of data: the read got nothing, and is tried again, not taken as done.
#[test]
fn engine_retries_a_read_answered_with_byte_counts() {
    let mut r = Rig::ready();
    let id = r.open();
    r.rx("\r\n+QIURC: \"recv\",0,5\r\n");
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 5,0,5\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), b"");
    r.advance(1_000);
    r.expect("AT+QIRD=0,512");
    r.rx("\r\n+QIRD: 5,0\r\nhello\r\n\r\nOK\r\n");
    assert_eq!(r.recv_all(id), b"hello");
}

/// A `> ` prompt or a `+QISEND` count line ends no command: the send still waits for its
/// `OK` and `SEND OK`.
#[test]
fn prompt_and_send_counts_end_no_command() {
    let mut r = Rig::ready();
    let id = r.open();
    r.e.send(id, b"hi").unwrap();
    r.expect("AT+QISENDEX=0,2,6869");
    r.rx("\r\n> ");
    r.rx("\r\n+QISEND: 2,0,2\r\n");
    assert_eq!(r.e.take_send_result(id), None, "not done by the prompt");
    r.rx("\r\nOK\r\n\r\nSEND OK\r\n");
    assert_eq!(r.e.take_send_result(id), Some(Ok(2)));
}
