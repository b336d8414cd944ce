//! LeanCloud's conversation signatures when the app requires them: `conv start`, joins and
//! invites (`invite`), removing others (`kick`). A bad, missing or stale signature gets
//! 4302 and changes nothing.

use super::support::*;
use crate::gateway_support::{Backend, Server, APP_ID, MASTER_KEY};
use tidings::domain::signature::realtime_sign;
use tidings::domain::time::now_ms;
use tidings::gateway::proto::{GenericCommand, OpType};

fn sign(fields: &[&str]) -> String {
    realtime_sign(MASTER_KEY, fields)
}

fn signed(mut command: GenericCommand, s: String, t: i64, n: &str) -> GenericCommand {
    let body = command.conv_message.as_mut().unwrap();
    body.s = Some(s);
    body.t = Some(t);
    body.n = Some(n.to_owned());
    command
}

async fn conversation_signatures_are_verified(backend: Backend) {
    let server = Server::start_with(backend, |_, settings| {
        settings.conversation_signature_required = true;
    })
    .await;
    let mut alice = server.login("alice").await;
    let before = conversation_count(&server).await;

    // conv start: missing, wrong, stale, then right (seconds, as LeanEngine's demo signs).
    let refused = alice.request(start(&["bob", "alice"])).await;
    assert_eq!(error_code(&refused), Some(4302), "{refused:?}");
    let t = now_ms() / 1000;
    let wrong = signed(start(&["bob", "alice"]), "00".repeat(20), t, "n1");
    assert_eq!(error_code(&alice.request(wrong).await), Some(4302));
    let stale_t = t - 7 * 3600;
    let stale = sign(&[APP_ID, "alice", "alice:bob", &stale_t.to_string(), "n1"]);
    let stale = signed(start(&["bob", "alice"]), stale, stale_t, "n1");
    assert_eq!(error_code(&alice.request(stale).await), Some(4302));
    assert_eq!(conversation_count(&server).await, before);
    let good = sign(&[APP_ID, "alice", "alice:bob", &t.to_string(), "n1"]);
    let started = alice
        .request(signed(start(&["bob", "alice"]), good, t, "n1"))
        .await;
    assert_eq!(started.op, Some(OpType::Started as i32), "{started:?}");
    let cid = started.conv_message.unwrap().cid.unwrap();

    // Joining without a signature: refused, members unchanged.
    let mut eve = server.login("eve").await;
    let join = members_command(OpType::Add, &cid, &["eve"]);
    assert_eq!(error_code(&eve.request(join.clone()).await), Some(4302));
    assert_eq!(members(&server, &cid).await, ["alice", "bob"]);
    // Signed for another conversation: refused too.
    let t = now_ms();
    let elsewhere = sign(&[
        APP_ID,
        "eve",
        "other",
        "eve",
        &t.to_string(),
        "n2",
        "invite",
    ]);
    let reply = eve.request(signed(join.clone(), elsewhere, t, "n2")).await;
    assert_eq!(error_code(&reply), Some(4302));
    // Right (milliseconds): eve joins.
    let ok = sign(&[APP_ID, "eve", &cid, "eve", &t.to_string(), "n2", "invite"]);
    let joined = eve.request(signed(join, ok, t, "n2")).await;
    assert_eq!(joined.op, Some(OpType::Added as i32), "{joined:?}");
    assert_eq!(members(&server, &cid).await, ["alice", "bob", "eve"]);

    // Removing others needs a `kick` signature; an `invite` one does not do. (Removing
    // others also needs a role: eve is made a Manager first.)
    let (status, body) = server
        .rest(
            reqwest::Method::PUT,
            &format!("/1.2/rtm/conversations/{cid}/member-roles/eve"),
            Some(serde_json::json!({"role": "Manager"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let kick = members_command(OpType::Remove, &cid, &["bob"]);
    let as_invite = sign(&[APP_ID, "eve", &cid, "bob", &t.to_string(), "n3", "invite"]);
    let reply = eve.request(signed(kick.clone(), as_invite, t, "n3")).await;
    assert_eq!(error_code(&reply), Some(4302));
    assert_eq!(members(&server, &cid).await, ["alice", "bob", "eve"]);
    let as_kick = sign(&[APP_ID, "eve", &cid, "bob", &t.to_string(), "n3", "kick"]);
    let removed = eve.request(signed(kick, as_kick, t, "n3")).await;
    assert_eq!(removed.op, Some(OpType::Removed as i32), "{removed:?}");
    assert_eq!(members(&server, &cid).await, ["alice", "eve"]);

    // Leaving oneself needs no signature.
    let leave = members_command(OpType::Remove, &cid, &["eve"]);
    assert_eq!(eve.request(leave).await.op, Some(OpType::Removed as i32));
    server.stop().await;
}
crate::on_both!(conversation_signatures_are_verified);
