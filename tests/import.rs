//! Issue 7: moving off LeanCloud. One Tidings server plays LeanCloud (every kind of
//! conversation, tens of thousands of messages with same-millisecond bursts, edits, recalls,
//! binary and typed ones); `tidings::import::leancloud::run` moves everything into a second
//! store, half-way first (an interruption) and then to the end; both servers must then give
//! identical REST answers, with no duplicates, and `verify` must agree. Also: console
//! exports in all three shapes, retries and rate limiting against a misbehaving source,
//! and what happens when the target already has newer messages of its own.
//!
//! Run: `cargo test --test import` (the Postgres test needs 127.0.0.1:5432 as `postgres`, or
//! `TIDINGS_TEST_POSTGRES`).

#![allow(clippy::unwrap_used)]

mod import_support;

use import_support::compare::assert_same;
use import_support::fill::{fill, Plan};
use import_support::records;
use import_support::{generous_settings, Database, Keys, Server};
use std::time::Instant;
use tidings::import::leancloud::{self, Options};
use tidings::import::{file, verify};

fn options(source: &Server, keys: &Keys, target_url: &str) -> Options {
    let mut options = Options::new(
        &source.rest.base,
        &keys.app_id,
        &keys.app_key,
        &keys.master_key,
        target_url,
    );
    options.rate = 0;
    options.concurrency = 4;
    options.progress_every = None;
    options
}

/// Moves `plan` worth of data with an interruption half-way, checks the re-run finishes
/// without duplicates, a third run is a no-op, verify agrees, and both servers answer alike.
async fn end_to_end(plan: Plan, target: Database, page_size: u32) {
    let keys = Keys::random();
    let source_db = Database::sqlite();
    let source = Server::start(&source_db.url, &keys, Some(generous_settings())).await;
    let started = Instant::now();
    let filled = fill(&source, plan).await;
    eprintln!("filled the source in {:?}", started.elapsed());

    // Interrupted half-way (a message budget), then resumed.
    let mut first = options(&source, &keys, &target.url);
    first.page_size = page_size;
    first.max_messages = Some(filled.sent as u64 / 2);
    let interrupted = leancloud::run(first)
        .await
        .unwrap_or_else(|e| panic!("first run: {e:#}"));
    assert!(!interrupted.complete, "{interrupted}");
    assert_eq!(
        interrupted.messages_imported,
        filled.sent as u64 / 2,
        "{interrupted}"
    );
    assert!(interrupted.checksum.is_none());

    let mut second = options(&source, &keys, &target.url);
    second.page_size = page_size;
    let mut shown = second.clone();
    shown.progress_every = Some(std::time::Duration::from_secs(1));
    let resumed = leancloud::run(shown)
        .await
        .unwrap_or_else(|e| panic!("second run: {e:#}"));
    eprintln!("{resumed}");
    assert!(resumed.complete, "{resumed}");
    assert_eq!(resumed.skipped_total, 0, "{resumed}");
    let total = interrupted.messages_imported + resumed.messages_imported;
    let rate = resumed.messages_per_second();

    // Nothing left: a third run imports nothing and re-reads no finished history.
    let again = leancloud::run(second.clone())
        .await
        .unwrap_or_else(|e| panic!("third run: {e:#}"));
    assert!(again.complete);
    assert_eq!(
        (again.messages_imported, again.conversations_created),
        (0, 0),
        "{again}"
    );
    assert_eq!(
        again.histories_up_to_date, again.conversations_seen,
        "{again}"
    );
    assert_eq!(again.checksum, resumed.checksum);

    let checked = verify::run(second)
        .await
        .unwrap_or_else(|e| panic!("verify: {e:#}"));
    assert!(checked.ok(), "{checked}");
    assert_eq!(Some(&checked.target_checksum), resumed.checksum.as_ref());
    assert_eq!(
        checked.source_messages, total,
        "every message imported exactly once: {checked}"
    );

    let target_server = Server::start(&target.url, &keys, None).await;
    let compared = assert_same(&source.rest, &target_server.rest, &filled).await;
    assert_eq!(compared, total, "messages in both servers' histories");
    eprintln!(
        "import e2e: {} conversations, {total} messages ({} sent, rest deleted), resumed run at {rate:.0} msg/s, whole test {:?}",
        resumed.conversations_seen,
        filled.sent,
        started.elapsed()
    );
    target_server.stop().await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leancloud_import_end_to_end_sqlite() {
    let plan = Plan {
        normal: 150,
        rooms: 30,
        services: 20,
        rest_messages: 3000,
        direct_messages: 14_000,
        big: 2,
        big_size: 1500,
    };
    end_to_end(plan, Database::sqlite(), 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leancloud_import_end_to_end_postgres_target() {
    let plan = Plan {
        normal: 40,
        rooms: 10,
        services: 6,
        rest_messages: 1500,
        direct_messages: 2500,
        big: 1,
        big_size: 900,
    };
    end_to_end(plan, Database::postgres().await, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_export_in_all_three_shapes_with_malformed_lines() {
    let keys = Keys::random();
    let target = Database::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let objects = records::exported();
    let lines: Vec<String> = objects.iter().map(|o| o.to_string()).collect();
    let files = [
        (
            "array.json",
            serde_json::to_string_pretty(&objects).unwrap(),
            file::Shape::Array,
        ),
        (
            "results.json",
            serde_json::json!({"results": objects}).to_string(),
            file::Shape::Results,
        ),
        (
            "export.jsonl",
            format!(
                "{}\n\n{{\"objectId\": broken\n{}\n[1]\n{{\"name\":\"no id\"}}\n{}\n",
                lines[0], lines[1], lines[2]
            ),
            file::Shape::Lines,
        ),
    ];
    for (round, (name, text, shape)) in files.iter().enumerate() {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let options = |verify| file::FileOptions {
            path: path.clone(),
            database_url: target.url.clone(),
            app_id: keys.app_id.clone(),
            app_key: Some(keys.app_key.clone()),
            master_key: Some(keys.master_key.clone()),
            verify,
        };
        let report = file::run(options(false))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(report.shape, *shape, "{report}");
        assert_eq!(report.created + report.updated, 3, "{name}: {report}");
        assert_eq!(
            report.created,
            if round == 0 { 3 } else { 0 },
            "{name}: {report}"
        );
        let verified = file::run(options(true))
            .await
            .unwrap_or_else(|e| panic!("{name} verify: {e:#}"));
        assert!(verified.mismatches.is_empty(), "{verified}");
        assert_eq!(verified.checksum, report.checksum);
        if *shape == file::Shape::Lines {
            let places: Vec<&str> = report.skipped.iter().map(|s| s.item.as_str()).collect();
            assert_eq!(places, vec!["line 3", "line 5", "line 6"], "{report}");
            assert!(report.skipped[0].reason.starts_with("not JSON"), "{report}");
            assert!(report.skipped[2].reason.contains("objectId"), "{report}");
        } else {
            assert!(report.skipped.is_empty(), "{report}");
        }
    }
    let server = Server::start(&target.url, &keys, None).await;
    let listed = server
        .rest
        .get("/all-conversations", &[("order", "createdAt".to_owned())])
        .await;
    // Served as LeanCloud serves them: createdAt a bare ISO string, no ACL.
    let mut expected = objects;
    expected[1]["createdAt"] = serde_json::json!("2020-02-01T00:00:00.000Z");
    if let Some(object) = expected[2].as_object_mut() {
        object.remove("ACL");
    }
    assert_eq!(listed["results"], serde_json::Value::Array(expected));
    server.stop().await;

    // The command line: malformed lines are reported, not fatal.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "import",
            "conversations",
            dir.path().join("export.jsonl").to_str().unwrap_or_default(),
        ])
        .args([
            "--app-id",
            &keys.app_id,
            "--app-key",
            &keys.app_key,
            "--master-key",
            &keys.master_key,
        ])
        .env("TIDINGS_DATABASE_URL", &target.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("0 created, 3 updated") && stdout.contains("line 3: not JSON"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_requests_retry_back_off_respect_the_rate_and_give_up_clearly() {
    use tidings::import::source::{Source, SourceConfig};
    use tokio_util::sync::CancellationToken;
    let config = |server: &str, rate, max_attempts| SourceConfig {
        server: server.to_owned(),
        app_id: "app".into(),
        master_key: "master".into(),
        rate,
        max_attempts,
    };
    // 429 (Retry-After: 0), 500 and 503 are retried; the fourth attempt succeeds.
    let flaky = import_support::flaky::start(vec![429, 500, 503]).await;
    let source = Source::new(config(&flaky.base, 0, 5), CancellationToken::new()).unwrap();
    let answer = source
        .get_ok("/1.2/rtm/all-conversations", &[])
        .await
        .unwrap();
    assert_eq!(answer["results"], serde_json::json!([]));
    assert_eq!((source.requests(), source.retries()), (4, 3));

    // A bounded number of attempts, then a clear, resumable error.
    let flaky = import_support::flaky::start(vec![503; 10]).await;
    let source = Source::new(config(&flaky.base, 0, 2), CancellationToken::new()).unwrap();
    let err = source
        .get_ok("/1.2/rtm/all-conversations", &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("giving up")
            && err.contains("after 2 attempts")
            && err.contains("again to resume"),
        "{err}"
    );
    let unreachable =
        Source::new(config("http://127.0.0.1:9", 0, 2), CancellationToken::new()).unwrap();
    let err = unreachable
        .get_ok("/1.2/rtm/all-conversations", &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("network error"), "{err}");

    // A refusal is final and names the likely cause.
    let flaky = import_support::flaky::start(vec![401]).await;
    let source = Source::new(config(&flaky.base, 0, 5), CancellationToken::new()).unwrap();
    let err = source
        .get_ok("/1.2/rtm/all-conversations", &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401") && err.contains("--master-key"), "{err}");
    assert_eq!(source.requests(), 1);

    // Listing through LeanStorage's scan cursor when the source serves it.
    let scan = import_support::flaky::scanning(records::exported()).await;
    let source = Source::new(config(&scan.base, 0, 1), CancellationToken::new()).unwrap();
    let mut pager =
        tidings::import::listing::ConversationPager::new(&source, Default::default(), 1000);
    let mut pages = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        pages.push(page.len());
    }
    assert_eq!(pages, vec![2, 1]);

    // --rate 20: 30 requests need at least half a second after the first 20.
    let flaky = import_support::flaky::start(Vec::new()).await;
    let source = Source::new(config(&flaky.base, 20, 1), CancellationToken::new()).unwrap();
    let started = Instant::now();
    for _ in 0..30 {
        source
            .get_ok("/1.2/rtm/all-conversations", &[])
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_older_than_the_targets_own_are_skipped_and_reported() {
    use tidings::store::import::Cursor;
    use tidings::store::Store;
    let db = Database::sqlite();
    let store = Store::connect(&db.url, 4, 16).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store
        .import_conversation("app", &records::conversation("c1"))
        .await
        .unwrap());
    assert!(store
        .import_conversation("app", &records::conversation("c2"))
        .await
        .unwrap());
    let live = records::live_message("app", "c1", "live", 5_000);
    store.writer().write(live).await.unwrap();
    let message = records::message;
    let page = vec![
        message("old", 4_000),
        message("same", 5_000),
        message("new", 6_000),
        message("live", 5_000),
    ];
    let cursor = Cursor {
        timestamp: 6_000,
        msg_id: "new".into(),
    };
    let outcome = store
        .import_messages("app", "c1", &page, &cursor)
        .await
        .unwrap();
    assert_eq!(
        (outcome.inserted, outcome.duplicates),
        (2, 1),
        "{outcome:?}"
    );
    assert_eq!(outcome.skipped.len(), 1);
    assert!(
        outcome.skipped[0].0 == "old" && outcome.skipped[0].1.contains("older"),
        "{outcome:?}"
    );
    let ids: Vec<(String, i64, i64)> = store.message_ids_page("app", "c1", None, 10).await.unwrap();
    let order: Vec<(&str, i64)> = ids.iter().map(|(id, _, seq)| (id.as_str(), *seq)).collect();
    assert_eq!(order, vec![("live", 1), ("same", 2), ("new", 3)]);
    // A msg-id another conversation holds is not taken; the resume point moved anyway.
    let outcome = store
        .import_messages(
            "app",
            "c2",
            &[message("new", 7_000)],
            &Cursor {
                timestamp: 7_000,
                msg_id: "new".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 0);
    assert!(
        outcome.skipped[0].1.contains("conversation c1"),
        "{outcome:?}"
    );
    let state = store.import_state("app", "c2").await.unwrap().unwrap();
    assert_eq!(state.cursor.map(|c| c.timestamp), Some(7_000));
    store.close().await;
}

/// Issue 14: files referenced by messages are copied, messages rewritten, the source can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_copied_and_served_after_the_source_is_gone_sqlite() {
    import_support::files::files_move_with_their_messages(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_copied_and_served_after_the_source_is_gone_postgres() {
    import_support::files::files_move_with_their_messages(Database::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_export_is_accepted_sqlite() {
    import_support::files::file_export_is_accepted(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_export_is_accepted_postgres() {
    import_support::files::file_export_is_accepted(Database::postgres().await).await;
}
