//! The REST API: one module per resource family, each with its own `router()`; this module
//! merges them and adds the layers (request ids, tracing, body limit, panic guard).

mod agora;
mod auth;
mod broadcasts;
mod clients;
mod conversations;
mod files;
mod global;
mod health;
mod installations;
pub mod json;
mod member_info;
mod members;
mod messages;
mod moderation;
mod service;
mod sign;
mod uplink;

pub use auth::{AppKey, ImCaller, MasterKey};

use crate::domain::conversation::Kind;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The conversation families of the REST API; the URL decides the kind.
pub trait Family: Send + Sync + 'static {
    /// The kind a create in this family makes.
    const KIND: Kind;
    /// The kinds this family's `{id}` may address.
    const KINDS: &'static [Kind];
    /// Whether create answers with the whole object (conversations) or only
    /// `objectId` + `createdAt` (chat rooms, service conversations).
    const FULL_CREATE_RESPONSE: bool;
}

pub struct Conversations;
impl Family for Conversations {
    const KIND: Kind = Kind::Normal;
    const KINDS: &'static [Kind] = &[Kind::Normal, Kind::Temporary];
    const FULL_CREATE_RESPONSE: bool = true;
}

pub struct ChatRooms;
impl Family for ChatRooms {
    const KIND: Kind = Kind::ChatRoom;
    const KINDS: &'static [Kind] = &[Kind::ChatRoom];
    const FULL_CREATE_RESPONSE: bool = false;
}

pub struct ServiceConversations;
impl Family for ServiceConversations {
    const KIND: Kind = Kind::Service;
    const KINDS: &'static [Kind] = &[Kind::Service];
    const FULL_CREATE_RESPONSE: bool = false;
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let max_body = state.config.max_body_bytes;
    let rtm = Router::new()
        .merge(conversations::router::<Conversations>("/conversations"))
        .merge(conversations::router::<ChatRooms>("/chatrooms"))
        .merge(conversations::router::<ServiceConversations>(
            "/service-conversations",
        ))
        .merge(members::router())
        .merge(moderation::router())
        .merge(messages::router::<Conversations>("/conversations"))
        .merge(messages::router::<ChatRooms>("/chatrooms"))
        .merge(service::router())
        .merge(uplink::router())
        .merge(broadcasts::router())
        .merge(global::router())
        .merge(clients::router())
        .merge(sign::router());
    Router::new()
        .nest("/1.2/rtm", rtm)
        .merge(health::router())
        .merge(agora::router())
        .merge(member_info::router())
        .merge(files::router())
        .merge(installations::router())
        .merge(sign::sdk_router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Bodies past the limit fail in the extractor, which answers LeanCloud's 413 shape.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| Error::internal("handler panicked").into_response()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

async fn not_found() -> Error {
    Error::not_found(
        crate::error::code::OBJECT_NOT_FOUND,
        "The requested path does not exist.",
    )
}
