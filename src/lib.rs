//! # quectel-bc20
//!
//! A Quectel BC20 NB-IoT modem as a network stack for embedded Rust: `embedded-nal` (blocking,
//! [`Bc20`]) and `embedded-nal-async` ([`asynch`]) TCP and UDP clients and DNS, on top of the
//! module's TCP/IP AT commands. `#![no_std]`, no allocation, no `unsafe`; a host emulator of
//! the module (feature `sim`) tests all of it without hardware.
//!
//! The BC20 is an NB-IoT (LTE Cat NB1/NB2) and GNSS module built on MediaTek's MT2625. Its
//! IP stack lives in the module: the host opens up to five sockets (`connectID` 0–4) with
//! `AT+QIOPEN`, sends with `AT+QISEND`/`AT+QISENDEX` and receives through `+QIURC: "recv"`
//! reports. This crate speaks that dialect with one sans-IO core ([`wire`], [`engine`]) under
//! two thin shells, and frames received data by its announced length, never by searching for
//! `OK`, so binary payloads come through intact.
//!
//! # Wiring
//!
//! - **UART levels.** The BC20's main UART (TXD, RXD; RTS/CTS unused here) runs at **1.8 V**.
//!   A 3.3 V microcontroller or USB adapter needs a level shifter (a TXB0104-style translator,
//!   or the transistor circuit of the BC20 hardware design guide); never connect 3.3 V
//!   signals directly. Share ground.
//! - **Power key.** The module starts when PWRKEY is pulled low for at least 500 ms (an open
//!   collector from a GPIO, or the button of the EVB); `RESET_N` low resets it. It prints `RDY`
//!   when it is up; the driver notices that (and later reboots) on its own.
//! - **Supply.** VBAT from a source that can deliver the transmit bursts (see the hardware
//!   design guide for the range and the bulk capacitance).
//! - **Baud rate.** 115200 8N1 is the usual rate; the module also detects the rate of the first
//!   `AT` it gets. The driver never changes it.
//!
//! # Which shell
//!
//! - **Async** ([`asynch`]): a [`State`](asynch::State) you own, a
//!   [`Runner`](asynch::Runner) that owns the UART halves (`embedded_io_async::Read` and
//!   `Write`) and a [`Stack`](asynch::Stack) handle for the application; any executor (embassy
//!   on a microcontroller, tokio on a host), time from a [`Clock`] and an
//!   `embedded_hal_async::delay::DelayNs`. Several tasks can use several sockets at once.
//! - **Blocking** ([`Bc20`]): `embedded_nal` over a UART with `embedded_io::{Read, Write,
//!   ReadReady}` and a [`Clock`]; `nb`-style, for superloops and RTIC.
//!
//! Both apply the same start-up (`ATE0`, `AT+CMEE=1`, the framing settings the module keeps in
//! NVRAM), the same deadlines ([`engine::Config`]), and turn a module reboot into
//! [`Error::Reset`] on every socket.
//!
//! # Sizes
//!
//! The driver's memory is what its type names: sockets, each socket's receive buffer and send
//! queue, and the staging for a line of module output (see [`engine`]). The defaults (five
//! sockets, 1536-byte receive buffers, 1024-byte send queues, 256 bytes of staging) need no
//! annotation; a small board names its sizes once. Received payloads go from the UART bytes
//! straight into their socket's buffer, so staging never has to hold one.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use quectel_bc20::asynch::State;
//! use quectel_bc20::engine::Config;
//!
//! // Five sockets and the default buffers: about 15 KiB on a Cortex-M.
//! let full: State<NoopRawMutex> = State::new(Config::DEFAULT);
//! // One socket with 256-byte buffers: about 2.2 KiB.
//! let small = State::<NoopRawMutex, 1, 256, 256>::sized(Config::DEFAULT);
//! assert!(core::mem::size_of_val(&small) < core::mem::size_of_val(&full));
//! ```
//!
//! Firmware keeps the state in a `static`. `StaticCell::init_with(|| State::new(config))`
//! puts it in `.bss` and builds it at start-up, through the stack once (do it in a function
//! of its own, so that the temporary does not stay in a task's frame). Both constructors are
//! `const fn`, so `ConstStaticCell::new(State::new(Config::DEFAULT))` builds it at compile
//! time instead, never on the stack, but as initialised data: its whole size, buffers
//! included, is then also an image in flash. The blocking [`Bc20`] takes the same sizes
//! (`Bc20::new`, `Bc20::<_, _, 1, 256, 256>::sized`). Sizes the driver cannot work with do
//! not compile:
//!
//! ```compile_fail
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use quectel_bc20::asynch::State;
//! use quectel_bc20::engine::Config;
//!
//! // The module has five connectIDs.
//! let state = State::<NoopRawMutex, 6, 256, 256>::sized(Config::DEFAULT);
//! # core::hint::black_box(&state);
//! ```
//!
//! # Access modes: buffer (default) or direct push
//!
//! [`engine::Config::access_mode`] picks how the module delivers received data:
//!
//! - [`AccessMode::Buffer`] (**default, recommended**): the module keeps the data and says
//!   `+QIURC: "recv"`; the driver fetches it with `AT+QIRD` when the application has room. The
//!   module holds the data until the driver asks, so a slow reader never stalls the UART and the
//!   other sockets keep flowing.
//! - [`AccessMode::DirectPush`]: the module pushes the data with the URC, which saves the
//!   `AT+QIRD` round trip per read (lower latency, fewer UART bytes). But the bytes are then on
//!   the UART: when a socket's receive buffer in the driver is full, the driver stops reading
//!   the UART (it never drops data) until the application reads that socket, and everything
//!   behind it waits, other sockets and command answers included. Use it when every socket is
//!   read promptly. A command whose answer waits behind a socket nobody reads gives up waiting
//!   [`engine::Config::hold_limit_ms`] (2 minutes) past its timeout: that socket fails with
//!   [`Error::Overflow`], and the rest flows again. A `flush` does not wait for an answer
//!   (`OK`, `SEND OK`) held back by the socket's own data (every byte is in the module by
//!   then), so a client that flushes its request before it reads the response (reqwless) is
//!   not stuck behind it. Socket buffers may be smaller than a push: such a push is handed
//!   on as it comes.
//!
//! # With reqwless (HTTP)
//!
//! The async [`Stack`](asynch::Stack) is both the `TcpConnect` and the `Dns` that reqwless
//! takes; names are resolved by the module (`AT+QIDNSGIP`):
//!
//! ```no_run
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use quectel_bc20::asynch::Stack;
//!
//! async fn fetch(stack: Stack<'_, NoopRawMutex>) -> Result<usize, reqwless::Error> {
//!     let mut client = reqwless::client::HttpClient::new(&stack, &stack);
//!     let mut buf = [0u8; 4096];
//!     let mut request = client
//!         .request(reqwless::request::Method::GET, "http://example.com/")
//!         .await?;
//!     let response = request.send(&mut buf).await?;
//!     Ok(response.body().read_to_end().await?.len())
//! }
//! ```
//!
//! # With minimq (MQTT)
//!
//! minimq 0.13 runs on a connection of the async stack (its keepalive needs `embassy-time`);
//! minimq 0.10 runs on the blocking [`Bc20`], which is an `embedded_nal::TcpClientStack`.
//!
//! ```no_run
//! use core::net::{Ipv4Addr, SocketAddr};
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use embedded_nal_async::TcpConnect;
//! use minimq::{Buffers, ConfigBuilder, Publication, QoS, Session};
//! use quectel_bc20::asynch::Stack;
//!
//! async fn publish(stack: Stack<'_, NoopRawMutex>) -> Result<(), &'static str> {
//!     let broker = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 10), 1883));
//!     let tcp = stack.connect(broker).await.map_err(|_| "connect")?;
//!     let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
//!     let config = ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
//!         .client_id("bc20-sensor")
//!         .map_err(|_| "client id")?;
//!     let mut session = Session::new(config);
//!     let mut mqtt = session.connect(tcp).await.map_err(|_| "mqtt")?;
//!     let message = Publication::bytes("sensors/1", b"21.5").qos(QoS::AtLeastOnce);
//!     mqtt.publish(message).await.map_err(|_| "publish")?;
//!     mqtt.disconnect().await.map_err(|_| "disconnect")
//! }
//! ```
//!
//! # Testing with the emulator
//!
//! With the `sim` feature, [`sim::start`] runs an emulated BC20 on a thread, behind real host
//! sockets (DNS, TCP, UDP, ping, NTP), and hands back the host end of a byte pipe that both
//! shells take; [`sim::Config`] adds module quirks and seeded fault injection:
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use quectel_bc20::asynch::{self, State};
//! use quectel_bc20::{StdClock, engine::Config, host::StdDelay, sim};
//!
//! let (port, _emulator) = sim::start(sim::Config::default());
//! let (rx, tx) = port.split();
//! let state: &'static State<CriticalSectionRawMutex> =
//!     Box::leak(Box::new(State::new(Config::default())));
//! let (stack, mut runner) = asynch::new(state, rx, tx, StdClock::default(), StdDelay);
//! tokio::spawn(async move { runner.run().await });
//! stack.bring_up(10_000).await.unwrap();
//! let ping = stack.ping("127.0.0.1", 1, 1, 32).await.unwrap();
//! assert_eq!(ping.replies().count(), 1);
//! # }
//! ```
//!
//! `examples/bc20-sim.rs` serves the same emulator on a pseudo-terminal or a TCP port, so any
//! firmware or terminal program can be tested against it; `examples/http_get.rs` is a complete
//! program (`cargo run --example http_get`). A real module on a serial port plugs in through
//! [`host::split`] (feature `std`).
//!
//! # Logging and field logs
//!
//! The crate logs through `log`, or `defmt` with the `defmt` feature (see [`fmt`]); at trace
//! level every command and every received frame is shown as readable text. A raw capture of a
//! module's UART output (a logic analyser's, or bytes saved by the firmware) is decoded into
//! frames by the `decode` example:
//!
//! ```text
//! cargo run --example decode -- --offsets capture.bin
//! cargo run --example decode -- --push 0 --show-length field-log.bin
//! ```
//!
//! It prints one frame a line and a summary, and exits with status 1 when some bytes could not
//! be framed.
//!
//! # Features
//!
//! - `std`: host adapters ([`host`]: a `DelayNs` and serial-port halves, [`StdClock`]).
//! - `sim`: the emulator (implies `std`).
//! - `defmt`: log through `defmt`; public types derive `defmt::Format`.
//! - `embassy-time`: `clock::EmbassyClock`, a [`Clock`] on embassy-time.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

pub mod asynch;
pub mod blocking;
pub mod clock;
pub mod engine;
pub mod error;
pub mod fmt;
#[cfg(feature = "std")]
pub mod host;
pub mod types;
pub mod wake;
pub mod wire;

#[cfg(feature = "sim")]
pub mod sim;

pub use blocking::Bc20;
pub use clock::Clock;
#[cfg(feature = "embassy-time")]
pub use clock::EmbassyClock;
#[cfg(feature = "std")]
pub use clock::StdClock;
pub use error::{Error, ModemError};
pub use types::*;
pub use wake::{NoWake, Wake};
