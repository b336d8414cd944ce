//! Templates (embedded at compile time) and rendering. Auto-escaping follows the template
//! name: every `.html` template escapes every value, so user-provided strings (conversation
//! names, client ids, message text) are inert.

use super::session::Signed;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("overview.html", include_str!("templates/overview.html")),
    (
        "conversations.html",
        include_str!("templates/conversations.html"),
    ),
    (
        "conversation.html",
        include_str!("templates/conversation.html"),
    ),
    ("actions.html", include_str!("templates/actions.html")),
    ("error.html", include_str!("templates/error.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(err) = env.add_template(name, source) {
                tracing::error!(template = name, error = %err, "console template does not parse");
            }
        }
        env
    })
}

/// Renders `template` with `context` plus the signed-in user's app id and CSRF token.
pub fn page(
    status: StatusCode,
    template: &str,
    signed: Option<&Signed>,
    context: Value,
) -> Response {
    let base = match signed {
        Some(s) => minijinja::context! { app_id => s.app.app_id.clone(), csrf => s.csrf.clone() },
        None => minijinja::context! {},
    };
    let merged = minijinja::context! { ..context, ..base };
    let rendered = environment()
        .get_template(template)
        .and_then(|t| t.render(merged));
    match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(template, error = %err, "console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page failed to render.",
            )
                .into_response()
        }
    }
}

/// An error page with the (escaped) public message of `err`.
pub fn error(signed: Option<&Signed>, err: &crate::error::Error) -> Response {
    page(
        err.status(),
        "error.html",
        signed,
        minijinja::context! { error => err.public_message() },
    )
}

/// Milliseconds since the epoch as `2026-01-31 12:34:56 UTC`.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
