//! The LeanStorage query language on the listings (E02, E17, E28, E48): `where` with its
//! operators, `order`, `limit`, `count`, `keys` and `skip`. Semantics follow LeanCloud's
//! (MongoDB's): equality on an array means "contains"; `$ne`/`$nin` also match objects that
//! lack the field.

use super::harness::*;
use serde_json::{json, Value};

/// Four conversations with distinct `createdAt`, oldest first.
struct Fixture {
    alpha: String,
    beta: String,
    gamma: String,
    xray: String,
}

impl Fixture {
    async fn create(server: &TestServer) -> Fixture {
        let bodies = [
            json!({"name": "alpha", "m": ["ann", "bob"], "level": 1, "attr": {"color": "red", "size": 3}}),
            json!({"name": "Beta", "m": ["bob", "cat", "dan"], "level": 2, "attr": {"color": "blue", "size": 5}}),
            json!({"name": "gamma.ray", "m": ["ann"], "level": 2}),
            json!({"name": "gammaXray", "m": ["eve", "bob"]}),
        ];
        let mut ids = Vec::new();
        for body in bodies {
            ids.push(server.create_conversation(body).await);
            pass_millisecond(now_ms()).await;
        }
        Fixture {
            alpha: ids[0].clone(),
            beta: ids[1].clone(),
            gamma: ids[2].clone(),
            xray: ids[3].clone(),
        }
    }

    fn sorted(&self, ids: &[&String]) -> Vec<String> {
        let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
        ids.sort();
        ids
    }
}

/// The sorted ids `where` selects on `/conversations`.
async fn matching(server: &TestServer, filter: Value) -> Vec<String> {
    object_ids(
        &server
            .list("/conversations", &[("where", &filter.to_string())])
            .await,
    )
}

async fn where_equality_matches_a_field(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"name": "alpha"})).await,
        f.sorted(&[&f.alpha])
    );
    assert_eq!(
        matching(server, json!({"level": 2})).await,
        f.sorted(&[&f.beta, &f.gamma])
    );
    assert_eq!(
        matching(server, json!({"objectId": f.xray})).await,
        f.sorted(&[&f.xray])
    );
    assert!(matching(server, json!({"name": "nobody"})).await.is_empty());
    assert_eq!(
        matching(server, json!({})).await.len(),
        4,
        "an empty where matches everything"
    );
}
both_backends!(where_equality_matches_a_field);

async fn where_on_members_means_contains(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"m": "ann"})).await,
        f.sorted(&[&f.alpha, &f.gamma])
    );
    assert_eq!(
        matching(server, json!({"m": "bob"})).await,
        f.sorted(&[&f.alpha, &f.beta, &f.xray])
    );
    assert!(matching(server, json!({"m": "zoe"})).await.is_empty());
}
both_backends!(where_on_members_means_contains);

async fn comparison_operators_filter_numbers(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"level": {"$ne": 2}})).await,
        f.sorted(&[&f.alpha, &f.xray])
    );
    assert_eq!(
        matching(server, json!({"level": {"$lt": 2}})).await,
        f.sorted(&[&f.alpha])
    );
    assert_eq!(
        matching(server, json!({"level": {"$lte": 2}})).await,
        f.sorted(&[&f.alpha, &f.beta, &f.gamma])
    );
    assert_eq!(
        matching(server, json!({"level": {"$gt": 1}})).await,
        f.sorted(&[&f.beta, &f.gamma])
    );
    assert_eq!(
        matching(server, json!({"level": {"$gte": 1, "$lt": 2}})).await,
        f.sorted(&[&f.alpha])
    );
    assert_eq!(
        matching(server, json!({"name": {"$gt": "gamma"}})).await,
        f.sorted(&[&f.gamma, &f.xray])
    );
}
both_backends!(comparison_operators_filter_numbers);

async fn in_and_nin_match_values_and_member_arrays(server: &TestServer) {
    let f = Fixture::create(server).await;
    let names = json!({"name": {"$in": ["alpha", "Beta", "nobody"]}});
    assert_eq!(
        matching(server, names).await,
        f.sorted(&[&f.alpha, &f.beta])
    );
    assert_eq!(
        matching(server, json!({"m": {"$in": ["cat", "eve"]}})).await,
        f.sorted(&[&f.beta, &f.xray])
    );
    assert_eq!(
        matching(server, json!({"m": {"$nin": ["bob"]}})).await,
        f.sorted(&[&f.gamma])
    );
    let not_alpha = json!({"name": {"$nin": ["alpha"]}});
    assert_eq!(
        matching(server, not_alpha).await,
        f.sorted(&[&f.beta, &f.gamma, &f.xray])
    );
    let ids = json!({"objectId": {"$in": [f.alpha, f.xray]}});
    assert_eq!(matching(server, ids).await, f.sorted(&[&f.alpha, &f.xray]));
    assert!(matching(server, json!({"name": {"$in": []}}))
        .await
        .is_empty());
}
both_backends!(in_and_nin_match_values_and_member_arrays);

async fn all_and_size_match_member_sets(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"m": {"$all": ["bob", "ann"]}})).await,
        f.sorted(&[&f.alpha])
    );
    assert_eq!(
        matching(server, json!({"m": {"$all": ["bob"]}})).await,
        f.sorted(&[&f.alpha, &f.beta, &f.xray])
    );
    assert_eq!(
        matching(server, json!({"m": {"$size": 3}})).await,
        f.sorted(&[&f.beta])
    );
    // The SDK's withMembers: exactly this member set.
    let exact = json!({"m": {"$all": ["bob", "eve"], "$size": 2}});
    assert_eq!(matching(server, exact).await, f.sorted(&[&f.xray]));
}
both_backends!(all_and_size_match_member_sets);

async fn exists_checks_whether_a_field_is_there(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"attr": {"$exists": true}})).await,
        f.sorted(&[&f.alpha, &f.beta])
    );
    assert_eq!(
        matching(server, json!({"level": {"$exists": false}})).await,
        f.sorted(&[&f.xray])
    );
    assert_eq!(
        matching(server, json!({"name": {"$exists": true}}))
            .await
            .len(),
        4
    );
}
both_backends!(exists_checks_whether_a_field_is_there);

async fn regex_matches_with_options_and_the_sdks_quoting(server: &TestServer) {
    let f = Fixture::create(server).await;
    let starts = json!({"name": {"$regex": "^gamma"}});
    assert_eq!(
        matching(server, starts).await,
        f.sorted(&[&f.gamma, &f.xray])
    );
    // The SDK's startsWith/endsWith/contains quote literals with \Q...\E: "." is a dot.
    let literal = json!({"name": {"$regex": "^\\Qgamma.ray\\E"}});
    assert_eq!(matching(server, literal).await, f.sorted(&[&f.gamma]));
    let ends = json!({"name": {"$regex": "\\Q.ray\\E$"}});
    assert_eq!(matching(server, ends).await, f.sorted(&[&f.gamma]));
    let unquoted = json!({"name": {"$regex": "^gamma.ray$"}});
    assert_eq!(
        matching(server, unquoted).await,
        f.sorted(&[&f.gamma, &f.xray])
    );
    let insensitive = json!({"name": {"$regex": "^beta$", "$options": "i"}});
    assert_eq!(matching(server, insensitive).await, f.sorted(&[&f.beta]));
    assert!(
        matching(server, json!({"name": {"$regex": "^beta$"}}))
            .await
            .is_empty(),
        "case matters without i"
    );
}
both_backends!(regex_matches_with_options_and_the_sdks_quoting);

async fn or_and_and_combine_conditions(server: &TestServer) {
    let f = Fixture::create(server).await;
    let or = json!({"$or": [{"name": "alpha"}, {"m": "eve"}]});
    assert_eq!(matching(server, or).await, f.sorted(&[&f.alpha, &f.xray]));
    let and = json!({"$and": [{"m": "bob"}, {"level": {"$gte": 2}}]});
    assert_eq!(matching(server, and).await, f.sorted(&[&f.beta]));
    let nested = json!({"$and": [{"$or": [{"level": 1}, {"level": 2}]}, {"$or": [{"m": "ann"}, {"m": "dan"}]}]});
    assert_eq!(
        matching(server, nested).await,
        f.sorted(&[&f.alpha, &f.beta, &f.gamma])
    );
    let with_field = json!({"m": "ann", "$or": [{"level": 2}, {"name": "nobody"}]});
    assert_eq!(matching(server, with_field).await, f.sorted(&[&f.gamma]));
}
both_backends!(or_and_and_combine_conditions);

async fn dates_compare_as_dates(server: &TestServer) {
    let f = Fixture::create(server).await;
    let beta = server.find_conversation(&f.beta).await.expect("listed");
    let beta_created = parse_iso(&beta["createdAt"]);
    let later = json!({"createdAt": {"$gt": date(beta_created)}});
    assert_eq!(
        matching(server, later).await,
        f.sorted(&[&f.gamma, &f.xray])
    );
    let up_to = json!({"createdAt": {"$lte": date(beta_created)}});
    assert_eq!(
        matching(server, up_to).await,
        f.sorted(&[&f.alpha, &f.beta])
    );
    let sent = server
        .send(&format!("/conversations/{}", f.beta), "bob", "hi")
        .await;
    assert_eq!(
        matching(server, json!({"lm": {"$exists": true}})).await,
        f.sorted(&[&f.beta])
    );
    assert_eq!(
        matching(server, json!({"lm": {"$gte": date(sent.timestamp)}})).await,
        f.sorted(&[&f.beta])
    );
    assert!(
        matching(server, json!({"lm": {"$gt": date(sent.timestamp)}}))
            .await
            .is_empty()
    );
    let updated = json!({"updatedAt": {"$gte": date(beta_created)}});
    assert_eq!(
        matching(server, updated).await,
        f.sorted(&[&f.beta, &f.gamma, &f.xray])
    );
}
both_backends!(dates_compare_as_dates);

async fn attr_paths_reach_into_custom_attributes(server: &TestServer) {
    let f = Fixture::create(server).await;
    assert_eq!(
        matching(server, json!({"attr.color": "red"})).await,
        f.sorted(&[&f.alpha])
    );
    assert_eq!(
        matching(server, json!({"attr.size": {"$gt": 3}})).await,
        f.sorted(&[&f.beta])
    );
    let either = json!({"attr.color": {"$in": ["red", "blue"]}});
    assert_eq!(
        matching(server, either).await,
        f.sorted(&[&f.alpha, &f.beta])
    );
    assert_eq!(
        matching(server, json!({"attr.size": {"$exists": false}})).await,
        f.sorted(&[&f.gamma, &f.xray])
    );
}
both_backends!(attr_paths_reach_into_custom_attributes);

/// The ids in the order the listing returns them.
async fn ordered(server: &TestServer, query: &[(&str, &str)]) -> Vec<String> {
    let results = server.list("/conversations", query).await;
    results
        .iter()
        .map(|r| r["objectId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn order_sorts_by_several_keys_ascending_or_descending(server: &TestServer) {
    let f = Fixture::create(server).await;
    let all_by_age = [
        f.alpha.clone(),
        f.beta.clone(),
        f.gamma.clone(),
        f.xray.clone(),
    ];
    assert_eq!(ordered(server, &[("order", "createdAt")]).await, all_by_age);
    let mut newest_first = all_by_age.to_vec();
    newest_first.reverse();
    assert_eq!(
        ordered(server, &[("order", "-createdAt")]).await,
        newest_first
    );
    let with_level = json!({"level": {"$exists": true}}).to_string();
    let by_level = ordered(
        server,
        &[("where", &with_level), ("order", "-level,createdAt")],
    )
    .await;
    assert_eq!(by_level, [f.beta.clone(), f.gamma.clone(), f.alpha.clone()]);
    let by_level = ordered(
        server,
        &[("where", &with_level), ("order", "-level,-createdAt")],
    )
    .await;
    assert_eq!(by_level, [f.gamma.clone(), f.beta.clone(), f.alpha.clone()]);
    let page = ordered(
        server,
        &[("order", "createdAt"), ("skip", "1"), ("limit", "2")],
    )
    .await;
    assert_eq!(page, [f.beta.clone(), f.gamma.clone()]);
}
both_backends!(order_sorts_by_several_keys_ascending_or_descending);

async fn limit_defaults_to_100_and_values_outside_1_to_1000_mean_100(server: &TestServer) {
    server.create_many_conversations(105).await;
    let count = |query: &'static [(&'static str, &'static str)]| async move {
        server.list("/conversations", query).await.len()
    };
    assert_eq!(count(&[]).await, 100, "default");
    assert_eq!(count(&[("limit", "1000")]).await, 105, "1000 is allowed");
    assert_eq!(count(&[("limit", "101")]).await, 101);
    assert_eq!(count(&[("limit", "1")]).await, 1);
    assert_eq!(
        count(&[("limit", "1001")]).await,
        100,
        "past 1000 means the default"
    );
    assert_eq!(
        count(&[("limit", "-5")]).await,
        100,
        "negative means the default"
    );
    assert_eq!(
        server
            .list("/all-conversations", &[("limit", "1001")])
            .await
            .len(),
        100
    );
}
both_backends!(limit_defaults_to_100_and_values_outside_1_to_1000_mean_100);

async fn count_returns_the_total_and_limit_zero_returns_only_the_count(server: &TestServer) {
    for i in 0..5 {
        server
            .create_conversation(json!({"name": format!("c{i}"), "m": ["a"]}))
            .await;
    }
    server.create_chat_room("room").await;
    let with_rows = server
        .get("/conversations", &[("count", "1"), ("limit", "2")])
        .await;
    assert_eq!(with_rows.status, 200, "{with_rows:?}");
    assert_eq!(keys_of(&with_rows.body), set(&["results", "count"]));
    assert_eq!(with_rows.body["count"], 5);
    assert_eq!(with_rows.body["results"].as_array().map(Vec::len), Some(2));
    let only_count = server
        .get("/conversations", &[("count", "1"), ("limit", "0")])
        .await;
    assert_eq!(
        (only_count.status, only_count.body),
        (200, json!({"results": [], "count": 5}))
    );
    let all = server
        .get("/all-conversations", &[("count", "1"), ("limit", "0")])
        .await;
    assert_eq!(all.body, json!({"results": [], "count": 6}));
    let rooms = server
        .get("/chatrooms", &[("count", "1"), ("limit", "0")])
        .await;
    assert_eq!(rooms.body, json!({"results": [], "count": 1}));
}
both_backends!(count_returns_the_total_and_limit_zero_returns_only_the_count);

async fn count_follows_the_where_condition(server: &TestServer) {
    Fixture::create(server).await;
    let bob = json!({"m": "bob"}).to_string();
    let reply = server
        .get(
            "/conversations",
            &[("where", &bob), ("count", "1"), ("limit", "0")],
        )
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (200, json!({"results": [], "count": 3}))
    );
}
both_backends!(count_follows_the_where_condition);

async fn keys_selects_or_excludes_fields(server: &TestServer) {
    server
        .create_conversation(json!({"name": "picked", "m": ["a"], "level": 1, "attr": {"x": 1}}))
        .await;
    let picked = server
        .list("/conversations", &[("keys", "name,level")])
        .await;
    assert_eq!(
        keys_of(&picked[0]),
        set(&["name", "level", "objectId", "createdAt", "updatedAt"]),
        "{picked:?}"
    );
    assert_eq!(picked[0]["name"], "picked");
    let excluded = server
        .list("/conversations", &[("keys", "-m,-createdAt,-attr")])
        .await;
    assert_eq!(
        keys_of(&excluded[0]),
        set(&["name", "level", "objectId", "updatedAt"]),
        "{excluded:?}"
    );
    let only_id = server
        .list(
            "/conversations",
            &[("keys", "-createdAt,-updatedAt,-name,-m,-level,-attr")],
        )
        .await;
    assert_eq!(keys_of(&only_id[0]), set(&["objectId"]), "{only_id:?}");
}
both_backends!(keys_selects_or_excludes_fields);

async fn skip_pages_through_results(server: &TestServer) {
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            server
                .create_conversation(json!({"name": format!("c{i}"), "m": ["a"]}))
                .await,
        );
    }
    let mut seen = Vec::new();
    for skip in ["0", "2", "4", "6"] {
        let page = ordered(server, &[("skip", skip), ("limit", "2")]).await;
        assert!(page.len() <= 2);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 5, "every conversation once: {seen:?}");
    seen.sort();
    created.sort();
    assert_eq!(seen, created);
}
both_backends!(skip_pages_through_results);

async fn the_seeds_listing_examples_skip_and_limit_matches(server: &TestServer) {
    for _ in 0..2 {
        server
            .create_conversation(json!({"name": "first conversation", "m": ["a"]}))
            .await;
        server.create_chat_room("chatroom").await;
        server.create_service_conversation("service").await;
    }
    server
        .create_conversation(json!({"name": "another", "m": ["a"]}))
        .await;
    for (path, name, flag) in [
        ("/conversations", "first conversation", None),
        ("/chatrooms", "chatroom", Some("tr")),
        ("/service-conversations", "service", Some("sys")),
    ] {
        let filter = json!({ "name": name }).to_string();
        let results = server
            .list(path, &[("where", &filter), ("skip", "1"), ("limit", "20")])
            .await;
        assert_eq!(results.len(), 1, "{path}: {results:?}");
        assert_eq!(results[0]["name"], name);
        if let Some(flag) = flag {
            assert_eq!(results[0][flag], true);
        }
    }
}
both_backends!(the_seeds_listing_examples_skip_and_limit_matches);

async fn all_conversations_filters_across_every_kind(server: &TestServer) {
    let conv = server
        .create_conversation(json!({"name": "alpha chat", "m": ["a"]}))
        .await;
    let room = server.create_chat_room("alpha room").await;
    let service = server.create_service_conversation("alpha service").await;
    server
        .create_conversation(json!({"name": "other", "m": ["a"]}))
        .await;
    let list = |filter: Value| async move {
        object_ids(
            &server
                .list("/all-conversations", &[("where", &filter.to_string())])
                .await,
        )
    };
    let mut alphas = vec![conv.clone(), room.clone(), service.clone()];
    alphas.sort();
    assert_eq!(list(json!({"name": {"$regex": "^alpha"}})).await, alphas);
    assert_eq!(list(json!({"tr": true})).await, [room.as_str()]);
    assert_eq!(list(json!({"sys": true})).await, [service.as_str()]);
    let rooms = object_ids(
        &server
            .list(
                "/chatrooms",
                &[("where", &json!({"name": {"$regex": "room$"}}).to_string())],
            )
            .await,
    );
    assert_eq!(rooms, [room]);
    let services = server
        .list(
            "/service-conversations",
            &[("where", &json!({"name": "alpha chat"}).to_string())],
        )
        .await;
    assert!(
        services.is_empty(),
        "a family's where never reaches other kinds"
    );
}
both_backends!(all_conversations_filters_across_every_kind);
