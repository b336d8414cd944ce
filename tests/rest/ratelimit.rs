//! Per-app rate limits in LeanCloud's three families, with small quotas and a clock the test
//! advances instead of sleeping.

use super::harness::*;
use serde_json::json;
use std::time::Duration;

fn small_quotas(setup: &mut Setup) {
    setup.settings.message_rate_per_minute = 3;
    setup.settings.subscription_rate_per_minute = 2;
    setup.settings.subscription_rate_per_day = 5;
    setup.settings.broadcast_rate_per_minute = 1;
    setup.settings.broadcast_rate_per_day = 2;
}

async fn send(server: &TestServer, conv: &str) -> Reply {
    server
        .post(
            &format!("/conversations/{conv}/messages"),
            json!({"from_client": "a", "message": "m"}),
        )
        .await
}

fn assert_throttled(reply: &Reply, what: &str) {
    reply.assert_error(429, 429, what);
    assert_eq!(
        reply.body,
        json!({"code": 429, "error": "Too many requests."}),
        "{what}"
    );
}

async fn the_call_past_the_minute_quota_is_refused_for_60_seconds_then_served(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a", "b"]})).await;
    for i in 0..3 {
        assert_eq!(
            send(server, &conv).await.status,
            200,
            "send {i} is within the quota"
        );
    }
    let refused = server
        .master(
            reqwest::Method::POST,
            &format!("/conversations/{conv}/messages"),
        )
        .json(&json!({"from_client": "a", "message": "m"}))
        .send_with_headers()
        .await;
    assert_throttled(&refused.0, "the 4th send");
    let retry_after: u64 = refused
        .1
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");

    // Edits and recalls share the family: also refused now.
    let history = server
        .history(
            &format!("/conversations/{conv}/messages"),
            &[("limit", "1")],
        )
        .await;
    let recall = server
        .put(
            &format!(
                "/conversations/{conv}/messages/{}/recall",
                history[0]["msg-id"].as_str().unwrap_or_default()
            ),
            json!({"from_client": "a", "timestamp": history[0]["timestamp"]}),
        )
        .await;
    assert_throttled(&recall, "a recall during the lockout");

    // Other families and other apps are not affected.
    let service = server.create_service_conversation("s").await;
    let broadcast = server
        .post(
            &format!("/service-conversations/{service}/broadcasts"),
            json!({"from_client": "s", "message": "b"}),
        )
        .await;
    assert_eq!(
        broadcast.status, 200,
        "the subscription family is separate: {broadcast:?}"
    );
    let other_conv = server
        .anonymous(reqwest::Method::POST, "/conversations")
        .as_master_of(&server.other_app)
        .json(&json!({"m": ["a"]}))
        .send()
        .await;
    let other_id = other_conv.id();
    let other_send = server
        .anonymous(
            reqwest::Method::POST,
            &format!("/conversations/{other_id}/messages"),
        )
        .as_master_of(&server.other_app)
        .json(&json!({"from_client": "a", "message": "m"}))
        .send()
        .await;
    assert_eq!(
        other_send.status, 200,
        "another app is not throttled: {other_send:?}"
    );

    // Still locked 59 s after the first refusal, even though the GCRA would allow one by then.
    server.clock.advance(Duration::from_secs(59));
    assert_throttled(&send(server, &conv).await, "59 s later");
    server.clock.advance(Duration::from_secs(2));
    assert_eq!(
        send(server, &conv).await.status,
        200,
        "61 s after the first refusal the family is served again"
    );
}
both_backends!(
    the_call_past_the_minute_quota_is_refused_for_60_seconds_then_served,
    small_quotas
);

async fn the_daily_total_holds_until_the_utc_day_ends_and_survives_a_restart(
    server: &mut TestServer,
) {
    let conv = server.create_service_conversation("s").await;
    let path = format!("/service-conversations/{conv}/broadcasts");
    let body = json!({"from_client": "s", "message": "b"});
    let mut sent = 0;
    // 2 per minute, 5 per day: advance a minute between pairs.
    while sent < 5 {
        let reply = server.post(&path, body.clone()).await;
        if reply.status == 200 {
            sent += 1;
        } else {
            assert_throttled(&reply, "a per-minute refusal");
            server.clock.advance(Duration::from_secs(61));
        }
    }
    server.clock.advance(Duration::from_secs(61));
    assert_throttled(
        &server.post(&path, body.clone()).await,
        "the 6th broadcast of the day",
    );
    server.restart().await;
    assert_throttled(
        &server.post(&path, body.clone()).await,
        "after a restart, the day's total still counts",
    );
    let now = server.clock.now_ms();
    let to_midnight = (now / 86_400_000 + 1) * 86_400_000 - now;
    server
        .clock
        .advance(Duration::from_millis(to_midnight as u64 + 1000));
    assert_eq!(server.post(&path, body).await.status, 200, "a new UTC day");
}
both_backends_mut!(
    the_daily_total_holds_until_the_utc_day_ends_and_survives_a_restart,
    small_quotas
);

async fn global_broadcasts_have_their_own_quota(server: &TestServer) {
    let conv = server.create_service_conversation("s").await;
    let body = json!({"from_client": "s", "conv_id": conv, "message": "g"});
    assert_eq!(server.post("/broadcasts", body.clone()).await.status, 200);
    assert_throttled(
        &server.post("/broadcasts", body.clone()).await,
        "the 2nd global broadcast in a minute",
    );
    let conversation = server.create_conversation(json!({"m": ["a"]})).await;
    assert_eq!(
        send(server, &conversation).await.status,
        200,
        "normal messages are a separate family"
    );
}
both_backends!(global_broadcasts_have_their_own_quota, small_quotas);
