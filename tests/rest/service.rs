//! Service conversations (E31-E40), a client's subscriptions (E44) and global broadcasts
//! (E49-E51), over REST.

use super::harness::*;
use serde_json::{json, Value};

async fn subscribe(server: &TestServer, conv: &str, client: &str) {
    let reply = server
        .post(
            &format!("/service-conversations/{conv}/subscribers"),
            json!({"client_id": client}),
        )
        .await;
    assert_eq!(
        (reply.status, &reply.body),
        (200, &json!({})),
        "subscribing {client}"
    );
}

fn subscribers_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["subscriber"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn subscribing_twice_is_one_subscription_and_unsubscribing_twice_is_harmless(
    server: &TestServer,
) {
    let conv = server.create_service_conversation("news").await;
    subscribe(server, &conv, "alice").await;
    subscribe(server, &conv, "alice").await;
    let count = server
        .get(
            &format!("/service-conversations/{conv}/subscribers/count"),
            &[],
        )
        .await;
    assert_eq!((count.status, &count.body), (200, &json!({"count": 1})));
    let listed = server
        .get(&format!("/service-conversations/{conv}/subscribers"), &[])
        .await;
    let items = listed.body.as_array().cloned().unwrap_or_default();
    assert_eq!(subscribers_of(&items), ["alice"]);
    assert_eq!(
        keys_of(&items[0]),
        set(&["timestamp", "subscriber", "conv_id"])
    );
    assert_eq!(items[0]["conv_id"], conv.as_str());
    for _ in 0..2 {
        let gone = server
            .delete(
                &format!("/service-conversations/{conv}/subscribers/alice"),
                None,
            )
            .await;
        assert_eq!((gone.status, &gone.body), (200, &json!({})));
    }
    let count = server
        .get(
            &format!("/service-conversations/{conv}/subscribers/count"),
            &[],
        )
        .await;
    assert_eq!(count.body, json!({"count": 0}));
}
both_backends!(subscribing_twice_is_one_subscription_and_unsubscribing_twice_is_harmless);

async fn the_subscriber_cursor_walks_120_subscribers_50_at_a_time(server: &TestServer) {
    let conv = server.create_service_conversation("news").await;
    let mut expected: Vec<String> = (0..120).map(|i| format!("user{i:03}")).collect();
    for client in &expected {
        subscribe(server, &conv, client).await;
    }
    expected.sort();
    let path = format!("/service-conversations/{conv}/subscribers");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![];
        if let Some(c) = &cursor {
            query.push(("client_id", c.as_str()));
        }
        let page = server.get(&path, &query).await;
        let items = page.body.as_array().cloned().unwrap_or_default();
        assert!(
            items.len() <= 50,
            "a page holds at most 50: {}",
            items.len()
        );
        if items.is_empty() {
            break;
        }
        let names = subscribers_of(&items);
        cursor = names.last().cloned();
        seen.extend(names);
    }
    assert_eq!(
        seen, expected,
        "every subscriber exactly once, in a stable order"
    );
    let limited = server.get(&path, &[("limit", "1000")]).await;
    assert_eq!(
        limited.body.as_array().map(Vec::len),
        Some(50),
        "limit is capped at 50"
    );
    let small = server.get(&path, &[("limit", "7")]).await;
    assert_eq!(small.body.as_array().map(Vec::len), Some(7));
}
both_backends!(the_subscriber_cursor_walks_120_subscribers_50_at_a_time);

async fn a_subscriber_sees_broadcasts_and_the_messages_sent_to_it_but_not_to_others(
    server: &TestServer,
) {
    let conv = server.create_service_conversation("news").await;
    for client in ["alice", "bob"] {
        subscribe(server, &conv, client).await;
    }
    let base = format!("/service-conversations/{conv}");
    let all = server
        .post(
            &format!("{base}/broadcasts"),
            json!({"from_client": "news", "message": "to all"}),
        )
        .await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(keys_of(&all.body), set(&["msg-id", "timestamp"]));
    let to_bob = server
        .post(
            &format!("{base}/messages"),
            json!({"from_client": "news", "message": "to bob", "to_clients": ["bob"]}),
        )
        .await;
    assert_eq!(to_bob.status, 200, "{to_bob:?}");
    let bob = server
        .history(&format!("{base}/subscribers/bob/messages"), &[])
        .await;
    let alice = server
        .history(&format!("{base}/subscribers/alice/messages"), &[])
        .await;
    let data = |items: &[Value]| {
        items
            .iter()
            .map(|i| i["data"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(data(&bob), ["to bob", "to all"], "newest first");
    assert_eq!(data(&alice), ["to all"]);
}
both_backends!(a_subscriber_sees_broadcasts_and_the_messages_sent_to_it_but_not_to_others);

async fn to_clients_holds_at_most_20_ids(server: &TestServer) {
    let conv = server.create_service_conversation("news").await;
    let path = format!("/service-conversations/{conv}/messages");
    let ids = |n: usize| (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>();
    let ok = server
        .post(
            &path,
            json!({"from_client": "news", "message": "m", "to_clients": ids(20)}),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    server
        .post(
            &path,
            json!({"from_client": "news", "message": "m", "to_clients": ids(21)}),
        )
        .await
        .assert_client_error("21 to_clients");
    server
        .post(&path, json!({"from_client": "news", "message": "m"}))
        .await
        .assert_client_error("no to_clients");
    let edit = server
        .put(&format!("{path}/{}", ok.body["msg-id"].as_str().unwrap_or_default()), json!({
            "from_client": "news", "message": "m2", "timestamp": ok.body["timestamp"], "to_clients": ids(21)
        }))
        .await;
    edit.assert_client_error("editing with 21 to_clients");
}
both_backends!(to_clients_holds_at_most_20_ids);

async fn editing_and_recalling_service_messages_changes_what_subscribers_fetch(
    server: &TestServer,
) {
    let conv = server.create_service_conversation("news").await;
    subscribe(server, &conv, "alice").await;
    let base = format!("/service-conversations/{conv}");
    let sent = Sent::from_reply(
        &server
            .post(
                &format!("{base}/broadcasts"),
                json!({"from_client": "news", "message": "v1"}),
            )
            .await,
    );
    let edited = server
        .put(
            &format!("{base}/messages/{}", sent.msg_id),
            json!({"from_client": "news", "message": "v2", "timestamp": sent.timestamp}),
        )
        .await;
    assert_eq!(edited.status, 200, "{edited:?}");
    let wrong = server
        .put(
            &format!("{base}/messages/{}", sent.msg_id),
            json!({"from_client": "someone", "message": "v3", "timestamp": sent.timestamp}),
        )
        .await;
    wrong.assert_client_error("editing with the wrong from_client");
    let history = server
        .history(&format!("{base}/subscribers/alice/messages"), &[])
        .await;
    assert_eq!(history[0]["data"], "v2");
    let direct = Sent::from_reply(
        &server
            .post(
                &format!("{base}/messages"),
                json!({"from_client": "news", "message": "psst", "to_clients": ["alice"]}),
            )
            .await,
    );
    let recalled = server
        .put(
            &format!("{base}/messages/{}/recall", direct.msg_id),
            json!({"from_client": "news", "timestamp": direct.timestamp, "to_clients": ["alice"]}),
        )
        .await;
    assert_eq!(recalled.status, 200, "{recalled:?}");
    let history = server
        .history(&format!("{base}/subscribers/alice/messages"), &[])
        .await;
    assert_eq!(history[0]["msg-id"], direct.msg_id.as_str());
    assert_eq!(history[0]["recall"], true);
    assert_eq!(history[0]["data"], r#"{"_lctype":-127}"#);
}
both_backends!(editing_and_recalling_service_messages_changes_what_subscribers_fetch);

async fn deleting_for_one_subscriber_spares_the_others_and_never_touches_global_broadcasts(
    server: &TestServer,
) {
    let conv = server.create_service_conversation("news").await;
    for client in ["alice", "bob"] {
        subscribe(server, &conv, client).await;
    }
    let base = format!("/service-conversations/{conv}");
    let sent = Sent::from_reply(
        &server
            .post(
                &format!("{base}/broadcasts"),
                json!({"from_client": "news", "message": "b"}),
            )
            .await,
    );
    let ts = sent.timestamp.to_string();
    let reply = server
        .master(
            reqwest::Method::DELETE,
            &format!("{base}/subscribers/alice/messages/{}", sent.msg_id),
        )
        .query(&[("from_client", "news"), ("timestamp", ts.as_str())])
        .send()
        .await;
    assert_eq!((reply.status, &reply.body), (200, &json!({})), "{reply:?}");
    assert!(server
        .history(&format!("{base}/subscribers/alice/messages"), &[])
        .await
        .is_empty());
    assert_eq!(
        server
            .history(&format!("{base}/subscribers/bob/messages"), &[])
            .await
            .len(),
        1
    );

    let global = server
        .post(
            "/broadcasts",
            json!({"from_client": "news", "conv_id": conv, "message": "g"}),
        )
        .await;
    assert_eq!(global.status, 200, "{global:?}");
    let global = Sent::from_reply(&global);
    let ts = global.timestamp.to_string();
    let refused = server
        .master(
            reqwest::Method::DELETE,
            &format!("{base}/subscribers/alice/messages/{}", global.msg_id),
        )
        .query(&[("from_client", "news"), ("timestamp", ts.as_str())])
        .send()
        .await;
    refused.assert_client_error("deleting a global broadcast per subscriber");
}
both_backends!(deleting_for_one_subscriber_spares_the_others_and_never_touches_global_broadcasts);

async fn a_clients_subscriptions_page_by_time_in_both_directions(server: &TestServer) {
    let mut convs = Vec::new();
    for i in 0..5 {
        let conv = server.create_service_conversation(&format!("s{i}")).await;
        subscribe(server, &conv, "alice").await;
        convs.push(conv);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let path = "/clients/alice/service-conversations";
    let listed = server.get(path, &[]).await;
    let items = listed.body.as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["conv_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, convs, "default direction new: earliest first");
    assert_eq!(items[0]["subscriber"], "alice");
    let ts = items[1]["timestamp"]
        .as_i64()
        .unwrap_or_default()
        .to_string();
    let after = server
        .get(
            path,
            &[
                ("conv_id", convs[1].as_str()),
                ("timestamp", ts.as_str()),
                ("limit", "2"),
            ],
        )
        .await;
    let after_ids: Vec<&str> = after
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["conv_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(after_ids, [convs[2].as_str(), convs[3].as_str()]);
    let old = server
        .get(path, &[("direction", "old"), ("limit", "2")])
        .await;
    let old_ids: Vec<&str> = old
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["conv_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(old_ids, [convs[4].as_str(), convs[3].as_str()]);
    server
        .get(path, &[("direction", "sideways")])
        .await
        .assert_client_error("a bad direction");
    server
        .get(path, &[("conv_id", convs[0].as_str())])
        .await
        .assert_client_error("half a cursor");
}
both_backends!(a_clients_subscriptions_page_by_time_in_both_directions);

async fn global_broadcasts_are_listed_while_valid_and_deleted_ones_are_not(server: &TestServer) {
    let conv = server.create_service_conversation("news").await;
    let normal = server.create_conversation(json!({"m": ["a", "b"]})).await;
    server
        .post(
            "/broadcasts",
            json!({"from_client": "news", "conv_id": normal, "message": "x"}),
        )
        .await
        .assert_client_error("conv_id must be a service conversation");
    let now = now_ms();
    let month = 30 * 86_400_000_i64;
    server
        .post("/broadcasts", json!({"from_client": "news", "conv_id": conv, "message": "x", "valid_till": now + month + 60_000}))
        .await
        .assert_client_error("valid_till past one month");
    server
        .post("/broadcasts", json!({"from_client": "news", "conv_id": conv, "message": "x", "valid_till": now - 1000}))
        .await
        .assert_client_error("valid_till in the past");
    let first = server
        .post(
            "/broadcasts",
            json!({"from_client": "news", "conv_id": conv, "message": "one"}),
        )
        .await;
    let second = server
        .post("/broadcasts", json!({"from_client": "news", "conv_id": conv, "message": "two", "valid_till": now + 60_000}))
        .await;
    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{first:?} {second:?}"
    );
    let listed = server
        .get("/broadcasts", &[("conv_id", conv.as_str())])
        .await;
    let items = listed.body.as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.iter().map(|i| i["data"].clone()).collect::<Vec<_>>(),
        [json!("two"), json!("one")]
    );
    assert!(items[0]["valid_till"]
        .as_i64()
        .is_some_and(|t| t == now + 60_000));
    assert!(
        items[1]["valid_till"]
            .as_i64()
            .is_some_and(|t| t > now + month - 60_000),
        "default validity is a month"
    );
    let first_id = first.body["msg-id"].as_str().unwrap_or_default();
    let deleted = server
        .delete(&format!("/broadcasts/{first_id}"), None)
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let listed = server
        .get("/broadcasts", &[("conv_id", conv.as_str())])
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    server
        .delete(&format!("/broadcasts/{first_id}"), None)
        .await
        .assert_error(404, 4404, "deleting twice");
    server
        .get("/broadcasts", &[])
        .await
        .assert_client_error("conv_id is required");
}
both_backends!(global_broadcasts_are_listed_while_valid_and_deleted_ones_are_not);
