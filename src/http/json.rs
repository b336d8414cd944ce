//! Request bodies and query strings with LeanCloud's error codes: malformed JSON is 107, a
//! wrong type 111, a missing required field 113, all HTTP 400.

use crate::domain::text;
use crate::error::{code, Error};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. An empty body reads as `{}` (several DELETE endpoints take optional bodies).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge
                } else {
                    Error::invalid(rejection.body_text())
                }
            })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        parse(text).map(Body)
    }
}

/// Parses JSON into `T`, mapping serde's errors onto LeanCloud codes.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::bad_request(
            code::MALFORMED_JSON,
            format!("Malformed json object. A json dictionary is expected: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Error::bad_request(
            code::MALFORMED_JSON,
            "Malformed json object. A json dictionary is expected.",
        ));
    }
    refuse_nul(&value)?;
    serde_json::from_value(value).map_err(data_error)
}

/// U+0000 anywhere in a body (a key or a value, at any depth) is refused here, once for
/// every endpoint (see `domain::text`).
pub fn refuse_nul(value: &serde_json::Value) -> Result<(), Error> {
    if text::json_has_nul(value) {
        return Err(Error::bad_request(
            code::INVALID_CHARACTER,
            text::NUL_REFUSED,
        ));
    }
    Ok(())
}

fn data_error(err: serde_json::Error) -> Error {
    let text = err.to_string();
    if text.starts_with("missing field") {
        Error::bad_request(
            code::MISSING_REQUIRED,
            format!(
                "Missing required field: {}",
                text.trim_start_matches("missing field ")
            ),
        )
    } else {
        Error::bad_request(code::INVALID_TYPE, format!("Invalid value: {text}"))
    }
}

/// Query-string parameters with the same error mapping.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        refuse_nul_in_query(query)?;
        serde_urlencoded::from_str(query).map(Query).map_err(|e| {
            Error::bad_request(code::INVALID_TYPE, format!("Invalid query parameters: {e}"))
        })
    }
}

/// A NUL in a parameter (`%00`), or escaped in JSON carried by one (`where={"a":"\u0000"}`),
/// is refused like one in a body. The escaped form is a NUL once the JSON is parsed.
fn refuse_nul_in_query(query: &str) -> Result<(), Error> {
    if !query.contains("%00") && !query.contains("u0000") {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let found = pairs.iter().any(|(key, value)| {
        text::has_nul(key) || text::has_nul(value) || value.contains("\\u0000")
    });
    if found {
        return Err(Error::bad_request(
            code::INVALID_CHARACTER,
            text::NUL_REFUSED,
        ));
    }
    Ok(())
}

/// A required, non-empty string field.
pub fn required(field: &str, value: Option<String>) -> Result<String, Error> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::bad_request(
            code::MISSING_REQUIRED,
            format!("Missing required field: {field}."),
        )),
    }
}
