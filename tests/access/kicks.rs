//! A forced kick (E43) voids the client's session tokens and login signatures issued
//! before it, as LeanCloud documents.

use super::support::*;
use crate::gateway_support::{Backend, Server, APP_ID, MASTER_KEY};
use reqwest::Method;
use serde_json::json;
use tidings::domain::signature::realtime_sign;
use tidings::domain::time::now_ms;
use tidings::gateway::proto::{OpType, SessionCommand};

async fn a_kicked_client_cannot_reuse_its_token(backend: Backend) {
    let server = Server::start(backend).await;
    let mut victim = server.connect("lc.protobuf2.3").await;
    let opened = victim.open("victim", SessionCommand::default()).await;
    let token = opened.session_message.unwrap().st.unwrap();
    // The token works for a reconnect before the kick.
    let mut again = server.connect("lc.protobuf2.3").await;
    let session = SessionCommand {
        st: Some(token.clone()),
        r: Some(true),
        ..Default::default()
    };
    assert_eq!(
        again.open("victim", session.clone()).await.op,
        Some(OpType::Opened as i32)
    );
    let (status, _) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/victim/kick",
            Some(json!({"reason": "banned"})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(victim.closed().await.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut retry = server.connect("lc.protobuf2.3").await;
    let refused = retry.open("victim", session).await;
    assert_eq!(refused.op, Some(OpType::Closed as i32), "{refused:?}");
    assert_eq!(refused.session_message.unwrap().code, Some(4112));
    server.stop().await;
}
crate::on_both!(a_kicked_client_cannot_reuse_its_token);

async fn a_kick_voids_earlier_login_signatures(backend: Backend) {
    let server = Server::start_with(backend, |_, settings| {
        settings.login_signature_required = true;
    })
    .await;
    let t = now_ms();
    let s = realtime_sign(MASTER_KEY, &[APP_ID, "victim", "", &t.to_string(), "nonce"]);
    let session = SessionCommand {
        t: Some(t),
        n: Some("nonce".into()),
        s: Some(s),
        ..Default::default()
    };
    let mut victim = server.connect("lc.protobuf2.3").await;
    assert_eq!(
        victim.open("victim", session.clone()).await.op,
        Some(OpType::Opened as i32)
    );
    let mut unsigned = server.connect("lc.protobuf2.3").await;
    let refused = unsigned.open("victim", SessionCommand::default()).await;
    assert_eq!(refused.session_message.unwrap().code, Some(4102));
    let (status, _) = server
        .rest(
            Method::POST,
            "/1.2/rtm/clients/victim/kick",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(victim.closed().await.is_some());
    let mut retry = server.connect("lc.protobuf2.3").await;
    let refused = retry.open("victim", session).await;
    assert_eq!(refused.session_message.unwrap().code, Some(4102));
    // A signature made after the kick works.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t = now_ms();
    let s = realtime_sign(MASTER_KEY, &[APP_ID, "victim", "", &t.to_string(), "n2"]);
    let fresh = SessionCommand {
        t: Some(t),
        n: Some("n2".into()),
        s: Some(s),
        ..Default::default()
    };
    let mut back = server.connect("lc.protobuf2.3").await;
    assert_eq!(
        back.open("victim", fresh).await.op,
        Some(OpType::Opened as i32)
    );
    let _ = error_code;
    server.stop().await;
}
crate::on_both!(a_kick_voids_earlier_login_signatures);
