//! The IM session token (`st`) handed out at login: stateless, so it survives a restart.
//! `base64url(claims) "." hex(hmac_sha1(master_key, app ":" claims))`, where the claims are a
//! compact JSON array `[client, expires_at_ms, tag, device]`. JS re-opens with only `r` and
//! `st` (no `tag`, no `deviceId`), so the token carries the single-device tag and the device
//! it was issued to: a device whose tag was taken meanwhile is refused (4111).

use crate::domain::signature;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// What a token says about the session it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub client: String,
    pub expires_at_ms: i64,
    pub tag: Option<String>,
    pub device: Option<String>,
}

type Wire = (String, i64, Option<String>, Option<String>);

pub fn issue(app: &str, master_key: &str, claims: &Claims) -> String {
    let wire: Wire = (
        claims.client.clone(),
        claims.expires_at_ms,
        claims.tag.clone(),
        claims.device.clone(),
    );
    let json = serde_json::to_string(&wire).unwrap_or_default();
    let mac = signature::realtime_sign(master_key, &[app, &json]);
    format!("{}.{mac}", URL_SAFE_NO_PAD.encode(json))
}

/// The claims of a genuine token of `app` that has not expired at `now_ms`.
pub fn verify(app: &str, master_key: &str, token: &str, now_ms: i64) -> Option<Claims> {
    let (body, mac) = token.trim().rsplit_once('.')?;
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    if !signature::same(mac, &signature::realtime_sign(master_key, &[app, &json])) {
        return None;
    }
    let (client, expires_at_ms, tag, device): Wire = serde_json::from_str(&json).ok()?;
    (expires_at_ms > now_ms).then_some(Claims {
        client,
        expires_at_ms,
        tag,
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_only_with_the_right_key() {
        let claims = Claims {
            client: "a:b.c".into(),
            expires_at_ms: 2_000,
            tag: Some("Mobile".into()),
            device: None,
        };
        let token = issue("app", "master", &claims);
        assert_eq!(verify("app", "master", &token, 1_000), Some(claims));
        assert_eq!(verify("app", "master", &token, 2_000), None);
        assert_eq!(verify("app", "other", &token, 1_000), None);
        assert_eq!(verify("other-app", "master", &token, 1_000), None);
        assert_eq!(verify("app", "master", "garbage!", 1_000), None);
        assert_eq!(verify("app", "master", &format!("x{token}"), 1_000), None);
    }
}
