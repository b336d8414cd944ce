//! E46 `GET /1.2/rtm/clients/sign` and its v1.1 twin `POST /1.1/rtm/sign`: a login
//! signature for the LeanStorage user owning a session token (`rest-semantics.md` 8.2).
//! The token is checked against the app's user service with LeanStorage's own call
//! (`GET {user_service_url}/1.1/users/me` with `X-LC-Session`), then the app's
//! `_rtmClientSign` hook may refuse.

use crate::app::hooks::{self, Failure, Hook};
use crate::domain::app::App;
use crate::domain::{ids, signature, time};
use crate::error::{code, Error, Result};
use crate::state::AppState;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

const USER_SERVICE_TIMEOUT: Duration = Duration::from_secs(5);
/// The `_User` fields handed to `_rtmClientSign`.
const USER_FIELDS: &[&str] = &[
    "objectId",
    "username",
    "email",
    "phone",
    "mobilePhoneNumber",
    "sessionToken",
    "createdAt",
    "updatedAt",
    "emailVerified",
    "mobilePhoneVerified",
];

/// A login signature for `client_id` (the user's `objectId`), `timestamp` in ms.
#[derive(Debug, Serialize)]
pub struct ClientSignature {
    pub signature: String,
    pub nonce: String,
    pub client_id: String,
    pub timestamp: i64,
}

fn unknown_user() -> Error {
    Error::bad_request(code::USER_NOT_FOUND, "Could not find user.")
}

pub async fn sign(state: &AppState, app: &App, session_token: &str) -> Result<ClientSignature> {
    if session_token.is_empty() {
        return Err(Error::bad_request(
            code::MISSING_REQUIRED,
            "Missing required field: session_token.",
        ));
    }
    let user = user_of(state, app, session_token).await?;
    let client_id = user
        .get("objectId")
        .and_then(Value::as_str)
        .filter(|id| crate::domain::client_id::is_valid(id))
        .ok_or_else(unknown_user)?
        .to_owned();
    approve(state, app, user).await?;
    let timestamp = time::now_ms();
    let nonce = ids::random_token(16);
    let signature = signature::realtime_sign(
        &app.master_key,
        &[&app.app_id, &client_id, "", &timestamp.to_string(), &nonce],
    );
    Ok(ClientSignature {
        signature,
        nonce,
        client_id,
        timestamp,
    })
}

/// The user owning the token, as the user service returns it (the fields the hook gets).
async fn user_of(state: &AppState, app: &App, session_token: &str) -> Result<Map<String, Value>> {
    let Some(base) = app.settings.user_service_url.as_deref() else {
        tracing::warn!(app = %app.app_id, "clients/sign called but no user_service_url is set");
        return Err(unknown_user());
    };
    let url = format!("{}/1.1/users/me", base.trim_end_matches('/'));
    let response = state
        .hooks
        .http()
        .get(url)
        .timeout(USER_SERVICE_TIMEOUT)
        .header("X-LC-Id", &app.app_id)
        .header("X-LC-Key", &app.app_key)
        .header("X-LC-Session", session_token)
        .send()
        .await
        .map_err(|e| Error::internal(format!("user service unreachable: {e}")))?;
    if response.status().is_server_error() {
        return Err(Error::internal(format!(
            "user service answered {}",
            response.status()
        )));
    }
    if !response.status().is_success() {
        return Err(unknown_user());
    }
    let user: Value = response.json().await.map_err(|_| unknown_user())?;
    let Value::Object(user) = user else {
        return Err(unknown_user());
    };
    Ok(user
        .into_iter()
        .filter(|(k, _)| USER_FIELDS.contains(&k.as_str()))
        .collect())
}

/// `_rtmClientSign`: `true` allows; `false`, or a thrown error, denies (403 with its
/// `error`). No hook: allowed. A hook that does not answer follows the failure policy.
async fn approve(state: &AppState, app: &App, user: Map<String, Value>) -> Result<()> {
    if !hooks::defined(app, Hook::RtmClientSign) {
        return Ok(());
    }
    let denied = |error: Option<&str>| {
        Error::forbidden(
            code::UNAUTHORIZED,
            error.unwrap_or("Refused by the app's _rtmClientSign hook."),
        )
    };
    match hooks::call_blocking(state, app, Hook::RtmClientSign, &Value::Object(user)).await {
        Ok(Value::Bool(true)) => Ok(()),
        Ok(Value::Object(result)) if hooks::truthy(result.get("result")) => Ok(()),
        Ok(Value::Object(result)) => Err(denied(result.get("error").and_then(Value::as_str))),
        Ok(_) => Err(denied(None)),
        Err(Failure::Refused { status, error }) if status < 500 && status != 401 => {
            Err(denied(error.as_deref()))
        }
        Err(failure) => {
            tracing::warn!(app = %app.app_id, %failure, "_rtmClientSign failed");
            if hooks::failure_rejects(app) {
                Err(denied(None))
            } else {
                Ok(())
            }
        }
    }
}
