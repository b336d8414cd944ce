//! `patch modify`: edits and recalls from SDKs through `app::patch`, which stores the patch
//! and pushes `patch modify` to the conversation's online sessions.

use super::cmd_conv::ALL_KINDS;
use super::connection::Conn;
use super::reply;
use super::session::Current;
use crate::app::patch::{self, MessageRef};
use crate::domain::message::RECALLED_CONTENT;
use crate::error::{Error, Result};
use crate::proto::{CommandType, GenericCommand, OpType, PatchCommand, PatchItem};
use base64::Engine;

/// Patches honoured in one command (SDKs send one).
const MAX_PATCHES: usize = 20;

pub async fn modify(conn: &mut Conn, current: &Current, command: GenericCommand) {
    let answer = match run(conn, current, &command).await {
        Ok(last_patch_time) => {
            let mut answer = reply::to(&command, CommandType::Patch, Some(OpType::Modified));
            answer.patch_message = Some(PatchCommand {
                last_patch_time: Some(last_patch_time),
                ..Default::default()
            });
            answer
        }
        Err(err) => reply::failure(&command, &err),
    };
    conn.reply(answer);
}

async fn run(conn: &Conn, current: &Current, command: &GenericCommand) -> Result<i64> {
    let patches = command.patch_message.clone().unwrap_or_default().patches;
    if patches.is_empty() {
        return Err(Error::message_not_found());
    }
    let mut last = 0;
    for item in patches.into_iter().take(MAX_PATCHES) {
        last = last.max(apply(conn, current, item).await?);
    }
    Ok(last)
}

async fn apply(conn: &Conn, current: &Current, item: PatchItem) -> Result<i64> {
    let (Some(cid), Some(mid), Some(timestamp)) = (item.cid, item.mid, item.timestamp) else {
        return Err(Error::message_not_found());
    };
    let target = MessageRef {
        conv_id: cid,
        msg_id: mid,
        from_client: current.client.to_string(),
        timestamp,
    };
    // JS and Java recall with `recall = true`; Swift sends the recalled type as content.
    let (content, bin) = match (item.binary_msg, item.data) {
        (Some(bytes), _) => (
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            true,
        ),
        (None, data) => (data, false),
    };
    let recall = item.recall == Some(true) || content.as_deref() == Some(RECALLED_CONTENT);
    let new_data = if recall {
        None
    } else {
        Some(content.unwrap_or_default())
    };
    let patched = patch::patch(
        &conn.state,
        current.app_id(),
        ALL_KINDS,
        &target,
        new_data,
        bin,
    )
    .await?;
    Ok(patched.patch_timestamp.unwrap_or_default())
}
