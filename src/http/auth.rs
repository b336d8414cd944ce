//! Authentication extractors, so handlers read like the spec: [`MasterKey`] for admin
//! endpoints, [`AppKey`] where the app key is enough (the master key is accepted there too).
//!
//! Credentials: `X-LC-Id` with `X-LC-Key: {appkey}` or `{masterkey},master`, or
//! `X-LC-Sign: md5(timestamp+key),timestamp[,master]`, plus the legacy `X-AVOSCloud-*` and
//! `X-Uluru-*` aliases. Every failure, including an app key on a master-only endpoint, is
//! 401 `{"code":401,"error":"Unauthorized."}`.

use crate::domain::app::App;
use crate::domain::signature;
use crate::domain::time;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::sync::Arc;

/// A caller holding the master key.
pub struct MasterKey(pub Arc<App>);

/// A caller holding the app key or the master key.
pub struct AppKey(pub Arc<App>);

impl FromRequestParts<AppState> for MasterKey {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(&parts.headers, state).await? {
            (app, true) => Ok(MasterKey(app)),
            (_, false) => Err(Error::Unauthorized),
        }
    }
}

impl FromRequestParts<AppState> for AppKey {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (app, _) = authenticate(&parts.headers, state).await?;
        Ok(AppKey(app))
    }
}

/// The master key (the admin), or the app key with an IM session token
/// (`X-LC-IM-Session-Token`, the `st` of a login): the client it was issued to.
pub struct ImCaller(pub crate::app::actor::Actor);

impl FromRequestParts<AppState> for ImCaller {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (app, master) = authenticate(&parts.headers, state).await?;
        if master {
            return Ok(ImCaller(crate::app::actor::Actor::Admin(app)));
        }
        let token =
            header(&parts.headers, &["x-lc-im-session-token"]).ok_or(Error::Unauthorized)?;
        let session =
            crate::app::sessions::client_of_token(state, &app, token).ok_or(Error::Unauthorized)?;
        Ok(ImCaller(crate::app::actor::Actor::Client(session)))
    }
}

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Returns the app and whether the caller proved the master key.
async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<(Arc<App>, bool), Error> {
    let app_id = header(
        headers,
        &[
            "x-lc-id",
            "x-avoscloud-application-id",
            "x-uluru-application-id",
        ],
    )
    .ok_or(Error::Unauthorized)?;
    let app = crate::app::sessions::find_app(state, app_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    if let Some(master) = header(headers, &["x-avoscloud-master-key", "x-uluru-master-key"]) {
        return if signature::same(master, &app.master_key) {
            Ok((app, true))
        } else {
            Err(Error::Unauthorized)
        };
    }
    if let Some(key) = header(
        headers,
        &[
            "x-lc-key",
            "x-avoscloud-application-key",
            "x-uluru-application-key",
        ],
    ) {
        return match key.strip_suffix(",master") {
            Some(master) if signature::same(master, &app.master_key) => Ok((app, true)),
            None if signature::same(key, &app.app_key) => Ok((app, false)),
            _ => Err(Error::Unauthorized),
        };
    }
    if let Some(sign) = header(headers, &["x-lc-sign", "x-avoscloud-request-sign"]) {
        let max_skew_ms = state.config.sign_max_skew_secs as i64 * 1000;
        return match verify_sign(sign, &app, max_skew_ms) {
            Some(master) => Ok((app, master)),
            None => Err(Error::Unauthorized),
        };
    }
    Err(Error::Unauthorized)
}

/// `sign,timestamp[,master]`; returns whether the master key signed it.
fn verify_sign(value: &str, app: &App, max_skew_ms: i64) -> Option<bool> {
    let mut parts = value.split(',').map(str::trim);
    let sign = parts.next()?.to_ascii_lowercase();
    let timestamp = parts.next()?;
    let master = match parts.next() {
        None => false,
        Some("master") => true,
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let ts: i64 = timestamp.parse().ok()?;
    if max_skew_ms > 0 && (time::now_ms() - ts).abs() > max_skew_ms {
        return None;
    }
    let key = if master {
        &app.master_key
    } else {
        &app.app_key
    };
    signature::same(&sign, &signature::rest_sign(timestamp, key)).then_some(master)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::app::AppSettings;

    fn docs_app() -> App {
        App {
            app_id: "docs".into(),
            app_key: "UtOCzqb67d3sN12Kts4URwy8".into(),
            master_key: "DyJegPlemooo4X1tg94gQkw1".into(),
            settings: AppSettings::default(),
        }
    }

    #[test]
    fn the_documented_signatures_verify_without_a_freshness_window() {
        let app = docs_app();
        assert_eq!(
            verify_sign("d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466", &app, 0),
            Some(false)
        );
        assert_eq!(
            verify_sign(
                "e074720658078c898aa0d4b1b82bdf4b,1453014943466,master",
                &app,
                0
            ),
            Some(true)
        );
        assert_eq!(
            verify_sign(
                "E074720658078C898AA0D4B1B82BDF4B,1453014943466,master",
                &app,
                0
            ),
            Some(true)
        );
        assert_eq!(
            verify_sign(
                "d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466,master",
                &app,
                0
            ),
            None
        );
    }

    #[test]
    fn stale_signatures_are_refused_when_a_window_is_set() {
        assert_eq!(
            verify_sign(
                "d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466",
                &docs_app(),
                900_000
            ),
            None
        );
    }
}
