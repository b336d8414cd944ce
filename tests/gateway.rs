//! The WebSocket gateway (issue 4), spoken in protobuf against the real server: login and
//! session tokens, conversations, messages between clients, REST meeting WebSocket, unread
//! and receipts, patches, kicks and conflicts, slow clients, timeouts, and bad input that
//! must never crash a connection. The main flow also runs on Postgres.
//!
//! Run: `cargo test --test gateway` (Postgres at 127.0.0.1:5432 as `postgres`, or set
//! `TIDINGS_TEST_POSTGRES`).

#![allow(clippy::unwrap_used)]

mod gateway_support;

use gateway_support::{command, Backend, Client, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tidings::gateway::proto::{
    AckCommand, CommandType, ConvCommand, DirectCommand, GenericCommand, JsonObjectMessage,
    LogsCommand, OpType, PatchCommand, PatchItem, ReadCommand, ReadTuple, SessionCommand,
};

async fn start_conversation(client: &mut Client, members: &[&str], unique: bool) -> String {
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        m: members.iter().map(|m| (*m).to_owned()).collect(),
        unique: Some(unique),
        attr: Some(JsonObjectMessage {
            data: json!({"name": "chat", "color": "red"}).to_string(),
        }),
        ..Default::default()
    });
    let started = client.request(start).await;
    assert_eq!(started.op, Some(OpType::Started as i32), "{started:?}");
    let conv = started.conv_message.unwrap();
    assert!(conv.cdate.is_some());
    conv.cid.unwrap()
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

/// Sends a text and returns `(uid, t)` from the ack, which must carry no `code`.
async fn send_text(client: &mut Client, cid: &str, text: &str) -> (String, i64) {
    let ack = client.request(direct(cid, text)).await;
    assert_eq!(ack.cmd, Some(CommandType::Ack as i32), "{ack:?}");
    let ack = ack.ack_message.unwrap();
    assert_eq!(ack.code, None, "{ack:?}");
    (ack.uid.unwrap(), ack.t.unwrap())
}

fn text_of(push: &GenericCommand) -> String {
    let data = push.direct_message.as_ref().unwrap().msg.clone().unwrap();
    serde_json::from_str::<Value>(&data).unwrap()["_lctext"]
        .as_str()
        .unwrap()
        .to_owned()
}

// ---- login and sessions --------------------------------------------------------------

#[tokio::test]
async fn login_answers_opened_with_peer_id_server_time_and_a_session_token() {
    let server = Server::start(Backend::Sqlite).await;
    let (mut client, echoed) = server
        .connect_to(&server.ws_url(), Some("lc.protobuf2.3"))
        .await;
    assert_eq!(echoed.as_deref(), Some("lc.protobuf2.3"));
    let opened = client
        .open(
            "alice",
            SessionCommand {
                ua: Some("js/5.0.0-rc.8".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(opened.cmd, Some(CommandType::Session as i32));
    assert_eq!(opened.op, Some(OpType::Opened as i32));
    assert_eq!(opened.peer_id.as_deref(), Some("alice"));
    assert!(opened.server_ts.is_some());
    let session = opened.session_message.unwrap();
    assert!(session.st.is_some() && session.st_ttl.is_some() && session.code.is_none());

    // Echo is answered with the same i.
    let echo = client.request(command(CommandType::Echo, None)).await;
    assert_eq!(echo.cmd, Some(CommandType::Echo as i32));
    server.stop().await;
}

#[tokio::test]
async fn a_session_token_reopens_after_a_restart_and_a_bad_one_is_4112() {
    let server = Server::start(Backend::Sqlite).await;
    let mut first = server.connect("lc.protobuf2.3").await;
    let st = first
        .open("alice", SessionCommand::default())
        .await
        .session_message
        .unwrap()
        .st
        .unwrap();
    drop(first);
    let mut again = server.connect("lc.protobuf2.3").await;
    let reopened = again
        .open(
            "alice",
            SessionCommand {
                r: Some(true),
                st: Some(st.clone()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(reopened.op, Some(OpType::Opened as i32), "{reopened:?}");
    let mut other = server.connect("lc.protobuf2.3").await;
    let refused = other
        .open(
            "mallory",
            SessionCommand {
                r: Some(true),
                st: Some(st),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(refused.op, Some(OpType::Closed as i32));
    assert_eq!(refused.session_message.unwrap().code, Some(4112));
    let garbage = other
        .open(
            "alice",
            SessionCommand {
                st: Some("not-a-token".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(garbage.session_message.unwrap().code, Some(4112));
    server.stop().await;
}

#[tokio::test]
async fn login_signatures_are_checked_when_the_app_requires_them() {
    let server = Server::start_with(Backend::Sqlite, |_, settings| {
        settings.login_signature_required = true
    })
    .await;
    let mut client = server.connect("lc.protobuf2.3").await;
    let refused = client
        .open(
            "alice",
            SessionCommand {
                t: Some(1),
                n: Some("n".into()),
                s: Some("bad".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(refused.session_message.unwrap().code, Some(4102));
    let t = tidings::domain::time::now_ms();
    let s = tidings::domain::signature::realtime_sign(
        gateway_support::MASTER_KEY,
        &[
            gateway_support::APP_ID,
            "alice",
            "",
            &t.to_string(),
            "nonce",
        ],
    );
    let opened = client
        .open(
            "alice",
            SessionCommand {
                t: Some(t),
                n: Some("nonce".into()),
                s: Some(s),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(opened.op, Some(OpType::Opened as i32), "{opened:?}");
    server.stop().await;
}

#[tokio::test]
async fn two_sessions_share_a_socket_and_commands_without_peer_id_go_to_the_first() {
    let server = Server::start(Backend::Sqlite).await;
    let mut socket = server.login("alice").await;
    let opened = socket.open("bob", SessionCommand::default()).await;
    assert_eq!(opened.peer_id.as_deref(), Some("bob"));
    // No peerId: alice's conversation (alice is the creator).
    let cid = start_conversation(&mut socket, &["alice", "carol"], false).await;
    let (status, body) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/conversations/{cid}/members"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"], json!(["alice", "carol"]));
    // Session query sees both online.
    let mut query = command(CommandType::Session, Some(OpType::Query));
    query.session_message = Some(SessionCommand {
        session_peer_ids: vec!["alice".into(), "bob".into(), "zed".into()],
        ..Default::default()
    });
    let result = socket.request(query).await;
    assert_eq!(
        result.session_message.unwrap().online_session_peer_ids,
        vec!["alice".to_owned(), "bob".to_owned()]
    );
    server.stop().await;
}

// ---- messages ------------------------------------------------------------------------

#[tokio::test]
async fn messages_flow_between_two_clients_and_to_the_senders_other_devices() {
    main_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_main_flow_runs_on_postgres_too() {
    main_flow(Backend::Postgres).await;
}

async fn main_flow(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.login("alice").await;
    let mut alice_phone = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], true).await;
    let joined = bob.expect(CommandType::Conv, Some(OpType::Joined)).await;
    assert_eq!(joined.service, Some(2));
    assert_eq!(joined.i, None);
    assert_eq!(joined.peer_id.as_deref(), Some("bob"));
    assert_eq!(
        joined.conv_message.unwrap().init_by.as_deref(),
        Some("alice")
    );
    // A unique conversation with the same members is the same one.
    assert_eq!(
        start_conversation(&mut bob, &["bob", "alice"], true).await,
        cid
    );

    let (uid, t) = send_text(&mut alice, &cid, "hello bob").await;
    let push = bob.expect(CommandType::Direct, None).await;
    assert_eq!(
        (push.service, push.i, push.peer_id.as_deref()),
        (Some(2), None, Some("bob"))
    );
    let body = push.direct_message.clone().unwrap();
    assert_eq!(
        (
            body.id.as_deref(),
            body.cid.as_deref(),
            body.from_peer_id.as_deref()
        ),
        (Some(uid.as_str()), Some(cid.as_str()), Some("alice"))
    );
    assert_eq!(body.timestamp, Some(t));
    assert_eq!(body.patch_timestamp, None);
    assert_eq!(text_of(&push), "hello bob");
    // The sender's other device gets it; the sending session does not.
    let synced = alice_phone.expect(CommandType::Direct, None).await;
    assert_eq!(
        synced.direct_message.unwrap().id.as_deref(),
        Some(uid.as_str())
    );
    alice.silence().await;

    // Bob fetches the conversation as JS does for an unknown cid.
    let mut query = command(CommandType::Conv, Some(OpType::Query));
    query.conv_message = Some(ConvCommand {
        r#where: Some(JsonObjectMessage {
            data: json!({"objectId": cid}).to_string(),
        }),
        ..Default::default()
    });
    let results = bob.request(query).await;
    let found: Value =
        serde_json::from_str(&results.conv_message.unwrap().results.unwrap().data).unwrap();
    assert_eq!(found[0]["objectId"], json!(cid));
    assert_eq!(found[0]["m"], json!(["alice", "bob"]));
    assert_eq!(found[0]["msg_mid"], json!(uid));
    assert_eq!(found[0]["msg_from"], json!("alice"));
    assert_eq!(found[0]["color"], json!("red"));

    // A resend of the same client message (same dt) is stored once.
    let mut first = direct(&cid, "once");
    first.direct_message.as_mut().unwrap().dt = Some("uuid-1".into());
    let a = alice.request(first.clone()).await.ack_message.unwrap().uid;
    let b = alice.request(first).await.ack_message.unwrap().uid;
    assert_eq!(a, b);

    // History: ascending, `l` as the limit (JS).
    let mut logs = command(CommandType::Logs, None);
    logs.logs_message = Some(LogsCommand {
        cid: Some(cid.clone()),
        l: Some(10),
        ..Default::default()
    });
    let history = bob.request(logs).await.logs_message.unwrap().logs;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].msg_id.as_deref(), Some(uid.as_str()));
    assert!(history[0].timestamp <= history[1].timestamp);

    // Bob acknowledges (JS form) and is counted as delivered.
    let mut ack = command(CommandType::Ack, None);
    ack.ack_message = Some(AckCommand {
        cid: Some(cid.clone()),
        fromts: Some(t),
        tots: Some(t),
        ..Default::default()
    });
    bob.send(&ack).await;
    let mut max_read = command(CommandType::Conv, Some(OpType::MaxRead));
    max_read.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        ..Default::default()
    });
    let mut delivered = None;
    for _ in 0..50 {
        delivered = alice
            .request(max_read.clone())
            .await
            .conv_message
            .unwrap()
            .max_ack_timestamp;
        if delivered.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(delivered.is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_rest_send_reaches_online_clients_live() {
    let server = Server::start(Backend::Sqlite).await;
    let mut bob = server.login("bob").await;
    let (status, conv) = server
        .rest(
            Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "x", "m": ["alice", "bob"]})),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    let cid = conv["objectId"].as_str().unwrap().to_owned();
    let body = json!({"from_client": "alice", "message": json!({"_lctype": -1, "_lctext": "from rest"}).to_string()});
    let (status, sent) = server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/conversations/{cid}/messages"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let push = bob.expect(CommandType::Direct, None).await;
    assert_eq!(text_of(&push), "from rest");
    assert_eq!(
        push.direct_message.unwrap().id.as_deref(),
        sent["msg-id"].as_str()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_direct_to_a_conversation_the_sender_is_not_in_is_refused_with_an_ack_code() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let mut mallory = server.login("mallory").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], false).await;
    for target in [cid.as_str(), "000000000000000000000000"] {
        let ack = mallory
            .request(direct(target, "hi"))
            .await
            .ack_message
            .unwrap();
        assert_eq!(ack.code, Some(4401));
        assert_eq!(ack.reason.as_deref(), Some("INVALID_MESSAGING_TARGET"));
    }
    server.stop().await;
}

// ---- unread, receipts, patches -------------------------------------------------------

#[tokio::test]
async fn an_offline_member_gets_unread_counts_at_login_with_mentions() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], false).await;
    send_text(&mut alice, &cid, "one").await;
    let mut mention = direct(&cid, "two @bob");
    mention.direct_message.as_mut().unwrap().mention_pids = vec!["bob".into()];
    alice.request(mention).await;
    let (last, _) = send_text(&mut alice, &cid, "three").await;

    let mut bob = server.login("bob").await;
    let unread = bob.expect(CommandType::Unread, None).await;
    assert_eq!(unread.peer_id.as_deref(), Some("bob"));
    let tuple = &unread.unread_message.unwrap().convs[0];
    assert_eq!(
        (tuple.cid.as_str(), tuple.unread, tuple.mid.as_deref()),
        (cid.as_str(), 3, Some(last.as_str()))
    );
    assert_eq!(tuple.mentioned, Some(true));
    assert_eq!(tuple.from.as_deref(), Some("alice"));

    // The sender's own messages are not unread for the sender.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, count) = server
        .rest_with(
            Method::GET,
            "/1.2/rtm/clients/alice/unread-count",
            None,
            gateway_support::APP_KEY,
        )
        .await;
    assert_eq!((status, count["count"].clone()), (200, json!(0)));
    let (_, count) = server
        .rest_with(
            Method::GET,
            &format!("/1.2/rtm/clients/bob/unread-count?conv_id={cid}"),
            None,
            gateway_support::APP_KEY,
        )
        .await;
    assert_eq!(count["count"], json!(3));
    server.stop().await;
}

#[tokio::test]
async fn protocol_one_replays_stored_messages_as_offline_directs() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], false).await;
    send_text(&mut alice, &cid, "while you were out").await;
    let mut bob = server.connect("lc.protobuf2.1").await;
    bob.open("bob", SessionCommand::default()).await;
    let replay = bob.expect(CommandType::Direct, None).await;
    assert_eq!(replay.direct_message.as_ref().unwrap().offline, Some(true));
    assert_eq!(text_of(&replay), "while you were out");
    server.stop().await;
}

#[tokio::test]
async fn reading_sends_a_read_receipt_and_updates_the_readers_other_sessions() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut bob_tablet = server.login("bob").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], false).await;
    bob.expect(CommandType::Conv, Some(OpType::Joined)).await;
    bob_tablet
        .expect(CommandType::Conv, Some(OpType::Joined))
        .await;
    let mut send = direct(&cid, "read me");
    send.direct_message.as_mut().unwrap().r = Some(true);
    let ack = alice.request(send).await.ack_message.unwrap();
    let (uid, t) = (ack.uid.unwrap(), ack.t.unwrap());
    bob.expect(CommandType::Direct, None).await;
    bob_tablet.expect(CommandType::Direct, None).await;

    // Delivery receipt on ack (Swift form, with mid): no `read` field.
    bob.acknowledge(&cid, &uid).await;
    let delivered = alice.receipt().await;
    assert_eq!(
        (
            delivered.id.as_deref(),
            delivered.read,
            delivered.from.as_deref()
        ),
        (Some(uid.as_str()), None, Some("bob"))
    );

    let mut read = command(CommandType::Read, None);
    read.read_message = Some(ReadCommand {
        convs: vec![ReadTuple {
            cid: cid.clone(),
            timestamp: Some(t),
            mid: Some(uid.clone()),
        }],
        ..Default::default()
    });
    bob.send(&read).await;
    let receipt = alice.receipt().await;
    assert_eq!(
        (
            receipt.read,
            receipt.cid.as_deref(),
            receipt.from.as_deref()
        ),
        (Some(true), Some(cid.as_str()), Some("bob"))
    );
    assert!(receipt.t.unwrap() >= t);
    let unread = bob_tablet
        .expect(CommandType::Unread, None)
        .await
        .unread_message
        .unwrap();
    assert_eq!(
        (unread.convs[0].unread, unread.convs[0].mentioned),
        (0, Some(false))
    );
    bob.silence().await;
    server.stop().await;
}

#[tokio::test]
async fn edits_and_recalls_are_pushed_live_and_caught_up_at_login() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let cid = start_conversation(&mut alice, &["alice", "bob", "carol"], false).await;
    let (uid, t) = send_text(&mut alice, &cid, "typo").await;
    bob.expect(CommandType::Direct, None).await;
    let before = tidings::domain::time::now_ms();

    let mut edit = command(CommandType::Patch, Some(OpType::Modify));
    edit.patch_message = Some(PatchCommand {
        patches: vec![PatchItem {
            cid: Some(cid.clone()),
            mid: Some(uid.clone()),
            timestamp: Some(t),
            data: Some("fixed".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    let modified = alice.request(edit).await;
    assert_eq!(modified.op, Some(OpType::Modified as i32), "{modified:?}");
    assert!(modified.patch_message.unwrap().last_patch_time.unwrap() > t);
    let push = bob.expect(CommandType::Patch, Some(OpType::Modify)).await;
    assert_eq!(push.service, Some(2));
    let item = &push.patch_message.unwrap().patches[0];
    assert_eq!(
        (item.data.as_deref(), item.from.as_deref(), item.timestamp),
        (Some("fixed"), Some("alice"), Some(t))
    );

    let mut recall = command(CommandType::Patch, Some(OpType::Modify));
    recall.patch_message = Some(PatchCommand {
        patches: vec![PatchItem {
            cid: Some(cid.clone()),
            mid: Some(uid.clone()),
            timestamp: Some(t),
            recall: Some(true),
            ..Default::default()
        }],
        ..Default::default()
    });
    alice.request(recall).await;
    let push = bob.expect(CommandType::Patch, Some(OpType::Modify)).await;
    let item = &push.patch_message.unwrap().patches[0];
    assert_eq!(
        (item.recall, item.data.as_deref()),
        (Some(true), Some(r#"{"_lctype":-127}"#))
    );

    // Someone else's message cannot be patched.
    let mut theft = command(CommandType::Patch, Some(OpType::Modify));
    theft.patch_message = Some(PatchCommand {
        patches: vec![PatchItem {
            cid: Some(cid.clone()),
            mid: Some(uid.clone()),
            timestamp: Some(t),
            data: Some("x".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert_eq!(bob.request(theft).await.error_message.unwrap().code, 4403);

    // Carol was offline: her login brings the patch.
    let mut carol = server.connect("lc.protobuf2.3").await;
    carol
        .open(
            "carol",
            SessionCommand {
                config_bitmap: Some(187),
                last_patch_time: Some(before),
                ..Default::default()
            },
        )
        .await;
    let caught_up = carol.expect(CommandType::Patch, Some(OpType::Modify)).await;
    assert_eq!(
        caught_up.patch_message.unwrap().patches[0].mid.as_deref(),
        Some(uid.as_str())
    );
    server.stop().await;
}

// ---- membership, chat rooms ----------------------------------------------------------

#[tokio::test]
async fn membership_changes_are_pushed_to_the_right_people() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let cid = start_conversation(&mut alice, &["alice", "bob"], false).await;
    bob.expect(CommandType::Conv, Some(OpType::Joined)).await;

    let mut add = command(CommandType::Conv, Some(OpType::Add));
    add.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        m: vec!["carol".into()],
        ..Default::default()
    });
    let added = alice.request(add).await.conv_message.unwrap();
    assert_eq!(added.allowed_pids, vec!["carol".to_owned()]);
    assert_eq!(
        carol
            .expect(CommandType::Conv, Some(OpType::Joined))
            .await
            .conv_message
            .unwrap()
            .init_by
            .as_deref(),
        Some("alice")
    );
    let joined = bob
        .expect(CommandType::Conv, Some(OpType::MembersJoined))
        .await
        .conv_message
        .unwrap();
    assert_eq!(joined.m, vec!["carol".to_owned()]);

    // The owner cannot be removed; others can.
    let mut remove = command(CommandType::Conv, Some(OpType::Remove));
    remove.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        m: vec!["alice".into(), "carol".into()],
        ..Default::default()
    });
    let removed = alice.request(remove).await.conv_message.unwrap();
    assert_eq!(removed.allowed_pids, vec!["carol".to_owned()]);
    assert_eq!(
        (
            removed.failed_pids[0].code,
            removed.failed_pids[0].pids.clone()
        ),
        (4324, vec!["alice".to_owned()])
    );
    carol.expect(CommandType::Conv, Some(OpType::Left)).await;
    bob.expect(CommandType::Conv, Some(OpType::MembersLeft))
        .await;

    // Update: reply with udate and attrModified; others get `updated`.
    let mut update = command(CommandType::Conv, Some(OpType::Update));
    update.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        attr: Some(JsonObjectMessage {
            data: json!({"attr.lee": "yeh", "name": "renamed"}).to_string(),
        }),
        ..Default::default()
    });
    let updated = alice.request(update).await.conv_message.unwrap();
    assert!(updated.udate.is_some());
    let modified: Value = serde_json::from_str(&updated.attr_modified.unwrap().data).unwrap();
    assert_eq!(modified, json!({"attr": {"lee": "yeh"}, "name": "renamed"}));
    let pushed = bob
        .expect(CommandType::Conv, Some(OpType::Updated))
        .await
        .conv_message
        .unwrap();
    assert_eq!(pushed.init_by.as_deref(), Some("alice"));

    let mut count = command(CommandType::Conv, Some(OpType::Count));
    count.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        ..Default::default()
    });
    assert_eq!(
        alice.request(count).await.conv_message.unwrap().count,
        Some(2)
    );
    server.stop().await;
}

#[tokio::test]
async fn chat_rooms_deliver_only_to_joined_sessions() {
    let server = Server::start(Backend::Sqlite).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let mut start = command(CommandType::Conv, Some(OpType::Start));
    start.conv_message = Some(ConvCommand {
        transient: Some(true),
        m: vec!["alice".into()],
        ..Default::default()
    });
    let cid = alice
        .request(start)
        .await
        .conv_message
        .unwrap()
        .cid
        .unwrap();
    let mut join = command(CommandType::Conv, Some(OpType::Add));
    join.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        m: vec!["bob".into()],
        ..Default::default()
    });
    assert_eq!(
        bob.request(join).await.conv_message.unwrap().allowed_pids,
        vec!["bob".to_owned()]
    );
    let (status, online) = server
        .rest(
            Method::GET,
            &format!("/1.2/rtm/chatrooms/{cid}/members"),
            None,
        )
        .await;
    assert_eq!(
        (status, online["result"].clone()),
        (200, json!(["alice", "bob"]))
    );

    send_text(&mut alice, &cid, "room").await;
    assert_eq!(
        text_of(&bob.expect(CommandType::Direct, None).await),
        "room"
    );
    carol.silence().await;
    let mut count = command(CommandType::Conv, Some(OpType::Count));
    count.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        ..Default::default()
    });
    assert_eq!(
        carol.request(count).await.conv_message.unwrap().count,
        Some(2)
    );
    server.stop().await;
}

// ---- REST meets WebSocket: kick, online, stats ------------------------------------------

#[tokio::test]
async fn a_rest_kick_closes_the_clients_sessions_with_4115() {
    a_rest_kick_closes_the_clients_sessions_with_4115_on(Backend::Sqlite).await;
    a_rest_kick_closes_the_clients_sessions_with_4115_on(Backend::Postgres).await;
}

async fn a_rest_kick_closes_the_clients_sessions_with_4115_on(backend: Backend) {
    let server = Server::start(backend).await;
    let mut bob = server.login("bob").await;
    let (status, _) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/bob/kick",
            Some(json!({"reason": "x".repeat(21)})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/bob/kick",
            Some(json!({"reason": "bye"})),
        )
        .await;
    assert_eq!((status, body), (200, json!({})));
    let closed = bob.expect(CommandType::Session, Some(OpType::Closed)).await;
    let session = closed.session_message.unwrap();
    assert_eq!(
        (
            session.code,
            session.reason.as_deref(),
            closed.peer_id.as_deref()
        ),
        (Some(4115), Some("bye"), Some("bob"))
    );
    assert!(bob.closed().await.is_some());
    let (_, online) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({"client_ids": ["bob"]})),
        )
        .await;
    assert_eq!(online, json!({"results": []}));
    server.stop().await;
}

#[tokio::test]
async fn check_online_and_stats_see_logged_in_clients() {
    check_online_and_stats_see_logged_in_clients_on(Backend::Sqlite).await;
    check_online_and_stats_see_logged_in_clients_on(Backend::Postgres).await;
}

async fn check_online_and_stats_see_logged_in_clients_on(backend: Backend) {
    let server = Server::start(backend).await;
    let _alice = server.login("alice").await;
    let _bob = server.login("bob").await;
    let (_, online) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({"client_ids": ["alice", "zed", "bob"]})),
        )
        .await;
    assert_eq!(online, json!({"results": ["alice", "bob"]}));
    let (status, _) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 400);
    let too_many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
    let (status, _) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/check-online",
            Some(json!({"client_ids": too_many})),
        )
        .await;
    assert_eq!(status, 400);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, stats) = server.rest(Method::GET, "/1.2/rtm/stats", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        stats,
        json!({"result": {"online_user_count": 2, "user_count_today": 2}})
    );
    let (status, _) = server
        .rest_with(
            Method::GET,
            "/1.2/rtm/stats",
            None,
            gateway_support::APP_KEY,
        )
        .await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn a_second_login_with_the_same_tag_closes_the_first_with_4111() {
    let server = Server::start(Backend::Sqlite).await;
    let mut phone = server.connect("lc.protobuf2.3").await;
    phone
        .open(
            "alice",
            SessionCommand {
                tag: Some("mobile".into()),
                device_id: Some("d1".into()),
                ..Default::default()
            },
        )
        .await;
    let mut tablet = server.connect("lc.protobuf2.3").await;
    let opened = tablet
        .open(
            "alice",
            SessionCommand {
                tag: Some("mobile".into()),
                device_id: Some("d2".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(opened.op, Some(OpType::Opened as i32));
    let closed = phone
        .expect(CommandType::Session, Some(OpType::Closed))
        .await;
    assert_eq!(closed.session_message.unwrap().code, Some(4111));
    // The old device reconnecting with r=true is refused while the new one holds the tag.
    let mut back = server.connect("lc.protobuf2.3").await;
    let refused = back
        .open(
            "alice",
            SessionCommand {
                tag: Some("mobile".into()),
                device_id: Some("d1".into()),
                r: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(refused.session_message.unwrap().code, Some(4111));
    server.stop().await;
}

// ---- transport -------------------------------------------------------------------------

#[tokio::test]
async fn the_router_lookup_names_this_server_and_base64_frames_work() {
    let server = Server::start(Backend::Sqlite).await;
    let (status, route) = server
        .rest(Method::GET, "/v1/route?appId=x&secure=true&_t=1", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(route["server"], json!(format!("ws://{}", server.addr)));
    assert!(route["ttl"].is_number() && route["secondary"].is_string());
    // Any path upgrades; base64 text frames with lc.proto2base64.3.
    let url = format!("ws://{}/some/where?x=1", server.addr);
    let (mut client, echoed) = server.connect_to(&url, Some("lc.proto2base64.3")).await;
    assert_eq!(echoed.as_deref(), Some("lc.proto2base64.3"));
    let opened = client.open("alice", SessionCommand::default()).await;
    assert_eq!(opened.op, Some(OpType::Opened as i32));
    let (status, _) = server.rest(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_error_commands_and_never_break_the_connection() {
    let server = Server::start(Backend::Sqlite).await;
    let mut client = server.connect("lc.protobuf2.3").await;
    // Commands before a session: 4105.
    let reply = client
        .request(command(CommandType::Conv, Some(OpType::Query)))
        .await;
    assert_eq!(reply.error_message.unwrap().code, 4105);
    // Garbage: 4114, unsolicited.
    client.send_raw(vec![0xff, 0xff, 0xff, 0x0f]).await;
    let error = client.recv().await;
    assert_eq!(
        (error.cmd, error.i),
        (Some(CommandType::Error as i32), None)
    );
    assert_eq!(error.error_message.unwrap().code, 4114);
    // Unknown command value: 4114 with i.
    let reply = client
        .request(GenericCommand {
            cmd: Some(99),
            ..Default::default()
        })
        .await;
    assert_eq!(reply.error_message.unwrap().code, 4114);
    // Fuzz: random bytes never crash the connection.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        let len = (seed % 64) as usize + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        client.send_raw(bytes).await;
    }
    let opened = client.open("alice", SessionCommand::default()).await;
    assert_eq!(opened.op, Some(OpType::Opened as i32));
    // Oversize: a direct over 5120 bytes gets an ack with 4109; other commands an error.
    let cid = start_conversation(&mut client, &["alice"], false).await;
    let ack = client
        .request(direct(&cid, &"x".repeat(6000)))
        .await
        .ack_message
        .unwrap();
    assert_eq!(ack.code, Some(4109));
    let mut big = command(CommandType::Conv, Some(OpType::Count));
    big.conv_message = Some(ConvCommand {
        cid: Some("y".repeat(6000)),
        ..Default::default()
    });
    assert_eq!(client.request(big).await.error_message.unwrap().code, 4109);
    let echo = client.request(command(CommandType::Echo, None)).await;
    assert_eq!(echo.cmd, Some(CommandType::Echo as i32));
    server.stop().await;
}

#[tokio::test]
async fn frames_beyond_the_transport_limit_close_with_4109() {
    let server = Server::start(Backend::Sqlite).await;
    let mut client = server.login("alice").await;
    client.send_raw(vec![0u8; 200 * 1024]).await;
    assert_eq!(client.closed().await, Some(4109));
    server.stop().await;
}

#[tokio::test]
async fn idle_and_login_timeouts_close_with_4107_and_4108() {
    let server = Server::start_with(Backend::Sqlite, |config, _| {
        config.ws_login_timeout_secs = 1;
        config.ws_idle_timeout_secs = 2;
    })
    .await;
    let mut never_logs_in = server.connect("lc.protobuf2.3").await;
    assert_eq!(never_logs_in.closed().await, Some(4108));
    let mut idle = server.login("alice").await;
    assert_eq!(idle.closed().await, Some(4107));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_goaway_and_a_close_frame() {
    let server = Server::start(Backend::Sqlite).await;
    let mut client = server.login("alice").await;
    server.shutdown_token().cancel();
    client.expect(CommandType::Goaway, None).await;
    assert_eq!(client.closed().await, Some(1001));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_does_not_delay_others() {
    let server =
        Server::start_with(Backend::Sqlite, |config, _| config.ws_queue_capacity = 64).await;
    let (status, room) = server
        .rest(
            Method::POST,
            "/1.2/rtm/chatrooms",
            Some(json!({"name": "busy"})),
        )
        .await;
    assert_eq!(status, 200, "{room}");
    let cid = room["objectId"].as_str().unwrap().to_owned();
    let mut join = command(CommandType::Conv, Some(OpType::Add));
    join.conv_message = Some(ConvCommand {
        cid: Some(cid.clone()),
        m: vec!["slow".into()],
        ..Default::default()
    });
    let mut slow = server.login("slow").await;
    slow.request(join.clone()).await;
    let mut fast = server.login("fast").await;
    join.conv_message.as_mut().unwrap().m = vec!["fast".into()];
    fast.request(join).await;

    // ~12 MB of transient messages: more than the kernel buffers hold for a reader that
    // never reads. The fast client keeps up throughout.
    let payload = "y".repeat(4800);
    let path = format!("/1.2/rtm/chatrooms/{cid}/messages");
    let mut sends = Vec::new();
    for _ in 0..2500 {
        let body = json!({"from_client": "sender", "message": payload, "transient": true});
        sends.push(server.rest(Method::POST, &path, Some(body)));
        if sends.len() == 16 {
            futures_util::future::join_all(sends.drain(..)).await;
            loop {
                match tokio::time::timeout(
                    std::time::Duration::from_millis(1),
                    futures_util::StreamExt::next(&mut fast.ws),
                )
                .await
                {
                    Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                        panic!("fast client closed: {frame:?}")
                    }
                    Ok(Some(Ok(_))) => continue,
                    Ok(other) => panic!("fast client: {other:?}"),
                    Err(_) => break,
                }
            }
        }
    }
    futures_util::future::join_all(sends).await;
    // Its buffers are full, so the close frame (1013) may not get through before the socket
    // is dropped: either way the connection ends, short of everything that was sent.
    let code = slow.closed().await;
    assert!(code == Some(1013) || code.is_none(), "{code:?}");
    assert!(slow.pending_len() < 2500);
    let echo = fast.request(command(CommandType::Echo, None)).await;
    assert_eq!(echo.cmd, Some(CommandType::Echo as i32));
    server.stop().await;
}

/// Permanent notifications kept for a client (protocol.md 7.2): an invite made while it was
/// offline, in the JS shape (`notification_type=permanent`) and in Swift's, readable with its
/// session token (`X-LC-IM-Session-Token`) or the master key, never with the app key alone.
async fn notifications_are_kept_for_offline_clients(backend: Backend) {
    let server = Server::start(backend).await;
    let mut alice = server.connect("lc.protobuf2.3").await;
    let opened = alice.open("alice", SessionCommand::default()).await;
    let token = opened.session_message.unwrap().st.unwrap();
    drop(alice);
    let (_, conv) = server
        .rest(
            Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "n", "m": ["bob"]})),
        )
        .await;
    let cid = conv["objectId"].as_str().unwrap().to_owned();
    server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/conversations/{cid}/members"),
            Some(json!({"client_ids": ["alice"]})),
        )
        .await;
    server
        .rest(
            Method::PUT,
            &format!("/1.2/rtm/conversations/{cid}"),
            Some(json!({"name": "renamed"})),
        )
        .await;
    let path = "/1.1/rtm/notifications?client_id=alice&start_ts=0&notification_type=permanent";
    let (status, _) = server
        .rest_with(Method::GET, path, None, gateway_support::APP_KEY)
        .await;
    assert_eq!(status, 401, "the app key alone is not enough");
    let response = server
        .http
        .get(format!("http://{}{path}", server.addr))
        .header("X-LC-Id", gateway_support::APP_ID)
        .header("X-LC-Key", gateway_support::APP_KEY)
        .header("X-LC-IM-Session-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hasMore"], json!(false));
    let items = body["notifications"].as_array().unwrap();
    let ops: Vec<&str> = items.iter().map(|n| n["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["joined", "updated"], "{body}");
    assert_eq!(items[0]["cid"], cid.as_str());
    assert_eq!(items[0]["cmd"], "conv");
    assert!(items[0]["serverTs"].as_i64().unwrap() > 0);
    let attr: Value = serde_json::from_str(items[1]["attr"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(attr["name"], "renamed");
    // Swift's shape, with the master key; `start_ts` after the first leaves the second.
    let first = items[0]["serverTs"].as_i64().unwrap();
    let (status, swift) = server
        .rest(
            Method::GET,
            &format!("/1.1/rtm/notifications?client_id=alice&start_ts={first}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let permanent = swift["permanent"]["notifications"].as_array().unwrap();
    assert!(permanent
        .iter()
        .all(|n| n["op"] != "joined" || n["serverTs"].as_i64() > Some(first)));
    assert!(
        permanent
            .iter()
            .any(|n| n["op"] == "updated" && n["attr"]["name"] == "renamed"),
        "{swift}"
    );
    // Another client's token does not read alice's notifications.
    let mut bob = server.connect("lc.protobuf2.3").await;
    let bob_token = bob.open("bob", SessionCommand::default()).await;
    let bob_token = bob_token.session_message.unwrap().st.unwrap();
    let response = server
        .http
        .get(format!("http://{}{path}", server.addr))
        .header("X-LC-Id", gateway_support::APP_ID)
        .header("X-LC-Key", gateway_support::APP_KEY)
        .header("X-LC-IM-Session-Token", &bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn notifications_are_kept_for_offline_clients_on_sqlite() {
    notifications_are_kept_for_offline_clients(Backend::Sqlite).await;
}

#[tokio::test]
async fn notifications_are_kept_for_offline_clients_on_postgres() {
    notifications_are_kept_for_offline_clients(Backend::Postgres).await;
}

#[tokio::test]
async fn an_offline_subscriber_gets_service_broadcasts_as_unread_at_login() {
    let server = Server::start(Backend::Sqlite).await;
    let (_, svc) = server
        .rest(
            Method::POST,
            "/1.2/rtm/service-conversations",
            Some(json!({"name": "news"})),
        )
        .await;
    let svc = svc["objectId"].as_str().unwrap().to_owned();
    let (status, body) = server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/service-conversations/{svc}/subscribers"),
            Some(json!({"client_id": "erin"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let message = json!({"_lctype": -1, "_lctext": "while you slept"}).to_string();
    let (status, body) = server
        .rest(
            Method::POST,
            &format!("/1.2/rtm/service-conversations/{svc}/broadcasts"),
            Some(json!({"from_client": "newsroom", "message": message})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut erin = server.login("erin").await;
    let unread = erin
        .expect(CommandType::Unread, None)
        .await
        .unread_message
        .unwrap();
    assert_eq!(
        (unread.convs[0].cid.as_str(), unread.convs[0].unread),
        (svc.as_str(), 1)
    );
    let mut read = command(CommandType::Read, None);
    read.read_message = Some(ReadCommand {
        convs: vec![ReadTuple {
            cid: svc.clone(),
            ..Default::default()
        }],
        ..Default::default()
    });
    erin.send(&read).await;
    erin.silence().await;
    let mut again = server.login("erin").await;
    again.silence().await;
    server.stop().await;
}
