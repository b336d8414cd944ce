//! A LeanEngine-style hook receiver started by each test: `POST /1.1/functions/<name>`
//! answered by the test's function, checking the wire format LeanEngine's runtime checks
//! (`X-LC-Id`, a master `X-LC-Sign`, `X-LC-Hook-Key`; 401 otherwise), plus a LeanStorage
//! user service (`GET /1.1/users/me` with `X-LC-Session`) for `clients/sign`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const HOOK_KEY: &str = "test-hook-key";

/// What a function answers: HTTP status, body, and how long it takes.
pub type Answer = Arc<dyn Fn(&str, &Value) -> (u16, Value, Duration) + Send + Sync>;

#[derive(Clone)]
struct Shared {
    app_id: String,
    master_key: String,
    answer: Answer,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

pub struct Receiver {
    pub url: String,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    pub async fn start(app_id: &str, master_key: &str, answer: Answer) -> Receiver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            app_id: app_id.to_owned(),
            master_key: master_key.to_owned(),
            answer,
            calls: Arc::clone(&calls),
        };
        let router = Router::new()
            .route("/1.1/functions/{name}", post(function))
            .route("/1.1/users/me", get(me))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url, calls }
    }

    /// Every call so far to `name`, in order (only those that passed the checks).
    pub fn calls(&self, name: &str) -> Vec<Value> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Waits (up to 10 s) for at least `count` calls to `name`.
    pub async fn wait_for(&self, name: &str, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let calls = self.calls(name);
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {count} calls to {name}: {:?}", self.calls(name));
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// LeanEngine's check of `X-LC-Sign: md5(timestamp + masterKey),timestamp,master`.
fn master_sign_ok(sign: &str, master_key: &str) -> bool {
    let parts: Vec<&str> = sign.split(',').collect();
    let [digest, timestamp, "master"] = parts[..] else {
        return false;
    };
    let mut hasher = Md5::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(master_key.as_bytes());
    hex::encode(hasher.finalize()) == digest
}

async fn function(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let unauthorized = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"code": 401, "error": "Unauthorized."})),
    );
    if header(&headers, "x-lc-id") != shared.app_id
        || !master_sign_ok(header(&headers, "x-lc-sign"), &shared.master_key)
        || header(&headers, "x-lc-hook-key") != HOOK_KEY
    {
        return unauthorized;
    }
    shared
        .calls
        .lock()
        .unwrap()
        .push((name.clone(), body.clone()));
    let (status, answer, delay) = (shared.answer)(&name, &body);
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).unwrap(), Json(answer))
}

/// Two users: token `good-token` is user `u-alice`, `banned-token` is `u-banned`.
async fn me(headers: HeaderMap) -> (StatusCode, Json<Value>) {
    let user = |id: &str, name: &str, token: &str| {
        json!({
            "objectId": id, "username": name, "sessionToken": token,
            "email": format!("{name}@example.com"), "emailVerified": false,
            "mobilePhoneVerified": false, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "password": "never-forwarded",
        })
    };
    match header(&headers, "x-lc-session") {
        "good-token" => (StatusCode::OK, Json(user("u-alice", "alice", "good-token"))),
        "banned-token" => (
            StatusCode::OK,
            Json(user("u-banned", "banned", "banned-token")),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": 211, "error": "Could not find user."})),
        ),
    }
}
