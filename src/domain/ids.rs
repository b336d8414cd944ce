//! Identifiers in LeanCloud's shapes: 24-hex `objectId`s and 22-character `msg-id`s.

use base64::Engine;
use rand::RngCore;
use std::sync::atomic::{AtomicU32, Ordering};

static OBJECT_ID_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A Mongo-style object id: 4 bytes of seconds, 5 random bytes, 3 bytes of counter,
/// as 24 lowercase hex characters. Sorts roughly by creation time, like LeanCloud's.
pub fn new_object_id() -> String {
    let mut bytes = [0u8; 12];
    let secs = (super::time::now_ms() / 1000) as u32;
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..9]);
    let counter = OBJECT_ID_COUNTER.fetch_add(1, Ordering::Relaxed);
    bytes[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
    hex::encode(bytes)
}

/// Whether `id` has the shape of an object id (24 hex characters).
pub fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A message id: URL-safe base64 (no padding) of 16 random bytes, 22 characters.
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random token of `len` bytes as URL-safe base64 (session tokens, nonces).
pub fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Random alphanumeric credentials, like LeanCloud's app ids and keys.
pub fn random_alphanumeric(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_24_hex_and_distinct() {
        let a = new_object_id();
        let b = new_object_id();
        assert!(is_object_id(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn message_ids_are_22_url_safe_characters() {
        let id = new_message_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
