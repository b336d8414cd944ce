//! APNs over HTTP/2 with token authentication: `POST {host}/3/device/{token}` with
//! `authorization: bearer <ES256 JWT {iss: team, iat} signed with the .p8 key, kid = key
//! id>`, `apns-topic`, `apns-push-type`, `apns-priority`. The token is reused for 50
//! minutes (Apple refuses refreshing more than every 20 and tokens older than 60).
//! 410 and 400 `BadDeviceToken` / `Unregistered` mean the token is gone.

use super::payload;
use super::{Job, Outcome, PushService};
use crate::domain::app::App;
use crate::store::push::Device;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

const TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);

/// A signed provider token, per app.
#[derive(Clone)]
pub struct CachedJwt {
    jwt: String,
    made: Instant,
    /// Which key and ids signed it (a settings change must not reuse it).
    made_for: String,
}

fn provider_token(service: &PushService, app: &App) -> Result<String, String> {
    let push = &app.settings.push;
    let key = push.push_apns_key.as_deref().unwrap_or_default();
    let key_id = push.push_apns_key_id.as_deref().unwrap_or_default();
    let team = push.push_apns_team_id.as_deref().unwrap_or_default();
    let made_for = format!("{key_id}:{team}:{}", key.len());
    if let Some(cached) = service.apns_tokens.lock().get(&app.app_id) {
        if cached.made_for == made_for && cached.made.elapsed() < TOKEN_REUSE {
            return Ok(cached.jwt.clone());
        }
    }
    let signing = jsonwebtoken::EncodingKey::from_ec_pem(key.as_bytes())
        .map_err(|_| "push_apns_key is not a .p8 key".to_owned())?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key_id.to_owned());
    let claims = json!({ "iss": team, "iat": crate::domain::time::now_ms() / 1000 });
    let jwt = jsonwebtoken::encode(&header, &claims, &signing)
        .map_err(|e| format!("signing the APNs token: {e}"))?;
    service.apns_tokens.lock().insert(
        app.app_id.clone(),
        CachedJwt {
            jwt: jwt.clone(),
            made: Instant::now(),
            made_for,
        },
    );
    Ok(jwt)
}

/// The APNs JSON: `aps` from the Push API keys, everything else custom at the top level.
pub fn body(payload: &Value) -> (Value, bool) {
    let mut custom = payload::for_platform(payload, "ios");
    let mut aps = Map::new();
    for key in [
        "alert",
        "badge",
        "sound",
        "category",
        "thread-id",
        "content-available",
        "mutable-content",
    ] {
        if let Some(value) = custom.remove(key) {
            aps.insert(key.to_owned(), value);
        }
    }
    // LeanCloud keeps a badge per installation; without one here, "Increment" shows 1.
    if aps.get("badge").and_then(Value::as_str).is_some() {
        aps.insert("badge".to_owned(), json!(1));
    }
    custom.retain(|k, _| !k.starts_with('_'));
    let background = !aps.contains_key("alert")
        && aps.get("content-available").and_then(Value::as_i64) == Some(1);
    custom.insert("aps".to_owned(), Value::Object(aps));
    (Value::Object(custom), background)
}

pub async fn send(service: &PushService, app: &App, job: &Job, device: &Device) -> Outcome {
    let push = &app.settings.push;
    let jwt = match provider_token(service, app) {
        Ok(jwt) => jwt,
        Err(failure) => return Outcome::Failed(failure),
    };
    let sandbox = push.apns_sandbox()
        || payload::wants_sandbox(&job.payload)
        || device.profile.as_deref() == Some("dev");
    let host = if sandbox {
        push.push_apns_sandbox_url
            .as_deref()
            .unwrap_or(super::settings::APNS_SANDBOX_URL)
    } else {
        push.push_apns_production_url
            .as_deref()
            .unwrap_or(super::settings::APNS_PRODUCTION_URL)
    };
    let (body, background) = body(&job.payload);
    let url = format!("{}/3/device/{}", host.trim_end_matches('/'), device.token);
    let answer = service
        .h2
        .post(url)
        .header("authorization", format!("bearer {jwt}"))
        .header(
            "apns-topic",
            push.push_apns_topic.as_deref().unwrap_or_default(),
        )
        .header(
            "apns-push-type",
            if background { "background" } else { "alert" },
        )
        .header("apns-priority", if background { "5" } else { "10" })
        .header("apns-id", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(e) => return Outcome::Retry(format!("APNs unreachable: {e}")),
    };
    let status = response.status().as_u16();
    if status == 200 {
        return Outcome::Sent;
    }
    let reason = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    match (status, reason.as_str()) {
        (410, _) | (400, "BadDeviceToken") | (400, "Unregistered") => Outcome::Unregistered,
        (403, "ExpiredProviderToken") => {
            service.apns_tokens.lock().remove(&app.app_id);
            Outcome::Retry(reason)
        }
        (429, _) | (500..=599, _) => Outcome::Retry(format!("APNs {status} {reason}")),
        _ => Outcome::Failed(format!("APNs {status} {reason}")),
    }
}
