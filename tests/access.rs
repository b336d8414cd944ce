//! Access control (issue 10), tried as an attacker would, against the real server over the
//! protobuf protocol, on SQLite and on Postgres: the policy table of `docs/policy.md` row by
//! row (non-members, wrong or missing signatures, over-quota clients), the four holes found
//! in review, kicks that void old tokens, and service-conversation uplink messages.
//!
//! Run: `cargo test --test access` (Postgres at 127.0.0.1:5432 as `postgres`).

#![allow(clippy::unwrap_used)]

mod gateway_support;

/// Runs a scenario `name(backend)` as two tests, on SQLite and on Postgres.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::gateway_support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::gateway_support::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use on_both;

mod access {
    pub mod support;

    mod client_blocks;
    mod holes;
    mod kicks;
    mod moderation;
    mod policy;
    mod quotas;
    mod removals;
    mod signatures;
}
