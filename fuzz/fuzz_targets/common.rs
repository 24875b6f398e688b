//! What the parser targets share: the parse context an input chooses.
//!
//! Input layout: 8 header bytes, then the stream.
//! - byte 0: bits 0..=4 direct push for connectID 0..=4, bit 5 view mode 1, bit 6 show length,
//!   bit 7 hex receive mode;
//! - byte 1: bit 0 small limits (max_line = byte 2, max_payload = byte 3, both may be 0),
//!   bit 1 large reads (read sizes up to 256 instead of up to 16);
//! - bytes 4..=7: read sizes, cycled.

use quectel_bc20::wire::ParseContext;
use quectel_bc20::{AccessMode, ConnectId, DataFormat, ViewMode};

/// The header, the read sizes it chooses and the stream, or `None` for a short input.
pub fn split(data: &[u8]) -> Option<(ParseContext, Vec<usize>, &[u8])> {
    let (head, stream) = data.split_first_chunk::<8>()?;
    let span = if head[1] & 2 != 0 { 256 } else { 16 };
    let sizes = head[4..]
        .iter()
        .map(|&b| 1 + usize::from(b) % span)
        .collect();
    Some((context(head), sizes, stream))
}

fn context(h: &[u8; 8]) -> ParseContext {
    let mut ctx = ParseContext::default();
    for id in ConnectId::ALL {
        if h[0] & (1 << id.index()) != 0 {
            ctx.set_access_mode(id, AccessMode::DirectPush);
        }
    }
    if h[0] & 0x20 != 0 {
        ctx.view_mode = ViewMode::HeaderCommaData;
    }
    ctx.show_length = h[0] & 0x40 != 0;
    if h[0] & 0x80 != 0 {
        ctx.recv_format = DataFormat::Hex;
    }
    if h[1] & 1 != 0 {
        ctx.max_line = usize::from(h[2]);
        ctx.max_payload = usize::from(h[3]);
    }
    ctx
}
