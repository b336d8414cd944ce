//! Stand-ins for the push providers, started by each test: the app's webhook (HTTP/1.1,
//! axum), and APNs and FCM over cleartext HTTP/2 (h2c, prior knowledge: hyper's HTTP/2-only
//! server, so an HTTP/1.1 request cannot even be parsed). Each records what it accepted and
//! refuses what Apple's and Google's documentation say they refuse.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::routing::post;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const APNS_P8: &str = include_str!("keys/apns_test.p8");
pub const APNS_PUBLIC: &str = include_str!("keys/apns_test_public.pem");
pub const FCM_KEY: &str = include_str!("keys/fcm_test_key.pem");
pub const FCM_PUBLIC: &str = include_str!("keys/fcm_test_public.pem");
pub const APNS_KEY_ID: &str = "ABC123DEFG";
pub const APNS_TEAM: &str = "DEF123GHIJ";
pub const APNS_TOPIC: &str = "com.example.tidings";
pub const FCM_PROJECT: &str = "tidings-test";
pub const FCM_EMAIL: &str = "push@tidings-test.iam.gserviceaccount.com";
/// The token both stand-ins call unregistered.
pub const GONE_TOKEN: &str = "0badc0de";
pub const WEBHOOK_KEY: &str = "webhook-test-key";

/// What a stand-in recorded: (path, headers as text, JSON body).
pub type Calls = Arc<Mutex<Vec<(String, Vec<(String, String)>, Value)>>>;

#[derive(Clone)]
pub struct Recorder {
    pub url: String,
    pub calls: Calls,
    /// The status a webhook answers (200, or e.g. 503 to play an outage).
    pub status: Arc<AtomicU16>,
}

impl Recorder {
    pub fn bodies(&self, path_prefix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p.starts_with(path_prefix))
            .map(|(_, _, b)| b.clone())
            .collect()
    }

    /// Waits (up to 15 s) until `count` calls under `path_prefix` were accepted.
    pub async fn wait_for(&self, path_prefix: &str, count: usize) -> Vec<Value> {
        for _ in 0..300 {
            let bodies = self.bodies(path_prefix);
            if bodies.len() >= count {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no {count} calls to {path_prefix}: {:?}",
            self.bodies(path_prefix)
        );
    }

    /// Waits a moment and asserts there are exactly `count` calls.
    pub async fn settle(&self, path_prefix: &str, count: usize) -> Vec<Value> {
        let bodies = self.wait_for(path_prefix, count).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let again = self.bodies(path_prefix);
        assert_eq!(again.len(), count, "{again:#?}");
        drop(bodies);
        again
    }

    /// The headers of the first call under `path_prefix`.
    pub fn headers(&self, path_prefix: &str) -> Vec<(String, String)> {
        let calls = self.calls.lock().unwrap();
        let first = calls.iter().find(|(p, _, _)| p.starts_with(path_prefix));
        first.map(|(_, h, _)| h.clone()).unwrap_or_default()
    }
}

fn text_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn recorder(url: String) -> Recorder {
    Recorder {
        url,
        calls: Arc::default(),
        status: Arc::new(AtomicU16::new(200)),
    }
}

/// The app's push webhook: records every POST that carries the key; answers `status`,
/// listing [`GONE_TOKEN`] as unregistered.
pub async fn webhook() -> Recorder {
    async fn receive(
        State(rec): State<Recorder>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, Json<Value>) {
        let status = StatusCode::from_u16(rec.status.load(Ordering::SeqCst)).unwrap();
        if header(&headers, "x-tidings-push-key") != WEBHOOK_KEY {
            return (StatusCode::UNAUTHORIZED, Json(json!({})));
        }
        if status != StatusCode::OK {
            return (status, Json(json!({"error": "down"})));
        }
        let body: Value = serde_json::from_slice(&body).unwrap();
        rec.calls
            .lock()
            .unwrap()
            .push(("/push".into(), text_headers(&headers), body));
        (StatusCode::OK, Json(json!({"unregistered": [GONE_TOKEN]})))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rec = recorder(format!("http://{}/push", listener.local_addr().unwrap()));
    let router = Router::new()
        .route("/push", post(receive))
        .with_state(rec.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    rec
}

/// A local port and its URL.
async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Serves `router` over HTTP/2 only (h2c prior knowledge).
fn serve_h2(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn refuse(status: u16, reason: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({ "reason": reason })),
    )
}

/// APNs: `POST /3/device/{token}` over HTTP/2 with a bearer ES256 JWT (kid = key id, iss =
/// team) that verifies with the test key's public half, `apns-topic`, `apns-push-type`, and
/// an `aps` dictionary. [`GONE_TOKEN`] is 410 `Unregistered`; a token that is not hex is
/// 400 `BadDeviceToken`.
pub async fn apns() -> Recorder {
    async fn send(
        State(rec): State<Recorder>,
        Path(token): Path<String>,
        version: Version,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, Json<Value>) {
        if version != Version::HTTP_2 {
            return refuse(505, "HTTP/2 only");
        }
        let Some(jwt) = header(&headers, "authorization").strip_prefix("bearer ") else {
            return refuse(403, "MissingProviderToken");
        };
        let key = jsonwebtoken::DecodingKey::from_ec_pem(APNS_PUBLIC.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let Ok(decoded) = jsonwebtoken::decode::<Value>(jwt, &key, &validation) else {
            return refuse(403, "InvalidProviderToken");
        };
        if decoded.header.kid.as_deref() != Some(APNS_KEY_ID)
            || decoded.claims["iss"] != APNS_TEAM
            || !decoded.claims["iat"].is_i64()
        {
            return refuse(403, "InvalidProviderToken");
        }
        if header(&headers, "apns-topic") != APNS_TOPIC {
            return refuse(400, "TopicDisallowed");
        }
        if !matches!(header(&headers, "apns-push-type"), "alert" | "background") {
            return refuse(400, "InvalidPushType");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return refuse(400, "PayloadEmpty");
        };
        if !body["aps"].is_object() {
            return refuse(400, "PayloadEmpty");
        }
        if token == GONE_TOKEN {
            rec.calls
                .lock()
                .unwrap()
                .push(("/gone".into(), vec![], body));
            return refuse(410, "Unregistered");
        }
        if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return refuse(400, "BadDeviceToken");
        }
        let path = format!("/3/device/{token}");
        rec.calls
            .lock()
            .unwrap()
            .push((path, text_headers(&headers), body));
        (StatusCode::OK, Json(json!({})))
    }
    let (listener, url) = bind().await;
    let rec = recorder(url);
    let router = Router::new()
        .route("/3/device/{token}", post(send))
        .with_state(rec.clone());
    serve_h2(listener, router);
    rec
}

/// FCM HTTP v1 and Google's OAuth token endpoint, both over HTTP/2: `POST /token` takes a
/// JWT-bearer grant whose RS256 assertion verifies with the test key (iss, scope, aud =
/// this URL) and gives `test-access-token`; `POST /v1/projects/{p}/messages:send` wants
/// that bearer and `{"message": {"token": ...}}`. [`GONE_TOKEN`] is 404 `UNREGISTERED`.
pub async fn fcm() -> Recorder {
    async fn token(
        State(rec): State<Recorder>,
        version: Version,
        body: Bytes,
    ) -> (StatusCode, Json<Value>) {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let bad = (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
        if version != Version::HTTP_2
            || field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return bad;
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(FCM_PUBLIC.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[format!("{}/token", rec.url)]);
        let Some(Ok(decoded)) =
            field("assertion").map(|a| jsonwebtoken::decode::<Value>(&a, &key, &validation))
        else {
            return bad;
        };
        let claims = &decoded.claims;
        if claims["iss"] != FCM_EMAIL
            || claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging"
        {
            return bad;
        }
        rec.calls
            .lock()
            .unwrap()
            .push(("/token".into(), vec![], claims.clone()));
        (
            StatusCode::OK,
            Json(
                json!({"access_token": "test-access-token", "expires_in": 3599, "token_type": "Bearer"}),
            ),
        )
    }
    async fn send(
        State(rec): State<Recorder>,
        Path((project, method)): Path<(String, String)>,
        version: Version,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, Json<Value>) {
        let error = |status: u16, what: &str| {
            let body = json!({"error": {"code": status, "status": what, "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": what}]}});
            (StatusCode::from_u16(status).unwrap(), Json(body))
        };
        if version != Version::HTTP_2 {
            return error(505, "HTTP/2 only");
        }
        if header(&headers, "authorization") != "Bearer test-access-token" {
            return error(401, "UNAUTHENTICATED");
        }
        if project != FCM_PROJECT || method != "messages:send" {
            return error(404, "NOT_FOUND");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return error(400, "INVALID_ARGUMENT");
        };
        let Some(token) = body["message"]["token"].as_str() else {
            return error(400, "INVALID_ARGUMENT");
        };
        if token == GONE_TOKEN {
            rec.calls
                .lock()
                .unwrap()
                .push(("/gone".into(), vec![], body.clone()));
            return error(404, "UNREGISTERED");
        }
        let path = format!("/v1/projects/{project}/{method}");
        rec.calls
            .lock()
            .unwrap()
            .push((path, text_headers(&headers), body));
        (
            StatusCode::OK,
            Json(json!({"name": format!("projects/{FCM_PROJECT}/messages/1")})),
        )
    }
    // The URL is needed inside the handlers (the assertion's audience): bind first.
    let (listener, url) = bind().await;
    let rec = recorder(url);
    let router = Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/{method}", post(send))
        .with_state(rec.clone());
    serve_h2(listener, router);
    rec
}

/// The service-account key file FCM stand-in accepts (its `token_uri` is the stand-in).
pub fn service_account(fcm: &Recorder) -> String {
    json!({
        "type": "service_account", "project_id": FCM_PROJECT, "private_key_id": "test",
        "private_key": FCM_KEY, "client_email": FCM_EMAIL, "token_uri": format!("{}/token", fcm.url),
    })
    .to_string()
}
