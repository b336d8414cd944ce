//! Routes a decoded command to its family's handler. Everything but `session`, `echo` and
//! the push-service commands needs an open session (else `4105 SESSION_REQUIRED`).

use super::connection::Conn;
use super::ending::close;
use super::{
    cmd_conv, cmd_logs, cmd_message, cmd_moderation, cmd_patch, cmd_query, cmd_read, cmd_session,
    reply,
};
use crate::app::quota::CommandVerdict;
use crate::app::send::{self, SendRequest};
use crate::error::code;
use crate::proto::{CommandType, GenericCommand, OpType};
use crate::state::AppState;

/// Each handler runs boxed: inline, every command's future would be as large as the
/// largest handler's (27 KB, measured), allocated for each ack as much as for a login.
pub async fn handle(conn: &mut Conn, command: GenericCommand) {
    if !within_quota(conn, &command) {
        return;
    }
    let Ok(cmd) = CommandType::try_from(command.cmd.unwrap_or(0)) else {
        conn.reply(reply::error(
            &command,
            reply::UNPARSEABLE_RAW_MESSAGE,
            "Unknown command.",
        ));
        return;
    };
    let op = command.op.and_then(|o| OpType::try_from(o).ok());
    match cmd {
        CommandType::Echo => conn.reply(reply::to(&command, CommandType::Echo, None)),
        CommandType::Session => Box::pin(cmd_session::handle(conn, command, op)).await,
        // Push-service and LiveQuery logins (service 0/1) are not IM: nothing to answer.
        CommandType::Login | CommandType::Logout => {}
        _ => Box::pin(with_session(conn, command, cmd, op)).await,
    }
}

/// The connection's command quota: over it, an error (for commands expecting an answer);
/// persistently over it, the connection is closed.
fn within_quota(conn: &mut Conn, command: &GenericCommand) -> bool {
    let app = conn
        .sessions
        .resolve(None)
        .map(|s| std::sync::Arc::clone(&s.app));
    match conn
        .command_quota
        .command(app.as_deref(), &conn.state.clock)
    {
        CommandVerdict::Run => true,
        CommandVerdict::Refuse => {
            if command.i.is_some() {
                conn.reply(reply::error(
                    command,
                    code::MESSAGE_SENT_QUOTA_EXCEEDED,
                    "Too many commands on this connection; slow down.",
                ));
            }
            false
        }
        CommandVerdict::Close => {
            conn.close_after = Some((close::POLICY_VIOLATION, "too many commands"));
            false
        }
    }
}

async fn with_session(
    conn: &mut Conn,
    command: GenericCommand,
    cmd: CommandType,
    op: Option<OpType>,
) {
    let Some(current) = conn.current(&command) else {
        // `ack` and `read` expect no reply: an error for them would be unsolicited.
        if command.i.is_some() {
            conn.reply(reply::error(
                &command,
                reply::SESSION_REQUIRED,
                "Open a session first.",
            ));
        }
        return;
    };
    match (cmd, op) {
        (CommandType::Conv, Some(OpType::Query)) => {
            Box::pin(cmd_query::query(conn, &current, command)).await
        }
        (CommandType::Conv, op) => Box::pin(cmd_conv::handle(conn, &current, command, op)).await,
        (CommandType::Direct, _) => Box::pin(cmd_message::direct(conn, &current, command)).await,
        (CommandType::Ack, _) => Box::pin(cmd_message::ack(conn, &current, command)).await,
        (CommandType::Read, _) => Box::pin(cmd_read::read(conn, &current, command)).await,
        (CommandType::Logs, _) => Box::pin(cmd_logs::logs(conn, &current, command)).await,
        (CommandType::Blacklist, op) => {
            Box::pin(cmd_moderation::blacklist(conn, &current, command, op)).await
        }
        (CommandType::Patch, Some(OpType::Modify)) => {
            Box::pin(cmd_patch::modify(conn, &current, command)).await
        }
        (CommandType::Report, _) => {
            if let (Some(s), Some(r)) = (
                conn.sessions.resolve(command.peer_id.as_deref()),
                &command.report_message,
            ) {
                let (kind, data) = (r.r#type.as_deref(), r.data.as_deref());
                crate::app::push::reported(
                    &conn.state,
                    &s.app,
                    &s.client,
                    s.device.as_deref(),
                    kind,
                    data,
                );
            }
            conn.reply(reply::to(
                &command,
                CommandType::Report,
                Some(OpType::Uploaded),
            ))
        }
        _ if command.i.is_some() => {
            conn.reply(reply::error(
                &command,
                reply::UNPARSEABLE_RAW_MESSAGE,
                "This command is not supported.",
            ));
        }
        _ => {}
    }
}

/// Sends a session's "will" message after an unexpected disconnect, in the background.
pub fn send_will(state: &AppState, app: &str, will: SendRequest) {
    let state = state.clone();
    let app = app.to_owned();
    tokio::spawn(async move {
        if let Err(err) = send::send(&state, &app, will).await {
            tracing::debug!(error = %err, "will message not sent");
        }
    });
}
