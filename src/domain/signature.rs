//! LeanCloud's signatures: `X-LC-Sign` (md5) for REST auth and the realtime HMAC-SHA1
//! signatures (login, history) keyed with the master key.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// `lowercase_hex(md5(timestamp + key))`.
pub fn rest_sign(timestamp: &str, key: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(key.as_bytes());
    hex::encode(hasher.finalize())
}

/// `lowercase_hex(HMAC_SHA1(master_key, fields joined by ':'))`.
pub fn realtime_sign(master_key: &str, fields: &[&str]) -> String {
    let message = fields.join(":");
    match Hmac::<Sha1>::new_from_slice(master_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Constant-time string comparison (for keys and signatures).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Signature timestamps arrive in ms (docs) or seconds (LeanEngine demo): values below
/// 10^12 are taken as seconds. Returns ms.
pub fn timestamp_ms(value: i64) -> i64 {
    if value < 1_000_000_000_000 {
        value.saturating_mul(1000)
    } else {
        value
    }
}

/// Realtime signatures are valid for six hours.
pub const REALTIME_SIGNATURE_TTL_MS: i64 = 6 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_sign_matches_the_documented_example() {
        assert_eq!(
            rest_sign("1453014943466", "UtOCzqb67d3sN12Kts4URwy8"),
            "d5bcbb897e19b2f6633c716dfdfaf9be"
        );
        assert_eq!(
            rest_sign("1453014943466", "DyJegPlemooo4X1tg94gQkw1"),
            "e074720658078c898aa0d4b1b82bdf4b"
        );
    }

    #[test]
    fn seconds_are_recognised() {
        assert_eq!(timestamp_ms(1_614_237_989), 1_614_237_989_000);
        assert_eq!(timestamp_ms(1_614_237_989_966), 1_614_237_989_966);
    }
}
