//! Pure types and rules with no I/O: identifiers, time, client ids, conversation kinds and
//! message validation. Everything else depends on this; it depends on nothing.

pub mod app;
pub mod client_id;
pub mod conversation;
pub mod ids;
pub mod message;
pub mod signature;
pub mod text;
pub mod time;
