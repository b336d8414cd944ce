//! History (E12, E23, E45, E52): the seed's worked table, the item format, limits, and
//! paging through bursts of messages that share one millisecond.

use super::harness::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Three messages id1..id3 with t1 < t2 < t3.
async fn three_messages(server: &TestServer, target: &str) -> Vec<Sent> {
    let mut sent: Vec<Sent> = Vec::new();
    for i in 1..=3 {
        if let Some(last) = sent.last() {
            pass_millisecond(last.timestamp).await;
        }
        sent.push(server.send(target, "a", &format!("id{i}")).await);
    }
    assert!(
        sent[0].timestamp < sent[1].timestamp && sent[1].timestamp < sent[2].timestamp,
        "{sent:?}"
    );
    sent
}

/// A row of the seed's table: start, stop, include_start, include_stop, reversed, result.
type Row<'a> = (&'a Sent, &'a Sent, bool, bool, bool, Vec<&'a Sent>);

async fn the_seeds_history_table_holds_row_by_row(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a"]})).await;
    let room = server.create_chat_room("room").await;
    for target in [
        format!("/conversations/{conv}"),
        format!("/chatrooms/{room}"),
    ] {
        let ids = three_messages(server, &target).await;
        let [id1, id2, id3] = [&ids[0], &ids[1], &ids[2]];
        // (start, stop, include_start, include_stop, reversed) -> result, as in the seed's table.
        let rows: [Row; 6] = [
            (id3, id1, false, false, false, vec![id2]),
            (id3, id1, true, false, false, vec![id3, id2]),
            (id3, id1, false, true, false, vec![id2, id1]),
            (id1, id3, false, false, true, vec![id2]),
            (id1, id3, true, false, true, vec![id1, id2]),
            (id1, id3, false, true, true, vec![id2, id3]),
        ];
        for (row, (start, stop, include_start, include_stop, reversed, expected)) in
            rows.into_iter().enumerate()
        {
            let mut query: Vec<(&'static str, String)> =
                start.start().into_iter().chain(stop.stop()).collect();
            if include_start {
                query.push(("include_start", "true".into()));
            }
            if include_stop {
                query.push(("include_stop", "true".into()));
            }
            if reversed {
                query.push(("reversed", "true".into()));
            }
            let got = server
                .history(&format!("{target}/messages"), &pairs(&query))
                .await;
            let expected: Vec<String> = expected.iter().map(|s| s.msg_id.clone()).collect();
            assert_eq!(
                msg_ids(&got),
                expected,
                "{target}, row {} of the seed's table: {query:?}",
                row + 1
            );
        }
        // Blank cells are defaults: everything, newest first, or oldest first when reversed.
        let all: Vec<String> = ids.iter().rev().map(|s| s.msg_id.clone()).collect();
        assert_eq!(
            msg_ids(&server.history(&format!("{target}/messages"), &[]).await),
            all
        );
        let mut oldest_first = all.clone();
        oldest_first.reverse();
        let reversed = server
            .history(&format!("{target}/messages"), &[("reversed", "true")])
            .await;
        assert_eq!(msg_ids(&reversed), oldest_first);
    }
}
both_backends!(the_seeds_history_table_holds_row_by_row);

async fn history_items_carry_the_documented_fields(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["u1", "u2"]})).await;
    let room = server.create_chat_room("room").await;
    for (target, id) in [
        (format!("/conversations/{conv}"), &conv),
        (format!("/chatrooms/{room}"), &room),
    ] {
        let sent = server.send(&target, "u1", "今天天气不错!").await;
        let history = server.history(&format!("{target}/messages"), &[]).await;
        assert_eq!(history.len(), 1);
        let item = &history[0];
        assert_eq!(
            keys_of(item),
            set(&[
                "timestamp",
                "conv-id",
                "data",
                "from",
                "msg-id",
                "is-conv",
                "is-room",
                "to",
                "bin",
                "from-ip"
            ]),
            "{item}"
        );
        assert_eq!(item["timestamp"], sent.timestamp);
        assert_eq!(item["conv-id"], format!("{id}00000000"));
        assert_eq!(item["data"], "今天天气不错!");
        assert_eq!(item["from"], "u1");
        assert_eq!(item["msg-id"], sent.msg_id);
        assert_eq!(item["is-conv"], true);
        assert_eq!(item["is-room"], false);
        assert_eq!(item["to"], id.as_str());
        assert_eq!(item["bin"], false);
        assert_eq!(
            item["from-ip"],
            Value::Null,
            "REST-sent messages have no sender IP"
        );
        for path in ["/messages".to_owned(), "/clients/u1/messages".to_owned()] {
            let listed = server.history(&path, &[]).await;
            let same = listed
                .iter()
                .find(|i| i["msg-id"] == sent.msg_id)
                .expect("listed app- and client-wide");
            assert_eq!(same, item, "{path} shows the same item");
        }
    }
}
both_backends!(history_items_carry_the_documented_fields);

/// The items' positions must be strictly monotonic in the scan direction.
fn assert_strictly_ordered(items: &[Value], newest_first: bool, what: &str) {
    for pair in items.windows(2) {
        let (a, b) = (
            pair[0]["timestamp"].as_i64().unwrap_or_default(),
            pair[1]["timestamp"].as_i64().unwrap_or_default(),
        );
        let ordered = if newest_first { a >= b } else { a <= b };
        assert!(ordered, "{what}: {a} then {b}");
    }
    let unique: HashSet<&str> = items.iter().filter_map(|i| i["msg-id"].as_str()).collect();
    assert_eq!(unique.len(), items.len(), "{what}: no message twice");
}

async fn a_thousand_messages_in_one_millisecond_page_without_loss_or_repetition(
    server: &TestServer,
) {
    const COUNT: usize = 1005;
    let conv = server.create_conversation(json!({"m": ["burst"]})).await;
    let target = format!("/conversations/{conv}");
    let acks = server.send_concurrently(&target, "burst", COUNT, 64).await;
    let acked: HashSet<String> = acks.iter().map(|s| s.msg_id.clone()).collect();
    assert_eq!(acked.len(), COUNT, "every ack has its own msg-id");
    let mut per_ms: HashMap<i64, usize> = HashMap::new();
    for ack in &acks {
        *per_ms.entry(ack.timestamp).or_default() += 1;
    }
    let largest = per_ms.values().copied().max().unwrap_or_default();
    assert!(
        largest >= 2,
        "group commit put several messages in one millisecond (largest group {largest})"
    );

    let path = format!("{target}/messages");
    let newest_first = server.page_history(&path, false, 7, &[]).await;
    assert_strictly_ordered(&newest_first, true, "newest first");
    assert_eq!(
        msg_ids(&newest_first).into_iter().collect::<HashSet<_>>(),
        acked
    );
    let oldest_first = server.page_history(&path, true, 7, &[]).await;
    assert_strictly_ordered(&oldest_first, false, "oldest first");
    let mut reversed_back = msg_ids(&oldest_first);
    reversed_back.reverse();
    assert_eq!(
        reversed_back,
        msg_ids(&newest_first),
        "both directions walk the same total order"
    );
    for (item, ack) in newest_first
        .iter()
        .zip(newest_first.iter().map(|i| i["msg-id"].clone()))
    {
        let sent = acks
            .iter()
            .find(|s| ack == s.msg_id.as_str())
            .expect("acked");
        assert_eq!(
            item["timestamp"], sent.timestamp,
            "history shows the acked timestamp"
        );
    }

    // One request: 100 by default, 1000 at most, in the same order as the pages.
    let default = server.history(&path, &[]).await;
    assert_eq!(msg_ids(&default), msg_ids(&newest_first[..100]));
    let capped = server.history(&path, &[("limit", "1001")]).await;
    assert_eq!(
        msg_ids(&capped),
        msg_ids(&newest_first[..1000]),
        "limit=1001 returns at most 1000"
    );
    let exact = server
        .history(&path, &[("limit", "1000"), ("reversed", "true")])
        .await;
    assert_eq!(msg_ids(&exact), msg_ids(&oldest_first[..1000]));

    // What one client sent (E45) and the whole app (E52) page the same way.
    for path in ["/clients/burst/messages", "/messages"] {
        assert_eq!(
            server.history(path, &[]).await.len(),
            100,
            "{path} default limit"
        );
        assert_eq!(
            server.history(path, &[("limit", "1001")]).await.len(),
            1000,
            "{path} limit cap"
        );
        for reversed in [false, true] {
            let paged = server.page_history(path, reversed, 50, &[]).await;
            assert_strictly_ordered(&paged, !reversed, path);
            assert_eq!(
                msg_ids(&paged).into_iter().collect::<HashSet<_>>(),
                acked,
                "{path} reversed={reversed}"
            );
        }
    }
}
both_backends!(a_thousand_messages_in_one_millisecond_page_without_loss_or_repetition);

async fn a_bound_without_a_message_id_covers_its_whole_millisecond(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a"]})).await;
    let target = format!("/conversations/{conv}");
    let acks = server.send_concurrently(&target, "a", 96, 32).await;
    let mut per_ms: HashMap<i64, usize> = HashMap::new();
    for ack in &acks {
        *per_ms.entry(ack.timestamp).or_default() += 1;
    }
    let (&t, &group) = per_ms
        .iter()
        .max_by_key(|(t, n)| (**n, **t))
        .expect("some messages");
    assert!(
        group >= 2,
        "several messages share a millisecond: {per_ms:?}"
    );
    let count = |items: &[Value], pred: &dyn Fn(i64) -> bool| {
        items
            .iter()
            .filter(|i| pred(i["timestamp"].as_i64().unwrap_or_default()))
            .count()
    };
    let total = |pred: &dyn Fn(i64) -> bool| acks.iter().filter(|s| pred(s.timestamp)).count();
    let path = format!("{target}/messages");
    let ts = t.to_string();
    let q = |extra: &[(&'static str, &'static str)]| {
        let mut query = vec![("timestamp", ts.clone()), ("limit", "1000".to_owned())];
        query.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        query
    };
    let below = server.history(&path, &pairs(&q(&[]))).await;
    assert_eq!(
        below.len(),
        total(&|x| x < t),
        "newest first from t excludes all of t"
    );
    assert_eq!(count(&below, &|x| x >= t), 0);
    let from_t = server
        .history(&path, &pairs(&q(&[("include_start", "true")])))
        .await;
    assert_eq!(
        count(&from_t, &|x| x == t),
        group,
        "include_start includes all of t"
    );
    let above = server
        .history(&path, &pairs(&q(&[("reversed", "true")])))
        .await;
    assert_eq!(
        above.len(),
        total(&|x| x > t),
        "oldest first from t excludes all of t"
    );
    let till = server
        .history(&path, &[("till_timestamp", ts.as_str()), ("limit", "1000")])
        .await;
    assert_eq!(
        till.len(),
        total(&|x| x > t),
        "newest first down to t excludes all of t"
    );
    let till_incl = server
        .history(
            &path,
            &[
                ("till_timestamp", ts.as_str()),
                ("include_stop", "true"),
                ("limit", "1000"),
            ],
        )
        .await;
    assert_eq!(
        till_incl.len(),
        total(&|x| x >= t),
        "include_stop includes all of t"
    );
}
both_backends!(a_bound_without_a_message_id_covers_its_whole_millisecond);

async fn client_history_lists_what_one_client_sent_in_conversations_and_chat_rooms(
    server: &TestServer,
) {
    let first = server
        .create_conversation(json!({"m": ["zed", "yan"]}))
        .await;
    let second = server.create_conversation(json!({"m": ["zed"]})).await;
    let room = server.create_chat_room("room").await;
    let mut mine = Vec::new();
    for (i, target) in [&first, &second, &first, &room, &second, &room]
        .iter()
        .enumerate()
    {
        let family = if **target == room {
            "chatrooms"
        } else {
            "conversations"
        };
        let target = format!("/{family}/{target}");
        // Distinct milliseconds: across conversations, order within one millisecond is the
        // server's choice (ties break on msg-id), so this test does not depend on it.
        let zed = server.send(&target, "zed", &format!("zed {i}")).await;
        pass_millisecond(zed.timestamp).await;
        mine.push(zed);
        server.send(&target, "yan", &format!("yan {i}")).await;
    }
    let listed = server.history("/clients/zed/messages", &[]).await;
    let mut newest_first: Vec<String> = mine.iter().map(|s| s.msg_id.clone()).collect();
    newest_first.reverse();
    assert_eq!(msg_ids(&listed), newest_first);
    assert!(listed.iter().all(|i| i["from"] == "zed"));
    let targets: HashSet<&str> = listed.iter().filter_map(|i| i["to"].as_str()).collect();
    assert_eq!(
        targets,
        [first.as_str(), second.as_str(), room.as_str()]
            .into_iter()
            .collect()
    );
    let paged = server
        .page_history("/clients/zed/messages", false, 2, &[])
        .await;
    assert_eq!(msg_ids(&paged), newest_first);
    let paged_back = server
        .page_history("/clients/zed/messages", true, 4, &[])
        .await;
    let oldest_first: Vec<String> = mine.iter().map(|s| s.msg_id.clone()).collect();
    assert_eq!(msg_ids(&paged_back), oldest_first);
    // The seed's cursor parameters work here too.
    let query: Vec<(&'static str, String)> =
        mine[4].start().into_iter().chain(mine[1].stop()).collect();
    let window = server
        .history("/clients/zed/messages", &pairs(&query))
        .await;
    assert_eq!(
        msg_ids(&window),
        [mine[3].msg_id.clone(), mine[2].msg_id.clone()]
    );
    assert!(server
        .history("/clients/nobody/messages", &[])
        .await
        .is_empty());
}
both_backends!(client_history_lists_what_one_client_sent_in_conversations_and_chat_rooms);

async fn app_history_lists_every_message_of_the_app(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a", "b"]})).await;
    let room = server.create_chat_room("room").await;
    let other_conv = server
        .anonymous(reqwest::Method::POST, "/conversations")
        .as_master_of(&server.other_app)
        .json(&json!({"m": ["a"]}))
        .send()
        .await
        .id();
    let other_send = server
        .anonymous(
            reqwest::Method::POST,
            &format!("/conversations/{other_conv}/messages"),
        )
        .as_master_of(&server.other_app)
        .json(&json!({"from_client": "a", "message": "another app"}))
        .send()
        .await;
    assert_eq!(other_send.status, 200, "{other_send:?}");
    let mut sent = Vec::new();
    for i in 0..5 {
        let target = if i % 2 == 0 {
            format!("/conversations/{conv}")
        } else {
            format!("/chatrooms/{room}")
        };
        let ack = server
            .send(&target, if i < 3 { "a" } else { "b" }, &format!("m{i}"))
            .await;
        pass_millisecond(ack.timestamp).await;
        sent.push(ack.msg_id);
    }
    let mut newest_first = sent.clone();
    newest_first.reverse();
    assert_eq!(
        msg_ids(&server.history("/messages", &[]).await),
        newest_first,
        "only this app's messages"
    );
    assert_eq!(
        msg_ids(&server.page_history("/messages", false, 2, &[]).await),
        newest_first
    );
    assert_eq!(
        msg_ids(&server.page_history("/messages", true, 3, &[]).await),
        sent
    );
    assert_eq!(
        msg_ids(
            &server
                .history("/messages", &[("limit", "2"), ("reversed", "true")])
                .await
        ),
        sent[..2]
    );
}
both_backends!(app_history_lists_every_message_of_the_app);

fn with_history_signatures(setup: &mut Setup) {
    setup.settings.history_signature_required = true;
}

/// `hex(HMAC-SHA1(master key, appid:client_id:convid:nonce:signature_ts))`, the documented
/// history-query signature.
fn history_signature(
    server: &TestServer,
    client: &str,
    conv: &str,
    nonce: &str,
    ts: &str,
) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(server.app.master_key.as_bytes())
        .expect("any key length");
    mac.update(format!("{}:{client}:{conv}:{nonce}:{ts}", server.app.app_id).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn history_signatures_are_checked_when_the_app_requires_them(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a"]})).await;
    let sent = server
        .send(&format!("/conversations/{conv}"), "a", "signed")
        .await;
    let path = format!("/conversations/{conv}/messages");
    server
        .get(&path, &[])
        .await
        .assert_client_error("an unsigned history query");
    let now = now_ms();
    let ts = now.to_string();
    let good = history_signature(server, "a", &conv, "n0nce", &ts);
    let signed = |signature: &str, ts: &str| {
        vec![
            ("client_id", "a".to_owned()),
            ("nonce", "n0nce".to_owned()),
            ("signature_ts", ts.to_owned()),
            ("signature", signature.to_owned()),
        ]
    };
    let items = server.history(&path, &pairs(&signed(&good, &ts))).await;
    assert_eq!(msg_ids(&items), [sent.msg_id.as_str()]);
    let other_conv = history_signature(server, "a", &unknown_id(), "n0nce", &ts);
    let stale_ts = (now - 7 * 3600 * 1000).to_string();
    let last = if good.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{}{last}", &good[..good.len() - 1]);
    let stale = history_signature(server, "a", &conv, "n0nce", &stale_ts);
    for (what, query) in [
        (
            "a signature for another conversation",
            signed(&other_conv, &ts),
        ),
        (
            "a signature older than six hours",
            signed(&stale, &stale_ts),
        ),
        ("a tampered signature", signed(&tampered, &ts)),
        (
            "a signature with another timestamp",
            signed(&good, &(now - 1000).to_string()),
        ),
    ] {
        server
            .get(&path, &pairs(&query))
            .await
            .assert_client_error(what);
    }
    // App-wide history is signed with an empty conversation id.
    let app_wide = history_signature(server, "a", "", "n0nce", &ts);
    let items = server
        .history("/messages", &pairs(&signed(&app_wide, &ts)))
        .await;
    assert_eq!(msg_ids(&items), [sent.msg_id.as_str()]);
}
both_backends!(
    history_signatures_are_checked_when_the_app_requires_them,
    with_history_signatures
);

async fn signature_parameters_are_ignored_when_the_app_does_not_require_them(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a"]})).await;
    let sent = server
        .send(&format!("/conversations/{conv}"), "a", "open")
        .await;
    let query = [
        ("client_id", "a"),
        ("nonce", "x"),
        ("signature_ts", "1"),
        ("signature", "bogus"),
    ];
    let items = server
        .history(&format!("/conversations/{conv}/messages"), &query)
        .await;
    assert_eq!(msg_ids(&items), [sent.msg_id.as_str()]);
}
both_backends!(signature_parameters_are_ignored_when_the_app_does_not_require_them);

async fn client_history_finds_client_ids_with_spaces_slashes_and_at_signs(server: &TestServer) {
    let conv = server.create_conversation(json!({"m": ["a"]})).await;
    let target = format!("/conversations/{conv}");
    for client in ["John Smith", "a/b", "user@example.com", "名字", "100%"] {
        let sent = server.send(&target, client, "hi").await;
        let encoded: String = client
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let items = server
            .history(&format!("/clients/{encoded}/messages"), &[])
            .await;
        assert_eq!(msg_ids(&items), [sent.msg_id.as_str()], "{client}");
        assert_eq!(items[0]["from"], client);
    }
}
both_backends!(client_history_finds_client_ids_with_spaces_slashes_and_at_signs);
