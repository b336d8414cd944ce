//! Rules every incoming message obeys, whichever door it came through: size, typed
//! (rich-media) format, priority and mentions.

use crate::error::{code, Error, Result};
use serde_json::Value;

/// LeanCloud's "5 KB": measured in UTF-8 bytes of `message` plus the serialised `push_data`
/// (the overview says attached push data counts toward the limit).
pub const MAX_MESSAGE_BYTES: usize = 5120;
/// `mention_client_ids` and `to_clients` hold at most this many ids.
pub const MAX_MENTIONS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    High = 1,
    #[default]
    Normal = 2,
    Low = 3,
}

impl Priority {
    /// `high`/`normal`/`low` in any case.
    pub fn parse(text: &str) -> Result<Priority> {
        match text.to_ascii_lowercase().as_str() {
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            _ => Err(Error::invalid("priority must be one of high, normal, low.")),
        }
    }
    pub fn from_i64(value: i64) -> Priority {
        match value {
            1 => Priority::High,
            3 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

/// Checks the size limit on the content and its push data.
pub fn check_size(message: &str, push_data_len: usize) -> Result<()> {
    check_size_within(message, push_data_len, MAX_MESSAGE_BYTES)
}

/// [`check_size`] against another door's limit.
pub fn check_size_within(message: &str, push_data_len: usize, limit: usize) -> Result<()> {
    let total = message.len() + push_data_len;
    if total > limit {
        return Err(Error::bad_request(
            code::FRAME_TOO_LONG,
            format!("Message too long: {total} bytes, the limit is {limit} bytes (message plus push_data)."),
        ));
    }
    Ok(())
}

/// If `message` is a JSON object with a built-in `_lctype` (-1..-6), it must follow the
/// typed format. Plain strings, other JSON and app-defined positive types pass unchanged.
pub fn check_typed_format(message: &str) -> Result<()> {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return Ok(());
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed) else {
        return Ok(());
    };
    let Some(lctype) = object.get("_lctype") else {
        return Ok(());
    };
    let Some(lctype) = lctype.as_i64() else {
        return Err(typed_error("_lctype must be an integer."));
    };
    if let Some(text) = object.get("_lctext") {
        if !text.is_string() && !text.is_null() {
            return Err(typed_error("_lctext must be a string."));
        }
    }
    if let Some(attrs) = object.get("_lcattrs") {
        if !attrs.is_object() && !attrs.is_null() {
            return Err(typed_error("_lcattrs must be an object."));
        }
    }
    match lctype {
        -1 => Ok(()),
        -4..=-2 | -6 => check_file(&object),
        -5 => check_location(&object),
        _ => Ok(()),
    }
}

fn check_file(object: &serde_json::Map<String, Value>) -> Result<()> {
    let file = object
        .get("_lcfile")
        .and_then(Value::as_object)
        .ok_or_else(|| typed_error("This message type needs an _lcfile object."))?;
    match file.get("url") {
        Some(Value::String(url)) if !url.is_empty() => {}
        _ => return Err(typed_error("_lcfile.url must be a non-empty string.")),
    }
    if let Some(meta) = file.get("metaData") {
        if !meta.is_object() && !meta.is_null() {
            return Err(typed_error("_lcfile.metaData must be an object."));
        }
    }
    Ok(())
}

fn check_location(object: &serde_json::Map<String, Value>) -> Result<()> {
    let location = object
        .get("_lcloc")
        .and_then(Value::as_object)
        .ok_or_else(|| typed_error("A location message needs an _lcloc object."))?;
    let latitude = location.get("latitude").and_then(Value::as_f64);
    let longitude = location.get("longitude").and_then(Value::as_f64);
    match (latitude, longitude) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
        {
            Ok(())
        }
        _ => Err(typed_error(
            "_lcloc.latitude (-90..90) and _lcloc.longitude (-180..180) must be numbers.",
        )),
    }
}

fn typed_error(detail: &str) -> Error {
    Error::invalid(format!("Invalid typed message: {detail}"))
}

/// Checks a list of mentioned or targeted client ids: at most 20, each a valid client id.
pub fn check_client_list(field: &str, ids: &[String]) -> Result<()> {
    if ids.len() > MAX_MENTIONS {
        return Err(Error::invalid(format!(
            "{field} holds at most {MAX_MENTIONS} client ids."
        )));
    }
    for id in ids {
        super::client_id::validate(field, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limit_is_inclusive_at_5120_bytes() {
        assert!(check_size(&"a".repeat(5120), 0).is_ok());
        assert!(check_size(&"a".repeat(5121), 0).is_err());
        assert!(check_size(&"a".repeat(5000), 121).is_err());
    }

    #[test]
    fn typed_messages_need_their_fields() {
        assert!(check_typed_format(r#"{"_lctype":-1,"_lctext":"hi"}"#).is_ok());
        assert!(check_typed_format(r#"{"_lctype":-2,"_lcfile":{"url":"http://x/a.png"}}"#).is_ok());
        assert!(check_typed_format(r#"{"_lctype":-2}"#).is_err());
        assert!(
            check_typed_format(r#"{"_lctype":-5,"_lcloc":{"latitude":1.5,"longitude":2}}"#).is_ok()
        );
        assert!(check_typed_format(r#"{"_lctype":-5,"_lcloc":{"latitude":"x"}}"#).is_err());
        assert!(check_typed_format(r#"{"_lctype":3}"#).is_ok());
        assert!(check_typed_format("plain text").is_ok());
    }

    #[test]
    fn priority_is_case_insensitive() {
        assert_eq!(Priority::parse("HIGH").ok(), Some(Priority::High));
        assert!(Priority::parse("urgent").is_err());
    }
}

/// Where a stored message came from (`messages.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageKind {
    /// A message in a conversation or chat room (REST send or SDK `direct`).
    #[default]
    Conversation = 0,
    /// A service-conversation broadcast to all subscribers (E35).
    SubscriberBroadcast = 1,
    /// A service-conversation message to chosen subscribers (E38).
    PerUser = 2,
    /// A global broadcast to every client of the app (E49).
    GlobalBroadcast = 3,
}

impl MessageKind {
    pub fn from_i64(value: i64) -> MessageKind {
        match value {
            1 => MessageKind::SubscriberBroadcast,
            2 => MessageKind::PerUser,
            3 => MessageKind::GlobalBroadcast,
            _ => MessageKind::Conversation,
        }
    }
}

/// The content a recalled message carries from then on: the SDKs' `RecalledMessage` type.
pub const RECALLED_CONTENT: &str = r#"{"_lctype":-127}"#;

/// What the sender of a message decides: its content and how it is delivered. The send
/// request, the message handed to the writer and the stored message all embed this one
/// struct, so a field a sender can set is declared (and copied) once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Content {
    pub from_client: String,
    pub data: String,
    /// `data` is base64 of binary content (WebSocket `binaryMsg`).
    pub bin: bool,
    pub from_ip: Option<String>,
    pub kind: MessageKind,
    pub no_sync: bool,
    pub priority: Priority,
    pub mention_all: bool,
    pub mention_pids: Vec<String>,
    pub push_data: Option<String>,
    /// Only these members see it (E05 `to_clients`); empty for everyone.
    pub to_clients: Vec<String>,
}

impl Content {
    /// A plain message from `from_client`, with every option at its default.
    pub fn text(from_client: &str, data: String) -> Content {
        Content {
            from_client: from_client.to_owned(),
            data,
            ..Content::default()
        }
    }
}

/// A stored (or, when transient, just assigned) message: the sender's [`Content`] and what
/// the server assigned to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub conv_id: String,
    pub conv_kind: i64,
    pub seq: i64,
    pub msg_id: String,
    pub timestamp: i64,
    pub content: Content,
    pub patch_timestamp: Option<i64>,
    pub recalled: bool,
    pub ack_at: Option<i64>,
    pub transient: bool,
}
