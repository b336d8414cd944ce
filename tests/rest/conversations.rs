//! Conversations (E01-E10), chat rooms (E16-E21) and service conversations (E27-E30), with
//! the seed's own curl bodies and response shapes.

use super::harness::*;
use serde_json::{json, Value};
use std::collections::HashSet;

const SEED_CREATE: &str =
    r#"{"name":"My First Conversation", "m": ["BillGates", "SteveJobs"], "unique": true}"#;

fn seed_create() -> Value {
    serde_json::from_str(SEED_CREATE).expect("the seed's create body is JSON")
}

async fn creating_a_conversation_returns_the_whole_object_as_the_seed_shows(server: &TestServer) {
    let reply = server.post("/conversations", seed_create()).await;
    reply.assert_success("E01");
    let body = &reply.body;
    assert_eq!(
        keys_of(body),
        set(&[
            "unique",
            "updatedAt",
            "name",
            "objectId",
            "m",
            "createdAt",
            "uniqueId"
        ]),
        "{body}"
    );
    assert_eq!(body["unique"], true);
    assert_eq!(body["name"], "My First Conversation");
    assert_eq!(body["m"], json!(["BillGates", "SteveJobs"]));
    assert_eq!(body["uniqueId"], "6c7b0e5afcae9aa1139a0afa25833dec");
    assert_eq!(body["uniqueId"], md5_hex("BillGatesSteveJobs"));
    assert_object_id(&body["objectId"]);
    assert_iso_date(&body["createdAt"], "createdAt");
    assert_iso_date(&body["updatedAt"], "updatedAt");
    assert!(parse_iso(&body["updatedAt"]) >= parse_iso(&body["createdAt"]));
    assert!(
        (parse_iso(&body["createdAt"]) - now_ms()).abs() < 60_000,
        "createdAt is now: {body}"
    );
}
both_backends!(creating_a_conversation_returns_the_whole_object_as_the_seed_shows);

async fn a_unique_conversation_created_twice_is_the_same_conversation(server: &TestServer) {
    let first = server.post("/conversations", seed_create()).await;
    first.assert_success("first create");
    let second = server.post("/conversations", seed_create()).await;
    second.assert_success("second create");
    assert_eq!(
        second.body, first.body,
        "the second create returns the existing conversation as it is"
    );
    let reordered =
        json!({"name": "Other name", "m": ["SteveJobs", "BillGates", "SteveJobs"], "unique": true});
    let third = server.post("/conversations", reordered).await;
    third.assert_success("create with the members in another order");
    assert_eq!(
        third.body["objectId"], first.body["objectId"],
        "member order does not matter"
    );
    assert_eq!(third.body["uniqueId"], "6c7b0e5afcae9aa1139a0afa25833dec");
    assert_eq!(server.list("/conversations", &[]).await.len(), 1);
    // The existing conversation comes back as stored, its members in their original order.
    let zed_amy = server
        .post(
            "/conversations",
            json!({"m": ["zed", "amy"], "unique": true}),
        )
        .await;
    let amy_zed = server
        .post(
            "/conversations",
            json!({"m": ["amy", "zed"], "unique": true}),
        )
        .await;
    assert_eq!(amy_zed.body["objectId"], zed_amy.body["objectId"]);
    assert_eq!(amy_zed.body["m"], json!(["zed", "amy"]));
    assert_eq!(amy_zed.body, zed_amy.body);
}
both_backends!(a_unique_conversation_created_twice_is_the_same_conversation);

async fn a_unique_create_with_another_member_set_makes_a_new_conversation(server: &TestServer) {
    let pair = server
        .create_conversation(json!({"m": ["a", "b"], "unique": true}))
        .await;
    let trio = server
        .create_conversation(json!({"m": ["a", "b", "c"], "unique": true}))
        .await;
    let single = server
        .create_conversation(json!({"m": ["a"], "unique": true}))
        .await;
    assert_ne!(pair, trio);
    assert_ne!(pair, single);
    assert_ne!(trio, single);
    // Matching follows the current members: once d joins the pair, [a, b, d] finds it.
    let joined = server
        .post(
            &format!("/conversations/{pair}/members"),
            json!({"client_ids": ["d"]}),
        )
        .await;
    assert_eq!(joined.status, 200, "{joined:?}");
    let again = server
        .create_conversation(json!({"m": ["b", "d", "a"], "unique": true}))
        .await;
    assert_eq!(
        again, pair,
        "a unique create matches the current member set"
    );
}
both_backends!(a_unique_create_with_another_member_set_makes_a_new_conversation);

async fn non_unique_creates_always_make_a_new_conversation(server: &TestServer) {
    let body = json!({"name": "group", "m": ["BillGates", "SteveJobs"]});
    let first = server.post("/conversations", body.clone()).await;
    let second = server.post("/conversations", body).await;
    first.assert_success("first");
    second.assert_success("second");
    assert_ne!(first.body["objectId"], second.body["objectId"]);
    assert_eq!(
        keys_of(&first.body),
        set(&["name", "m", "objectId", "createdAt", "updatedAt"]),
        "{:?}",
        first.body
    );
    // A unique create next to them makes its own conversation.
    let unique = server.post("/conversations", seed_create()).await;
    assert_ne!(unique.body["objectId"], first.body["objectId"]);
    assert_ne!(unique.body["objectId"], second.body["objectId"]);
}
both_backends!(non_unique_creates_always_make_a_new_conversation);

async fn listing_conversations_returns_results_in_the_seeds_shape(server: &TestServer) {
    let id = server
        .create_conversation(json!({"name": "test conv1", "m": ["tom", "jerry"]}))
        .await;
    let reply = server.get("/conversations", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(keys_of(&reply.body), set(&["results"]));
    let results = reply.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    let conv = &results[0];
    assert_eq!(
        keys_of(conv),
        set(&["name", "m", "createdAt", "updatedAt", "objectId"]),
        "{conv}"
    );
    assert_eq!(conv["objectId"], id);
    assert_eq!(conv["name"], "test conv1");
    assert_eq!(conv["m"], json!(["tom", "jerry"]));
    assert_iso_date(&conv["createdAt"], "createdAt");
    assert_iso_date(&conv["updatedAt"], "updatedAt");
}
both_backends!(listing_conversations_returns_results_in_the_seeds_shape);

async fn updating_a_conversation_returns_updated_at_and_object_id(server: &TestServer) {
    let created = server.post("/conversations", seed_create()).await;
    let id = created.id();
    let reply = server
        .put(
            &format!("/conversations/{id}"),
            json!({"name": "Updated Conversation"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        keys_of(&reply.body),
        set(&["updatedAt", "objectId"]),
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["objectId"], id);
    assert_iso_date(&reply.body["updatedAt"], "updatedAt");
    assert!(parse_iso(&reply.body["updatedAt"]) > parse_iso(&created.body["updatedAt"]));
    let stored = server.find_conversation(&id).await.expect("still listed");
    assert_eq!(stored["name"], "Updated Conversation");
    assert_eq!(stored["updatedAt"], reply.body["updatedAt"]);
    assert_eq!(stored["createdAt"], created.body["createdAt"]);
    assert_eq!(stored["m"], json!(["BillGates", "SteveJobs"]));
}
both_backends!(updating_a_conversation_returns_updated_at_and_object_id);

async fn the_members_cannot_be_changed_through_an_update(server: &TestServer) {
    let id = server.create_conversation(json!({"m": ["a", "b"]})).await;
    let reply = server
        .put(
            &format!("/conversations/{id}"),
            json!({"m": ["x"], "name": "renamed"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    reply.assert_error_shape("PUT with m");
    let members = server
        .get(&format!("/conversations/{id}/members"), &[])
        .await;
    assert_eq!(members.body, json!({"result": ["a", "b"]}));
    let stored = server.find_conversation(&id).await.expect("listed");
    assert!(
        stored.get("name").is_none(),
        "a refused update changes nothing: {stored}"
    );
}
both_backends!(the_members_cannot_be_changed_through_an_update);

async fn custom_fields_are_stored_and_returned_at_the_top_level(server: &TestServer) {
    let body = json!({"name": "custom", "m": ["a"], "level": 3, "attr": {"color": "red", "tags": ["x"]}, "open": true});
    let created = server.post("/conversations", body).await;
    created.assert_success("create with custom fields");
    assert_eq!(created.body["level"], 3);
    assert_eq!(created.body["attr"], json!({"color": "red", "tags": ["x"]}));
    assert_eq!(created.body["open"], true);
    let id = created.id();
    let listed = server.find_conversation(&id).await.expect("listed");
    assert_eq!(listed["level"], 3);
    assert_eq!(listed["attr"]["color"], "red");
    let update =
        json!({"level": {"__op": "Increment", "amount": 2}, "attr.color": "blue", "note": "new"});
    let reply = server.put(&format!("/conversations/{id}"), update).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let listed = server.find_conversation(&id).await.expect("listed");
    assert_eq!(listed["level"], 5);
    assert_eq!(listed["attr"], json!({"color": "blue", "tags": ["x"]}));
    assert_eq!(listed["note"], "new");
    assert_eq!(listed["open"], true);
}
both_backends!(custom_fields_are_stored_and_returned_at_the_top_level);

async fn deleting_a_conversation_returns_an_empty_object_and_it_is_gone(server: &TestServer) {
    let id = server.create_conversation(seed_create()).await;
    let reply = server.delete(&format!("/conversations/{id}"), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({}));
    assert!(server.find_conversation(&id).await.is_none());
    server
        .delete(&format!("/conversations/{id}"), None)
        .await
        .assert_error(404, 4303, "second delete");
    server
        .get(&format!("/conversations/{id}/members"), &[])
        .await
        .assert_error(404, 4303, "members of a deleted one");
    let put = server
        .put(&format!("/conversations/{id}"), json!({"name": "x"}))
        .await;
    put.assert_error(404, 4303, "update of a deleted one");
    // A unique create after the delete makes a new conversation.
    let again = server.create_conversation(seed_create()).await;
    assert_ne!(again, id);
}
both_backends!(deleting_a_conversation_returns_an_empty_object_and_it_is_gone);

async fn members_are_added_listed_and_removed_as_the_seed_shows(server: &TestServer) {
    let id = server
        .create_conversation(json!({"name": "group", "m": ["BillGates"]}))
        .await;
    let path = format!("/conversations/{id}/members");
    let added = server
        .post(&path, json!({"client_ids": ["Tom", "Jerry"]}))
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(keys_of(&added.body), set(&["updatedAt", "objectId"]));
    assert_eq!(added.body["objectId"], id);
    assert_iso_date(&added.body["updatedAt"], "updatedAt");
    let listed = server.get(&path, &[]).await;
    assert_eq!(listed.status, 200);
    assert_eq!(keys_of(&listed.body), set(&["result"]));
    let mut members: Vec<String> =
        serde_json::from_value(listed.body["result"].clone()).expect("ids");
    members.sort();
    assert_eq!(members, ["BillGates", "Jerry", "Tom"]);
    // Adding someone twice changes nothing.
    let again = server.post(&path, json!({"client_ids": ["Tom"]})).await;
    assert_eq!(again.status, 200, "{again:?}");
    let removed = server
        .delete(&path, Some(json!({"client_ids": ["Tom", "Jerry"]})))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(keys_of(&removed.body), set(&["updatedAt", "objectId"]));
    assert!(parse_iso(&removed.body["updatedAt"]) > parse_iso(&added.body["updatedAt"]));
    assert_eq!(
        server.get(&path, &[]).await.body,
        json!({"result": ["BillGates"]})
    );
    let conv = server.find_conversation(&id).await.expect("listed");
    assert_eq!(conv["m"], json!(["BillGates"]));
    assert_eq!(conv["updatedAt"], removed.body["updatedAt"]);
}
both_backends!(members_are_added_listed_and_removed_as_the_seed_shows);

async fn mutes_are_added_listed_and_removed_as_the_seed_shows(server: &TestServer) {
    let id = server
        .create_conversation(json!({"m": ["Tom", "Jerry", "Spike"]}))
        .await;
    let path = format!("/conversations/{id}/mutes");
    assert_eq!(server.get(&path, &[]).await.body, json!({"result": []}));
    let added = server
        .post(&path, json!({"client_ids": ["Tom", "Jerry"]}))
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(keys_of(&added.body), set(&["updatedAt", "objectId"]));
    assert_eq!(added.body["objectId"], id);
    let listed = server.get(&path, &[]).await;
    assert_eq!(listed.status, 200);
    let mut muted: Vec<String> =
        serde_json::from_value(listed.body["result"].clone()).expect("ids");
    muted.sort();
    assert_eq!(muted, ["Jerry", "Tom"]);
    let conv = server.find_conversation(&id).await.expect("listed");
    let mut mu: Vec<String> =
        serde_json::from_value(conv["mu"].clone()).expect("mu lists the muted");
    mu.sort();
    assert_eq!(mu, ["Jerry", "Tom"]);
    let removed = server
        .delete(&path, Some(json!({"client_ids": ["Tom", "Jerry"]})))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(keys_of(&removed.body), set(&["updatedAt", "objectId"]));
    assert_eq!(server.get(&path, &[]).await.body, json!({"result": []}));
}
both_backends!(mutes_are_added_listed_and_removed_as_the_seed_shows);

fn clients(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

async fn a_conversation_is_created_with_500_members_but_not_501(server: &TestServer) {
    let full = server
        .post(
            "/conversations",
            json!({"name": "full", "m": clients("c", 500)}),
        )
        .await;
    full.assert_success("500 members");
    let id = full.id();
    let members = server
        .get(&format!("/conversations/{id}/members"), &[])
        .await;
    assert_eq!(members.body["result"].as_array().map(Vec::len), Some(500));
    let over = server
        .post(
            "/conversations",
            json!({"name": "over", "m": clients("c", 501)}),
        )
        .await;
    over.assert_client_error("501 members");
    let names: Vec<Value> = server
        .list("/conversations", &[])
        .await
        .into_iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("full")],
        "the refused conversation was not created"
    );
}
both_backends!(a_conversation_is_created_with_500_members_but_not_501);

async fn members_can_be_added_up_to_500_and_no_further(server: &TestServer) {
    let id = server
        .create_conversation(json!({"m": clients("c", 498)}))
        .await;
    let path = format!("/conversations/{id}/members");
    let to_500 = server
        .post(&path, json!({"client_ids": ["x1", "x2"]}))
        .await;
    assert_eq!(to_500.status, 200, "498 + 2: {to_500:?}");
    let to_501 = server.post(&path, json!({"client_ids": ["x3"]})).await;
    to_501.assert_client_error("the 501st member");
    let members = server.get(&path, &[]).await;
    assert_eq!(members.body["result"].as_array().map(Vec::len), Some(500));
    let fresh = server.create_conversation(json!({"m": ["a"]})).await;
    let too_many = server
        .post(
            &format!("/conversations/{fresh}/members"),
            json!({"client_ids": clients("n", 501)}),
        )
        .await;
    too_many.assert_client_error("501 members in one call");
    let fresh_members = server
        .get(&format!("/conversations/{fresh}/members"), &[])
        .await;
    assert_eq!(fresh_members.body, json!({"result": ["a"]}));
}
both_backends!(members_can_be_added_up_to_500_and_no_further);

async fn concurrent_additions_cannot_push_a_conversation_past_500_members(server: &TestServer) {
    let id = server
        .create_conversation(json!({"m": clients("c", 499)}))
        .await;
    let path = format!("/conversations/{id}/members");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let call = server
            .master(reqwest::Method::POST, &path)
            .json(&json!({"client_ids": [format!("late{i}")]}));
        tasks.spawn(call.send());
    }
    let mut accepted = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("a request task");
        if reply.status == 200 {
            accepted += 1;
        } else {
            reply.assert_client_error("an addition past 500");
        }
    }
    let members = server.get(&path, &[]).await;
    assert_eq!(members.body["result"].as_array().map(Vec::len), Some(500));
    assert_eq!(accepted, 1, "exactly one of ten racing additions fits");
    // Adding someone who is already a member of a full conversation changes nothing.
    let again = server.post(&path, json!({"client_ids": ["c0000"]})).await;
    assert_eq!(again.status, 200, "{again:?}");
}
both_backends!(concurrent_additions_cannot_push_a_conversation_past_500_members);

async fn racing_removals_keep_the_unique_member_set_right(server: &TestServer) {
    for round in 0..8 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let id = server
            .create_conversation(json!({"m": ["ann", "bob", x, y], "unique": true}))
            .await;
        let path = format!("/conversations/{id}/members");
        let mut tasks = tokio::task::JoinSet::new();
        for gone in [&x, &y] {
            let call = server
                .master(reqwest::Method::DELETE, &path)
                .json(&json!({"client_ids": [gone]}));
            tasks.spawn(call.send());
        }
        while let Some(reply) = tasks.join_next().await {
            assert_eq!(reply.expect("a request task").status, 200);
        }
        assert_eq!(
            server.get(&path, &[]).await.body,
            json!({"result": ["ann", "bob"]})
        );
        let pair = json!({"m": ["bob", "ann"], "unique": true});
        let found = server.create_conversation(pair).await;
        assert_eq!(
            found, id,
            "round {round}: a unique create finds the current member set"
        );
        server.delete(&format!("/conversations/{id}"), None).await;
    }
}
both_backends!(racing_removals_keep_the_unique_member_set_right);

async fn racing_unique_creates_make_one_conversation(server: &TestServer) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let members = if i % 2 == 0 {
            ["ann", "bob"]
        } else {
            ["bob", "ann"]
        };
        let call = server
            .master(reqwest::Method::POST, "/conversations")
            .json(&json!({"m": members, "unique": true}));
        tasks.spawn(call.send());
    }
    let mut ids = HashSet::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("a request task");
        reply.assert_success("a racing unique create");
        ids.insert(reply.id());
    }
    assert_eq!(
        ids.len(),
        1,
        "every racing create got the same conversation: {ids:?}"
    );
    assert_eq!(server.list("/conversations", &[]).await.len(), 1);
}
both_backends!(racing_unique_creates_make_one_conversation);

async fn client_ids_are_1_to_64_characters(server: &TestServer) {
    let longest = "x".repeat(64);
    let too_long = "y".repeat(65);
    let id = server
        .create_conversation(json!({"m": [longest.clone(), "ä".repeat(64)]}))
        .await;
    server
        .post("/conversations", json!({"m": [too_long.clone()]}))
        .await
        .assert_client_error("a 65-character member at create");
    server
        .post("/conversations", json!({"m": [""]}))
        .await
        .assert_client_error("an empty member at create");
    let members = format!("/conversations/{id}/members");
    server
        .post(&members, json!({"client_ids": [too_long.clone()]}))
        .await
        .assert_client_error("65 characters via E05");
    server
        .post(&members, json!({"client_ids": [""]}))
        .await
        .assert_client_error("empty via E05");
    let mutes = format!("/conversations/{id}/mutes");
    server
        .post(&mutes, json!({"client_ids": [too_long]}))
        .await
        .assert_client_error("65 characters via E08");
    let ok = server
        .post(&members, json!({"client_ids": ["z".repeat(64)]}))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        server.get(&members, &[]).await.body["result"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}
both_backends!(client_ids_are_1_to_64_characters);

async fn a_chat_room_is_created_listed_updated_and_deleted_as_the_seed_shows(server: &TestServer) {
    let created = server
        .post("/chatrooms", json!({"name": "My First Chatroom"}))
        .await;
    created.assert_success("E16");
    assert_eq!(
        keys_of(&created.body),
        set(&["objectId", "createdAt"]),
        "{:?}",
        created.body
    );
    assert_object_id(&created.body["objectId"]);
    assert_iso_date(&created.body["createdAt"], "createdAt");
    let id = created.id();
    let rooms = server.list("/chatrooms", &[]).await;
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["objectId"], id);
    assert_eq!(rooms[0]["name"], "My First Chatroom");
    assert_eq!(rooms[0]["tr"], true);
    assert_eq!(rooms[0]["createdAt"], created.body["createdAt"]);
    assert_iso_date(&rooms[0]["updatedAt"], "updatedAt");
    let updated = server
        .put(
            &format!("/chatrooms/{id}"),
            json!({"name": "Updated Chatroom"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(keys_of(&updated.body), set(&["updatedAt", "objectId"]));
    assert_eq!(updated.body["objectId"], id);
    assert_eq!(
        server.list("/chatrooms", &[]).await[0]["name"],
        "Updated Chatroom"
    );
    let deleted = server.delete(&format!("/chatrooms/{id}"), None).await;
    assert_eq!((deleted.status, deleted.body), (200, json!({})));
    assert!(server.list("/chatrooms", &[]).await.is_empty());
    server
        .delete(&format!("/chatrooms/{id}"), None)
        .await
        .assert_error(404, 4303, "deleted twice");
}
both_backends!(a_chat_room_is_created_listed_updated_and_deleted_as_the_seed_shows);

async fn chat_room_online_members_are_empty_when_nobody_is_connected(server: &TestServer) {
    let id = server.create_chat_room("room").await;
    let members = server.get(&format!("/chatrooms/{id}/members"), &[]).await;
    assert_eq!((members.status, members.body), (200, json!({"result": []})));
    let count = server
        .get(&format!("/chatrooms/{id}/members/online-count"), &[])
        .await;
    assert_eq!((count.status, count.body), (200, json!({"result": 0})));
    let unknown = unknown_id();
    server
        .get(&format!("/chatrooms/{unknown}/members"), &[])
        .await
        .assert_error(404, 4303, "E20 unknown");
    let count = server
        .get(&format!("/chatrooms/{unknown}/members/online-count"), &[])
        .await;
    count.assert_error(404, 4303, "E21 unknown");
}
both_backends!(chat_room_online_members_are_empty_when_nobody_is_connected);

async fn a_service_conversation_is_created_listed_updated_and_deleted_as_the_seed_shows(
    server: &TestServer,
) {
    let created = server
        .post(
            "/service-conversations",
            json!({"name": "My First Service-conversation"}),
        )
        .await;
    created.assert_success("E27");
    assert_eq!(
        keys_of(&created.body),
        set(&["objectId", "createdAt"]),
        "{:?}",
        created.body
    );
    assert_object_id(&created.body["objectId"]);
    assert_iso_date(&created.body["createdAt"], "createdAt");
    let id = created.id();
    let listed = server.list("/service-conversations", &[]).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["objectId"], id);
    assert_eq!(listed[0]["name"], "My First Service-conversation");
    assert_eq!(listed[0]["sys"], true);
    let updated = server
        .put(
            &format!("/service-conversations/{id}"),
            json!({"name": "Updated Service-conversation"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(keys_of(&updated.body), set(&["updatedAt", "objectId"]));
    assert_eq!(updated.body["objectId"], id);
    assert_eq!(
        server.list("/service-conversations", &[]).await[0]["name"],
        "Updated Service-conversation"
    );
    let deleted = server
        .delete(&format!("/service-conversations/{id}"), None)
        .await;
    assert_eq!((deleted.status, deleted.body), (200, json!({})));
    assert!(server.list("/service-conversations", &[]).await.is_empty());
}
both_backends!(a_service_conversation_is_created_listed_updated_and_deleted_as_the_seed_shows);

async fn each_family_lists_its_own_kind_and_all_conversations_lists_every_kind(
    server: &TestServer,
) {
    // `tr` and `sys` in a body do not change the kind: the URL family decides it.
    let normal = server
        .create_conversation(json!({"name": "normal", "m": ["a"], "tr": true, "sys": true}))
        .await;
    let room = server.create_chat_room("room").await;
    let service = server.create_service_conversation("service").await;
    let conversations = server.list("/conversations", &[]).await;
    assert_eq!(object_ids(&conversations), [normal.as_str()]);
    assert!(
        conversations[0].get("tr").is_none() && conversations[0].get("sys").is_none(),
        "{conversations:?}"
    );
    assert_eq!(
        object_ids(&server.list("/chatrooms", &[]).await),
        [room.as_str()]
    );
    assert_eq!(
        object_ids(&server.list("/service-conversations", &[]).await),
        [service.as_str()]
    );
    let all = server.list("/all-conversations", &[]).await;
    let mut expected = vec![normal, room.clone(), service.clone()];
    expected.sort();
    assert_eq!(object_ids(&all), expected);
    for conv in &all {
        assert_eq!(
            conv["tr"] == true,
            conv["objectId"] == room.as_str(),
            "{conv}"
        );
        assert_eq!(
            conv["sys"] == true,
            conv["objectId"] == service.as_str(),
            "{conv}"
        );
    }
}
both_backends!(each_family_lists_its_own_kind_and_all_conversations_lists_every_kind);

async fn a_family_cannot_reach_another_familys_conversations(server: &TestServer) {
    let normal = server.create_conversation(json!({"m": ["a"]})).await;
    let room = server.create_chat_room("room").await;
    let service = server.create_service_conversation("service").await;
    for (path, id) in [
        ("/chatrooms", &normal),
        ("/service-conversations", &room),
        ("/conversations", &service),
    ] {
        let what = format!("{path}/{id}");
        server
            .put(&format!("{path}/{id}"), json!({"name": "x"}))
            .await
            .assert_error(404, 4303, &what);
        server
            .delete(&format!("{path}/{id}"), None)
            .await
            .assert_error(404, 4303, &what);
    }
    let members = server
        .post(
            &format!("/conversations/{room}/members"),
            json!({"client_ids": ["b"]}),
        )
        .await;
    members.assert_error(404, 4303, "members of a chat room through /conversations");
    server
        .get(&format!("/chatrooms/{normal}/members"), &[])
        .await
        .assert_error(404, 4303, "E20 on a conversation");
    let sent = server
        .post(
            &format!("/chatrooms/{normal}/messages"),
            json!({"from_client": "a", "message": "hi"}),
        )
        .await;
    sent.assert_error(404, 4303, "chat-room send to a conversation");
    let sent = server
        .post(
            &format!("/conversations/{service}/messages"),
            json!({"from_client": "a", "message": "hi"}),
        )
        .await;
    sent.assert_error(404, 4303, "conversation send to a service conversation");
    assert_eq!(
        server.list("/all-conversations", &[]).await.len(),
        3,
        "nothing was deleted"
    );
}
both_backends!(a_family_cannot_reach_another_familys_conversations);
