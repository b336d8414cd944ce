//! `conv update`: custom attributes (dotted paths and LeanStorage operations) and the name,
//! through `app::client_conversations::update`. Replies with `udate` and `attrModified`
//! (Swift requires both).

use super::cmd_conv::{cid, conv_of, conv_reply, json, json_object};
use super::connection::Conn;
use super::session::Current;
use crate::app::client_conversations;
use crate::domain::time::iso;
use crate::error::Result;
use crate::proto::{ConvCommand, GenericCommand, OpType};

pub async fn update(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let attr = json_object(&body.attr)?;
    let updated = client_conversations::update(&conn.state, current, cid(&body)?, attr).await?;
    Ok(conv_reply(
        command,
        OpType::Updated,
        ConvCommand {
            udate: Some(iso(updated.updated_at)),
            attr_modified: json(&updated.modified),
            ..Default::default()
        },
    ))
}
