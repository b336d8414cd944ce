//! Tidings: a self-hosted realtime messaging server speaking LeanCloud's Realtime API.
//!
//! - `domain`: pure types and rules (ids, time, message checks).
//! - `store`: persistence over SQLite or Postgres; group commit for messages.
//! - `app`: the use cases; REST and WebSocket are two doors into the same code.
//! - `http`: the REST API (`/1.2/rtm/*`), auth extractors, health.
//! - `hub`: who is online where; delivery to sessions.
//! - `gateway`: the WebSocket protocol of LeanCloud's SDKs.

pub mod config;
pub mod domain;
pub mod error;
pub mod store;
