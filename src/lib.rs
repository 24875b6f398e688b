//! # quectel-bc20
//!
//! A Quectel BC20 NB-IoT modem as a network stack for embedded Rust.
//!
//! The crate is built as one sans-IO protocol core ([`wire`]: parser and command encoder) with
//! thin shells around it. See the README for the overall guide.
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
pub mod wire;

#[cfg(feature = "sim")]
pub mod sim;

pub use blocking::Bc20;
pub use clock::Clock;
#[cfg(feature = "std")]
pub use clock::StdClock;
pub use error::{Error, ModemError};
pub use types::*;
