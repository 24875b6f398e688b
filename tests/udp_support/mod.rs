//! Shared by the UDP fault tests: numbered datagrams whose content follows from their number,
//! and an echo server that counts how often each number reached it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::thread;

/// `len` bytes from a seeded linear congruential generator (its top byte): every byte value.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// Datagram `seq` of a case: its number, then bytes drawn from it, between 4 and 512 bytes in
/// all. Some carry module output inside them (a datagram is framed by its length, never by
/// what it holds).
pub fn datagram(case: u64, seq: u32) -> Vec<u8> {
    let mut d = seq.to_le_bytes().to_vec();
    let len = 1 + (bytes(2, case * 7919 + u64::from(seq))[0] as usize * 2).min(507);
    d.extend(bytes(len, case * 1_000_003 + u64::from(seq)));
    if seq % 5 == 1 {
        let fake = b"\r\nSEND OK\r\n+QIURC: \"recv\",0,4\r\nOK\r\n";
        let at = (d.len() - 4).min(8);
        d.splice(4 + at..4 + at, fake.iter().copied());
        d.truncate(512);
    }
    d
}

/// A UDP echo server that counts what it receives of each datagram number.
pub fn echo_server() -> (u16, Arc<Mutex<BTreeMap<u32, u32>>>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let log = seen.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            if n >= 4 {
                let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
                *log.lock().unwrap().entry(seq).or_insert(0) += 1;
            }
            let _ = s.send_to(&buf[..n], from);
        }
    });
    (port, seen)
}

/// The number of a datagram that came back, after checking that it is whole and unchanged.
pub fn check(what: &str, case: u64, got: &[u8]) -> u32 {
    assert!(got.len() >= 4, "{what}: a datagram of {} bytes", got.len());
    let seq = u32::from_le_bytes(got[..4].try_into().unwrap());
    let want = datagram(case, seq);
    assert!(
        got == &want[..],
        "{what}: SILENT CORRUPTION: datagram {seq} came back as {} bytes that differ from the \
         {} sent",
        got.len(),
        want.len()
    );
    seq
}

/// No datagram reached the server more than once: the driver never sent one twice.
pub fn assert_none_sent_twice(what: &str, server: &Mutex<BTreeMap<u32, u32>>) {
    for (seq, times) in server.lock().unwrap().iter() {
        assert_eq!(*times, 1, "{what}: datagram {seq} went out {times} times");
    }
}
