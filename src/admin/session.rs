//! Console sign-in state: a signed cookie, no server-side sessions (several nodes and
//! restarts keep working). The cookie is `APPID.KIND.EXPIRY.MAC` where MAC is
//! HMAC-SHA256 over the rest, keyed with what the user signed in with (the master key or
//! the admin token), so rotating that secret signs everyone out.
//!
//! CSRF: the cookie is `SameSite=Strict` and `HttpOnly`, every form carries a token derived
//! from the cookie (HMAC with a different label), and a cross-site `Origin` is refused.

use crate::app::admin::{self, Credential};
use crate::domain::app::App;
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

pub const COOKIE: &str = "tidings_admin";
/// Console sessions last eight hours.
const LIFETIME_MS: i64 = 8 * 3_600_000;

/// A signed-in console user.
#[derive(Clone)]
pub struct Signed {
    pub app: Arc<App>,
    pub credential: Credential,
    /// The token every form must send back.
    pub csrf: String,
}

fn mac(secret: &str, label: &str, payload: &str) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(label.as_bytes());
    mac.update(b"\n");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn kind_tag(credential: Credential) -> &'static str {
    match credential {
        Credential::MasterKey => "m",
        Credential::AdminToken => "t",
    }
}

/// The `Set-Cookie` value for a new session.
pub fn issue(state: &AppState, app: &App, credential: Credential, secure: bool) -> Option<String> {
    let secret = admin::session_secret(state, app, credential)?;
    let expiry = crate::domain::time::now_ms() + LIFETIME_MS;
    let payload = format!("{}.{}.{expiry}", app.app_id, kind_tag(credential));
    let value = format!("{payload}.{}", mac(&secret, "session", &payload));
    let secure = if secure { "; Secure" } else { "" };
    Some(format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    ))
}

/// The `Set-Cookie` value that signs out.
pub fn clear() -> String {
    format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in user of this request, if its cookie is valid and unexpired.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<Signed> {
    let value = cookie_value(headers)?;
    let (payload, given) = value.rsplit_once('.')?;
    let mut parts = payload.rsplitn(3, '.');
    let expiry: i64 = parts.next()?.parse().ok()?;
    let credential = match parts.next()? {
        "m" => Credential::MasterKey,
        "t" => Credential::AdminToken,
        _ => return None,
    };
    let app_id = parts.next()?;
    if expiry < crate::domain::time::now_ms() {
        return None;
    }
    let app = admin::find_app(state, app_id).await.ok()??;
    let secret = admin::session_secret(state, &app, credential)?;
    if !crate::domain::signature::same(given, &mac(&secret, "session", payload)) {
        return None;
    }
    let csrf = mac(&secret, "csrf", value);
    Some(Signed {
        app,
        credential,
        csrf,
    })
}

/// Whether a state-changing request is same-origin: a matching form token, and an
/// `Origin` (when the browser sends one) naming this host.
pub fn same_origin(signed: &Signed, headers: &HeaderMap, token: Option<&str>) -> bool {
    let token_ok = token.is_some_and(|t| crate::domain::signature::same(t, &signed.csrf));
    token_ok && origin_matches_host(headers)
}

/// No `Origin` (old browsers, curl) passes; a present one must be this host.
pub fn origin_matches_host(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}
