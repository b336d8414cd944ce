//! SIGKILL under load, on each store: the real binary with 64 REST senders and raw
//! WebSocket senders (protobuf, the SDKs' wire format) is killed at random moments and
//! restarted on the same port and database. Afterwards every acknowledged message is stored
//! exactly once under its acknowledged id, each conversation's `seq` runs 1..=n with no gap,
//! and every restart became ready by itself.
//!
//! Bounded (CI): `RELIABILITY_KILLS` (3) kills per store. Long form:
//! `RELIABILITY_KILLS=20 cargo test --test reliability kill -- --nocapture`.
//! `RELIABILITY_SEED` replays the kill moments of a run (each run prints its seed).

use super::binary::{
    create_conversation, env_number, one_load_test_at_a_time, prepare_app, rest_sender, ws_sender,
    Binary, Ledger,
};
use crate::gateway_support::Backend;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CONVERSATIONS: usize = 8;
const REST_SENDERS: usize = 64;
const WS_SENDERS: usize = 8;

/// A database for this run: a fresh SQLite file, or a fresh database on the local cluster.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    use sqlx::{Connection, Executor};
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("kill.db").display()),
        Backend::Postgres => {
            let base = std::env::var("TIDINGS_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
            let name = format!(
                "tidings_rel_{}_{}",
                std::process::id(),
                tidings::domain::ids::random_alphanumeric(8).to_lowercase()
            );
            let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
                .await
                .unwrap();
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            let _ = admin.close().await;
            format!("{base}/{name}")
        }
    }
}

async fn create_conversations(base: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut convs = Vec::new();
    for c in 0..CONVERSATIONS {
        let mut members: Vec<String> = (0..REST_SENDERS)
            .filter(|i| i % CONVERSATIONS == c)
            .map(|i| format!("rest{i}"))
            .collect();
        members.extend(
            (0..WS_SENDERS)
                .filter(|i| i % CONVERSATIONS == c)
                .map(|i| format!("ws{i}")),
        );
        convs.push(create_conversation(&http, base, &format!("kill{c}"), &members).await);
    }
    convs
}

/// Every stored message: (conversation, seq, msg_id, data).
pub async fn stored_messages(database_url: &str) -> Vec<(String, i64, String, String)> {
    use sqlx::Connection;
    let query =
        "SELECT conv_id, seq, msg_id, data FROM messages WHERE app_id = $1 ORDER BY conv_id, seq";
    if database_url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query)
            .bind(crate::gateway_support::APP_ID)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query)
            .bind(crate::gateway_support::APP_ID)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }
}

/// Checks the store against the ledger; returns the number of stored messages.
pub fn assert_ledger_holds(ledger: &Ledger, stored: &[(String, i64, String, String)]) -> usize {
    let mut by_id: HashMap<&str, (&str, &str)> = HashMap::new();
    let mut texts = HashSet::new();
    let mut seqs: HashMap<&str, Vec<i64>> = HashMap::new();
    for (conv, seq, msg_id, data) in stored {
        assert!(
            by_id.insert(msg_id, (conv, data)).is_none(),
            "{msg_id} stored twice"
        );
        assert!(texts.insert(data.as_str()), "{data:?} stored twice");
        seqs.entry(conv).or_default().push(*seq);
    }
    for (conv, seqs) in &seqs {
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, &expected, "gap in the sequence of {conv}");
    }
    for acked in ledger.acked.lock().iter() {
        let found = by_id.get(acked.msg_id.as_str());
        assert_eq!(
            found,
            Some(&(acked.conv.as_str(), acked.text.as_str())),
            "acknowledged {acked:?} not stored as acknowledged"
        );
    }
    stored.len()
}

async fn killed_under_load(backend: Backend) {
    let _turn = one_load_test_at_a_time().await;
    let kills = env_number("RELIABILITY_KILLS", 3);
    let seed = env_number("RELIABILITY_SEED", rand::random::<u32>() as u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    prepare_app(&database_url).await;
    let mut server = Binary::start(&database_url, &[("TIDINGS_SHUTDOWN_GRACE_SECS", "1")]).await;
    let convs = create_conversations(&server.base()).await;
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for i in 0..REST_SENDERS {
        senders.push(tokio::spawn(rest_sender(
            server.base(),
            format!("rest{i}"),
            convs[i % CONVERSATIONS].clone(),
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    for i in 0..WS_SENDERS {
        senders.push(tokio::spawn(ws_sender(
            server.base(),
            format!("ws{i}"),
            convs[i % CONVERSATIONS].clone(),
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    let mut restarts = Vec::new();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..3000))).await;
        let before = ledger.acked.lock().len();
        server.sigkill().await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..500))).await;
        restarts.push((before, server.restart().await));
    }
    // Let the senders find the last restart, then stop them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender)
            .await
            .expect("a sender did not stop")
            .unwrap();
    }
    let acked = ledger.acked.lock().len();
    let stored = assert_ledger_holds(&ledger, &stored_messages(&database_url).await);
    let after_last = acked - restarts.last().map_or(0, |r| r.0);
    eprintln!(
        "sigkill {backend:?}: seed {seed}, {kills} kills, {acked} acknowledged, {stored} stored, \
         {} failed attempts, ready after restart {:?}",
        ledger.failed.load(Ordering::Relaxed),
        restarts.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    assert!(
        after_last > 0,
        "nothing was acknowledged after the last restart"
    );
    server.sigkill().await;
    drop_database(&database_url).await;
}

/// Drops a Postgres database made by [`fresh_database`] (SQLite files go with their dir).
pub async fn drop_database(database_url: &str) {
    use sqlx::{Connection, Executor};
    let Some((base, name)) = database_url
        .strip_prefix("postgres")
        .and_then(|_| database_url.rsplit_once('/'))
    else {
        return;
    };
    if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_sigkill_sqlite() {
    killed_under_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_sigkill_postgres() {
    killed_under_load(Backend::Postgres).await;
}
