//! Shared rig of the engine tests: the engine against a scripted module, with explicit
//! time. Expect these bytes, answer those, inject this URC.
#![allow(dead_code)]

use quectel_bc20::engine::{
    Config, DEFAULT_RX, DEFAULT_SOCKETS, DEFAULT_STAGING, DEFAULT_TX, Engine, Event, LOOK_GRACE_MS,
    SocketPhase,
};
use quectel_bc20::{ConnectId, DataFormat, ServiceType};

/// How much later than its nominal deadline a wait is judged passed by a caller that watches
/// the line all along (see `LOOK_GRACE_MS`).
pub const LATE: u64 = 2 * LOOK_GRACE_MS;

/// Steps of [`Rig::advance`]: the caller looks at the line this often.
pub const STEP_MS: u64 = 10;

/// The engine of the sizes its type names (the defaults unless a test names others) and
/// the time.
pub struct Rig<
    const N: usize = DEFAULT_SOCKETS,
    const RX: usize = DEFAULT_RX,
    const TX: usize = DEFAULT_TX,
    const ST: usize = DEFAULT_STAGING,
> {
    pub e: Engine<N, RX, TX, ST>,
    pub now: u64,
}

impl Rig {
    pub fn new(config: Config) -> Self {
        Rig::sized(config)
    }

    /// A rig whose module has answered the start-up sequence.
    pub fn ready() -> Self {
        let mut r = Rig::new(Config::default());
        r.bring_up();
        r
    }

    /// A ready rig that wakes the module before a command after `wake_after_ms` of idle
    /// (`WakePolicy::AfterIdle`), idle for two seconds since start-up: the next command is
    /// preceded by a wake-up `AT`.
    pub fn idle_with_wake(wake_after_ms: u32) -> Self {
        let mut r = Rig::new(Config {
            wake: quectel_bc20::engine::WakePolicy::AfterIdle(wake_after_ms),
            ..Config::default()
        });
        r.bring_up();
        r.advance(2_000);
        r
    }

    /// A rig in direct push brought up, with TCP socket 0 connected to 127.0.0.1:80.
    pub fn direct_push() -> (Self, ConnectId) {
        Rig::direct_push_with(Config::default())
    }

    /// [`Rig::direct_push`] with `config` otherwise.
    pub fn direct_push_with(config: Config) -> (Self, ConnectId) {
        Rig::sized_direct_push(config, ServiceType::Tcp)
    }
}

impl<const N: usize, const RX: usize, const TX: usize, const ST: usize> Rig<N, RX, TX, ST> {
    /// A rig of these sizes at time 0, nothing sent yet.
    pub fn sized(config: Config) -> Self {
        Rig {
            e: Engine::sized(config),
            now: 0,
        }
    }

    /// Brought up in direct push with `config` otherwise, socket 0 open over `service` to
    /// 127.0.0.1:80.
    pub fn sized_direct_push(config: Config, service: ServiceType) -> (Self, ConnectId) {
        let mut r = Rig::sized(Config {
            access_mode: quectel_bc20::AccessMode::DirectPush,
            ..config
        });
        r.bring_up();
        let id = r.e.allocate(service).unwrap();
        r.e.open(id, "127.0.0.1", 80).unwrap();
        let kind = if service == ServiceType::Tcp {
            "TCP"
        } else {
            "UDP"
        };
        r.expect(&format!("AT+QIOPEN=1,0,\"{kind}\",\"127.0.0.1\",80,0,1"));
        r.rx("\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
        assert_eq!(r.e.phase(id), SocketPhase::Connected);
        (r, id)
    }

    /// The first start-up: the settings, then the question for sockets left over from a
    /// previous run (none).
    pub fn bring_up(&mut self) {
        self.settings();
        self.expect("AT+QISTATE?");
        self.rx("\r\nOK\r\n");
        assert!(self.e.is_ready());
    }

    /// The start-up after a reboot: the module forgot every socket, so only the settings.
    pub fn bring_up_after_reboot(&mut self) {
        self.settings();
        assert!(self.e.is_ready());
    }

    /// The start-up after `ATE0`, each step answered `OK`, the question for sockets left over
    /// from a previous run included (none).
    pub fn start_up_after_echo_off(&mut self) {
        let hex = u8::from(self.e.config().recv_format == DataFormat::Hex);
        for cmd in [
            "AT+CMEE=1".to_string(),
            format!("AT+QICFG=\"dataformat\",0,{hex}"),
            "AT+QICFG=\"viewmode\",0".into(),
            "AT+QICFG=\"showlength\",1".into(),
            "AT+QISTATE?".into(),
        ] {
            self.expect(&cmd);
            self.rx("\r\nOK\r\n");
        }
        assert!(self.e.is_ready());
    }

    fn settings(&mut self) {
        let hex = u8::from(self.e.config().recv_format == DataFormat::Hex);
        for cmd in [
            "AT".to_string(),
            "ATE0".into(),
            "AT+CMEE=1".into(),
            format!("AT+QICFG=\"dataformat\",0,{hex}"),
            "AT+QICFG=\"viewmode\",0".into(),
            "AT+QICFG=\"showlength\",1".into(),
        ] {
            self.expect(&cmd);
            self.rx("\r\nOK\r\n");
        }
    }

    /// The engine must now write exactly `cmd` + CR (a send command comes in pieces: its
    /// head, its data, its CR; they are gathered here).
    pub fn expect(&mut self, cmd: &str) {
        let want = format!("{cmd}\r");
        let mut got = String::new();
        while !got.ends_with('\r') {
            let Some(piece) = self.e.poll_transmit(self.now) else {
                break;
            };
            let piece = String::from_utf8_lossy(piece).into_owned();
            self.e.transmitted(piece.len(), self.now);
            got.push_str(&piece);
        }
        assert_eq!(got, want);
    }

    pub fn idle(&mut self) {
        let got = self.e.poll_transmit(self.now).map(|b| b.to_vec());
        assert_eq!(got, None, "nothing to send");
    }

    pub fn rx(&mut self, s: &str) {
        self.rx_bytes(s.as_bytes());
    }

    /// Feed `bytes` the way the blocking stack reads: into `rx_space`, then `rx_commit`,
    /// while there is room. Returns how many were taken.
    pub fn feed_staged(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let space = self.e.rx_space();
            let n = space.len().min(bytes.len() - taken);
            if n == 0 {
                break;
            }
            space[..n].copy_from_slice(&bytes[taken..taken + n]);
            self.e.rx_commit(n, self.now);
            taken += n;
        }
        taken
    }

    pub fn rx_bytes(&mut self, b: &[u8]) {
        let n = self.e.handle_rx(b, self.now);
        assert_eq!(n, b.len(), "all bytes accepted");
    }

    /// Let `ms` pass, looking at the line every [`STEP_MS`] as a polling caller does.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now.saturating_add(ms);
        while self.now < end {
            self.now = self.now.saturating_add(STEP_MS).min(end);
            self.e.handle_timeout(self.now);
        }
    }

    /// Let `ms` pass with a single look at the end: a caller that was away.
    pub fn jump(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.e.handle_timeout(self.now);
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.e.poll_event()).collect()
    }

    /// The engine goes on: a plain `AT` gets its `OK`.
    pub fn at_is_answered(&mut self) {
        let t = self.e.start(quectel_bc20::engine::Request::At).unwrap();
        self.expect("AT");
        self.rx("\r\nOK\r\n");
        assert_eq!(
            self.e.take_reply(t),
            Some(Ok(quectel_bc20::engine::Reply::Done))
        );
    }

    /// Open a TCP socket and answer success.
    pub fn open(&mut self) -> ConnectId {
        let id = self.e.allocate(ServiceType::Tcp).unwrap();
        self.e.open(id, "127.0.0.1", 8062).unwrap();
        self.expect(&format!("AT+QIOPEN=1,{id},\"TCP\",\"127.0.0.1\",8062,0,0"));
        self.rx(&format!("\r\nOK\r\n\r\n+QIOPEN: {id},0\r\n"));
        assert_eq!(self.e.phase(id), SocketPhase::Connected);
        id
    }

    pub fn recv_all(&mut self, id: ConnectId) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 300];
        while let Ok(n) = self.e.recv(id, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}
