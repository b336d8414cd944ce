//! A misbehaving source: answers each request with the next status of a script (429 with
//! `Retry-After: 0`, 5xx, 401, ...), then 200 with an empty listing; counts requests.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Flaky {
    pub base: String,
    pub requests: Arc<AtomicUsize>,
}

/// Serves `script` (statuses, in order; then 200s) on a random port.
pub async fn start(script: Vec<u16>) -> Flaky {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let script = Arc::new(script);
    let handler = move || {
        let (counter, script) = (Arc::clone(&counter), Arc::clone(&script));
        async move {
            answer(
                script
                    .get(counter.fetch_add(1, Ordering::SeqCst))
                    .copied()
                    .unwrap_or(200),
            )
        }
    };
    let router = Router::new().route("/1.2/rtm/all-conversations", get(handler));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Flaky {
        base: format!("http://{address}"),
        requests,
    }
}

fn answer(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = if code.is_success() {
        r#"{"results":[],"count":0}"#.to_owned()
    } else {
        format!(r#"{{"code":{status},"error":"scripted"}}"#)
    };
    let mut response = (code, [("content-type", "application/json")], body).into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("0"));
    }
    response
}

/// A source serving LeanStorage's scan: `/1.1/scan/classes/_Conversation` in pages of two
/// with a `cursor`, the last page without one.
pub async fn scanning(objects: Vec<serde_json::Value>) -> Flaky {
    use axum::extract::Query;
    use std::collections::HashMap;
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let objects = Arc::new(objects);
    let handler = move |Query(query): Query<HashMap<String, String>>| {
        let (counter, objects) = (Arc::clone(&counter), Arc::clone(&objects));
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let start: usize = query
                .get("cursor")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let page: Vec<_> = objects.iter().skip(start).take(2).cloned().collect();
            let mut body = serde_json::json!({ "results": page });
            if start + 2 < objects.len() {
                body["cursor"] = serde_json::json!((start + 2).to_string());
            }
            axum::Json(body)
        }
    };
    let router = Router::new().route("/1.1/scan/classes/_Conversation", get(handler));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Flaky {
        base: format!("http://{address}"),
        requests,
    }
}
