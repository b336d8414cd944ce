//! `conv update`: custom attributes (dotted paths and LeanStorage operations) and the name.
//! Replies with `udate` and `attrModified` (Swift requires both) and pushes `conv updated`
//! to the other participants and the updater's other sessions.

use super::cmd_conv::{cid, conv_of, conv_reply, json, json_object, participates, ALL_KINDS};
use super::connection::Conn;
use super::session::Current;
use crate::app::conversations;
use crate::domain::conversation::{Conversation, Kind};
use crate::domain::time::iso;
use crate::error::{Error, Result};
use crate::hub::push::PERMANENT;
use crate::hub::{Event, Recipients};
use crate::proto::{CommandType, ConvCommand, GenericCommand, OpType};
use serde_json::{Map, Value};

pub async fn update(
    conn: &mut Conn,
    current: &Current,
    command: &GenericCommand,
) -> Result<GenericCommand> {
    let body = conv_of(command);
    let attr = json_object(&body.attr)?;
    let conv = conn
        .state
        .store
        .conversation_of_kind(current.app_id(), cid(&body)?, ALL_KINDS)
        .await?;
    if !participates(conn, current, &conv).await? {
        return Err(Error::forbidden(
            4309,
            "Only members may update a conversation.",
        ));
    }
    let (updated_at, updated) = conversations::update(
        &conn.state,
        current.app_id(),
        &conv.id,
        ALL_KINDS,
        attr.clone(),
    )
    .await?;
    let modified = attr_modified(&attr, &updated);
    let udate = iso(updated_at);
    let mut push = crate::hub::push::envelope(CommandType::Conv, Some(OpType::Updated));
    push.notification_type = Some(PERMANENT);
    push.conv_message = Some(ConvCommand {
        cid: Some(conv.id.clone()),
        init_by: Some(current.client.to_string()),
        attr: json(&Value::Object(attr)),
        attr_modified: json(&modified),
        udate: Some(udate.clone()),
        ..Default::default()
    });
    let recipients = match conv.kind {
        Kind::ChatRoom => Recipients::ChatRoom(conv.id.clone()),
        _ => Recipients::Clients(conn.state.store.members(current.app_id(), &conv.id).await?),
    };
    let event = Event::Push {
        command: Box::new(push),
        exclude_session: Some(current.session),
    };
    conn.state.hub.publish(current.app_id(), recipients, event);
    Ok(conv_reply(
        command,
        OpType::Updated,
        ConvCommand {
            udate: Some(udate),
            attr_modified: json(&modified),
            ..Default::default()
        },
    ))
}

/// For every key path of the request, the resulting value at that path, nested
/// (`{"attr.lee": "yeh"}` -> `{"attr": {"lee": "yeh"}}`), as Swift merges it.
fn attr_modified(request: &Map<String, Value>, updated: &Conversation) -> Value {
    let rendered = crate::app::render::conversation(updated);
    let mut out = Map::new();
    for (path, requested) in request {
        let parts: Vec<&str> = path.split('.').collect();
        let mut value = Some(&rendered);
        for part in &parts {
            value = value.and_then(|v| v.get(part));
        }
        let value = value.cloned().unwrap_or_else(|| requested.clone());
        insert_path(&mut out, &parts, value);
    }
    Value::Object(out)
}

fn insert_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut target = map;
    for part in parents {
        let entry = target
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else { return };
        target = inner;
    }
    target.insert((*last).to_owned(), value);
}
