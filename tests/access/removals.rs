//! Removing others from a group goes by role, tried as an attacker would: a plain member
//! removes only itself (others fail with 4320 and stay), a Manager removes Members but not
//! other Managers or the Owner (4324), the Owner removes anyone but itself, and the admin
//! (master key) anyone but the Owner.

use super::support::*;
use crate::gateway_support::{Backend, Server};
use reqwest::Method;
use serde_json::json;
use tidings::gateway::proto::{GenericCommand, OpType};

fn remove(cid: &str, ids: &[&str]) -> GenericCommand {
    members_command(OpType::Remove, cid, ids)
}

/// `(allowed, [(code, ids)])` of a `conv remove` reply.
fn outcome(reply: GenericCommand) -> (Vec<String>, Vec<(i32, Vec<String>)>) {
    assert_eq!(error_code(&reply), None, "{reply:?}");
    let body = reply.conv_message.unwrap();
    let failed = body
        .failed_pids
        .into_iter()
        .map(|e| (e.code, e.pids))
        .collect();
    (body.allowed_pids, failed)
}

fn ids(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn make_manager(server: &Server, cid: &str, client: &str) {
    let (status, body) = server
        .rest(
            Method::PUT,
            &format!("/1.2/rtm/conversations/{cid}/member-roles/{client}"),
            Some(json!({"role": "Manager"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn only_owners_and_managers_remove_others(backend: Backend) {
    let server = Server::start(backend).await;
    let mut owner = server.login("owner").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let everyone = ["owner", "bob", "carol", "dave", "erin", "frank"];
    let cid = conversation(&mut owner, &everyone).await;
    make_manager(&server, &cid, "bob").await;
    make_manager(&server, &cid, "frank").await;

    // A plain member removes nobody else, not even with the owner in the list.
    let (allowed, failed) = outcome(carol.request(remove(&cid, &["dave", "owner"])).await);
    assert!(allowed.is_empty(), "{allowed:?}");
    assert_eq!(
        failed,
        [(4324, ids(&["owner"])), (4320, ids(&["dave"]))],
        "a member's kick"
    );
    let mut all = ids(&everyone);
    all.sort();
    assert_eq!(members(&server, &cid).await, all, "nobody left");

    // A manager removes a member, not another manager or the owner.
    let (allowed, failed) = outcome(bob.request(remove(&cid, &["dave", "frank", "owner"])).await);
    assert_eq!(allowed, ["dave"]);
    assert_eq!(
        failed,
        [(4324, ids(&["owner"])), (4320, ids(&["frank"]))],
        "a manager's kick"
    );
    // The owner removes a manager.
    let (allowed, failed) = outcome(owner.request(remove(&cid, &["frank"])).await);
    assert_eq!((allowed, failed), (ids(&["frank"]), vec![]));
    // A member still leaves by itself.
    let (allowed, _) = outcome(carol.request(remove(&cid, &["carol"])).await);
    assert_eq!(allowed, ["carol"]);
    assert_eq!(members(&server, &cid).await, ["bob", "erin", "owner"]);

    // The admin removes anyone.
    let (status, body) = server
        .rest(
            Method::DELETE,
            &format!("/1.2/rtm/conversations/{cid}/members"),
            Some(json!({"client_ids": ["bob", "erin"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(members(&server, &cid).await, ["owner"]);
    server.stop().await;
}
crate::on_both!(only_owners_and_managers_remove_others);
