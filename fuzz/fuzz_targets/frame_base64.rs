//! Text WebSocket frames (`lc.proto2base64.*`): the base64 layer and the protobuf below it.
//! Half the inputs are valid base64 of the fuzzer's bytes, so the protobuf decoder is
//! reached as often as the base64 one is stressed.
#![no_main]

use axum::extract::ws::Message;
use libfuzzer_sys::fuzz_target;
use tidings::gateway::codec::{decode, Format};

fuzz_target!(|data: &[u8]| {
    let text = match data.split_first() {
        Some((0, rest)) => String::from_utf8_lossy(rest).into_owned(),
        Some((_, rest)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(rest)
        }
        None => String::new(),
    };
    let _ = decode(Format::Base64, &Message::Text(text.into()));
});
