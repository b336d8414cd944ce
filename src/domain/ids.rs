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

/// URL-safe base64's 64 characters in ASCII order, so that encoded ids sort as their bytes.
const SORTED_URL_SAFE: base64::alphabet::Alphabet = match base64::alphabet::Alphabet::new(
    "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
) {
    Ok(alphabet) => alphabet,
    Err(_) => panic!("the message-id alphabet has 64 distinct characters"),
};
const MESSAGE_ID: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&SORTED_URL_SAFE, base64::engine::general_purpose::NO_PAD);

/// A message id: 16 bytes as 22 URL-safe base64 characters (no padding). The first 6 bytes
/// are the time in milliseconds and the alphabet is in ASCII order, so a later id sorts
/// after an earlier one: a new message's id goes at the end of the message-id index, where
/// a random id went to a random page of it (the whole index was the writer's working set,
/// issue 12). The other 10 bytes (80 bits) are random, so ids stay unguessable.
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 16];
    let millis = super::time::now_ms().max(0) as u64;
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut bytes[6..]);
    MESSAGE_ID.encode(bytes)
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

    #[test]
    fn a_later_message_id_sorts_after_an_earlier_one() {
        let earlier = new_message_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = new_message_id();
        assert!(earlier < later, "{earlier} then {later}");
        assert_ne!(new_message_id(), new_message_id());
    }
}
