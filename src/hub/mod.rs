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

pub use queue::{Inbox, Outbox, Wake};
pub use registry::{SessionGuard, SessionInfo};

use crate::domain::message::Message;
use crate::proto::GenericCommand;
use bytes::Bytes;
use registry::Registry;
use std::sync::Arc;

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
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// Delivers `event` to the online sessions of `recipients` without waiting on any of them.
    pub fn publish(&self, app: &str, recipients: Recipients, event: Event) {
        match event {
            Event::Kick { code, reason } => {
                let reason: Arc<str> = Arc::from(reason);
                self.registry
                    .for_each_target(app, &recipients, None, &mut |session, outbox| {
                        outbox.deliver(Outbound::CloseSession {
                            session,
                            code,
                            reason: Arc::clone(&reason),
                        });
                    });
            }
            event => {
                crate::metrics::message_fanned_out(&event);
                let Some(push) = push::encode(&event) else {
                    return;
                };
                self.registry.for_each_target(
                    app,
                    &recipients,
                    push.skip.as_ref(),
                    &mut |session, outbox| {
                        outbox.deliver(Outbound::Push {
                            session,
                            body: push.body.clone(),
                        });
                    },
                );
            }
        }
    }

    pub fn is_online(&self, app: &str, client: &str) -> bool {
        self.registry.is_online(app, client)
    }

    /// Distinct online clients of the app.
    pub fn online_count(&self, app: &str) -> usize {
        self.registry.online_count(app)
    }

    /// Every online client of the app (for the rare app-wide events: global broadcasts).
    pub fn online_clients(&self, app: &str) -> Vec<String> {
        self.registry.online_clients(app)
    }

    /// Clients currently joined to a chat room.
    pub fn chat_room_members(&self, app: &str, conv: &str) -> Vec<String> {
        self.registry.room_members(app, conv)
    }

    /// Registers a client session on a connection; dropping the guard removes it.
    pub fn register(
        self: &Arc<Self>,
        app: &str,
        info: SessionInfo,
        outbox: Outbox,
    ) -> SessionGuard {
        let id = self.registry.insert(app, info.clone(), outbox);
        crate::metrics::session_opened(app);
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
        self.registry.sessions_with_tag(app, client, tag, except)
    }

    /// Asks one session (on whichever connection holds it) to close with `code`.
    pub fn close_session(&self, app: &str, client: &str, session: u64, code: i32, reason: &str) {
        let reason: Arc<str> = Arc::from(reason);
        self.registry
            .for_session(app, client, session, &mut |outbox| {
                outbox.deliver(Outbound::CloseSession {
                    session,
                    code,
                    reason: Arc::clone(&reason),
                });
            });
    }

    /// Joins a session to a chat room's online set (idempotent).
    pub fn join_room(&self, guard: &SessionGuard, conv: &str) {
        self.registry
            .join_room(guard.app(), guard.client(), guard.id(), conv);
    }

    /// [`Hub::join_room`] for a session known by its id.
    pub fn join_room_by_session(&self, app: &str, client: &str, session: u64, conv: &str) {
        self.registry.join_room(app, client, session, conv);
    }

    /// [`Hub::leave_room`] for a session known by its id.
    pub fn leave_room_by_session(&self, app: &str, session: u64, conv: &str) {
        self.registry.leave_room(app, session, conv);
    }

    /// Removes a session from a chat room's online set.
    pub fn leave_room(&self, guard: &SessionGuard, conv: &str) {
        self.registry.leave_room(guard.app(), guard.id(), conv);
    }

    /// Remembers that the sender of `msg_id` asked for delivery and read receipts.
    pub fn want_receipt(&self, app: &str, msg_id: &str) {
        self.receipts.want(app, msg_id);
    }

    /// Whether the sender of `msg_id` asked for receipts.
    pub fn receipt_wanted(&self, app: &str, msg_id: &str) -> bool {
        self.receipts.wanted(app, msg_id)
    }

    /// Distinct online sessions in all apps (for metrics and shutdown).
    pub fn session_count(&self) -> usize {
        self.registry.session_count()
    }
}

#[cfg(test)]
mod tests;
