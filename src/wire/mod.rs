//! The sans-IO protocol core: module output to typed [`Frame`]s, typed commands to bytes.
//!
//! Nothing here does I/O or reads a clock; nothing allocates.

pub(crate) mod addr;
pub mod encode;
mod fields;
mod frame;
mod header;
pub mod hex;
mod keyed;
mod lines;
mod parse;
#[cfg(feature = "siblings")]
mod sibling;

pub use encode::{Command, EncodeError, MAX_COMMAND_LEN, MAX_CONTROL_LEN, encode_send_head};
pub use frame::{
    AtPort, CeReg, ExtService, Frame, Malformed, Payload, PingLine, Remote, SocketStatusExt,
    TestCommand,
};
pub use parse::{
    DEFAULT_MAX_LINE, DEFAULT_MAX_PAYLOAD, Parse, ParseContext, ParseStats, Parser, Stream,
};
