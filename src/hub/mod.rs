//! Who is online where, and delivery to their sessions. The seam for several nodes:
//! `publish` delivers locally and, when clustered, through a bus to other nodes.
//!
//! PLACEHOLDER: the registry and delivery are being written with the WebSocket gateway.
//! The public API below is what `app/` calls.

use crate::domain::message::Message;
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
    Message { message: Arc<Message>, origin_session: Option<u64> },
    /// An edit or recall of a stored message.
    Patch { message: Arc<Message> },
    /// Members were added or removed.
    Membership { conv_id: String, change: MembershipChange, members: Vec<String>, initiator: String },
    /// Close every session of the listed clients with this code (e.g. 4115 kicked by the app).
    Kick { code: i32, reason: String },
}

#[derive(Default)]
pub struct Hub {}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// Delivers `event` to the online sessions of `recipients` without waiting on any of them.
    pub fn publish(&self, _app: &str, _recipients: Recipients, _event: Event) {}

    pub fn is_online(&self, _app: &str, _client: &str) -> bool {
        false
    }

    /// Distinct online clients of the app.
    pub fn online_count(&self, _app: &str) -> usize {
        0
    }

    /// Clients currently joined to a chat room.
    pub fn chat_room_members(&self, _app: &str, _conv: &str) -> Vec<String> {
        Vec::new()
    }
}
