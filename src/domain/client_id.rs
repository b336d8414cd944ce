//! LeanCloud's client id rule: 1 to 64 characters. The docs add "letters, digits, `_` and
//! `-`", but real apps log in with ids such as e-mail addresses, and the SDKs only enforce the
//! length, so Tidings enforces the length and refuses control characters (documented in
//! docs/decisions.md).

use crate::error::{code, Error, Result};

pub const MAX_CLIENT_ID_LEN: usize = 64;

pub fn is_valid(id: &str) -> bool {
    let chars = id.chars().count();
    (1..=MAX_CLIENT_ID_LEN).contains(&chars) && !id.chars().any(char::is_control)
}

/// Validates one client id, naming the field in the error.
pub fn validate(field: &str, id: &str) -> Result<()> {
    if is_valid(id) {
        Ok(())
    } else {
        Err(Error::bad_request(
            code::INVALID_LOGIN,
            format!(
                "Invalid client id in {field}: must be 1-64 characters without control characters."
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_one_to_sixty_four_are_accepted() {
        assert!(is_valid("a"));
        assert!(is_valid(&"x".repeat(64)));
        assert!(!is_valid(""));
        assert!(!is_valid(&"x".repeat(65)));
        assert!(!is_valid("tab\there"));
    }
}
