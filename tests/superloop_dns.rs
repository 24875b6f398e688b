//! DNS from a slow superloop against a module with every fault on whose answers often come
//! after the lookup's timeout: a lookup returns the address of the name it asked for or a
//! typed error, never another lookup's answer (a late answer is not taken for the next
//! lookup's), and none goes without an answer or an error for longer than the bound. Both
//! polls of a millisecond and of seconds, in virtual time (see `superloop_support`).

mod superloop_support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use embedded_nal::{AddrType, Dns};
use quectel_bc20::sim::{Faults, Rate};
use quectel_bc20::{Error, engine, sim};
use superloop_support::{Rig, Wire, every_fault, stall_bound};

/// Lookups per case.
const LOOKUPS: u32 = 40;

/// The names the emulated network knows, and the first address of each.
fn names() -> Vec<(String, Option<Ipv4Addr>)> {
    (0..6u8)
        .map(|i| (format!("host{i}.test"), Some(Ipv4Addr::new(10, 0, i, 1))))
        .chain([("gone.test".to_string(), None)])
        .collect()
}

fn run(period: u64, seed: u64) -> (u32, u32, BTreeMap<String, u32>) {
    let name = format!("DNS, poll every {period} ms, seed {seed}");
    let names = names();
    let sim_config = sim::Config {
        faults: Faults {
            // Answers late by up to 1.5 s against lookups that give up after 1 s.
            delay: Rate::PerMille(150),
            delay_range: (Duration::ZERO, Duration::from_millis(1_500)),
            ..every_fault(seed)
        },
        dns_overrides: names
            .iter()
            .map(|(n, ip)| {
                let ips = ip.map_or(vec![], |ip| {
                    vec![ip, Ipv4Addr::new(10, 0, ip.octets()[2], 2)]
                });
                (n.clone(), ips)
            })
            .collect(),
        use_host_resolver: false,
        ..sim::Config::default()
    };
    let config = engine::Config {
        dns_timeout_ms: 1_000,
        ..engine::Config::default()
    };
    let mut r = Rig::up_despite_faults(&name, Wire::Continuous, 16 * 1024, sim_config, config);
    let (mut right, mut failed) = (0, 0);
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..LOOKUPS {
        let (host, want) = &names[(i as usize * 5 + seed as usize) % names.len()];
        let start = r.now();
        let got = loop {
            let idle = r.now() - start;
            assert!(
                idle <= stall_bound(period),
                "{name}: STALL: lookup {i} of {host} unanswered for {idle} ms"
            );
            r.work(period);
            match r.d.get_host_by_name(host, AddrType::IPv4) {
                Ok(ip) => break Ok(ip),
                Err(nb::Error::WouldBlock) => {}
                Err(nb::Error::Other(Error::Transport(_))) => {}
                Err(nb::Error::Other(e)) => break Err(e),
            }
        };
        match (got, want) {
            (Ok(ip), Some(want)) => {
                assert_eq!(
                    ip,
                    IpAddr::V4(*want),
                    "{name}: lookup {i} of {host} answered with another name's address"
                );
                right += 1;
            }
            (Ok(ip), None) => panic!("{name}: lookup {i} of {host}, which has no address: {ip}"),
            (Err(e), _) => {
                failed += 1;
                *errors.entry(format!("{e:?}")).or_default() += 1;
            }
        }
    }
    (right, failed, errors)
}

#[test]
fn dns_from_a_slow_superloop_never_takes_a_late_answer_for_the_next_lookup() {
    let (mut right, mut failed) = (0, 0);
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    for period in [1u64, 300, 2_000] {
        for seed in 1..=3u64 {
            let (r, f, e) = run(period, seed * 17 + period);
            eprintln!("{period} ms seed {seed}: {r} right, {f} failed: {e:?}");
            right += r;
            failed += f;
            for (k, v) in e {
                *errors.entry(k).or_default() += v;
            }
        }
    }
    eprintln!("total: {right} right, {failed} failed: {errors:?}");
    // The late answers were met: some lookups timed out.
    assert!(errors.contains_key("Timeout"), "{errors:?}");
    assert!(right > failed, "{right} right, {failed} failed");
}
