//! Bad input on every endpoint: malformed JSON (107), wrong types (111), missing fields (113),
//! unknown ids (404 with 4303 / 4404), hostile `where` queries and oversize bodies. Every
//! refusal is a 4xx in LeanCloud's shape, and the server stays healthy.

use super::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

struct Ids {
    conv: String,
    room: String,
    service: String,
    conv_message: Sent,
    room_message: Sent,
}

async fn ids(server: &TestServer) -> Ids {
    let conv = server.create_conversation(json!({"m": ["a", "b"]})).await;
    let room = server.create_chat_room("room").await;
    let service = server.create_service_conversation("service").await;
    let conv_message = server
        .send(&format!("/conversations/{conv}"), "a", "hi")
        .await;
    let room_message = server.send(&format!("/chatrooms/{room}"), "a", "hi").await;
    Ids {
        conv,
        room,
        service,
        conv_message,
        room_message,
    }
}

/// Every endpoint of issues 2 and 3 that reads a JSON body.
fn body_routes(ids: &Ids) -> Vec<(Method, String)> {
    let (c, r, s) = (&ids.conv, &ids.room, &ids.service);
    let (cm, rm) = (&ids.conv_message.msg_id, &ids.room_message.msg_id);
    vec![
        (Method::POST, "/conversations".into()),
        (Method::PUT, format!("/conversations/{c}")),
        (Method::POST, format!("/conversations/{c}/members")),
        (Method::DELETE, format!("/conversations/{c}/members")),
        (Method::POST, format!("/conversations/{c}/mutes")),
        (Method::DELETE, format!("/conversations/{c}/mutes")),
        (Method::POST, format!("/conversations/{c}/messages")),
        (Method::PUT, format!("/conversations/{c}/messages/{cm}")),
        (
            Method::PUT,
            format!("/conversations/{c}/messages/{cm}/recall"),
        ),
        (Method::POST, "/chatrooms".into()),
        (Method::PUT, format!("/chatrooms/{r}")),
        (Method::POST, format!("/chatrooms/{r}/messages")),
        (Method::PUT, format!("/chatrooms/{r}/messages/{rm}")),
        (Method::PUT, format!("/chatrooms/{r}/messages/{rm}/recall")),
        (Method::POST, "/service-conversations".into()),
        (Method::PUT, format!("/service-conversations/{s}")),
    ]
}

async fn malformed_json_bodies_are_refused_with_code_107(server: &TestServer) {
    let ids = ids(server).await;
    for (method, path) in body_routes(&ids) {
        for body in [
            r#"{"name":"#,
            "not json",
            r#"{"a":1}}"#,
            "[1,2]",
            r#""text""#,
            "null",
            "42",
        ] {
            let reply = server.master(method.clone(), &path).raw(body).send().await;
            reply.assert_error(400, 107, &format!("{method} {path} with {body}"));
        }
    }
    assert_eq!(
        server.list("/all-conversations", &[]).await.len(),
        3,
        "nothing was created"
    );
    assert_eq!(
        server.history("/messages", &[]).await.len(),
        2,
        "nothing was sent"
    );
    server.assert_healthy().await;
}
both_backends!(malformed_json_bodies_are_refused_with_code_107);

async fn fields_of_the_wrong_type_are_refused_with_code_111(server: &TestServer) {
    let ids = ids(server).await;
    let (c, r, s) = (&ids.conv, &ids.room, &ids.service);
    let (cm, rm) = (&ids.conv_message, &ids.room_message);
    let mut cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/conversations".into(),
            json!({"m": "BillGates"}),
        ),
        (Method::POST, "/conversations".into(), json!({"m": [1, 2]})),
        (
            Method::POST,
            "/conversations".into(),
            json!({"m": ["a"], "unique": "yes"}),
        ),
        (
            Method::POST,
            "/conversations".into(),
            json!({"name": 5, "m": ["a"]}),
        ),
        (
            Method::PUT,
            format!("/conversations/{c}"),
            json!({"name": ["x"]}),
        ),
        (
            Method::POST,
            format!("/conversations/{c}/members"),
            json!({"client_ids": "Tom"}),
        ),
        (
            Method::POST,
            format!("/conversations/{c}/members"),
            json!({"client_ids": [1]}),
        ),
        (
            Method::DELETE,
            format!("/conversations/{c}/members"),
            json!({"client_ids": {"a": 1}}),
        ),
        (
            Method::POST,
            format!("/conversations/{c}/mutes"),
            json!({"client_ids": "Tom"}),
        ),
        (
            Method::DELETE,
            format!("/conversations/{c}/mutes"),
            json!({"client_ids": true}),
        ),
        (Method::POST, "/chatrooms".into(), json!({"name": []})),
        (Method::PUT, format!("/chatrooms/{r}"), json!({"name": 5})),
        (
            Method::POST,
            "/service-conversations".into(),
            json!({"name": {}}),
        ),
        (
            Method::PUT,
            format!("/service-conversations/{s}"),
            json!({"name": false}),
        ),
    ];
    for target in [format!("/conversations/{c}"), format!("/chatrooms/{r}")] {
        let path = format!("{target}/messages");
        for body in [
            json!({"from_client": 5, "message": "x"}),
            json!({"from_client": "a", "message": 5}),
            json!({"from_client": "a", "message": ["x"]}),
            json!({"from_client": "a", "message": "x", "transient": "yes"}),
            json!({"from_client": "a", "message": "x", "mention_all": "yes"}),
            json!({"from_client": "a", "message": "x", "mention_client_ids": "b"}),
            json!({"from_client": "a", "message": "x", "priority": 1}),
        ] {
            cases.push((Method::POST, path.clone(), body));
        }
    }
    cases.push((
        Method::POST,
        format!("/conversations/{c}/messages"),
        json!({"from_client": "a", "message": "x", "no_sync": 1}),
    ));
    cases.push((
        Method::POST,
        format!("/conversations/{c}/messages"),
        json!({"from_client": "a", "message": "x", "push_data": 5}),
    ));
    for (target, sent) in [
        (format!("/conversations/{c}"), cm),
        (format!("/chatrooms/{r}"), rm),
    ] {
        let path = format!("{target}/messages/{}", sent.msg_id);
        for timestamp in [
            json!("abc"),
            json!(1.5),
            json!(true),
            json!(1e30),
            json!([sent.timestamp]),
        ] {
            cases.push((
                Method::PUT,
                path.clone(),
                json!({"from_client": "a", "message": "x", "timestamp": timestamp}),
            ));
            cases.push((
                Method::PUT,
                format!("{path}/recall"),
                json!({"from_client": "a", "timestamp": timestamp}),
            ));
        }
        cases.push((
            Method::PUT,
            path.clone(),
            json!({"from_client": 1, "message": "x", "timestamp": sent.timestamp}),
        ));
        cases.push((
            Method::PUT,
            path.clone(),
            json!({"from_client": "a", "message": 1, "timestamp": sent.timestamp}),
        ));
    }
    for (method, path, body) in cases {
        server
            .master(method.clone(), &path)
            .json(&body)
            .send()
            .await
            .assert_error(400, 111, &format!("{method} {path} {body}"));
    }
    for path in [
        format!("/conversations/{c}/messages/{}", cm.msg_id),
        format!("/chatrooms/{r}/messages/{}", rm.msg_id),
    ] {
        let reply = server
            .master(Method::DELETE, &path)
            .query(&[("from_client", "a"), ("timestamp", "abc")])
            .send()
            .await;
        reply.assert_error(400, 111, &format!("DELETE {path}?timestamp=abc"));
    }
    assert_eq!(
        server.history("/messages", &[]).await.len(),
        2,
        "nothing was sent or deleted"
    );
    let conv = server.find_conversation(c).await.expect("listed");
    assert_eq!(conv["m"], json!(["a", "b"]));
    server.assert_healthy().await;
}
both_backends!(fields_of_the_wrong_type_are_refused_with_code_111);

async fn missing_required_fields_are_refused_with_code_113(server: &TestServer) {
    let ids = ids(server).await;
    let (c, r) = (&ids.conv, &ids.room);
    let mut cases: Vec<(Method, String, Option<Value>)> = Vec::new();
    for path in [
        format!("/conversations/{c}/members"),
        format!("/conversations/{c}/mutes"),
    ] {
        for method in [Method::POST, Method::DELETE] {
            cases.push((method.clone(), path.clone(), Some(json!({}))));
            cases.push((
                method.clone(),
                path.clone(),
                Some(json!({"client_ids": []})),
            ));
            cases.push((method, path.clone(), None));
        }
    }
    for (target, sent) in [
        (format!("/conversations/{c}"), &ids.conv_message),
        (format!("/chatrooms/{r}"), &ids.room_message),
    ] {
        let ts = sent.timestamp;
        cases.push((Method::POST, format!("{target}/messages"), Some(json!({}))));
        cases.push((Method::POST, format!("{target}/messages"), None));
        let path = format!("{target}/messages/{}", sent.msg_id);
        cases.push((
            Method::PUT,
            path.clone(),
            Some(json!({"message": "x", "timestamp": ts})),
        ));
        cases.push((
            Method::PUT,
            path.clone(),
            Some(json!({"from_client": "a", "message": "x"})),
        ));
        cases.push((
            Method::PUT,
            path.clone(),
            Some(json!({"from_client": "a", "timestamp": ts})),
        ));
        cases.push((Method::PUT, path.clone(), None));
        cases.push((
            Method::PUT,
            format!("{path}/recall"),
            Some(json!({"from_client": "a"})),
        ));
        cases.push((
            Method::PUT,
            format!("{path}/recall"),
            Some(json!({"timestamp": ts})),
        ));
        cases.push((Method::PUT, format!("{path}/recall"), None));
    }
    for (method, path, body) in cases {
        let call = server.master(method.clone(), &path);
        let call = match &body {
            Some(body) => call.json(body),
            None => call,
        };
        call.send()
            .await
            .assert_error(400, 113, &format!("{method} {path} {body:?}"));
    }
    for (target, sent) in [
        (format!("/conversations/{c}"), &ids.conv_message),
        (format!("/chatrooms/{r}"), &ids.room_message),
    ] {
        let path = format!("{target}/messages/{}", sent.msg_id);
        let ts = sent.timestamp.to_string();
        for query in [
            vec![],
            vec![("from_client", "a")],
            vec![("timestamp", ts.as_str())],
        ] {
            let reply = server
                .master(Method::DELETE, &path)
                .query(&query)
                .send()
                .await;
            reply.assert_error(400, 113, &format!("DELETE {path} {query:?}"));
        }
    }
    assert_eq!(
        server.history("/messages", &[]).await.len(),
        2,
        "nothing was sent or deleted"
    );
    server.assert_healthy().await;
}
both_backends!(missing_required_fields_are_refused_with_code_113);

async fn unknown_conversation_ids_are_404_with_code_4303(server: &TestServer) {
    let ids = ids(server).await;
    let long = "f".repeat(1000);
    for unknown in [
        unknown_id(),
        "not-an-id".to_owned(),
        long,
        ids.service.clone(),
    ] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::PUT,
                format!("/conversations/{unknown}"),
                Some(json!({"name": "x"})),
            ),
            (Method::DELETE, format!("/conversations/{unknown}"), None),
            (
                Method::POST,
                format!("/conversations/{unknown}/members"),
                Some(json!({"client_ids": ["a"]})),
            ),
            (
                Method::DELETE,
                format!("/conversations/{unknown}/members"),
                Some(json!({"client_ids": ["a"]})),
            ),
            (
                Method::GET,
                format!("/conversations/{unknown}/members"),
                None,
            ),
            (
                Method::POST,
                format!("/conversations/{unknown}/mutes"),
                Some(json!({"client_ids": ["a"]})),
            ),
            (
                Method::DELETE,
                format!("/conversations/{unknown}/mutes"),
                Some(json!({"client_ids": ["a"]})),
            ),
            (Method::GET, format!("/conversations/{unknown}/mutes"), None),
            (
                Method::POST,
                format!("/conversations/{unknown}/messages"),
                Some(json!({"from_client": "a", "message": "x"})),
            ),
            (
                Method::GET,
                format!("/conversations/{unknown}/messages"),
                None,
            ),
            (
                Method::PUT,
                format!(
                    "/conversations/{unknown}/messages/{}",
                    ids.conv_message.msg_id
                ),
                Some(edit(&ids.conv_message)),
            ),
            (
                Method::PUT,
                format!(
                    "/conversations/{unknown}/messages/{}/recall",
                    ids.conv_message.msg_id
                ),
                Some(edit(&ids.conv_message)),
            ),
            (
                Method::PUT,
                format!("/chatrooms/{unknown}"),
                Some(json!({"name": "x"})),
            ),
            (Method::DELETE, format!("/chatrooms/{unknown}"), None),
            (Method::GET, format!("/chatrooms/{unknown}/members"), None),
            (
                Method::GET,
                format!("/chatrooms/{unknown}/members/online-count"),
                None,
            ),
            (
                Method::POST,
                format!("/chatrooms/{unknown}/messages"),
                Some(json!({"from_client": "a", "message": "x"})),
            ),
            (Method::GET, format!("/chatrooms/{unknown}/messages"), None),
            (
                Method::PUT,
                format!("/chatrooms/{unknown}/messages/{}", ids.room_message.msg_id),
                Some(edit(&ids.room_message)),
            ),
            (
                Method::PUT,
                format!(
                    "/chatrooms/{unknown}/messages/{}/recall",
                    ids.room_message.msg_id
                ),
                Some(edit(&ids.room_message)),
            ),
        ];
        for (method, path, body) in cases {
            let call = server.master(method.clone(), &path);
            let call = match &body {
                Some(body) => call.json(body),
                None => call,
            };
            call.send()
                .await
                .assert_error(404, 4303, &format!("{method} {path}"));
        }
        for (family, sent) in [
            ("conversations", &ids.conv_message),
            ("chatrooms", &ids.room_message),
        ] {
            let path = format!("/{family}/{unknown}/messages/{}", sent.msg_id);
            let ts = sent.timestamp.to_string();
            let reply = server
                .master(Method::DELETE, &path)
                .query(&[("from_client", "a"), ("timestamp", &ts)])
                .send()
                .await;
            reply.assert_error(404, 4303, &format!("DELETE {path}"));
        }
        if unknown != ids.service {
            for path in [format!("/service-conversations/{unknown}")] {
                server
                    .put(&path, json!({"name": "x"}))
                    .await
                    .assert_error(404, 4303, &path);
                server
                    .delete(&path, None)
                    .await
                    .assert_error(404, 4303, &path);
            }
        }
    }
    server.assert_healthy().await;
}
both_backends!(unknown_conversation_ids_are_404_with_code_4303);

fn edit(sent: &Sent) -> Value {
    json!({"from_client": "a", "message": "changed", "timestamp": sent.timestamp})
}

async fn unknown_message_ids_are_404_with_code_4404(server: &TestServer) {
    let ids = ids(server).await;
    let second = server.create_conversation(json!({"m": ["a"]})).await;
    let elsewhere = server
        .send(&format!("/conversations/{second}"), "a", "elsewhere")
        .await;
    let targets = [
        (
            format!("/conversations/{}", ids.conv),
            ids.conv_message.timestamp,
        ),
        (
            format!("/chatrooms/{}", ids.room),
            ids.room_message.timestamp,
        ),
    ];
    for (target, timestamp) in targets {
        // An id that names nothing, and a message of another conversation.
        for (msg_id, ts) in [
            ("AAAAAAAAAAAAAAAAAAAAAA".to_owned(), timestamp),
            (elsewhere.msg_id.clone(), elsewhere.timestamp),
        ] {
            let path = format!("{target}/messages/{msg_id}");
            let edit = json!({"from_client": "a", "message": "x", "timestamp": ts});
            server
                .put(&path, edit)
                .await
                .assert_error(404, 4404, &format!("edit {path}"));
            let recall = json!({"from_client": "a", "timestamp": ts});
            server
                .put(&format!("{path}/recall"), recall)
                .await
                .assert_error(404, 4404, &format!("recall {path}"));
            let ts = ts.to_string();
            let reply = server
                .master(Method::DELETE, &path)
                .query(&[("from_client", "a"), ("timestamp", &ts)])
                .send()
                .await;
            reply.assert_error(404, 4404, &format!("delete {path}"));
        }
    }
    let history = server
        .history(&format!("/conversations/{second}/messages"), &[])
        .await;
    assert_eq!(
        history[0]["data"], "elsewhere",
        "the other conversation's message is untouched"
    );
    assert_eq!(server.history("/messages", &[]).await.len(), 3);
}
both_backends!(unknown_message_ids_are_404_with_code_4404);

async fn history_parameters_of_the_wrong_type_are_refused(server: &TestServer) {
    let ids = ids(server).await;
    let paths = [
        format!("/conversations/{}/messages", ids.conv),
        format!("/chatrooms/{}/messages", ids.room),
        "/clients/a/messages".to_owned(),
        "/messages".to_owned(),
    ];
    let bad: [&[(&str, &str)]; 8] = [
        &[("limit", "abc")],
        &[("limit", "1.5")],
        &[("timestamp", "abc")],
        &[("till_timestamp", "yesterday")],
        &[("reversed", "maybe")],
        &[("include_start", "yes please")],
        &[("include_stop", "2")],
        &[("msgid", "AAAAAAAAAAAAAAAAAAAAAA")],
    ];
    for path in &paths {
        for query in bad {
            let reply = server.get(path, query).await;
            assert_eq!(reply.status, 400, "{path} {query:?}: {reply:?}");
            reply.assert_error_shape(&format!("{path} {query:?}"));
        }
        assert_eq!(
            server.history(path, &[("limit", "1000")]).await.len(),
            if path.contains("clients") || path == "/messages" {
                2
            } else {
                1
            }
        );
    }
    let long_client = format!("/clients/{}/messages", "x".repeat(65));
    server
        .get(&long_client, &[])
        .await
        .assert_client_error("E45 with a 65-character client id");
    server.assert_healthy().await;
}
both_backends!(history_parameters_of_the_wrong_type_are_refused);

async fn listing_parameters_of_the_wrong_type_are_refused(server: &TestServer) {
    ids(server).await;
    for path in [
        "/conversations",
        "/chatrooms",
        "/service-conversations",
        "/all-conversations",
    ] {
        server.get(path, &[("limit", "abc")]).await.assert_error(
            400,
            111,
            &format!("{path} limit=abc"),
        );
        server.get(path, &[("skip", "abc")]).await.assert_error(
            400,
            111,
            &format!("{path} skip=abc"),
        );
        server
            .get(path, &[("where", "notjson")])
            .await
            .assert_error(400, 107, &format!("{path} where=notjson"));
        server
            .get(path, &[("where", "{\"name\":")])
            .await
            .assert_error(400, 107, &format!("{path} where cut short"));
        for filter in ["5", "\"name\"", "true"] {
            server
                .get(path, &[("where", filter)])
                .await
                .assert_client_error(&format!("{path} where={filter}"));
        }
    }
    server.assert_healthy().await;
}
both_backends!(listing_parameters_of_the_wrong_type_are_refused);

/// `{"$and":[{"$and":[...{"name":"x"}...]}]}`, `depth` levels deep.
fn nested_where(depth: usize) -> String {
    let mut filter = json!({"name": "x"}).to_string();
    for _ in 0..depth {
        filter = format!("{{\"$and\":[{filter}]}}");
    }
    filter
}

async fn hostile_where_queries_are_refused_and_the_server_stays_healthy(server: &TestServer) {
    let ids = ids(server).await;
    let refused = [
        ("nesting 1000 levels deep", nested_where(1000)),
        ("nesting 100 levels deep", nested_where(100)),
        (
            "a regex that does not compile",
            json!({"name": {"$regex": "(unclosed"}}).to_string(),
        ),
        (
            "a regex with a bad option",
            json!({"name": {"$regex": "a", "$options": "q"}}).to_string(),
        ),
        (
            "a regex too large to compile",
            json!({"name": {"$regex": "((a{100}){100}){100}"}}).to_string(),
        ),
        (
            "an unknown operator",
            json!({"name": {"$foo": 1}}).to_string(),
        ),
        ("JavaScript", json!({"$where": "sleep(10000)"}).to_string()),
        ("an operator at the top", json!({"$in": [1]}).to_string()),
        (
            "$or that is not a list",
            json!({"$or": {"name": "x"}}).to_string(),
        ),
        (
            "$in that is not a list",
            json!({"name": {"$in": "x"}}).to_string(),
        ),
        (
            "$size that is not a number",
            json!({"m": {"$size": "two"}}).to_string(),
        ),
        (
            "$exists that is not a boolean",
            json!({"m": {"$exists": "maybe"}}).to_string(),
        ),
        ("not JSON", "{name: 'x'}".to_owned()),
    ];
    for path in [
        "/conversations",
        "/chatrooms",
        "/service-conversations",
        "/all-conversations",
    ] {
        for (what, filter) in &refused {
            let reply = server.get(path, &[("where", filter)]).await;
            reply.assert_client_error(&format!("{path}: {what}"));
        }
        // These may be answered (matching nothing) or refused, but never with a server error.
        let many: Vec<String> = (0..3_000).map(|i| format!("n{i}")).collect();
        let tolerated = [
            (
                "a $in of 3,000 values",
                json!({"name": {"$in": many}}).to_string(),
            ),
            (
                "a key with SQL in it",
                json!({"name\"; DROP TABLE conversations; --": "x"}).to_string(),
            ),
            (
                "a key with SQL in a path",
                json!({"attr.x') OR 1=1 --": "x"}).to_string(),
            ),
        ];
        for (what, filter) in &tolerated {
            let reply = server.get(path, &[("where", filter)]).await;
            if reply.status == 200 {
                assert_eq!(
                    reply.body,
                    json!({"results": []}),
                    "{path}: {what} matches nothing"
                );
            } else {
                reply.assert_client_error(&format!("{path}: {what}"));
            }
        }
    }
    server.assert_healthy().await;
    assert_eq!(
        server.list("/all-conversations", &[]).await.len(),
        3,
        "every conversation is still there"
    );
    server
        .send(
            &format!("/conversations/{}", ids.conv),
            "a",
            "still working",
        )
        .await;
}
both_backends!(hostile_where_queries_are_refused_and_the_server_stays_healthy);

fn with_a_small_body_limit(setup: &mut Setup) {
    setup.config.max_body_bytes = 4096;
}

async fn a_body_over_max_body_bytes_is_refused_with_413(server: &TestServer) {
    let ids = ids(server).await;
    let big_name = "x".repeat(5000);
    let cases = [
        (
            Method::POST,
            "/conversations".to_owned(),
            json!({"name": big_name, "m": ["a"]}),
        ),
        (
            Method::PUT,
            format!("/conversations/{}", ids.conv),
            json!({"name": big_name}),
        ),
        (
            Method::POST,
            format!("/conversations/{}/messages", ids.conv),
            json!({"from_client": "a", "message": big_name}),
        ),
    ];
    for (method, path, body) in cases {
        let reply = server
            .master(method.clone(), &path)
            .json(&body)
            .send()
            .await;
        reply.assert_error(413, 413, &format!("{method} {path} with a 5000-byte body"));
    }
    let fits = server
        .post(
            "/conversations",
            json!({"name": "x".repeat(3000), "m": ["a"]}),
        )
        .await;
    fits.assert_success("a body under the limit");
    assert_eq!(
        server.list("/conversations", &[]).await.len(),
        2,
        "only the bodies that fit were taken"
    );
    server.assert_healthy().await;
}
both_backends!(
    a_body_over_max_body_bytes_is_refused_with_413,
    with_a_small_body_limit
);

async fn a_body_of_several_megabytes_within_max_body_bytes_reaches_the_fields_cap(
    server: &TestServer,
) {
    let id = server.create_conversation(json!({"m": ["a"]})).await;
    // 3 MB passes the body limit (20 MB) and reaches the use case, which then applies the
    // 64 KiB cap on custom fields: 400 code 116, not the body limit's 413.
    let big = "x".repeat(3 * 1024 * 1024);
    server
        .put(&format!("/conversations/{id}"), json!({"blob": big}))
        .await
        .assert_error(400, 116, "a 3 MB custom field under the 20 MB body limit");
    let fits = "x".repeat(60 * 1024);
    let reply = server
        .put(&format!("/conversations/{id}"), json!({"blob": fits}))
        .await;
    assert_eq!(
        reply.status, 200,
        "60 KB of custom fields: {:?}",
        reply.body
    );
    let stored = server.find_conversation(&id).await.expect("listed");
    assert_eq!(stored["blob"].as_str().map(str::len), Some(60 * 1024));
}
both_backends!(a_body_of_several_megabytes_within_max_body_bytes_reaches_the_fields_cap);

async fn unknown_routes_and_methods_are_refused_in_leanclouds_shape(server: &TestServer) {
    let ids = ids(server).await;
    server
        .get("/no-such-thing", &[])
        .await
        .assert_error(404, 101, "an unknown route");
    let cases = [
        (Method::PATCH, "/conversations".to_owned()),
        (Method::DELETE, "/conversations".to_owned()),
        (Method::GET, format!("/conversations/{}", ids.conv)),
        (Method::POST, format!("/chatrooms/{}/members", ids.room)),
    ];
    for (method, path) in cases {
        server
            .master(method.clone(), &path)
            .send()
            .await
            .assert_client_error(&format!("{method} {path}"));
    }
    server.assert_healthy().await;
}
both_backends!(unknown_routes_and_methods_are_refused_in_leanclouds_shape);

async fn hostile_order_keys_and_paging_values_are_refused_or_harmless(server: &TestServer) {
    ids(server).await;
    let long = "a".repeat(10_000);
    let cases: Vec<(&str, String)> = vec![
        ("order", "-createdAt; DROP TABLE conversations".into()),
        ("order", "name) --".into()),
        ("order", "$where".into()),
        ("order", long.clone()),
        ("order", ",,,-".into()),
        ("keys", "name; DROP TABLE conversations".into()),
        ("keys", long),
        ("skip", "99999999999999999999".into()),
        ("skip", "-1".into()),
        ("limit", "99999999999999999999".into()),
    ];
    for path in ["/conversations", "/all-conversations"] {
        for (param, value) in &cases {
            let reply = server.get(path, &[(param, value.as_str())]).await;
            let what = format!("{path} {param}={}", value.get(..40).unwrap_or(value));
            if reply.status != 200 {
                reply.assert_client_error(&what);
            }
        }
    }
    server.assert_healthy().await;
    assert_eq!(
        server.list("/all-conversations", &[]).await.len(),
        3,
        "every conversation is still there"
    );
}
both_backends!(hostile_order_keys_and_paging_values_are_refused_or_harmless);
