//! The web console's protections over HTTP (issue 18), on SQLite and Postgres: refused without
//! credentials, CSRF and clickjacking defences, escaping of user-provided strings, the admin
//! token. The browser journeys are in `tests/browser/` (headless Chromium).

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;

mod admin {
    pub mod console;
}
