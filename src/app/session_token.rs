//! The IM session token (`st`) handed out at login: stateless, so it survives a restart.
//! `base64url(client ":" expiry_ms ":" hex(hmac_sha1(master_key, app ":" client ":" expiry_ms)))`.
//! The client id may contain `:`, so the token is parsed from the right.

use crate::domain::signature;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Issues a token for `client` of `app`, valid until `expires_at_ms`.
pub fn issue(app: &str, master_key: &str, client: &str, expires_at_ms: i64) -> String {
    let expiry = expires_at_ms.to_string();
    let mac = signature::realtime_sign(master_key, &[app, client, &expiry]);
    URL_SAFE_NO_PAD.encode(format!("{client}:{expiry}:{mac}"))
}

/// The client id a token was issued to, if it is genuine and unexpired at `now_ms`.
pub fn verify(app: &str, master_key: &str, token: &str, now_ms: i64) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token.trim()).ok()?).ok()?;
    let mut parts = text.rsplitn(3, ':');
    let (mac, expiry, client) = (parts.next()?, parts.next()?, parts.next()?);
    let expires_at: i64 = expiry.parse().ok()?;
    let expected = signature::realtime_sign(master_key, &[app, client, expiry]);
    (signature::same(mac, &expected) && expires_at > now_ms).then(|| client.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_only_with_the_right_key() {
        let token = issue("app", "master", "a:b", 2_000);
        assert_eq!(verify("app", "master", &token, 1_000).as_deref(), Some("a:b"));
        assert_eq!(verify("app", "master", &token, 2_000), None);
        assert_eq!(verify("app", "other", &token, 1_000), None);
        assert_eq!(verify("other-app", "master", &token, 1_000), None);
        assert_eq!(verify("app", "master", "garbage!", 1_000), None);
    }
}
