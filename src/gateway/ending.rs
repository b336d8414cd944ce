//! How a WebSocket connection ends: the close codes, `goaway` at shutdown, the close frame,
//! and what its sessions leave behind (offline hooks, will messages).

use super::codec;
use super::connection::Conn;
use super::dispatch;
use crate::proto::CommandType;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::time::Duration;

/// Close codes the server uses (LeanCloud's, plus the standard ones).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    /// The client stopped reading: its queue filled, or a write missed its deadline
    /// (`ws_write_timeout_secs`). Reconnect and resync.
    pub const SLOW_CLIENT: u16 = 1013;
    pub const READ_TIMEOUT: u16 = 4107;
    pub const LOGIN_TIMEOUT: u16 = 4108;
    pub const FRAME_TOO_LONG: u16 = 4109;
    /// The connection kept sending commands over its quota.
    pub const POLICY_VIOLATION: u16 = 1008;
}

/// Why the loop ended.
pub(super) enum End {
    /// The server is shutting down: `goaway`, then a close frame.
    Shutdown,
    /// The server closes with this code.
    Close(u16, &'static str),
    /// The client went away (or the socket failed).
    Gone,
}

/// Frames over the transport limit end the connection with 4109; anything else is a
/// broken socket.
pub(super) fn transport_error(err: &axum::Error) -> End {
    let text = err.to_string();
    if text.contains("Space limit exceeded")
        || text.contains("too long")
        || text.contains("Message too big")
    {
        End::Close(close::FRAME_TOO_LONG, "FRAME_TOO_LONG")
    } else {
        End::Gone
    }
}

pub(super) async fn finish(conn: &mut Conn, socket: &mut WebSocket, end: End) {
    let (code, reason, unexpected) = match end {
        End::Shutdown => {
            let goaway = crate::hub::push::envelope(CommandType::Goaway, None);
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                socket.send(codec::frame(conn.protocol.format, &goaway)),
            )
            .await;
            (Some(close::GOING_AWAY), "GOING_AWAY", false)
        }
        End::Close(code, reason) => (Some(code), reason, code != close::FRAME_TOO_LONG),
        End::Gone => (None, "", true),
    };
    crate::metrics::connection_closed(code);
    if let Some(code) = code {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
    let sessions: Vec<_> = conn.sessions.drain().collect();
    for session in sessions {
        let why = crate::app::hooks::presence::Offline {
            close_code: crate::app::hooks::presence::CLOSE_DISCONNECT,
            close_msg: reason,
            source_ip: None,
            tag: session.tag.as_deref(),
            error: code.filter(|c| *c >= 4000).map(|c| (i64::from(c), reason)),
        };
        crate::app::hooks::presence::offline(&conn.state, &session.app, &session.client, why);
        if let (true, Some(will)) = (unexpected, session.will) {
            dispatch::send_will(&conn.state, &session.app.app_id, *will);
        }
    }
}
