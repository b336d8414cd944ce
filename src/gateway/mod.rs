//! The WebSocket protocol of LeanCloud's IM SDKs (`shared/spec/protocol.md`).
//!
//! - [`router`] wraps the REST router: `GET /v1/route` answers the RTM router lookup with
//!   this server's own `ws(s)://` URL, and a WebSocket upgrade on any path that is not a
//!   REST path becomes a connection.
//! - `codec`: frames <-> `GenericCommand` (binary, or base64 text for `proto2base64`).
//! - `connection`: the one task per socket; `session`: client sessions on a connection.
//! - `cmd_*`: one module per command family; `login_sync`: catch-up after `opened`.
//!
//! The gateway depends on `app`, `hub`, `domain` and `store`; never on `http`.

pub mod admission;
mod cmd_conv;
mod cmd_logs;
mod cmd_members;
mod cmd_message;
mod cmd_moderation;
mod cmd_patch;
mod cmd_query;
mod cmd_read;
mod cmd_session;
mod cmd_update;
pub mod codec;
mod connection;
mod dispatch;
mod ending;
mod login_sync;
mod reply;
mod route;
mod session;

pub use crate::proto;
pub use ending::close;

use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use codec::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;

/// Transport limit: frames above the 5 KB command limit still arrive whole so they can be
/// answered with `4109`; beyond this the connection is closed with 4109.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Idle connections are the common case: small read buffer, write buffer grown on demand
/// (tungstenite's defaults allocate 128 KiB per connection up front). tungstenite keeps the
/// read buffer for the connection's life, so every idle connection holds it: 128 bytes fit
/// most commands an idle client sends (acks, reads, pings); a bigger frame grows it and is
/// read 128 bytes per call (issue 12: 128 bytes less in each of 10,000 idle connections).
const READ_BUFFER_BYTES: usize = 128;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Paths that stay REST even when a client asks to upgrade.
const REST_PREFIXES: &[&str] = &[
    "/1.1/",
    "/1.2/",
    "/healthz",
    "/readyz",
    "/v1/route",
    "/dev/",
];

/// The whole HTTP surface: `/v1/route`, WebSocket upgrades, and `rest` for the rest.
pub fn router(state: AppState, rest: Router) -> Router {
    // One `AppState` shared by every connection: a clone per connection was ~230 bytes
    // (and a `String`) in each idle connection.
    let shared = Arc::new(state.clone());
    Router::new()
        .route("/v1/route", get(route::route))
        .fallback_service(rest)
        .layer(middleware::from_fn_with_state(shared, upgrades))
        .with_state(state)
}

fn is_upgrade(request: &Request) -> bool {
    request.method() == Method::GET
        && request
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Takes WebSocket upgrades on non-REST paths; everything else goes on.
async fn upgrades(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !is_upgrade(&request) || REST_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return next.run(request).await;
    }
    let query = request.uri().query().unwrap_or_default().to_owned();
    let (mut parts, _body) = request.into_parts();
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let admitted = match state.connections.admit(remote) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    accept(upgrade, state, &query, remote, admitted)
}

fn accept(
    upgrade: WebSocketUpgrade,
    state: Arc<AppState>,
    query: &str,
    remote_ip: Option<std::net::IpAddr>,
    admitted: admission::Admitted,
) -> Response {
    let (protocol, echo) = negotiate(&upgrade, query);
    let mut upgrade = upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES);
    if let Some(name) = echo {
        upgrade.set_selected_protocol(HeaderValue::from_static(name));
    }
    // Boxed, so the callback axum keeps in its task for the connection's lifetime is one
    // pointer (its captures would otherwise stay there, moved out but not freed).
    let accepted = Box::new(connection::Accepted {
        state,
        protocol,
        remote_ip,
        admitted,
    });
    upgrade.on_upgrade(move |socket| connection::serve(socket, *accepted))
}

/// The first offered sub-protocol this server speaks, echoed back (the Node `ws` client
/// aborts without the echo). WeChat builds pass `?subprotocol=` instead of the header;
/// that choice is not echoed, since the client did not offer it in the handshake.
fn negotiate(upgrade: &WebSocketUpgrade, query: &str) -> (Protocol, Option<&'static str>) {
    for offered in upgrade.requested_protocols() {
        let Ok(text) = offered.to_str() else { continue };
        for name in text.split(',').map(str::trim) {
            if let Some(known) = Protocol::SUPPORTED.iter().find(|s| **s == name) {
                return (Protocol::parse(known).unwrap_or_default(), Some(known));
            }
        }
    }
    let from_query = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "subprotocol"))
        .and_then(|(_, v)| Protocol::parse(&v));
    (from_query.unwrap_or_default(), None)
}
