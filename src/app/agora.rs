//! Agora-RTM-style server messaging onto Tidings' own conversations: a peer message goes to
//! the unique one-on-one conversation of sender and receiver, a channel message to the chat
//! room of that channel. Receivers are ordinary SDK clients.

use super::conversations::{self, CreateConversation};
use super::send::{self, SendRequest};
use crate::domain::conversation::Kind;
use crate::domain::{signature, time};
use crate::error::{Error, Result};
use crate::state::AppState;
use md5::{Digest, Md5};
use std::time::Duration;

/// Agora payloads may be up to 32 KB.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// How long `wait_for_ack` waits for the receiver (the Agora SDK's own peer-message timeout).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Agora's user-id and channel-name rule: 1-64 characters from its allowed set, no leading or
/// trailing space.
pub fn valid_name(name: &str) -> bool {
    const PUNCTUATION: &str = "!#$%&()+-:;<=.>?@[]^_{}|~,' ";
    let count = name.chars().count();
    (1..=64).contains(&count)
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || PUNCTUATION.contains(c))
}

/// What happened to a peer message, as Agora's `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOutcome {
    Sent,
    Delivered,
    Offline,
    /// The receiver was online but did not acknowledge within [`ACK_TIMEOUT`].
    TimedOut,
}

pub struct PeerMessage {
    pub from: String,
    pub to: String,
    pub payload: String,
    pub offline_messaging: bool,
    pub historical: bool,
    pub wait_for_ack: bool,
}

pub async fn send_peer_message(
    state: &AppState,
    app: &str,
    message: PeerMessage,
) -> Result<PeerOutcome> {
    let request = CreateConversation {
        members: vec![message.from.clone(), message.to.clone()],
        unique: true,
        ..CreateConversation::default()
    };
    let (conv, _) = conversations::create(state, app, Kind::Normal, request).await?;
    let online = state.hub.is_online(app, &message.to);
    let mut send_request =
        SendRequest::new(&conv.id, &[Kind::Normal], &message.from, message.payload);
    send_request.max_bytes = MAX_PAYLOAD_BYTES;
    // Stored for history, or kept for a receiver who is offline; otherwise only delivered.
    send_request.persist = message.historical || (message.offline_messaging && !online);
    if !message.wait_for_ack || !online {
        send::send(state, app, send_request).await?;
        return Ok(if message.wait_for_ack {
            PeerOutcome::Offline
        } else {
            PeerOutcome::Sent
        });
    }
    // Register before sending so a fast acknowledgement is not missed.
    let msg_id = crate::domain::ids::new_message_id();
    let acked = state.acks.wait_for(app, &msg_id, &message.to);
    send_request.preassigned_id = Some(msg_id.clone());
    if let Err(err) = send::send(state, app, send_request).await {
        state.acks.forget(app, &msg_id);
        return Err(err);
    }
    match tokio::time::timeout(ACK_TIMEOUT, acked).await {
        Ok(Ok(_)) => Ok(PeerOutcome::Delivered),
        _ => {
            state.acks.forget(app, &msg_id);
            Ok(PeerOutcome::TimedOut)
        }
    }
}

/// The chat room a channel maps to: a fixed id derived from the channel name (so concurrent
/// first uses agree), named after the channel, created on first use.
pub fn channel_room_id(channel: &str) -> String {
    let digest = Md5::digest(format!("agora-channel:{channel}").as_bytes());
    hex::encode(digest)[..24].to_owned()
}

pub async fn send_channel_message(
    state: &AppState,
    app: &str,
    from: &str,
    channel: &str,
    payload: String,
    historical: bool,
) -> Result<()> {
    let room = channel_room_id(channel);
    if state.store.find_conversation(app, &room).await?.is_none() {
        let new = crate::store::conversations::NewConversation {
            id: room.clone(),
            kind: Kind::ChatRoom,
            name: Some(channel.to_owned()),
            creator: None,
            members: Vec::new(),
            unique: false,
            attrs: serde_json::Map::new(),
            expires_at: None,
            now: time::now_ms(),
        };
        // A concurrent first use may have created it: that is fine.
        let _ = state.store.create_conversation(app, new).await;
    }
    let mut request = SendRequest::new(&room, &[Kind::ChatRoom], from, payload);
    request.max_bytes = MAX_PAYLOAD_BYTES;
    request.persist = historical;
    request.content.no_sync = true;
    send::send(state, app, request).await?;
    Ok(())
}

/// A token for `x-agora-token`: `tdg1.<expiry secs>.<hex HMAC-SHA1(master key,
/// "agora-rtm:<app>:<uid>:<expiry>")>`. Minted by `tidings app token` or any app server that
/// holds the master key.
pub fn mint_token(app_id: &str, master_key: &str, uid: &str, expires_at_secs: i64) -> String {
    let message = format!("agora-rtm:{app_id}:{uid}:{expires_at_secs}");
    format!(
        "tdg1.{expires_at_secs}.{}",
        signature::realtime_sign(master_key, &[&message])
    )
}

pub fn verify_token(
    app_id: &str,
    master_key: &str,
    uid: &str,
    token: &str,
    now_secs: i64,
) -> Result<()> {
    let mut parts = token.trim().splitn(3, '.');
    let (Some("tdg1"), Some(expiry), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Unauthorized);
    };
    let expiry: i64 = expiry.parse().map_err(|_| Error::Unauthorized)?;
    if expiry < now_secs
        || !signature::same(token.trim(), &mint_token(app_id, master_key, uid, expiry))
    {
        return Err(Error::Unauthorized);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_agoras_rule() {
        assert!(valid_name("userA"));
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(!valid_name(""));
        assert!(!valid_name(" lead"));
        assert!(!valid_name("trail "));
        assert!(valid_name("in side"));
        assert!(!valid_name("slash/"));
        assert!(!valid_name("quote\""));
    }

    #[test]
    fn tokens_verify_for_their_uid_until_they_expire() {
        let token = mint_token("app", "master", "alice", 2_000);
        assert!(verify_token("app", "master", "alice", &token, 1_000).is_ok());
        assert!(verify_token("app", "master", "bob", &token, 1_000).is_err());
        assert!(verify_token("app", "master", "alice", &token, 3_000).is_err());
        assert!(verify_token("app", "other", "alice", &token, 1_000).is_err());
    }
}
