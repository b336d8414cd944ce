//! The hub's side of the cluster (`crate::cluster`): presence changes announced to the
//! other nodes, and what their frames ask of this node's sessions.

use super::{push, Hub, Outbound, Recipients, SessionInfo};
use crate::cluster::wire::{PresenceOp, SessionRecord};
use crate::cluster::Cluster;
use bytes::Bytes;
use std::sync::Arc;

impl Hub {
    /// Links the hub to the other nodes; session ids then start from a random base so they
    /// are unique across the cluster (a tag conflict names a session on another node).
    pub fn attach_cluster(&self, cluster: Arc<Cluster>) {
        let base = (rand::random::<u64>() & 0x1F_FFFF) << 32;
        self.registry.set_id_base(base.max(1 << 32));
        let _ = self.cluster.set(cluster);
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    pub(super) fn announce(&self, op: PresenceOp) {
        if let Some(cluster) = self.cluster.get() {
            cluster.presence(op);
        }
    }

    pub(super) fn announce_online(&self, app: &str, id: u64, info: &SessionInfo) {
        if self.cluster.get().is_none() {
            return;
        }
        self.announce(PresenceOp::Online {
            session: SessionRecord {
                id,
                app: app.to_owned(),
                client: info.client.to_string(),
                tag: info.tag.as_deref().map(str::to_owned),
                device: info.device.as_deref().map(str::to_owned),
                rooms: Vec::new(),
            },
        });
    }

    /// A session's guard dropped.
    pub(super) fn unregister(&self, app: &str, client: &str, id: u64) {
        self.registry.remove(app, client, id);
        self.announce(PresenceOp::Offline { id });
    }

    /// This node's sessions, for a presence snapshot.
    pub fn local_sessions(&self) -> Vec<SessionRecord> {
        self.registry.sessions(None)
    }

    /// A push another node encoded, for this node's sessions.
    pub fn deliver_encoded(
        &self,
        app: &str,
        recipients: &Recipients,
        body: Bytes,
        skip_client: Option<&str>,
    ) {
        let skip = push::Skip::client_only(skip_client);
        self.deliver_local(app, recipients, body, skip.as_ref());
    }

    /// A kick decided on another node.
    pub fn kick_local(&self, app: &str, clients: Vec<String>, code: i32, reason: &str) {
        self.kick_targets(app, &Recipients::Clients(clients), code, reason);
    }

    /// Closes a session if this node holds it; whether it did.
    pub fn close_local_session(
        &self,
        app: &str,
        client: &str,
        session: u64,
        code: i32,
        reason: &str,
    ) -> bool {
        let reason: Arc<str> = Arc::from(reason);
        let mut found = false;
        self.registry
            .for_session(app, client, session, &mut |outbox| {
                found = true;
                outbox.deliver(Outbound::CloseSession {
                    session,
                    code,
                    reason: Arc::clone(&reason),
                });
            });
        found
    }

    /// Another node's sender asked for receipts of `msg_id`.
    pub fn want_receipt_here(&self, app: &str, msg_id: &str) {
        self.receipts.want(app, msg_id);
    }

    /// Asks every connection on this node to reconnect (after cross-node pushes may have
    /// been lost); returns how many.
    pub fn ask_all_to_reconnect(&self) -> usize {
        let mut asked = 0;
        self.registry.for_each_outbox(&mut |outbox| {
            outbox.ask_to_reconnect();
            asked += 1;
        });
        asked
    }
}
