//! Receivers' acknowledgements: delivery positions and receipts, the sender's own read
//! position, and waiting for one message's acknowledgement by its destination (Agora
//! `wait_for_ack`).

use crate::app::actor::ClientSession;
use crate::domain::message::Message;
use crate::domain::time;
use crate::hub::{Event, Recipients};
use crate::proto::{CommandType, RcpCommand};
use crate::state::AppState;
use crate::store::positions::UpTo;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

type Waiting = HashMap<(String, String), (String, oneshot::Sender<String>)>;

#[derive(Default)]
pub struct AckWaiters {
    waiting: Mutex<Waiting>,
    /// Clustered: the destination may acknowledge on another node.
    cluster: std::sync::OnceLock<std::sync::Arc<crate::cluster::Cluster>>,
}

impl AckWaiters {
    pub fn attach_cluster(&self, cluster: std::sync::Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// Registers interest in `msg_id` before it is sent; the receiver resolves when
    /// `destination` (and nobody else) acknowledges it.
    pub fn wait_for(
        &self,
        app: &str,
        msg_id: &str,
        destination: &str,
    ) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(
                (app.to_owned(), msg_id.to_owned()),
                (destination.to_owned(), sender),
            );
        }
        if let Some(cluster) = self.cluster.get() {
            cluster.broadcast(crate::cluster::wire::Body::AwaitAck {
                app: app.to_owned(),
                msg: msg_id.to_owned(),
                dest: destination.to_owned(),
            });
        }
        receiver
    }

    /// Stops waiting (timeout or send failure).
    pub fn forget(&self, app: &str, msg_id: &str) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&(app.to_owned(), msg_id.to_owned()));
        }
    }

    /// A client acknowledged `msg_id`. Cheap when nobody waits.
    pub fn acknowledged(&self, app: &str, msg_id: &str, client: &str) {
        let sender = match self.waiting.lock() {
            Ok(mut waiting) if !waiting.is_empty() => {
                let key = (app.to_owned(), msg_id.to_owned());
                match waiting.get(&key) {
                    Some((destination, _)) if destination == client => {
                        waiting.remove(&key).map(|(_, sender)| sender)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match (sender, self.cluster.get()) {
            (Some(sender), _) => {
                let _ = sender.send(client.to_owned());
            }
            (None, Some(cluster)) => cluster.acknowledged(app, msg_id, client),
            (None, None) => {}
        }
    }
}

/// Receipts sent for one receiver `ack` at most.
const RECEIPTS_PER_ACK: i64 = 100;

/// A receiver's acknowledgement: JS `{cid, fromts, tots}` per conversation, Swift/Java
/// `{cid, mid}`. Moves the delivery position and sends the receipts senders asked for.
pub async fn receiver_ack(
    state: &AppState,
    session: &ClientSession,
    cid: Option<&str>,
    mid: Option<&str>,
    tots: Option<i64>,
) {
    let app = session.app_id();
    if let Some(mid) = mid {
        state.acks.acknowledged(app, mid, &session.client);
    }
    let Some(cid) = cid.filter(|c| !c.is_empty()) else {
        return;
    };
    let upto = match (mid, tots) {
        (Some(mid), _) => UpTo::Message(mid),
        (None, Some(tots)) => UpTo::Time(tots),
        (None, None) => return,
    };
    let now = time::now_ms();
    let delivered = match state
        .store
        .mark_delivered(app, cid, &session.client, upto, now, RECEIPTS_PER_ACK)
        .await
    {
        Ok(delivered) => delivered,
        Err(err) => {
            tracing::warn!(error = %err, "delivery position not stored");
            return;
        }
    };
    for message in delivered {
        state
            .acks
            .acknowledged(app, &message.msg_id, &session.client);
        if state.hub.receipt_wanted(app, &message.msg_id) {
            let mut push = crate::hub::push::envelope(CommandType::Rcp, None);
            // No `read` field: its presence alone makes Java treat it as a read receipt.
            push.rcp_message = Some(RcpCommand {
                id: Some(message.msg_id.clone()),
                cid: Some(cid.to_owned()),
                t: Some(now),
                from: Some(session.client.to_string()),
                read: None,
            });
            let event = Event::Push {
                command: Box::new(push),
                exclude_session: None,
            };
            state
                .hub
                .publish(app, Recipients::Clients(vec![message.from_client]), event);
        }
    }
}

/// After a client's own send: it has read its message (its unread count never includes
/// it), and it may want delivery receipts. Written after the ack, off the send path.
pub fn after_own_send(state: &AppState, session: &ClientSession, message: &Message, receipt: bool) {
    if message.transient || message.seq <= 0 {
        return;
    }
    if receipt {
        state.hub.want_receipt(session.app_id(), &message.msg_id);
    }
    state.background.advance_own(
        session.app_id(),
        &message.conv_id,
        &session.client,
        message.seq,
    );
}

#[cfg(test)]
mod tests {
    use super::AckWaiters;

    #[test]
    fn only_the_destination_completes_a_wait() {
        let waiters = AckWaiters::default();
        let mut waiting = waiters.wait_for("app", "mid", "bob");
        waiters.acknowledged("app", "mid", "mallory");
        assert!(
            waiting.try_recv().is_err(),
            "another client's ack does not count"
        );
        waiters.acknowledged("app", "mid", "bob");
        assert_eq!(waiting.try_recv().ok().as_deref(), Some("bob"));
    }
}
