//! Logging clients in and out: the app a session belongs to, login proofs (a session token
//! `st` from an earlier login, or a login signature when the app requires one), tokens,
//! daily login records, and forced kicks (E43), which void earlier tokens and signatures.

use crate::app::actor::ClientSession;
use crate::app::hooks::presence;
use crate::app::session_token::{self, Claims};
use crate::domain::app::App;
use crate::domain::{signature, time};
use crate::error::{code, Result};
use crate::hub::{Event, Recipients};
use crate::state::AppState;
use std::sync::Arc;

/// The app a login names.
pub async fn find_app(state: &AppState, app_id: &str) -> Result<Option<Arc<App>>> {
    state.apps.get(&state.store, app_id).await
}

/// What the client proved at login.
pub struct LoginProof<'a> {
    pub session_token: Option<&'a str>,
    pub timestamp: Option<i64>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A re-open proves itself with `st` (its claims are returned); a first open with a
/// signature when the app asks. Both are void when issued before a forced kick.
pub fn authenticate(
    state: &AppState,
    app: &App,
    client: &str,
    proof: &LoginProof<'_>,
) -> std::result::Result<Option<Claims>, (i64, &'static str)> {
    let now = time::now_ms();
    if let Some(token) = proof.session_token.filter(|t| !t.is_empty()) {
        let expired = Err((
            code::SESSION_TOKEN_EXPIRED,
            "The session token is invalid or expired.",
        ));
        return match session_token::verify(&app.app_id, &app.master_key, token, time::now_ms()) {
            Some(claims) if claims.client == client => {
                let issued_at = claims.expires_at_ms - token_ttl_ms(state);
                if state.revocations.is_revoked(&app.app_id, client, issued_at) {
                    expired
                } else {
                    Ok(Some(claims))
                }
            }
            _ => expired,
        };
    }
    if !app.settings.login_signature_required {
        return Ok(None);
    }
    let refused = Err((
        code::SIGNATURE_FAILED,
        "Login signature verification failed.",
    ));
    let (Some(t), Some(n), Some(s)) = (proof.timestamp, proof.nonce, proof.signature) else {
        return refused;
    };
    let at = signature::timestamp_ms(t);
    if (now - at).abs() > signature::REALTIME_SIGNATURE_TTL_MS
        || state.revocations.is_revoked(&app.app_id, client, at)
    {
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

/// The client an IM session token (`st`) of `app` was issued to, if it is valid and was
/// not revoked (REST calls the SDKs make with `X-LC-IM-Session-Token`).
pub fn client_of_token(state: &AppState, app: &Arc<App>, token: &str) -> Option<ClientSession> {
    let claims = session_token::verify(&app.app_id, &app.master_key, token, time::now_ms())?;
    let issued_at = claims.expires_at_ms - token_ttl_ms(state);
    if state
        .revocations
        .is_revoked(&app.app_id, &claims.client, issued_at)
    {
        return None;
    }
    Some(ClientSession {
        app: Arc::clone(app),
        client: Arc::from(claims.client.as_str()),
        session: 0,
    })
}

fn token_ttl_ms(state: &AppState) -> i64 {
    (state.config.session_token_ttl_secs.min(i32::MAX as u64) as i64) * 1000
}

/// A fresh session token for a logged-in client, and its lifetime in seconds.
pub fn issue_token(
    state: &AppState,
    app: &App,
    client: &str,
    tag: Option<&str>,
    device: Option<&str>,
) -> (String, i32) {
    let ttl = state.config.session_token_ttl_secs.min(i32::MAX as u64);
    let claims = Claims {
        client: client.to_owned(),
        // Issued strictly after any revocation made in the same millisecond.
        expires_at_ms: time::now_ms() + 1 + (ttl as i64) * 1000,
        tag: tag.map(str::to_owned),
        device: device.map(str::to_owned),
    };
    (
        session_token::issue(&app.app_id, &app.master_key, &claims),
        ttl as i32,
    )
}

/// Daily logins feed E47's `user_count_today`; written in the background (coalesced).
pub fn record_login(state: &AppState, app: &str, client: &str) {
    let day = time::utc_day(time::now_ms());
    state.background.record_login(app, client, day);
}

/// E43: closes every session of `client` with 4115 and voids its earlier tokens and
/// signatures, so it cannot log straight back in with them.
pub async fn kick(state: &AppState, app: &App, client: &str, reason: String) -> Result<()> {
    let now = time::now_ms();
    state
        .revocations
        .revoke(&state.store, &app.app_id, client, now)
        .await?;
    if let Some(cluster) = state.hub.cluster() {
        cluster.broadcast(crate::cluster::wire::Body::Revoke {
            app: app.app_id.clone(),
            client: client.to_owned(),
            at: now,
        });
    }
    let tags = session_tags(state, &app.app_id, client);
    let event = Event::Kick {
        code: code::KICKED_BY_APP as i32,
        reason: reason.clone(),
    };
    state.hub.publish(
        &app.app_id,
        Recipients::Clients(vec![client.to_owned()]),
        event,
    );
    // `_clientOffline` for each session, here where the kick is decided: the sessions may
    // be on other connections or nodes, which close them without knowing why.
    if !tags.is_empty() {
        let app = Arc::new(app.clone());
        for tag in &tags {
            let why = presence::Offline {
                close_code: presence::CLOSE_KICKED_BY_API,
                close_msg: &reason,
                source_ip: None,
                tag: tag.as_deref(),
                error: Some((code::KICKED_BY_APP, "KICKED_BY_APP")),
            };
            presence::offline(state, &app, client, why);
        }
    }
    Ok(())
}

/// The single-device tag of each live session of `client`, on this node and (clustered)
/// on the others. Walks this node's sessions: a kick is a rare admin call.
fn session_tags(state: &AppState, app: &str, client: &str) -> Vec<Option<String>> {
    let mut tags: Vec<Option<String>> = state
        .hub
        .local_sessions()
        .into_iter()
        .filter(|s| s.app == app && s.client == client)
        .map(|s| s.tag)
        .collect();
    if let Some(cluster) = state.hub.cluster() {
        tags.extend(cluster.replica().session_tags(app, client));
    }
    tags
}

/// Whether each client has a live session (E41, `session query`).
pub fn online(state: &AppState, app: &str, clients: &[String]) -> Vec<String> {
    clients
        .iter()
        .filter(|c| state.hub.is_online(app, c))
        .cloned()
        .collect()
}
