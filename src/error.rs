//! One error type for every door into the server. REST renders it as LeanCloud's
//! `{"code": N, "error": "..."}` body with a fitting HTTP status; the WebSocket gateway
//! renders the same `code` in an error command. Internal failures are logged once and
//! reach the client as an opaque 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// LeanCloud codes used by more than one place. Realtime codes (4xxx) are shared with the
/// WebSocket gateway.
pub mod code {
    pub const INTERNAL: i64 = 1;
    pub const OBJECT_NOT_FOUND: i64 = 101;
    /// LeanStorage's "a unique field was given a value that is already taken".
    pub const DUPLICATE_VALUE: i64 = 137;
    pub const INVALID_FILE_NAME: i64 = 122;
    pub const INVALID_KEY_NAME: i64 = 105;
    pub const USER_NOT_FOUND: i64 = 211;
    pub const INVALID_NESTED_KEY: i64 = 121;
    pub const MALFORMED_JSON: i64 = 107;
    pub const INVALID_TYPE: i64 = 111;
    pub const MISSING_REQUIRED: i64 = 113;
    pub const READ_ONLY_KEY: i64 = 117;
    /// LeanStorage "object too large": a conversation's custom fields past their cap.
    pub const OBJECT_TOO_LARGE: i64 = 116;
    /// A string holds a character the server cannot store (U+0000). LeanCloud's generic
    /// "invalid parameter" family; see docs/reliability.md.
    pub const INVALID_CHARACTER: i64 = 1;
    /// LeanCloud's "request timed out".
    /// LeanStorage "server timeout": a request or a write that could not finish in time.
    pub const REQUEST_TIMEOUT: i64 = SERVER_TIMEOUT;
    pub const UNAUTHORIZED: i64 = 401;
    pub const FORBIDDEN: i64 = 403;
    pub const PAYLOAD_TOO_LARGE: i64 = 413;
    pub const TOO_MANY_REQUESTS: i64 = 429;
    pub const APP_NOT_AVAILABLE: i64 = 4100;
    pub const SIGNATURE_FAILED: i64 = 4102;
    /// LeanStorage "server timeout": here, a write the database could not take in time.
    pub const SERVER_TIMEOUT: i64 = 124;
    pub const INVALID_LOGIN: i64 = 4103;
    pub const SESSION_REQUIRED: i64 = 4105;
    pub const FRAME_TOO_LONG: i64 = 4109;
    pub const SESSION_CONFLICT: i64 = 4111;
    pub const SESSION_TOKEN_EXPIRED: i64 = 4112;
    pub const UNPARSEABLE_RAW_MESSAGE: i64 = 4114;
    pub const KICKED_BY_APP: i64 = 4115;
    pub const MESSAGE_SENT_QUOTA_EXCEEDED: i64 = 4116;
    pub const INTERNAL_ERROR: i64 = 4200;
    pub const CONVERSATION_SIGNATURE_FAILED: i64 = 4302;
    pub const CONVERSATION_NOT_FOUND: i64 = 4303;
    pub const CONVERSATION_REJECTED_BY_APP: i64 = 4305;
    pub const CONVERSATION_FULL: i64 = 4304;
    pub const CONVERSATION_NOT_ALLOWED: i64 = 4308;
    pub const CONVERSATION_UPDATE_REJECTED: i64 = 4309;
    pub const CONVERSATION_LOG_REJECTED: i64 = 4312;
    pub const SYSTEM_CONVERSATION_REQUIRED: i64 = 4313;
    pub const NORMAL_CONVERSATION_REQUIRED: i64 = 4314;
    pub const CONVERSATION_MEMBERSHIP_REQUIRED: i64 = 4317;
    pub const CONVERSATION_API_QUOTA_EXCEEDED: i64 = 4318;
    pub const CONVERSATION_OPERATION_UNAUTHORIZED: i64 = 4320;
    pub const UNKNOWN_CONVERSATION_ROLE: i64 = 4321;
    pub const TEMPORARY_CONVERSATION_EXPIRED: i64 = 4323;
    pub const CONVERSATION_NEED_OWNER: i64 = 4324;
    pub const INVALID_MESSAGING_TARGET: i64 = 4401;
    pub const MESSAGE_OWNERSHIP_REQUIRED: i64 = 4403;
    pub const MESSAGE_NOT_FOUND: i64 = 4404;
    pub const BLACKLIST_SIGNATURE_FAILED: i64 = 4546;
    pub const BLOCKED_BY_CONV: i64 = 4548;
    pub const SILENCED: i64 = 4563;
    pub const MESSAGE_REJECTED_BY_APP: i64 = 4402;
    pub const MESSAGE_UPDATE_REJECTED_BY_APP: i64 = 4405;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or wrong credentials, or an app key where the master key is needed.
    #[error("Unauthorized.")]
    Unauthorized,
    /// A client mistake: bad parameter, wrong type, limit exceeded. (HTTP 400)
    #[error("{message}")]
    BadRequest { code: i64, message: String },
    /// The thing addressed does not exist for this app. (HTTP 404)
    #[error("{message}")]
    NotFound { code: i64, message: String },
    /// The request conflicts with stored state. (HTTP 409)
    #[error("{message}")]
    Conflict { code: i64, message: String },
    /// Refused by policy (e.g. not the message owner). (HTTP 403)
    #[error("{message}")]
    Forbidden { code: i64, message: String },
    /// The path exists but not with this method. (HTTP 405)
    #[error("Method not allowed.")]
    MethodNotAllowed,
    /// The body is larger than the server accepts. (HTTP 413)
    #[error("Payload Too Large.")]
    PayloadTooLarge,
    /// A rate limit is exhausted; the client may retry after this many seconds.
    #[error("Too many requests.")]
    TooManyRequests { retry_after_secs: u64 },
    /// The server cannot do it now (the database does not take writes in time). (HTTP 503)
    #[error("{message}")]
    Unavailable { code: i64, message: String },
    /// Anything the client did not cause. Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(code: i64, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }
    /// A parameter problem with LeanCloud's generic code 1.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::bad_request(code::INTERNAL, message)
    }
    pub fn not_found(code: i64, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conversation_not_found() -> Self {
        Error::not_found(code::CONVERSATION_NOT_FOUND, "Conversation not found.")
    }
    pub fn message_not_found() -> Self {
        Error::not_found(code::MESSAGE_NOT_FOUND, "Message not found.")
    }
    pub fn forbidden(code: i64, message: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: i64, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn unavailable(code: i64, message: impl Into<String>) -> Self {
        Error::Unavailable {
            code,
            message: message.into(),
        }
    }
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Error::Internal(anyhow::anyhow!("{message}"))
    }

    /// The LeanCloud code a client sees, shared by REST bodies and WebSocket error commands.
    pub fn code(&self) -> i64 {
        match self {
            Error::Unauthorized => code::UNAUTHORIZED,
            Error::BadRequest { code, .. }
            | Error::NotFound { code, .. }
            | Error::Conflict { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Unavailable { code, .. } => *code,
            Error::PayloadTooLarge => code::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed => 405,
            Error::TooManyRequests { .. } => code::TOO_MANY_REQUESTS,
            Error::Internal(_) => code::INTERNAL,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text a client sees: internal details never leave the process.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Internal server error.".to_owned(),
            other => other.to_string(),
        }
    }
}

/// SQLite's writer (rusqlite): the same answers as through sqlx. A unique key taken is a
/// conflict; the file busy past the busy timeout, or unreadable, is the database unavailable
/// (503, 124); any other refusal an internal error.
impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(failure, _) = &err {
            use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
            if matches!(
                failure.extended_code,
                SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY
            ) {
                tracing::debug!(error = %err, "unique key already taken");
                return Error::Conflict {
                    code: code::DUPLICATE_VALUE,
                    message: "A unique field was given a value that is already taken.".to_owned(),
                };
            }
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::DiskFull
            ) {
                tracing::warn!(error = %err, "database unavailable");
                return Error::unavailable(
                    code::SERVER_TIMEOUT,
                    "The database is unavailable; try again.",
                );
            }
        }
        Error::Internal(err.into())
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // The database unreachable or restarting is a temporary state the client should
        // retry through: 503 with 124, not an opaque 500. (A statement timeout stays an
        // internal error: the writer retries such a batch one message at a time.)
        let unreachable = match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // Class 08: connection exception; 57P0x: shutting down or starting up.
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        };
        // A row that must exist and does not, and a unique key already taken, are the
        // client's to hear about (404/101 and 409/137), not internal errors.
        if matches!(err, sqlx::Error::RowNotFound) {
            return Error::NotFound {
                code: code::OBJECT_NOT_FOUND,
                message: "Object not found.".to_owned(),
            };
        }
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                tracing::debug!(error = %err, "unique key already taken");
                return Error::Conflict {
                    code: code::DUPLICATE_VALUE,
                    message: "A unique field was given a value that is already taken.".to_owned(),
                };
            }
        }
        if unreachable {
            tracing::warn!(error = %err, "database unavailable");
            return Error::unavailable(
                code::SERVER_TIMEOUT,
                "The database is unavailable; try again.",
            );
        }
        Error::Internal(err.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(err) = &self {
            tracing::error!(error = ?err, "internal error");
        }
        let body = json!({ "code": self.code(), "error": self.public_message() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Error::TooManyRequests { retry_after_secs } = self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
