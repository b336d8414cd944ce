//! `/metrics` (issue 18): scraped from the real server after real traffic (REST sends, SDK
//! protocol sessions over WebSocket, a kick, rate-limit refusals, unknown paths), on SQLite
//! and on Postgres. The recorder is process-wide, so the scenarios here run one at a time
//! and compare a scrape before with a scrape after.

#![allow(clippy::unwrap_used)]

#[path = "gateway_support/mod.rs"]
mod gateway_support;

use gateway_support::{command, Backend, Client, Server, APP_ID};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tidings::gateway::proto::{CommandType, ConvCommand, DirectCommand, GenericCommand, OpType};
use tokio::sync::Mutex;

/// One scenario at a time: counters are shared by every server in this process.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// A scrape: Prometheus text format, one sample per line.
struct Scrape(String);

impl Scrape {
    async fn take(server: &Server) -> Scrape {
        let response = server
            .http
            .get(format!("http://{}/metrics", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Scrape(response.text().await.unwrap())
    }

    /// The sum of the samples named `name` whose labels include every `labels` pair.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
                series_name == name
                    && labels
                        .iter()
                        .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, value)| value.parse::<f64>().unwrap())
            .sum()
    }
}

async fn start_conversation(client: &mut Client, members: &[&str]) -> String {
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: members.iter().map(|m| (*m).to_owned()).collect(),
        ..Default::default()
    });
    let started = client.request(start).await;
    started.conv_message.unwrap().cid.unwrap()
}

fn direct(cid: &str, text: &str) -> GenericCommand {
    let mut send = command(CommandType::Direct, None);
    send.direct_message = Some(DirectCommand {
        cid: Some(cid.to_owned()),
        msg: Some(json!({"_lctype": -1, "_lctext": text}).to_string()),
        ..Default::default()
    });
    send
}

/// Waits (bounded) until a fresh scrape satisfies `check`; gauges move when tasks finish.
async fn eventually(server: &Server, what: &str, check: impl Fn(&Scrape) -> bool) {
    for _ in 0..100 {
        if check(&Scrape::take(server).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "metrics never showed: {what}\n{}",
        Scrape::take(server).await.0
    );
}

async fn traffic_moves_the_counters(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let server = Server::start_with(backend, |_, settings| {
        settings.message_rate_per_minute = 3;
    })
    .await;
    let before = Scrape::take(&server).await;
    let sessions = |s: &Scrape| s.value("tidings_sessions", &[("app", APP_ID)]);

    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    eventually(&server, "two sessions", |s| {
        sessions(s) == sessions(&before) + 2.0
    })
    .await;
    let cid = start_conversation(&mut alice, &["alice", "bob"]).await;

    // Two WebSocket sends and three REST sends, each delivered live to the other member.
    for text in ["one", "two"] {
        let ack = alice.request(direct(&cid, text)).await;
        assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
        bob.expect(CommandType::Direct, None).await;
    }
    let path = format!("/1.2/rtm/conversations/{cid}/messages");
    for text in ["three", "four", "five"] {
        let body = json!({"from_client": "bob", "message": text});
        let (status, reply) = server.rest(Method::POST, &path, Some(body)).await;
        assert_eq!(status, 200, "{reply}");
        alice.expect(CommandType::Direct, None).await;
    }
    // Three REST messages a minute: the next REST sends are refused with 429.
    let mut refused = 0;
    for _ in 0..3 {
        let body = json!({"from_client": "bob", "message": "over quota"});
        let (status, _) = server.rest(Method::POST, &path, Some(body)).await;
        refused += usize::from(status == 429);
    }
    assert!(refused >= 2, "{refused} refusals");
    let (status, _) = server.rest(Method::GET, "/no/such/route/42", None).await;
    assert_eq!(status, 404);

    let after = Scrape::take(&server).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let accepted = "tidings_messages_accepted_total";
    assert_eq!(
        delta(accepted, &[("door", "websocket"), ("kind", "normal")]),
        2.0
    );
    assert_eq!(
        delta(accepted, &[("door", "rest"), ("kind", "normal")]),
        3.0
    );
    assert!(delta("tidings_deliveries_total", &[]) >= 5.0);
    assert!(
        delta(
            "tidings_delivery_latency_seconds_count",
            &[("stage", "queued")]
        ) >= 5.0
    );
    assert!(
        delta(
            "tidings_delivery_latency_seconds_count",
            &[("stage", "written")]
        ) >= 5.0
    );
    assert!(delta("tidings_outbound_queue_depth_count", &[]) >= 5.0);
    assert!(delta("tidings_commit_batch_messages_sum", &[]) >= 5.0);
    assert!(delta("tidings_commit_seconds_count", &[]) >= 1.0);
    assert!(delta("tidings_rate_limited_total", &[("family", "messages")]) >= refused as f64);
    let rest_send = [
        ("method", "POST"),
        ("route", "/1.2/rtm/conversations/{id}/messages"),
    ];
    let ok = [rest_send[0], rest_send[1], ("status", "200")];
    assert_eq!(delta("tidings_http_requests_total", &ok), 3.0);
    let limited = [rest_send[0], rest_send[1], ("status", "429")];
    assert_eq!(
        delta("tidings_http_requests_total", &limited),
        refused as f64
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(delta("tidings_http_requests_total", &unmatched) >= 1.0);
    assert!(
        !after.0.contains(&cid),
        "conversation ids must not be labels"
    );
    assert!(!after.0.contains("alice"), "client ids must not be labels");
    assert!(after.value("tidings_db_pool_max_connections", &[]) >= 1.0);
    assert!(after.value("tidings_ws_connections", &[]) >= 2.0);

    // A kick closes bob's session (and his connection): the gauges come back down.
    let (status, _) = server
        .rest(Method::POST, "/1.2/rtm/clients/bob/kick", Some(json!({})))
        .await;
    assert_eq!(status, 200);
    bob.expect(CommandType::Session, Some(OpType::Closed)).await;
    eventually(&server, "one session after the kick", |s| {
        sessions(s) == sessions(&before) + 1.0
            && s.value("tidings_ws_closes_total", &[("reason", "session_closed")])
                > before.value("tidings_ws_closes_total", &[("reason", "session_closed")])
    })
    .await;
    drop(alice);
    eventually(&server, "no session once alice left", |s| {
        sessions(s) == sessions(&before)
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_moves_the_counters_sqlite() {
    traffic_moves_the_counters(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_moves_the_counters_postgres() {
    traffic_moves_the_counters(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_switched_off() {
    let _serial = SERIAL.lock().await;
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.metrics_enabled = false;
    })
    .await;
    let response = server
        .http
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}
