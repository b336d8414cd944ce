//! One task per WebSocket owns the socket: a single `select!` over shutdown, the slow-client
//! signal, the outbound queue, inbound frames and the timer; each arm calls a named function.
//!
//! Command handlers run boxed (`Box::pin`), so an idle connection's future holds only the
//! socket, the queue, the sessions and a timer: the handlers' large futures exist only
//! while a command runs. Commands of one connection run in order.

use super::admission::Admitted;
use super::codec::{self, DecodeError, Protocol};
use super::ending::{close, finish, transport_error, End};
use super::session::{Current, Sessions};
use super::{dispatch, reply};
use crate::hub::{Inbox, Outbound, Outbox, Wake};
use crate::proto::{CommandType, GenericCommand, OpType, SessionCommand};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Outbound queue items drained per wake-up, written with one flush.
const BATCH: usize = 64;

/// The connection's state besides the socket; command handlers get `&mut Conn`.
pub struct Conn {
    pub state: Arc<AppState>,
    pub protocol: Protocol,
    pub sessions: Sessions,
    pub outbox: Outbox,
    /// Replies produced by the running command, written in order after it.
    pub replies: Vec<GenericCommand>,
    /// Kept as an address, not text: one allocation less in every idle connection.
    pub remote_ip: Option<std::net::IpAddr>,
    /// Set by a handler to close the socket after its replies.
    pub close_after: Option<(u16, &'static str)>,
    /// Commands per second on this connection (`connection_command_rate_per_second`).
    pub command_quota: crate::app::quota::ConnectionQuota,
    last_inbound: Instant,
    without_session_since: Option<Instant>,
}

impl Conn {
    pub fn reply(&mut self, command: GenericCommand) {
        self.replies.push(command);
    }

    /// The session a command addresses (see [`Sessions::resolve`]).
    pub fn current(&self, command: &GenericCommand) -> Option<Current> {
        self.sessions
            .resolve(command.peer_id.as_deref())
            .map(|s| s.current())
    }

    /// Notes that the last session left, so the login timeout applies again.
    pub fn sessions_changed(&mut self) {
        self.without_session_since = if self.sessions.is_empty() {
            Some(Instant::now())
        } else {
            None
        };
    }

    /// The client's address as presence records and `from-ip` carry it.
    pub fn remote_ip_text(&self) -> Option<String> {
        self.remote_ip.map(|ip| ip.to_string())
    }

    fn deadline(&self) -> Instant {
        let config = &self.state.config;
        let idle = self.last_inbound + Duration::from_secs(config.ws_idle_timeout_secs);
        match self.without_session_since {
            Some(since) => idle.min(since + Duration::from_secs(config.ws_login_timeout_secs)),
            None => idle,
        }
    }
}

/// What the upgrade hands to the connection (see [`serve`]).
pub struct Accepted {
    pub state: Arc<AppState>,
    pub protocol: Protocol,
    /// Kept as an address, not text: one allocation less in every idle connection.
    pub remote_ip: Option<std::net::IpAddr>,
    /// The connection's admission slot, freed when the connection ends.
    pub admitted: Admitted,
}

/// Everything an open connection owns, in one place: the task's future holds it once.
struct Connection {
    conn: Conn,
    socket: WebSocket,
    inbox: Inbox,
    held: Held,
}

/// What the connection holds only to release when it ends: its admission slot (per-process
/// and per-IP caps) and its count in the open-connections gauge.
struct Held {
    _admitted: Admitted,
    _gauge: crate::metrics::ConnectionGauge,
}

/// Serves one upgraded socket until it closes or the server shuts down.
///
/// Not an `async fn`: one would keep its arguments and every local built from them (the
/// socket twice, the state three times) as separate slots of the task for the whole
/// connection. Here the state is built first and moved into the future once.
pub fn serve(
    socket: WebSocket,
    accepted: Accepted,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let Accepted {
        state,
        protocol,
        remote_ip,
        admitted,
    } = accepted;
    let tasks = state.tasks.clone();
    let (outbox, inbox) = Outbox::new(state.config.ws_queue_capacity);
    let now = Instant::now();
    let conn = Conn {
        state,
        protocol,
        sessions: Sessions::default(),
        outbox,
        replies: Vec::new(),
        remote_ip,
        close_after: None,
        last_inbound: now,
        without_session_since: Some(now),
        command_quota: crate::app::quota::ConnectionQuota::new(),
    };
    let mut connection = Connection {
        conn,
        socket,
        inbox,
        held: Held {
            _admitted: admitted,
            _gauge: crate::metrics::ConnectionGauge::open(),
        },
    };
    // Uses `connection` in place: rebinding it (`let c = connection`), or an `async fn`
    // taking it, would give the future a second copy. Not boxed: axum's task holds this
    // future where the handshake's state was, so the connection costs one allocation.
    tasks.track_future(async move {
        // Named here so that the block owns the slot and the gauge for the connection's
        // whole life: an `async move` block captures only the fields it mentions, so an
        // unmentioned one would be dropped as soon as the future is built.
        let _held = connection.held;
        let end = run(
            &mut connection.conn,
            &mut connection.socket,
            &connection.inbox,
        )
        .await;
        // Closed before the closing handshake: publishers stop queueing for this socket.
        drop(connection.inbox);
        // Boxed: its state (a goaway command) would otherwise sit in every idle connection.
        Box::pin(finish(&mut connection.conn, &mut connection.socket, end)).await;
    })
}

async fn run(conn: &mut Conn, socket: &mut WebSocket, inbox: &Inbox) -> End {
    let shutdown = conn.state.shutdown.clone();
    // Registered once: every connection waits on the same token, and re-registering on
    // each wake-up would contend on its lock during a fan-out.
    let cancelled = shutdown.cancelled();
    let timer = tokio::time::sleep_until(conn.deadline());
    tokio::pin!(cancelled, timer);
    loop {
        tokio::select! {
            biased;
            () = &mut cancelled => return End::Shutdown,
            wake = inbox.next(BATCH) => match wake {
                Wake::Overflow => return End::Close(close::SLOW_CLIENT, "slow client"),
                Wake::Items(mut batch) => {
                    crate::metrics::outbound_drained(batch.len());
                    if let Some(end) = Box::pin(on_outbound(conn, socket, &mut batch)).await {
                        return end;
                    }
                }
            },
            frame = socket.recv() => {
                if let Some(end) = Box::pin(on_frame(conn, socket, frame)).await {
                    return end;
                }
                timer.as_mut().reset(conn.deadline());
            }
            () = &mut timer => {
                if let Some(end) = on_timer(conn) {
                    return end;
                }
                timer.as_mut().reset(conn.deadline());
            }
        }
    }
}

/// Pushes from the hub: frame each for its session's `peerId`, write them with one flush.
async fn on_outbound(
    conn: &mut Conn,
    socket: &mut WebSocket,
    batch: &mut Vec<Outbound>,
) -> Option<End> {
    let drained_at = std::time::Instant::now();
    let mut frames = Vec::with_capacity(batch.len());
    for item in batch.drain(..) {
        match item {
            Outbound::Push { session, body } => {
                if let Some(target) = conn.sessions.by_id(session) {
                    frames.push(codec::push_frame(
                        conn.protocol.format,
                        &body,
                        &target.client,
                    ));
                }
            }
            Outbound::CloseSession {
                session,
                code,
                reason,
            } => {
                let Some(target) = conn.sessions.remove(session) else {
                    continue;
                };
                let mut closed =
                    crate::hub::push::envelope(CommandType::Session, Some(OpType::Closed));
                closed.peer_id = Some(target.client.to_string());
                closed.session_message = Some(SessionCommand {
                    code: Some(code),
                    reason: Some(reason.to_string()),
                    ..Default::default()
                });
                frames.push(codec::frame(conn.protocol.format, &closed));
                conn.sessions_changed();
                // A connection whose last session was closed by the server is closed too.
                if conn.sessions.is_empty() {
                    conn.close_after =
                        Some((u16::try_from(code).unwrap_or(1000), "session closed"));
                }
            }
        }
    }
    if let Err(end) = write(conn, socket, frames).await {
        return Some(end);
    }
    crate::metrics::outbound_written(drained_at);
    conn.close_after
        .take()
        .map(|(code, reason)| End::Close(code, reason))
}

/// One inbound frame: decode, run the command, write its replies.
async fn on_frame(
    conn: &mut Conn,
    socket: &mut WebSocket,
    frame: Option<Result<Message, axum::Error>>,
) -> Option<End> {
    conn.last_inbound = Instant::now();
    let message = match frame {
        None => return Some(End::Gone),
        Some(Err(err)) => return Some(transport_error(&err)),
        Some(Ok(message)) => message,
    };
    match &message {
        Message::Binary(_) | Message::Text(_) => {}
        Message::Close(_) => return Some(End::Gone),
        Message::Ping(_) | Message::Pong(_) => return None,
    }
    match codec::decode(conn.protocol.format, &message) {
        Ok(command) => Box::pin(dispatch::handle(conn, command)).await,
        Err(DecodeError::Unparseable) => {
            let unsolicited = GenericCommand::default();
            conn.reply(reply::error(
                &unsolicited,
                reply::UNPARSEABLE_RAW_MESSAGE,
                "The frame is not a GenericCommand.",
            ));
        }
        Err(DecodeError::TooLong(command)) => {
            let err = crate::error::Error::bad_request(
                crate::error::code::FRAME_TOO_LONG,
                "A command is at most 5120 bytes.",
            );
            refuse(conn, &command, &err);
        }
        Err(DecodeError::NulCharacter(command)) => {
            let err = crate::error::Error::bad_request(
                crate::error::code::INVALID_CHARACTER,
                crate::domain::text::NUL_REFUSED,
            );
            refuse(conn, &command, &err);
        }
    }
    let format = conn.protocol.format;
    // `take`, not `drain`: a kept `Vec<GenericCommand>` would hold kilobytes per idle
    // connection (a command is over 3 KB unencoded).
    let frames: Vec<Message> = std::mem::take(&mut conn.replies)
        .iter()
        .map(|c| codec::frame(format, c))
        .collect();
    if let Err(end) = write(conn, socket, frames).await {
        return Some(end);
    }
    conn.close_after
        .take()
        .map(|(code, reason)| End::Close(code, reason))
}

/// Answers a command refused before dispatch: an `ack` with the error for a `direct`
/// (what the SDK's send waits for), an error command for anything else.
fn refuse(conn: &mut Conn, command: &GenericCommand, err: &crate::error::Error) {
    let is_direct = command.cmd == Some(CommandType::Direct as i32);
    conn.reply(if is_direct {
        reply::failed_ack(command, err)
    } else {
        reply::failure(command, err)
    });
}

fn on_timer(conn: &Conn) -> Option<End> {
    let now = Instant::now();
    let config = &conn.state.config;
    if now >= conn.last_inbound + Duration::from_secs(config.ws_idle_timeout_secs) {
        return Some(End::Close(close::READ_TIMEOUT, "READ_TIMEOUT"));
    }
    match conn.without_session_since {
        Some(since) if now >= since + Duration::from_secs(config.ws_login_timeout_secs) => {
            Some(End::Close(close::LOGIN_TIMEOUT, "LOGIN_TIMEOUT"))
        }
        _ => None,
    }
}

/// Writes frames with one flush, within `ws_write_timeout_secs`. A client that stops
/// reading blocks the write, so the write races everything else the loop would have
/// watched meanwhile: shutdown, the queue overflowing, the login and idle timers, and its
/// own deadline. Whichever ends first decides how the connection ends.
async fn write(conn: &Conn, socket: &mut WebSocket, frames: Vec<Message>) -> Result<(), End> {
    if frames.is_empty() {
        return Ok(());
    }
    let writing = async {
        for frame in frames {
            socket.feed(frame).await?;
        }
        socket.flush().await
    };
    let write_deadline =
        Instant::now() + Duration::from_secs(conn.state.config.ws_write_timeout_secs);
    tokio::select! {
        result = writing => result.map_err(|_| End::Gone),
        () = conn.state.shutdown.cancelled() => Err(End::Shutdown),
        () = conn.outbox.overflowed() => Err(End::Close(close::SLOW_CLIENT, "slow client")),
        () = tokio::time::sleep_until(write_deadline) => {
            Err(End::Close(close::SLOW_CLIENT, "write timeout"))
        }
        () = tokio::time::sleep_until(conn.deadline()) => {
            Err(on_timer(conn).unwrap_or(End::Close(close::READ_TIMEOUT, "READ_TIMEOUT")))
        }
    }
}
