//! A client that blocked a conversation (its own blacklist, `blacklist block` with `toCids`)
//! is not added back by anyone else: an SDK invite (`conv add`) and the admin's REST member
//! add both leave it out with 4548 in the failure list. Joining by itself stays its choice.

use super::support::*;
use crate::gateway_support::{command, Backend, Client, Server};
use reqwest::Method;
use serde_json::json;
use tidings::gateway::proto::{BlacklistCommand, CommandType, GenericCommand, OpType};

fn block_conversation(cid: &str, op: OpType) -> GenericCommand {
    let mut c = command(CommandType::Blacklist, Some(op));
    c.blacklist_message = Some(BlacklistCommand {
        to_cids: vec![cid.to_owned()],
        ..Default::default()
    });
    c
}

fn add(cid: &str, ids: &[&str]) -> GenericCommand {
    members_command(OpType::Add, cid, ids)
}

async fn blocked_by(client: &mut Client, cid: &str, op: OpType) {
    let reply = client.request(block_conversation(cid, op)).await;
    assert_eq!(error_code(&reply), None, "{reply:?}");
    assert_eq!(reply.blacklist_message.unwrap().allowed_pids, [cid]);
}

async fn invites_skip_clients_that_blocked_the_conversation(backend: Backend) {
    let server = Server::start(backend).await;
    let mut owner = server.login("owner").await;
    let mut carol = server.login("carol").await;
    let cid = conversation(&mut owner, &["owner", "bob"]).await;
    blocked_by(&mut carol, &cid, OpType::Block).await;

    // The SDK invite: carol fails with 4548, dave (who blocked nothing) is added.
    let invited = owner.request(add(&cid, &["carol", "dave"])).await;
    assert_eq!(error_code(&invited), None, "{invited:?}");
    let body = invited.conv_message.unwrap();
    assert_eq!(body.allowed_pids, ["dave"], "{body:?}");
    assert_eq!(body.failed_pids.len(), 1, "{body:?}");
    assert_eq!(body.failed_pids[0].code, 4548, "{body:?}");
    assert_eq!(body.failed_pids[0].pids, ["carol"], "{body:?}");
    assert_eq!(members(&server, &cid).await, ["bob", "dave", "owner"]);

    // The admin's REST add: same refusal, named in `failedPids`.
    let path = format!("/1.2/rtm/conversations/{cid}/members");
    let (status, reply) = server
        .rest(
            Method::POST,
            &path,
            Some(json!({"client_ids": ["carol", "erin"]})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["failedPids"][0]["code"], 4548, "{reply}");
    assert_eq!(reply["failedPids"][0]["pids"], json!(["carol"]), "{reply}");
    assert_eq!(
        members(&server, &cid).await,
        ["bob", "dave", "erin", "owner"]
    );
    // Only carol refused: nothing to do, still answered with the refusal.
    let (status, reply) = server
        .rest(Method::POST, &path, Some(json!({"client_ids": ["carol"]})))
        .await;
    assert_eq!(
        (status, reply["failedPids"][0]["code"].clone()),
        (200, json!(4548))
    );
    assert!(!members(&server, &cid).await.contains(&"carol".to_owned()));

    // Unblocked, the same invite goes through.
    blocked_by(&mut carol, &cid, OpType::Unblock).await;
    let invited = owner.request(add(&cid, &["carol"])).await;
    let body = invited.conv_message.unwrap();
    assert_eq!(body.allowed_pids, ["carol"], "{body:?}");
    assert!(body.failed_pids.is_empty(), "{body:?}");
    assert!(members(&server, &cid).await.contains(&"carol".to_owned()));
    server.stop().await;
}
crate::on_both!(invites_skip_clients_that_blocked_the_conversation);

/// Blocking a conversation does not stop the client from joining it by itself.
async fn a_client_may_still_join_what_it_blocked(backend: Backend) {
    let server = Server::start(backend).await;
    let mut owner = server.login("owner").await;
    let mut carol = server.login("carol").await;
    let cid = conversation(&mut owner, &["owner"]).await;
    blocked_by(&mut carol, &cid, OpType::Block).await;
    let joined = carol.request(add(&cid, &["carol"])).await;
    let body = joined.conv_message.unwrap();
    assert_eq!(body.allowed_pids, ["carol"], "{body:?}");
    assert_eq!(members(&server, &cid).await, ["carol", "owner"]);
    server.stop().await;
}
crate::on_both!(a_client_may_still_join_what_it_blocked);
