//! Building replies: same `i` as the request, `service = 2`, and errors in the shapes the
//! SDKs read (`error` commands, or `ack` with `code` for a failed `direct`). The `reason`
//! is LeanCloud's upper-case error name: JS uses it as the error message.

use crate::domain::time;
use crate::error::Error;
use crate::hub::push::SERVICE_IM;
use crate::proto::{AckCommand, CommandType, ErrorCommand, GenericCommand, OpType};

/// A reply to `request` with `cmd`/`op`, echoing `i` and `peerId`.
pub fn to(request: &GenericCommand, cmd: CommandType, op: Option<OpType>) -> GenericCommand {
    GenericCommand {
        cmd: Some(cmd as i32),
        op: op.map(|o| o as i32),
        i: request.i,
        peer_id: request.peer_id.clone(),
        service: Some(SERVICE_IM),
        server_ts: Some(time::now_ms()),
        ..Default::default()
    }
}

/// `cmd=error` answering `request` (or unsolicited when `request` has no `i`).
pub fn error(request: &GenericCommand, code: i64, detail: &str) -> GenericCommand {
    let mut reply = to(request, CommandType::Error, None);
    reply.error_message = Some(error_command(code, detail));
    reply
}

pub fn error_command(code: i64, detail: &str) -> ErrorCommand {
    ErrorCommand {
        code: code as i32,
        reason: reason(code).to_owned(),
        detail: (!detail.is_empty()).then(|| detail.to_owned()),
        ..Default::default()
    }
}

/// An application error as an `error` command; internal failures are logged once and
/// reach the client as 4200 without details.
pub fn failure(request: &GenericCommand, err: &Error) -> GenericCommand {
    let (code, detail) = public(err);
    error(request, code, &detail)
}

/// A failed `direct`: `ack` with `code` (its presence is what marks the failure).
pub fn failed_ack(request: &GenericCommand, err: &Error) -> GenericCommand {
    let (code, detail) = public(err);
    let mut reply = to(request, CommandType::Ack, None);
    reply.ack_message = Some(AckCommand {
        code: Some(code as i32),
        reason: Some(reason(code).to_owned()),
        app_msg: (!detail.is_empty()).then_some(detail),
        ..Default::default()
    });
    reply
}

fn public(err: &Error) -> (i64, String) {
    match err {
        Error::Internal(inner) => {
            tracing::error!(error = ?inner, "internal error in a websocket command");
            (INTERNAL_ERROR, String::new())
        }
        other => (other.code(), other.public_message()),
    }
}

pub use crate::error::code::{INTERNAL_ERROR, SESSION_REQUIRED, UNPARSEABLE_RAW_MESSAGE};

/// LeanCloud's names for its codes (protocol.md section 5.1).
pub fn reason(code: i64) -> &'static str {
    match code {
        4100 => "APP_NOT_AVAILABLE",
        4102 => "SIGNATURE_FAILED",
        4103 => "INVALID_LOGIN",
        4105 => "SESSION_REQUIRED",
        4107 => "READ_TIMEOUT",
        4108 => "LOGIN_TIMEOUT",
        4109 => "FRAME_TOO_LONG",
        4111 => "SESSION_CONFLICT",
        4112 => "SESSION_TOKEN_EXPIRED",
        4114 => "UNPARSEABLE_RAW_MESSAGE",
        4115 => "KICKED_BY_APP",
        4116 => "MESSAGE_SENT_QUOTA_EXCEEDED",
        4200 => "INTERNAL_ERROR",
        4301 => "CONVERSATION_API_FAILED",
        4302 => "CONVERSATION_SIGNATURE_FAILED",
        4303 => "CONVERSATION_NOT_FOUND",
        4304 => "CONVERSATION_FULL",
        4305 => "CONVERSATION_REJECTED_BY_APP",
        4306 => "CONVERSATION_UPDATE_FAILED",
        4307 => "CONVERSATION_READ_ONLY",
        4308 => "CONVERSATION_NOT_ALLOWED",
        4309 => "CONVERSATION_UPDATE_REJECTED",
        4310 => "CONVERSATION_QUERY_FAILED",
        4311 => "CONVERSATION_LOG_FAILED",
        4312 => "CONVERSATION_LOG_REJECTED",
        4313 => "SYSTEM_CONVERSATION_REQUIRED",
        4314 => "NORMAL_CONVERSATION_REQUIRED",
        4316 => "TRANSIENT_CONVERSATION_REQUIRED",
        4317 => "CONVERSATION_MEMBERSHIP_REQUIRED",
        4318 => "CONVERSATION_API_QUOTA_EXCEEDED",
        4320 => "CONVERSATION_OPERATION_UNAUTHORIZED",
        4321 => "UNKNOWN_CONVERSATION_ROLE",
        4323 => "TEMPORARY_CONVERSATION_EXPIRED",
        4324 => "CONVERSATION_NEED_OWNER",
        4401 => "INVALID_MESSAGING_TARGET",
        4402 => "MESSAGE_REJECTED_BY_APP",
        4403 => "MESSAGE_OWNERSHIP_REQUIRED",
        4404 => "MESSAGE_NOT_FOUND",
        4405 => "MESSAGE_UPDATE_REJECTED_BY_APP",
        4406 => "MESSAGE_EDIT_DISABLED",
        4407 => "MESSAGE_RECALL_DISABLED",
        4546 => "BLACKLIST_SIGNATURE_FAILED",
        4548 => "BLOCKED_BY_CONV",
        4563 => "SILIENCED",
        _ => "INVALID_REQUEST",
    }
}
