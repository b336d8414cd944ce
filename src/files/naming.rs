//! Names, keys and types of files. A client's file name is metadata only: the storage key is
//! made here from random characters and a cleaned extension, so no name can point anywhere.

use crate::domain::ids;
use crate::error::{code, Error, Result};

/// LeanCloud's `_File.name` is a string column; names longer than this are refused.
pub const MAX_NAME_CHARS: usize = 255;
const MAX_EXTENSION_CHARS: usize = 16;
const KEY_RANDOM_CHARS: usize = 32;
pub const DEFAULT_MIME: &str = "application/octet-stream";

/// Checks a client's file name: non-empty, at most [`MAX_NAME_CHARS`], and none of the
/// path tricks (separators, `..`, control characters, NUL).
pub fn validate_name(name: &str) -> Result<()> {
    let bad = name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name.split('.').all(str::is_empty)
        || name.contains("..");
    if bad {
        return Err(Error::bad_request(
            code::INVALID_FILE_NAME,
            "Invalid file name: no path separators, '..' or control characters, 1 to 255 characters.",
        ));
    }
    Ok(())
}

/// The extension of `name` (without the dot, lower case) when it is short and alphanumeric.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    let usable = !stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= MAX_EXTENSION_CHARS
        && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    usable.then(|| ext.to_ascii_lowercase())
}

/// A new storage key: 32 random alphanumerics, plus the name's extension when it has a
/// usable one (LeanCloud's keys look the same), e.g. `k3Jd...Qz.png`.
pub fn new_storage_key(name: &str) -> String {
    let random = ids::random_alphanumeric(KEY_RANDOM_CHARS);
    match extension(name) {
        Some(ext) => format!("{random}.{ext}"),
        None => random,
    }
}

/// Whether `key` has the shape [`new_storage_key`] makes (checked before any lookup).
pub fn is_storage_key(key: &str) -> bool {
    let (random, ext) = key.split_once('.').unwrap_or((key, ""));
    random.len() == KEY_RANDOM_CHARS
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
        && ext.len() <= MAX_EXTENSION_CHARS
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The client's MIME type when it looks like one, else a guess from the name.
pub fn mime_type(given: Option<&str>, name: &str) -> String {
    let given = given.map(str::trim).filter(|m| is_mime(m));
    match given {
        Some(m) => m.to_ascii_lowercase(),
        None => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or(DEFAULT_MIME)
            .to_owned(),
    }
}

fn is_mime(text: &str) -> bool {
    let Some((kind, sub)) = text.split_once('/') else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(kind) && token(sub)
}

/// Images, audio and video are shown in place; everything else (HTML and SVG among them,
/// which could run script on this origin) is served as a download.
pub fn served_inline(mime: &str) -> bool {
    let mime = mime.to_ascii_lowercase();
    (mime.starts_with("image/") && !mime.starts_with("image/svg"))
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
}

/// `attachment; filename="..."; filename*=UTF-8''...` for `name`.
pub fn attachment_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tricks_are_refused() {
        for name in [
            "../etc/passwd",
            "a/b.png",
            "a\\b",
            "..",
            ".",
            "",
            " ",
            "a\0b",
            "x..png",
        ] {
            assert!(validate_name(name).is_err(), "{name:?} must be refused");
        }
        for name in ["cat.png", "my report (1).pdf", "声音.mp3", ".hidden"] {
            assert!(validate_name(name).is_ok(), "{name:?} must be accepted");
        }
    }

    #[test]
    fn keys_keep_only_clean_extensions() {
        let key = new_storage_key("Cat.PNG");
        assert!(key.ends_with(".png") && is_storage_key(&key));
        assert!(!new_storage_key("x.p/ng").contains('/'));
        assert!(is_storage_key(&new_storage_key("noext")));
        assert!(!is_storage_key("../../x"));
    }

    #[test]
    fn types_and_dispositions() {
        assert_eq!(mime_type(None, "a.png"), "image/png");
        assert_eq!(mime_type(Some("bogus"), "a.mp3"), "audio/mpeg");
        assert_eq!(mime_type(None, "a"), DEFAULT_MIME);
        assert!(served_inline("image/jpeg") && !served_inline("image/svg+xml"));
        assert!(!served_inline("text/html"));
        assert_eq!(
            attachment_disposition("r\u{e9}sum\u{e9}.pdf"),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        );
    }
}
