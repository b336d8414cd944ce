//! Sending (E11, E22), editing (E13, E24), recalling (E14, E25) and deleting (E15, E26)
//! messages, with the rules every message obeys.

use super::harness::*;
use serde_json::{json, Value};

/// The two families that take messages, each with a fresh target.
async fn targets(server: &TestServer) -> [String; 2] {
    let conv = server
        .create_conversation(json!({"m": ["BillGates", "SteveJobs"]}))
        .await;
    let room = server.create_chat_room("room").await;
    [
        format!("/conversations/{conv}"),
        format!("/chatrooms/{room}"),
    ]
}

async fn sending_a_message_returns_its_id_and_timestamp_as_the_seed_shows(server: &TestServer) {
    for target in targets(server).await {
        let before = now_ms();
        let reply = server
            .post(
                &format!("{target}/messages"),
                json!({"from_client": "BillGates", "message": "hello"}),
            )
            .await;
        let after = now_ms();
        assert_eq!(reply.status, 200, "{target}: {reply:?}");
        assert_eq!(
            keys_of(&reply.body),
            set(&["msg-id", "timestamp"]),
            "{:?}",
            reply.body
        );
        assert_msg_id(&reply.body["msg-id"]);
        let timestamp = reply.body["timestamp"].as_i64().expect("timestamp in ms");
        assert!(
            (before..=after).contains(&timestamp),
            "{before} <= {timestamp} <= {after}"
        );
        let history = server.history(&format!("{target}/messages"), &[]).await;
        assert_eq!(
            msg_ids(&history),
            [reply.body["msg-id"].as_str().unwrap_or_default()]
        );
        assert_eq!(history[0]["data"], "hello");
        assert_eq!(history[0]["timestamp"], timestamp);
    }
}
both_backends!(sending_a_message_returns_its_id_and_timestamp_as_the_seed_shows);

async fn from_client_and_message_are_required(server: &TestServer) {
    for target in targets(server).await {
        let path = format!("{target}/messages");
        let cases = [
            (json!({"message": "hi"}), "no from_client"),
            (json!({"from_client": "a"}), "no message"),
            (
                json!({"from_client": "", "message": ""}),
                "the seed's empty template",
            ),
            (
                json!({"from_client": "", "message": "hi"}),
                "an empty from_client",
            ),
            (
                json!({"from_client": "a", "message": ""}),
                "an empty message",
            ),
            (
                json!({"from_client": "a", "message": null}),
                "a null message",
            ),
            (json!({}), "an empty body"),
        ];
        for (body, what) in cases {
            server
                .post(&path, body)
                .await
                .assert_client_error(&format!("{target}: {what}"));
        }
        server
            .post(&path, json!({"message": "hi"}))
            .await
            .assert_error(400, 113, "no from_client");
        server
            .post(&path, json!({"from_client": "a"}))
            .await
            .assert_error(400, 113, "no message");
        server
            .post(
                &path,
                json!({"from_client": "x".repeat(65), "message": "hi"}),
            )
            .await
            .assert_client_error("a 65-character from_client");
        assert!(
            server.history(&path, &[]).await.is_empty(),
            "nothing was stored"
        );
    }
}
both_backends!(from_client_and_message_are_required);

async fn a_message_may_be_5120_bytes_and_no_more(server: &TestServer) {
    for target in targets(server).await {
        let path = format!("{target}/messages");
        let sent = server.send(&target, "a", &"a".repeat(5120)).await;
        let over = server
            .post(
                &path,
                json!({"from_client": "a", "message": "a".repeat(5121)}),
            )
            .await;
        over.assert_error(400, 4109, "5121 bytes");
        assert_eq!(msg_ids(&server.history(&path, &[]).await), [sent.msg_id]);
    }
}
both_backends!(a_message_may_be_5120_bytes_and_no_more);

async fn multi_byte_characters_count_as_bytes_toward_the_limit(server: &TestServer) {
    let [conv, _] = targets(server).await;
    let path = format!("{conv}/messages");
    server.send(&conv, "a", &"é".repeat(2560)).await;
    let two_byte = server
        .post(
            &path,
            json!({"from_client": "a", "message": "é".repeat(2561)}),
        )
        .await;
    two_byte.assert_error(400, 4109, "2561 two-byte characters are 5122 bytes");
    let three_byte = server
        .post(
            &path,
            json!({"from_client": "a", "message": "中".repeat(1707)}),
        )
        .await;
    three_byte.assert_error(400, 4109, "1707 three-byte characters are 5121 bytes");
    server.send(&conv, "a", &"中".repeat(1706)).await;
    assert_eq!(server.history(&path, &[]).await.len(), 2);
}
both_backends!(multi_byte_characters_count_as_bytes_toward_the_limit);

async fn push_data_counts_toward_the_size_limit(server: &TestServer) {
    let [conv, _] = targets(server).await;
    let path = format!("{conv}/messages");
    let small_push = json!({"alert": "hi"});
    server
        .send_json(
            &conv,
            json!({"from_client": "a", "message": "a".repeat(5000), "push_data": small_push}),
        )
        .await;
    let big_push = json!({"alert": "x".repeat(200), "badge": "Increment"});
    let over = server
        .post(
            &path,
            json!({"from_client": "a", "message": "a".repeat(5000), "push_data": big_push}),
        )
        .await;
    over.assert_error(
        400,
        4109,
        "5000 bytes of message plus 200+ bytes of push_data",
    );
    assert_eq!(server.history(&path, &[]).await.len(), 1);
}
both_backends!(push_data_counts_toward_the_size_limit);

fn typed_messages() -> Vec<(Value, bool)> {
    let file =
        json!({"url": "http://ac-p2bpmgci.clouddn.com/246b8acc-2e12-4a9d-a255-8d17a3059d25"});
    vec![
        (
            json!({"_lctype": -1, "_lctext": "这是一个纯文本消息", "_lcattrs": {"a": "_lcattrs"}}),
            true,
        ),
        (
            json!({"_lctype": -2, "_lctext": "图像的文字说明", "_lcattrs": {"a": "x", "b": true, "c": 12},
                "_lcfile": {"url": "http://ac-p2bpmgci.clouddn.com/246b8acc", "objId": "54699d87e4b0a56c64f470a4",
                    "metaData": {"name": "IMG_20141223.jpeg", "format": "png", "height": 768, "width": 1024, "size": 18}}}),
            true,
        ),
        (json!({"_lctype": -2, "_lcfile": file.clone()}), true),
        (json!({"_lctype": -2, "_lctext": "no file"}), false),
        (
            json!({"_lctype": -2, "_lcfile": {"objId": "54699d87e4b0a56c64f470a4"}}),
            false,
        ),
        (
            json!({"_lctype": -3, "_lcfile": {"url": "http://www.somemusic.com/x.mp3"}}),
            true,
        ),
        (json!({"_lctype": -3, "_lctext": "no file"}), false),
        (
            json!({"_lctype": -4, "_lcfile": {"url": "http://www.somevideo.com/Y.flv"}}),
            true,
        ),
        (json!({"_lctype": -4}), false),
        (
            json!({"_lctype": -5, "_lctext": "这是一个地理位置消息", "_lcloc": {"longitude": 23.2, "latitude": 45.2}}),
            true,
        ),
        (
            json!({"_lctype": -5, "_lcloc": {"longitude": 23.2, "latitude": 45.2}}),
            true,
        ),
        (json!({"_lctype": -5, "_lctext": "no location"}), false),
        (json!({"_lctype": -5, "_lcloc": {"longitude": 23.2}}), false),
        (
            json!({"_lctype": -5, "_lcloc": {"longitude": "east", "latitude": 45.2}}),
            false,
        ),
        (
            json!({"_lctype": -6, "_lcfile": {"url": "http://www.somefile.com/jianli.doc", "name": "我的简历.doc"}}),
            true,
        ),
        (
            json!({"_lctype": -6, "_lcfile": {"name": "我的简历.doc"}}),
            false,
        ),
        (
            json!({"_lctype": 7, "anything": "app-defined types pass"}),
            true,
        ),
    ]
}

async fn typed_messages_must_follow_the_typed_format(server: &TestServer) {
    for target in targets(server).await {
        let path = format!("{target}/messages");
        let mut stored = 0;
        for (message, valid) in typed_messages() {
            let text = message.to_string();
            let reply = server
                .post(&path, json!({"from_client": "a", "message": text}))
                .await;
            if valid {
                assert_eq!(reply.status, 200, "{target} {message}: {reply:?}");
                stored += 1;
            } else {
                assert_eq!(reply.status, 400, "{target} {message}: {reply:?}");
                reply.assert_error_shape(&format!("{target} {message}"));
            }
        }
        let history = server.history(&path, &[]).await;
        assert_eq!(history.len(), stored);
        assert!(
            history.iter().all(|item| item["data"].is_string()),
            "typed content comes back as a string"
        );
    }
}
both_backends!(typed_messages_must_follow_the_typed_format);

async fn priority_is_high_normal_or_low_in_any_case(server: &TestServer) {
    for target in targets(server).await {
        let path = format!("{target}/messages");
        for priority in ["high", "HIGH", "Normal", "normal", "low", "lOw"] {
            let body = json!({"from_client": "a", "message": "hi", "priority": priority, "transient": priority == "high"});
            let reply = server.post(&path, body).await;
            assert_eq!(reply.status, 200, "{target} priority {priority}: {reply:?}");
        }
        for priority in [json!("urgent"), json!(""), json!("high ")] {
            let reply = server
                .post(
                    &path,
                    json!({"from_client": "a", "message": "hi", "priority": priority}),
                )
                .await;
            reply.assert_client_error(&format!("{target} priority {priority}"));
        }
        server
            .post(
                &path,
                json!({"from_client": "a", "message": "hi", "priority": 1}),
            )
            .await
            .assert_error(400, 111, "a numeric priority");
    }
}
both_backends!(priority_is_high_normal_or_low_in_any_case);

async fn at_most_20_clients_can_be_mentioned(server: &TestServer) {
    for target in targets(server).await {
        let path = format!("{target}/messages");
        let twenty: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        let mut twenty_one = twenty.clone();
        twenty_one.push("m20".into());
        server
            .send_json(&target, json!({"from_client": "a", "message": "@all", "mention_all": true, "mention_client_ids": twenty}))
            .await;
        let over = server
            .post(
                &path,
                json!({"from_client": "a", "message": "@", "mention_client_ids": twenty_one}),
            )
            .await;
        over.assert_client_error(&format!("{target}: 21 mentions"));
        assert_eq!(server.history(&path, &[]).await.len(), 1);
    }
}
both_backends!(at_most_20_clients_can_be_mentioned);

async fn transient_messages_are_answered_but_not_stored(server: &TestServer) {
    for target in targets(server).await {
        let stored = server.send(&target, "a", "kept").await;
        let transient = server
            .send_json(&target, json!({"from_client": "a", "message": "typing...", "transient": true, "no_sync": true}))
            .await;
        assert_msg_id(&json!(transient.msg_id));
        assert_ne!(transient.msg_id, stored.msg_id);
        assert!(transient.timestamp >= stored.timestamp);
        let path = format!("{target}/messages");
        assert_eq!(
            msg_ids(&server.history(&path, &[]).await),
            [stored.msg_id.as_str()]
        );
        assert!(!msg_ids(&server.history("/messages", &[]).await).contains(&transient.msg_id));
        assert!(
            !msg_ids(&server.history("/clients/a/messages", &[]).await).contains(&transient.msg_id)
        );
    }
}
both_backends!(transient_messages_are_answered_but_not_stored);

async fn sending_to_an_unknown_or_deleted_conversation_is_refused(server: &TestServer) {
    let body = json!({"from_client": "a", "message": "hi"});
    for family in ["/conversations", "/chatrooms"] {
        let unknown = unknown_id();
        server
            .post(&format!("{family}/{unknown}/messages"), body.clone())
            .await
            .assert_error(404, 4303, family);
        server
            .post(&format!("{family}/not-an-object-id/messages"), body.clone())
            .await
            .assert_error(404, 4303, family);
    }
    for target in targets(server).await {
        server.send(&target, "a", "before").await;
        let deleted = server.delete(&target, None).await;
        assert_eq!(deleted.status, 200, "{deleted:?}");
        server
            .post(&format!("{target}/messages"), body.clone())
            .await
            .assert_error(404, 4303, "deleted");
        server
            .get(&format!("{target}/messages"), &[])
            .await
            .assert_error(404, 4303, "history of a deleted one");
    }
    assert!(
        server.history("/messages", &[]).await.is_empty(),
        "a deleted conversation's messages are gone"
    );
}
both_backends!(sending_to_an_unknown_or_deleted_conversation_is_refused);

async fn sending_moves_the_last_message_time_of_the_conversation(server: &TestServer) {
    let [conv, room] = targets(server).await;
    let id = conv.trim_start_matches("/conversations/");
    assert!(
        server
            .find_conversation(id)
            .await
            .expect("listed")
            .get("lm")
            .is_none(),
        "no lm before any message"
    );
    let first = server.send(&conv, "a", "one").await;
    let listed = server.list("/conversations", &[]).await;
    assert_eq!(listed[0]["lm"], date(first.timestamp), "{listed:?}");
    pass_millisecond(first.timestamp).await;
    let second = server.send(&conv, "a", "two").await;
    assert!(second.timestamp > first.timestamp);
    assert_eq!(
        server.find_conversation(id).await.expect("listed")["lm"],
        date(second.timestamp)
    );
    let room_sent = server.send(&room, "a", "room").await;
    let room_id = room.trim_start_matches("/chatrooms/");
    assert_eq!(
        server.find_conversation(room_id).await.expect("listed")["lm"],
        date(room_sent.timestamp)
    );
}
both_backends!(sending_moves_the_last_message_time_of_the_conversation);

async fn messages_come_back_in_the_order_they_were_sent(server: &TestServer) {
    let [conv, _] = targets(server).await;
    let mut sent = Vec::new();
    for i in 0..30 {
        sent.push(
            server
                .send(
                    &conv,
                    if i % 2 == 0 { "a" } else { "b" },
                    &format!("message {i}"),
                )
                .await
                .msg_id,
        );
    }
    let path = format!("{conv}/messages");
    let oldest_first = server.history(&path, &[("reversed", "true")]).await;
    assert_eq!(msg_ids(&oldest_first), sent);
    let data: Vec<Value> = oldest_first.iter().map(|i| i["data"].clone()).collect();
    let expected: Vec<Value> = (0..30).map(|i| json!(format!("message {i}"))).collect();
    assert_eq!(data, expected);
    let mut newest_first = msg_ids(&server.history(&path, &[]).await);
    newest_first.reverse();
    assert_eq!(newest_first, sent);
    let times: Vec<i64> = oldest_first
        .iter()
        .map(|i| i["timestamp"].as_i64().unwrap_or_default())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps never go backwards: {times:?}"
    );
}
both_backends!(messages_come_back_in_the_order_they_were_sent);

/// The one history item with this id.
async fn item(server: &TestServer, target: &str, msg_id: &str) -> Option<Value> {
    let history = server.history(&format!("{target}/messages"), &[]).await;
    history.into_iter().find(|i| i["msg-id"] == msg_id)
}

async fn an_edit_replaces_the_content_in_history(server: &TestServer) {
    for target in targets(server).await {
        let sent = server.send(&target, "BillGates", "original").await;
        let other = server.send(&target, "BillGates", "untouched").await;
        let path = format!("{target}/messages/{}", sent.msg_id);
        let body =
            json!({"from_client": "BillGates", "message": "edited", "timestamp": sent.timestamp});
        let reply = server.put(&path, body).await;
        assert_eq!(reply.status, 200, "{target} edit: {reply:?}");
        let edited = item(server, &target, &sent.msg_id)
            .await
            .expect("still in history");
        assert_eq!(edited["data"], "edited");
        assert_eq!(
            edited["timestamp"], sent.timestamp,
            "the original timestamp stays"
        );
        let patched = edited["patch-timestamp"].as_i64().expect("patch-timestamp");
        assert!(patched > sent.timestamp);
        assert!(
            edited.get("recall").is_none(),
            "an edit is not a recall: {edited}"
        );
        assert_eq!(
            item(server, &target, &other.msg_id).await.expect("other")["data"],
            "untouched"
        );
        let typed = json!({"_lctype": -1, "_lctext": "now typed"}).to_string();
        let reply = server
            .put(
                &path,
                json!({"from_client": "BillGates", "message": typed, "timestamp": sent.timestamp}),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let again = item(server, &target, &sent.msg_id)
            .await
            .expect("still in history");
        assert_eq!(again["data"], typed);
        assert!(
            again["patch-timestamp"].as_i64().unwrap_or_default() > patched,
            "each edit stamps a later time"
        );
    }
}
both_backends!(an_edit_replaces_the_content_in_history);

async fn an_edit_must_obey_the_size_and_typed_rules(server: &TestServer) {
    for target in targets(server).await {
        let sent = server.send(&target, "a", "original").await;
        let path = format!("{target}/messages/{}", sent.msg_id);
        let too_long =
            json!({"from_client": "a", "message": "a".repeat(5121), "timestamp": sent.timestamp});
        server
            .put(&path, too_long)
            .await
            .assert_error(400, 4109, "an edit past 5120 bytes");
        let untyped = json!({"from_client": "a", "message": r#"{"_lctype":-2}"#, "timestamp": sent.timestamp});
        server
            .put(&path, untyped)
            .await
            .assert_client_error("an image without a file");
        server
            .put(
                &path,
                json!({"from_client": "a", "timestamp": sent.timestamp}),
            )
            .await
            .assert_error(400, 113, "no message");
        assert_eq!(
            item(server, &target, &sent.msg_id).await.expect("kept")["data"],
            "original"
        );
    }
}
both_backends!(an_edit_must_obey_the_size_and_typed_rules);

async fn changes_with_the_wrong_sender_or_timestamp_are_refused(server: &TestServer) {
    for target in targets(server).await {
        let sent = server.send(&target, "BillGates", "original").await;
        let path = format!("{target}/messages/{}", sent.msg_id);
        let wrong_sender =
            json!({"from_client": "SteveJobs", "message": "x", "timestamp": sent.timestamp});
        server
            .put(&path, wrong_sender)
            .await
            .assert_error(403, 4403, "edit by someone else");
        let wrong_time =
            json!({"from_client": "BillGates", "message": "x", "timestamp": sent.timestamp + 1});
        server
            .put(&path, wrong_time)
            .await
            .assert_client_error("edit with another timestamp");
        let recall_path = format!("{path}/recall");
        let wrong_sender = json!({"from_client": "SteveJobs", "timestamp": sent.timestamp});
        server.put(&recall_path, wrong_sender).await.assert_error(
            403,
            4403,
            "recall by someone else",
        );
        let wrong_time = json!({"from_client": "BillGates", "timestamp": sent.timestamp - 1});
        server
            .put(&recall_path, wrong_time)
            .await
            .assert_client_error("recall with another timestamp");
        let timestamp = sent.timestamp.to_string();
        let wrong_delete = server
            .master(reqwest::Method::DELETE, &path)
            .query(&[("from_client", "SteveJobs"), ("timestamp", &timestamp)]);
        wrong_delete
            .send()
            .await
            .assert_error(403, 4403, "delete by someone else");
        let late = (sent.timestamp + 5).to_string();
        let wrong_delete = server
            .master(reqwest::Method::DELETE, &path)
            .query(&[("from_client", "BillGates"), ("timestamp", &late)]);
        wrong_delete
            .send()
            .await
            .assert_client_error("delete with another timestamp");
        let kept = item(server, &target, &sent.msg_id)
            .await
            .expect("still there");
        assert_eq!(kept["data"], "original");
        assert!(
            kept.get("patch-timestamp").is_none() && kept.get("recall").is_none(),
            "{kept}"
        );
    }
}
both_backends!(changes_with_the_wrong_sender_or_timestamp_are_refused);

async fn a_recalled_message_shows_as_recalled_in_history(server: &TestServer) {
    for target in targets(server).await {
        let sent = server.send(&target, "BillGates", "oops").await;
        let path = format!("{target}/messages/{}/recall", sent.msg_id);
        let reply = server
            .put(
                &path,
                json!({"from_client": "BillGates", "timestamp": sent.timestamp}),
            )
            .await;
        assert_eq!(reply.status, 200, "{target} recall: {reply:?}");
        let recalled = item(server, &target, &sent.msg_id)
            .await
            .expect("a recalled message stays in history");
        assert_eq!(recalled["recall"], true);
        let data: Value =
            serde_json::from_str(recalled["data"].as_str().expect("data is a string"))
                .expect("JSON data");
        assert_eq!(data, json!({"_lctype": -127}));
        assert!(
            recalled["patch-timestamp"]
                .as_i64()
                .expect("patch-timestamp")
                > sent.timestamp
        );
        assert_eq!(recalled["timestamp"], sent.timestamp);
        assert_eq!(recalled["from"], "BillGates");
    }
}
both_backends!(a_recalled_message_shows_as_recalled_in_history);

async fn deleting_a_message_removes_the_server_copy(server: &TestServer) {
    for target in targets(server).await {
        let kept = server.send(&target, "BillGates", "kept").await;
        let sent = server.send(&target, "BillGates", "to delete").await;
        let path = format!("{target}/messages/{}", sent.msg_id);
        let timestamp = sent.timestamp.to_string();
        let query = [("from_client", "some-client-id"), ("timestamp", "123")];
        server
            .master(reqwest::Method::DELETE, &path)
            .query(&query)
            .send()
            .await
            .assert_client_error("the seed's template values");
        let query = [
            ("from_client", "BillGates"),
            ("timestamp", timestamp.as_str()),
        ];
        let reply = server
            .master(reqwest::Method::DELETE, &path)
            .query(&query)
            .send()
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (200, &json!({})),
            "{target} delete"
        );
        let history = server.history(&format!("{target}/messages"), &[]).await;
        assert_eq!(msg_ids(&history), [kept.msg_id.as_str()]);
        assert!(!msg_ids(&server.history("/messages", &[]).await).contains(&sent.msg_id));
        let again = server
            .master(reqwest::Method::DELETE, &path)
            .query(&query)
            .send()
            .await;
        again.assert_error(404, 4404, "deleted twice");
        let edit = json!({"from_client": "BillGates", "message": "x", "timestamp": sent.timestamp});
        server
            .put(&path, edit)
            .await
            .assert_error(404, 4404, "edit of a deleted message");
    }
}
both_backends!(deleting_a_message_removes_the_server_copy);
