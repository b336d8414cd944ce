//! Authentication on every route of issues 2 and 3 (all need the master key), `X-LC-Sign`
//! with the documented worked example, the legacy `X-AVOSCloud-*` headers, and isolation
//! between apps.

use super::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Objects of the main app for the routes to address.
struct World {
    conv: String,
    room: String,
    service: String,
    conv_message: Sent,
    room_message: Sent,
}

impl World {
    async fn create(server: &TestServer) -> World {
        let conv = server
            .create_conversation(
                json!({"name": "kept", "m": ["BillGates", "SteveJobs"], "unique": true}),
            )
            .await;
        let room = server.create_chat_room("room").await;
        let service = server.create_service_conversation("service").await;
        let conv_message = server
            .send(&format!("/conversations/{conv}"), "BillGates", "hello")
            .await;
        let room_message = server
            .send(&format!("/chatrooms/{room}"), "BillGates", "hello room")
            .await;
        World {
            conv,
            room,
            service,
            conv_message,
            room_message,
        }
    }

    /// What the main app should still see after requests that must change nothing.
    async fn assert_intact(&self, server: &TestServer) {
        let conv = server
            .find_conversation(&self.conv)
            .await
            .expect("the conversation is still there");
        assert_eq!(conv["name"], "kept");
        assert_eq!(conv["m"], json!(["BillGates", "SteveJobs"]));
        assert!(conv.get("mu").is_none(), "{conv}");
        assert_eq!(server.list("/all-conversations", &[]).await.len(), 3);
        let room = server
            .find_conversation(&self.room)
            .await
            .expect("the chat room is still there");
        assert_eq!(room["name"], "room");
        let history = server
            .history(&format!("/conversations/{}/messages", self.conv), &[])
            .await;
        assert_eq!(msg_ids(&history), [self.conv_message.msg_id.as_str()]);
        assert_eq!(history[0]["data"], "hello");
        let history = server
            .history(&format!("/chatrooms/{}/messages", self.room), &[])
            .await;
        assert_eq!(msg_ids(&history), [self.room_message.msg_id.as_str()]);
        assert_eq!(history[0]["data"], "hello room");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Creates something (E01, E16, E27).
    Create,
    /// Lists conversations or messages of the whole app (E02, E17, E28, E48, E45, E52).
    List,
    /// Addresses one conversation (and maybe one of its messages).
    ById,
}

struct Route {
    name: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    shape: Shape,
}

fn route(
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    shape: Shape,
) -> Route {
    Route {
        name,
        method,
        path,
        query: Vec::new(),
        body,
        shape,
    }
}

/// Every route of issues 2 and 3, with valid parameters.
fn routes(world: &World) -> Vec<Route> {
    use Method as M;
    use Shape::*;
    let (conv, room, service) = (&world.conv, &world.room, &world.service);
    let ids = json!({"client_ids": ["Tom", "Jerry"]});
    let send = json!({"from_client": "BillGates", "message": "hi"});
    let edit = |s: &Sent| json!({"from_client": "BillGates", "message": "changed", "timestamp": s.timestamp});
    let recall = |s: &Sent| json!({"from_client": "BillGates", "timestamp": s.timestamp});
    let delete_query = |s: &Sent| {
        vec![
            ("from_client", "BillGates".to_owned()),
            ("timestamp", s.timestamp.to_string()),
        ]
    };
    let (cm, rm) = (&world.conv_message, &world.room_message);
    let mut routes = vec![
        route(
            "E01",
            M::POST,
            "/conversations".into(),
            Some(json!({"name": "x", "m": ["a"]})),
            Create,
        ),
        route("E02", M::GET, "/conversations".into(), None, List),
        route(
            "E03",
            M::PUT,
            format!("/conversations/{conv}"),
            Some(json!({"name": "changed"})),
            ById,
        ),
        route(
            "E04",
            M::DELETE,
            format!("/conversations/{conv}"),
            None,
            ById,
        ),
        route(
            "E05",
            M::POST,
            format!("/conversations/{conv}/members"),
            Some(ids.clone()),
            ById,
        ),
        route(
            "E06",
            M::DELETE,
            format!("/conversations/{conv}/members"),
            Some(json!({"client_ids": ["SteveJobs"]})),
            ById,
        ),
        route(
            "E07",
            M::GET,
            format!("/conversations/{conv}/members"),
            None,
            ById,
        ),
        route(
            "E08",
            M::POST,
            format!("/conversations/{conv}/mutes"),
            Some(ids.clone()),
            ById,
        ),
        route(
            "E09",
            M::DELETE,
            format!("/conversations/{conv}/mutes"),
            Some(ids),
            ById,
        ),
        route(
            "E10",
            M::GET,
            format!("/conversations/{conv}/mutes"),
            None,
            ById,
        ),
        route(
            "E11",
            M::POST,
            format!("/conversations/{conv}/messages"),
            Some(send.clone()),
            ById,
        ),
        route(
            "E12",
            M::GET,
            format!("/conversations/{conv}/messages"),
            None,
            ById,
        ),
        route(
            "E13",
            M::PUT,
            format!("/conversations/{conv}/messages/{}", cm.msg_id),
            Some(edit(cm)),
            ById,
        ),
        route(
            "E14",
            M::PUT,
            format!("/conversations/{conv}/messages/{}/recall", cm.msg_id),
            Some(recall(cm)),
            ById,
        ),
        route(
            "E15",
            M::DELETE,
            format!("/conversations/{conv}/messages/{}", cm.msg_id),
            None,
            ById,
        ),
        route(
            "E16",
            M::POST,
            "/chatrooms".into(),
            Some(json!({"name": "x"})),
            Create,
        ),
        route("E17", M::GET, "/chatrooms".into(), None, List),
        route(
            "E18",
            M::PUT,
            format!("/chatrooms/{room}"),
            Some(json!({"name": "changed"})),
            ById,
        ),
        route("E19", M::DELETE, format!("/chatrooms/{room}"), None, ById),
        route(
            "E20",
            M::GET,
            format!("/chatrooms/{room}/members"),
            None,
            ById,
        ),
        route(
            "E21",
            M::GET,
            format!("/chatrooms/{room}/members/online-count"),
            None,
            ById,
        ),
        route(
            "E22",
            M::POST,
            format!("/chatrooms/{room}/messages"),
            Some(send),
            ById,
        ),
        route(
            "E23",
            M::GET,
            format!("/chatrooms/{room}/messages"),
            None,
            ById,
        ),
        route(
            "E24",
            M::PUT,
            format!("/chatrooms/{room}/messages/{}", rm.msg_id),
            Some(edit(rm)),
            ById,
        ),
        route(
            "E25",
            M::PUT,
            format!("/chatrooms/{room}/messages/{}/recall", rm.msg_id),
            Some(recall(rm)),
            ById,
        ),
        route(
            "E26",
            M::DELETE,
            format!("/chatrooms/{room}/messages/{}", rm.msg_id),
            None,
            ById,
        ),
        route(
            "E27",
            M::POST,
            "/service-conversations".into(),
            Some(json!({"name": "x"})),
            Create,
        ),
        route("E28", M::GET, "/service-conversations".into(), None, List),
        route(
            "E29",
            M::PUT,
            format!("/service-conversations/{service}"),
            Some(json!({"name": "changed"})),
            ById,
        ),
        route(
            "E30",
            M::DELETE,
            format!("/service-conversations/{service}"),
            None,
            ById,
        ),
        route(
            "E45",
            M::GET,
            "/clients/BillGates/messages".into(),
            None,
            List,
        ),
        route("E48", M::GET, "/all-conversations".into(), None, List),
        route("E52", M::GET, "/messages".into(), None, List),
    ];
    for r in routes.iter_mut() {
        match r.name {
            "E15" => r.query = delete_query(cm),
            "E26" => r.query = delete_query(rm),
            _ => {}
        }
    }
    routes
}

async fn call(server: &TestServer, route: &Route, headers: &[(&str, String)]) -> Reply {
    let mut call = server.anonymous(route.method.clone(), &route.path);
    for (name, value) in headers {
        call = call.header(name, value);
    }
    let query: Vec<(&str, &str)> = route.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    call = call.query(&query);
    if let Some(body) = &route.body {
        call = call.json(body);
    }
    call.send().await
}

async fn every_route_refuses_no_key_a_wrong_key_another_apps_key_and_the_app_key(
    server: &TestServer,
) {
    let world = World::create(server).await;
    let (a, b) = (&server.app, &server.other_app);
    let credentials: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no credentials", vec![]),
        ("an app id alone", vec![("X-LC-Id", a.app_id.clone())]),
        (
            "a key alone",
            vec![("X-LC-Key", format!("{},master", a.master_key))],
        ),
        (
            "a wrong key",
            vec![("X-LC-Id", a.app_id.clone()), ("X-LC-Key", "wrong".into())],
        ),
        (
            "a wrong master key",
            vec![
                ("X-LC-Id", a.app_id.clone()),
                ("X-LC-Key", "wrong,master".into()),
            ],
        ),
        (
            "another app's master key",
            vec![
                ("X-LC-Id", a.app_id.clone()),
                ("X-LC-Key", format!("{},master", b.master_key)),
            ],
        ),
        (
            "another app's id",
            vec![
                ("X-LC-Id", b.app_id.clone()),
                ("X-LC-Key", format!("{},master", a.master_key)),
            ],
        ),
        (
            "an unknown app id",
            vec![
                ("X-LC-Id", "no-such-app".into()),
                ("X-LC-Key", format!("{},master", a.master_key)),
            ],
        ),
        (
            "the app key",
            vec![
                ("X-LC-Id", a.app_id.clone()),
                ("X-LC-Key", a.app_key.clone()),
            ],
        ),
        (
            "the app key marked master",
            vec![
                ("X-LC-Id", a.app_id.clone()),
                ("X-LC-Key", format!("{},master", a.app_key)),
            ],
        ),
        (
            "the master key without ,master",
            vec![
                ("X-LC-Id", a.app_id.clone()),
                ("X-LC-Key", a.master_key.clone()),
            ],
        ),
    ];
    for route in routes(&world) {
        for (what, headers) in &credentials {
            call(server, &route, headers)
                .await
                .assert_unauthorized(&format!("{} {} with {what}", route.name, route.path));
        }
    }
    world.assert_intact(server).await;
    // The same routes with the master key work (deletes last, whole conversations at the very
    // end, so everything a route addresses still exists).
    let mut all = routes(&world);
    all.sort_by_key(|r| {
        (
            r.method == Method::DELETE,
            matches!(r.name, "E04" | "E19" | "E30"),
        )
    });
    let master = vec![
        ("X-LC-Id", a.app_id.clone()),
        ("X-LC-Key", format!("{},master", a.master_key)),
    ];
    for route in all {
        let reply = call(server, &route, &master).await;
        reply.assert_success(&format!("{} with the master key", route.name));
    }
}
both_backends!(every_route_refuses_no_key_a_wrong_key_another_apps_key_and_the_app_key);

fn sign(timestamp: i64, key: &str) -> String {
    md5_hex(&format!("{timestamp}{key}"))
}

async fn a_fresh_x_lc_sign_with_the_master_key_is_accepted(server: &TestServer) {
    let (id, master, app_key) = (
        &server.app.app_id,
        &server.app.master_key,
        &server.app.app_key,
    );
    let with_sign = |value: String| {
        server
            .anonymous(Method::GET, "/conversations")
            .header("X-LC-Id", id)
            .header("X-LC-Sign", &value)
    };
    server
        .with_app_key(Method::GET, "/conversations")
        .send()
        .await
        .assert_unauthorized("the app key on a master route");
    let now = now_ms();
    let good = format!("{},{now},master", sign(now, master));
    assert_eq!(with_sign(good.clone()).send().await.status, 200);
    let create = server
        .anonymous(Method::POST, "/conversations")
        .header("X-LC-Id", id)
        .header("X-LC-Sign", &good);
    create
        .json(&json!({"m": ["a"]}))
        .send()
        .await
        .assert_success("a create signed with the master key");
    let upper = format!("{},{now},master", sign(now, master).to_uppercase());
    assert_eq!(
        with_sign(upper).send().await.status,
        200,
        "upper-case hex is accepted"
    );
    let legacy = server
        .anonymous(Method::GET, "/conversations")
        .header("X-LC-Id", id)
        .header("X-AVOSCloud-Request-Sign", &good);
    assert_eq!(legacy.send().await.status, 200, "X-AVOSCloud-Request-Sign");
    let five_minutes_ago = now - 5 * 60 * 1000;
    let recent = format!(
        "{},{five_minutes_ago},master",
        sign(five_minutes_ago, master)
    );
    assert_eq!(
        with_sign(recent).send().await.status,
        200,
        "within the 15-minute window"
    );
    let refused = [
        (
            format!("{},{now}", sign(now, app_key)),
            "signed with the app key (master needed)",
        ),
        (
            format!("{},{now},master", sign(now, app_key)),
            "an app-key signature marked master",
        ),
        (
            format!("{},{now}", sign(now, master)),
            "a master signature not marked master",
        ),
        (
            format!("{},{},master", sign(now, master), now + 1),
            "another timestamp",
        ),
        (
            format!("{},{now},master", sign(now, "wrong")),
            "a wrong key",
        ),
        (
            format!("{},{now},master", sign(now, &server.other_app.master_key)),
            "another app's key",
        ),
        (
            format!("{},{now},master,extra", sign(now, master)),
            "an extra segment",
        ),
        (
            format!("{},soon,master", sign(now, master)),
            "a timestamp that is not a number",
        ),
        (sign(now, master), "no timestamp"),
        (String::new(), "an empty signature"),
    ];
    for (value, what) in refused {
        with_sign(value).send().await.assert_unauthorized(what);
    }
    for skew in [-20 * 60 * 1000, 20 * 60 * 1000] {
        let ts = now + skew;
        let stale = format!("{},{ts},master", sign(ts, master));
        with_sign(stale)
            .send()
            .await
            .assert_unauthorized(&format!("a signature {skew} ms off"));
    }
}
both_backends!(a_fresh_x_lc_sign_with_the_master_key_is_accepted);

const DOC_APP_KEY: &str = "UtOCzqb67d3sN12Kts4URwy8";
const DOC_MASTER_KEY: &str = "DyJegPlemooo4X1tg94gQkw1";

fn with_the_documented_keys(setup: &mut Setup) {
    setup.app.app_key = DOC_APP_KEY.into();
    setup.app.master_key = DOC_MASTER_KEY.into();
    setup.config.sign_max_skew_secs = 0;
}

async fn the_documented_x_lc_sign_example_authenticates(server: &TestServer) {
    assert_eq!(
        sign(1453014943466, DOC_APP_KEY),
        "d5bcbb897e19b2f6633c716dfdfaf9be"
    );
    assert_eq!(
        sign(1453014943466, DOC_MASTER_KEY),
        "e074720658078c898aa0d4b1b82bdf4b"
    );
    let id = &server.app.app_id;
    let signed = |method: Method, path: &str, value: &str| {
        server
            .anonymous(method, path)
            .header("X-LC-Id", id)
            .header("X-LC-Sign", value)
    };
    let master = "e074720658078c898aa0d4b1b82bdf4b,1453014943466,master";
    let created = signed(Method::POST, "/conversations", master)
        .json(&json!({"m": ["BillGates", "SteveJobs"]}))
        .send()
        .await;
    created.assert_success("a create signed as in the docs");
    let listed = signed(Method::GET, "/conversations", master).send().await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        listed.body["results"][0]["objectId"],
        created.body["objectId"]
    );
    let app = "d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466";
    signed(Method::GET, "/conversations", app)
        .send()
        .await
        .assert_unauthorized("the documented app-key signature");
    let claimed = "d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466,master";
    signed(Method::GET, "/conversations", claimed)
        .send()
        .await
        .assert_unauthorized("the app-key signature marked master");
}
both_backends!(
    the_documented_x_lc_sign_example_authenticates,
    with_the_documented_keys
);

async fn legacy_avoscloud_headers_authenticate(server: &TestServer) {
    let (id, master, app_key) = (
        &server.app.app_id,
        &server.app.master_key,
        &server.app.app_key,
    );
    let get = || server.anonymous(Method::GET, "/conversations");
    let raw_master = get()
        .header("X-AVOSCloud-Application-Id", id)
        .header("X-AVOSCloud-Master-Key", master);
    assert_eq!(
        raw_master.send().await.status,
        200,
        "X-AVOSCloud-Master-Key"
    );
    let create = server
        .anonymous(Method::POST, "/conversations")
        .header("X-AVOSCloud-Application-Id", id)
        .header("X-AVOSCloud-Master-Key", master)
        .json(&json!({"m": ["a"]}));
    create
        .send()
        .await
        .assert_success("a create with legacy headers");
    let suffixed = get()
        .header("X-AVOSCloud-Application-Id", id)
        .header("X-AVOSCloud-Application-Key", &format!("{master},master"));
    assert_eq!(
        suffixed.send().await.status,
        200,
        "X-AVOSCloud-Application-Key with ,master"
    );
    let uluru = get()
        .header("X-Uluru-Application-Id", id)
        .header("X-Uluru-Master-Key", master);
    assert_eq!(uluru.send().await.status, 200, "X-Uluru-*");
    let app_only = get()
        .header("X-AVOSCloud-Application-Id", id)
        .header("X-AVOSCloud-Application-Key", app_key);
    app_only
        .send()
        .await
        .assert_unauthorized("the app key through the legacy header");
    let wrong = get()
        .header("X-AVOSCloud-Application-Id", id)
        .header("X-AVOSCloud-Master-Key", "wrong");
    wrong
        .send()
        .await
        .assert_unauthorized("a wrong legacy master key");
    let no_id = get().header("X-AVOSCloud-Master-Key", master);
    no_id
        .send()
        .await
        .assert_unauthorized("a legacy master key without an app id");
}
both_backends!(legacy_avoscloud_headers_authenticate);

async fn one_app_cannot_see_or_change_another_apps_conversations(server: &TestServer) {
    let world = World::create(server).await;
    let b = &server.other_app;
    let as_b = vec![
        ("X-LC-Id", b.app_id.clone()),
        ("X-LC-Key", format!("{},master", b.master_key)),
    ];
    for route in routes(&world) {
        let what = format!("app B: {} {}", route.name, route.path);
        match route.shape {
            Shape::Create => {}
            Shape::List => {
                let reply = call(server, &route, &as_b).await;
                assert_eq!(reply.status, 200, "{what}: {reply:?}");
                let items = reply.body.get("results").unwrap_or(&reply.body);
                assert_eq!(items, &json!([]), "{what}");
            }
            Shape::ById => call(server, &route, &as_b)
                .await
                .assert_error(404, 4303, &what),
        }
    }
    // A unique create with the same members makes app B its own conversation.
    let mut create = server
        .anonymous(Method::POST, "/conversations")
        .as_master_of(b);
    create = create.json(&json!({"m": ["SteveJobs", "BillGates"], "unique": true}));
    let theirs = create.send().await;
    theirs.assert_success("app B's unique create");
    assert_ne!(theirs.body["objectId"], world.conv.as_str());
    world.assert_intact(server).await;
}
both_backends!(one_app_cannot_see_or_change_another_apps_conversations);
