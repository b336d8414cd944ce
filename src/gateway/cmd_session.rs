//! `session open | close | query | refresh`: logging clients in and out of a connection,
//! single-device (`tag`) conflicts, stateless session tokens and login signatures.

use super::connection::Conn;
use super::session::Session;
use super::{login_sync, reply};
use crate::app::hooks::presence;
use crate::app::push;
use crate::app::sessions::{self, LoginProof};
use crate::domain::app::App;
use crate::domain::{client_id, ids};
use crate::error::code;
use crate::hub::SessionInfo;
use crate::proto::{CommandType, GenericCommand, OpType, SessionCommand};
use std::sync::Arc;

/// Sessions one connection may hold (JS opens one per `IMClient`).
const MAX_SESSIONS_PER_CONNECTION: usize = 64;
/// `session query` answers for at most this many ids (the SDKs send at most 20).
const MAX_QUERY_IDS: usize = 20;

pub const SESSION_CONFLICT: i32 = crate::error::code::SESSION_CONFLICT as i32;

pub async fn handle(conn: &mut Conn, command: GenericCommand, op: Option<OpType>) {
    match op {
        Some(OpType::Open) => open(conn, command).await,
        Some(OpType::Close) => close(conn, command),
        Some(OpType::Query) => query(conn, command),
        Some(OpType::Refresh) => refresh(conn, command),
        _ if command.i.is_some() => conn.reply(reply::error(
            &command,
            reply::UNPARSEABLE_RAW_MESSAGE,
            "Unknown session operation.",
        )),
        _ => {}
    }
}

/// A failed open: `session closed` with the code in `sessionMessage` (JS, Swift and Java
/// all read it there).
fn refuse(command: &GenericCommand, code: i32, detail: &str) -> GenericCommand {
    let mut answer = reply::to(command, CommandType::Session, Some(OpType::Closed));
    answer.session_message = Some(SessionCommand {
        code: Some(code),
        reason: Some(reply::reason(i64::from(code)).to_owned()),
        detail: (!detail.is_empty()).then(|| detail.to_owned()),
        ..Default::default()
    });
    answer
}

async fn open(conn: &mut Conn, command: GenericCommand) {
    let request = command.session_message.clone().unwrap_or_default();
    let app = match find_app(conn, &command).await {
        Ok(app) => app,
        Err(detail) => return conn.reply(refuse(&command, code::APP_NOT_AVAILABLE as i32, detail)),
    };
    let client = match command.peer_id.as_deref().filter(|p| !p.is_empty()) {
        Some(peer) => peer.to_owned(),
        None => ids::random_token(12),
    };
    if !client_id::is_valid(&client) {
        return conn.reply(refuse(
            &command,
            code::INVALID_LOGIN as i32,
            "A client id is 1 to 64 characters.",
        ));
    }
    let proof = LoginProof {
        session_token: request.st.as_deref(),
        timestamp: request.t,
        nonce: request.n.as_deref(),
        signature: request.s.as_deref(),
    };
    let claims = match sessions::authenticate(&conn.state, &app, &client, &proof) {
        Ok(claims) => claims,
        Err((code, detail)) => return conn.reply(refuse(&command, code as i32, detail)),
    };
    // JS re-opens with `st` alone: the token remembers the tag and the device.
    let tag = request
        .tag
        .clone()
        .or_else(|| claims.as_ref().and_then(|c| c.tag.clone()));
    let tag = tag
        .filter(|t| !t.is_empty() && t != "default")
        .map(Arc::<str>::from);
    let device = request
        .device_id
        .clone()
        .or_else(|| claims.as_ref().and_then(|c| c.device.clone()));
    // A tagged session without a device id gets one, so its own reconnect is recognised.
    let device = device
        .filter(|d| !d.is_empty())
        .or_else(|| tag.as_ref().map(|_| ids::random_token(12)))
        .map(Arc::<str>::from);
    let existing = conn.sessions.by_client(&client).map(Session::id);
    if let Some(tag) = &tag {
        if let Err(detail) = settle_tag_conflict(
            conn,
            &app,
            &client,
            tag,
            device.as_deref(),
            request.r == Some(true),
            existing,
        ) {
            return conn.reply(refuse(&command, SESSION_CONFLICT, detail));
        }
    }
    if existing.is_none() {
        if conn.sessions.len() >= MAX_SESSIONS_PER_CONNECTION {
            return conn.reply(refuse(
                &command,
                code::INVALID_LOGIN as i32,
                "Too many sessions on one connection.",
            ));
        }
        let info = SessionInfo {
            client: Arc::from(client.as_str()),
            tag: tag.clone(),
            device: device.clone(),
        };
        let guard = conn
            .state
            .hub
            .register(&app.app_id, info.clone(), conn.outbox.clone());
        conn.sessions.add(Session {
            guard,
            app: Arc::clone(&app),
            client: info.client,
            tag,
            device,
            will: None,
        });
        conn.sessions_changed();
    }
    let session = conn
        .sessions
        .by_client(&client)
        .map(|s| (s.tag.clone(), s.device.clone()));
    let (tag, device) = session.unwrap_or_default();
    let mut opened = reply::to(&command, CommandType::Session, Some(OpType::Opened));
    opened.peer_id = Some(client.clone());
    opened.session_message = Some(token_message(
        conn,
        &app,
        &client,
        tag.as_deref(),
        device.as_deref(),
    ));
    conn.reply(opened);
    sessions::record_login(&conn.state, &app.app_id, &client);
    let login = push::LoginDevice {
        token: request.device_token.as_deref(),
        device_type: request.system_info.as_ref().and_then(|s| s.device_type),
        user_agent: request.ua.as_deref(),
        device_id: device.as_deref(),
    };
    push::after_login(&conn.state, &app, &client, login);
    let ip = conn.remote_ip_text();
    let reconnect = request.r == Some(true);
    presence::online(
        &conn.state,
        &app,
        &client,
        ip.as_deref(),
        tag.as_deref(),
        reconnect,
    );
    login_sync::after_open(conn, &app, &client, &request).await;
}

async fn find_app(conn: &Conn, command: &GenericCommand) -> Result<Arc<App>, &'static str> {
    let app_id = match command.app_id.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => id.to_owned(),
        // Re-opens from some SDKs omit appId: the connection's other sessions tell it.
        None => conn
            .sessions
            .resolve(None)
            .map(|s| s.app.app_id.clone())
            .ok_or("appId is required.")?,
    };
    match sessions::find_app(&conn.state, &app_id).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err("Unknown appId."),
        Err(_) => Err("The app could not be loaded."),
    }
}

/// Single-device login: a forced open (`r=false`) closes the other sessions with the same
/// tag (4111 to the old ones). A reconnect (`r=true`) is refused when another *device*
/// holds the tag; a stale session of the same device is replaced.
fn settle_tag_conflict(
    conn: &Conn,
    app: &Arc<App>,
    client: &str,
    tag: &str,
    device: Option<&str>,
    reconnect: bool,
    this: Option<u64>,
) -> Result<(), &'static str> {
    let others = conn
        .state
        .hub
        .sessions_with_tag(&app.app_id, client, tag, this.unwrap_or(0));
    if reconnect {
        let other_device = others
            .iter()
            .any(|(_, d)| matches!((d.as_deref(), device), (Some(a), Some(b)) if a != b));
        if other_device {
            return Err("Another device logged in with this tag.");
        }
    }
    for (session, _) in others {
        conn.state.hub.close_session(
            &app.app_id,
            client,
            session,
            SESSION_CONFLICT,
            "SESSION_CONFLICT",
        );
        let why = presence::Offline {
            close_code: presence::CLOSE_KICKED_BY_TAG,
            close_msg: "SESSION_CONFLICT",
            source_ip: None,
            tag: Some(tag),
            error: Some((code::SESSION_CONFLICT, "SESSION_CONFLICT")),
        };
        presence::offline(&conn.state, app, client, why);
    }
    Ok(())
}

fn token_message(
    conn: &Conn,
    app: &App,
    client: &str,
    tag: Option<&str>,
    device: Option<&str>,
) -> SessionCommand {
    let (st, ttl) = sessions::issue_token(&conn.state, app, client, tag, device);
    SessionCommand {
        st: Some(st),
        st_ttl: Some(ttl),
        ..Default::default()
    }
}

fn close(conn: &mut Conn, command: GenericCommand) {
    let target = conn
        .sessions
        .resolve(command.peer_id.as_deref())
        .map(Session::id);
    let Some(id) = target else {
        return conn.reply(reply::error(
            &command,
            reply::SESSION_REQUIRED,
            "No such session.",
        ));
    };
    if let Some(session) = conn.sessions.remove(id) {
        let mut closed = reply::to(&command, CommandType::Session, Some(OpType::Closed));
        closed.peer_id = Some(session.client.to_string());
        closed.session_message = Some(SessionCommand::default());
        conn.reply(closed);
        let ip = conn.remote_ip_text();
        let why = presence::Offline {
            close_code: presence::CLOSE_LOGOUT,
            close_msg: "logout",
            source_ip: ip.as_deref(),
            tag: session.tag.as_deref(),
            error: None,
        };
        presence::offline(&conn.state, &session.app, &session.client, why);
        push::after_logout(
            &conn.state,
            &session.app,
            &session.client,
            session.device.as_deref(),
        );
    }
    conn.sessions_changed();
}

fn query(conn: &mut Conn, command: GenericCommand) {
    let Some(current) = conn.current(&command) else {
        return conn.reply(reply::error(
            &command,
            reply::SESSION_REQUIRED,
            "Open a session first.",
        ));
    };
    let asked = command
        .session_message
        .as_ref()
        .map(|s| s.session_peer_ids.clone())
        .unwrap_or_default();
    let asked: Vec<String> = asked.into_iter().take(MAX_QUERY_IDS).collect();
    let online = sessions::online(&conn.state, current.app_id(), &asked);
    let mut answer = reply::to(&command, CommandType::Session, Some(OpType::QueryResult));
    answer.session_message = Some(SessionCommand {
        online_session_peer_ids: online,
        ..Default::default()
    });
    conn.reply(answer);
}

fn refresh(conn: &mut Conn, command: GenericCommand) {
    let Some(session) = conn.sessions.resolve(command.peer_id.as_deref()) else {
        return conn.reply(reply::error(
            &command,
            reply::SESSION_REQUIRED,
            "Open a session first.",
        ));
    };
    let (app, client) = (Arc::clone(&session.app), Arc::clone(&session.client));
    let (tag, device) = (session.tag.clone(), session.device.clone());
    let mut answer = reply::to(&command, CommandType::Session, Some(OpType::Refreshed));
    answer.peer_id = Some(client.to_string());
    answer.session_message = Some(token_message(
        conn,
        &app,
        &client,
        tag.as_deref(),
        device.as_deref(),
    ));
    conn.reply(answer);
}
