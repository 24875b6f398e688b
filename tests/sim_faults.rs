//! Each fault switch changes the output in the documented way, and is logged.
#![cfg(feature = "sim")]

mod sim_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use quectel_bc20::sim::{BootStyle, Config, FaultKind, Faults, Rate};
use sim_support::{Item, Modem, Peer, quiet, tcp_echo};

fn with(faults: Faults) -> Config {
    Config { faults, ..quiet() }
}

fn kinds(m: &Modem) -> Vec<FaultKind> {
    m.emu
        .fault_log()
        .events()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn delay_holds_an_answer_back() {
    let mut m = Modem::new(with(Faults {
        delay: Rate::Nth(2),
        delay_range: (Duration::from_millis(80), Duration::from_millis(80)),
        ..Faults::default()
    }));
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
    let t = Instant::now();
    m.send("AT");
    m.expect_silence(Duration::from_millis(50));
    m.expect(b"\r\nOK\r\n");
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(kinds(&m), [FaultKind::Delay(Duration::from_millis(80))]);
    let ev = &m.emu.fault_log().events()[0];
    assert!(ev.at > Duration::ZERO);
}

#[test]
fn chunking_splits_output_into_small_reads() {
    let mut m = Modem::new(with(Faults {
        chunking: Rate::Always,
        chunk_max: 1,
        chunk_gap: Duration::from_millis(3),
        ..Faults::default()
    }));
    m.send("ATI");
    let want = b"\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20JAR01A04\r\n\r\nOK\r\n";
    let mut got = Vec::new();
    let mut reads = 0;
    let mut b = [0u8; 256];
    while got.len() < want.len() {
        let n = m.port.read(&mut b).unwrap_or(0);
        if n > 0 {
            reads += 1;
            got.extend_from_slice(&b[..n]);
        }
    }
    assert_eq!(got, want);
    assert!(reads >= 5, "{reads} reads");
    assert_eq!(
        kinds(&m),
        [
            FaultKind::Chunked {
                len: want.len() - 6,
                chunks: want.len() - 6
            },
            FaultKind::Chunked { len: 6, chunks: 6 }
        ]
    );
}

#[test]
fn noise_lines_land_between_frames_only() {
    let mut m = Modem::new(with(Faults {
        noise: Rate::Always,
        noise_lines: vec!["+CEREG: 1".into()],
        ..Faults::default()
    }));
    m.send("ATI");
    m.expect(
        b"\r\n+CEREG: 1\r\n\r\nQuectel_Ltd\r\nQuectel_BC20\r\nRevision: BC20JAR01A04\r\n\
          \r\n+CEREG: 1\r\n\r\nOK\r\n",
    );
    assert_eq!(kinds(&m), vec![FaultKind::Noise("+CEREG: 1".into()); 2]);
}

#[test]
fn noise_never_breaks_a_payload() {
    let port = tcp_echo();
    let mut m = Modem::new(with(Faults {
        seed: 42,
        noise: Rate::PerMille(400),
        noise_lines: vec![
            "+CEREG: 1".into(),
            "+QNBIOTEVENT: \"ENTER PSM\"".into(),
            "+CSCON: 0".into(),
        ],
        ..Faults::default()
    }));
    sim_support::open(&mut m, 0, "TCP", port, 1);
    let data: Vec<u8> = (0..3000).map(|i| (i * 31 + 5) as u8).collect();
    let mut got = Vec::new();
    let mut noise = 0;
    for c in data.chunks(512) {
        m.send(&format!(
            "AT+QISENDEX=0,{},{}",
            c.len(),
            sim_support::hex(c)
        ));
        for it in m.wait_line(|l| l == "SEND OK") {
            match it {
                Item::Data { data, .. } => got.extend(data),
                Item::Line(l)
                    if l.starts_with("+CEREG")
                        || l.contains("pdpdeact")
                        || l.starts_with("+QNBIOTEVENT")
                        || l.starts_with("+CSCON")
                        || l.starts_with("+IP") =>
                {
                    noise += 1
                }
                Item::Line(_) => {}
            }
        }
    }
    while got.len() < data.len() {
        match m.item() {
            Item::Data { data, .. } => got.extend(data),
            Item::Line(_) => noise += 1,
        }
    }
    assert_eq!(got, data);
    let logged = kinds(&m)
        .iter()
        .filter(|k| matches!(k, FaultKind::Noise(_)))
        .count();
    assert!(
        noise > 0 && noise <= logged,
        "{noise} seen, {logged} logged"
    );
}

#[test]
fn pdpdeact_noise_takes_the_sockets_with_it() {
    let peer = Peer::new();
    let mut m = Modem::new(with(Faults {
        noise: Rate::Nth(3),
        noise_lines: vec!["+QIURC: \"pdpdeact\",1".into()],
        ..Faults::default()
    }));
    let mut s = peer.open(&mut m, 0, 0);
    m.send("AT");
    m.expect(b"\r\n+QIURC: \"pdpdeact\",1\r\n\r\nOK\r\n");
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn open_fail_reports_566_or_561() {
    let peer = Peer::new();
    let mut m = Modem::new(with(Faults {
        seed: 3,
        open_fail: Rate::Always,
        ..Faults::default()
    }));
    m.send(&format!(
        "AT+QIOPEN=1,0,\"TCP\",\"127.0.0.1\",{},0,0",
        peer.port
    ));
    m.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,5");
    let code = m.until(b"\r\n");
    let code: u16 = format!("5{}", String::from_utf8_lossy(&code).trim())
        .parse()
        .unwrap();
    assert!(code == 566 || code == 561);
    assert_eq!(kinds(&m), [FaultKind::OpenFail { id: 0, code }]);
    m.send("AT+QIGETERROR");
    m.until(format!("+QIGETERROR: {code},").as_bytes());
}

#[test]
fn send_fail_sends_nothing() {
    let peer = Peer::new();
    let mut m = Modem::new(with(Faults {
        send_fail: Rate::Nth(1),
        ..Faults::default()
    }));
    let mut s = peer.open(&mut m, 0, 0);
    m.send("AT+QISEND=0,4,lost");
    m.expect(b"\r\nOK\r\n\r\nSEND FAIL\r\n");
    m.send("AT+QISEND=0,4,kept");
    m.expect(b"\r\nOK\r\n\r\nSEND OK\r\n");
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"kept");
    assert_eq!(kinds(&m), [FaultKind::SendFail(0)]);
}

#[test]
fn error_on_a_chosen_command() {
    let mut m = Modem::new(with(Faults {
        error_on: Rate::Nth(2),
        error_on_command: "AT+QICFG".into(),
        ..Faults::default()
    }));
    m.send("AT+QICFG=\"viewmode\"");
    m.expect(b"\r\n+QICFG: \"viewmode\",0\r\n\r\nOK\r\n");
    m.send("AT");
    m.expect(b"\r\nOK\r\n");
    m.send("AT+QICFG=\"viewmode\",1");
    m.expect(b"\r\nERROR\r\n");
    m.send("AT+QICFG=\"viewmode\"");
    m.expect(b"\r\n+QICFG: \"viewmode\",0\r\n\r\nOK\r\n");
    assert_eq!(
        kinds(&m),
        [FaultKind::Error("AT+QICFG=\"viewmode\",1".into())]
    );
}

#[test]
fn peer_close_mid_transfer() {
    let peer = Peer::new();
    let mut m = Modem::new(with(Faults {
        peer_close: Rate::Always,
        ..Faults::default()
    }));
    let mut s = peer.open(&mut m, 1, 1);
    s.write_all(b"part").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",1,4\r\npart\r\n+QIURC: \"closed\",1\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the peer sees the connection end");
    assert_eq!(kinds(&m), [FaultKind::PeerClose(1)]);
}

#[test]
fn buff_full_until_the_host_reads() {
    let peer = Peer::new();
    let mut m = Modem::new(with(Faults {
        buff_full: Rate::Nth(1),
        ..Faults::default()
    }));
    let mut s = peer.open(&mut m, 0, 0);
    s.write_all(b"one").unwrap();
    m.expect(b"\r\n+QIURC: \"recv\",0\r\n\r\n+QIURC: \"recv\",0,\"buff full\"\r\n");
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(b"two").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Nothing more was taken from the network while "full".
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 3\r\none\r\n\r\nOK\r\n");
    std::thread::sleep(Duration::from_millis(20));
    m.send("AT+QIRD=0,512");
    m.expect(b"\r\n+QIRD: 3\r\ntwo\r\n\r\nOK\r\n");
    assert_eq!(kinds(&m), [FaultKind::BuffFull(0)]);
}

#[test]
fn reboot_mid_session_forgets_sockets_keeps_nvram() {
    let peer = Peer::new();
    let mut m = Modem::new(Config {
        boot: BootStyle::BootRom,
        faults: Faults {
            reboot: Rate::Nth(4),
            ..Faults::default()
        },
        ..quiet()
    });
    m.until(b"Leaving the BROM\r\n");
    m.send("AT+QICFG=\"showlength\",1");
    m.expect(b"\r\nOK\r\n");
    let mut s = peer.open(&mut m, 0, 0);
    m.send("AT+QISTATE?");
    m.until(b"\r\n\r\nOK\r\n");
    // The 4th command: boot lines instead of an answer.
    m.send("AT+QISEND=0,2,hi");
    m.expect(b"\r\nF1: 0000 0000\r\n");
    m.until(b"Leaving the BROM\r\n");
    m.send("AT+QISTATE?");
    m.expect(b"\r\nOK\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the connection went down with the module");
    m.send("AT+QICFG=\"showlength\"");
    m.expect(b"\r\n+QICFG: \"showlength\",1\r\n\r\nOK\r\n");
    assert_eq!(kinds(&m), [FaultKind::Reboot]);
}

#[test]
fn line_noise_flips_or_drops_one_byte() {
    for seed in 0..6 {
        let mut m = Modem::new(with(Faults {
            seed,
            line_noise: Rate::Always,
            ..Faults::default()
        }));
        m.send("AT+CPIN?");
        let want = b"\r\n+CPIN: READY\r\n";
        let t = Instant::now();
        while kinds(&m).is_empty() && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let k = kinds(&m);
        let FaultKind::LineNoise { offset, mask } = k[0] else {
            panic!("{k:?}")
        };
        let mut expect = want.to_vec();
        if mask == 0 {
            expect.remove(offset);
        } else {
            expect[offset] ^= mask;
        }
        m.expect(&expect);
    }
}

#[test]
fn same_seed_same_faults() {
    let run = |seed| {
        let mut m = Modem::new(with(Faults {
            seed,
            noise: Rate::PerMille(300),
            delay: Rate::PerMille(300),
            delay_range: (Duration::from_millis(1), Duration::from_millis(3)),
            ..Faults::default()
        }));
        for _ in 0..20 {
            m.send("AT");
        }
        std::thread::sleep(Duration::from_millis(100));
        let out = m.collect_for(Duration::from_millis(50));
        (out, kinds(&m))
    };
    let (a, ka) = run(9);
    let (b, kb) = run(9);
    assert_eq!(a, b);
    assert_eq!(ka, kb);
    assert!(!ka.is_empty());
    let (_, kc) = run(10);
    assert_ne!(ka, kc);
}
