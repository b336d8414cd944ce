//! Events as the SDKs receive them: `GenericCommand`s with `service = 2`, no `i`, encoded
//! once per event without `peerId` (each connection appends its session's `peerId`).

use super::{Event, MembershipChange};
use crate::domain::message::Message;
use crate::domain::time;
use crate::proto::{
    CommandType, ConvCommand, DirectCommand, GenericCommand, OpType, PatchCommand, PatchItem,
};
use base64::Engine;
use bytes::Bytes;
use prost::Message as _;

/// The IM service number; Swift and ObjC drop pushes without it.
pub const SERVICE_IM: i32 = 2;
/// `notificationType` of "permanent" notifications (JS v5 advances its cursor on these).
pub const PERMANENT: i32 = 1;

/// Sessions a push must not reach.
#[derive(Debug, Default)]
pub(super) struct Skip {
    session: Option<u64>,
    client: Option<String>,
}

impl Skip {
    /// The client none of whose sessions get the push (`no_sync`), on every node.
    pub(super) fn client(&self) -> Option<&str> {
        self.client.as_deref()
    }

    /// Only a client to skip (remote nodes: the origin session is not theirs).
    pub(super) fn client_only(client: Option<&str>) -> Option<Skip> {
        client.map(|c| Skip {
            session: None,
            client: Some(c.to_owned()),
        })
    }

    pub(super) fn skips(&self, client: &str, id: u64) -> bool {
        self.session == Some(id) || self.client.as_deref() == Some(client)
    }
}

pub(super) struct Encoded {
    pub body: Bytes,
    pub skip: Option<Skip>,
}

pub(super) fn encode(event: &Event) -> Option<Encoded> {
    let (command, skip) = match event {
        Event::Message {
            message,
            origin_session,
        } => {
            // `no_sync`: none of the sender's own sessions get the message back.
            let client = message
                .content
                .no_sync
                .then(|| message.content.from_client.clone());
            (
                direct_command(message, false),
                Some(Skip {
                    session: *origin_session,
                    client,
                }),
            )
        }
        Event::Patch { message } => (patch_command(std::slice::from_ref(&**message)), None),
        Event::Membership {
            conv_id,
            change,
            members,
            initiator,
        } => (
            membership_command(conv_id, *change, members, initiator),
            None,
        ),
        Event::Push {
            command,
            exclude_session,
        } => (
            (**command).clone(),
            exclude_session.map(|id| Skip {
                session: Some(id),
                client: None,
            }),
        ),
        Event::Kick { .. } => return None,
    };
    Some(Encoded {
        body: Bytes::from(command.encode_to_vec()),
        skip,
    })
}

/// A push envelope: `cmd`/`op`, `service = 2`, `serverTs`, no `i`, no `peerId`.
pub fn envelope(cmd: CommandType, op: Option<OpType>) -> GenericCommand {
    GenericCommand {
        cmd: Some(cmd as i32),
        op: op.map(|o| o as i32),
        service: Some(SERVICE_IM),
        server_ts: Some(time::now_ms()),
        ..Default::default()
    }
}

/// The SDKs' `convType`: 1 normal, 2 chat room, 3 service, 4 temporary.
pub fn conv_type(kind: i64) -> i32 {
    match kind {
        1 => 2,
        2 => 3,
        3 => 4,
        _ => 1,
    }
}

/// Binary content is stored as base64; the wire carries the bytes.
pub fn binary(message_data: &str) -> Option<Bytes> {
    base64::engine::general_purpose::STANDARD
        .decode(message_data)
        .ok()
        .map(Bytes::from)
}

/// A message as a `direct` push. `offline` marks replays of stored messages (protocol 1).
/// `patchTimestamp` is left out: JS would otherwise show a fresh message as edited.
pub fn direct_command(message: &Message, offline: bool) -> GenericCommand {
    let (msg, binary_msg) = content(message);
    let mut command = envelope(CommandType::Direct, None);
    command.direct_message = Some(DirectCommand {
        msg,
        binary_msg,
        id: Some(message.msg_id.clone()),
        cid: Some(message.conv_id.clone()),
        from_peer_id: Some(message.content.from_client.clone()),
        timestamp: Some(message.timestamp),
        transient: message.transient.then_some(true),
        offline: offline.then_some(true),
        mention_all: message.content.mention_all.then_some(true),
        mention_pids: message.content.mention_pids.clone(),
        conv_type: Some(conv_type(message.conv_kind)),
        ..Default::default()
    });
    command
}

fn content(message: &Message) -> (Option<String>, Option<Bytes>) {
    if message.content.bin {
        if let Some(bytes) = binary(&message.content.data) {
            return (None, Some(bytes));
        }
    }
    (Some(message.content.data.clone()), None)
}

/// Patched messages as one `patch modify` push (Swift and Java only accept `modify`).
pub fn patch_command(messages: &[Message]) -> GenericCommand {
    let patches: Vec<PatchItem> = messages.iter().map(patch_item).collect();
    let last = messages.iter().filter_map(|m| m.patch_timestamp).max();
    let mut command = envelope(CommandType::Patch, Some(OpType::Modify));
    command.patch_message = Some(PatchCommand {
        patches,
        last_patch_time: last,
    });
    command
}

fn patch_item(message: &Message) -> PatchItem {
    let (data, binary_msg) = content(message);
    PatchItem {
        cid: Some(message.conv_id.clone()),
        mid: Some(message.msg_id.clone()),
        timestamp: Some(message.timestamp),
        recall: message.recalled.then_some(true),
        data,
        binary_msg,
        patch_timestamp: message.patch_timestamp,
        from: Some(message.content.from_client.clone()),
        mention_all: message.content.mention_all.then_some(true),
        mention_pids: message.content.mention_pids.clone(),
        ..Default::default()
    }
}

fn membership_command(
    conv_id: &str,
    change: MembershipChange,
    members: &[String],
    initiator: &str,
) -> GenericCommand {
    let op = match change {
        MembershipChange::Joined => OpType::Joined,
        MembershipChange::Left => OpType::Left,
        MembershipChange::MembersJoined => OpType::MembersJoined,
        MembershipChange::MembersLeft => OpType::MembersLeft,
    };
    let mut command = envelope(CommandType::Conv, Some(op));
    command.notification_type = Some(PERMANENT);
    command.conv_message = Some(ConvCommand {
        cid: Some(conv_id.to_owned()),
        init_by: Some(initiator.to_owned()),
        m: members.to_vec(),
        udate: Some(time::iso(time::now_ms())),
        ..Default::default()
    });
    command
}
