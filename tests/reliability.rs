//! The reliability suite's bounded form (issue 11): each finding of the security review
//! replayed against the real server on a random port. Slowloris, a request that never
//! finishes, an unauthenticated 20 MB Agora upload, a WebSocket client that never reads,
//! connection caps, U+0000 on every door (on SQLite and Postgres), the mention lookup's
//! LIKE escaping, unknown-app-id floods, and secrets in the CLI. The long forms (SIGKILL
//! under load, soak, fuzzing) are in `scripts/reliability.sh` and `docs/reliability.md`.
//!
//! Run: `cargo test --test reliability`.

#![allow(clippy::unwrap_used)]

mod gateway_support;

mod reliability {
    mod binary;
    mod fields;
    mod http;
    mod input;
    mod kill;
    mod postgres_restart;
    mod secrets;
    mod slow_consumer;
    mod soak;
    mod websocket;
}
