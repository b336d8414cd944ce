//! Who is online where, and delivery to their sessions. The seam for several nodes:
//! `publish` delivers locally and, when clustered, through a bus to other nodes.
//!
//! Invariants:
//! - Publishers never wait on a client: every session's connection has a bounded queue fed
//!   with `try_send`; a full queue trips the connection's overflow signal and the connection
//!   closes itself (the client reconnects and resyncs from history).
//! - A push is encoded once per event (without `peerId`); each connection appends the
//!   `peerId` of its own session and frames the bytes for its wire format.
//! - Registration is RAII: a [`SessionGuard`]'s `Drop` removes the session and its chat-room
//!   presence. Locks are `parking_lot` locks held for a few map operations, never across
//!   `.await`.

pub mod push;
mod queue;
mod receipts;
mod registry;
mod remote;

pub use queue::{Inbox, Outbox, Wake};
pub use registry::{SessionGuard, SessionInfo};

use crate::domain::message::Message;
use crate::proto::GenericCommand;
use bytes::Bytes;
use registry::Registry;
use std::sync::{Arc, OnceLock};

/// Who an event is for.
#[derive(Debug, Clone)]
pub enum Recipients {
    /// These clients' sessions (members of a conversation, chosen subscribers).
    Clients(Vec<String>),
    /// The sessions currently joined to this chat room.
    ChatRoom(String),
    /// Every online client of the app (global broadcasts).
    Everyone,
}

/// What happened to a conversation's membership, as the SDKs name the pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// To the clients added: you joined (`conv joined`).
    Joined,
    /// To the clients removed: you left (`conv left`).
    Left,
    /// To the other members: these joined (`conv members_joined`).
    MembersJoined,
    /// To the other members: these left (`conv members_left`).
    MembersLeft,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// A new message. `origin_session` (the sending WebSocket session) does not get it back.
    Message {
        message: Arc<Message>,
        origin_session: Option<u64>,
    },
    /// An edit or recall of a stored message.
    Patch { message: Arc<Message> },
    /// Members were added or removed.
    Membership {
        conv_id: String,
        change: MembershipChange,
        members: Vec<String>,
        initiator: String,
    },
    /// Close every session of the listed clients with this code (e.g. 4115 kicked by the app).
    Kick { code: i32, reason: String },
    /// Any other push the gateway builds (receipts, unread updates, conversation updates),
    /// not delivered to `exclude_session`. `peerId` is filled in per recipient.
    Push {
        command: Box<GenericCommand>,
        exclude_session: Option<u64>,
    },
}

/// What a connection's queue carries.
#[derive(Debug)]
pub enum Outbound {
    /// An encoded `GenericCommand` without `peerId`, for `session` on this connection.
    Push { session: u64, body: Bytes },
    /// Close one session with `session closed {code, reason}` and forget it.
    CloseSession {
        session: u64,
        code: i32,
        reason: Arc<str>,
    },
}

#[derive(Default)]
pub struct Hub {
    registry: Registry,
    receipts: receipts::Receipts,
    /// Set at start when `redis_url` is: the other nodes.
    cluster: OnceLock<Arc<crate::cluster::Cluster>>,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// Delivers `event` to the online sessions of `recipients` without waiting on any of them:
    /// here, and through the bus on the nodes holding recipients when clustered.
    pub fn publish(&self, app: &str, recipients: Recipients, event: Event) {
        match event {
            Event::Kick { code, reason } => {
                if let (Some(cluster), Recipients::Clients(clients)) =
                    (self.cluster.get(), &recipients)
                {
                    cluster.broadcast(crate::cluster::wire::Body::Kick {
                        app: app.to_owned(),
                        clients: clients.clone(),
                        code,
                        reason: reason.clone(),
                    });
                }
                self.kick_targets(app, &recipients, code, &reason);
            }
            event => {
                crate::metrics::message_fanned_out(&event);
                let Some(push) = push::encode(&event) else {
                    return;
                };
                if let Some(cluster) = self.cluster.get() {
                    let skip_client = push.skip.as_ref().and_then(|s| s.client());
                    cluster.forward_push(app, &recipients, &push.body, skip_client);
                }
                self.deliver_local(app, &recipients, push.body, push.skip.as_ref());
            }
        }
    }

    fn kick_targets(&self, app: &str, recipients: &Recipients, code: i32, reason: &str) {
        let reason: Arc<str> = Arc::from(reason);
        self.registry
            .for_each_target(app, recipients, None, &mut |session, outbox| {
                outbox.deliver(Outbound::CloseSession {
                    session,
                    code,
                    reason: Arc::clone(&reason),
                });
            });
    }

    fn deliver_local(
        &self,
        app: &str,
        recipients: &Recipients,
        body: Bytes,
        skip: Option<&push::Skip>,
    ) {
        self.registry
            .for_each_target(app, recipients, skip, &mut |session, outbox| {
                outbox.deliver(Outbound::Push {
                    session,
                    body: body.clone(),
                });
            });
    }

    /// Whether `client` has a session on this node or (clustered) on any live node.
    pub fn is_online(&self, app: &str, client: &str) -> bool {
        self.registry.is_online(app, client)
            || self
                .cluster
                .get()
                .is_some_and(|c| c.replica().is_online(app, client))
    }

    /// Whether anyone of the app is online anywhere (cheaper than a count).
    pub fn any_online(&self, app: &str) -> bool {
        self.registry.online_count(app) > 0
            || self
                .cluster
                .get()
                .is_some_and(|c| !c.replica().nodes_for_app(app).is_empty())
    }

    /// Distinct online clients of the app (on every live node when clustered).
    pub fn online_count(&self, app: &str) -> usize {
        let local = self.registry.online_count(app);
        let Some(cluster) = self.cluster.get() else {
            return local;
        };
        let mut remote_only = std::collections::HashSet::new();
        cluster.replica().for_each_client(app, &mut |client| {
            if !self.registry.is_online(app, client) {
                remote_only.insert(client.to_owned());
            }
        });
        local + remote_only.len()
    }

    /// Every online client of the app (for the rare app-wide events: global broadcasts).
    pub fn online_clients(&self, app: &str) -> Vec<String> {
        let mut clients = self.registry.online_clients(app);
        if let Some(cluster) = self.cluster.get() {
            cluster
                .replica()
                .for_each_client(app, &mut |c| clients.push(c.to_owned()));
            clients.sort_unstable();
            clients.dedup();
        }
        clients
    }

    /// Clients currently joined to a chat room (on any node).
    pub fn chat_room_members(&self, app: &str, conv: &str) -> Vec<String> {
        let mut members = self.registry.room_members(app, conv);
        if let Some(cluster) = self.cluster.get() {
            cluster.replica().room_members(app, conv, &mut members);
            members.sort_unstable();
            members.dedup();
        }
        members
    }

    /// Registers a client session on a connection; dropping the guard removes it.
    pub fn register(
        self: &Arc<Self>,
        app: &str,
        info: SessionInfo,
        outbox: Outbox,
    ) -> SessionGuard {
        let (id, app) = self.registry.insert(app, info.clone(), outbox);
        self.announce_online(&app, id, &info);
        crate::metrics::session_opened(&app);
        SessionGuard::new(Arc::clone(self), app, info.client, id)
    }

    /// The other live sessions of `client` with the same single-device `tag`, with their
    /// device ids: candidates for a login conflict.
    pub fn sessions_with_tag(
        &self,
        app: &str,
        client: &str,
        tag: &str,
        except: u64,
    ) -> Vec<(u64, Option<Arc<str>>)> {
        let mut found = self.registry.sessions_with_tag(app, client, tag, except);
        if let Some(cluster) = self.cluster.get() {
            let remote = cluster.replica().sessions_with_tag(app, client, tag);
            found.extend(remote.into_iter().filter(|(id, _)| *id != except));
        }
        found
    }

    /// Asks one session (on whichever connection, or node, holds it) to close with `code`.
    pub fn close_session(&self, app: &str, client: &str, session: u64, code: i32, reason: &str) {
        if self.close_local_session(app, client, session, code, reason) {
            return;
        }
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        if let Some(node) = cluster.replica().node_of_session(session) {
            let body = crate::cluster::wire::Body::Close {
                app: app.to_owned(),
                client: client.to_owned(),
                session,
                code,
                reason: reason.to_owned(),
            };
            cluster.send_to(&node, body);
        }
    }

    /// Joins a session to a chat room's online set (idempotent).
    pub fn join_room(&self, guard: &SessionGuard, conv: &str) {
        self.join_room_by_session(guard.app(), guard.client(), guard.id(), conv);
    }

    /// [`Hub::join_room`] for a session known by its id.
    pub fn join_room_by_session(&self, app: &str, client: &str, session: u64, conv: &str) {
        self.registry.join_room(app, client, session, conv);
        self.announce(crate::cluster::wire::PresenceOp::Join {
            id: session,
            room: conv.to_owned(),
        });
    }

    /// [`Hub::leave_room`] for a session known by its id.
    pub fn leave_room_by_session(&self, app: &str, session: u64, conv: &str) {
        self.registry.leave_room(app, session, conv);
        self.announce(crate::cluster::wire::PresenceOp::Leave {
            id: session,
            room: conv.to_owned(),
        });
    }

    /// Removes a session from a chat room's online set.
    pub fn leave_room(&self, guard: &SessionGuard, conv: &str) {
        self.leave_room_by_session(guard.app(), guard.id(), conv);
    }

    /// Remembers that the sender of `msg_id` asked for delivery and read receipts.
    pub fn want_receipt(&self, app: &str, msg_id: &str) {
        self.receipts.want(app, msg_id);
        if let Some(cluster) = self.cluster.get() {
            cluster.broadcast(crate::cluster::wire::Body::Receipt {
                app: app.to_owned(),
                msg: msg_id.to_owned(),
            });
        }
    }

    /// Whether the sender of `msg_id` asked for receipts.
    pub fn receipt_wanted(&self, app: &str, msg_id: &str) -> bool {
        self.receipts.wanted(app, msg_id)
    }

    /// Online sessions on this node, in all apps (for metrics and shutdown).
    pub fn session_count(&self) -> usize {
        self.registry.session_count()
    }
}

#[cfg(test)]
mod tests;
