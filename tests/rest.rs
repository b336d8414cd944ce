//! The REST integration suite (issues 2 and 3): conversations, chat rooms, service
//! conversations, members and mutes, the LeanStorage query language, messages, history,
//! authentication, bad input and durability. Every scenario runs twice, against the real
//! server on a random port over a fresh SQLite file and over a fresh Postgres database
//! (see `rest/harness.rs`).
//!
//! Run: `cargo test --test rest` (Postgres must answer at 127.0.0.1:5432 as `postgres`, or
//! set `TIDINGS_TEST_POSTGRES=postgres://user@host:port`).

#![allow(clippy::unwrap_used)]

mod rest {
    #[macro_use]
    pub mod harness;

    mod auth;
    mod bad_input;
    mod conversations;
    mod durability;
    mod history;
    mod messages;
    mod query;

    // Other tracks' REST tests on the same harness.
    mod agora;
    mod ratelimit;
    mod service;
}
