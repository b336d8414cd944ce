//! Moderation refusals on both stores: each carries its LeanCloud code and changes nothing
//! (the SDK suite's `15-moderation` runs the same flows with the official SDK).

use super::support::*;
use crate::gateway_support::{command, Backend, Client, Server};
use tidings::gateway::proto::{
    BlacklistCommand, CommandType, ConvCommand, ConvMemberInfo, GenericCommand, OpType,
};

fn conv_op(cid: &str, op: OpType, m: &[&str]) -> GenericCommand {
    members_command(op, cid, m)
}

fn role(cid: &str, target: &str, role: &str) -> GenericCommand {
    conv_command(
        OpType::MemberInfoUpdate,
        ConvCommand {
            cid: Some(cid.to_owned()),
            target_client_id: Some(target.to_owned()),
            info: Some(ConvMemberInfo {
                pid: Some(target.to_owned()),
                role: Some(role.to_owned()),
                info_id: None,
            }),
            ..Default::default()
        },
    )
}

fn block(cid: &str, op: OpType, ids: &[&str]) -> GenericCommand {
    let mut c = command(CommandType::Blacklist, Some(op));
    c.blacklist_message = Some(BlacklistCommand {
        src_cid: Some(cid.to_owned()),
        to_pids: ids.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    });
    c
}

async fn ok(client: &mut Client, c: GenericCommand) -> GenericCommand {
    let reply = client.request(c).await;
    assert_eq!(error_code(&reply), None, "{reply:?}");
    reply
}

async fn moderation_refusals_change_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let mut owner = server.login("owner").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("carol").await;
    let cid = conversation(&mut owner, &["owner", "bob", "carol"]).await;

    // Roles: nobody promotes itself; a plain member moderates nobody.
    assert_eq!(
        error_code(&bob.request(role(&cid, "bob", "Manager")).await),
        Some(4320)
    );
    assert_eq!(
        error_code(&bob.request(role(&cid, "carol", "Manager")).await),
        Some(4320)
    );
    assert_eq!(
        error_code(&owner.request(role(&cid, "bob", "Boss")).await),
        Some(4321)
    );
    assert_eq!(
        error_code(
            &bob.request(conv_op(&cid, OpType::AddShutup, &["carol"]))
                .await
        ),
        Some(4320)
    );
    assert_eq!(
        error_code(&bob.request(block(&cid, OpType::Block, &["carol"])).await),
        Some(4320)
    );
    let changed = owner.request(role(&cid, "bob", "Manager")).await;
    assert_eq!(
        changed.op,
        Some(OpType::MemberInfoUpdated as i32),
        "{changed:?}"
    );
    carol
        .expect(CommandType::Conv, Some(OpType::MemberInfoChanged))
        .await;
    // A manager does not moderate the owner.
    let silenced = ok(&mut bob, conv_op(&cid, OpType::AddShutup, &["owner"])).await;
    let failed = &silenced.conv_message.unwrap().failed_pids;
    assert_eq!(failed[0].code, 4320);

    // Silenced: the send is refused and nothing is stored.
    ok(&mut bob, conv_op(&cid, OpType::AddShutup, &["carol"])).await;
    carol
        .expect(CommandType::Conv, Some(OpType::Shutuped))
        .await;
    assert_eq!(
        send_code(&mut carol, direct(&cid, "let me speak")).await,
        Some(4563)
    );
    assert!(history_texts(&server, &cid).await.is_empty());
    let check = ok(
        &mut owner,
        conv_op(&cid, OpType::CheckShutup, &["carol", "bob"]),
    )
    .await;
    assert_eq!(check.conv_message.unwrap().m, ["carol"]);

    // Blocked: removed, and a re-join fails with 4548, members unchanged.
    ok(&mut owner, block(&cid, OpType::Block, &["carol"])).await;
    carol.expect(CommandType::Conv, Some(OpType::Blocked)).await;
    carol.expect(CommandType::Conv, Some(OpType::Left)).await;
    assert_eq!(members(&server, &cid).await, ["bob", "owner"]);
    let rejoin = carol.request(conv_op(&cid, OpType::Add, &["carol"])).await;
    let failed = rejoin.conv_message.unwrap().failed_pids;
    assert_eq!(failed[0].code, 4548, "{failed:?}");
    assert_eq!(members(&server, &cid).await, ["bob", "owner"]);
    let checked = ok(
        &mut owner,
        block(&cid, OpType::CheckBlock, &["carol", "bob"]),
    )
    .await;
    assert_eq!(checked.blacklist_message.unwrap().blocked_pids, ["carol"]);
    server.stop().await;
}
crate::on_both!(moderation_refusals_change_nothing);

/// The admin's moderation routes (master key): the same effects and pushes.
async fn the_admin_moderates_over_rest(backend: Backend) {
    use reqwest::Method;
    use serde_json::json;
    let server = Server::start(backend).await;
    let mut owner = server.login("owner").await;
    let mut carol = server.login("carol").await;
    let cid = conversation(&mut owner, &["owner", "bob", "carol"]).await;
    let base = format!("/1.2/rtm/conversations/{cid}");

    let (status, _) = server
        .rest(
            Method::PUT,
            &format!("{base}/member-roles/bob"),
            Some(json!({"role": "Manager"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, roles) = server
        .rest(Method::GET, &format!("{base}/member-roles"), None)
        .await;
    assert_eq!(roles["results"][0]["role"], "Owner", "{roles}");
    assert_eq!(roles["results"][1]["client_id"], "bob", "{roles}");
    let (status, body) = server
        .rest(
            Method::PUT,
            &format!("{base}/member-roles/owner"),
            Some(json!({"role": "Member"})),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!(4320)), "{body}");

    let ids = json!({"client_ids": ["carol"]});
    let (status, _) = server
        .rest(
            Method::POST,
            &format!("{base}/silenced-members"),
            Some(ids.clone()),
        )
        .await;
    assert_eq!(status, 200);
    carol
        .expect(CommandType::Conv, Some(OpType::Shutuped))
        .await;
    assert_eq!(
        send_code(&mut carol, direct(&cid, "hello?")).await,
        Some(4563)
    );
    let (_, listed) = server
        .rest(Method::GET, &format!("{base}/silenced-members"), None)
        .await;
    assert_eq!(listed["result"], json!(["carol"]));
    server
        .rest(
            Method::DELETE,
            &format!("{base}/silenced-members"),
            Some(ids.clone()),
        )
        .await;
    assert_eq!(send_code(&mut carol, direct(&cid, "hello")).await, None);

    let (status, _) = server
        .rest(
            Method::POST,
            &format!("{base}/blocked-members"),
            Some(ids.clone()),
        )
        .await;
    assert_eq!(status, 200);
    carol.expect(CommandType::Conv, Some(OpType::Blocked)).await;
    assert_eq!(members(&server, &cid).await, ["bob", "owner"]);
    let (_, listed) = server
        .rest(Method::GET, &format!("{base}/blocked-members"), None)
        .await;
    assert_eq!(listed["result"], json!(["carol"]));
    let (status, _) = server
        .rest_with(
            Method::GET,
            &format!("{base}/blocked-members"),
            None,
            crate::gateway_support::APP_KEY,
        )
        .await;
    assert_eq!(status, 401, "the app key is not enough");
    server.stop().await;
}
crate::on_both!(the_admin_moderates_over_rest);
