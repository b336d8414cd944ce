//! Use cases shared by REST and the WebSocket gateway: one path for each thing a client
//! can do, whichever door it came through.

pub mod acks;
pub mod admin;
pub mod agora;
pub mod conversations;
pub mod directory;
pub mod fields;
pub mod history;
pub mod membership;
pub mod patch;
pub mod render;
pub mod send;
pub mod service;
pub mod session_token;
