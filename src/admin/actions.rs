//! The console's actions (POST forms): sign in and out, kick, send, broadcast. Each checks
//! the session and the CSRF token, calls the use case, and answers 303 to a page with a
//! fixed notice (post/redirect/get), or the form's page with the error.

use super::session::{self, Signed};
use super::{forbidden, to_sign_in, view};
use crate::app::admin;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;

/// Every form field is optional here, so a missing one is our error message, not axum's.
#[derive(Deserialize, Default)]
pub struct Fields {
    csrf: Option<String>,
    app_id: Option<String>,
    key: Option<String>,
    client_id: Option<String>,
    conv_id: Option<String>,
    from_client: Option<String>,
    text: Option<String>,
}

fn field(value: &Option<String>) -> &str {
    value.as_deref().map(str::trim).unwrap_or_default()
}

/// The session and a valid CSRF token, or the response that refuses.
async fn authorized(
    state: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<Signed, Response> {
    let Some(signed) = session::current(state, headers).await else {
        return Err(to_sign_in());
    };
    if !session::same_origin(&signed, headers, fields.csrf.as_deref()) {
        return Err(forbidden());
    }
    Ok(signed)
}

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so),
/// so the cookie gets `Secure`.
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    if !session::origin_matches_host(&headers) {
        return forbidden();
    }
    let app_id = field(&fields.app_id);
    let refused = || {
        view::page(
            StatusCode::UNAUTHORIZED,
            "login.html",
            None,
            context! { error => "Unknown app id or wrong key.", app_id_given => app_id },
        )
    };
    let Ok((app, credential)) = admin::sign_in(&state, app_id, field(&fields.key)).await else {
        return refused();
    };
    let Some(cookie) = session::issue(&state, &app, credential, is_https(&headers)) else {
        return refused();
    };
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(refused) = authorized(&state, &headers, &fields).await {
        return refused;
    }
    let mut response = Redirect::to("/admin/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::clear()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn actions_page(signed: &Signed, err: &crate::error::Error) -> Response {
    view::page(
        err.status(),
        "actions.html",
        Some(signed),
        context! { error => err.public_message() },
    )
}

pub async fn kick(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match authorized(&state, &headers, &fields).await {
        Ok(signed) => signed,
        Err(refused) => return refused,
    };
    match admin::kick(&state, &signed.app, field(&fields.client_id)).await {
        Ok(()) => Redirect::to("/admin/actions?notice=kicked").into_response(),
        Err(err) => actions_page(&signed, &err),
    }
}

pub async fn broadcast(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match authorized(&state, &headers, &fields).await {
        Ok(signed) => signed,
        Err(refused) => return refused,
    };
    let sent = admin::broadcast(
        &state,
        &signed.app,
        field(&fields.conv_id),
        field(&fields.from_client),
        field(&fields.text),
    )
    .await;
    match sent {
        Ok(_) => Redirect::to("/admin/actions?notice=broadcast").into_response(),
        Err(err) => actions_page(&signed, &err),
    }
}

pub async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(conv_id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match authorized(&state, &headers, &fields).await {
        Ok(signed) => signed,
        Err(refused) => return refused,
    };
    let sent = admin::send_message(
        &state,
        &signed.app,
        &conv_id,
        field(&fields.from_client),
        field(&fields.text),
    )
    .await;
    match sent {
        Ok(_) => {
            let target = format!("/admin/conversations/{}?notice=sent", urlencoding(&conv_id));
            Redirect::to(&target).into_response()
        }
        Err(err) => view::error(Some(&signed), &err),
    }
}

/// Percent-encodes a path segment (conversation ids are hex, but imported ids need not be).
fn urlencoding(segment: &str) -> String {
    serde_urlencoded::to_string([("", segment)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
