//! Postgres stopped mid-load and started again. The test starts a Postgres cluster of its
//! own (initdb/pg_ctl in a temp dir, a random port) so the shared local cluster is never
//! touched. While the database is down, sends fail fast with LeanCloud's error shape (no
//! hang past the pool's 10 s acquire timeout) and `/readyz` is 503; after the restart the
//! server recovers by itself, and nothing it acknowledged is lost.
//!
//! Needs the Postgres server binaries: `RELIABILITY_PG_BIN` (default
//! /usr/lib/postgresql/15/bin). As root, they run as the `postgres` user.

use super::binary::{one_load_test_at_a_time, prepare_app, rest_sender, ws_sender, Binary, Ledger};
use super::kill::{assert_ledger_holds, stored_messages};
use crate::gateway_support::{APP_ID, MASTER_KEY};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a send may take while the database is down: the store's pool gives up
/// acquiring a connection after 10 s (`store::pool_options`; the writer's own send timeout
/// is 5 s), plus slack for a loaded 2-core machine. Far below the 30 s request timeout.
const FAIL_FAST_BOUND: Duration = Duration::from_secs(14);

struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let dir = std::env::var("RELIABILITY_PG_BIN")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_owned());
    Path::new(&dir).join(name)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().next().map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// Runs a Postgres tool, as the `postgres` user when we are root (Postgres refuses root).
fn run_pg(tool: &str, args: &[&str]) {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_bin(tool));
        c
    } else {
        Command::new(pg_bin(tool))
    };
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PrivatePostgres {
    fn init() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let data = dir.path().join("data").display().to_string();
        run_pg(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        );
        let cluster = PrivatePostgres {
            dir,
            port: super::binary::free_port(),
        };
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        run_pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops like a crash: no checkpoint, clients cut off.
    fn stop(&self) {
        run_pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(pg_bin("pg_ctl"))
                .args(args)
                .output()
        } else {
            Command::new(pg_bin("pg_ctl")).args(args).output()
        };
    }
}

/// One send, timed: (how long, status, body).
async fn timed_send(http: &reqwest::Client, base: &str, conv: &str) -> (Duration, u16, String) {
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let text = format!("probe-{}", PROBES.fetch_add(1, Ordering::Relaxed));
    let started = Instant::now();
    let response = http
        .post(format!("{base}/1.2/rtm/conversations/{conv}/messages"))
        .header("X-LC-Id", APP_ID)
        .header("X-LC-Key", format!("{MASTER_KEY},master"))
        .json(&serde_json::json!({"from_client": "probe", "message": text}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (started.elapsed(), status, body)
}

async fn readyz(http: &reqwest::Client, base: &str) -> u16 {
    match http.get(format!("{base}/readyz")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_fails_fast_and_the_server_recovers_by_itself() {
    let _turn = one_load_test_at_a_time().await;
    let cluster = PrivatePostgres::init();
    prepare_app(&cluster.url()).await;
    let server = Binary::start(&cluster.url(), &[]).await;
    let base = server.base();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let (status, conv) = {
        let response = http
            .post(format!("{base}/1.2/rtm/conversations"))
            .header("X-LC-Id", APP_ID)
            .header("X-LC-Key", format!("{MASTER_KEY},master"))
            .json(&serde_json::json!({"name": "pg", "m": ["probe", "ws0", "ws1"]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body)
    };
    assert_eq!(status, 200, "{conv}");
    let conv = conv["objectId"].as_str().unwrap().to_owned();
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for i in 0..16 {
        senders.push(tokio::spawn(rest_sender(
            base.clone(),
            format!("rest{i}"),
            conv.clone(),
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    for i in 0..2 {
        senders.push(tokio::spawn(ws_sender(
            base.clone(),
            format!("ws{i}"),
            conv.clone(),
            Arc::clone(&ledger),
            Arc::clone(&stop),
        )));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let acked_before = ledger.acked.lock().len();
    assert!(acked_before > 0, "nothing acknowledged before the stop");

    cluster.stop();
    let stopped = Instant::now();
    // While it is down: every send fails, fast, in LeanCloud's shape; /readyz says so.
    let down_for = Duration::from_secs(12);
    let sends = async {
        let mut slowest = Duration::ZERO;
        let mut codes = std::collections::BTreeSet::new();
        while stopped.elapsed() < down_for {
            let (took, status, body) = timed_send(&http, &base, &conv).await;
            assert!(
                took < FAIL_FAST_BOUND,
                "a send took {took:?} while Postgres was down"
            );
            // 503 with LeanStorage's "server timeout": retry later (was an opaque 500).
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!((status, body["code"].as_i64()), (503, Some(124)), "{body}");
            assert!(body["error"].is_string(), "{body}");
            codes.insert((status, body["code"].as_i64().unwrap_or_default()));
            slowest = slowest.max(took);
        }
        (slowest, codes)
    };
    let readiness = async {
        let mut first_503 = None;
        while stopped.elapsed() < down_for {
            if first_503.is_none() && readyz(&http, &base).await == 503 {
                first_503 = Some(stopped.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first_503
    };
    let ((slowest, codes), readyz_503_after) = tokio::join!(sends, readiness);
    let readyz_503_after =
        readyz_503_after.expect("/readyz never said 503 while Postgres was down");

    cluster.start();
    let restarted = Instant::now();
    let mut ready_after = None;
    let mut send_after = None;
    while restarted.elapsed() < Duration::from_secs(60) && send_after.is_none() {
        if ready_after.is_none() && readyz(&http, &base).await == 200 {
            ready_after = Some(restarted.elapsed());
        }
        if ready_after.is_some() && timed_send(&http, &base, &conv).await.1 == 200 {
            send_after = Some(restarted.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_after = ready_after.expect("/readyz did not become 200 after Postgres came back");
    let send_after = send_after.expect("sends did not succeed after Postgres came back");
    let acked_at_recovery = ledger.acked.lock().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender)
            .await
            .expect("a sender did not stop")
            .unwrap();
    }
    let acked = ledger.acked.lock().len();
    assert!(
        acked > acked_at_recovery,
        "the load senders did not recover by themselves"
    );
    // Probes have texts of their own, so the exactly-once and no-gap checks cover them.
    let stored = assert_ledger_holds(&ledger, &stored_messages(&cluster.url()).await);
    eprintln!(
        "postgres restart: {acked} acknowledged ({acked_before} before the stop), \
         {stored} stored, slowest failing send {slowest:?}, failures {codes:?}, \
         /readyz 503 after {readyz_503_after:?}, ready {ready_after:?} and sending \
         {send_after:?} after the start"
    );
    drop(server);
}
