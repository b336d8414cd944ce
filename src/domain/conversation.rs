//! Conversation kinds and the rules that depend on them.

use md5::{Digest, Md5};

/// Every kind lives in one table; the REST family decides the kind (`tr`, `sys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One-on-one and group chats (`rtm/conversations`).
    Normal = 0,
    /// Chat rooms (`rtm/chatrooms`, `tr: true`).
    ChatRoom = 1,
    /// Service conversations (`rtm/service-conversations`, `sys: true`).
    Service = 2,
    /// Temporary conversations (`_tmp:` ids), created over the WebSocket only.
    Temporary = 3,
}

impl Kind {
    pub fn from_i64(value: i64) -> Option<Kind> {
        match value {
            0 => Some(Kind::Normal),
            1 => Some(Kind::ChatRoom),
            2 => Some(Kind::Service),
            3 => Some(Kind::Temporary),
            _ => None,
        }
    }
    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

/// Members of a normal conversation: LeanCloud's documented limit.
pub const MAX_MEMBERS: usize = 500;
/// Members of a temporary conversation.
pub const MAX_TEMPORARY_MEMBERS: usize = 10;

/// LeanCloud's `uniqueId`: md5 of the sorted member ids concatenated without a separator
/// (the one documented sample, `BillGates`+`SteveJobs`, fits exactly this). Matching of unique
/// conversations uses the member set itself, not this value.
pub fn unique_id(members: &[String]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    hex::encode(Md5::digest(sorted.concat().as_bytes()))
}

/// A canonical key for a member set (sorted, deduplicated, joined with a separator no client
/// id can contain), used to find an existing unique conversation with the same members.
pub fn member_set_key(members: &[String]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join("\u{1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_id_matches_the_documented_sample() {
        let members = vec!["SteveJobs".to_owned(), "BillGates".to_owned()];
        assert_eq!(unique_id(&members), "6c7b0e5afcae9aa1139a0afa25833dec");
    }
}

/// A stored conversation of any kind. `members` and `mutes` are filled only where a caller
/// asked for them (listing members of a 500-member group for every lookup would be waste).
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub kind: Kind,
    pub name: Option<String>,
    pub creator: Option<String>,
    pub is_unique: bool,
    pub unique_id: Option<String>,
    /// Custom top-level fields (`attr` among them).
    pub attrs: serde_json::Map<String, serde_json::Value>,
    pub member_count: i64,
    pub last_seq: i64,
    pub last_message_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub members: Vec<String>,
    pub mutes: Vec<String>,
}

/// Field names managed by the server: a client cannot write them as custom fields.
pub const RESERVED_FIELDS: &[&str] = &[
    "objectId",
    "createdAt",
    "updatedAt",
    "m",
    "mu",
    "c",
    "tr",
    "sys",
    "unique",
    "uniqueId",
    "lm",
    "ACL",
];
