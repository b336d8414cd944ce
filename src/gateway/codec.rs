//! Frames <-> `GenericCommand`: binary frames carry the serialized command, text frames
//! (`lc.proto2base64.*`) its standard base64. Pushes arrive from the hub encoded without
//! `peerId`; [`push_frame`] appends the field for one recipient, which protobuf decoders
//! merge like any other field.

use crate::proto::GenericCommand;
use axum::extract::ws::Message;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, Value};
use std::sync::LazyLock;

/// `GenericCommand.peerId` is field 4, length-delimited: tag byte `(4 << 3) | 2`.
const PEER_ID_TAG: u8 = 0x22;

/// LeanCloud's per-command limit (`4109 FRAME_TOO_LONG` above it).
pub const MAX_COMMAND_BYTES: usize = 5120;

/// How commands travel on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Binary,
    Base64,
}

/// What the client asked for: wire format and protocol version (3 = unread counts at
/// login, 1 = offline messages replayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    pub format: Format,
    pub version: u8,
}

impl Protocol {
    pub const SUPPORTED: [&'static str; 4] = [
        "lc.protobuf2.3",
        "lc.protobuf2.1",
        "lc.proto2base64.3",
        "lc.proto2base64.1",
    ];

    pub fn parse(name: &str) -> Option<Protocol> {
        let (format, version) = name.trim().strip_prefix("lc.")?.rsplit_once('.')?;
        let format = match format {
            "protobuf2" => Format::Binary,
            "proto2base64" => Format::Base64,
            _ => return None,
        };
        let version = match version {
            "3" => 3,
            "1" => 1,
            _ => return None,
        };
        Some(Protocol { format, version })
    }
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            format: Format::Binary,
            version: 3,
        }
    }
}

/// Why an inbound frame is not a command.
#[derive(Debug, PartialEq)]
pub enum DecodeError {
    /// Not base64 (text frames) or not a `GenericCommand`.
    Unparseable,
    /// A well-formed command over [`MAX_COMMAND_BYTES`]; carries it so the reply can
    /// echo its `i` (and answer a `direct` with an `ack`).
    TooLong(Box<GenericCommand>),
    /// A well-formed command with U+0000 in a string field (message text, `pushData`,
    /// attributes...): Postgres TEXT cannot store it. Carried like `TooLong`.
    NulCharacter(Box<GenericCommand>),
}

/// Decodes a data frame's payload. Ping, pong and close frames are not passed here.
pub fn decode(format: Format, message: &Message) -> Result<GenericCommand, DecodeError> {
    let bytes: Bytes = match (format, message) {
        (_, Message::Binary(bytes)) => bytes.clone(),
        (_, Message::Text(text)) => {
            let text = text.as_str().trim();
            STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|_| DecodeError::Unparseable)?
        }
        _ => return Err(DecodeError::Unparseable),
    };
    let command = GenericCommand::decode(bytes.clone()).map_err(|_| DecodeError::Unparseable)?;
    if bytes.len() > MAX_COMMAND_BYTES {
        return Err(DecodeError::TooLong(Box::new(command)));
    }
    if has_nul_in_strings(&bytes) {
        return Err(DecodeError::NulCharacter(Box::new(command)));
    }
    Ok(command)
}

/// The wire schema, compiled by `build.rs`.
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/message_descriptors.bin"));

static GENERIC_COMMAND: LazyLock<Option<MessageDescriptor>> = LazyLock::new(|| {
    DescriptorPool::decode(DESCRIPTORS)
        .ok()?
        .get_message_by_name("push_server.messages2.GenericCommand")
});

/// Whether any string field, at any depth, holds U+0000. Most commands have no zero byte
/// at all and skip the schema walk.
fn has_nul_in_strings(bytes: &[u8]) -> bool {
    if !bytes.contains(&0) {
        return false;
    }
    let Some(descriptor) = GENERIC_COMMAND.as_ref() else {
        return false;
    };
    let Ok(message) = DynamicMessage::decode(descriptor.clone(), bytes) else {
        return false;
    };
    let mut pending: Vec<&Value> = message.fields().map(|(_, value)| value).collect();
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return true,
            Value::Message(inner) => pending.extend(inner.fields().map(|(_, value)| value)),
            Value::List(items) => pending.extend(items),
            Value::Map(entries) => {
                for (key, value) in entries {
                    if matches!(key, MapKey::String(text) if text.contains('\0')) {
                        return true;
                    }
                    pending.push(value);
                }
            }
            _ => {}
        }
    }
    false
}

/// Encodes a reply for this connection's format.
pub fn frame(format: Format, command: &GenericCommand) -> Message {
    wrap(format, Bytes::from(command.encode_to_vec()))
}

/// Frames a hub push (encoded without `peerId`) for one recipient.
pub fn push_frame(format: Format, body: &Bytes, peer_id: &str) -> Message {
    let mut bytes = BytesMut::with_capacity(body.len() + peer_id.len() + 6);
    bytes.put_slice(body);
    bytes.put_u8(PEER_ID_TAG);
    prost::encoding::encode_varint(peer_id.len() as u64, &mut bytes);
    bytes.put_slice(peer_id.as_bytes());
    wrap(format, bytes.freeze())
}

fn wrap(format: Format, bytes: Bytes) -> Message {
    match format {
        Format::Binary => Message::Binary(bytes),
        Format::Base64 => Message::Text(STANDARD.encode(&bytes).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::CommandType;

    #[test]
    fn an_appended_peer_id_decodes_as_the_field() {
        let command = GenericCommand {
            cmd: Some(CommandType::Direct as i32),
            service: Some(2),
            ..Default::default()
        };
        let body = Bytes::from(command.encode_to_vec());
        for format in [Format::Binary, Format::Base64] {
            let decoded = decode(format, &push_frame(format, &body, "alice"));
            assert_eq!(
                decoded.ok().and_then(|c| c.peer_id).as_deref(),
                Some("alice")
            );
        }
    }

    #[test]
    fn sub_protocols_parse() {
        assert_eq!(
            Protocol::parse("lc.protobuf2.3"),
            Some(Protocol {
                format: Format::Binary,
                version: 3
            })
        );
        assert_eq!(
            Protocol::parse("lc.proto2base64.1"),
            Some(Protocol {
                format: Format::Base64,
                version: 1
            })
        );
        assert_eq!(Protocol::parse("lc.json.1"), None);
        assert_eq!(Protocol::parse("lc.protobuf2.4"), None);
    }

    #[test]
    fn garbage_is_unparseable_and_big_commands_too_long() {
        assert_eq!(
            decode(
                Format::Binary,
                &Message::Binary(Bytes::from_static(&[0xff, 0xff, 0xff]))
            )
            .err(),
            Some(DecodeError::Unparseable)
        );
        assert_eq!(
            decode(Format::Base64, &Message::Text("%%%".into())).err(),
            Some(DecodeError::Unparseable)
        );
        let big = GenericCommand {
            app_id: Some("x".repeat(6000)),
            i: Some(7),
            ..Default::default()
        };
        match decode(Format::Binary, &frame(Format::Binary, &big)) {
            Err(DecodeError::TooLong(command)) => assert_eq!(command.i, Some(7)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn nul_in_any_string_field_is_refused() {
        use crate::proto::{DirectCommand, JsonObjectMessage};
        let clean = GenericCommand {
            cmd: Some(CommandType::Direct as i32),
            i: Some(0),
            direct_message: Some(DirectCommand {
                msg: Some("hello".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(decode(Format::Binary, &frame(Format::Binary, &clean)).is_ok());
        let mut in_text = clean.clone();
        in_text.direct_message = Some(DirectCommand {
            msg: Some("he\0llo".into()),
            ..Default::default()
        });
        let mut in_push_data = clean.clone();
        in_push_data.direct_message = Some(DirectCommand {
            push_data: Some("{\"alert\":\"\0\"}".into()),
            ..Default::default()
        });
        let mut in_attr = clean.clone();
        in_attr.conv_message = Some(crate::proto::ConvCommand {
            attr: Some(JsonObjectMessage {
                data: "{\"name\":\"\0\"}".into(),
            }),
            ..Default::default()
        });
        for command in [in_text, in_push_data, in_attr] {
            for format in [Format::Binary, Format::Base64] {
                assert!(
                    matches!(
                        decode(format, &frame(format, &command)),
                        Err(DecodeError::NulCharacter(_))
                    ),
                    "{command:?}"
                );
            }
        }
    }
}
