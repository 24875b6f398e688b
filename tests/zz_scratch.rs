mod superloop_support;
use embedded_nal::TcpClientStack;
use quectel_bc20::blocking::TcpSocket;
use quectel_bc20::engine;
use quectel_bc20::{AccessMode, Error, sim};
use superloop_support::{Rig, Wire, echo_server, payload};

fn connect(r: &mut Rig, port: u16) -> TcpSocket {
    let mut s = TcpClientStack::socket(&mut r.d).expect("socket");
    let remote = core::net::SocketAddr::from(([127, 0, 0, 1], port));
    let got = r.nb(120_000, |d| TcpClientStack::connect(d, &mut s, remote));
    assert_eq!(got, Some(Ok(())), "connect");
    s
}
fn slow<T>(
    r: &mut Rig,
    period: u64,
    mut f: impl FnMut(
        &mut quectel_bc20::Bc20<superloop_support::Uart, superloop_support::VClock, 5, 4096>,
    ) -> nb::Result<T, Error>,
) -> Result<T, Error> {
    let start = r.now();
    loop {
        match f(&mut r.d) {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(e),
            Err(nb::Error::WouldBlock) => {
                assert!(r.now() - start < 120_000);
                r.work(period);
                log::warn!("-- poll at t={}", r.now());
            }
        }
    }
}
#[test]
fn trace() {
    let _ = env_logger::builder().is_test(true).try_init();
    let sleep_ms: u64 = std::env::var("SLEEP").unwrap().parse().unwrap();
    let period: u64 = std::env::var("PERIOD").unwrap().parse().unwrap();
    let port = echo_server();
    let sim_config = sim::Config {
        sleep_after: Some(std::time::Duration::from_millis(sleep_ms)),
        ..sim::Config::default()
    };
    let mut r = Rig::new(
        Wire::Continuous,
        16 * 1024,
        sim_config,
        engine::Config {
            access_mode: AccessMode::Buffer,
            ..engine::Config::default()
        },
    );
    let mut s = connect(&mut r, port);
    let mut buf = [0u8; 512];
    r.work(2_000);
    log::warn!("==== t={} send", r.now());
    let data = payload(200, 0);
    let x = slow(&mut r, period, |d| TcpClientStack::send(d, &mut s, &data));
    log::warn!("==== t={} send -> {:?}", r.now(), x);
    let x = slow(&mut r, period, |d| {
        TcpClientStack::receive(d, &mut s, &mut buf)
    });
    log::warn!("==== t={} recv -> {:?}", r.now(), x);
}
