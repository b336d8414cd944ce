//! Binary WebSocket frames (`lc.protobuf2.*`) through the gateway's decoder: any bytes
//! decode to a command or a `DecodeError`, never a panic.
#![no_main]

use axum::extract::ws::Message;
use libfuzzer_sys::fuzz_target;
use tidings::gateway::codec::{decode, Format};

fuzz_target!(|data: &[u8]| {
    let _ = decode(
        Format::Binary,
        &Message::Binary(bytes::Bytes::copy_from_slice(data)),
    );
});
