//! One bring-up and one set of typed requests, in the core: the blocking and the async shell
//! only drive them, so the same scenario gives the same outcome through both.

mod async_support;

use std::thread;
use std::time::Duration;

use quectel_bc20::engine::{self, PingOutcome};
use quectel_bc20::host::StdDelay;
use quectel_bc20::sim::{self, Emulator};
use quectel_bc20::{Bc20, Error, QiCfg, QiCfgKey, RegistrationStatus, StdClock, ViewMode};

/// What a scenario observed, shell-independent.
#[derive(Debug, PartialEq)]
enum Seen {
    BringUp(Result<(), Error>),
    Registration(Result<RegistrationStatus, Error>),
    Sockets(Result<usize, Error>),
    Cfg(Result<QiCfg, Error>),
    Ping(Result<(usize, bool), Error>),
}

fn ping_shape(p: Result<PingOutcome, Error>) -> Result<(usize, bool), Error> {
    p.map(|p| (p.replies().count(), p.summary.is_some()))
}

fn sim_config(registered: bool) -> sim::Config {
    sim::Config {
        registration: if registered {
            RegistrationStatus::Home
        } else {
            RegistrationStatus::Searching
        },
        ping_port: sim_support_closed_port(),
        ping_interval: Duration::from_millis(1),
        ..sim::Config::default()
    }
}

fn sim_support_closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Run `f` while the module registers `after` the start (never when `None`).
fn with_registration<T>(emu: &Emulator, after: Option<Duration>, f: impl FnOnce() -> T) -> T {
    thread::scope(|s| {
        if let Some(after) = after.filter(|a| !a.is_zero()) {
            s.spawn(move || {
                thread::sleep(after);
                emu.set_registration(RegistrationStatus::Home);
            });
        }
        f()
    })
}

fn blocking(register_after: Option<Duration>) -> Vec<Seen> {
    let (port, emu) = sim::start(sim_config(register_after == Some(Duration::ZERO)));
    let mut d = Bc20::new(port, StdClock::default(), engine::Config::default());
    d.set_wait_limit(20_000);
    let mut seen = vec![Seen::BringUp(with_registration(
        &emu,
        register_after,
        || d.bring_up(3_000),
    ))];
    seen.push(Seen::Registration(d.registration()));
    seen.push(Seen::Sockets(d.socket_state(None).map(|l| l.len())));
    seen.push(Seen::Cfg(d.get_cfg(QiCfgKey::ViewMode)));
    seen.push(Seen::Ping(ping_shape(d.ping("127.0.0.1", 1, 2, 32))));
    drop(emu);
    seen
}

fn asynchronous(register_after: Option<Duration>) -> Vec<Seen> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (port, emu) = sim::start(sim_config(register_after == Some(Duration::ZERO)));
        let (rx, tx) = port.split();
        let state: &'static quectel_bc20::asynch::State<async_support::Mx> = Box::leak(Box::new(
            quectel_bc20::asynch::State::new(engine::Config::default()),
        ));
        let (stack, mut runner) =
            quectel_bc20::asynch::new(state, rx, tx, StdClock::default(), StdDelay);
        let task = tokio::spawn(async move { runner.run().await });
        let registers = async {
            if let Some(after) = register_after.filter(|a| !a.is_zero()) {
                tokio::time::sleep(after).await;
                emu.set_registration(RegistrationStatus::Home);
            }
        };
        let (up, ()) = tokio::join!(stack.bring_up(3_000), registers);
        let mut seen = vec![Seen::BringUp(up)];
        seen.push(Seen::Registration(stack.registration().await));
        seen.push(Seen::Sockets(
            stack.socket_state(None).await.map(|l| l.len()),
        ));
        seen.push(Seen::Cfg(stack.get_cfg(QiCfgKey::ViewMode).await));
        seen.push(Seen::Ping(ping_shape(
            stack.ping("127.0.0.1", 1, 2, 32).await,
        )));
        task.abort();
        drop(emu);
        seen
    })
}

#[test]
fn both_shells_bring_the_module_up_and_answer_alike() {
    for (name, after) in [
        ("registered at once", Some(Duration::ZERO)),
        ("registered after 1.5 s", Some(Duration::from_millis(1_500))),
        ("never registered", None),
    ] {
        let b = blocking(after);
        let a = asynchronous(after);
        assert_eq!(a, b, "{name}: the shells differ");
        let registered = after.is_some();
        assert_eq!(
            b[0],
            Seen::BringUp(if registered {
                Ok(())
            } else {
                Err(Error::Timeout)
            }),
            "{name}"
        );
        assert_eq!(
            b[3],
            Seen::Cfg(Ok(QiCfg::ViewMode(ViewMode::HeaderCrLfData)))
        );
        assert_eq!(b[4], Seen::Ping(Ok((2, true))), "{name}");
    }
}
