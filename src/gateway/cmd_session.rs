//! `session open | close | query | refresh`: logging clients in and out of a connection,
//! single-device (`tag`) conflicts, stateless session tokens and login signatures.

use super::connection::Conn;
use super::session::Session;
use super::{login_sync, reply};
use crate::app::session_token::{self, Claims};
use crate::domain::app::App;
use crate::domain::{client_id, ids, signature, time};
use crate::hub::SessionInfo;
use crate::proto::{CommandType, GenericCommand, OpType, SessionCommand};
use std::sync::Arc;

/// Sessions one connection may hold (JS opens one per `IMClient`).
const MAX_SESSIONS_PER_CONNECTION: usize = 64;
/// `session query` answers for at most this many ids (the SDKs send at most 20).
const MAX_QUERY_IDS: usize = 20;

pub const SESSION_CONFLICT: i32 = 4111;

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
        Err(detail) => return conn.reply(refuse(&command, 4100, detail)),
    };
    let client = match command.peer_id.as_deref().filter(|p| !p.is_empty()) {
        Some(peer) => peer.to_owned(),
        None => ids::random_token(12),
    };
    if !client_id::is_valid(&client) {
        return conn.reply(refuse(&command, 4103, "A client id is 1 to 64 characters."));
    }
    let claims = match authenticate(&app, &client, &request) {
        Ok(claims) => claims,
        Err((code, detail)) => return conn.reply(refuse(&command, code, detail)),
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
                4103,
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
    record_login(conn, &app.app_id, &client);
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
    match conn.state.apps.get(&conn.state.store, &app_id).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err("Unknown appId."),
        Err(_) => Err("The app could not be loaded."),
    }
}

/// A re-open proves itself with `st` (its claims are returned); a first open with a
/// signature when the app asks.
fn authenticate(
    app: &App,
    client: &str,
    request: &SessionCommand,
) -> Result<Option<Claims>, (i32, &'static str)> {
    if let Some(token) = request.st.as_deref().filter(|t| !t.is_empty()) {
        return match session_token::verify(&app.app_id, &app.master_key, token, time::now_ms()) {
            Some(claims) if claims.client == client => Ok(Some(claims)),
            _ => Err((4112, "The session token is invalid or expired.")),
        };
    }
    if !app.settings.login_signature_required {
        return Ok(None);
    }
    let refused = Err((4102, "Login signature verification failed."));
    let (Some(t), Some(n), Some(s)) = (request.t, request.n.as_deref(), request.s.as_deref())
    else {
        return refused;
    };
    if (time::now_ms() - signature::timestamp_ms(t)).abs() > signature::REALTIME_SIGNATURE_TTL_MS {
        return refused;
    }
    let expected = signature::realtime_sign(
        &app.master_key,
        &[&app.app_id, client, "", &t.to_string(), n],
    );
    if signature::same(&s.to_ascii_lowercase(), &expected) {
        Ok(None)
    } else {
        refused
    }
}

/// Single-device login: a forced open (`r=false`) closes the other sessions with the same
/// tag (4111 to the old ones). A reconnect (`r=true`) is refused when another *device*
/// holds the tag; a stale session of the same device is replaced.
fn settle_tag_conflict(
    conn: &Conn,
    app: &App,
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
    let ttl = conn
        .state
        .config
        .session_token_ttl_secs
        .min(i32::MAX as u64);
    let claims = Claims {
        client: client.to_owned(),
        expires_at_ms: time::now_ms() + (ttl as i64) * 1000,
        tag: tag.map(str::to_owned),
        device: device.map(str::to_owned),
    };
    SessionCommand {
        st: Some(session_token::issue(&app.app_id, &app.master_key, &claims)),
        st_ttl: Some(ttl as i32),
        ..Default::default()
    }
}

/// Daily logins feed E47's `user_count_today`; written in the background.
fn record_login(conn: &Conn, app: &str, client: &str) {
    let day = time::utc_day(time::now_ms());
    conn.state.background.record_login(app, client, day);
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
    let online: Vec<String> = asked
        .into_iter()
        .take(MAX_QUERY_IDS)
        .filter(|id| conn.state.hub.is_online(current.app_id(), id))
        .collect();
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
