//! `GET /v1/route`: the RTM router lookup (protocol.md 1.2). SDKs configured with only a
//! server URL ask it for the WebSocket URL; the answer is this server itself, from
//! `public_url` or else the request's `Host` (and `X-Forwarded-Proto`).

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

/// Seconds SDKs may cache the answer.
const TTL_SECS: u64 = 3600;

pub async fn route(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let (http, ws) = base_urls(&state.config.public_url, &headers);
    Json(json!({
        "groupId": "g0",
        "groupUrl": format!("{http}/v1/route"),
        "server": ws,
        "secondary": ws,
        "ttl": TTL_SECS,
    }))
}

/// `(http(s)://host, ws(s)://host)` without a trailing slash.
fn base_urls(public_url: &str, headers: &HeaderMap) -> (String, String) {
    let public_url = public_url.trim().trim_end_matches('/');
    let http = if public_url.is_empty() {
        let header_value = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let host = header_value(header::HOST.as_str())
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        let proto = header_value("x-forwarded-proto")
            .filter(|p| *p == "https")
            .unwrap_or("http");
        format!("{proto}://{host}")
    } else if public_url.contains("://") {
        public_url.to_owned()
    } else {
        format!("https://{public_url}")
    };
    let ws = if let Some(rest) = http.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http.clone()
    };
    (http, ws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_public_url_wins_over_the_host_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert_eq!(base_urls("", &headers).1, "ws://127.0.0.1:3000");
        assert_eq!(
            base_urls("https://im.example.com/", &headers).1,
            "wss://im.example.com"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(base_urls("", &headers).1, "wss://127.0.0.1:3000");
    }
}
