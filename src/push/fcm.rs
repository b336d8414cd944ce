//! FCM HTTP v1 with a service-account key: an OAuth2 JWT-bearer grant (RFC 7523; RS256 JWT
//! `{iss: client_email, scope, aud: token_uri, iat, exp}`) at the key's `token_uri` gives an
//! access token, reused until shortly before it expires; then `POST
//! {fcm}/v1/projects/{project_id}/messages:send` with `{"message": {"token", "notification",
//! "data"}}`. 404 `UNREGISTERED` (and 400 naming an invalid registration token) mean the
//! token is gone.

use super::payload;
use super::{Job, Outcome, PushService};
use crate::domain::app::App;
use crate::store::push::Device;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Access tokens are renewed this long before Google says they expire.
const RENEW_EARLY: Duration = Duration::from_secs(300);

/// The fields of a service-account key file that FCM needs.
#[derive(Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl ServiceAccount {
    pub fn parse(text: &str) -> Result<ServiceAccount, String> {
        let account: ServiceAccount =
            serde_json::from_str(text).map_err(|e| format!("not a service-account key: {e}"))?;
        jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|_| "private_key is not an RSA key (PEM)".to_owned())?;
        Ok(account)
    }
}

#[derive(Clone)]
pub struct CachedAccess {
    token: String,
    expires: Instant,
    made_for: String,
}

fn cached(service: &PushService, app: &App, made_for: &str) -> Option<String> {
    let tokens = service.fcm_tokens.lock();
    let cached = tokens.get(&app.app_id)?;
    (cached.made_for == made_for && Instant::now() < cached.expires).then(|| cached.token.clone())
}

async fn access_token(service: &PushService, app: &App, account: &ServiceAccount) -> Outcome {
    let token_uri = account.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
    let made_for = format!("{}:{token_uri}", account.client_email);
    if let Some(token) = cached(service, app, &made_for) {
        return Outcome::Token(token);
    }
    // One grant at a time: calls racing for the first token wait for it, not fetch their own.
    let _fetching = service.fcm_fetch.lock().await;
    if let Some(token) = cached(service, app, &made_for) {
        return Outcome::Token(token);
    }
    let Ok(key) = jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes()) else {
        return Outcome::Failed("the service account's private_key is not an RSA key".into());
    };
    let now = crate::domain::time::now_ms() / 1000;
    let claims = json!({
        "iss": account.client_email, "scope": SCOPE, "aud": token_uri,
        "iat": now, "exp": now + 3600,
    });
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let assertion = match jsonwebtoken::encode(&header, &claims, &key) {
        Ok(jwt) => jwt,
        Err(e) => return Outcome::Failed(format!("signing the OAuth assertion: {e}")),
    };
    let answer = service
        .h2
        .post(token_uri)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(format!("OAuth token endpoint unreachable: {e}")),
    };
    let status = response.status().as_u16();
    if status != 200 {
        return match status {
            429 | 500..=599 => Outcome::Retry(format!("OAuth token endpoint answered {status}")),
            _ => Outcome::Failed(format!("OAuth token endpoint refused the key ({status})")),
        };
    }
    let Ok(grant) = response.json::<Value>().await else {
        return Outcome::Retry("OAuth token endpoint sent no JSON".into());
    };
    let Some(token) = grant.get("access_token").and_then(Value::as_str) else {
        return Outcome::Retry("OAuth answer without access_token".into());
    };
    let lifetime = Duration::from_secs(
        grant
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600),
    );
    service.fcm_tokens.lock().insert(
        app.app_id.clone(),
        CachedAccess {
            token: token.to_owned(),
            expires: Instant::now() + lifetime.saturating_sub(RENEW_EARLY),
            made_for,
        },
    );
    Outcome::Token(token.to_owned())
}

/// The v1 `message` for one token: `notification` from `title`/`alert`, every other
/// public key as a string in `data`.
pub fn message(payload: &Value, token: &str) -> Value {
    let mut fields = payload::for_platform(payload, "android");
    let mut notification = Map::new();
    if let Some(title) = fields.remove("title") {
        notification.insert("title".into(), title);
    }
    match fields.remove("alert") {
        Some(Value::String(body)) => {
            notification.insert("body".into(), Value::String(body));
        }
        Some(Value::Object(alert)) => {
            for key in ["title", "body"] {
                if let Some(v) = alert.get(key) {
                    notification.insert(key.into(), v.clone());
                }
            }
        }
        _ => {}
    }
    let data: Map<String, Value> = fields
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with('_') && !matches!(k.as_str(), "badge" | "sound" | "category")
        })
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, Value::String(text))
        })
        .collect();
    let mut message = json!({ "token": token });
    if !notification.is_empty() {
        message["notification"] = Value::Object(notification);
    }
    if !data.is_empty() {
        message["data"] = Value::Object(data);
    }
    json!({ "message": message })
}

pub async fn send(service: &PushService, app: &App, job: &Job, device: &Device) -> Outcome {
    let text = app
        .settings
        .push
        .push_fcm_service_account
        .as_deref()
        .unwrap_or_default();
    let account = match ServiceAccount::parse(text) {
        Ok(account) => account,
        Err(e) => return Outcome::Failed(e),
    };
    let token = match access_token(service, app, &account).await {
        Outcome::Token(token) => token,
        other => return other,
    };
    let base = app
        .settings
        .push
        .push_fcm_url
        .as_deref()
        .unwrap_or(super::settings::FCM_URL);
    let url = format!(
        "{}/v1/projects/{}/messages:send",
        base.trim_end_matches('/'),
        account.project_id
    );
    let answer = service
        .h2
        .post(url)
        .bearer_auth(&token)
        .json(&message(&job.payload, &device.token))
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(format!("FCM unreachable: {e}")),
    };
    let status = response.status().as_u16();
    if status == 200 {
        return Outcome::Sent;
    }
    let text = response.text().await.unwrap_or_default();
    match status {
        404 => Outcome::Unregistered,
        400 if text.contains("UNREGISTERED") || text.contains("registration token") => {
            Outcome::Unregistered
        }
        401 => {
            service.fcm_tokens.lock().remove(&app.app_id);
            Outcome::Retry("FCM refused the access token".into())
        }
        429 | 500..=599 => Outcome::Retry(format!("FCM {status}")),
        _ => Outcome::Failed(format!("FCM {status}")),
    }
}
