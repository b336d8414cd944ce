//! What a device registration must look like, and which platform it is on.

/// Longest device token accepted (FCM tokens are ~160 characters, vendor ones vary).
const MAX_TOKEN_LEN: usize = 512;

/// Tokens go into provider URLs: a conservative alphabet, bounded length.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
}

/// `ios` / `android` from the protocol's `systemInfo.deviceType` or, failing that, the
/// SDK's user agent.
pub fn platform_of(device_type: Option<i32>, user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default().to_ascii_lowercase();
    match device_type {
        Some(2) => "ios",
        Some(1) => "android",
        _ if ["swift", "objc", "ios", "iphone"]
            .iter()
            .any(|w| ua.contains(w)) =>
        {
            "ios"
        }
        _ if ["android", "java"].iter().any(|w| ua.contains(w)) => "android",
        _ => "unknown",
    }
    .to_owned()
}
