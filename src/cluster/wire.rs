//! What nodes say to each other on the bus, as JSON. Every frame names the node that sent
//! it, so a node ignores its own frames on the all-nodes channel.

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Frame {
    /// The sending node.
    pub from: String,
    #[serde(flatten)]
    pub body: Body,
}

/// Who a forwarded push is for, on the receiving node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    Clients(Vec<String>),
    Room(String),
    Everyone,
}

/// One session as presence carries it. Session ids are unique across the cluster (each
/// node numbers its sessions from a random base).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: u64,
    pub app: String,
    pub client: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
}

/// Sessions in one snapshot frame at most: a node's presence travels in bounded frames.
pub const SNAPSHOT_PART: usize = 500;

fn one() -> u32 {
    1
}

/// A change of the sending node's presence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PresenceOp {
    Online { session: SessionRecord },
    Offline { id: u64 },
    Join { id: u64, room: String },
    Leave { id: u64, room: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Body {
    /// An encoded push (base64 of the `GenericCommand` without `peerId`) for local delivery.
    Deliver {
        app: String,
        to: Target,
        body: String,
        /// `no_sync`: this client's sessions do not get it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skip_client: Option<String>,
    },
    /// Close every session of these clients (E43 kicks).
    Kick {
        app: String,
        clients: Vec<String>,
        code: i32,
        reason: String,
    },
    /// Close one session held by the receiving node (tag conflicts, 4111).
    Close {
        app: String,
        client: String,
        session: u64,
        code: i32,
        reason: String,
    },
    /// Presence changes numbered `seq` (one number per frame, consecutive per node).
    Presence { seq: u64, ops: Vec<PresenceOp> },
    /// Part `part` (from 0) of `parts` of the sender's whole presence as of `seq`: at most
    /// [`SNAPSHOT_PART`] sessions a frame, the parts consecutive on `all`.
    Snapshot {
        seq: u64,
        sessions: Vec<SessionRecord>,
        #[serde(default)]
        part: u32,
        #[serde(default = "one")]
        parts: u32,
    },
    /// "I am alive, my presence is at `seq`."
    Beat { seq: u64 },
    /// Asks the receiving node for a snapshot (sent to its channel).
    Want,
    /// The sender stops (shutdown): forget its presence now.
    Bye,
    /// Tokens and signatures of `client` issued at or before `at` are void.
    Revoke {
        app: String,
        client: String,
        at: i64,
    },
    /// The member list of a conversation changed: drop it from caches.
    Members { app: String, conv: String },
    /// Who is silenced in a conversation changed (or it was deleted): drop cached answers.
    Silences { app: String, conv: String },
    /// An app's settings changed (`tidings app set`): drop the cached app.
    App { app: String },
    /// The sender of `msg` asked for receipts.
    Receipt { app: String, msg: String },
    /// Node `from` waits for `dest` to acknowledge `msg` (Agora `wait_for_ack`).
    AwaitAck {
        app: String,
        msg: String,
        dest: String,
    },
    /// `client` acknowledged `msg` (sent to the waiting node).
    Acked {
        app: String,
        msg: String,
        client: String,
    },
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Frame> {
        serde_json::from_slice(bytes).ok()
    }
}
