//! WebSocket quotas at their edges: conversations per client per minute and commands per
//! connection per second (the message quota is in `holes.rs`). A refused action changes
//! nothing.

use super::support::*;
use crate::gateway_support::{command, Backend, Server};
use futures_util::SinkExt;
use prost::Message as _;
use tidings::gateway::proto::{CommandType, OpType};
use tokio_tungstenite::tungstenite::Message;

async fn conversations_per_minute(backend: Backend) {
    let server = Server::start_with(backend, |_, settings| {
        settings.client_conversations_per_minute = 3;
    })
    .await;
    let mut alice = server.login("alice").await;
    for n in 0..3 {
        conversation(&mut alice, &["alice", &format!("friend{n}")]).await;
    }
    let before = conversation_count(&server).await;
    let refused = alice.request(start(&["alice", "one-too-many"])).await;
    assert_eq!(error_code(&refused), Some(4318), "{refused:?}");
    assert_eq!(conversation_count(&server).await, before);
    // Another client has its own quota.
    let mut bob = server.login("bob").await;
    conversation(&mut bob, &["bob", "alice"]).await;
    server.stop().await;
}
crate::on_both!(conversations_per_minute);

async fn commands_per_connection(backend: Backend) {
    let server = Server::start_with(backend, |_, settings| {
        settings.connection_command_rate_per_second = 20;
    })
    .await;
    let mut flooder = server.login("flooder").await;
    let query = |n: i32| {
        let mut query = command(CommandType::Session, Some(OpType::Query));
        query.i = Some(10_000 + n);
        query.session_message = Some(Default::default());
        Message::Binary(query.encode_to_vec().into())
    };
    // A burst of 30 against a rate of 20: the excess is refused with 4116, the rest served.
    for n in 0..30 {
        flooder.ws.send(query(n)).await.unwrap();
    }
    let (mut answered, mut refused) = (0, 0);
    for _ in 0..30 {
        let reply = flooder.recv().await;
        match error_code(&reply) {
            Some(4116) => refused += 1,
            None => answered += 1,
            Some(other) => panic!("unexpected code {other}"),
        }
    }
    assert!(
        refused > 0 && answered >= 20,
        "{answered} answered, {refused} refused"
    );
    // A flood that goes on is closed (1008).
    let mut ended = false;
    for n in 0..2000 {
        if flooder.ws.send(query(100 + n)).await.is_err() {
            ended = true;
            break;
        }
    }
    if !ended {
        flooder.closed().await;
    }
    // Others are unaffected.
    let mut calm = server.login("calm").await;
    conversation(&mut calm, &["calm", "x"]).await;
    server.stop().await;
}
crate::on_both!(commands_per_connection);
