//! The LeanCloud Realtime wire schema (`proto/message.proto`, proto2), generated at build
//! time by prost from a pure-Rust compiler (protox). Pure types with no I/O: the hub encodes
//! pushes with them and the gateway decodes commands with them.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/push_server.messages2.rs"));
