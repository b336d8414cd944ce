use crate::gateway_support::{Backend, Server, APP_ID, MASTER_KEY};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde_json::json;

const ADMIN_TOKEN: &str = "console-test-admin-token-0123456789";

fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

async fn start(backend: Backend) -> Server {
    Server::start_with(backend, |config, _| {
        config.admin_token = ADMIN_TOKEN.into();
    })
    .await
}

/// Signs in and returns the session cookie (`name=value`).
async fn sign_in(server: &Server, key: &str) -> String {
    let response = browser()
        .post(url(server, "/admin/login"))
        .form(&[("app_id", APP_ID), ("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

async fn get(server: &Server, path: &str, cookie: Option<&str>) -> Response {
    let mut request = browser().get(url(server, path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The CSRF token of the page at `path`.
async fn csrf(server: &Server, cookie: &str) -> String {
    let page = get(server, "/admin/actions", Some(cookie))
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[start..start + 64].to_owned()
}

async fn refused_without_credentials(backend: Backend) {
    let server = start(backend).await;
    for path in [
        "/admin",
        "/admin/conversations",
        "/admin/conversations/x",
        "/admin/actions",
    ] {
        let response = get(&server, path, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/admin/login", "{path}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
    let counters = get(&server, "/admin/counters.json", None).await;
    assert_eq!(counters.status(), StatusCode::UNAUTHORIZED);
    let forged = get(
        &server,
        "/admin",
        Some("tidings_admin=gateway-test-app-id.m.99999999999999.00"),
    )
    .await;
    assert_eq!(
        forged.status(),
        StatusCode::SEE_OTHER,
        "a forged cookie is no session"
    );
    let wrong = browser()
        .post(url(&server, "/admin/login"))
        .form(&[("app_id", APP_ID), ("key", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let kick = browser()
        .post(url(&server, "/admin/kick"))
        .form(&[("client_id", "bob")])
        .send()
        .await
        .unwrap();
    assert_eq!(kick.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

async fn forms_need_the_csrf_token_and_this_origin(backend: Backend) {
    let server = start(backend).await;
    let cookie = sign_in(&server, MASTER_KEY).await;
    let page = get(&server, "/admin/actions", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let token = csrf(&server, &cookie).await;
    let kick = |fields: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = browser()
            .post(url(&server, "/admin/kick"))
            .header("cookie", &cookie)
            .form(&fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let missing = kick(vec![("client_id", "bob".into())], None).await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = kick(
        vec![("client_id", "bob".into()), ("csrf", "0".repeat(64))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let cross_site = kick(
        vec![("client_id", "bob".into()), ("csrf", token.clone())],
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let ok = kick(
        vec![("client_id", "bob".into()), ("csrf", token.clone())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/admin/actions?notice=kicked");
    // Bad input is an error page, never a panic.
    let bad = kick(vec![("client_id", "x".repeat(200)), ("csrf", token)], None)
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

async fn user_strings_are_escaped(backend: Backend) {
    let server = start(backend).await;
    let (status, conv) = server
        .rest(
            reqwest::Method::POST,
            "/1.2/rtm/conversations",
            Some(json!({"name": "<img src=x onerror=alert(1)>", "m": ["<b>mallory</b>"]})),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    let id = conv["objectId"].as_str().unwrap();
    let body = json!({"from_client": "eve", "message": "<script>alert(2)</script>"});
    let path = format!("/1.2/rtm/conversations/{id}/messages");
    assert_eq!(
        server
            .rest(reqwest::Method::POST, &path, Some(body))
            .await
            .0,
        200
    );
    let cookie = sign_in(&server, MASTER_KEY).await;
    let list = get(
        &server,
        "/admin/conversations?where=%7B%22m%22%3A%22%3Cb%3Emallory%3C%2Fb%3E%22%7D",
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        list.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{list}"
    );
    assert!(!list.contains("<img"));
    let page = get(
        &server,
        &format!("/admin/conversations/{id}"),
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>mallory"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(2)"), "{page}");
    let bad_where = get(
        &server,
        "/admin/conversations?where=%7Bnot%20json",
        Some(&cookie),
    )
    .await;
    assert_eq!(bad_where.status(), StatusCode::BAD_REQUEST);
    let missing = get(&server, "/admin/conversations/nope", Some(&cookie)).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn the_admin_token_signs_in_and_secrets_stay_masked(backend: Backend) {
    let server = start(backend).await;
    let cookie = sign_in(&server, ADMIN_TOKEN).await;
    let page = get(&server, "/admin", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(APP_ID));
    assert!(!page.contains(MASTER_KEY), "the master key is masked");
    assert!(page.contains("No import into this app yet."), "{page}");
    let counters: serde_json::Value = get(&server, "/admin/counters.json", Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counters["online_clients"], 0);
    server.stop().await;
}

macro_rules! both_backends {
    ($($scenario:ident),*) => {$(
        mod $scenario {
            use crate::gateway_support::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$scenario(Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$scenario(Backend::Postgres).await }
        }
    )*};
}

both_backends!(
    refused_without_credentials,
    forms_need_the_csrf_token_and_this_origin,
    user_strings_are_escaped,
    the_admin_token_signs_in_and_secrets_stay_masked
);

/// The overview's import status reads the importer's resume points.
#[tokio::test]
async fn import_status_counts_started_and_finished_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("import.db").display());
    let store = tidings::store::Store::connect(&url, 4, 16).await.unwrap();
    store.migrate().await.unwrap();
    let empty = store.import_status("app").await.unwrap();
    assert_eq!(
        (empty.conversations, empty.complete, empty.last_update),
        (0, 0, None)
    );
    store
        .mark_import_complete("app", "c1", Some(5))
        .await
        .unwrap();
    store
        .mark_import_complete("other-app", "c2", None)
        .await
        .unwrap();
    let status = store.import_status("app").await.unwrap();
    assert_eq!((status.conversations, status.complete), (1, 1));
    assert!(status.last_update.is_some());
    store.close().await;
}
