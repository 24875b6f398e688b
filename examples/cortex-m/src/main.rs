//! A BC20 on an STM32F411CE's USART1 (PA9 TX, PA10 RX, 115200 baud, through a 1.8 V level
//! shifter): the embassy executor runs the driver's runner as one task and an HTTP GET as
//! another. The log goes out over RTT with defmt (`probe-rs run`).
#![no_std]
#![no_main]

mod net;

use embassy_executor::Spawner;
use embassy_stm32::usart::{self, BufferedUart, BufferedUartRx, BufferedUartTx};
use embassy_stm32::{bind_interrupts, peripherals};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::Timer;
use quectel_bc20::asynch::State;
use quectel_bc20::engine::Config;
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    USART1 => usart::BufferedInterruptHandler<peripherals::USART1>;
});

/// The concrete UART: all the chip-specific types are these two.
type Rx = BufferedUartRx<'static>;
type Tx = BufferedUartTx<'static>;

/// One executor, so the driver's state needs no critical sections.
type Mutex = NoopRawMutex;

#[embassy_executor::task]
async fn modem(mut runner: net::ModemRunner<'static, Mutex, Rx, Tx>) -> ! {
    runner.run().await
}

/// The driver's state in a `static` (`.bss`), built once at start-up. In a function of its
/// own: built inside `main`, the temporary (the state's whole size, 15 KiB) would sit in the
/// main task's frame, which every poll of the task needs. A `ConstStaticCell` would put the
/// whole value in `.data`, a flash image of its size.
#[inline(never)]
fn driver_state() -> &'static State<Mutex> {
    static STATE: StaticCell<State<Mutex>> = StaticCell::new();
    STATE.init_with(|| State::new(Config::default()))
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_stm32::init(Default::default());

    static TX_BUF: StaticCell<[u8; 256]> = StaticCell::new();
    static RX_BUF: StaticCell<[u8; 1024]> = StaticCell::new();
    let mut uart_config = usart::Config::default();
    uart_config.baudrate = 115_200;
    let uart = match BufferedUart::new(
        p.USART1,
        p.PA10,
        p.PA9,
        TX_BUF.init([0; 256]),
        RX_BUF.init([0; 1024]),
        Irqs,
        uart_config,
    ) {
        Ok(u) => u,
        Err(e) => defmt::panic!("UART config: {}", e),
    };
    let (tx, rx) = uart.split();

    let state = driver_state();
    let (stack, runner) = net::start(state, rx, tx);
    spawner.spawn(modem(runner).expect("one modem task"));

    #[cfg(feature = "tls")]
    https_loop(stack).await;

    #[cfg(not(feature = "tls"))]
    loop {
        match net::http_get(stack, "example.com", "/").await {
            Ok(f) => defmt::info!(
                "GET http://example.com/ ({}): status {}, {} bytes",
                f.remote,
                f.status,
                f.bytes
            ),
            Err(e) => defmt::warn!("GET failed: {}", e),
        }
        let t = stack.traffic();
        defmt::info!(
            "UART: {} bytes out, {} in, {} commands",
            t.tx_bytes,
            t.rx_bytes,
            t.commands
        );
        Timer::after_secs(600).await;
    }
}

/// The server's root CA certificate (DER), e.g. `include_bytes!("../ca.der")`: the one that
/// signed the top of the chain the server sends.
#[cfg(feature = "tls")]
const CA_DER: &[u8] = &[];
/// What to fetch (the host is matched against the certificate's CN).
#[cfg(feature = "tls")]
const URL: &str = "https://example.com/";

/// A fresh 64-bit seed for each TLS connection, from a true random source. The STM32F411 has
/// none: a chip with a TRNG reads it (`embassy_stm32::rng::Rng::next_u64`, e.g. on an
/// STM32F405/F407/F429, L4, G4, U5); without one, take it from a secure element (ATECC608
/// and the like). Never a constant, a counter or the time. Zero here, so this build refuses
/// to connect (it measures what TLS costs in flash and RAM).
#[cfg(feature = "tls")]
fn tls_seed() -> u64 {
    core::hint::black_box(0)
}

#[cfg(feature = "tls")]
async fn https_loop(stack: quectel_bc20::asynch::Stack<'static, Mutex>) -> ! {
    // Const-initialised: in .bss from the start, never built on the stack and copied.
    static BUFFERS: static_cell::ConstStaticCell<net::TlsBuffers> =
        static_cell::ConstStaticCell::new(net::TlsBuffers {
            read: [0; 16_640],
            write: [0; 512],
            headers: [0; 2048],
        });
    let buffers = BUFFERS.take();
    loop {
        let seed = tls_seed();
        if seed == 0 || core::hint::black_box(CA_DER).is_empty() {
            defmt::error!("TLS needs a random seed and the server's CA: see src/main.rs");
        } else {
            match net::https_get(stack, buffers, seed, CA_DER, URL).await {
                Ok(f) => defmt::info!("GET {}: status {}, {} bytes", URL, f.status, f.bytes),
                Err(e) => defmt::warn!("GET {} failed: {}", URL, defmt::Debug2Format(&e)),
            }
        }
        Timer::after_secs(600).await;
    }
}
