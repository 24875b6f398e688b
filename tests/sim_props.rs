//! Properties of the emulator's command side: any chunking of the host's bytes gives the same
//! module output, and no input makes it panic or stop answering.
#![cfg(feature = "sim")]

use std::time::Instant;

use proptest::prelude::*;
use quectel_bc20::sim::{BootStyle, Config, Sim};

fn sim() -> Sim {
    Sim::new(Config {
        boot: BootStyle::Silent,
        use_host_resolver: false,
        ..Config::default()
    })
}

fn drain(s: &mut Sim, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    s.tick(now);
    loop {
        let n = s.poll_output(now, &mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Commands whose answers need no network.
const LINES: &[&str] = &[
    "AT",
    "ATE0",
    "ATE1",
    "ATZ",
    "ATI",
    "AT+CMEE=1",
    "AT+CMEE=2",
    "AT+CMEE=0",
    "AT+CPIN?",
    "AT+CEREG?",
    "AT+CEREG=3",
    "AT+CGATT?",
    "AT+CGPADDR=1",
    "AT+QICFG=\"viewmode\",1",
    "AT+QICFG=\"dataformat\"",
    "AT+QICFG=\"showlength\",1",
    "AT+QICFG=?",
    "AT+QIGETERROR",
    "AT+QISTATE?",
    "AT+QISTATE=1,3",
    "AT+QIRD=0,512",
    "AT+QISEND=1,5,hello",
    "AT+QISENDEX=0,2,ZZZZ",
    "AT+QIOPEN=1,\"UDP\",\"1.2.3.4\",8063,0,1",
    "AT+QIOPEN=2,0,\"TCP\",\"1.2.3.4\",80",
    "AT+QICLOSE=3",
    "AT+QISWTMD=2,1",
    "AT+QFOO",
    "",
    "garbage",
];

fn script() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..LINES.len(), 1..25).prop_map(|ix| {
        let mut b = Vec::new();
        for i in ix {
            b.extend_from_slice(LINES[i].as_bytes());
            b.push(b'\r');
        }
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_chunking_gives_the_same_output(script in script(), cuts in prop::collection::vec(1usize..16, 1..64)) {
        let now = Instant::now();
        let mut whole = sim();
        assert_eq!(whole.handle_host_bytes(now, &script), script.len());
        let want = drain(&mut whole, now);

        let mut pieces = sim();
        let mut rest = script.as_slice();
        let mut got = Vec::new();
        for c in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*c).min(rest.len());
            pieces.handle_host_bytes(now, &rest[..n]);
            rest = &rest[n..];
            got.extend(drain(&mut pieces, now));
        }
        got.extend(drain(&mut pieces, now));
        prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
    }

    #[test]
    fn garbage_never_breaks_it(bytes in prop::collection::vec(any::<u8>().prop_filter("no quotes", |b| *b != b'"'), 0..3000)) {
        // Without quotes no host name can be given, so nothing leaves the machine.
        let now = Instant::now();
        let mut s = sim();
        s.handle_host_bytes(now, &bytes);
        drain(&mut s, now);
        s.handle_host_bytes(now, b"\rATE0\rAT\r");
        let out = drain(&mut s, now);
        prop_assert!(out.ends_with(b"\r\nOK\r\n"), "{:?}", String::from_utf8_lossy(&out));
    }
}
