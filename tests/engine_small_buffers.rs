//! Direct push into socket buffers smaller than what the module pushes at once (up to 1,500
//! bytes a URC): such data cannot wait whole for room, so the engine hands it on as it comes
//! and holds the module's output back in the middle of it while the buffer is full. A
//! datagram larger than the buffer is truncated, as a UDP socket does.

use quectel_bc20::engine::{Config, Event, Reply, Request, SocketPhase};
use quectel_bc20::{ConnectId, DataFormat, Error, ServiceType};

mod engine_support;

/// Two sockets of 256-byte buffers.
type Rig = engine_support::Rig<2, 256, 512, 256>;

/// Brought up in direct push, socket 0 open over `service`.
fn open(service: ServiceType, recv_format: DataFormat) -> (Rig, ConnectId) {
    Rig::sized_direct_push(
        Config {
            recv_format,
            ..Config::default()
        },
        service,
    )
}

impl Rig {
    /// Offer `stream` in reads of `read` bytes, reading the socket `take` bytes at a time
    /// whenever the engine holds back; returns what the socket gave, and its end.
    fn pump(
        &mut self,
        id: ConnectId,
        stream: &[u8],
        read: usize,
        take: usize,
    ) -> (Vec<u8>, Option<Error>) {
        let mut got = Vec::new();
        let mut buf = vec![0u8; take];
        let mut pos = 0;
        let mut end = None;
        let mut idle_rounds = 0;
        while pos < stream.len() {
            let chunk = &stream[pos..stream.len().min(pos + read)];
            let n = self.e.handle_rx(chunk, self.now);
            pos += n;
            let k = match self.e.recv(id, &mut buf) {
                Ok(k) => k,
                Err(e) => {
                    end = Some(e);
                    break;
                }
            };
            got.extend_from_slice(&buf[..k]);
            idle_rounds = if n == 0 && k == 0 { idle_rounds + 1 } else { 0 };
            assert!(idle_rounds < 3, "no progress at {pos} of {}", stream.len());
        }
        loop {
            match self.e.recv(id, &mut buf) {
                Ok(0) => break,
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => {
                    end = Some(e);
                    break;
                }
            }
        }
        (got, end)
    }
}

impl Rig {
    /// [`Rig::pump`] the blocking stack's way: reads land in `rx_space` and are committed.
    fn pump_staged(&mut self, id: ConnectId, stream: &[u8], read: usize, take: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; take];
        let mut pos = 0;
        let mut idle_rounds = 0;
        loop {
            let space = self.e.rx_space();
            let n = space.len().min(read).min(stream.len() - pos);
            space[..n].copy_from_slice(&stream[pos..pos + n]);
            self.e.rx_commit(n, self.now);
            pos += n;
            let k = self.e.recv(id, &mut buf).unwrap();
            got.extend_from_slice(&buf[..k]);
            if pos == stream.len() && k == 0 {
                return got;
            }
            idle_rounds = if n == 0 && k == 0 { idle_rounds + 1 } else { 0 };
            assert!(idle_rounds < 3, "no progress at {pos} of {}", stream.len());
        }
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Pushes of `lens` bytes for socket 0 (hex text when `hex`); returns the stream and the
/// data it carries.
fn pushes(lens: &[usize], hex: bool) -> (Vec<u8>, Vec<u8>) {
    let (mut stream, mut all) = (Vec::new(), Vec::new());
    for (i, &len) in lens.iter().enumerate() {
        let d = data(len, i as u8);
        stream.extend(format!("\r\n+QIURC: \"recv\",0,{len}\r\n").as_bytes());
        if hex {
            for b in &d {
                stream.extend(format!("{b:02X}").as_bytes());
            }
        } else {
            stream.extend(&d);
        }
        all.extend(d);
    }
    (stream, all)
}

#[test]
fn pushes_larger_than_the_buffer_arrive_whole_in_order() {
    for hex in [false, true] {
        let format = if hex {
            DataFormat::Hex
        } else {
            DataFormat::Text
        };
        for (read, take) in [(64, 100), (1, 7), (4096, 256), (333, 1)] {
            let (mut r, id) = open(ServiceType::Tcp, format);
            let (stream, want) = pushes(&[1500, 10, 700, 256, 257, 1], hex);
            let (got, end) = r.pump(id, &stream, read, take);
            assert_eq!(end, None, "hex {hex}, reads of {read}, takes of {take}");
            assert_eq!(got, want, "hex {hex}, reads of {read}, takes of {take}");
            assert_eq!(r.e.phase(id), SocketPhase::Connected);
            assert!(r.e.traffic().payload_received == want.len() as u64);
            let (mut r, id) = open(ServiceType::Tcp, format);
            let got = r.pump_staged(id, &stream, read, take);
            assert_eq!(
                got, want,
                "staged: hex {hex}, reads of {read}, takes of {take}"
            );
            assert_eq!(r.e.phase(id), SocketPhase::Connected);
        }
    }
}

#[test]
fn a_push_larger_than_the_buffer_waits_for_room_in_the_middle() {
    let (mut r, id) = open(ServiceType::Tcp, DataFormat::Text);
    let (stream, want) = pushes(&[1000], false);
    let taken = r.e.handle_rx(&stream, r.now);
    assert!(taken < stream.len());
    let events: Vec<Event> = std::iter::from_fn(|| r.e.poll_event()).collect();
    assert!(events.contains(&Event::DataReady(id)));
    assert!(events.contains(&Event::Stalled(id)));
    assert_eq!(r.e.available(id), 256, "what fits is readable at once");
    assert_eq!(r.e.handle_rx(&stream[taken..], r.now), 0, "held back");
    // A look long after: the data resumes where it stopped.
    r.advance(5_000);
    let (got, end) = r.pump(id, &stream[taken..], 100, 50);
    assert_eq!(end, None);
    assert_eq!(got, want);
}

#[test]
fn a_broken_end_after_data_handed_on_fails_the_socket_after_it() {
    // Data larger than the buffer is handed on before its end is seen: when the end is not
    // what the layout requires, what came before stays delivered and the socket fails.
    let (mut r, id) = open(ServiceType::Tcp, DataFormat::Hex);
    let mut stream = b"\r\n+QIURC: \"recv\",0,400\r\n".to_vec();
    stream.extend(b"AB".repeat(300));
    stream.extend(b"ZZ");
    stream.extend(b"CD".repeat(99));
    let (got, end) = r.pump(id, &stream, 64, 64);
    assert_eq!(end, Some(Error::Malformed));
    assert!(
        got.len() >= 256 && got.iter().all(|&b| b == 0xAB),
        "{}",
        got.len()
    );
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_not_held() {
    let (mut r, id) = open(ServiceType::Udp, DataFormat::Text);
    let (stream, want) = pushes(&[1000, 20], false);
    let taken = r.e.handle_rx(&stream, r.now);
    let mut buf = [0u8; 2000];
    assert_eq!(r.e.recv(id, &mut buf), Ok(256));
    assert_eq!(&buf[..256], &want[..256]);
    // The next datagram waited for room.
    r.rx_bytes(&stream[taken..]);
    assert_eq!(r.e.recv(id, &mut buf), Ok(20));
    assert_eq!(&buf[..20], &want[1000..]);
    assert_eq!(r.e.phase(id), SocketPhase::Connected);
}

#[test]
fn a_push_nobody_reads_gives_way_to_a_waiting_command() {
    let (mut r, id) = open(ServiceType::Tcp, DataFormat::Text);
    let t = r.e.start(Request::Registration).unwrap();
    r.expect("AT+CEREG?");
    let (stream, want) = pushes(&[1000], false);
    let taken = r.e.handle_rx(&stream, r.now);
    assert!(taken < stream.len());
    let limit = u64::from(Config::DEFAULT.hold_limit_ms);
    r.advance(2_000 + limit + 200);
    assert_eq!(r.e.phase(id), SocketPhase::Failed(Error::Overflow));
    r.rx_bytes(&[&stream[taken..], b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"].concat());
    assert!(matches!(
        r.e.take_reply(t),
        Some(Ok(Reply::Registration(_)))
    ));
    let mut buf = [0u8; 2000];
    assert_eq!(r.e.recv(id, &mut buf), Ok(256));
    assert_eq!(&buf[..256], &want[..256]);
    assert_eq!(r.e.recv(id, &mut buf), Err(Error::Overflow));
}

/// A damaged line while the module's output is held back (the socket's buffer full): the audit
/// it asks for waits until the application reads, since its answer would wait behind the held
/// data and count towards the hold limit of a socket that may just be read late.
#[test]
fn no_audit_goes_out_while_output_is_held_back() {
    let (mut r, id) = open(ServiceType::Tcp, DataFormat::Text);
    r.rx("\r\n+QIURC: \"clxsed\",0\r\n");
    // The first audit, at once.
    r.expect("AT+QISTATE?");
    r.rx("\r\n+QISTATE: 0,\"TCP\",\"127.0.0.1\",80,4000,2,1,1\r\n\r\nOK\r\n");
    // A push fills the 256-byte buffer; the next one is held back.
    let full = vec![b'x'; 256];
    let mut stream = b"\r\n+QIURC: \"recv\",0,256\r\n".to_vec();
    stream.extend_from_slice(&full);
    stream.extend_from_slice(b"\r\n+QIURC: \"clxsed\",0\r\n\r\n+QIURC: \"recv\",0,4\r\nmore");
    let taken = r.e.handle_rx(&stream, r.now);
    assert!(taken < stream.len(), "output is held back");
    // Long past the audit's gap, nothing goes out while the buffer stays full.
    r.advance(10_000);
    r.idle();
    // Reading makes room; the held output flows, and the audit follows.
    let mut buf = [0u8; 256];
    assert_eq!(r.e.recv(id, &mut buf), Ok(256));
    let rest = stream[taken..].to_vec();
    r.rx_bytes(&rest);
    r.advance(100);
    r.expect("AT+QISTATE?");
}
