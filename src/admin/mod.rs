//! The web console at `/admin`: server-rendered pages (minijinja templates embedded in the
//! binary, HTML auto-escaping on), one small script for live counters, no build step.
//! A door like REST: every action calls a use case in `crate::app::admin`.
//!
//! Every response carries `X-Frame-Options: DENY` and a Content-Security-Policy that allows
//! only this origin's scripts and styles and no framing (clickjacking); forms carry a CSRF
//! token (see [`session`]); pages answer 303 to the sign-in page without a valid session.

mod actions;
mod pages;
mod session;
mod view;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/", get(pages::overview))
        .route("/admin/login", get(pages::login_page).post(actions::login))
        .route("/admin/logout", post(actions::logout))
        .route("/admin/counters.json", get(pages::counters))
        .route("/admin/conversations", get(pages::conversations))
        .route("/admin/conversations/{conv_id}", get(pages::conversation))
        .route(
            "/admin/conversations/{conv_id}/messages",
            post(actions::send_message),
        )
        .route("/admin/actions", get(pages::actions))
        .route("/admin/kick", post(actions::kick))
        .route("/admin/broadcast", post(actions::broadcast))
        .route("/admin/assets/console.css", get(stylesheet))
        .route("/admin/assets/console.js", get(script))
        .layer(axum::middleware::from_fn(protect))
        .with_state(state)
}

/// Headers that keep the console out of frames, scripts to this origin, and pages out of
/// caches. `Referrer-Policy: same-origin`, not `no-referrer`: under `no-referrer` browsers
/// send `Origin: null` with form posts, and the CSRF check needs the real origin.
async fn protect(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Where a request without a valid session goes.
fn to_sign_in() -> Response {
    Redirect::to("/admin/login").into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/console.js"),
    )
        .into_response()
}

/// Refused: a form without a valid CSRF token, or from another origin.
fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response()
}
